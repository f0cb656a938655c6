#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `nftally report --postgresql` against a real server this test starts
# itself (as pg.sh does): a run with `postgresql =` makes the schema, then
# known rows of two hosts go into nftally_raw through psql, and the
# report's CSV and JSON are asserted exactly: periods (a report at
# midnight belongs to the day before; UTC and a named local zone), the
# host, netns, account, label, class and address filters, a label summed
# over both hosts (--merge-hosts), and a hostile label (quotes, ';',
# unicode) that goes in and out as text, never as SQL.  The billing SQL of
# docs/fleet.md is taken from the page and must give report's numbers.
. "$(dirname "$0")/lib.sh"
need
FLEET_MD="$(dirname "$0")/../../docs/fleet.md"
. "$(dirname "$0")/lib-pg.sh"
pg_start || { cat "$PGDIR/log"; skip_or_fail "the PostgreSQL server does not start"; }
# psql with the caller's arguments (-c, -v, a script on stdin), unlike
# lib-pg.sh's sql, which takes one statement
sql() { psql -h "$PGDIR" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 "$@"; }
CONN="host=$PGDIR dbname=postgres user=postgres"
rep() { "$NFTALLY" -c "$WORK/nftally.conf" report --postgresql "$CONN" "$@" 2>&1; }

# --- the schema, made by a run (with one report of real traffic) ---
setup_topology
write_config 1
printf '%s\n' "host = node1" "postgresql = $CONN" >> "$WORK/nftally.conf"
printf '%s\n' "a 198.18.4.1" > "$WORK/targets"
start_run "$WORK/a.json"
send "$C" 198.18.4.1 100 3 198.18.1.2
for _ in $(seq 100); do
	[ "$(sql -c "SELECT count(*) FROM nftally_raw" 2>/dev/null)" -gt 0 ] 2>/dev/null && break
	sleep 0.1
done
stop_run; assert_eq 0 $? "run exit code"
assert_eq 1 "$(sql -c 'SELECT max(version) FROM nftally_schema')" "the run made the schema"
# the store and the central database give the same billing numbers
AT=@$(($(date +%s) + 1))
assert_eq "a 384" "$(rep --cycle current --at "$AT" --format json | jq -r '"\(.label) \(.in_bytes)"')" \
	"the cycle's traffic, from PostgreSQL"
for opts in "--cycle current" "--p95 --cycle current --per-addr --bill max" "--by 5min --per-addr"; do
	# shellcheck disable=SC2086
	assert_eq "$("$NFTALLY" -c "$WORK/nftally.conf" report $opts --at "$AT" --format json)" \
		"$(rep $opts --at "$AT" --format json)" "the store and PostgreSQL agree: $opts"
done

# --- known rows, from two hosts ---
HOSTILE="x'); DROP TABLE nftally_raw;--\"é€ 𝄞"
sql -v lab="$HOSTILE" <<'SQL'
TRUNCATE nftally_raw;
SELECT nftally_partition('2026-11-01'), nftally_partition('2026-12-01');
INSERT INTO nftally_raw VALUES
 ('node1', '',    '',   'nftally', 'cust-a', '198.18.4.1', '', '2026-11-05 10:00+00', '2026-11-05 10:01+00', 1, 1000, 10, 500, 5),
 -- at midnight: the last second of 30 November
 ('node1', '',    '',   'nftally', 'cust-a', '198.18.4.1', '', '2026-11-30 23:59+00', '2026-12-01 00:00+00', 2, 100, 1, 50, 1),
 ('node1', 'ns1', 'a2', 'nftally', 'cust-a', '198.18.4.4', '', NULL, '2026-11-05 10:01+00', 1, 7, 1, 8, 1),
 ('node2', '',    '',   'nftally', 'cust-a', '198.18.4.2', '', NULL, '2026-11-10 12:00+00', 1, 2000, 20, 700, 7),
 ('node2', '',    '',   'nftally', 'cust-b', '198.18.4.3', 'peering', NULL, '2026-11-10 12:00+00', 1, 5, 1, 6, 1),
 ('node2', '',    '',   'nftally', :'lab',   '2001:db8:4::1', '', '2026-12-02 07:59+00', '2026-12-02 08:00+00', 2, 30, 1, 40, 2);
