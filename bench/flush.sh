#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# How long a deleted table stays deleted under `nftally run`, measured from
# outside the process: for each size, a run with a 60 s interval in a fresh
# namespace, then REPEATS deletions (`nft flush ruleset` and `nft delete
# table inet nftally`, alternately), each timed from just before the nft
# command to the moment the counter of the LAST target is back (the
# reinstall fills the table in order, so that one comes last), polled with
# `nft list counter`.  That is the time no traffic is counted after a
# deletion, on top of what went with the old counters.  The probe's own
# time (one `nft list counter` on the full table) is printed too: the
# figures include up to one probe.  Not part of the test suite.
#   usage: bench/flush.sh [REPEATS] [SIZES...]   (defaults: 20, 1000 10000 100000)
set -u
cd "$(dirname "$0")/.."
REPEATS=${1:-20}; shift || true
SIZES=${*:-1000 10000 100000}
NFTALLY=${NFTALLY:-$PWD/build/nftally}
UDPSEND=${UDPSEND:-$PWD/build/tests/udpsend}
export NFTALLY UDPSEND
. tests/integration/lib.sh
need
B="${PFX}b"
trap 'for p in $PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done;
      ip netns del "$B" 2>/dev/null; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
stats() { # a column of seconds -> "median max" in ms
	sort -g | awk '{ v[NR] = $1 } END { printf "%.0f %.0f", v[int((NR + 1) / 2)] * 1000, v[NR] * 1000 }'
}

printf '%-8s %-10s %-10s %-10s %s\n' N median_ms max_ms nft_ms "(lost per deletion, $REPEATS deletions)"
for n in $SIZES; do
	ip netns del "$B" 2>/dev/null; ip netns add "$B"
	awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
		printf "a%d 198.19.%d.%d\n", i, int(i / 256) % 256, i % 256 }' > "$WORK/targets"
	if [ "$n" -gt 65536 ]; then # past 198.19/16: continue in 198.18.64.0 and up
		head -n 65536 "$WORK/targets" > "$WORK/t"; mv "$WORK/t" "$WORK/targets"
		awk -v n="$n" 'BEGIN { for (i = 65536; i < n; i++)
			printf "a%d 198.18.%d.%d\n", i, 64 + int((i - 65536) / 256), i % 256 }' >> "$WORK/targets"
	fi
	last=$(tail -n 1 "$WORK/targets" | awk '{ print $2 }')
	name=$(printf 'in4_%02x%02x%02x%02x' $(echo "$last" | tr . ' '))
	printf 'table = nftally\ntargets = %s\ninterval = 60\nstate_dir = %s\nstore = off\n' \
		"$WORK/targets" "$WORK/state.$n" > "$WORK/nftally.conf"
	ip netns exec "$B" "$NFTALLY" -c "$WORK/nftally.conf" run > "$WORK/run.$n" 2>&1 &
	RUN=$!; PIDS="$PIDS $RUN"
	for _ in $(seq 1200); do grep -q '"event":"start"' "$WORK/run.$n" && break; sleep 0.1; done
	: > "$WORK/lost.$n"; : > "$WORK/nft.$n"
	for i in $(seq "$REPEATS"); do
		if [ $((i % 2)) = 1 ]; then cmd="flush ruleset"; else cmd="delete table inet nftally"; fi
		t0=$(now)
		ip netns exec "$B" nft $cmd
		t1=$(now)
		for _ in $(seq 12000); do
			[ "$(grep -c table_reinstalled "$WORK/run.$n")" -ge "$i" ] && break
			sleep 0.005
		done
		t2=$(now)
		echo "$t2 - $t0" | bc >> "$WORK/lost.$n"
		echo "$t1 - $t0" | bc >> "$WORK/nft.$n"
		sleep 0.5
	done
	ip netns exec "$B" nft list counter inet nftally "$name" >/dev/null 2>&1 ||
		echo "counter $name missing after the last reinstall" >&2
	kill "$RUN"; wait "$RUN"; PIDS=""
	printf '%-8s %-10s %-10s %-10s (reinstalls: %s, table_missing: %s)\n' "$n" \
		$(stats < "$WORK/lost.$n") "$(stats < "$WORK/nft.$n" | cut -d' ' -f1)" \
		"$(grep -c table_reinstalled "$WORK/run.$n")" "$(grep -c table_missing "$WORK/run.$n")"
done
