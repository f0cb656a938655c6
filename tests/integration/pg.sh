#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The PostgreSQL sink against a real server this test starts itself
# (initdb and pg_ctl as the unprivileged postgres user, a unix socket in a
# temporary directory): per-address totals in nftally_usage equal what was
# sent, lost 0 and doubled 0, after the server is stopped during traffic
# and started again, after a kill -9 of nftally while the server is down,
# after its backend is killed in the middle of a batch's transaction,
# through the least-privilege roles of fleet.md, and with the local store
# locked by another writer.
. "$(dirname "$0")/lib.sh"
need
. "$(dirname "$0")/lib-pg.sh"
pg_start || { cat "$PGDIR/log"; skip_or_fail "the PostgreSQL server does not start"; }

setup_topology
write_config 1
# The password is never used (trust) and must never be shown.
cat >> "$WORK/nftally.conf" <<CONF
host = node1
postgresql = host=$PGDIR dbname=postgres user=postgres password=sekrit42
CONF
printf '%s\n' "a 198.18.4.1" "b 2001:db8:4::1" > "$WORK/targets"

# What was sent, per address (IPv4 28, IPv6 48 bytes of headers).
W4=0 P4=0 W6=0 P6=0
traffic() { # PAYLOAD COUNT
	send "$C" 198.18.4.1 "$1" "$2" 198.18.1.2
	send "$C" 2001:db8:4::1 "$1" "$2" 2001:db8:1::2
	W4=$((W4 + $2 * ($1 + 28))) P4=$((P4 + $2))
	W6=$((W6 + $2 * ($1 + 48))) P6=$((P6 + $2))
}
usage() { # ADDR
	sql "SELECT coalesce(sum(in_bytes), 0) || ' ' || coalesce(sum(in_packets), 0)
	     FROM nftally_usage WHERE host = 'node1' AND addr = '$1'" 2>/dev/null
}
# Wait (at most 20 s) until nftally_usage has what was sent, then assert.
check() { # WHAT
	local want4="$W4 $P4" want6="$W6 $P6"
	for _ in $(seq 200); do
		[ "$(usage 198.18.4.1)" = "$want4" ] && [ "$(usage 2001:db8:4::1)" = "$want6" ] && break
		sleep 0.1
	done
	[ "$(usage 198.18.4.1)" = "$want4" ] ||
		grep -h '"event":"error"' "$WORK"/*.json | tail -2 >&2
	assert_eq "$want4" "$(usage 198.18.4.1)" "$1: 198.18.4.1 in nftally_usage"
	assert_eq "$want6" "$(usage 2001:db8:4::1)" "$1: 2001:db8:4::1 in nftally_usage"
}
outbox() { sqlite3 "$WORK/state/pg-outbox.db" "SELECT count(*) FROM outbox" 2>/dev/null; }
kill9() {
	kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
}

# --- (a) known traffic: exact, and the schema as documented ---
start_run "$WORK/a.json"
traffic 100 10
check "(a) steady"
assert_eq 1 "$(sql 'SELECT max(version) FROM nftally_schema')" "(a) schema version"
assert_eq "p" "$(sql "SELECT relkind FROM pg_class WHERE relname = 'nftally_raw'")" \
	"(a) nftally_raw is partitioned"
assert_eq 1 "$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'nftally_raw'::regclass")" \
	"(a) one monthly partition"

# --- (b) the server stopped during traffic, started again ---
pgctl stop -m fast
traffic 200 20
sleep 2.5
traffic 300 5
sleep 1.5
[ "$(outbox)" -gt 0 ] && ok "(b) reports wait in the outbox ($(outbox))" ||
	bad "(b) no report waits in the outbox"
pg_start
check "(b) server stopped and started again"
wait_event "$WORK/a.json" pg_recovered 1 && ok "(b) pg_recovered event" ||
	bad "(b) no pg_recovered event: $(jq -r .event "$WORK/a.json" | sort | uniq -c | xargs)"

# --- (c) kill -9 of nftally while the server is down, restart ---
pgctl stop -m fast
traffic 150 30
sleep 2.5
kill9
traffic 50 7 # counted by the kernel, reported by the next run
pg_start
start_run "$WORK/c.json"
check "(c) kill -9 while the server was down"
stop_run; assert_eq 0 $? "(c) run exit code"

# --- (d) a backend killed in the middle of a batch: a lock holds the
#     batch's INSERT, and its backend is terminated while it waits ---
start_run "$WORK/d.json"
psql -h "$PGDIR" -U postgres -d postgres -XAtq -c \
	"BEGIN; LOCK TABLE nftally_raw IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(1.5); COMMIT;" \
	>/dev/null 2>&1 &
LOCKER=$!
traffic 120 11
killed=0
for _ in $(seq 30); do
	killed=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		      WHERE application_name = 'nftally' AND wait_event_type = 'Lock'")
	[ "$killed" -gt 0 ] && break
	sleep 0.05
done
wait "$LOCKER"
[ "$killed" -gt 0 ] && ok "(d) a backend was killed inside its batch" ||
	bad "(d) no backend was waiting inside a batch to kill"
check "(d) backend killed mid-transaction"
stop_run; assert_eq 0 $? "(d) run exit code"

# --- (e) the least-privilege roles of fleet.md: a node inserts through
#     them, reads nothing; billing reads ---
sql "CREATE ROLE nftally_node LOGIN; CREATE ROLE nftally_read LOGIN;
     GRANT USAGE ON SCHEMA public TO nftally_node, nftally_read;
     GRANT SELECT ON nftally_schema TO nftally_node;
     GRANT INSERT ON nftally_raw TO nftally_node;
     GRANT EXECUTE ON FUNCTION nftally_partition(timestamp) TO nftally_node;
     GRANT TEMPORARY ON DATABASE postgres TO nftally_node;
     GRANT SELECT ON nftally_raw, nftally_usage TO nftally_read;"
sql_as() { psql -h "$PGDIR" -U "$1" -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$2" 2>&1; }
sed -i "s/^postgresql = .*/& user=nftally_node/" "$WORK/nftally.conf"
start_run "$WORK/e.json"
traffic 90 13
check "(e) sent as the node role"
stop_run; assert_eq 0 $? "(e) run exit code"
sql_as nftally_node "SELECT nftally_partition('2031-01-01')" >/dev/null &&
	ok "(e) the node role makes a month's partition through nftally_partition" ||
	bad "(e) the node role cannot make a partition"
case $(sql_as nftally_node "SELECT count(*) FROM nftally_raw") in
*"permission denied"*) ok "(e) the node role reads nothing" ;;
*) bad "(e) the node role can read nftally_raw" ;;
esac
case $(sql_as nftally_node "CREATE TABLE x(i int)") in
*"permission denied"*) ok "(e) the node role creates no table" ;;
*) bad "(e) the node role can create a table" ;;
esac
assert_eq "$W4" "$(sql_as nftally_read "SELECT sum(in_bytes) FROM nftally_usage WHERE addr = '198.18.4.1'")" \
	"(e) the read role reads nftally_usage"