SQL
assert_eq 6 "$(sql -c 'SELECT count(*) FROM nftally_raw')" "six known rows"

# (CSV has a class column when classes are configured or a row has one)
H="period,host,netns,label,class,in_bytes,in_packets,out_bytes,out_packets"
H0="period,host,netns,label,in_bytes,in_packets,out_bytes,out_packets"

assert_eq "$H
2026-11,node1,,cust-a,,1100,11,550,6
2026-11,node1,ns1,cust-a,,7,1,8,1
2026-11,node2,,cust-a,,2000,20,700,7
2026-11,node2,,cust-b,peering,5,1,6,1
2026-12,node2,,\"x'); DROP TABLE nftally_raw;--\"\"é€ 𝄞\",,30,1,40,2" \
	"$(rep --by month --utc --format csv --by-class)" "monthly CSV, UTC, per class"

assert_eq "$H0
2026-11,*,*,cust-a,3107,32,1258,14" \
	"$(rep --by month --utc --format csv --merge-hosts --label cust-a)" \
	"cust-a summed over both hosts"

assert_eq "$H
2026-11,node2,,cust-a,,2000,20,700,7
2026-11,node2,,cust-b,peering,5,1,6,1
2026-12,node2,,\"x'); DROP TABLE nftally_raw;--\"\"é€ 𝄞\",,30,1,40,2" \
	"$(rep --by month --utc --format csv --host node2 --by-class)" "--host node2"

assert_eq "$H0
2026-11,node1,ns1,cust-a,7,1,8,1" \
	"$(rep --by month --utc --format csv --netns ns1)" "--netns ns1"
