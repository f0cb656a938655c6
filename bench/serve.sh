#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally serve's overview API with many labels, timed from outside with
# curl (time_total: connect to last byte) against a store filled through
# the store API (billfill): LABELS labels of one address each, a report
# every 5 minutes from the start of the cycle (SLOTS slots: 288 a day,
# 8928 the whole of January), the pages made as of the end of the last
# slot.  Measured:
#   first     from the start of serve to the first overview answered: the
#             refresher's snapshot (both cycles of every label, their 95th
#             percentiles, the last day), made again once a minute in its
#             own thread while requests use the one before
#   building  the overview's 503 answers meanwhile (polled 5 times a second)
#   filters   new filters (host, netns): from the first request of each
#             to its first 200 (the refresher makes it; the requests answer
#             503 after 1.5 s meanwhile, and a label's page is asked after
#             each), then FILTER_REPEATS (default REPEATS) alternating
#   warm      the overview of the snapshot (paging, sorting), JSON and HTML
#   label     one label's page data (12 cycles, three series)
#   refresh   one more 5-minute report of every label recorded, then the
#             time moved on by 5 minutes: until the refresher's snapshot
#             answers (tests' NFTALLY_SERVE_AT_FILE; a build without it
#             makes every snapshot from scratch: its refresh is "first");
#             then the first request of a filter after it (the one before,
#             at once) and until both filters' are made again
#   cpu       serve's CPU time (user + system) for the first snapshot and
#             for the refresh: what a loaded machine changes less
# Not part of the test suite.
#   usage: bench/serve.sh [LABELS] [SLOTS] [REPEATS]   (defaults 10000 288 20)
# BENCH_AT=SECONDS makes the pages as of then instead: with 8928 slots
# the default is February 1, 00:04:59 (January, full, the previous
# cycle); January 31, 23:55 (a full January the current cycle, and the
# refresh still in it) is 1769903699.
# BENCH_DB=PATH keeps the filled store there for the next runs (the
# refresh's report is taken out again at the end), NFTALLY=PATH another
# build (before and after, alternated, on the same store).
# Days after the first are copied from it in SQL (samples and reports,
# what the overview reads; the samples' index made again after): billfill's
# 0.5 s a report of 10,000 rows would take 75 minutes for 31 days.
# BENCH_FILL=fast writes every slot's rows by SQLite instead
# (bench/fill-fast.sh: the rows billfill would write for line() of every
# slot, checked by bench/fill-fast-check.sh; 10,000 labels x 31 days in
# minutes), into /var/tmp/nftally-bench-LABELSxSLOTS.db unless BENCH_DB
# says where, kept for the next runs.
set -u
cd "$(dirname "$0")/.."
LABELS=${1:-10000}; SLOTS=${2:-288}; REPEATS=${3:-20}; FILTER_REPEATS=${FILTER_REPEATS:-$REPEATS}
NFTALLY=${NFTALLY:-$PWD/build/nftally}
BILLFILL=${BILLFILL:-$PWD/build/tests/billfill}
export NFTALLY BILLFILL
. tests/integration/lib.sh
. tests/integration/lib-serve.sh
need
B="${PFX}v"
serve_ns "$B" || exit 1
U=http://127.0.0.1:9480
FAST=; [ "${BENCH_FILL:-}" = fast ] && FAST=/var/tmp/nftally-bench-${LABELS}x$SLOTS.db
DB=${BENCH_DB:-${FAST:-$WORK/bench.db}}
DAY=$((SLOTS < 288 ? SLOTS : 288))

line() { # SLOT: one report of every label, at the end of slot SLOT (1-based)
	awk -v t0="$T0" -v n="$LABELS" -v k="$1" 'BEGIN {
		for (l = 0; l < n; l++)
			printf "%d l%05d 198.%d.%d.%d %d %d\n", t0 + 300 * k, l, 18 + int(l / 65536),
				int(l / 256) % 256, l % 256, 1000 + (l * 7 + k * 13) % 50000,
				500 + (l * 3 + k * 11) % 30000 }'
}
FILL=0
if [ -n "$FAST" ] && [ ! -s "$DB" ]; then
	t=$(date +%s.%N)
	rm -f "$DB" "$DB-wal" "$DB-shm"
	bench/fill-fast.sh "$DB" "$LABELS" "$SLOTS" "$T0" node1 || exit 1
	FILL=$(echo "$(date +%s.%N) - $t" | bc)
