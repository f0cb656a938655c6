#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The store, reports and metrics with real traffic: after several intervals,
# a kill -9, restarts, a replayed report (recorded once, even when the
# crash came after the database commit) and rollups of aged rows into
# hours, days and months, `nftally report` totals per day and month equal
# what was sent and what nftally printed; the node_exporter textfile and
# the HTTP endpoint pass promtool and equal the totals.
. "$(dirname "$0")/lib.sh"
need
for t in sqlite3 promtool curl; do
	command -v $t >/dev/null || skip_or_fail "store tests need $t"
done
setup_topology
write_config 1
PORT=9663
cat >> "$WORK/nftally.conf" <<CONF
prom_file = $WORK/nftally.prom
listen = 127.0.0.1:$PORT
CONF
cat > "$WORK/targets" <<'T'
vm-a    198.18.2.2
vm-b    2001:db8:2::2
vm-net  198.18.4.0/24
T
DB="$WORK/state/nftally.db"
RUNS=""
printed() { total "$1" "$2" $RUNS; } # ADDR FIELD: what the runs printed
report() { nftally_r report "$@"; }
# The one JSON report line's field for a label (0 when absent).
rfield() { # FIELD LABEL REPORT-ARGS...
	local f=$1 l=$2; shift 2
	report --format json "$@" | jq -rs --arg l "$l" --arg f "$f" \
		'[.[] | select(.label == $l) | .[$f]] | add // 0'
}
SA_IB=0 SA_IP=0 SB_OB=0 SB_OP=0 SN_IB=0
traffic() { # K
	send "$C" 198.18.2.2 100 $((10 * $1)) 198.18.1.2
	send "$C" 198.18.4.2 300 $((3 * $1)) 198.18.1.2
	send "$S" 2001:db8:1::2 80 $((9 * $1)) 2001:db8:2::2
	SA_IB=$((SA_IB + 128 * 10 * $1)) SA_IP=$((SA_IP + 10 * $1))
	SN_IB=$((SN_IB + 328 * 3 * $1))
	SB_OB=$((SB_OB + 128 * 9 * $1)) SB_OP=$((SB_OP + 9 * $1))
}

# --- 1. intervals, a kill -9, a clean restart ---
start_run "$WORK/r1.json"; RUNS="$WORK/r1.json"
traffic 1
wait_seq_after "$WORK/r1.json"
traffic 2
wait_seq_after "$WORK/r1.json"
kill -9 "$RUN"; wait "$RUN" 2>/dev/null; PIDS=""
start_run "$WORK/r2.json"; RUNS="$RUNS $WORK/r2.json"
traffic 1
wait_seq_after "$WORK/r2.json"
stop_run; assert_eq 0 $? "run exits 0"
start_run "$WORK/r3.json"; RUNS="$RUNS $WORK/r3.json"
traffic 3
wait_seq_after "$WORK/r3.json"

# --- 2. the textfile and the endpoint: valid, and equal to the totals ---
sleep 1.2
PROM=$(inns "$R" curl -sf "http://127.0.0.1:$PORT/metrics")
assert_eq 0 $? "GET /metrics"
echo "$PROM" | promtool check metrics >"$WORK/promtool.out" 2>&1
assert_eq "0 " "$? $(cat "$WORK/promtool.out")" "promtool accepts /metrics"
promtool check metrics < "$WORK/nftally.prom" >"$WORK/promtool.out" 2>&1
assert_eq "0 " "$? $(cat "$WORK/promtool.out")" "promtool accepts the textfile"
metric() { # TEXT NAME ADDR DIRECTION
	echo "$1" | awk -v n="$2" -v a="addr=\"$3\"" -v d="direction=\"$4\"" \
		'index($1, n "{") == 1 && index($0, a) && index($0, d) { print $2 }'
}
assert_eq 404 "$(inns "$R" curl -s -o /dev/null -w '%{http_code}' \
	"http://127.0.0.1:$PORT/other")" "other paths are 404"
assert_eq 405 "$(inns "$R" curl -s -o /dev/null -w '%{http_code}' -X POST \
	"http://127.0.0.1:$PORT/metrics")" "POST is 405"
stop_run
PROMF=$(cat "$WORK/nftally.prom")
assert_eq "$SA_IB" "$(metric "$PROMF" nftally_bytes_total 198.18.2.2 in)" \
	"textfile bytes in of vm-a after the last report"
assert_eq "$SB_OP" "$(metric "$PROMF" nftally_packets_total 2001:db8:2::2 out)" \
	"textfile packets out of vm-b"
assert_eq "$SN_IB" "$(metric "$PROMF" nftally_bytes_total 198.18.4.0/24 in)" \
	"textfile bytes in of vm-net"