assert_eq "$H0
2026-11,node1,ns1,cust-a,7,1,8,1" \
	"$(rep --by month --utc --format csv --account a2)" "--account a2 (not this host's)"
assert_eq "$H
2026-11,node2,,cust-b,peering,5,1,6,1" \
	"$(rep --by month --utc --format csv --class peering)" "--class peering"

# days: the report at midnight is the 30th's; in Tokyo (UTC+9) the 1st's
assert_eq "period,host,netns,label,addr,in_bytes,in_packets,out_bytes,out_packets
2026-11-05,node1,,cust-a,198.18.4.1,1000,10,500,5
2026-11-30,node1,,cust-a,198.18.4.1,100,1,50,1" \
	"$(rep --by day --utc --format csv --addr 198.18.4.1)" "--addr, by day, UTC"
assert_eq "period,host,netns,label,addr,in_bytes,in_packets,out_bytes,out_packets
2026-11-05,node1,,cust-a,198.18.4.1,1000,10,500,5
2026-12-01,node1,,cust-a,198.18.4.1,100,1,50,1" \
	"$(TZ=Asia/Tokyo rep --by day --format csv --addr 198.18.4.1)" "--addr, by day, Asia/Tokyo"
assert_eq "2026-11-05T10:00,node1,,cust-a,1000,10,500,5" \
	"$(rep --by hour --utc --format csv --host node1 --netns '' --until 2026-11-30 | sed 1d)" \
	"by hour, --until"
assert_eq "$H
2026-11,node1,,cust-a,,100,1,50,1
2026-11,node2,,cust-a,,2000,20,700,7
2026-11,node2,,cust-b,peering,5,1,6,1" \
	"$(rep --by month --utc --format csv --since 2026-11-06 --until 2026-12-01 --by-class)" \
	"--since and --until on the report's last second"

# over the classes by default (with --by-class or --class, per class)
assert_eq "$H0
2026-11,node2,,cust-a,2000,20,700,7
2026-11,node2,,cust-b,5,1,6,1
2026-12,node2,,\"x'); DROP TABLE nftally_raw;--\"\"é€ 𝄞\",30,1,40,2" \
	"$(rep --by month --utc --format csv --host node2)" "--host node2, over the classes"

# JSON, and the hostile label as a filter: a parameter, matched as text
assert_eq '{"period":"2026-12","host":"node2","netns":"","label":"x'"'"'); DROP TABLE nftally_raw;--\"é€ 𝄞","in_bytes":30,"in_packets":1,"out_bytes":40,"out_packets":2}' \
	"$(rep --by month --utc --format json --label "$HOSTILE")" "hostile label: JSON round trip"
assert_eq '{"period":"2026-11","host":"*","netns":"*","label":"cust-b","addr":"198.18.4.3","class":"peering","in_bytes":5,"in_packets":1,"out_bytes":6,"out_packets":1}' \
	"$(rep --by month --utc --format json --merge-hosts --per-addr --label cust-b --by-class)" \
	"JSON per address, merged"
assert_eq "$H0" "$(rep --by month --utc --format csv --label "cust-a' OR '1'='1")" \
	"a label that is SQL matches nothing"
assert_eq 6 "$(sql -c 'SELECT count(*) FROM nftally_raw')" "nftally_raw is still there"

# the table: the same rows, aligned, with a total
assert_eq "PERIOD   HOST  NETNS  LABEL   CLASS      IN  IN_PKTS   OUT  OUT_PKTS
2026-11  *     *      cust-a           3107       32  1258        14
2026-11  *     *      cust-b  peering     5        1     6         1
TOTAL                                  3112       33  1264        15" \
	"$(rep --by month --utc --merge-hosts --until 2026-12-01 --by-class)" "table, merged"

# the read role of fleet.md is enough
sql -c "CREATE ROLE nftally_read LOGIN; GRANT USAGE ON SCHEMA public TO nftally_read;
	GRANT SELECT ON nftally_raw, nftally_usage TO nftally_read;"
assert_eq "$H0
2026-11,*,*,cust-a,3107,32,1258,14" \
	"$(rep --postgresql "$CONN user=nftally_read" --by month --utc --format csv --merge-hosts \
	   --label cust-a)" "as the read role"

# errors: a server that is not there; a database without the schema
case $(rep --postgresql "host=$PGDIR port=1 dbname=postgres user=postgres"; echo "rc=$?") in
*"postgresql: connect:"*rc=3) ok "no server: a message, exit 3" ;;
*) bad "no server: $(rep --postgresql "host=$PGDIR port=1 dbname=postgres")" ;;
esac
sql -c "CREATE DATABASE empty"
case $(rep --postgresql "host=$PGDIR dbname=empty user=postgres"; echo "rc=$?") in
*"no nftally schema"*rc=3) ok "no schema: a message, exit 3" ;;
*) bad "no schema: $(rep --postgresql "host=$PGDIR dbname=empty user=postgres")" ;;
esac

