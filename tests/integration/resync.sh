#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A run's full resync (SIGHUP) trusts what it installed while the ruleset
# generation has not moved since its own last change: then the table is left
# exactly as it is (not even the rules are rebuilt: their handles stay).
# After any commit by someone else (here an element deleted and a foreign
# element added by hand, after a reload of the run's own), it checks the
# kernel's table and mends it; traffic afterwards is billed exactly, none
# lost, none doubled.  So does a run's start after such edits made while no
# run was there, in a table too large to list.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
printf 'a 198.18.4.1\nb 198.18.4.2\npa 2001:db8:4::1\n' > "$T"
A_IN=in4_c6120401 B_IN=in4_c6120402 B_OUT=out4_c6120402

nft_r() { inns "$R" nft "$@"; }
# The whole table with every handle: a rebuilt skeleton has new rule handles.
table_a() { nft_r -a list table inet nftally; }

out="$WORK/run.json"
start_run "$out"
send "$C" 198.18.4.1 100 3 198.18.1.2      # A in: 3 x 128
send "$C" 198.18.4.2 100 5 198.18.1.2      # B in: 5 x 128
sleep 1.2

# 1. nothing committed since the run's start: nothing is touched
BEFORE=$(table_a)
kill -HUP "$RUN"
wait_event "$out" reloaded 1
assert_eq 0 "$(count_events "$out" targets_rejected)" "SIGHUP 1: no targets_rejected"
assert_eq "$BEFORE" "$(table_a)" "SIGHUP 1, nothing changed: table and handles as they were"

# 2. the run's own reload, then edits by hand: the resync must not trust
printf 'c 198.18.4.3\n' >> "$T"
wait_event "$out" reloaded 2
nft_r delete element inet nftally in4 '{ 198.18.4.1 }'
nft_r add element inet nftally out4 "{ 198.18.4.9 : \"$B_OUT\" }"
kill -HUP "$RUN"
wait_event "$out" reloaded 3
assert_eq 0 "$(count_events "$out" targets_rejected)" "SIGHUP 2: no targets_rejected"
assert_eq "198.18.4.1 $A_IN
198.18.4.2 $B_IN
198.18.4.3 in4_c6120403" "$(map_elems in4)" "SIGHUP 2: the deleted element is back"
assert_eq "198.18.4.1 out4_c6120401
198.18.4.2 $B_OUT
198.18.4.3 out4_c6120403" "$(map_elems out4)" "SIGHUP 2: the foreign element is gone"
# read by key: an element whose key is no target's is not seen, only
# dropped (the maps are emptied and filled again)
assert_eq 0 "$(count_events "$out" element_repaired)" "SIGHUP 2: no element_repaired"

# 3. nothing since: nothing touched again
BEFORE=$(table_a)
kill -HUP "$RUN"
wait_event "$out" reloaded 4
assert_eq "$BEFORE" "$(table_a)" "SIGHUP 3, nothing changed: table and handles as they were"

# 4. a rule flushed by hand: the skeleton comes back
nft_r flush chain inet nftally "$(nft_r -j list chains inet nftally |
	jq -r '[.nftables[] | select(.chain) | .chain.name][0]')"
kill -HUP "$RUN"
wait_event "$out" reloaded 5
assert_eq "$(echo "$BEFORE" | grep -c 'handle [0-9]*$')" "$(table_a | grep -c 'handle [0-9]*$')" \
	"SIGHUP 4: as many chains, maps and rules as before the flush"

send "$C" 198.18.4.1 100 7 198.18.1.2      # A in: 7 x 128
send "$C" 198.18.4.2 100 11 198.18.1.2     # B in: 11 x 128
send "$S" 198.18.1.2 200 3 198.18.4.2      # B out: 3 x 228
send "$C" 2001:db8:4::1 52 6 2001:db8:1::2 # PA in: 6 x 100
sleep 1.2
stop_run; assert_eq 0 $? "run exits 0"
assert_totals run "$out" <<EOF
198.18.4.1 in_bytes $((10 * 128))
198.18.4.1 in_packets 10
198.18.4.1 out_packets 0
198.18.4.2 in_bytes $((16 * 128))
198.18.4.2 in_packets 16
198.18.4.2 out_bytes $((3 * 228))
198.18.4.2 out_packets 3
2001:db8:4::1 in_bytes 600
2001:db8:4::1 in_packets 6
EOF

# 5. A run's start after others changed the table while no run was there,
# in a table large enough (4,096 idle targets more) to be read by key, not
# listed: the deleted element is back, the foreign one gone (dropped, not
# seen: no element_repaired), and every byte the kernel counted before,
# between and after the runs is reported once.  The maps are refilled a
# transaction per map: the foreign element counted into B's counter until
# then, and nothing after.
many_targets 2048 2048 >> "$T"
out2="$WORK/run2.json"
start_run "$out2"
send "$C" 198.18.4.1 100 2 198.18.1.2      # A in: 2 x 128
send "$C" 198.18.4.2 100 3 198.18.1.2      # B in: 3 x 128
sleep 1.2
stop_run; assert_eq 0 $? "run 2 exits 0"
nft_r delete element inet nftally in4 '{ 198.18.4.1 }'
nft_r add element inet nftally out4 "{ 198.18.4.9 : \"$B_OUT\" }"
send "$C" 198.18.4.2 100 4 198.18.1.2      # B in, no run: 4 x 128
send "$C" 198.18.4.1 100 5 198.18.1.2      # A in, no element: counted nowhere
inns "$S" ip addr add 198.18.4.9/32 dev s0  # no target
send "$S" 198.18.1.2 300 1 198.18.4.9      # by the foreign element as B out: 1 x 328
out3="$WORK/run3.json"
start_run "$out3"
assert_eq "198.18.4.1 $A_IN
198.18.4.2 $B_IN
198.18.4.3 in4_c6120403" "$(map_elems in4 | grep -v ' in4_c613')" "start: the deleted element is back"
assert_eq "198.18.4.1 out4_c6120401
198.18.4.2 $B_OUT
198.18.4.3 out4_c6120403" "$(map_elems out4 | grep -v ' out4_c613')" "start: the foreign element is gone"
assert_eq 2051 "$(map_elems in4 | wc -l)" "start: every IPv4 target has its in4 element"
assert_eq 2049 "$(map_elems in6 | wc -l)" "start: every IPv6 host target has its in6 element"
assert_eq 0 "$(count_events "$out3" element_repaired)" "start: read by key, no element_repaired"
send "$S" 198.18.1.2 300 3 198.18.4.9      # no target, no element: counted nowhere
send "$C" 198.18.4.1 100 6 198.18.1.2      # A in: 6 x 128
send "$C" 198.18.4.2 100 7 198.18.1.2      # B in: 7 x 128
send "$S" 198.18.1.2 200 2 198.18.4.2      # B out: 2 x 228
sleep 1.2
stop_run; assert_eq 0 $? "run 3 exits 0"
assert_totals "runs 2 and 3" "$out2" "$out3" <<EOF
198.18.4.1 in_bytes $((8 * 128))
198.18.4.1 in_packets 8
198.18.4.2 in_bytes $((14 * 128))
198.18.4.2 in_packets 14
198.18.4.2 out_bytes $((2 * 228 + 328))
198.18.4.2 out_packets 3
198.18.4.3 in_bytes 0
2001:db8:4::1 in_bytes 0
EOF
finish