assert_eq "$SA_IB" "$(metric "$PROM" nftally_bytes_total 198.18.2.2 in)" \
	"/metrics bytes in of vm-a (no traffic after its last report)"

# --- 3. report totals equal what was sent and what was printed ---
assert_eq "$SA_IB" "$(printed 198.18.2.2 in_bytes)" "printed vm-a in_bytes"
assert_eq "$SA_IB" "$(rfield in_bytes vm-a --by day)" "report --by day vm-a in_bytes"
assert_eq "$SA_IP" "$(rfield in_packets vm-a --by month)" "report --by month vm-a in_packets"
assert_eq "$SB_OB" "$(rfield out_bytes vm-b --by hour)" "report --by hour vm-b out_bytes"
assert_eq "$SN_IB" "$(rfield in_bytes vm-net --by day --utc)" "report --utc vm-net in_bytes"
assert_eq "$SB_OP" "$(report --format json --addr 2001:DB8:2::2 | jq -s 'map(.out_packets) | add')" \
	"report --addr (any spelling) vm-b out_packets"
assert_eq "$(date +%Y-%m-%d)" "$(report --format json --label vm-a | jq -r .period)" \
	"today's period in local time"
assert_eq "0" "$(rfield in_bytes vm-a --since "$(date -d tomorrow +%Y-%m-%d)")" \
	"--since tomorrow: nothing"
assert_eq "$SA_IB" "$(rfield in_bytes vm-a --until "$(date -d tomorrow +%Y-%m-%d)")" \
	"--until tomorrow: all"
CSV=$(report --format csv --per-addr --label vm-net)
assert_eq "period,host,netns,label,addr,in_bytes,in_packets,out_bytes,out_packets" \
	"$(echo "$CSV" | head -1)" "csv header"
assert_eq "$SN_IB" "$(echo "$CSV" | tail -n +2 | cut -d, -f6 | paste -sd+ | bc)" "csv in_bytes"
# every row says where it was counted: this host, the namespace run started in
HOST=$(uname -n)
assert_eq "$HOST," "$(echo "$CSV" | tail -n +2 | cut -d, -f2,3 | sort -u)" "csv host and netns"
assert_eq "$HOST " "$(report --format json | jq -r '"\(.host) \(.netns)"' | sort -u)" \
	"json host and netns"
assert_eq "$SA_IB" "$(rfield in_bytes vm-a --host "$HOST" --netns '' --account '')" \
	"--host, --netns '' and --account '' keep this run's rows"
assert_eq "0" "$(report --format json --host "other-$HOST" | wc -l)" "--host of another: nothing"
assert_eq "0" "$(report --format json --netns qrouter-1 | wc -l)" "--netns of another: nothing"
assert_eq "0" "$(report --format json --account routers | wc -l)" "--account of another: nothing"
TABLE=$(report --human)
echo "$TABLE" | head -1 | grep -q '^PERIOD *HOST *LABEL *IN *IN_PKTS *OUT *OUT_PKTS$' &&
	ok "table header (no NETNS column: every row is from run's own)" ||
	bad "table header: $(echo "$TABLE" | head -1)"
echo "$TABLE" | grep -q '^TOTAL ' && ok "table total line" || bad "no total line: $TABLE"
# one row, today's: 8960 bytes are 8.75 KiB, shown with one decimal
assert_eq "$HOST vm-a 8.8 KiB 70" \
	"$(report --human --label vm-a | awk 'NR == 2 { print $2, $3, $4, $5, $6 }')" \
	"--human: binary units for bytes, plain packet counts"
assert_eq "$((SA_IB + SN_IB)) $((SA_IP + SN_IB / 328))" \
	"$(report | awk '$1 == "TOTAL" { print $2, $3 }')" "the TOTAL line sums the rows"

# --- 4. a replayed report is recorded once: also when the database already
# has it (a crash after the commit, before the state file's rename).  The
# pending report carries 10 packets sent while nftally was stopped. ---
send "$C" 198.18.2.2 100 10 198.18.1.2
ST="$WORK/state/nftally.state"
cp "$ST" "$WORK/state.before"
pending_after "$ST" > "$WORK/pending"
cp "$WORK/pending" "$WORK/state/nftally.pending"
# replayed, recorded, renamed; killed before any other report
start_run "$WORK/r4.json" --interval 3600
kill -9 "$RUN"; wait "$RUN" 2>/dev/null; PIDS=""
# as if the crash had come before the rename
cp "$WORK/state.before" "$ST"; cp "$WORK/pending" "$WORK/state/nftally.pending"
start_run "$WORK/r5.json"; stop_run
RUNS="$RUNS $WORK/r4.json $WORK/r5.json"
assert_eq 2 "$(cat "$WORK/r4.json" "$WORK/r5.json" | grep -c '"event":"replay"')" \
	"the report was replayed twice"
