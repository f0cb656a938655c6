#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Map elements edited by hand (issue 12, defect 3): an element pointed at
# another address's counter, with or without its own counter deleted, an
# element for an address that is no target, an element deleted.  A full
# resync (SIGHUP, a repair, `nftally apply` without a run) mends them in
# one pass, says so in an `element_repaired` event, a second resync changes
# nothing, and traffic after the repair is billed exactly to its address.
# Host maps and interval maps, in and out, IPv4 and IPv6, inet and bridge.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
printf 'a 198.18.4.1\nb 198.18.4.2\npa 2001:db8:4::/127\npb 2001:db8:4::2/127\n' > "$T"
A_IN=in4_c6120401 A_OUT=out4_c6120401 B_IN=in4_c6120402 B_OUT=out4_c6120402
PA_IN=in6_20010db8000400000000000000000000_127
PB_IN=in6_20010db8000400000000000000000002_127

RIGHT4="198.18.4.1 $A_IN
198.18.4.2 $B_IN"
RIGHT4OUT="198.18.4.1 $A_OUT
198.18.4.2 $B_OUT"
RIGHT6NET="2001:db8:4::/127 $PA_IN
2001:db8:4::2/127 $PB_IN"

check_right() { # WHEN
	assert_eq "$RIGHT4" "$(map_elems in4)" "$1: in4 elements"
	assert_eq "$RIGHT4OUT" "$(map_elems out4)" "$1: out4 elements"
	assert_eq "$RIGHT6NET" "$(map_elems in6net)" "$1: in6net elements"
}

# Wait until FILE holds N events of type EVENT (at most 10 s).
wait_events() { # FILE EVENT N
	for _ in $(seq 100); do
		[ "$(grep -c "\"event\":\"$2\"" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	bad "fewer than $3 $2 events in $1"
	return 1
}

nft_r() { inns "$R" nft "$@"; }

# ---- 1. run, SIGHUP: elements pointed at another address's counter ----
out="$WORK/run1.json"
start_run "$out"
send "$C" 198.18.4.1 100 3 198.18.1.2      # A in: 3 x 128
send "$C" 198.18.4.2 100 5 198.18.1.2      # B in: 5 x 128
send "$C" 2001:db8:4::1 52 4 2001:db8:1::2 # PA in: 4 x 100
sleep 1.2
nft_r delete element inet nftally in4 '{ 198.18.4.1 }'
nft_r add element inet nftally in4 "{ 198.18.4.1 : \"$B_IN\" }"
nft_r delete element inet nftally out4 '{ 198.18.4.1 }'
nft_r add element inet nftally out4 "{ 198.18.4.1 : \"$B_OUT\" }"
nft_r delete element inet nftally in6net '{ 2001:db8:4::/127 }'
nft_r add element inet nftally in6net "{ 2001:db8:4::/127 : \"$PB_IN\" }"
# While the elements point at B's and PB's counters, the traffic of A and
# PA is counted there (docs/design.md, Known limits).
send "$C" 198.18.4.1 100 2 198.18.1.2      # counted as B in: 2 x 128
send "$S" 198.18.1.2 200 4 198.18.4.1      # counted as B out: 4 x 228
send "$C" 2001:db8:4::1 52 1 2001:db8:1::2 # counted as PB in: 1 x 100
kill -HUP "$RUN"
wait_events "$out" reloaded 1
assert_eq 0 "$(count_events "$out" targets_rejected)" "SIGHUP: no targets_rejected"
assert_eq 3 "$(count_events "$out" element_repaired)" "SIGHUP: element_repaired events"
assert_eq "198.18.4.1 198.18.4.1 2001:db8:4::/127" \
	"$(jq -r 'select(.event == "element_repaired") | .event_addr' "$out" | sort | xargs)" \
	"element_repaired names A and PA"
jq -r 'select(.event == "element_repaired") | .message' "$out" | grep -q "map in4 .*pointed at counter $B_IN;" &&
	ok "the event names the map and the wrong counter" || bad "event message: $(grep element_repaired "$out")"
check_right "after SIGHUP"
BEFORE=$(nft_r list table inet nftally)
kill -HUP "$RUN"
wait_events "$out" reloaded 2
assert_eq 0 "$(count_events "$out" targets_rejected)" "second SIGHUP: no targets_rejected"
assert_eq 3 "$(count_events "$out" element_repaired)" "second SIGHUP: nothing to repair"
assert_eq "$BEFORE" "$(nft_r list table inet nftally)" "second SIGHUP changes nothing"
send "$C" 198.18.4.1 100 7 198.18.1.2      # A in: 7 x 128
send "$C" 198.18.4.2 100 11 198.18.1.2     # B in: 11 x 128
send "$S" 198.18.1.2 200 2 198.18.4.1      # A out: 2 x 228
send "$S" 198.18.1.2 200 3 198.18.4.2      # B out: 3 x 228
send "$C" 2001:db8:4::1 52 6 2001:db8:1::2 # PA in: 6 x 100
send "$C" 2001:db8:4::3 52 2 2001:db8:1::2 # PB in: 2 x 100
sleep 1.2
stop_run; assert_eq 0 $? "run 1 exits 0"
assert_totals "run 1" "$out" <<EOF
198.18.4.1 in_bytes $((10 * 128))
198.18.4.1 in_packets 10
198.18.4.1 out_bytes $((2 * 228))
198.18.4.1 out_packets 2
198.18.4.2 in_bytes $((18 * 128))
198.18.4.2 in_packets 18
198.18.4.2 out_bytes $((7 * 228))
198.18.4.2 out_packets 7
2001:db8:4::/127 in_bytes 1000
2001:db8:4::/127 in_packets 10
2001:db8:4::2/127 in_bytes 300
2001:db8:4::2/127 in_packets 3
EOF

# ---- 2. run, repair: A re-pointed, then its counter deleted ----
out="$WORK/run2.json"
start_run "$out"
send "$C" 198.18.4.1 100 3 198.18.1.2      # A in: 3 x 128, reported before the deletion
send "$C" 198.18.4.2 100 1 198.18.1.2      # B in: 1 x 128
for _ in $(seq 50); do
	[ "$(sum_field "$out" 198.18.4.1 in_packets)" = 3 ] && break
	sleep 0.1
done
nft_r delete element inet nftally in4 '{ 198.18.4.1 }'
nft_r add element inet nftally in4 "{ 198.18.4.1 : \"$B_IN\" }"
nft_r delete counter inet nftally "$A_IN" || bad "A's counter could not be deleted"
wait_events "$out" reloaded 1
assert_eq 1 "$(count_events "$out" counter_missing)" "repair: counter_missing"
assert_eq 0 "$(count_events "$out" targets_rejected)" "repair: no targets_rejected"
jq -r 'select(.event == "reloaded") | .message' "$out" | grep -q '(repair)' &&
	ok "the repair reloaded" || bad "no reloaded (repair)"
assert_eq "198.18.4.1 in4 $B_IN" \
	"$(jq -r 'select(.event == "element_repaired") | "\(.event_addr) \(.message)"' "$out" |
	   sed -E 's/^([^ ]*) .* map ([a-z0-9]+) .*pointed at counter ([a-z0-9_]+);.*/\1 \2 \3/')" \
	"repair: element_repaired names A, in4 and B's counter"
