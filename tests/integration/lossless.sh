#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Nothing lost, nothing twice: steady traffic while the targets file churns,
# kill -9 and restarts, someone's `nft flush ruleset`, a counter recreated
# behind nftally's back, and a damaged state file.  Every byte sent is in
# the sum of the deltas nftally printed, exactly, or an event says why not.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
base_targets() {
	printf '%s\n' "steady-a 198.18.2.2" "steady-b 2001:db8:2::2" "$@"
}
base_targets "gone-c 198.18.4.1" "net 2001:db8:4::/64" > "$T"

bg_send() { # NS DST PAYLOAD COUNT SRC GAP_US
	inns "$1" "$UDPSEND" "$2" 9999 "$3" "$4" "$5" "$6" & SENDERS="$SENDERS $!"
}

# --- 1. the targets file changes many times under steady traffic ---
start_run "$WORK/r1.json"
SENDERS=""
bg_send "$C" 198.18.2.2 100 400 198.18.1.2 5000
bg_send "$S" 2001:db8:1::2 200 400 2001:db8:2::2 5000
bg_send "$C" 198.18.4.1 50 100 198.18.1.2 2000
GONE_PID=${SENDERS##* }
for i in $(seq 8); do
	extra=""
	[ $((i % 2)) = 0 ] && extra="extra-$i 198.18.5.$i"
	label=steady-a; [ $((i % 3)) = 0 ] && label=relabelled-a
	if [ "$i" -le 4 ]; then
		{ printf '%s\n' "$label 198.18.2.2" "steady-b 2001:db8:2::2" "gone-c 198.18.4.1"
		  [ -n "$extra" ] && echo "$extra"; } > "$T.new"
	else
		wait "$GONE_PID" # gone-c leaves after its traffic ended
		{ printf '%s\n' "$label 198.18.2.2" "steady-b 2001:db8:2::2"
		  [ -n "$extra" ] && echo "$extra"; } > "$T.new"
	fi
	if [ $((i % 2)) = 0 ]; then mv "$T.new" "$T"; else cat "$T.new" > "$T"; rm "$T.new"; fi
	sleep 0.3
done
wait $SENDERS
sleep 1.2
stop_run; assert_eq 0 $? "run exit code"
RELOADS=$(grep -c '"event":"reloaded"' "$WORK/r1.json")
# Edits closer together than a reload takes are applied together.
[ "$RELOADS" -ge 4 ] && ok "$RELOADS reloads under traffic" || bad "only $RELOADS reloads"
assert_eq 0 "$(grep -c targets_rejected "$WORK/r1.json")" "no reload rejected"
assert_eq $((400 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/r1.json")" "steady IPv4 target, in"
assert_eq 400 "$(total 198.18.2.2 in_packets "$WORK/r1.json")" "steady IPv4 target, in packets"
assert_eq $((400 * 248)) "$(total 2001:db8:2::2 out_bytes "$WORK/r1.json")" "steady IPv6 target, out"
assert_eq $((100 * 78)) "$(total 198.18.4.1 in_bytes "$WORK/r1.json")" "removed target's last bytes reported"
assert_eq "gone-c" "$(jq -r 'select(.addr == "198.18.4.1") | .label' "$WORK/r1.json" | sort -u)" \
	"removed target keeps its label"
assert_eq "" "$(inns "$R" nft list counters table inet nftally | grep c6120401)" "removed target's counters deleted"
assert_eq 500 "$(rx_packets "$S" rx4)" "server received every packet"
assert_eq 400 "$(rx_packets "$C" rx6)" "client received every packet"

# --- 2. kill -9 in the middle of traffic, restart: totals exact ---
base_targets > "$T"
start_run "$WORK/r2.json"
SENDERS=""
bg_send "$C" 198.18.2.2 100 600 198.18.1.2 5000
bg_send "$S" 2001:db8:1::2 300 600 2001:db8:2::2 5000
sleep 1.1
kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
sleep 0.7 # the kernel counts on while nftally is down
start_run "$WORK/r3.json"
wait $SENDERS
sleep 1.2
stop_run; assert_eq 0 $? "restarted run exit code"
assert_eq $((600 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/r2.json" "$WORK/r3.json")" \
	"kill -9: IPv4 bytes exact across the restart"
assert_eq $((600 * 348)) "$(total 2001:db8:2::2 out_bytes "$WORK/r2.json" "$WORK/r3.json")" \
	"kill -9: IPv6 bytes exact across the restart"
assert_eq 600 "$(total 2001:db8:2::2 out_packets "$WORK/r2.json" "$WORK/r3.json")" \
	"kill -9: IPv6 packets exact across the restart"

# --- 3. a clean stop, traffic while stopped, restart ---
send "$C" 198.18.2.2 100 7 198.18.1.2
start_run "$WORK/r4.json"
sleep 1.2
stop_run
assert_eq $((7 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/r4.json")" "traffic while stopped reported after restart"

# --- 3b. an address that leaves reports its last bytes with the next
#     report (its counter stays until then, no longer counting); one that
#     no report had yet is also listed in TABLE.draining.  Killed before
#     that report, the restart drains both: once, exactly ---
base_targets "gone-d 198.18.4.1" > "$T"
start_run "$WORK/r4b.json" --interval 4
send "$C" 198.18.4.1 50 5 198.18.1.2
for _ in $(seq 80); do grep -q '"addr":"198.18.4.1"' "$WORK/r4b.json" && break; sleep 0.1; done
# right after a report: the next is 4 s away (room for two reloads under ASan)
base_targets "gone-d 198.18.4.1" "late-e 198.18.4.2" > "$T"
wait_event "$WORK/r4b.json" reloaded 1
send "$C" 198.18.4.1 50 3 198.18.1.2
send "$C" 198.18.4.2 60 4 198.18.1.2
base_targets > "$T"
wait_event "$WORK/r4b.json" reloaded 2
assert_eq "1 0" "$(grep -c '"addr":"198.18.4.1"' "$WORK/r4b.json") $(grep -c '"addr":"198.18.4.2"' "$WORK/r4b.json")" \
	"removed addresses have no report of their own at the reload"
assert_eq "198.18.4.1 198.18.4.2" "$(awk '$1 == "entry" { print $2 }' "$WORK/state/nftally.draining" | xargs)" \
	"nftally.draining lists what waits, since one of them no report had"
kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
start_run "$WORK/r4c.json"
sleep 1.2
stop_run
assert_eq $((8 * 78)) "$(total 198.18.4.1 in_bytes "$WORK/r4b.json" "$WORK/r4c.json")" \
	"killed while it drained: its bytes exact across the restart"
assert_eq $((4 * 88)) "$(total 198.18.4.2 in_bytes "$WORK/r4c.json")" \
	"killed while it drained, never reported: its bytes after the restart"
assert_eq "gone-d late-e" "$(jq -r 'select(.addr == "198.18.4.1" or .addr == "198.18.4.2") | .label' \
	"$WORK/r4c.json" | xargs)" "their last lines after the restart have their labels"
assert_eq "" "$(inns "$R" nft list counters table inet nftally | grep -E 'c6120401|c6120402')" \
	"their counters deleted after their last lines"
[ ! -e "$WORK/state/nftally.draining" ] && ok "nftally.draining gone after the drain" ||
	bad "nftally.draining left after the drain"

# --- 3c. a waiting address that is back in the targets file when the run
#     restarts counts on from its counter, next to a drain of another ---
base_targets "x-f 198.18.4.1" > "$T"
start_run "$WORK/r4d.json" --interval 4
send "$C" 198.18.4.1 50 5 198.18.1.2
for _ in $(seq 80); do grep -q '"addr":"198.18.4.1"' "$WORK/r4d.json" && break; sleep 0.1; done
base_targets "x-f 198.18.4.1" "late-g 198.18.4.2" > "$T"
wait_event "$WORK/r4d.json" reloaded 1
send "$C" 198.18.4.2 60 4 198.18.1.2
base_targets "x-f 198.18.4.1" > "$T"
wait_event "$WORK/r4d.json" reloaded 2
kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
base_targets "late-g 198.18.4.2" > "$T" # back, while x-f leaves
start_run "$WORK/r4e.json"
send "$C" 198.18.4.2 60 2 198.18.1.2
sleep 1.2
stop_run
start_run "$WORK/r4f.json"
stop_run
assert_eq 0 "$(cat "$WORK/r4d.json" "$WORK/r4e.json" "$WORK/r4f.json" | grep -c state_damaged)" \
	"no state damaged by an address both back and waiting"
assert_eq $((6 * 88)) "$(total 198.18.4.2 in_bytes "$WORK/r4d.json" "$WORK/r4e.json" "$WORK/r4f.json")" \
	"the address that came back: exact across the restart"
assert_eq $((5 * 78)) "$(total 198.18.4.1 in_bytes "$WORK/r4d.json" "$WORK/r4e.json" "$WORK/r4f.json")" \
	"the address that left while the run was down: exact"

# --- 4. someone flushes the ruleset ---
start_run "$WORK/r5.json"
send "$C" 198.18.2.2 100 20 198.18.1.2
sleep 1.3 # reported before the flush
inns "$R" nft flush ruleset
wait_event "$WORK/r5.json" table_reinstalled 1 || bad "table not reinstalled"
assert_eq 1 "$(grep -c '"event":"table_missing"' "$WORK/r5.json")" "table_missing event"
jq -r 'select(.event == "table_missing") | .message' "$WORK/r5.json" | grep -q 'could not be counted' &&
	ok "the event names the window that could not be counted" || bad "table_missing message"
inns "$R" nft list table inet nftally >/dev/null && ok "table is back" || bad "table is not back"
send "$C" 198.18.2.2 100 9 198.18.1.2
sleep 1.2
stop_run
assert_eq $((29 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/r5.json")" "counts before and after the flush"

# --- 5. a counter recreated behind nftally's back ---
start_run "$WORK/r6.json"
send "$C" 198.18.2.2 100 30 198.18.1.2
sleep 1.3
# One transaction: nftally never sees the counter missing (that would be
# a repair), only another counter (a new handle, its value backwards).
recreate_counter in4 198.18.2.2 in4_c6120202
send "$C" 198.18.2.2 100 5 198.18.1.2
sleep 1.2
stop_run
assert_eq 1 "$(grep -c '"event":"counter_reset","event_addr":"198.18.2.2"' "$WORK/r6.json")" "counter_reset event"
assert_eq $((35 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/r6.json")" "counts across the recreated counter"

# --- 6. a damaged state file is kept aside, never trusted, never fatal ---
echo "garbage" > "$WORK/state/nftally.state"
send "$C" 198.18.2.2 100 3 198.18.1.2
start_run "$WORK/r7.json"
send "$C" 198.18.2.2 100 4 198.18.1.2
sleep 1.2
stop_run; assert_eq 0 $? "run with a damaged state exits 0"
assert_eq 1 "$(grep -c '"event":"state_damaged"' "$WORK/r7.json")" "state_damaged event"
assert_eq "garbage" "$(cat "$WORK/state/nftally.state.damaged")" "damaged file kept aside"
assert_eq $((4 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/r7.json")" \
	"after a damaged state, counting restarts from the current values"

# --- 6b. a report printed but not marked done (a crash between the two) is
# printed again on start, identically: same seq, same values ---
ST="$WORK/state/nftally.state"
SEQ=$(awk '$1 == "seq" { print $2 }' "$ST")
pending_after "$ST" > "$WORK/state/nftally.pending"
start_run "$WORK/r7b.json"
stop_run
assert_eq 1 "$(grep -c '"event":"replay"' "$WORK/r7b.json")" "replay event"
assert_eq "1280 10" "$(jq -r --argjson s $((SEQ + 1)) 'select(.seq == $s) | "\(.in_bytes) \(.in_packets)"' "$WORK/r7b.json")" \
	"the pending report is printed with its seq and values"
assert_eq "" "$(ls "$WORK/state" | grep pending)" "pending file consumed"

# --- 7. two runs on one table: the second is refused ---
start_run "$WORK/r8.json"
ip netns exec "$R" "$NFTALLY" -c "$WORK/nftally.conf" run > /dev/null 2> "$WORK/second.err"
assert_eq 1 $? "second run refused"
grep -q "another nftally run (pid $RUN) is accounting table inet nftally" "$WORK/second.err" &&
	ok "second run names the first" || bad "second run: $(cat "$WORK/second.err")"
# apply while the run is active hands the change to the run.
base_targets "late 198.18.4.2" > "$T"
nftally_r apply 2> "$WORK/apply.err"
assert_eq 0 $? "apply during a run"
grep -q "was asked to apply it" "$WORK/apply.err" && ok "apply hands over to the run" ||
	bad "apply: $(cat "$WORK/apply.err")"
wait_event "$WORK/r8.json" reloaded 1 || bad "the run did not reload"
nftally_r remove 2> "$WORK/remove.err"
assert_eq 1 $? "remove refused while a run holds the table"
grep -q "accounts table inet nftally; stop it first" "$WORK/remove.err" && ok "remove names the run" ||
	bad "remove: $(cat "$WORK/remove.err")"

# --- 8. hand edits are mended: rules by SIGHUP, counters by themselves ---
N_RULES=$(inns "$R" nft list chain inet nftally account_in | grep -c 'counter name')
inns "$R" nft flush chain inet nftally forward
inns "$R" nft flush chain inet nftally account_in
# Count SIGHUP reloads only: a file-change reload (incremental) may still
# be on its way from section 7.
N_HUP=$(grep -c '(SIGHUP)' "$WORK/r8.json")
kill -HUP "$RUN"
for _ in $(seq 60); do [ "$(grep -c '(SIGHUP)' "$WORK/r8.json")" -gt "$N_HUP" ] && break; sleep 0.1; done
assert_eq 2 "$(inns "$R" nft list chain inet nftally forward | grep -c 'jump account_')" \
	"SIGHUP rebuilt the rules deleted by hand"
[ "$N_RULES" -gt 0 ] || bad "account_in had no rules before the flush"
assert_eq "$N_RULES" "$(inns "$R" nft list chain inet nftally account_in | grep -c 'counter name')" \
	"SIGHUP rebuilt the accounting chain emptied by hand"
send "$C" 198.18.2.2 100 5 198.18.1.2
sleep 1.3
inns "$R" nft -f - <<'NFT'
delete element inet nftally in4 { 198.18.2.2 }
delete counter inet nftally in4_c6120202
NFT
for _ in $(seq 50); do grep -q '(repair)' "$WORK/r8.json" && break; sleep 0.1; done
assert_eq 1 "$(jq -r 'select(.event == "reloaded") | .message' "$WORK/r8.json" | grep -c '(repair)')" \
	"missing counter repaired by itself"
# More after the repair than the old counter held: a reset the new value
# alone could not reveal.
send "$C" 198.18.2.2 100 7 198.18.1.2
sleep 1.3
stop_run
assert_eq $((12 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/r8.json")" "counts around the repair"

# --- 9. remove after the table was flushed and installed again without the
# run: the run's state belongs to the old table; cumulative values ---
inns "$R" nft flush ruleset
nftally_r apply 2>/dev/null
send "$C" 198.18.2.2 100 6 198.18.1.2
nftally_r remove > "$WORK/remove.json"
assert_eq 1 "$(grep -c '"event":"state_stale"' "$WORK/remove.json")" "remove: stale state reported"
assert_eq "$((6 * 128)) null" "$(jq -r 'select(.addr == "198.18.2.2") | "\(.in_bytes) \(.seq)"' "$WORK/remove.json")" \
	"remove: cumulative values of the new table"
assert_eq "" "$(ls "$WORK/state" | grep -e '\.state$' -e '\.pending$')" "remove: stale state deleted"
finish
