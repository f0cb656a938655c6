#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A table's identity is more than its handle: handles are counted per
# network namespace, so a namespace deleted and created again (a router
# rescheduled), or a reboot, gives the new table and its counters the old
# handles.  The new counters must count from zero, exactly, with a
# table_missing event, never with the old reported values subtracted.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
echo "vm-a 198.18.2.2" > "$T"
wait_line() { # FILE ADDR: a counter line for ADDR
	for _ in $(seq 60); do
		grep -q "\"addr\":\"$2\"" "$1" && return 0
		sleep 0.1
	done
	bad "no line for $2 in $1"
}

# --- 1. the namespace deleted and created again while nftally is stopped ---
start_run "$WORK/r1.json"
send "$C" 198.18.2.2 100 5 198.18.1.2
wait_line "$WORK/r1.json" 198.18.2.2
stop_run
H1=$(inns "$R" nft -a list table inet nftally | awk '/^table/ { print $NF }')
for ns in "$C" "$R" "$S"; do ip netns del "$ns"; done
setup_topology
start_run "$WORK/r2.json"
H2=$(inns "$R" nft -a list table inet nftally | awk '/^table/ { print $NF }')
echo "# table handle before $H1, after $H2"
send "$C" 198.18.2.2 100 20 198.18.1.2
sleep 1.3
stop_run
assert_eq 1 "$(jq -r 'select(.event == "table_missing") | .message' "$WORK/r2.json" |
	grep -c 'was gone while nftally was not running')" "table_missing at start in the new namespace"
assert_eq "$((20 * 128)) 20" "$(total 198.18.2.2 in_bytes "$WORK/r2.json") $(total 198.18.2.2 in_packets "$WORK/r2.json")" \
	"the new namespace's counters count from zero, exactly"
assert_eq 0 "$(grep -c counter_reset "$WORK/r2.json")" "no counter_reset"

# --- 2. a state of another boot: the table it was counted in is gone
#     whatever its handle (here the table stays, so its counters' values
#     since their creation are reported again: what a reboot, which
#     really empties them, never shows) ---
start_run "$WORK/r3.json"
stop_run
sed -i 's/^boot .*/boot 00000000-0000-0000-0000-000000000000/' "$WORK/state/nftally.state"
grep -q '^boot 00000000-' "$WORK/state/nftally.state" && ok "state has a boot line" ||
	bad "no boot line in the state"
send "$C" 198.18.2.2 100 3 198.18.1.2
start_run "$WORK/r4.json"
sleep 1.3
stop_run
assert_eq 1 "$(jq -r 'select(.event == "table_missing") | .message' "$WORK/r4.json" |
	grep -c 'was recreated while nftally was not running')" "table_missing for a state of another boot"
assert_eq "$((23 * 128))" "$(total 198.18.2.2 in_bytes "$WORK/r4.json")" \
	"after another boot, the counters count from zero (their whole value)"
assert_eq "$(cat /proc/sys/kernel/random/boot_id)" "$(awk '$1 == "boot" { print $2 }' "$WORK/state/nftally.state")" \
	"the state carries this boot's id again"

# --- 3. remove with a state of another boot prints cumulative counters ---
sed -i 's/^boot .*/boot 00000000-0000-0000-0000-000000000000/' "$WORK/state/nftally.state"
nftally_r remove > "$WORK/remove.json"
assert_eq 1 "$(grep -c '"event":"state_stale"' "$WORK/remove.json")" "remove: a state of another boot is stale"
finish
