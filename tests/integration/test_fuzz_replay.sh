#!/bin/bash
# Replay the fuzz corpus (tests/fuzz/corpus/) and every kept crash input
# (tests/fuzz/regress/) through the fuzz targets, built by `make asan` as
# plain replay programs with AddressSanitizer + UBSan (build-asan/fuzz/).
# One test per target and directory; each input runs in its own process.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
P=0 F=0 S=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for pair in fuzz_rules:rules fuzz_setfile:setfile fuzz_pkt:pkt; do
	t=${pair%%:*} d=${pair#*:}
	bin=build-asan/fuzz/$t
	if [ ! -x "$bin" ]; then
		echo "skip - $t: $bin not built (make asan)"
		S=$((S + 1)); continue
	fi
	for dir in "tests/fuzz/corpus/$d" "tests/fuzz/regress/$d"; do
		[ -n "$(find "$dir" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | head -1)" ] || continue
		out=$("$bin" -n "$t" "$dir" 2>&1)
		line=$(grep -E "^(ok|not ok) - $t/$dir:" <<<"$out")
		if grep -q '^ok' <<<"$line"; then
			P=$((P + 1)); echo "$line"
		else
			F=$((F + 1))
			echo "${line:-not ok - $t/$dir: replay ended without a result}"
			grep -E '^not ok|ERROR|runtime error|invariant|SUMMARY: ' <<<"$out" | head -20 | sed 's/^/#   /'
		fi
	done
done
echo "SUMMARY fuzz_replay passed=$P failed=$F skipped=$S"
[ "$F" -eq 0 ]