# --- the billing SQL of docs/fleet.md gives report's numbers ---
# (each query is the ```sql block after a line <!-- billing:NAME -->)
doc_sql() { awk -v n="<!-- billing:$1 -->" '$0 == n { f = 1; next }
	f && /^```sql/ { s = 1; next } s && /^```/ { exit } s' "$FLEET_MD"; }
NOV="--by month --utc --since 2026-11 --until 2026-12 --format csv"
for q in per-label per-host per-class; do
	[ -n "$(doc_sql $q)" ] && ok "fleet.md has the $q query" || bad "fleet.md has no $q query"
done
# report's CSV summed to the query's columns (awk: COLUMNS of report's CSV)
sum_by() { awk -F, -v k="$1" 'NR > 1 { n = split(k, c, " "); key = "";
	for (i = 1; i <= n; i++) key = key (i > 1 ? "|" : "") $c[i];
	ib[key] += $(NF-3); ip[key] += $(NF-2); ob[key] += $(NF-1); op[key] += $NF }
	END { for (x in ib) print x "|" ib[x] "|" ip[x] "|" ob[x] "|" op[x] }' | LC_ALL=C sort; }
assert_eq "$(rep $NOV --merge-hosts | sum_by "4")" \
	"$(doc_sql per-label | sql | LC_ALL=C sort)" "fleet.md per label = report --merge-hosts"
assert_eq "$(rep $NOV | sum_by "2 4")" \
	"$(doc_sql per-host | sql | LC_ALL=C sort)" "fleet.md per host = report"
assert_eq "$(rep $NOV --merge-hosts --by-class | sum_by "4 5")" \
	"$(doc_sql per-class | sql | LC_ALL=C sort)" "fleet.md per class = report --merge-hosts"
assert_eq "cust-a|3107|32|1258|14" "$(doc_sql per-label | sql | grep '^cust-a')" \
	"fleet.md per label: cust-a's November"

# --- billing from the central database: cycles, --p95, --by 5min, --all ---
# cust-p: one row every 5 minutes through November (UTC), from node3 and,
# for every second slot, node4 too: slot k (0-based) holds 75 (k + 1)
# bytes in, that is 2 (k + 1) bit/s, and 1 byte out; a report at the
# slot's end belongs to it (its last second).
sql <<'SQL'
INSERT INTO nftally_raw SELECT CASE WHEN k % 2 = 0 THEN 'node3' ELSE 'node4' END, '', '',
  'nftally', 'cust-p', '198.18.4.9', '', NULL,
  timestamptz '2026-11-01 00:05+00' + k * interval '5 minutes', k + 1, 75 * (k + 1), 1, 1, 1
  FROM generate_series(0, 8639) k;
SQL
brep() { TZ=UTC rep --format json --label cust-p "$@"; }
# 8640 slots ended, the 8208th smallest (ceil(0.95 * 8640)): k + 1 = 8208
assert_eq "8640 8208 615600 16416 0 16416" \
	"$(brep --p95 --cycle 2026-11 --at 2026-12-15 | jq -r '"\(.slots) \(.rank) \(.in_p95_bytes) \(.in_p95_bps) \(.out_p95_bps) \(.bill_p95_bps)"')" \
	"--p95 of a whole cycle from PostgreSQL, as defined"
# on 2026-11-02T00:00 the current cycle has 288 slots ended, the 274th
# smallest is k + 1 = 274
assert_eq "288 274 548" \
	"$(brep --p95 --cycle current --at 2026-11-02 | jq -r '"\(.slots) \(.rank) \(.in_p95_bps)"')" \
	"--p95 of the cycle in progress"
# the cycle's totals over both hosts: 75 * 8640 * 8641 / 2 in, 8640 out; max
# bills the in
assert_eq "2026-11 2799684000 8640 2799684000" \
	"$(brep --cycle 2026-11 --bill max --merge-hosts | jq -r '"\(.period) \(.in_bytes) \(.out_bytes) \(.billed_bytes)"')" \
	"--cycle 2026-11 --bill max from PostgreSQL"
assert_eq "2026-11-01T00:00 75,2026-11-01T00:05 150,2026-11-30T23:55 648000" \
	"$(TZ=UTC rep --by 5min --merge-hosts --format csv --label cust-p | sed 1d |
	   awk -F, 'NR <= 2 || NR == 8640 { printf "%s%s %s", n++ ? "," : "", $1, $5 }')" \
	"--by 5min: a period per slot"
assert_eq "cust-zero 0 0" \
	"$(TZ=UTC rep --cycle 2026-10 --all --label cust-zero --format json |
	   jq -r '"\(.label) \(.in_bytes) \(.out_bytes)"')" \
	"--all: --label's label, without traffic, with zeros"
assert_eq "cust-p 0 0" \
	"$(brep --cycle 2026-10 --all | jq -r '"\(.label) \(.in_bytes) \(.out_bytes)"')" \
	"--all: a label of the database without traffic in the cycle, with zeros"

