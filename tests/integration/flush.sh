#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A deleted table is noticed at once, not at the next interval boundary:
# with a one-hour interval, `nft flush ruleset` and `nft delete table` in
# the router are followed within a second by the reinstalled table, traffic
# sent a second after the deletion is reported to the byte, and the
# table_missing event names the window that could not be counted; two
# deletions a second apart give two adjacent windows.  Floods of
# notifications (someone else's big table, our own big reload) make no
# reinstall and no busy loop.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 3600
T="$WORK/targets"
printf '%s\n' "srv 198.18.2.2" "srv6 2001:db8:2::2" "cli 198.18.1.2" > "$T"

# Seconds (with fraction) until the counter of 198.18.2.2 is back in the
# router, seen from outside nftally; gives up after about 5 s.
wait_back() {
	local t0 t1
	t0=$(date +%s.%N)
	for _ in $(seq 500); do
		if inns "$R" nft list counter inet nftally in4_c6120202 >/dev/null 2>&1; then
			t1=$(date +%s.%N)
			echo "$t1 - $t0" | bc
			return 0
		fi
		sleep 0.01
	done
	echo 99
}
within_1s() { [ "$(echo "$1 < 1" | bc)" = 1 ]; } # SECONDS
# Time of the last report (counter lines carry seq) in FILE.
last_report() { jq -rs '[.[] | select(.seq) | .time] | max' "$1"; }
# Field of the Nth table_missing event (0-based) in FILE.
missing_field() { jq -rs --argjson n "$2" --arg f "$3" \
	'[.[] | select(.event == "table_missing")][$n][$f]' "$1"; }
utc() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
# The window's end is the reinstall: the second of the deletion, or the next.
end_ok() { # WHAT GOT DELETION_EPOCH
	if [ "$2" = "$(utc "$3")" ] || [ "$2" = "$(utc $(($3 + 1)))" ]; then
		ok "$1 = $2"
	else
		bad "$1: $2, deletion at $(utc "$3")"
	fi
}

# --- 1. a report, so that the window has a known start ---
start_run "$WORK/r1.json"
stop_run; assert_eq 0 $? "run exit code"
T1=$(last_report "$WORK/r1.json")

# --- 2. nft flush ruleset: back within a second, traffic after it exact ---
start_run "$WORK/r2.json"
send "$C" 198.18.2.2 100 5 198.18.1.2 # lost with the table (a kernel fact)
F1=$(date +%s)
inns "$R" nft flush ruleset
DT=$(wait_back)
within_1s "$DT" && ok "table back ${DT} s after nft flush ruleset" ||
	bad "table not back within 1 s of nft flush ruleset (${DT} s)"
sleep "$(echo "1 - $DT" | bc)"
send "$C" 198.18.2.2 100 7 198.18.1.2
send "$C" 2001:db8:2::2 100 3 2001:db8:1::2
wait_event "$WORK/r2.json" table_reinstalled 1 || bad "no table_reinstalled event"
stop_run; assert_eq 0 $? "run exit code"
assert_eq 1 "$(grep -c '"event":"table_missing"' "$WORK/r2.json")" "one table_missing"
assert_eq "$T1" "$(missing_field "$WORK/r2.json" 0 lost_since)" "window starts at the last report"
end_ok "window ends at the reinstall" "$(missing_field "$WORK/r2.json" 0 lost_until)" "$F1"
assert_eq $((7 * 128)) "$(sum_field "$WORK/r2.json" 198.18.2.2 in_bytes)" "sent 1 s after the flush: bytes"
assert_eq 7 "$(sum_field "$WORK/r2.json" 198.18.2.2 in_packets)" "sent 1 s after the flush: packets"
assert_eq $((7 * 128)) "$(sum_field "$WORK/r2.json" 198.18.1.2 out_bytes)" "sender's side: bytes"
assert_eq $((3 * 148)) "$(sum_field "$WORK/r2.json" 2001:db8:2::2 in_bytes)" "IPv6: bytes"
assert_eq 3 "$(sum_field "$WORK/r2.json" 2001:db8:2::2 in_packets)" "IPv6: packets"
assert_eq "$(missing_field "$WORK/r2.json" 0 lost_until)" \
	"$(jq -rs '[.[] | select(.addr == "198.18.2.2")][0].since' "$WORK/r2.json")" \
	"the next report counts from the window's end"