elif [ ! -s "$DB" ]; then
	t=$(date +%s.%N)
	for k in $(seq "$DAY"); do line "$k"; done > "$WORK/fill.txt"
	"$BILLFILL" "$DB" node1 < "$WORK/fill.txt" || exit 1
	# the other days: the first one's samples and reports, a day later each
	if [ "$SLOTS" -gt 288 ]; then
		{
			echo "PRAGMA cache_size = -500000; BEGIN; DROP INDEX samples_series;"
			for d in $(seq 1 $((SLOTS / 288 - 1))); do
				echo "INSERT INTO samples SELECT t + $((86400 * d)), series, in_bytes,"
				echo " in_packets, out_bytes, out_packets FROM samples WHERE t < $((T0 + 86400));"
				echo "INSERT INTO reports SELECT host, netns, account, seq + $((1000000 * d)),"
				echo " t + $((86400 * d)) FROM reports WHERE t <= $((T0 + 86400));"
			done
			echo "CREATE INDEX samples_series ON samples(series, t, in_bytes,"
			echo " in_packets, out_bytes, out_packets); COMMIT;"
		} | sqlite3 "$DB" || exit 1
	fi
	FILL=$(echo "$(date +%s.%N) - $t" | bc)
fi
printf 'store = %s\nstate_dir = %s\ntargets = %s/none\ntimezone = UTC\n' \
	"$DB" "$WORK" "$WORK" > "$WORK/bench.conf"
AT_B=${BENCH_AT:-$((T0 + 300 * SLOTS + 299))}
NEXT=$(((AT_B - T0) / 300 + 1)) # the refresh's report: the end of the slot in progress
echo "$AT_B" > "$WORK/at"
t=$(date +%s.%N)
NFTALLY_SERVE_AT_FILE="$WORK/at" SERVE_NO_WAIT=1 serve_start "$B" "$U" -c "$WORK/bench.conf" \
	--at "@$AT_B" || { cat "$WORK/serve.err"; exit 1; }
# until the first 200: a build since 967c3d6 answers 503 at once meanwhile
# (their times in $WORK/building), an older one waits for the snapshot
: > "$WORK/building"
while ip netns exec "$B" curl -s -o "$WORK/body" -w '%{http_code} %{time_total}\n' \
	"$U/api/overview" > "$WORK/code" && [ "$(cut -d' ' -f1 "$WORK/code")" = 503 ]; do
	cut -d' ' -f2 "$WORK/code" >> "$WORK/building"
	cp "$WORK/body" "$WORK/building.json"
	sleep 0.2
done
FIRST=$(echo "($(date +%s.%N) - $t) * 1000" | bc)
# serve's CPU (user + system) so far: what a loaded machine changes less
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000 / hz }' /proc/"$SERVE_PID"/stat; }
FIRST_CPU=$(cpu)

get() { ip netns exec "$B" curl -s -o "$WORK/body" -w '%{time_total}\n' "$1"; }
stats() { # a column of seconds -> "median max" in ms
	sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.1f %.1f", v[int((NR + 1) / 2)] * 1000, v[NR] * 1000; else printf "- -" }'
}
# filters: new ones are made by the refresher too, their requests answering
# 503 after waiting 1.5 s for them: host=node1, then netns=-, each from its
# first request to its first 200 (the 503s' times in $WORK/fbuilding, and a
# label's page asked after each in $WORK/flabel); then alternating
newf() { # QUERY: seconds until the first 200
	local t
	t=$(date +%s.%N)
	while ip netns exec "$B" curl -s -o "$WORK/body" -w '%{http_code} %{time_total}\n' \
		"$U/api/overview?$1" > "$WORK/code" && [ "$(cut -d' ' -f1 "$WORK/code")" = 503 ]; do
		cut -d' ' -f2 "$WORK/code" >> "$WORK/fbuilding"
		get "$U/api/label?l=l$(printf %05d $((RANDOM % LABELS)))" >> "$WORK/flabel"
		sleep 0.2
	done
	echo "$(date +%s.%N) - $t" | bc
}
: > "$WORK/fbuilding"
: > "$WORK/flabel"
{ newf host=node1; newf netns=-; } > "$WORK/new"
for i in $(seq "$FILTER_REPEATS"); do
	[ $((i % 2)) = 1 ] && get "$U/api/overview?host=node1" || get "$U/api/overview?netns=-"
done > "$WORK/cold"
TOTAL=$(jq .total "$WORK/body")
for i in $(seq "$REPEATS"); do
	get "$U/api/overview?sort=billed&page=$((i % 200 + 1))"
