#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The PostgreSQL sink over TCP, through faults of the network and the
# server: the server (started by the test, lib-pg.sh) listens in its own
# namespace P, wired to the router R where nftally counts.  With known
# traffic, per-address totals in nftally_usage equal what was sent (lost
# 0, doubled 0) after (1) the path to the server cut by a drop rule and
# restored, with the run reporting on time all along, (2) two daemons
# with different `host` writing into one database at once, (3) TLS:
# sslmode=require, verify-full with the right CA, and a wrong CA (refused,
# the reports wait and arrive after the fix and a restart), then client
# certificates (pg_hba clientcert=verify-full for a node role: refused
# without one and with one of another name, accepted with the role's),
# (4) the server read-only for a while, (5) the path silent while a batch
# waits for the server's answer.
#
#   client C --- router R (nftally "nodeA") --- server S (nftally "nodeB" in (2))
#                    | p0 198.18.6.1
#                    | p1 198.18.6.2:5432
#                PostgreSQL namespace P
. "$(dirname "$0")/lib.sh"
need
command -v openssl >/dev/null || skip_or_fail "the TLS part needs openssl"
command -v sqlite3 >/dev/null || skip_or_fail "the outbox checks need sqlite3"
. "$(dirname "$0")/lib-pg.sh"

setup_topology
P="${PFX}p"
mkns "$P"
ip link add p0 netns "$R" type veth peer name p1 netns "$P"
inns "$R" ip addr add 198.18.6.1/24 dev p0
inns "$P" ip addr add 198.18.6.2/24 dev p1
inns "$R" ip link set p0 up
inns "$P" ip link set p1 up
inns "$P" ip route add default via 198.18.6.1
pin "$R" 198.18.6.2 "$(mac "$P" p1)" p0
pin "$P" 198.18.6.1 "$(mac "$R" p0)" p1

