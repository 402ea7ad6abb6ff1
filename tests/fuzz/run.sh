#!/bin/bash
# `make fuzz`: run every libFuzzer target for SECONDS, then the data-plane
# differential test (tests/bpf/test_diff.c) for SECONDS.
#   tests/fuzz/run.sh SECONDS TARGET...
# New inputs go to build-fuzz/corpus/TARGET (the committed seed corpus in
# tests/fuzz/corpus/ is only read); crashes to build-fuzz/crash/.  Copy a
# crash into tests/fuzz/regress/TARGET/ to have `make check` replay it.
set -u
cd "$(dirname "$0")/../.."
secs=${1:-60}; shift
FB=build-fuzz
mkdir -p "$FB/crash"
rc=0
dict() { case $1 in fuzz_rules) echo rules ;; fuzz_setfile) echo setfile ;; fuzz_pkt) echo pkt ;; esac; }
for t in "$@"; do
	d=$(dict "$t")
	mkdir -p "$FB/corpus/$t"
	echo "== $t for ${secs}s"
	"$FB/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
		-max_len=$([ "$t" = fuzz_pkt ] && echo 1600 || echo 8192) \
		-dict="tests/fuzz/$d.dict" -artifact_prefix="$FB/crash/$t-" \
		-print_final_stats=1 \
		"$FB/corpus/$t" "tests/fuzz/corpus/$d" "tests/fuzz/regress/$d" \
		2>&1 | grep -E '^#[0-9]+ *(DONE|INITED)|stat::number_of_executed_units|ERROR|SUMMARY|invariant|crash-|leak' || true
	if ls "$FB/crash/$t-"* >/dev/null 2>&1; then
		echo "not ok - $t: crash inputs in $FB/crash/ (copy to tests/fuzz/regress/$d/ once fixed)"
		rc=1
	else
		echo "ok - $t: no crash in ${secs}s"
	fi
done
echo "== data-plane differential for ${secs}s"
MOAT_DIFF_SECONDS=$secs build/tests/test_diff | grep -E '^(#|ok|not ok|SUMMARY)' | grep -v '^# \.\.\.' || rc=1
exit $rc
