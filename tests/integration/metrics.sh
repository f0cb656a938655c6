#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The metrics against other local users and greedy clients: the textfile is
# never written through a file or symlink someone prepared next to it (and
# says where each value was counted: host and netns), is
# published by nftally with mode 0644, and is refused in a world-writable
# directory without the sticky bit; /metrics keeps answering another
# address while one address holds 1,000 slow connections, slow or idle
# connections are closed in bounded time, and a text of many blocks is
# sent whole at once (loopback of the test namespace).
. "$(dirname "$0")/lib.sh"
need
for t in python3 curl; do
	command -v $t >/dev/null || skip_or_fail "metrics tests need $t"
done
SLOW="$(dirname "$0")/slowclients.py"
setup_topology
write_config 3600
echo "vm-a 198.18.2.2" > "$WORK/targets"
PORT=9663
listing() { (cd "$1" && ls -A | tr '\n' ' '); }

# --- 1. a file of another user at PATH.tmp is neither written nor published ---
mkdir -m 0755 "$WORK/a"
: > "$WORK/a/nftally.prom.tmp"
chown nobody "$WORK/a/nftally.prom.tmp"
chmod 0666 "$WORK/a/nftally.prom.tmp"
start_run "$WORK/r1.json" --prom-file "$WORK/a/nftally.prom"
assert_eq "0 644 regular file" "$(stat -c '%u %a %F' "$WORK/a/nftally.prom")" \
	"published file: owner, mode, type"
assert_eq 1 "$(grep -c '^# TYPE nftally_addresses gauge$' "$WORK/a/nftally.prom")" "published file has the text"
assert_eq "nobody 0" "$(stat -c '%U %s' "$WORK/a/nftally.prom.tmp")" "prepared PATH.tmp untouched"
# where it was counted: this host, the daemon's own namespace, no account
H=$(uname -n)
assert_eq "nftally_accounts{host=\"$H\"} 1" "$(grep '^nftally_accounts{' "$WORK/a/nftally.prom")" \
	"one account, labelled by host"
assert_eq "[true,0]" "$(jq -sc --arg h "$H" \
	'[length > 0, (map(select(.host != $h or .netns != "" or has("account"))) | length)]' \
	"$WORK/r1.json")" "every JSON line says host and netns, no account"
assert_eq "nftally.prom nftally.prom.tmp " "$(listing "$WORK/a")" "no temporary file left"
stop_run

# --- 2. a symlink at PATH.tmp in a sticky directory is not followed ---
mkdir -m 1777 "$WORK/b"
echo victim > "$WORK/victim"
chown nobody "$WORK/victim"
ln -s "$WORK/victim" "$WORK/b/nftally.prom.tmp"
start_run "$WORK/r2.json" --prom-file "$WORK/b/nftally.prom"
assert_eq victim "$(cat "$WORK/victim")" "symlink target unchanged"
assert_eq "symbolic link" "$(stat -c '%F' "$WORK/b/nftally.prom.tmp")" "symlink still there"
assert_eq "0 644 regular file" "$(stat -c '%u %a %F' "$WORK/b/nftally.prom")" \
	"published file in a sticky directory"
assert_eq 1 "$(grep -c '^# TYPE nftally_addresses gauge$' "$WORK/b/nftally.prom")" "its text"
# the addresses of the last report (r1's, on its way out), with their origin
assert_eq "nftally_bytes_total{host=\"$H\",netns=\"\",label=\"vm-a\",addr=\"198.18.2.2\",direction=\"in\"} 0" \
	"$(grep '^nftally_bytes_total{.*direction="in"}' "$WORK/b/nftally.prom")" "a series with its origin"
stop_run