# The server's certificate, signed by a CA of the test's own; a second CA
# that signed nothing the server shows.
CERTS="$WORK/certs"
mkdir -p "$CERTS"
(
	cd "$CERTS" || exit 1
	for ca in ca wrongca; do
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=nftally test $ca" \
			-keyout $ca.key -out $ca.crt
	done
	openssl req -newkey rsa:2048 -nodes -subj "/CN=pgserver" -keyout server.key -out server.csr
	printf 'subjectAltName = DNS:pgserver\n' > ext
	openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-extfile ext -out server.crt
	# client certificates of the CA: the role's name, and another name
	for cn in nftally_cert someone_else; do
		openssl req -newkey rsa:2048 -nodes -subj "/CN=$cn" -keyout $cn.key -out $cn.csr
		openssl x509 -req -in $cn.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-out $cn.crt
	done
	chmod 0600 ./*.key # libpq refuses a client key others may read
) >/dev/null 2>&1 || bad "openssl made no certificates"
install -o postgres -m 0600 "$CERTS/server.key" "$PGDIR/data/server.key"
install -o postgres -m 0644 "$CERTS/server.crt" "$PGDIR/data/server.crt"
install -o postgres -m 0644 "$CERTS/ca.crt" "$PGDIR/data/root.crt"
cat >> "$PGDIR/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_ca_file = 'root.crt'
CONF
# The role nftally_cert only over TLS with a client certificate of the CA
# whose name is the role's (part 3); everyone else as before.
cat >> "$PGDIR/data/pg_hba.conf" <<HBA
hostssl all nftally_cert 198.18.0.0/15 trust clientcert=verify-full
host all nftally_cert 198.18.0.0/15 reject
host all all 198.18.0.0/15 trust
HBA
PG_NS=$P PG_LISTEN=198.18.6.2 pg_start ||
	{ cat "$PGDIR/log"; skip_or_fail "the PostgreSQL server does not start"; }

TCP="host=pgserver hostaddr=198.18.6.2 port=5432 user=postgres"
write_config 1
cat >> "$WORK/nftally.conf" <<CONF
host = nodeA
postgresql = $TCP dbname=postgres sslmode=disable
CONF
printf '%s\n' "a 198.18.4.1" "b 2001:db8:4::1" > "$WORK/targets"

# What was sent, per address (IPv4 28, IPv6 48 bytes of headers): W/P
# for 198.18.4.1 and 2001:db8:4::1 (nodeA's), X/Q for 198.18.4.2 and
# 2001:db8:4::2 (nodeB's, part 2).
W4=0 P4=0 W6=0 P6=0 X4=0 Q4=0 X6=0 Q6=0
traffic() { # PAYLOAD COUNT
	send "$C" 198.18.4.1 "$1" "$2" 198.18.1.2
	send "$C" 2001:db8:4::1 "$1" "$2" 2001:db8:1::2
	W4=$((W4 + $2 * ($1 + 28))) P4=$((P4 + $2))
	W6=$((W6 + $2 * ($1 + 48))) P6=$((P6 + $2))
}
traffic_b() { # PAYLOAD COUNT
	send "$C" 198.18.4.2 "$1" "$2" 198.18.1.2
	send "$C" 2001:db8:4::2 "$1" "$2" 2001:db8:1::2
	X4=$((X4 + $2 * ($1 + 28))) Q4=$((Q4 + $2))
	X6=$((X6 + $2 * ($1 + 48))) Q6=$((Q6 + $2))
}
usage() { # HOST ADDR
	sql "SELECT coalesce(sum(in_bytes), 0) || ' ' || coalesce(sum(in_packets), 0)
	     FROM nftally_usage WHERE host = '$1' AND addr = '$2'" 2>/dev/null
}
# Wait (at most 30 s: a retry may be 16 s away) until nftally_usage has
# WANT for every HOST ADDR WANT... given, then assert each.
check() { # WHAT [HOST ADDR "BYTES PACKETS"]...
	local what=$1 all=0 j
	shift
	local a=("$@")
	for _ in $(seq 300); do
		all=1
		for ((j = 0; j < ${#a[@]}; j += 3)); do
			[ "$(usage "${a[j]}" "${a[j+1]}")" = "${a[j+2]}" ] || { all=0; break; }
		done
		[ $all = 1 ] && break
		sleep 0.1
	done
	[ $all = 1 ] || grep -h '"event":"error"' "$WORK"/*.json | tail -2 >&2
	for ((j = 0; j < ${#a[@]}; j += 3)); do
		assert_eq "${a[j+2]}" "$(usage "${a[j]}" "${a[j+1]}")" \
			"$what: ${a[j]} ${a[j+1]} in nftally_usage"
	done
}
check_a() { # WHAT
	check "$1" nodeA 198.18.4.1 "$W4 $P4" nodeA 2001:db8:4::1 "$W6 $P6"
}
outbox() { sqlite3 "$WORK/${1:-state}/pg-outbox.db" "SELECT count(*) FROM outbox" 2>/dev/null; }
events() { jq -r 'select(.event) | .event' "$1" | sort | uniq -c | xargs; }
# Is event EVENT in FILE after line FROM?  (wait_event counts the whole file.)
event_after() { # FILE FROM EVENT
	for _ in $(seq 300); do
		tail -n +"$(($2 + 1))" "$1" | grep -q "\"event\":\"$3\"" && return 0
		sleep 0.1
	done
	return 1
}
lines() { wc -l < "$1"; }
# Cut the path to the server: a drop rule in P (a table of the test's own,
# deleted to restore it).
cut_path() {
	inns "$P" nft -f - <<'NFT'
table inet pgcut {
	chain in { type filter hook input priority 0; policy accept; tcp dport 5432 drop; }
	chain out { type filter hook output priority 0; policy accept; tcp sport 5432 drop; }
}
NFT
}
set_pg() { # CONNINFO: nodeA's postgresql line
	sed -i "s|^postgresql = .*|postgresql = $1|" "$WORK/nftally.conf"
}

# --- (1) the path to the server cut by a drop rule in P (a table of the
#     test's own) while traffic flows, then restored ---
start_run "$WORK/a.json"
traffic 100 10
check_a "(1) before the cut"

# When each report (a new seq) arrives, seen from outside: a bash loop
# reads the JSON lines as they come (bounded: 60 s).
( exec 8< "$WORK/a.json"; last="" buf=""
  for _ in $(seq 1200); do
	while IFS= read -r l <&8 || { buf="$buf$l"; false; }; do
		l="$buf$l" buf=""
		[[ $l =~ \"seq\":([0-9]+) ]] || continue
		s=${BASH_REMATCH[1]}
		[ "$s" = "$last" ] && continue
		last=$s
		echo "${EPOCHREALTIME/./} $s"
	done
	sleep 0.05
  done ) > "$WORK/arrivals" &
WATCH=$!; PIDS="$PIDS $WATCH"
sleep 2
from=$(lines "$WORK/a.json")
cut0=${EPOCHREALTIME/./}
cut_path
for _ in $(seq 16); do
	traffic 60 1
	sleep 0.5
done
[ "$(outbox)" -gt 0 ] && ok "(1) reports wait in the outbox during the cut ($(outbox))" ||
	bad "(1) no report waits in the outbox during the cut"
inns "$P" nft delete table inet pgcut
cut1=${EPOCHREALTIME/./}
traffic 80 3
check_a "(1) path cut and restored"
event_after "$WORK/a.json" "$from" error && ok "(1) an error event for the cut" ||
	bad "(1) no error event for the cut: $(events "$WORK/a.json")"
event_after "$WORK/a.json" "$from" pg_recovered && ok "(1) pg_recovered after the cut" ||
	bad "(1) no pg_recovered after the cut: $(events "$WORK/a.json")"
kill "$WATCH"; wait "$WATCH" 2>/dev/null; PIDS=$(echo "$PIDS" | sed "s/ $WATCH//")
# The longest time between two reports' arrival from a second before the
# cut to its end: the interval (1 s) plus how long the loop was held, at
# most about 2 s (connect_timeout, tcp_user_timeout; fleet.md), plus the
# machine's noise.
gap=$(awk -v a=$((cut0 - 1000000)) -v b="$cut1" '
	$1 >= a && $1 <= b { if (p) { g = ($1 - p) / 1000; if (g > m) m = g } p = $1 }
	END { printf "%d", m }' "$WORK/arrivals")
n=$(awk -v a="$cut0" -v b="$cut1" '$1 >= a && $1 <= b' "$WORK/arrivals" | wc -l)
[ "$n" -ge 4 ] && ok "(1) $n reports on the JSON lines during the cut" ||
	bad "(1) only $n reports on the JSON lines during the cut"
[ "$gap" -le 3500 ] && ok "(1) reports kept coming during the cut (longest gap $gap ms)" ||
	bad "(1) the loop was held: $gap ms between two reports during the cut ($(awk -v a="$cut0" '{ printf "%d:%d ", ($1 - a) / 1000, $2 }' "$WORK/arrivals"))"
stop_run; assert_eq 0 $? "(1) run exit code"

# --- (4) the server read-only for a while: the reports wait, then go ---
start_run "$WORK/ro.json"
traffic 110 4
check_a "(4) before read-only"
sql "ALTER SYSTEM SET default_transaction_read_only = on" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
traffic 130 12
sleep 3
traffic 70 5
sleep 1.5
[ "$(outbox)" -gt 0 ] && ok "(4) reports wait in the outbox while read-only ($(outbox))" ||
	bad "(4) no report waits in the outbox while read-only"
assert_eq "$((W4 - 12 * 158 - 5 * 98))" "$(usage nodeA 198.18.4.1 | cut -d' ' -f1)" \
	"(4) nothing written while read-only"
wait_event "$WORK/ro.json" error 1 &&
	grep '"event":"error"' "$WORK/ro.json" | grep -q "read-only" &&
	ok "(4) an error event names the read-only transaction" ||
	bad "(4) no error event for read-only: $(grep '"event":"error"' "$WORK/ro.json")"
PGOPTIONS="-c default_transaction_read_only=off" \
	sql "ALTER SYSTEM RESET default_transaction_read_only" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
check_a "(4) writable again"
wait_event "$WORK/ro.json" pg_recovered 1 && ok "(4) pg_recovered" ||
	bad "(4) no pg_recovered: $(events "$WORK/ro.json")"
stop_run; assert_eq 0 $? "(4) run exit code"

# --- (5) the path goes silent while a batch waits for the server's
#     answer (its request sent and acknowledged): a lock held by another
#     session keeps the batch's INSERT waiting, then the path is cut; the
#     server's answer (the statement timeout's error) never arrives, and
#     only the keepalives (2 s idle, then 2 probes 1 s apart) tell nftally
#     the connection is dead.  The batch stays in the outbox and arrives
#     once after the path is back. ---
start_run "$WORK/silent.json"
traffic 90 3
check_a "(5) before the silence"
sql "BEGIN; LOCK TABLE nftally_raw IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT" \
	>/dev/null 2>&1 &
LOCKER=$!; PIDS="$PIDS $LOCKER"
sleep 0.3
traffic 120 7
waiting=0
for _ in $(seq 100); do
	waiting=$(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'nftally'
		       AND wait_event_type = 'Lock'")
	[ "$waiting" -ge 1 ] && break
	sleep 0.05
done
assert_eq 1 "$waiting" "(5) a batch waits for the lock (its request is on the server)"
from=$(lines "$WORK/silent.json")
cut0=${EPOCHREALTIME/./}
cut_path
if event_after "$WORK/silent.json" "$from" error; then
	held=$(( (${EPOCHREALTIME/./} - cut0) / 1000 ))
	ok "(5) an error event after the path went silent ($held ms after the cut)"
	[ "$held" -le 8000 ] && ok "(5) noticed within 8 s" ||
		bad "(5) the silent path was noticed only after $held ms"
else
	bad "(5) no error event for the silent path: $(events "$WORK/silent.json")"
fi
traffic 60 2
[ "$(outbox)" -gt 0 ] && ok "(5) the batch waits in the outbox ($(outbox))" ||
	bad "(5) nothing waits in the outbox after the silent path"
wait "$LOCKER" 2>/dev/null; PIDS=$(echo "$PIDS" | sed "s/ $LOCKER//")
inns "$P" nft delete table inet pgcut
check_a "(5) path back"
stop_run; assert_eq 0 $? "(5) run exit code"

# --- (2) two daemons, nodeA in R and nodeB in S, each with its own
#     state_dir and targets, into one new database at once (they also
#     make its schema together) ---
sql "CREATE DATABASE fleet" >/dev/null
inns "$S" nft delete table inet sink
add_sink "$S" 30 # S drops after nftally's chain in S counted
printf '%s\n' "c 198.18.4.2" "d 2001:db8:4::2" > "$WORK/targetsB"
sed -e "s|^targets = .*|targets = $WORK/targetsB|" -e "s|^state_dir = .*|state_dir = $WORK/stateB|" \
	-e "s|^host = .*|host = nodeB|" -e "s|dbname=postgres|dbname=fleet|" \
	"$WORK/nftally.conf" > "$WORK/b.conf"
set_pg "$TCP dbname=fleet sslmode=disable"
ip netns exec "$S" "$NFTALLY" -c "$WORK/b.conf" run > "$WORK/b.json" 2> "$WORK/b.json.err" &
RUNB=$!; PIDS="$PIDS $RUNB"
start_run "$WORK/two.json"
RUNA=$RUN
RUN=$RUNB; wait_started "$WORK/b.json"; RUN=$RUNA
# Saved, then zeroed: this database starts empty.
W4=0 P4=0 W6=0 P6=0
for i in 1 2 3 4 5 6; do
	traffic $((40 + i)) $((3 + i))
	traffic_b $((90 + i)) $((2 * i))
	sleep 0.4
done
PG_DB=fleet check "(2) two hosts at once" \
	nodeA 198.18.4.1 "$W4 $P4" nodeA 2001:db8:4::1 "$W6 $P6" \
	nodeB 198.18.4.2 "$X4 $Q4" nodeB 2001:db8:4::2 "$X6 $Q6"
assert_eq "nodeA 198.18.4.1
nodeA 2001:db8:4::1
nodeB 198.18.4.2
nodeB 2001:db8:4::2" "$(PG_DB=fleet sql "SELECT DISTINCT host || ' ' || addr FROM nftally_usage ORDER BY 1")" \
	"(2) no row of one host counted for the other"
assert_eq 0 "$(PG_DB=fleet sql "SELECT count(*) FROM (SELECT 1 FROM nftally_raw GROUP BY host, netns,
		    account, seq, time, addr, class HAVING count(*) > 1) d")" "(2) no row twice"
assert_eq 1 "$(PG_DB=fleet sql "SELECT count(*) FROM nftally_schema")" "(2) the schema made once"
kill -TERM "$RUNB"; wait "$RUNB"; assert_eq 0 $? "(2) nodeB exit code"
PIDS=$(echo "$PIDS" | sed "s/ $RUNB//")
stop_run; assert_eq 0 $? "(2) nodeA exit code"
grep -q '"event":"error"' "$WORK/two.json" "$WORK/b.json" &&
	bad "(2) an error: $(grep -h '"event":"error"' "$WORK/two.json" "$WORK/b.json" | head -2)" ||
	ok "(2) no error event"

# --- (3) TLS, back in the first database ---
# A session of nodeA's over TLS, seen by the server.
tls_seen() {
	sql "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
	     WHERE a.application_name = 'nftally' AND s.ssl" 2>/dev/null
}
W4=$(usage nodeA 198.18.4.1 | cut -d' ' -f1) P4=$(usage nodeA 198.18.4.1 | cut -d' ' -f2)
W6=$(usage nodeA 2001:db8:4::1 | cut -d' ' -f1) P6=$(usage nodeA 2001:db8:4::1 | cut -d' ' -f2)
set_pg "$TCP dbname=postgres sslmode=require"
start_run "$WORK/tls1.json"
traffic 120 6
check_a "(3) sslmode=require"
assert_eq 1 "$(tls_seen)" "(3) sslmode=require: nftally's session uses TLS"
stop_run; assert_eq 0 $? "(3) require: run exit code"

set_pg "$TCP dbname=postgres sslmode=verify-full sslrootcert=$CERTS/ca.crt"
start_run "$WORK/tls2.json"
traffic 121 7
check_a "(3) sslmode=verify-full, the right CA"
assert_eq 1 "$(tls_seen)" "(3) verify-full: nftally's session uses TLS"
stop_run; assert_eq 0 $? "(3) verify-full: run exit code"

set_pg "$TCP dbname=postgres sslmode=verify-full sslrootcert=$CERTS/wrongca.crt"
start_run "$WORK/tls3.json"
traffic 122 8
sleep 2.5
wait_event "$WORK/tls3.json" error 1 &&
	grep '"event":"error"' "$WORK/tls3.json" | grep -q "certificate" &&
	ok "(3) a wrong CA: refused, an error event names the certificate" ||
	bad "(3) a wrong CA: no error event on the certificate: $(grep '"event":"error"' "$WORK/tls3.json")"
[ "$(outbox)" -gt 0 ] && ok "(3) a wrong CA: reports wait in the outbox ($(outbox))" ||
	bad "(3) a wrong CA: no report waits in the outbox"
assert_eq "$((W4 - 8 * 150))" "$(usage nodeA 198.18.4.1 | cut -d' ' -f1)" \
	"(3) a wrong CA: nothing sent"
stop_run; assert_eq 0 $? "(3) wrong CA: run exit code"
traffic 123 2 # counted by the kernel, reported by the next run
set_pg "$TCP dbname=postgres sslmode=verify-full sslrootcert=$CERTS/ca.crt"
start_run "$WORK/tls4.json"
check_a "(3) the CA fixed, nftally restarted"
stop_run; assert_eq 0 $? "(3) fixed: run exit code"

# Client certificates: the server requires one of its CA, whose name is
# the role's (pg_hba: clientcert=verify-full); the role has fleet.md's
# node grants only.
sql "CREATE ROLE nftally_cert LOGIN;
     GRANT SELECT ON nftally_schema TO nftally_cert;
     GRANT INSERT ON nftally_raw TO nftally_cert;
     GRANT EXECUTE ON FUNCTION nftally_partition(timestamp) TO nftally_cert;
     GRANT TEMPORARY ON DATABASE postgres TO nftally_cert;" >/dev/null
CERT="host=pgserver hostaddr=198.18.6.2 port=5432 user=nftally_cert dbname=postgres"
CERT="$CERT sslmode=verify-full sslrootcert=$CERTS/ca.crt"
# nftally_cert's TLS session, by the name on its client certificate
cert_seen() {
	sql "SELECT string_agg(coalesce(s.client_dn, '-'), ' ') FROM pg_stat_ssl s
	     JOIN pg_stat_activity a USING (pid)
	     WHERE a.application_name = 'nftally' AND a.usename = 'nftally_cert' AND s.ssl" \
		2>/dev/null
}
# A refused run: its error event names the cause, its reports wait, and
# none arrives (UNSENT: the bytes of 198.18.4.1 waiting since the first).
UNSENT=0
refused() { # FILE WHAT GREP PAYLOAD COUNT
	start_run "$1"
	traffic "$4" "$5"
	UNSENT=$((UNSENT + $5 * ($4 + 28)))
	sleep 2.5
	wait_event "$1" error 1 && grep '"event":"error"' "$1" | grep -q "$3" &&
		ok "(3) $2: refused, the error event says '$3'" ||
		bad "(3) $2: no error event with '$3': $(grep '"event":"error"' "$1" | head -2)"
	[ "$(outbox)" -gt 0 ] && ok "(3) $2: reports wait in the outbox ($(outbox))" ||
		bad "(3) $2: no report waits in the outbox"
	assert_eq "$((W4 - UNSENT))" "$(usage nodeA 198.18.4.1 | cut -d' ' -f1)" \
		"(3) $2: nothing sent"
	stop_run; assert_eq 0 $? "(3) $2: run exit code"
}
set_pg "$CERT"
refused "$WORK/cert1.json" "no client certificate" "requires a valid client certificate" 124 3
set_pg "$CERT sslcert=$CERTS/someone_else.crt sslkey=$CERTS/someone_else.key"
refused "$WORK/cert2.json" "a client certificate of another name" \
	"authentication failed for user" 125 4
# (the server's log says why: the name, not the CA)
grep -q 'certificate validation (clientcert=verify-full) failed for user "nftally_cert"' \
	"$PGDIR/log" && ok "(3) a client certificate of another name: refused for its name" ||
	bad "(3) a client certificate of another name: the server's log gives no reason"
traffic 126 5 # counted by the kernel, reported by the next run
set_pg "$CERT sslcert=$CERTS/nftally_cert.crt sslkey=$CERTS/nftally_cert.key"
start_run "$WORK/cert3.json"
traffic 127 6
check_a "(3) the role's client certificate: every report waiting arrives"
assert_eq "/CN=nftally_cert" "$(cert_seen)" \
	"(3) the session is nftally_cert's, by its client certificate"
stop_run; assert_eq 0 $? "(3) client certificate: run exit code"
grep -q '"event":"error"' "$WORK/cert3.json" &&
	bad "(3) client certificate: an error: $(grep '"event":"error"' "$WORK/cert3.json" | head -1)" ||
	ok "(3) client certificate: no error event"

assert_eq 0 "$(sql "SELECT count(*) FROM (SELECT 1 FROM nftally_raw GROUP BY host, netns,
		    account, seq, time, addr, class HAVING count(*) > 1) d")" "no row twice"
assert_eq 0 "$(outbox)" "the outbox is empty at the end"
assert_eq 0 "$(outbox stateB)" "nodeB's outbox is empty at the end"
finish