SA_IB=$((SA_IB + 1280)) SA_IP=$((SA_IP + 10))
assert_eq "$SA_IB" "$(rfield in_bytes vm-a)" "a replayed report is in the store once"
assert_eq "$SA_IB" "$(metric "$(cat "$WORK/nftally.prom")" nftally_bytes_total 198.18.2.2 in)" \
	"and in the metrics once"

# --- 5. rollups: age the rows (as if they were old) and let run roll them ---
# Everything recorded so far moves 900 days back: intervals -> hours -> days
# -> months in one rollup; 12 more intervals move 100 days back: days.
OLD_MONTH=$(date -d @$(( $(date +%s) - 900 * 86400 )) +%Y-%m)
sqlite3 "$DB" "UPDATE usage SET t = t - 900 * 86400"
start_run "$WORK/r6.json"; RUNS="$RUNS $WORK/r6.json"
traffic 2
wait_seq_after "$WORK/r6.json"
stop_run
S2=$(( 128 * 10 * 2 ))
sqlite3 "$DB" "UPDATE usage SET t = t - 100 * 86400 WHERE tier = 0"
start_run "$WORK/r7.json"; RUNS="$RUNS $WORK/r7.json"
traffic 1
wait_seq_after "$WORK/r7.json"
stop_run
S3=$(( 128 * 10 ))
TIERS=$(sqlite3 "$DB" "SELECT group_concat(tier) FROM (SELECT DISTINCT tier FROM usage ORDER BY tier)")
assert_eq "0,2,3" "$TIERS" "rows were rolled into days and months; the newest stay intervals"
assert_eq "$SA_IB" "$(rfield in_bytes vm-a --by month)" "all-time vm-a in_bytes after rollups"
assert_eq "$SA_IB" "$(printed 198.18.2.2 in_bytes)" "printed equals sent"
assert_eq $((SA_IB - S2 - S3)) "$(report --format json --by month --label vm-a |
	jq -r --arg m "$OLD_MONTH" 'select(.period == $m) | .in_bytes')" \
	"the month 900 days ago holds the first runs"
assert_eq "$OLD_MONTH" "$(report --format json --by day --label vm-a | jq -r .period | head -1)" \
	"rolled-up months show as months in a day report"
assert_eq "$S2" "$(report --format json --by hour --label vm-a |
	jq -r 'select(.period | length == 10) | .in_bytes')" \
	"rolled-up days show as days in an hour report"
assert_eq "$S3" "$(rfield in_bytes vm-a --since "$(date -d yesterday +%Y-%m-%d)")" \
	"--since yesterday: only the last interval rows"

# --- 5b. the store fails for a while (its write-ahead log made immutable):
# the reports wait in memory and go in, in order, when it works again ---
if chattr +i "$DB-wal" 2>/dev/null; then
	chattr -i "$DB-wal"
	start_run "$WORK/r7b.json"; RUNS="$RUNS $WORK/r7b.json"
	wait_seq_after "$WORK/r7b.json"
	chattr +i "$DB-wal"
	traffic 1
	for _ in $(seq 50); do grep -q 'is not in the store yet' "$WORK/r7b.json" && break; sleep 0.1; done
	assert_eq 1 "$(grep -c 'is not in the store yet' "$WORK/r7b.json" | awk '{print ($1 > 0)}')" \
		"a report the store cannot take waits"
	chattr -i "$DB-wal"
	traffic 1
	for _ in $(seq 50); do grep -q '"event":"store_recovered"' "$WORK/r7b.json" && break; sleep 0.1; done
	stop_run
	assert_eq 1 "$(grep -c '"event":"store_recovered"' "$WORK/r7b.json" | awk '{print ($1 > 0)}')" \
		"and goes in when the store works again"
	assert_eq "$SA_IB" "$(rfield in_bytes vm-a --by month)" "nothing lost from the store"
	assert_eq "$SA_IB" "$(printed 198.18.2.2 in_bytes)" "printed equals sent"
else
	chattr -i "$DB-wal" 2>/dev/null
	echo "SKIP: chattr +i does not work on this file system (the store-failure checks need it)"
fi

# --- 6. metrics continue across restarts: the totals include it all ---
start_run "$WORK/r8.json"; RUNS="$RUNS $WORK/r8.json"
sleep 0.3
assert_eq "$SA_IB" "$(metric "$(cat "$WORK/nftally.prom")" nftally_bytes_total 198.18.2.2 in)" \
	"textfile after a restart starts from the stored totals"
stop_run

