#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A running `nftally run`'s full resync (SIGHUP; `nftally apply` during a
# run sends one) at large sizes, measured from outside (not part of the test
# suite): for each size N, a fresh network namespace, N IPv6 addresses one
# per line, an `apply`, a run, then ROUNDS times each of: SIGHUP with
# nothing changed, and SIGHUP after one map element was deleted by hand
# (straight over netlink, not timed); the time from the signal to the run's `reloaded` line
# in its output.  Then START_ROUNDS times: the run stopped (SIGTERM, not
# timed), one element deleted by hand, a new run, timed from its launch to
# its `start` line (and its peak RSS and CPU time until then, ms/MB/s).
# The SIGHUP lines end with the run's peak RSS after them (its start right
# after the apply included).  Then `nft delete table` of the same table,
# timed, for scale.  Medians.  Needs root.
#   usage: bench/resync.sh SIZE...        e.g. bench/resync.sh 100000 1000000
#   ROUNDS (default 3; 0: no SIGHUP), START_ROUNDS (default ROUNDS),
#   START_TIMEOUT (seconds, default 3600: a start that takes longer is
#   killed and printed as >TIMEOUT), DELETE_TABLE_MAX (default 300000: nft
#   delete table lists the table first, quadratic; skipped above this size)
set -u
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bench/resync.sh SIZE..." >&2; exit 2; }
NFTALLY=${NFTALLY:-$PWD/build/nftally}
ROUNDS=${ROUNDS:-3} DELETE_TABLE_MAX=${DELETE_TABLE_MAX:-300000}
START_ROUNDS=${START_ROUNDS:-$ROUNDS} START_TIMEOUT=${START_TIMEOUT:-3600}
W=$(mktemp -d /tmp/nftally-resync.XXXXXX)
NS=nftally-resync-$$ PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait; ip netns del "$NS" 2>/dev/null; rm -rf "$W"' EXIT
printf 'state_dir = %s/state\nstore = off\ninterval = 3600\n' "$W" > "$W/b.conf"

# N IPv6 hosts in 2001:db8::/32, as bench/big.sh
targets() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "a%d 2001:db8:9::%x:%x\n", i, int(i / 65536) + 1, i % 65536 }' > "$2"
}

# Wait for the K-th "reloaded" line of run.json after a SIGHUP; prints ms.
hup() { # K [COMMAND TO RUN FIRST, not timed]
	local k=$1; shift
	[ $# -gt 0 ] && "$@"
	python3 - "$W/run.json" "$PID" "$k" <<'PY'
import os, signal, sys, time
path, pid, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.monotonic()
os.kill(pid, signal.SIGHUP)
while True:
    with open(path) as f:
        if f.read().count('"event":"reloaded"') >= k:
            break
    time.sleep(0.001)
print("%.0f" % ((time.monotonic() - t0) * 1000))
PY
}

# Delete one element of map SET by hand, straight over netlink: nft would
# first list the whole table into its cache (minutes at 1,000,000).
del_elem() { # SET IPV6
	ip netns exec "$NS" python3 - "$1" "$2" <<'PY'
import ipaddress, socket, struct, sys
def attr(t, v):
    a = struct.pack("HH", 4 + len(v), t) + v
    return a + b"\0" * (-len(a) % 4)
def msg(t, flags, seq, fam, body):
    b = struct.pack("BBH", fam, 0, socket.htons(10)) + body
    return struct.pack("IHHII", 16 + len(b), t, flags, seq, 0) + b
key = attr(0x8000 | 1, attr(1, ipaddress.IPv6Address(sys.argv[2]).packed))
elems = attr(0x8000 | 3, attr(0x8000 | 1, key))
body = attr(1, b"nftally\0") + attr(2, sys.argv[1].encode() + b"\0") + elems
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)
s.bind((0, 0))
s.send(msg(0x10, 1, 1, 0, b"") + msg(0x0a0e, 5, 2, 1, body) + msg(0x11, 1, 3, 0, b""))
r = s.recv(65536)
err = struct.unpack("i", r[16:20])[0]
sys.exit(0 if err == 0 else print("delete element:", err) or 1)
PY
}