# --- 3. a world-writable directory without the sticky bit is refused ---
mkdir "$WORK/c"
chmod 0777 "$WORK/c"
start_run "$WORK/r3.json" --prom-file "$WORK/c/nftally.prom"
MSG="$WORK/c/nftally.prom: not written: its directory $WORK/c is world-writable without the sticky bit (anyone could replace the file)"
assert_eq "$MSG" "$(jq -r 'select(.event == "error") | .message' "$WORK/r3.json")" "error event"
assert_eq 1 "$(grep -cF "$MSG" "$WORK/r3.json.err")" "the same on stderr"
assert_eq "" "$(listing "$WORK/c")" "nothing written there"
stop_run

# --- 4. /metrics under 1,000 slow connections from one address ---
start_run "$WORK/r4.json" --prom-file "$WORK/a/nftally.prom" --listen "127.0.0.1:$PORT"
inns "$R" python3 "$SLOW" flood 127.0.0.1 127.0.0.1 $PORT 1000 36 > "$WORK/flood.json" &
FLOOD=$!; PIDS="$PIDS $FLOOD"
inns "$R" python3 "$SLOW" idle 127.0.0.3 127.0.0.1 $PORT 12 > "$WORK/idle.out" &
IDLE=$!; PIDS="$PIDS $IDLE"
sleep 3
WANT=$(cat "$WORK/a/nftally.prom")
N=0
for _ in $(seq 8); do
	GOT=$(inns "$R" curl -sf --interface 127.0.0.2 --max-time 3 "http://127.0.0.1:$PORT/metrics")
	[ "$GOT" = "$WANT" ] && N=$((N + 1))
	sleep 0.5
done
assert_eq 8 "$N" "probes from 127.0.0.2 answered with the textfile's text during the flood"
wait "$IDLE"
T=$(cat "$WORK/idle.out")
assert_eq yes "$(awk -v t="$T" 'BEGIN { print (t >= 4.5 && t <= 7.5) ? "yes" : "no (" t " s)" }')" \
	"an idle connection is closed after 5 s"
wait "$FLOOD"
PIDS=$(echo "$PIDS" | sed "s/ $FLOOD//; s/ $IDLE//")
cat "$WORK/flood.json"
assert_eq true "$(jq '.opened >= 500 and .held >= 8' "$WORK/flood.json")" \
	"the flood opened connections and held some"
assert_eq 8 "$(jq .held "$WORK/flood.json")" "at most 8 connections held from one address"
assert_eq 0 "$(jq .open_at_end "$WORK/flood.json")" \
	"connections trickling a request closed within 36 s"
GOT=$(inns "$R" curl -sf --max-time 3 "http://127.0.0.1:$PORT/metrics")
assert_eq yes "$([ "$GOT" = "$WANT" ] && echo yes)" "/metrics after the flood"
stop_run
assert_eq 0 $? "run exits 0"

# --- 5. a /metrics text of many 64 KiB blocks, sent whole at once ---
# (2,000 targets, about 0.8 MB; the library sends a block per run, and
# its epoll descriptor does not wake the loop again for the next: once
# the text stopped after the first block until the idle cut, 5 s)
for i in $(seq 0 1999); do
	echo "vm-$i 198.18.$((4 + i / 250)).$((i % 250 + 1))"
done > "$WORK/targets"
start_run "$WORK/r5.json" --prom-file "$WORK/a/nftally.prom" --listen "127.0.0.1:$PORT"
WANT=$(cat "$WORK/a/nftally.prom")
assert_eq 2000 "$(grep -c '^nftally_bytes_total{.*label="vm-[0-9]*".*direction="in"' "$WORK/a/nftally.prom")" \
	"the text has the 2,000 targets"
N=0
for _ in $(seq 3); do
	GOT=$(inns "$R" curl -sf --max-time 3 "http://127.0.0.1:$PORT/metrics")
	[ "$GOT" = "$WANT" ] && N=$((N + 1))
done
assert_eq "3 yes" "$N $([ "${#WANT}" -gt $((8 * 65536)) ] && echo yes)" \
	"three scrapes of more than eight 64 KiB blocks, each whole within 3 s"
stop_run
assert_eq 0 $? "run exits 0"
finish