check_right "after the repair"
nft_r list counter inet nftally "$A_IN" >/dev/null 2>&1 && ok "A's counter is back" || bad "A's counter missing"
send "$C" 198.18.4.1 100 7 198.18.1.2      # A in: 7 x 128
send "$C" 198.18.4.2 100 5 198.18.1.2      # B in: 5 x 128
sleep 1.2
BEFORE=$(nft_r list table inet nftally)
kill -HUP "$RUN"
wait_events "$out" reloaded 2
assert_eq 0 "$(count_events "$out" targets_rejected)" "SIGHUP after the repair: no targets_rejected"
assert_eq 1 "$(count_events "$out" element_repaired)" "SIGHUP after the repair: nothing to repair"
assert_eq "$BEFORE" "$(nft_r list table inet nftally)" "SIGHUP after the repair changes nothing"
stop_run; assert_eq 0 $? "run 2 exits 0"
assert_eq $((10 * 128)) "$(sum_field "$out" 198.18.4.1 in_bytes)" "run 2: A in_bytes"
assert_eq 10 "$(sum_field "$out" 198.18.4.1 in_packets)" "run 2: A in_packets"
assert_eq $((6 * 128)) "$(sum_field "$out" 198.18.4.2 in_bytes)" "run 2: B in_bytes"
assert_eq 6 "$(sum_field "$out" 198.18.4.2 in_packets)" "run 2: B in_packets"