# --- 6b. retention: with store_keep_intervals = 1h, interval rows 3 hours
# old become hour rows at the next start (with the default 2d they stay) ---
sqlite3 "$DB" "UPDATE usage SET t = t - 3 * 3600 WHERE tier = 0"
N0=$(sqlite3 "$DB" "SELECT count(*) FROM usage WHERE tier = 0")
[ "$N0" -gt 0 ] || bad "no interval rows to age"
echo "store_keep_intervals = 1h" >> "$WORK/nftally.conf"
start_run "$WORK/r9.json"; RUNS="$RUNS $WORK/r9.json"
wait_seq_after "$WORK/r9.json"
stop_run
sed -i '/^store_keep_intervals/d' "$WORK/nftally.conf"
assert_eq "0" "$(sqlite3 "$DB" "SELECT count(*) FROM usage WHERE tier = 0 AND t < strftime('%s','now') - 2 * 3600")" \
	"interval rows older than store_keep_intervals were rolled up"
assert_eq "$SA_IB" "$(rfield in_bytes vm-a --by month)" "the sums did not change"
assert_eq 3 "$(awk 'index($1, "nftally_addresses{") == 1 { print $2 }' "$WORK/nftally.prom")" \
	"nftally_addresses in the textfile"

# --- 7. store = off, a database of another table, bad options ---
nftally_r --store off report >/dev/null 2>"$WORK/err"
assert_eq "1 nftally: the store is off (store = off): nothing to report" \
	"$? $(cat "$WORK/err")" "report with the store off"
nftally_r --table other --store "$DB" run >/dev/null 2>"$WORK/err"
assert_eq "1 nftally: $DB: database of table nftally, not other" "$? $(cat "$WORK/err")" \
	"a database of another table is refused"
# a store of schema 1 (the nftally before origins): report reads it as this
# host's, and a newer schema is refused
sqlite3 "$WORK/v1.db" < "$SRCDIR/tests/unit/store-v1.sql"
assert_eq "period,host,netns,label,class,in_bytes,in_packets,out_bytes,out_packets
2026-01,$HOST,,a,,1107,12,550,6
2026-01,$HOST,,b,national,300,3,30,3
2026-01,$HOST,,e,,200,2,0,0" \
	"$(nftally_r --store "$WORK/v1.db" report --by month --utc --format csv --by-class 2>&1)" \
	"report of a store of schema 1"
assert_eq 1 "$(sqlite3 "$WORK/v1.db" "SELECT value FROM meta WHERE key = 'schema'")" \
	"report does not migrate it"
sqlite3 "$WORK/v1.db" "UPDATE meta SET value = 5 WHERE key = 'schema'"
nftally_r --store "$WORK/v1.db" report >/dev/null 2>"$WORK/err"
assert_eq "1 nftally: $WORK/v1.db: database schema 5 is not 4 (written by another version of nftally)" \
	"$? $(cat "$WORK/err")" "report of a newer schema"
nftally_r report --by week >/dev/null 2>"$WORK/err"
assert_eq "2 nftally: --by: use 5min, hour, day, month or cycle" "$? $(cat "$WORK/err")" "--by week"
nftally_r report --since yesterday >/dev/null 2>"$WORK/err"
assert_eq 2 $? "--since yesterday (not a date) is a usage error"
nftally_r report --until 2026-02-31 >/dev/null 2>"$WORK/err"
assert_eq "2 nftally: --until: bad time (use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS], YYYY-MM or @SECONDS)" \
	"$? $(cat "$WORK/err")" "31 February is refused"
nftally_r --listen 127.0.0.1:99999 run >/dev/null 2>"$WORK/err"
assert_eq "1 nftally: --listen: bad listen address '127.0.0.1:99999' (use ADDR:PORT, [ADDR6]:PORT or :PORT)" \
	"$? $(cat "$WORK/err")" "bad --listen"
# --- 8. remove with a store it cannot open changes nothing (exit 3); once
# the store works, remove records its last report there too ---
if chattr +i "$DB" 2>/dev/null; then
	send "$C" 198.18.2.2 100 2 198.18.1.2
	nftally_r remove > "$WORK/rm1.json" 2> "$WORK/err"
	assert_eq 3 $? "remove with a store it cannot open: exit 3"
	assert_eq 1 "$(inns "$R" nft list tables | grep -c 'inet nftally')" "the table stays"
	chattr -i "$DB"
	nftally_r remove > "$WORK/rm2.json" 2> "$WORK/err"
	assert_eq "0 " "$? $(cat "$WORK/err")" "remove once the store works"
	SA_IB=$((SA_IB + 256))
	assert_eq "$SA_IB" "$(rfield in_bytes vm-a --by month)" "remove's last report is in the store"
else
	echo "SKIP: chattr +i does not work on this file system (the store-failure checks need it)"
fi
finish
