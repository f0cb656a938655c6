#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally serve's snapshots made again as time moves on and reports come
# in (docs/dashboard.md, "Freshness and cost"): the current cycle's one
# read (totals, 95th percentiles and sparklines together) and the previous
# cycle kept from one snapshot to the next while no report is recorded for
# it.  After each step the overview, unfiltered and filtered, equals
# `nftally report` as of the same time to the byte and bit/s, and the
# sparklines equal the 5-minute series of each label's page: new reports
# in this cycle, a new label, a late report for the previous (ended)
# cycle, and time crossing into the next cycle.  The time moves through
# NFTALLY_SERVE_AT_FILE, for tests only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-serve.sh"
serve_test_init "${PFX}r"
echo "$AT" > "$WORK/at"
NFTALLY_SERVE_AT_FILE="$WORK/at" serve_start "$W" "$U" -c "$WORK/nftally.conf" --at "@$AT"
assert_eq 0 $? "serve starts"

KEYS='{label: .label, period, cycle_start, cycle_end, in_bytes, in_packets, out_bytes, out_packets, billed_bytes, slots, rank, in_p95_bps, out_p95_bps, bill_p95_bps}'
rep() { # AT ARGS...: report as of AT
	local at=$1
	shift
	"$NFTALLY" -c "$WORK/nftally.conf" report --at "@$at" --bill sum --all "$@"
}
want_cycle() { # AT CYCLE [ARGS...]: report --cycle and --p95 of it, one object per label
	local at=$1 c=$2
	shift 2
	{ rep "$at" --cycle "$c" --merge-hosts --format json "$@"
	  rep "$at" --cycle "$c" --p95 --format json "$@"; } |
		jq -sc "group_by(.label) | map(add | $KEYS)"
}
ov_cycle() { # CYCLE < OVERVIEW
	jq -c --arg c "$1" "[.labels[] | .[\$c] + {label: .label}] | sort_by(.label) | map($KEYS)"
}
# Wait (at most 10 s) for the refresher's snapshot as of AT (with FILTERS:
# of them; a request answers the newest there is at once, the refresher
# making them all again when the time changes).
wait_snap() { # AT [FILTERS]
	local i
	for i in $(seq 100); do
		[ "$(get "$U/api/overview?per_page=1${2:+&$2}" | jq -r .now)" = "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
record() { # WHAT < LINES: more reports in the store (billfill's lines)
	"$BILLFILL" "$WORK/known.db" node1
	assert_eq 0 $? "billfill: $1"
}
# The overview as of AT equals report's, both cycles; the filtered one
# (host node1, the host of every row) report --host node1's; every
# label's sparkline its page's 5-minute series.
check() { # AT WHAT
	local at=$1 what=$2 ov fov c i l want
	# renamed into place: serve reads the file five times a second, and an
	# empty one (truncated by >, not yet written) is --at's time again
	echo "$at" > "$WORK/at.new" && mv "$WORK/at.new" "$WORK/at"
	wait_snap "$at"
	assert_eq 0 $? "$what: a snapshot as of $at"
	wait_snap "$at" host=node1
	assert_eq 0 $? "$what: a snapshot of host=node1 as of $at"
	ov=$(get "$U/api/overview?per_page=1000")
	fov=$(get "$U/api/overview?per_page=1000&host=node1")
	for c in current previous; do
		want=$(want_cycle "$at" $c)
		assert_eq "$want" "$(echo "$ov" | ov_cycle $c)" "$what: the overview's $c cycle is report's"
		# report --host keeps the labels with rows from there; so does the overview
		assert_eq "$(want_cycle "$at" $c --host node1 | jq -c 'map(select(.in_packets + .out_packets > 0))')" \
			"$(echo "$fov" | ov_cycle $c | jq -c 'map(select(.in_packets + .out_packets > 0))')" \
			"$what: host=node1, the $c cycle is report --host node1's"
	done
	for i in $(seq 0 $(($(echo "$ov" | jq '.labels | length') - 1))); do
		l=$(echo "$ov" | jq -r ".labels[$i].label")
		assert_eq "$(get "$U/api/label?l=$(echo "$ov" | jq -r ".labels[$i].label | @uri")" |
			jq -c '.series["5min"] | [.t[0], .in_bps, .out_bps]')" \
			"$(echo "$ov" | jq -c "[.spark_start] + (.labels[$i] | [.spark_in_bps, .spark_out_bps])")" \
			"$what: $l's sparkline is its 5-minute series"
	done
}

check "$AT" "first snapshot"
assert_eq "315000 4000" "$(get "$U/api/overview?label=cust-a" | jq -r '.labels[0] |
	"\(.current.in_bytes) \(.previous.in_bytes)"')" "cust-a's known January and December"

# this cycle goes on: cust-a every slot, cust-e in two, a new label
record "more of January" < <(
	for i in $(seq 20 25); do
		echo "$((T0 + 300 * i + 300)) cust-a 198.18.0.1 $((7000 * i)) $((300 * i))"
	done
	echo "$((T0 + 7200)) cust-e 198.18.0.5 9000 100 web"
	echo "$((T0 + 7500)) cust-new 198.18.0.7 12345 678"
	# in the slot in progress at AT + 1800: in the totals, not the percentiles
	echo "$((T0 + 7900)) cust-e 198.18.0.5 777 7"
)
check $((AT + 1800)) "January goes on"
assert_eq "$((315000 + 7000 * (20 + 21 + 22 + 23 + 24 + 25)))" "$(get "$U/api/overview?label=cust-a" |
	jq -r '.labels[0].current.in_bytes')" "cust-a's January grew by its new slots"