# ---- 3. apply without a run ----
# Counter values as "IN_BYTES IN_PACKETS OUT_BYTES OUT_PACKETS" from dump.
dumped() { nftally_r dump | jq -r --arg a "$1" 'select(.addr == $a) |
	"\(.in_bytes) \(.in_packets) \(.out_bytes) \(.out_packets)"'; }
nft_r delete element inet nftally in4 '{ 198.18.4.2 }'
nft_r add element inet nftally in4 "{ 198.18.4.2 : \"$A_IN\" }"
nft_r delete element inet nftally in4 '{ 198.18.4.1 }' # deleted by hand
nft_r delete element inet nftally in6net '{ 2001:db8:4::2/127 }'
nft_r add element inet nftally in6net "{ 2001:db8:4::2/127 : \"$PA_IN\" }"
nft_r add element inet nftally out4 "{ 198.18.4.9 : \"$B_OUT\" }" # no target
nft_r add element inet nftally in6net "{ 2001:db8:4::10-2001:db8:4::12 : \"$PB_IN\" }" # no target
nftally_r apply 2> "$WORK/apply.err"
assert_eq 0 $? "apply exits 0"
grep -q "element of 198.18.4.2 in map in4 of table inet nftally pointed at counter $A_IN;" "$WORK/apply.err" &&
	ok "apply names B's element" || bad "apply: $(cat "$WORK/apply.err")"
grep -q "element of 2001:db8:4::2/127 in map in6net of table inet nftally pointed at counter $PA_IN;" "$WORK/apply.err" &&
	ok "apply names PB's element" || bad "apply: $(cat "$WORK/apply.err")"
grep -q "map out4 of table inet nftally had an element 198.18.4.9, which is not a target, pointing at counter $B_OUT; it was deleted" "$WORK/apply.err" &&
	ok "apply names the stray host element" || bad "apply: $(cat "$WORK/apply.err")"
grep -q "map in6net of table inet nftally had an element 2001:db8:4::10, which is not a target, pointing at counter $PB_IN; it was deleted" "$WORK/apply.err" &&
	ok "apply names the stray interval element" || bad "apply: $(cat "$WORK/apply.err")"
check_right "after apply"
BEFORE=$(nft_r list table inet nftally)
nftally_r apply 2> "$WORK/apply2.err"
assert_eq 0 $? "second apply exits 0"
grep -q "element" "$WORK/apply2.err" && bad "second apply repaired: $(cat "$WORK/apply2.err")" ||
	ok "second apply: nothing to repair"
assert_eq "$BEFORE" "$(nft_r list table inet nftally)" "second apply changes nothing"
A0=$(dumped 198.18.4.1) B0=$(dumped 198.18.4.2)
send "$C" 198.18.4.1 100 4 198.18.1.2
send "$C" 198.18.4.2 100 9 198.18.1.2
send "$S" 198.18.1.2 200 1 198.18.4.1
set -- $A0; assert_eq "$(($1 + 4 * 128)) $(($2 + 4)) $(($3 + 228)) $(($4 + 1))" \
	"$(dumped 198.18.4.1)" "after apply: A billed exactly"
set -- $B0; assert_eq "$(($1 + 9 * 128)) $(($2 + 9)) $3 $4" \
	"$(dumped 198.18.4.2)" "after apply: B billed exactly"

# apply without a run, A's counter deleted after its element was re-pointed
nft_r delete element inet nftally in4 '{ 198.18.4.1 }'
nft_r add element inet nftally in4 "{ 198.18.4.1 : \"$B_IN\" }"
nft_r delete counter inet nftally "$A_IN" || bad "A's counter could not be deleted"
nftally_r apply 2> "$WORK/apply3.err"
assert_eq 0 $? "apply after a deleted counter exits 0"
grep -q "element of 198.18.4.1 in map in4 .* pointed at counter $B_IN;" "$WORK/apply3.err" &&
	ok "apply names A's element" || bad "apply: $(cat "$WORK/apply3.err")"
check_right "after apply with a deleted counter"
send "$C" 198.18.4.1 100 2 198.18.1.2
assert_eq "$((2 * 128)) 2" "$(dumped 198.18.4.1 | cut -d' ' -f1,2)" "recreated counter counts A exactly"

# ---- 4. the bridge template's table (same maps, family bridge) ----
sed -e 's/^table = .*/table = nftbr/' -e 's|^state_dir = .*|state_dir = '"$WORK"'/statebr|' \
	"$WORK/nftally.conf" > "$WORK/br.conf"
echo "template = bridge" >> "$WORK/br.conf"
inns "$R" "$NFTALLY" -c "$WORK/br.conf" apply 2>/dev/null || bad "bridge apply"
nft_r delete element bridge nftbr in4 '{ 198.18.4.1 }'
nft_r add element bridge nftbr in4 "{ 198.18.4.1 : \"$B_IN\" }"
inns "$R" "$NFTALLY" -c "$WORK/br.conf" apply 2> "$WORK/br.err"
assert_eq 0 $? "bridge: apply exits 0"
grep -q "element of 198.18.4.1 in map in4 of table bridge nftbr pointed at counter $B_IN;" "$WORK/br.err" &&
	ok "bridge: apply names A's element" || bad "bridge: $(cat "$WORK/br.err")"
assert_eq "$RIGHT4" "$(map_elems in4 nftbr bridge)" "bridge: in4 elements"
finish
