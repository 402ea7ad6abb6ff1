#!/bin/bash
# Run every test suite and add up the results.
#   tests/run.sh            all suites
#   tests/run.sh unit bpf   only these layers (unit, bpf, integration)
# Each C suite ends with "SUMMARY <suite> passed=N failed=N skipped=N";
# shell suites (tests/integration/*.sh) print the same line.  The last line
# is "N passed, N failed, N skipped" over all suites.
set -u
cd "$(dirname "$0")/.."
layers=${*:-unit bpf integration}
B=build
passed=0 failed=0 skipped=0 broken=0
log=$(mktemp /tmp/moat-tests.XXXXXX)
# the compile cache of big sets (ctl/setcache.c): a private one per run
MOAT_CACHE_DIR=$(mktemp -d /tmp/moat-cache.XXXXXX)
export MOAT_CACHE_DIR
trap 'rm -f "$log"; rm -rf "$MOAT_CACHE_DIR"' EXIT

run_suite() {
	local name=$1; shift
	echo "== $name"
	"$@" 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local line
	line=$(grep -E '^SUMMARY ' "$log" | tail -1)
	if [ -z "$line" ]; then
		echo "not ok - $name: suite ended (exit $rc) without a SUMMARY line"
		failed=$((failed + 1)); broken=1
		return
	fi
	local p f s
	p=$(sed -E 's/.*passed=([0-9]+).*/\1/' <<<"$line")
	f=$(sed -E 's/.*failed=([0-9]+).*/\1/' <<<"$line")
	s=$(sed -E 's/.*skipped=([0-9]+).*/\1/' <<<"$line")
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "not ok - $name: exit $rc with no failed test"
		failed=$((failed + 1))
	fi
}

for layer in $layers; do
	case $layer in
	unit | bpf)
		for src in tests/$layer/test_*.c; do
			[ -e "$src" ] || continue
			t=$(basename "$src" .c)
			run_suite "$layer/$t" "$B/tests/$t"
		done ;;
	integration)
		for t in tests/integration/test_*.sh; do
			[ -e "$t" ] || continue
			run_suite "integration/$(basename "$t" .sh)" bash "$t"
		done ;;
	*) echo "unknown layer $layer" >&2; exit 2 ;;
	esac
done
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
