#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A standalone `nftally apply` of one address more against the nft CLI
# adding the same (two named counters and two map elements, in one
# `nft -f -`), at large sizes (not part of the test suite).  For each size
# N, fresh network namespaces, each with nftally's table of N IPv4
# addresses (198.18.0.0/15): nftally applies in one, nft adds in another
# (nft's commit moves the ruleset generation, which would make nftally's
# record of its last apply untrustworthy: not what is measured here), and
# with NFTALLY_OLD another nftally binary applies in a third.  ROUNDS
# rounds, alternating; medians of wall time, CPU time (user + system) and
# peak RSS (/usr/bin/time -v).  Needs root.
# With REMOVE=1, then the whole table goes, once: `nftally remove` (its
# last deltas printed, every counter read) in nftally's namespace, `nft
# delete table inet nftally` in nft's, each timed the same way.
#   usage: bench/apply1.sh SIZE...        e.g. bench/apply1.sh 100000
#   ROUNDS (default 7), NFTALLY (default build/nftally), NFTALLY_OLD, REMOVE
set -u
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/apply1.sh SIZE..." >&2; exit 2; }
NFTALLY=${NFTALLY:-$PWD/build/nftally} NFTALLY_OLD=${NFTALLY_OLD:-}
ROUNDS=${ROUNDS:-7}
W=$(mktemp -d /tmp/nftally-apply1.XXXXXX)
NS=(nftally-apply1-nft-$$ nftally-apply1-new-$$ nftally-apply1-old-$$)
trap 'for ns in "${NS[@]}"; do ip netns del "$ns" 2>/dev/null; done; rm -rf "$W"' EXIT
BIN=(nft "$NFTALLY" "$NFTALLY_OLD") LABEL=("nft add" "nftally apply" "nftally apply (old)")
K=$([ -n "$NFTALLY_OLD" ] && echo 3 || echo 2)

targets() { # N FILE: N IPv4 hosts from 198.18.0.0 (at most 131,072)
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "a%d 198.%d.%d.%d\n", i, 18 + int(i / 65536), int(i / 256) % 256, i % 256 }' > "$2"
}

timed() { # CMD...: "WALL_S CPU_S RSS_MB"
	local t0=$EPOCHREALTIME
	/usr/bin/time -f '%U %S %M' -o "$W/time" "$@" > /dev/null 2> "$W/err" ||
		{ echo "failed: $* ($(tail -1 "$W/err"))" >&2; return 1; }
	printf '%.3f ' "$(echo "$EPOCHREALTIME - $t0" | bc -l)"
	awk '{ printf "%.3f %d\n", $1 + $2, $3 / 1024 }' "$W/time"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# One more address in namespace k, round i.
one() { # K I
	local ns=${NS[$1]} h
	if [ "$1" = 0 ]; then
		h=$(printf '%02x' "$2")
		timed ip netns exec "$ns" nft -f - <<NFT
add counter inet nftally in4_c613c9$h
add counter inet nftally out4_c613c9$h
add element inet nftally in4 { 198.19.201.$2 : "in4_c613c9$h" }
add element inet nftally out4 { 198.19.201.$2 : "out4_c613c9$h" }
NFT
	else
		echo "x$2 198.19.200.$2" >> "$W/t.$1"
		timed ip netns exec "$ns" "${BIN[$1]}" -c "$W/c.$1" -t "$W/t.$1" apply
	fi
}

printf '%-22s %8s %8s %8s %7s   %s\n' what N wall_s cpu_s RSS_MB "wall of each round"
for n in "$@"; do
	for k in $(seq 0 $((K - 1))); do
		ip netns del "${NS[$k]}" 2>/dev/null; ip netns add "${NS[$k]}"
		targets "$n" "$W/t.$k"
		printf 'state_dir = %s/state.%s\n' "$W" "$k" > "$W/c.$k"
		ip netns exec "${NS[$k]}" "$NFTALLY" -c "$W/c.$k" -t "$W/t.$k" apply 2> /dev/null ||
			{ echo "apply failed at $n" >&2; exit 1; }
		: > "$W/r.$k"
	done
	for i in $(seq "$ROUNDS"); do
		for k in $(seq 0 $((K - 1))); do
			one "$k" "$i" >> "$W/r.$k" || exit 1
		done
	done
	for k in $(seq 0 $((K - 1))); do
		printf '%-22s %8s %8s %8s %7s   %s\n' "${LABEL[$k]}" "$n" \
			"$(cut -d' ' -f1 "$W/r.$k" | median)" "$(cut -d' ' -f2 "$W/r.$k" | median)" \
			"$(cut -d' ' -f3 "$W/r.$k" | median)" "$(cut -d' ' -f1 "$W/r.$k" | xargs)"
	done
	printf '%-22s %8s %8.1f\n' "nft / nftally (wall)" "$n" \
		"$(echo "$(cut -d' ' -f1 "$W/r.0" | median) / $(cut -d' ' -f1 "$W/r.1" | median)" | bc -l)"
	[ -n "${REMOVE:-}" ] || continue
	r0=$(timed ip netns exec "${NS[0]}" nft delete table inet nftally) || exit 1
	r1=$(timed ip netns exec "${NS[1]}" "$NFTALLY" -c "$W/c.1" -t "$W/t.1" remove) || exit 1
	printf '%-22s %8s %8s %8s %7s\n' "nft delete table" "$n" $r0 "nftally remove" "$n" $r1
	printf '%-22s %8s %8.1f\n' "nft / nftally (wall)" "$n" \
		"$(echo "${r0%% *} / ${r1%% *}" | bc -l)"
done