# --- nftally serve over the central database: report's numbers ---
. "$(dirname "$0")/lib-serve.sh"
URL=http://127.0.0.1:9480
# its time in a file (tests only), moved on below
D15=$(TZ=UTC date -d 2026-12-15 +%s)
echo "$D15" > "$WORK/at"
NFTALLY_SERVE_AT_FILE="$WORK/at" TZ=UTC serve_start "$R" "$URL" -c "$WORK/nftally.conf" \
	--postgresql "$CONN" --at "@$D15" || { cat "$WORK/serve.err"; bad "serve --postgresql does not start"; }
api() { ip netns exec "$R" curl -s "$URL$1"; }
prev=$(api "/api/overview?label=cust-p" | jq -c '.labels[0].previous |
	[.period, .in_bytes, .out_bytes, .billed_bytes, .slots, .rank, .in_p95_bps, .bill_p95_bps]')
assert_eq '["2026-11",2799684000,8640,2799692640,8640,8208,16416,16416]' "$prev" \
	"serve --postgresql: the overview's previous cycle of cust-p"
assert_eq "$(echo "$prev" | jq -r '.[1:4] | join(" ")')" \
	"$(TZ=UTC rep --cycle previous --at 2026-12-15 --merge-hosts --label cust-p --bill sum --format json |
	   jq -r '"\(.in_bytes) \(.out_bytes) \(.billed_bytes)"')" "serve's numbers are report's"
assert_eq "4" "$(api "/api/overview" | jq '.total')" "every label of the database"
# a label's page: its cycles and the daily series (1 November: 75 * 288 *
# 289 / 2 bytes in over 86,400 s, 289 bit/s)
L=$(api "/api/label?l=cust-p")
assert_eq "2026-11 2799684000" "$(echo "$L" | jq -r '.cycles[] | select(.period == "2026-11") | "\(.period) \(.in_bytes)"')" \
	"serve --postgresql: the label's cycles"
assert_eq "289" "$(echo "$L" | jq -r '.series.day as $d | $d.in_bps[$d.t | index(1793491200)]')" \
	"serve --postgresql: the daily series"
# the server restarted under serve: the next request connects again
# (node3 has the even slots: 75 * 4320^2 bytes)
pgctl stop -m fast && pg_start || bad "the PostgreSQL server does not restart"
assert_eq "2026-11 1399680000" "$(api "/api/label?l=cust-p&host=node3" |
	jq -r '.cycles[] | select(.period == "2026-11") | "\(.period) \(.in_bytes)"')" \
	"serve --postgresql: connected again after the server's restart"
# the server stopped under serve, the time moved on: the refresher's next
# snapshot cannot be made; it is said once and tried again after 60 s, not
# at once, the overview keeping the last one meanwhile; new filters answer
# 500 at once; once the server is back, the next try makes it
errors() { grep -v -c -e '^nftally: serving' -e '^nftally: serve: test: ' "$WORK/serve.err"; }
e0=$(errors)
pgctl stop -m fast || bad "the PostgreSQL server does not stop"
echo $((D15 + 300)) > "$WORK/at.new" && mv "$WORK/at.new" "$WORK/at"
sleep 3
assert_eq "1 $D15 4" "$(($(errors) - e0)) $(api "/api/overview" | jq -r '"\(.now) \(.total)"')" \
	"server stopped: said once in 3 s, the last overview kept"
assert_eq 500 "$(ip netns exec "$R" curl -s -o /dev/null -w '%{http_code}' "$URL/api/overview?host=node3")" \
	"server stopped: new filters, 500"
sleep 1
assert_eq 2 "$(($(errors) - e0))" "... said once more"
pg_start || bad "the PostgreSQL server does not start again"
for _ in $(seq 90); do
	[ "$(api "/api/overview?per_page=1" | jq .now)" = $((D15 + 300)) ] && break
	sleep 1
done
assert_eq "$((D15 + 300)) 4 2" "$(api "/api/overview" | jq -r '"\(.now) \(.total)"') $(($(errors) - e0))" \
	"server back: the overview made again within 90 s, nothing more said"
serve_stop
finish