# --- (f) the local store locked by another writer: its reports wait in
#     its memory backlog, and PostgreSQL still gets each one, whole ---
DB="$WORK/state/nftally.db"
start_run "$WORK/f.json"
mkfifo "$WORK/lockin"
sqlite3 "$DB" < "$WORK/lockin" > /dev/null 2>&1 &
LOCKER=$!; PIDS="$PIDS $LOCKER"
exec 7> "$WORK/lockin"
echo "BEGIN EXCLUSIVE;" >&7
traffic 70 9
sleep 3
echo "COMMIT;" >&7; exec 7>&-
wait "$LOCKER"; PIDS=$(echo "$PIDS" | sed "s/ $LOCKER//")
grep -q "is not in the store yet" "$WORK/f.json" && ok "(f) reports waited for the store" ||
	bad "(f) no report waited for the store"
check "(f) the store locked"
stop_run; assert_eq 0 $? "(f) run exit code"
assert_eq 0 "$(sql "SELECT count(*) FROM nftally_raw WHERE host <> 'node1' OR seq = 0")" \
	"(f) no row without its origin"

# Lost 0, doubled 0 for the raw rows too: one row per report and address.
assert_eq 0 "$(sql "SELECT count(*) FROM (SELECT 1 FROM nftally_raw GROUP BY host, netns,
		    account, seq, time, addr, class HAVING count(*) > 1) d")" "no row twice"
assert_eq 0 "$(outbox)" "the outbox is empty at the end"
if grep -q sekrit42 "$WORK"/*.json "$WORK"/*.json.err; then
	bad "the password was shown"
else
	ok "the password is never shown"
fi
finish