done > "$WORK/warm"
SIZE=$(stat -c %s "$WORK/body")
for i in $(seq "$REPEATS"); do get "$U/?sort=p95&page=$i"; done > "$WORK/html"
for i in $(seq "$REPEATS"); do get "$U/api/label?l=l$(printf %05d $((i * 37 % LABELS)))"; done > "$WORK/label"
# refresh: one more report, 5 minutes on
REFRESH=n/a FREFRESH=n/a REFRESH_CPU=n/a FMADE=n/a FMADE_CPU=n/a
R=$((T0 + 300 * NEXT))
# a slot of the store's (at the end of a full January) keeps the report
# (recorded once: the next runs' are replays), an empty one loses it again
KEEP=$(sqlite3 "$DB" "SELECT count(*) FROM samples WHERE t = $((R - 300))")
META=$(sqlite3 "$DB" "SELECT group_concat(format('(%Q, %d)', key, value), ', ') FROM meta
	WHERE key IN ('last_seq', 'last_time')")
if grep -q NFTALLY_SERVE_AT_FILE "$NFTALLY"; then
	line "$NEXT" | "$BILLFILL" "$DB" node1 || exit 1
	c=$(cpu)
	t=$(date +%s.%N)
	echo $((AT_B + 300)) > "$WORK/at.new" && mv "$WORK/at.new" "$WORK/at" # never empty
	until [ "$(ip netns exec "$B" curl -s "$U/api/overview?per_page=1" | jq .now)" = $((AT_B + 300)) ]; do
		sleep 0.05
	done
	REFRESH=$(echo "($(date +%s.%N) - $t) * 1000" | bc)
	REFRESH_CPU=$(($(cpu) - c))
	# the filters' snapshots are made again after it: meanwhile a request
	# has the one before at once
	FREFRESH=$(get "$U/api/overview?host=node1" | awk '{ printf "%.1f", $1 * 1000 }')
	until [ "$(ip netns exec "$B" curl -s "$U/api/overview?per_page=1&netns=-" | jq .now)" = \
		$((AT_B + 300)) ]; do
		sleep 0.05
	done
	FMADE=$(echo "($(date +%s.%N) - $t) * 1000" | bc)
	FMADE_CPU=$(($(cpu) - c))
fi
RSS=$(awk '/VmHWM/ { print $2 }' /proc/"$SERVE_PID"/status)
serve_stop
# the refresh's report out again, for the next run on the same store
# (its totals too, and the meta billfill moved on: the store as filled)
[ "$KEEP" = 0 ] && { sqlite3 "$DB" "BEGIN; UPDATE totals SET
	in_bytes = totals.in_bytes - u.in_bytes, in_packets = totals.in_packets - u.in_packets,
	out_bytes = totals.out_bytes - u.out_bytes, out_packets = totals.out_packets - u.out_packets
	FROM (SELECT * FROM usage WHERE tier = 0 AND t = $R) AS u WHERE totals.series = u.series;
	DELETE FROM samples WHERE t = $((R - 300));
	DELETE FROM usage WHERE tier = 0 AND t = $R; DELETE FROM reports WHERE t = $R;
	INSERT OR REPLACE INTO meta(key, value) VALUES $META; COMMIT;" || exit 1; }
echo "$(basename "$(dirname "$NFTALLY")"): labels $TOTAL (of $LABELS), $SLOTS slots each ($((LABELS * SLOTS)) samples), fill $(printf %.0f "$FILL") s, as of @$AT_B"
printf '%-36s %10s %10s\n' "request ($REPEATS each)" median_ms max_ms
printf '%-36s %10.0f %10s\n' "first snapshot (start to answer)" "$FIRST" "cpu $FIRST_CPU"
printf '%-36s %10s %10s\n' "overview API while building ($(wc -l < "$WORK/building"))" \
	$(stats < "$WORK/building")
printf '%-36s %10s %10s\n' "overview API, new filters (to 200, 2)" $(stats < "$WORK/new")
printf '%-36s %10s %10s\n' "... their 503s ($(wc -l < "$WORK/fbuilding"))" $(stats < "$WORK/fbuilding")
printf '%-36s %10s %10s\n' "... label API meanwhile" $(stats < "$WORK/flabel")
printf '%-36s %10s %10s\n' "overview API, filters alternating ($FILTER_REPEATS)" $(stats < "$WORK/cold")
printf '%-36s %10s %10s\n' "overview API, warm (50 a page)" $(stats < "$WORK/warm")
printf '%-36s %10s %10s\n' "overview page (HTML), warm" $(stats < "$WORK/html")
printf '%-36s %10s %10s\n' "label API (12 cycles, 3 series)" $(stats < "$WORK/label")
printf '%-36s %10s %10s\n' "refresh (one more report, +5 min)" "${REFRESH%.*}" "cpu $REFRESH_CPU"
printf '%-36s %10s\n' "filters after the refresh (first)" "$FREFRESH"
printf '%-36s %10s %10s\n' "... both made again (from +5 min)" "${FMADE%.*}" "cpu $FMADE_CPU"
echo "one warm overview page: $SIZE bytes; serve's peak RSS: $RSS kB"
[ -s "$WORK/building.json" ] && echo "the last answer while building: $(cat "$WORK/building.json")"
