#!/bin/bash
# Install what moat needs to build, test and demo, from Debian's archive.
# Idempotent: installs only what is missing; does nothing when all is there.
set -eu

PKGS="make gcc libc6-dev clang llvm libbpf-dev libxdp-dev bpftool pkg-config
libelf-dev zlib1g-dev iproute2 iputils-ping socat ethtool libcap2-bin
libclang-rt-14-dev xdp-tools jq netcat-openbsd python3 procps"

missing=()
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 2
fi
echo "deps.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