# time alone moves on: the slot in progress is left out of the percentiles
check $((AT + 2100)) "five minutes later, no report"

# a late report for December (ended): the kept previous cycle is read again
record "late December" < <(
	echo "$((T0 - 600)) cust-d 198.18.0.4 55555 5"
	echo "$((T0 - 300)) cust-a 198.18.0.1 66666 6"
)
check $((AT + 2400)) "a late report for December"
assert_eq "$((70000 + 30000 + 55555))" "$(get "$U/api/overview?label=cust-d" |
	jq -r '.labels[0].previous.in_bytes')" "cust-d's December has the late report"

# February: January ends and is the previous cycle; the last day (the
# sparklines) reaches back into it
FEB=$((T0 + 31 * 86400))
record "February" < <(
	echo "$((FEB - 600)) cust-a 198.18.0.2 3131 13"
	echo "$((FEB + 300)) cust-a 198.18.0.1 4242 24"
	echo "$((FEB + 600)) cust-new 198.18.0.7 100 200"
)
check $((FEB + 1200)) "into February"
assert_eq "2026-02 4242 2026-01" "$(get "$U/api/overview?label=cust-a" |
	jq -r '.labels[0] | "\(.current.period) \(.current.in_bytes) \(.previous.period)"')" \
	"cust-a: February now, January before"
assert_eq "1 1" "$(get "$U/api/overview?label=cust-a" | jq -r --argjson f $FEB '.spark_start as $s |
	.labels[0].spark_in_bps | "\(.[($f - 900 - $s) / 300] | . > 0 | if . then 1 else 0 end) \(.[($f - $s) / 300] | . > 0 | if . then 1 else 0 end)"')" \
	"cust-a's sparkline: January 31's last slot but one and February's first"
check $((FEB + 1500)) "February, five minutes later"

# Two hours slot by slot: each refresh reads only the slots ended since
# the last one and the one in progress, and adds them to what it kept
# (the refresher's snapshot and a filtered one alike).
# From the 20th slot on the percentile is the second largest:
# values that rise and fall, slots without any, and
# a late report for a slot already read (a backlog replayed), which the
# stamp of the reports sees, so that the cycle is read whole once more.
reads() { # WHAT [host=]: the reads of the current cycle so far, unfiltered or filtered
	grep -c "^nftally: serve: test: @[0-9]*${2:+ $2[^:]*}: the current cycle read $1" \
		"$WORK/serve.err"
}
whole0=$(reads whole) from0=$(reads from) fwhole0=$(reads whole host=) ffrom0=$(reads from host=)
for j in $(seq 1 24); do
	t=$((FEB + 1500 + 300 * j))
	record "February, slot $j" < <(
		# a report's time is its last second: t is in the slot before t
		echo "$t cust-a 198.18.0.1 $((1000 * ((j * 7) % 13 + 1))) $((10 * j))"
		[ $((j % 3)) = 0 ] ||
			echo "$((t - 100)) cust-new 198.18.0.7 $((500 * (j % 5) + 1)) 9"
		# in the slot in progress: in the totals only
		echo "$((t + 100)) cust-e 198.18.0.5 $((3 * j)) 1 web"
		[ "$j" = 14 ] && echo "$((FEB + 900)) cust-a 198.18.0.2 99999 1"
	)
	check "$t" "February, slot $j"
done
assert_eq 29 "$(get "$U/api/overview?label=cust-a" | jq -r '.labels[0].current.slots')" \
	"29 slots ended in February"
# the late report's step read the cycle whole, the 23 others only what
# was new, unfiltered and filtered
assert_eq "1 23" "$(($(reads whole) - whole0)) $(($(reads from) - from0))" \
	"unfiltered: one whole read of the cycle, 23 of what is new"
assert_eq "1 23" "$(($(reads whole host=) - fwhole0)) $(($(reads from host=) - ffrom0))" \
	"host=node1: one whole read of the cycle, 23 of what is new"
serve_stop
assert_eq "" "$(grep -v -e '^nftally: serving' -e '^nftally: serve: test: ' "$WORK/serve.err")" \
	"serve said nothing else"
finish
