#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Which kernel counter do the reported values belong to?  An address drained
# (its counters deleted) and added back counts from zero, exactly, also
# across a kill -9; a counter someone deletes and creates again is told by
# its kernel handle even when its new value has passed the old one; `nft
# reset counter` is still told by its values going backwards.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 4
T="$WORK/targets"

lines() { grep -c "\"addr\":\"$2\"" "$1"; } # FILE ADDR
# Wait (at most 12 s: three intervals) until FILE has N lines for ADDR.
wait_lines() { # FILE ADDR N
	for _ in $(seq 120); do
		[ "$(lines "$1" "$2")" -ge "$3" ] && return 0
		sleep 0.1
	done
	bad "no report with $2 (want $3 lines, have $(lines "$1" "$2"))"
	return 1
}
wait_event() { # FILE EVENT N
	for _ in $(seq 120); do
		[ "$(grep -c "\"event\":\"$2\"" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	bad "no $2 event (want $3)"
	return 1
}
# Wait until the table has no counter for the hex address HEX.
wait_deleted() { # HEX
	for _ in $(seq 120); do
		inns "$R" nft list counters table inet nftally | grep -q "$1" || return 0
		sleep 0.1
	done
	bad "counters of $1 not deleted"
	return 1
}
resets() { grep -c '"event":"counter_reset"' "$@" | awk -F: '{ s += $NF } END { print s + 0 }'; }
kill9() {
	kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
	PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
}

# --- (a) removed, drained by the next report (its counters deleted), added
#     back before the following report: the new counter counts from zero ---
printf '%s\n' "steady 198.18.2.2" "back 198.18.4.1" > "$T"
start_run "$WORK/a.json"
send "$C" 198.18.4.1 50 5 198.18.1.2
wait_lines "$WORK/a.json" 198.18.4.1 1
printf '%s\n' "steady 198.18.2.2" > "$T"
wait_event "$WORK/a.json" reloaded 1
wait_lines "$WORK/a.json" 198.18.4.1 2 # the drain report
wait_deleted c6120401
printf '%s\n' "steady 198.18.2.2" "back 198.18.4.1" > "$T"
wait_event "$WORK/a.json" reloaded 2
send "$C" 198.18.4.1 100 100 198.18.1.2
wait_lines "$WORK/a.json" 198.18.4.1 3
stop_run; assert_eq 0 $? "(a) run exit code"
assert_eq "$((5 * 78 + 100 * 128)) 105" \
	"$(total 198.18.4.1 in_bytes "$WORK/a.json") $(total 198.18.4.1 in_packets "$WORK/a.json")" \
	"(a) re-added address: bytes and packets exact"
assert_eq "$((100 * 128)) 100" \
	"$(jq -rs '[.[] | select(.addr == "198.18.4.1")] | .[2:] | "\(map(.in_bytes) | add) \(map(.in_packets) | add)"' "$WORK/a.json")" \
	"(a) its lines after the drain count its new counter from zero"
assert_eq 0 "$(resets "$WORK/a.json")" "(a) no counter_reset"

# --- (b) a writer that truncates the targets file, then writes it (two
#     opens: a reload sees the short file, a report drains the rest, then
#     the full file comes back, one address less, one more), under steady
#     traffic to the address that stays ---
printf '%s\n' "steady 198.18.2.2" "a 198.18.4.1" "b 198.18.4.2" "c 2001:db8:4::1" > "$T"
RX0=$(rx_packets "$S" rx4)
start_run "$WORK/b.json"
SENDERS=""
inns "$C" "$UDPSEND" 198.18.2.2 9999 100 300 198.18.1.2 30000 & SENDERS="$SENDERS $!"
send "$C" 198.18.4.1 50 10 198.18.1.2
send "$C" 198.18.4.2 60 10 198.18.1.2
send "$C" 2001:db8:4::1 70 10 2001:db8:1::2
wait_lines "$WORK/b.json" 2001:db8:4::1 1
printf '%s\n' "steady 198.18.2.2" > "$T" # truncated, the first line written
wait_event "$WORK/b.json" reloaded 1
wait_lines "$WORK/b.json" 2001:db8:4::1 2 # the drain report
wait_deleted c6120401
printf '%s\n' "a 198.18.4.1" "c 2001:db8:4::1" "d 2001:db8:4::2" >> "$T"
wait_event "$WORK/b.json" reloaded 2
send "$C" 198.18.4.1 50 20 198.18.1.2
send "$C" 2001:db8:4::1 70 20 2001:db8:1::2
send "$C" 2001:db8:4::2 80 20 2001:db8:1::2
wait $SENDERS
wait_lines "$WORK/b.json" 2001:db8:4::2 1
stop_run # its last report has the steady address's last datagrams
assert_eq $((300 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/b.json")" "(b) steady address exact"
assert_eq $((30 * 78)) "$(total 198.18.4.1 in_bytes "$WORK/b.json")" "(b) IPv4 address back: exact"
assert_eq 30 "$(total 198.18.4.1 in_packets "$WORK/b.json")" "(b) IPv4 address back: packets"
assert_eq $((30 * 118)) "$(total 2001:db8:4::1 in_bytes "$WORK/b.json")" "(b) IPv6 address back: exact"
assert_eq $((10 * 88)) "$(total 198.18.4.2 in_bytes "$WORK/b.json")" "(b) address that left: exact"
assert_eq $((20 * 128)) "$(total 2001:db8:4::2 in_bytes "$WORK/b.json")" "(b) new address: exact"
assert_eq 0 "$(resets "$WORK/b.json")" "(b) no counter_reset"
assert_eq $((RX0 + 300 + 30 + 10)) "$(rx_packets "$S" rx4)" "(b) the server received every IPv4 datagram"

# --- (c) someone deletes a counter and creates it again (one transaction:
#     never missing), and it passes its old value before the next report ---
printf '%s\n' "steady 198.18.2.2" "fresh 198.18.4.2" > "$T" # a new counter, small
start_run "$WORK/c.json"
send "$C" 198.18.4.2 100 10 198.18.1.2
wait_lines "$WORK/c.json" 198.18.4.2 1
recreate_counter in4 198.18.4.2 in4_c6120402
send "$C" 198.18.4.2 100 30 198.18.1.2
wait_lines "$WORK/c.json" 198.18.4.2 2
stop_run
assert_eq 1 "$(resets "$WORK/c.json")" "(c) one counter_reset"
assert_eq 1 "$(grep -c '"event":"counter_reset","event_addr":"198.18.4.2"' "$WORK/c.json")" \
	"(c) the counter_reset names the address"
jq -r 'select(.event == "counter_reset") | .message' "$WORK/c.json" | grep -q 'created again outside nftally' &&
	ok "(c) it says the counter was created again outside nftally" || bad "(c) counter_reset message"
assert_eq "$((40 * 128)) 40" \
	"$(total 198.18.4.2 in_bytes "$WORK/c.json") $(total 198.18.4.2 in_packets "$WORK/c.json")" \
	"(c) the recreated counter counts from zero, exactly"

# --- (c2) nft reset counter: the same counter going backwards ---
start_run "$WORK/c2.json"
send "$C" 198.18.2.2 100 10 198.18.1.2
wait_lines "$WORK/c2.json" 198.18.2.2 1
inns "$R" nft reset counter inet nftally in4_c6120202 > /dev/null
send "$C" 198.18.2.2 100 3 198.18.1.2
wait_lines "$WORK/c2.json" 198.18.2.2 2
stop_run
assert_eq 1 "$(grep -c '"event":"counter_reset","event_addr":"198.18.2.2"' "$WORK/c2.json")" \
	"(c2) nft reset counter: counter_reset"
assert_eq $((13 * 128)) "$(total 198.18.2.2 in_bytes "$WORK/c2.json")" "(c2) counts from the reset"

# --- (c3) someone deletes the in counter of an address (a repair follows);
#     its out counter stays and counts on from its reported value ---
printf '%s\n' "steady 198.18.2.2" "both 198.18.4.1" > "$T"
start_run "$WORK/c3.json"
send "$C" 198.18.4.1 50 10 198.18.1.2
send "$S" 198.18.1.2 60 10 198.18.4.1
wait_lines "$WORK/c3.json" 198.18.4.1 1
inns "$R" nft -f - <<'NFT'
delete element inet nftally in4 { 198.18.4.1 }
delete counter inet nftally in4_c6120401
NFT
for _ in $(seq 120); do grep -q '(repair)' "$WORK/c3.json" && break; sleep 0.1; done
send "$C" 198.18.4.1 50 20 198.18.1.2
send "$S" 198.18.1.2 60 5 198.18.4.1
wait_lines "$WORK/c3.json" 198.18.4.1 2
stop_run
assert_eq 1 "$(grep -c '"event":"counter_missing"' "$WORK/c3.json")" "(c3) counter_missing"
assert_eq $((30 * 78)) "$(total 198.18.4.1 in_bytes "$WORK/c3.json")" "(c3) the repaired in counter from zero"
assert_eq "$((15 * 88)) 15" \
	"$(total 198.18.4.1 out_bytes "$WORK/c3.json") $(total 198.18.4.1 out_packets "$WORK/c3.json")" \
	"(c3) the out counter that stayed: exact, nothing twice"
assert_eq 0 "$(resets "$WORK/c3.json")" "(c3) no counter_reset"

# --- (d) kill -9 right after the drain report deleted the counters, the
#     address back in the file, restart: exact ---
printf '%s\n' "steady 198.18.2.2" "back 198.18.4.1" > "$T"
start_run "$WORK/d1.json"
send "$C" 198.18.4.1 50 7 198.18.1.2
wait_lines "$WORK/d1.json" 198.18.4.1 1
printf '%s\n' "steady 198.18.2.2" > "$T"
wait_event "$WORK/d1.json" reloaded 1
wait_lines "$WORK/d1.json" 198.18.4.1 2 # the drain report
wait_deleted c6120401
kill9
grep -q '^entry 198.18.4.1 2 ' "$WORK/state/nftally.state" &&
	ok "(d) the state marks its last report" || bad "(d) state: $(grep 198.18.4.1 "$WORK/state/nftally.state")"
printf '%s\n' "steady 198.18.2.2" "back 198.18.4.1" > "$T"
start_run "$WORK/d2.json"
send "$C" 198.18.4.1 100 100 198.18.1.2
wait_lines "$WORK/d2.json" 198.18.4.1 1
stop_run
assert_eq "$((7 * 78 + 100 * 128)) 107" \
	"$(total 198.18.4.1 in_bytes "$WORK/d1.json" "$WORK/d2.json") $(total 198.18.4.1 in_packets "$WORK/d1.json" "$WORK/d2.json")" \
	"(d) kill -9 after the drain, re-added, restarted: exact"
assert_eq 0 "$(resets "$WORK/d1.json" "$WORK/d2.json")" "(d) no counter_reset"

# --- (e) remove after a run: its last report knows the re-added counter ---
printf '%s\n' "steady 198.18.2.2" "back 2001:db8:4::2" > "$T"
start_run "$WORK/e1.json"
send "$C" 2001:db8:4::2 50 4 2001:db8:1::2
wait_lines "$WORK/e1.json" 2001:db8:4::2 1
printf '%s\n' "steady 198.18.2.2" > "$T"
wait_event "$WORK/e1.json" reloaded 1
wait_lines "$WORK/e1.json" 2001:db8:4::2 2
wait_deleted 20010db8000400000000000000000002
kill9 # the state still has its last report
printf '%s\n' "steady 198.18.2.2" "back 2001:db8:4::2" > "$T"
nftally_r apply 2>/dev/null
send "$C" 2001:db8:4::2 100 50 2001:db8:1::2
nftally_r remove > "$WORK/e2.json"
assert_eq "$((50 * 148)) 50" \
	"$(jq -r 'select(.addr == "2001:db8:4::2") | "\(.in_bytes) \(.in_packets)"' "$WORK/e2.json")" \
	"(e) remove's last report: the re-added counter from zero"
assert_eq 0 "$(resets "$WORK/e1.json" "$WORK/e2.json")" "(e) no counter_reset"
finish