# --- 3. two deletions a second apart: adjacent windows ---
T2=$(last_report "$WORK/r2.json")
start_run "$WORK/r3.json"
F2=$(date +%s)
inns "$R" nft delete table inet nftally
DT=$(wait_back)
within_1s "$DT" && ok "table back ${DT} s after nft delete table" ||
	bad "table not back within 1 s of nft delete table (${DT} s)"
wait_event "$WORK/r3.json" table_reinstalled 1 || bad "no first table_reinstalled"
sleep 1
F3=$(date +%s)
inns "$R" nft flush ruleset
DT=$(wait_back)
within_1s "$DT" && ok "table back ${DT} s after the second deletion" ||
	bad "table not back within 1 s of the second deletion (${DT} s)"
wait_event "$WORK/r3.json" table_reinstalled 2 || bad "no second table_reinstalled"
send "$C" 198.18.2.2 100 4 198.18.1.2
stop_run; assert_eq 0 $? "run exit code"
assert_eq 2 "$(grep -c '"event":"table_missing"' "$WORK/r3.json")" "two table_missing"
assert_eq "$T2" "$(missing_field "$WORK/r3.json" 0 lost_since)" "first window starts at the last report"
end_ok "first window ends at the first reinstall" "$(missing_field "$WORK/r3.json" 0 lost_until)" "$F2"
W1=$(missing_field "$WORK/r3.json" 0 lost_until)
[ "$W1" != null ] && assert_eq "$W1" "$(missing_field "$WORK/r3.json" 1 lost_since)" \
	"second window starts where the first ends" || bad "no first window"
end_ok "second window ends at the second reinstall" "$(missing_field "$WORK/r3.json" 1 lost_until)" "$F3"
assert_eq $((4 * 128)) "$(sum_field "$WORK/r3.json" 198.18.2.2 in_bytes)" "after two deletions: exact"

# --- 4. floods: someone's big table, our own big reload; no reinstall, no busy loop ---
start_run "$WORK/r4.json"
awk 'BEGIN { print "table inet flood {\n\tset s {\n\t\ttype ipv4_addr\n\t\telements = {";
	for (i = 0; i < 50000; i++) printf "198.19.%d.%d,\n", int(i / 256), i % 256;
	print "\t\t}\n\t}\n}" }' > "$WORK/flood.nft"
inns "$R" nft -f "$WORK/flood.nft" && ok "someone else's table of 50,000 elements" ||
	bad "loading the flood table"
inns "$R" nft delete table inet flood
{
	printf '%s\n' "srv 198.18.2.2" "srv6 2001:db8:2::2" "cli 198.18.1.2"
	awk 'BEGIN { for (i = 0; i < 14000; i++) printf "v4-%d 198.19.%d.%d\n", i, int(i / 256), i % 256 }'
	awk 'BEGIN { for (i = 0; i < 6000; i++) printf "v6-%d 2001:db8:3::%x\n", i, i + 1 }'
} > "$T.new"
mv "$T.new" "$T"
wait_event "$WORK/r4.json" reloaded 1 || bad "no reload of 20,003 addresses"
kill -HUP "$RUN"
wait_event "$WORK/r4.json" reloaded 2 || bad "no full resync of 20,003 addresses"
sleep 0.5
cpu() { awk '{ print $14 + $15 }' "/proc/$RUN/stat"; }
C0=$(cpu); sleep 2; C1=$(cpu)
[ $((C1 - C0)) -le 10 ] && ok "idle after the floods ($((C1 - C0)) ticks in 2 s)" ||
	bad "busy after the floods: $((C1 - C0)) ticks in 2 s"
send "$C" 198.18.2.2 100 6 198.18.1.2
stop_run; assert_eq 0 $? "run exit code"
assert_eq 0 "$(grep -c '"event":"table_missing"' "$WORK/r4.json")" "no table_missing from floods"
assert_eq 0 "$(grep -c '"event":"error"' "$WORK/r4.json")" "no error events"
assert_eq $((6 * 128)) "$(sum_field "$WORK/r4.json" 198.18.2.2 in_bytes)" "counting on after the floods"
finish
