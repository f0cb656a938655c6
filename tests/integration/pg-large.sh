#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One report of 250,000 busy addresses into a real PostgreSQL server: it
# is sent in batches of at most 10,000 rows (a report is split across
# batches, each row once), so no statement runs into the 2 s bound; a
# kill -9 in the middle of the sending and a restart send the rest, and
# nftally_usage ends with exactly one packet and its bytes per address:
# lost 0 and doubled 0, per address.
. "$(dirname "$0")/lib.sh"
need
. "$(dirname "$0")/lib-pg.sh"
pg_start || { cat "$PGDIR/log"; skip_or_fail "the PostgreSQL server does not start"; }

N=250000
# glibc's MALLOC_PERTURB_ (meson test sets it) fills every freed chunk;
# writing 250,000 JSON lines, each growing a small buffer into a large
# free chunk beside it, then fills megabytes a line, and the report takes
# minutes instead of a second.  What is tested here is the sending.
unset MALLOC_PERTURB_
START_WAIT=900 # a start replays and records what a kill -9 left: 250,000 rows
setup_topology
write_config 20
cat >> "$WORK/nftally.conf" <<CONF
host = big
postgresql = host=$PGDIR dbname=postgres user=postgres
CONF
# 2001:db8:3::0:1 to ::3:d090, routed by the router to the server's side,
# whose own addresses they are (its sink counts and drops them).
awk -v n=$N 'BEGIN { for (i = 1; i <= n; i++) printf "v6-%d 2001:db8:3::%x:%x\n", i, int(i / 65536), i % 65536 }' \
	> "$WORK/targets"
inns "$R" ip -6 route add 2001:db8:3::/64 via 2001:db8:2::2
inns "$S" ip -6 route add local 2001:db8:3::/64 dev lo

start_run "$WORK/a.json" || finish
# Reports are at multiples of the interval since the epoch: send just
# after one, so that one report holds all 250,000 addresses.
sleep $((20 - $(date +%s) % 20)).3
# One datagram of 52 bytes of payload (100 at layer 3) to each address,
# paced so that no queue on the way drops one.
inns "$C" python3 - "$N" <<'PY'
import socket, sys, time
n = int(sys.argv[1])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("2001:db8:1::2", 0))
payload = b"x" * 52
for i in range(1, n + 1):
    s.sendto(payload, ("2001:db8:3::%x:%x" % (i >> 16, i & 0xffff), 9999))
    if i % 200 == 0:
        time.sleep(0.002)
PY
assert_eq $N "$(rx_packets "$S" rx6)" "datagrams the server's side received"

raw() { sql "SELECT count(*) FROM nftally_raw WHERE host = 'big'" 2>/dev/null || echo 0; }
# Wait for the sending to be under way (some batches in, not all), then
# kill -9 in the middle of it.
for _ in $(seq 600); do
	n=$(raw)
	[ "$n" -gt 0 ] && break
	sleep 0.1
done
kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
n=$(raw)
if [ "$n" -gt 0 ] && [ "$n" -lt $N ]; then
	ok "killed with $n of $N rows in nftally_raw"
else
	bad "the kill did not fall in the middle of the sending ($n of $N rows)"
fi
assert_eq 0 $((n % 10000)) "rows committed, modulo the batch size of 10,000"
# The report was split: the outbox kept the rows not committed yet, and
# maybe the last batch committed, if the kill came between the server's
# commit and the outbox's delete (it is sent again, and the rows' key on
# the server makes that harmless: checked below).
left=$(sqlite3 "$WORK/state/pg-outbox.db" "SELECT count(*) FROM outbox_rows")
if [ "$left" = $((N - n)) ] || [ "$left" = $((N - n + 10000)) ]; then
	ok "rows left in the outbox: $left ($n committed)"
else
	bad "rows left in the outbox: $left, want $((N - n)) or $((N - n + 10000))"
fi

start_run "$WORK/b.json" || finish
for _ in $(seq 900); do
	[ "$(raw)" -ge $N ] &&
		[ "$(sqlite3 "$WORK/state/pg-outbox.db" "SELECT count(*) FROM outbox_rows")" = 0 ] && break
	sleep 0.1
done
stop_run
assert_eq "$N $N $((N * 100)) 0" \
	"$(sql "SELECT count(*) || ' ' || sum(in_packets) || ' ' || sum(in_bytes) || ' ' ||
	        count(*) FILTER (WHERE in_packets <> 1 OR in_bytes <> 100)
	        FROM nftally_usage WHERE host = 'big' AND in_packets > 0")" \
	"addresses, packets and bytes in nftally_usage; addresses not exactly once"
assert_eq "$N" "$(sql "SELECT count(DISTINCT addr) FROM nftally_raw WHERE host = 'big'
	AND in_packets > 0")" "distinct busy addresses"
assert_eq 0 "$(cat "$WORK"/a.json "$WORK"/b.json | grep -c '"event":"error"')" "error events"
finish
