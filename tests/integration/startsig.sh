#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Signals during run's start-up (config, targets, lock, replay and first
# apply take a while at 30,000 addresses) wait for its loop instead of
# killing it: SIGHUP, sent again and again, and `nftally apply` (which
# hands over with SIGHUP) give a start and then a full resync; SIGTERM a
# stop with its last report, exit 0.  Counts stay exact throughout.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
{
	echo "vm-v4 198.18.2.2"
	echo "vm-v6 2001:db8:2::2"
	many_targets 20000 10000
} > "$T"
nftally_r apply 2> "$WORK/apply.err" || bad "apply: $(cat "$WORK/apply.err")"
# Without the apply's record a run's start lists the table (hundreds of
# milliseconds here): long enough for signals during it.  With the record
# it would be over before the second SIGHUP.
rm "$WORK/state/nftally.applied" || bad "apply left no record"

# A run in the background, without waiting for its start; returns once it
# holds the table's lock (the PID in TABLE.lock): well into its start-up.
launch() { # OUTFILE
	ip netns exec "$R" "$NFTALLY" -c "$WORK/nftally.conf" run > "$1" 2> "$1.err" &
	RUN=$!; PIDS="$PIDS $RUN"
	for _ in $(seq 1000); do
		[ "$(head -n 1 "$WORK/state/nftally.lock" 2>/dev/null)" = "$RUN" ] && return 0
		kill -0 "$RUN" 2>/dev/null || break
		sleep 0.01
	done
	bad "run did not take its lock: $(cat "$1.err")"
}

# Run CMD... again and again until the run's start event (at most 30 s);
# prints how many times CMD ran before it.
until_start() { # OUTFILE CMD...
	local out=$1 n=0; shift
	for _ in $(seq 600); do
		grep -q '"event":"start"' "$out" && break
		kill -0 "$RUN" 2>/dev/null || break
		"$@" && n=$((n + 1))
		sleep 0.05
	done
	echo "$n"
}

wait_for() { # FILE JQ-FILTER: until a line matches (at most 30 s)
	for _ in $(seq 300); do
		[ -n "$(jq -c "$2" "$1" 2>/dev/null)" ] && return 0
		kill -0 "$RUN" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# Events in order, one word each: start, reloaded, ...
events() { jq -r 'select(.event) | .event' "$1" | tr '\n' ' '; }

# 1. SIGTERM during start-up: a clean stop after the start, with the last
#    report (the first of this state: everything since the apply).
send "$C" 198.18.2.2 100 11 198.18.1.2
send "$S" 2001:db8:1::2 300 5 2001:db8:2::2
launch "$WORK/run1.json"
kill -TERM "$RUN"
n=$(until_start "$WORK/run1.json" true)
wait "$RUN"; rc=$?
PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
assert_eq 0 "$rc" "SIGTERM during start-up: exit code"
assert_eq "start " "$(events "$WORK/run1.json")" "SIGTERM during start-up: events"
assert_eq $((11 * 128)) "$(sum_field "$WORK/run1.json" 198.18.2.2 in_bytes)" "SIGTERM: last report, IPv4 in"
assert_eq 11 "$(sum_field "$WORK/run1.json" 198.18.2.2 in_packets)" "SIGTERM: last report, IPv4 in packets"
assert_eq $((5 * 348)) "$(sum_field "$WORK/run1.json" 2001:db8:2::2 out_bytes)" "SIGTERM: last report, IPv6 out"

# 2. SIGHUP again and again during start-up: the run lives, starts, then
#    resyncs once for them all (or twice if the last came after the start).
send "$C" 198.18.2.2 100 7 198.18.1.2
launch "$WORK/run2.json"
n=$(until_start "$WORK/run2.json" kill -HUP "$RUN")
[ "$n" -ge 2 ] && ok "$n SIGHUPs during start-up" || bad "only $n SIGHUPs during start-up"
wait_for "$WORK/run2.json" 'select(.event == "reloaded")' || bad "no reloaded event"
kill -0 "$RUN" 2>/dev/null && ok "run survived SIGHUP during start-up" || bad "run died: $(cat "$WORK/run2.json.err")"
assert_eq "start reloaded" "$(events "$WORK/run2.json" | awk '{print $1, $2}')" "SIGHUP: start, then reloaded"
assert_eq 1 "$(jq -r 'select(.event == "reloaded") | .message' "$WORK/run2.json" | head -n 1 |
	grep -c '(SIGHUP): 30002 addresses (0 new, 0 removed)')" "SIGHUP: a full resync"
send "$S" 2001:db8:1::2 300 4 2001:db8:2::2
sleep 2.2
stop_run; assert_eq 0 $? "SIGHUP case: exit code"
assert_eq $((7 * 128)) "$(sum_field "$WORK/run2.json" 198.18.2.2 in_bytes)" "SIGHUP: IPv4 in"
assert_eq $((4 * 348)) "$(sum_field "$WORK/run2.json" 2001:db8:2::2 out_bytes)" "SIGHUP: IPv6 out"
assert_eq 4 "$(sum_field "$WORK/run2.json" 2001:db8:2::2 out_packets)" "SIGHUP: IPv6 out packets"

# 3. `nftally apply` during start-up hands over (SIGHUP) to the run.
send "$C" 198.18.2.2 100 3 198.18.1.2
launch "$WORK/run3.json"
n=$(until_start "$WORK/run3.json" eval 'nftally_r apply 2>> "$WORK/apply3.err"')
[ "$n" -ge 1 ] && ok "$n applies during start-up" || bad "no apply during start-up"
assert_eq "$n" "$(grep -c "was asked to apply it" "$WORK/apply3.err")" "every apply handed over"
wait_for "$WORK/run3.json" 'select(.event == "reloaded")' || bad "no reloaded event"
kill -0 "$RUN" 2>/dev/null && ok "run survived apply during start-up" || bad "run died: $(cat "$WORK/run3.json.err")"
assert_eq "start reloaded" "$(events "$WORK/run3.json" | awk '{print $1, $2}')" "apply: start, then reloaded"
send "$C" 198.18.2.2 100 2 198.18.1.2
sleep 2.2
stop_run; assert_eq 0 $? "apply case: exit code"
assert_eq $((5 * 128)) "$(sum_field "$WORK/run3.json" 198.18.2.2 in_bytes)" "apply: IPv4 in"
assert_eq 5 "$(sum_field "$WORK/run3.json" 198.18.2.2 in_packets)" "apply: IPv4 in packets"
assert_eq 0 "$(sum_field "$WORK/run3.json" 2001:db8:2::2 out_bytes)" "apply: IPv6 out"
finish