# Launch a run in the background (PID), wait for its `start` line; MS gets
# the ms from the launch, or >TIMEOUT (the run is then killed).
start_run() {
	: > "$W/run.json"
	local t0=$EPOCHREALTIME
	ip netns exec "$NS" "$NFTALLY" -c "$W/b.conf" -t "$t" run > "$W/run.json" \
		2> "${ERRLOG:-$W/err}" &
	PID=$!
	while ! grep -q '"event":"start"' "$W/run.json"; do
		if ! kill -0 "$PID" 2>/dev/null; then
			wait "$PID"; PID= MS=died
			return
		fi
		if [ "$(echo "$EPOCHREALTIME - $t0 > $START_TIMEOUT" | bc -l)" = 1 ]; then
			kill -KILL "$PID" 2>/dev/null; wait "$PID"; PID=
			MS=">${START_TIMEOUT}000"
			return
		fi
		sleep 0.01
	done
	MS=$(echo "($EPOCHREALTIME - $t0) * 1000" | bc -l | xargs printf '%.0f')
	# the peak RSS so far (ip netns exec became nftally), and its CPU
	# time (user + system: the kernel's work on its requests included)
	MS="$MS/$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$PID/status")MB"
	MS="$MS/$(awk -v hz="$(getconf CLK_TCK)" '{ printf "%.1f", ($14 + $15) / hz }' \
		"/proc/$PID/stat")s"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-34s %8s %10s\n' what N median_ms
for n in "$@"; do
	t="$W/t$n"
	targets "$n" "$t"
	ip netns del "$NS" 2>/dev/null; ip netns add "$NS"; rm -rf "$W/state"
	ip netns exec "$NS" "$NFTALLY" -c "$W/b.conf" -t "$t" apply 2> /dev/null ||
		{ echo "apply failed at $n" >&2; exit 1; }
	start_run; first=$MS
	k=0 same=() one=() st=()
	for _ in $(seq "$ROUNDS"); do
		k=$((k + 1)); same+=("$(hup $k)")
	done
	for i in $(seq "$ROUNDS"); do
		k=$((k + 1))
		one+=("$(hup $k del_elem in6 "2001:db8:9::1:$(printf %x "$i")")")
	done
	hupmb=$(awk '/VmHWM/ { print int($2 / 1024) }' "/proc/$PID/status")
	# and as the run timed itself, from reading the targets file on
	mapfile -t inside < <(jq -r 'select(.event == "reloaded") | .message' "$W/run.json" |
		sed -E 's/.* in ([0-9.]+) ms$/\1/')
	[ "$ROUNDS" -gt 0 ] && printf '%-34s %8s %10s   (%s; inside %s)\n' \
		"SIGHUP, nothing changed" "$n" \
		"$(printf '%s\n' "${same[@]}" | median)" "${same[*]}" "${inside[*]:0:ROUNDS}"
	[ "$ROUNDS" -gt 0 ] && printf '%-34s %8s %10s   (%s; inside %s; peak %s MB)\n' \
		"SIGHUP, one element deleted" "$n" \
		"$(printf '%s\n' "${one[@]}" | median)" "${one[*]}" "${inside[*]:ROUNDS}" "$hupmb"
	for i in $(seq "$START_ROUNDS"); do
		[ -n "$PID" ] && { kill -TERM "$PID"; wait "$PID"; PID=; }
		del_elem in6 "2001:db8:9::1:$(printf %x $((100 + i)))"
		start_run; st+=("$MS")
	done
	[ "$START_ROUNDS" -gt 0 ] && printf '%-34s %8s %10s   (%s; first start %s)\n' \
		"run start, one element deleted" "$n" \
		"$(printf '%s\n' "${st[@]}" | sed 's/>//; s|/.*||' | median)" "${st[*]}" "$first"
	[ -n "$PID" ] && { kill -TERM "$PID"; wait "$PID"; PID=; }
	if [ "$n" -le "$DELETE_TABLE_MAX" ]; then
		t0=$EPOCHREALTIME
		ip netns exec "$NS" nft delete table inet nftally
		printf '%-34s %8s %10.0f\n' "nft delete table" "$n" \
			"$(echo "($EPOCHREALTIME - $t0) * 1000" | bc -l)"
	fi
	ip netns del "$NS"
done
