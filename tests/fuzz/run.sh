#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the libFuzzer targets for the pure parsers with clang and run each for
# a bounded time on a throw-away copy of its seed corpus.  Needs only clang and
# libclang-rt (Debian: clang, libclang-rt-14-dev).
#
# Usage: tests/fuzz/run.sh [SECONDS]   (per fuzzer, default 20)
# Exits non-zero if any fuzzer crashed or failed to build; crash inputs and
# logs are copied to $FUZZ_OUT (default tests/fuzz/out) before the temp dir
# goes.  UBSan is made fatal so undefined behaviour counts as a crash.
set -u

secs=${1:-20}
case $secs in
''|*[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac

root=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
cd "$root" || exit 2

cc=${CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "fuzz: $cc not found (install clang and libclang-rt-dev)" >&2
	exit 2
fi

tmp=$(mktemp -d /tmp/nftally-fuzz.XXXXXX) || exit 2
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

cflags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE -std=c11 -Iinclude/core"
# The core's parsers and what they reach, for every fuzzer (config.c checks
# time zones, quota warnings and billing policies; a parser that needs one
# more file gets it here, and no fuzzer misses it): not render.c and plan.c,
# which need the build's generated header and parse no user text.
common="collector/core/err.c collector/core/file.c collector/core/utf8.c
	collector/core/addr.c collector/core/targets.c collector/core/config.c
	collector/core/cycle.c collector/core/quota.c collector/core/units.c
	collector/core/bill.c collector/core/billing.c collector/core/labels.c
	collector/core/state.c collector/core/classes.c collector/core/ipset.c
	collector/core/strpool.c"
out=${FUZZ_OUT:-tests/fuzz/out}
passed=0
failed=0

for f in targets config state classes ipset labels cycles units quotas; do
	bin=$tmp/fuzz_$f
	work=$tmp/corpus_$f
	log=$tmp/fuzz_$f.log

	echo "fuzz: building fuzz_$f"
	# shellcheck disable=SC2086,SC2046 # word splitting of the flag lists is intended
	if ! $cc $cflags $common "tests/fuzz/fuzz_$f.c" -o "$bin"; then
		echo "fuzz: fuzz_$f: build FAILED"
		failed=$((failed + 1))
		continue
	fi
	mkdir -p "$work" "$tmp/artifacts_$f"
	cp tests/fuzz/corpus/$f/* "$work"/ 2>/dev/null
	echo "fuzz: running fuzz_$f for ${secs}s"
	if (cd "$tmp" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	    "$bin" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$tmp/artifacts_$f/" \
	    "$work" >"$log" 2>&1); then
		stats=$(grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" |
			sed 's/^stat:://' | tr -s ' \n' '  ')
		cov=$(grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -n 1 |
			sed -n 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*\(corp: [^ ]*\).*/\1 \2 \3/p')
		echo "fuzz: fuzz_$f: ok ($stats$cov)"
		passed=$((passed + 1))
	else
		echo "fuzz: fuzz_$f: CRASHED; log tail:"
		tail -n 40 "$log"
		mkdir -p "$out"
		cp "$log" "$out"/ 2>/dev/null
		for a in "$tmp/artifacts_$f"/*; do
			[ -e "$a" ] || continue
			cp "$a" "$out/fuzz_${f}-$(basename "$a")"
			echo "fuzz: crash input saved as $out/fuzz_${f}-$(basename "$a")"
		done
		failed=$((failed + 1))
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
