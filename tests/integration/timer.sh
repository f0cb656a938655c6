#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run's interval timer, as the kernel shows it in /proc/PID/fdinfo: a
# CLOCK_REALTIME timerfd armed absolute for the next boundary with
# TFD_TIMER_CANCEL_ON_SET (settime flags 03), so that a step of the wall
# clock wakes run instead of delaying its reports; still so after reports
# (each wake re-arms it), and reports fall on whole multiples of the
# interval.  What a step does is tested in tests/unit/test_interval.c:
# a test must not set the host's clock (time namespaces do not cover
# CLOCK_REALTIME).
. "$(dirname "$0")/lib.sh"
need
setup_topology
echo "vm-a 198.18.2.2" > "$WORK/targets"

# The fdinfo lines of the run's one timerfd.
timer_info() {
	local fd
	for fd in /proc/"$RUN"/fd/*; do
		if [ "$(readlink "$fd")" = "anon_inode:[timerfd]" ]; then
			cat /proc/"$RUN"/fdinfo/"${fd##*/}"
			return
		fi
	done
}
field() { timer_info | sed -n "s/^$1:[[:space:]]*//p"; }

write_config 60
start_run "$WORK/r1.json"
assert_eq 0 "$(field clockid)" "clock CLOCK_REALTIME"
assert_eq 03 "$(field 'settime flags')" "armed TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET"
assert_eq "(60, 0)" "$(field it_interval)" "interval 60 s"
# it_value is the time left: now + it_value is the next whole minute
LEFT=$(field it_value | sed 's/^(\([0-9]*\),.*/\1/')
NOW=$(date +%s)
assert_eq yes "$(awk -v l="$LEFT" -v n="$NOW" 'BEGIN {
	b = (int(n / 60) + 1) * 60; d = n + l - b
	print (d >= -1 && d <= 1) ? "yes" : "no (" n " + " l " vs " b ")" }')" \
	"armed for the next whole minute"
stop_run

write_config 2
start_run "$WORK/r2.json"
sleep 5.2
assert_eq 03 "$(field 'settime flags')" "still CANCEL_ON_SET after reports"
assert_eq "(2, 0)" "$(field it_interval)" "interval 2 s"
stop_run
# reports of the interval (not the last one, made at SIGTERM): on even
# seconds, one per boundary
jq -r 'select(.seq and .label) | .time' "$WORK/r2.json" | sed '$d' | sort -u > "$WORK/times"
N=$(wc -l < "$WORK/times")
assert_eq yes "$([ "$N" -ge 2 ] && [ "$N" -le 3 ] && echo yes || echo "no ($N)")" \
	"2 or 3 reports in 5.2 s"
assert_eq 0 "$(grep -cv '[02468]Z$' "$WORK/times")" "report times on even seconds"
finish
