#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# kill -9 while a run starts on a table too large to list (4,096 idle
# targets more) after edits by hand: the run reads every target's element
# by key and refills nftally's maps in one transaction.  Killed at delays
# that sweep the start (before, during and after the reads and the
# refill), and started again after each kill, it must bill the steady
# traffic of a target whose elements the refill takes out and puts back
# exactly: none lost in the refill, none reported twice across the kills.
# The last start mends the table: the deleted element back, the foreign
# one gone.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
printf 'a 198.18.4.1\nb 198.18.4.2\n' > "$T"
many_targets 2048 2048 >> "$T"
A_IN=in4_c6120401 B_IN=in4_c6120402 B_OUT=out4_c6120402
nft_r() { inns "$R" nft "$@"; }
# What someone does to the table while no run is there: an element of a
# deleted, one for an address of no target added (each may be so already
# after a start that was killed before it mended them).
edit_by_hand() {
	nft_r delete element inet nftally in4 '{ 198.18.4.1 }' 2>/dev/null
	nft_r add element inet nftally out4 "{ 198.18.4.9 : \"$B_OUT\" }" 2>/dev/null
}

start_run "$WORK/run0.json"
stop_run; assert_eq 0 $? "run 0 exits 0"
# b's steady traffic across every start and kill below: 3,000 x 128 bytes
inns "$C" "$UDPSEND" 198.18.4.2 9999 100 3000 198.18.1.2 2000 & SENDER=$!
files="$WORK/run0.json"
i=0 before=0 after=0
# longer delays until two runs were killed after their start (slower
# under the sanitizers)
for delay in 0.005 0.01 0.02 0.03 0.04 0.05 0.07 0.1 0.15 0.2 0.3 0.4 0.6 0.9 1.3 2 3 4; do
	i=$((i + 1))
	edit_by_hand
	out="$WORK/kill$i.json"
	ip netns exec "$R" "$NFTALLY" -c "$WORK/nftally.conf" run > "$out" 2> "$out.err" &
	pid=$!
	sleep "$delay"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	files="$files $out"
	if grep -q '"event":"start"' "$out"; then after=$((after + 1)); else before=$((before + 1)); fi
	[ "$after" -ge 2 ] && break
done
echo "# killed before the start event: $before, after it: $after"
[ "$before" -ge 3 ] && ok "killed $before times before the start event" ||
	bad "killed only $before times before the start event"
assert_eq 2 "$after" "killed after the start event"
edit_by_hand
start_run "$WORK/last.json"
files="$files $WORK/last.json"
assert_eq "198.18.4.1 $A_IN
198.18.4.2 $B_IN" "$(map_elems in4 | grep -v ' in4_c613')" "last start: the deleted element is back"
assert_eq "198.18.4.1 out4_c6120401
198.18.4.2 $B_OUT" "$(map_elems out4 | grep -v ' out4_c613')" "last start: the foreign element is gone"
assert_eq 2050 "$(map_elems in4 | wc -l)" "last start: every IPv4 target has its in4 element"
wait "$SENDER"
send "$C" 198.18.4.1 100 5 198.18.1.2      # a in: 5 x 128
sleep 1.2
stop_run; assert_eq 0 $? "last run exits 0"
# shellcheck disable=SC2086 # the file names have no blanks
assert_totals "across $i kills" $files <<EOF
198.18.4.2 in_packets 3000
198.18.4.2 in_bytes $((3000 * 128))
198.18.4.2 out_packets 0
198.18.4.1 in_packets 5
198.18.4.1 in_bytes $((5 * 128))
EOF
assert_eq 0 "$(cat $files | grep -c '"event":"error"')" "no error event in any run"
finish
