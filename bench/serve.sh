#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally serve's overview API with many labels, timed from outside with
# curl (time_total: connect to last byte) against a store filled through
# the store API (billfill): LABELS labels of one address each, a report
# every 5 minutes over the first day of the cycle (SLOTS slots), the pages
# made as of the end of that day.  Measured:
#   first     from the start of serve to the first overview answered: the
#             refresher's snapshot (both cycles of every label, their 95th
#             percentiles, the last day), made again once a minute in its
#             own thread while requests use the one before
#   filtered  a new set of filters (host, netns), computed in the request
#   warm      the overview of the snapshot (paging, sorting), JSON and HTML
#   label     one label's page data (12 cycles, three series)
# Not part of the test suite.
#   usage: bench/serve.sh [LABELS] [SLOTS] [REPEATS]   (defaults 10000 288 20)
set -u
cd "$(dirname "$0")/.."
LABELS=${1:-10000}; SLOTS=${2:-288}; REPEATS=${3:-20}
NFTALLY=${NFTALLY:-$PWD/build/nftally}
BILLFILL=${BILLFILL:-$PWD/build/tests/billfill}
export NFTALLY BILLFILL
. tests/integration/lib.sh
. tests/integration/lib-serve.sh
need
B="${PFX}v"
serve_ns "$B" || exit 1
U=http://127.0.0.1:9480

t=$(date +%s.%N)
awk -v t0="$T0" -v n="$LABELS" -v s="$SLOTS" 'BEGIN {
	for (k = 1; k <= s; k++) for (l = 0; l < n; l++)
		printf "%d l%05d 198.%d.%d.%d %d %d\n", t0 + 300 * k, l, 18 + int(l / 65536),
			int(l / 256) % 256, l % 256, 1000 + (l * 7 + k * 13) % 50000,
			500 + (l * 3 + k * 11) % 30000 }' > "$WORK/fill.txt"
"$BILLFILL" "$WORK/bench.db" node1 < "$WORK/fill.txt" || exit 1
FILL=$(echo "$(date +%s.%N) - $t" | bc)
printf 'store = %s\nstate_dir = %s\ntargets = %s/none\ntimezone = UTC\n' \
	"$WORK/bench.db" "$WORK" "$WORK" > "$WORK/bench.conf"
AT_B=$((T0 + 300 * SLOTS + 299))
t=$(date +%s.%N)
serve_start "$B" "$U" -c "$WORK/bench.conf" --at "@$AT_B" || { cat "$WORK/serve.err"; exit 1; }
ip netns exec "$B" curl -s -o /dev/null "$U/api/overview"
FIRST=$(echo "($(date +%s.%N) - $t) * 1000" | bc)

get() { ip netns exec "$B" curl -s -o "$WORK/body" -w '%{time_total}\n' "$1"; }
stats() { # a column of seconds -> "median max" in ms
	sort -g | awk '{ v[NR] = $1 } END { printf "%.1f %.1f", v[int((NR + 1) / 2)] * 1000, v[NR] * 1000 }'
}
# filtered: host=node1 and netns=- alternate, so each request computes anew
for i in $(seq "$REPEATS"); do
	[ $((i % 2)) = 1 ] && get "$U/api/overview?host=node1" || get "$U/api/overview?netns=-"
done > "$WORK/cold"
TOTAL=$(jq .total "$WORK/body")
for i in $(seq "$REPEATS"); do
	get "$U/api/overview?sort=billed&page=$((i % 200 + 1))"
done > "$WORK/warm"
SIZE=$(stat -c %s "$WORK/body")
for i in $(seq "$REPEATS"); do get "$U/?sort=p95&page=$i"; done > "$WORK/html"
for i in $(seq "$REPEATS"); do get "$U/api/label?l=l$(printf %05d $((i * 37 % LABELS)))"; done > "$WORK/label"
RSS=$(awk '/VmHWM/ { print $2 }' /proc/"$SERVE_PID"/status)
serve_stop
echo "labels $TOTAL (of $LABELS), $SLOTS slots each ($((LABELS * SLOTS)) samples), fill ${FILL%.*} s"
printf '%-34s %10s %10s\n' "request ($REPEATS each)" median_ms max_ms
printf '%-34s %10.0f\n' "first snapshot (start to answer)" "$FIRST"
printf '%-34s %10s %10s\n' "overview API, new filters" $(stats < "$WORK/cold")
printf '%-34s %10s %10s\n' "overview API, warm (50 a page)" $(stats < "$WORK/warm")
printf '%-34s %10s %10s\n' "overview page (HTML), warm" $(stats < "$WORK/html")
printf '%-34s %10s %10s\n' "label API (12 cycles, 3 series)" $(stats < "$WORK/label")
echo "one warm overview page: $SIZE bytes; serve's peak RSS: $RSS kB"
