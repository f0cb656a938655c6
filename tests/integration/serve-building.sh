#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally serve while its first snapshot is made (docs/dashboard.md,
# "Freshness and cost"): the overview, HTML and JSON, with and without
# filters, answers 503 at once with Retry-After and how far the snapshot
# is (labels read of the labels), the page reloading itself; a label's
# page, which needs no snapshot, answers meanwhile; once made, the
# overview equals `nftally report`.  Then the same for the first snapshot
# of new filters (made by the refresher too, the request waiting a second
# and a half for it), while the overviews already made answer at once, and
# for filters queued behind it.  The snapshots are held after two of their
# four labels by NFTALLY_SERVE_HOLD_FILE (with NFTALLY_SERVE_AT_FILE; for
# tests only) until the test removes the file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-serve.sh"
serve_test_init "${PFX}g"
echo "$AT" > "$WORK/at"
echo 2 > "$WORK/hold"
NFTALLY_SERVE_AT_FILE="$WORK/at" NFTALLY_SERVE_HOLD_FILE="$WORK/hold" SERVE_NO_WAIT=1 \
	serve_start "$W" "$U" -c "$WORK/nftally.conf" --at "@$AT"
assert_eq 0 $? "serve starts"

# status, Retry-After and body of a request
ask() { # URL
	inns "$W" curl -s -D "$WORK/head" -o "$WORK/body" -w '%{http_code}' "$1"
	echo " $(tr -d '\r' < "$WORK/head" | sed -n 's/^Retry-After: //Ip')"
}
# the snapshot stops once it has read two labels (the first requests may
# come before: the same 503 with fewer)
for _ in $(seq 100); do
	[ "$(ask "$U/api/overview")" = "503 5" ] && [ "$(jq .labels_done "$WORK/body")" = 2 ] && break
	sleep 0.1
done
BUILDING='{"building":true,"step":"current","labels_done":2,"labels":4,"retry_after":5}'
for q in "" "?sort=billed&page=2" "?host=node1" "?netns=-"; do
	assert_eq "503 5" "$(ask "$U/api/overview$q")" "the overview API$q while building: 503, Retry-After 5"
	assert_eq "$BUILDING" "$(cat "$WORK/body")" "... and how far the snapshot is"
	assert_eq "application/json" "$(tr -d '\r' < "$WORK/head" | sed -n 's/^Content-Type: //Ip')" \
		"... as JSON"
done
assert_eq "503 5" "$(ask "$U/")" "the overview page while building: 503, Retry-After 5"
assert_eq '<meta http-equiv="refresh" content="5">|<p id="building" data-step="current" data-labels-done="2" data-labels="4">The current cycle: 2 of 4 labels read. This page reloads itself every 5 seconds.</p>' \
	"$(grep -o '<meta http-equiv="refresh"[^>]*>' "$WORK/body")|$(grep -o '<p id="building".*</p>' "$WORK/body")" \
	"... reloading itself, with how far it is"
# at once: a request does not wait for the snapshot (held here for good)
T=$(inns "$W" curl -s -o /dev/null -w '%{time_total}' "$U/api/overview")
assert_eq 1 "$(echo "$T < 2" | bc)" "the 503 answered at once (${T} s)"
# a label's page needs no snapshot
assert_eq "200 2026-01 315000" "$(inns "$W" curl -s -o "$WORK/label" -w '%{http_code}' \
	"$U/api/label?l=cust-a") $(jq -r '.cycles[0] | "\(.period) \(.in_bytes)"' "$WORK/label")" \
	"a label's page while building: cust-a's January"
assert_eq 200 "$(inns "$W" curl -s -o /dev/null -w '%{http_code}' "$U/label?l=cust-a")" \
	"... and its HTML"

# let it go: the overview as report has it
rm "$WORK/hold"
for _ in $(seq 100); do
	[ "$(ask "$U/api/overview?per_page=1000")" = "200 " ] && break
	sleep 0.1
done
assert_eq "200 " "$(ask "$U/api/overview?per_page=1000")" "the overview once made: 200"
KEYS='{label: .label, period, cycle_start, cycle_end, in_bytes, in_packets, out_bytes, out_packets, billed_bytes, slots, rank, in_p95_bps, out_p95_bps, bill_p95_bps}'
rep() { "$NFTALLY" -c "$WORK/nftally.conf" report --at "@$AT" --bill sum --all "$@"; }
want_cycle() { # CYCLE [ARGS...]: report --cycle and --p95 of it, one object per label
	local c=$1
	shift
	{ rep --cycle "$c" --merge-hosts --format json "$@"; rep --cycle "$c" --p95 --format json "$@"; } |
		jq -sc "group_by(.label) | map(add | $KEYS)"
}
ov_cycle() { # CYCLE < OVERVIEW
	jq -c --arg c "$1" "[.labels[] | .[\$c] + {label: .label}] | sort_by(.label) | map($KEYS)"
}
for c in current previous; do
	assert_eq 4 "$(want_cycle $c | jq length)" "report has the four labels in the $c cycle"
	assert_eq "$(want_cycle $c)" "$(ov_cycle $c < "$WORK/body")" "the overview's $c cycle equals report's"
	# host=node1, asked for while the first was made, is made after it
	assert_eq "$(want_cycle $c --host node1)" "$(get_made "$U/api/overview?per_page=1000&host=node1" |
		ov_cycle $c)" "... and with host=node1"
done

# new filters: host=node1 and netns=- together (netns=- alone was asked
# for while the first was made: made since), held after two labels
NEWF="host=node1&netns=-"
echo 2 > "$WORK/hold"
for _ in $(seq 20); do
	[ "$(ask "$U/api/overview?$NEWF")" = "503 5" ] && [ "$(jq .labels_done "$WORK/body")" = 2 ] && break
done
T=$(inns "$W" curl -s -o "$WORK/body" -w '%{http_code} %{time_total}' "$U/api/overview?$NEWF")
assert_eq "503 1" "${T% *} $(echo "${T#* } < 4" | bc)" "new filters: 503 after the wait for them (${T#* } s)"
assert_eq "$BUILDING" "$(cat "$WORK/body")" "... and how far their snapshot is"
assert_eq "503 5" "$(ask "$U/?$NEWF")" "... their page too"
assert_eq 'data-step="current" data-labels-done="2" data-labels="4">The current cycle: 2 of 4 labels read.' \
	"$(grep -o 'data-step.*read\.' "$WORK/body")" "... with how far it is"
# others already made, and a label's page, meanwhile
T=$(inns "$W" curl -s -o "$WORK/body" -w '%{http_code} %{time_total}' "$U/api/overview?per_page=1000&host=node1")
assert_eq "200 1" "${T% *} $(echo "${T#* } < 1.4" | bc)" "host=node1 meanwhile: at once, not after the new filters' wait (${T#* } s)"
assert_eq "$(want_cycle current --host node1)" "$(ov_cycle current < "$WORK/body")" "... its numbers"
assert_eq "200" "$(inns "$W" curl -s -o /dev/null -w '%{http_code}' "$U/api/label?l=cust-a")" \
	"a label's page meanwhile"
# more new filters wait their turn
assert_eq "503 5" "$(ask "$U/api/overview?host=elsewhere")" "filters behind the ones being made: 503"
assert_eq '{"building":true,"step":"queued","labels_done":0,"labels":0,"retry_after":5}' \
	"$(cat "$WORK/body")" "... queued"
assert_eq "Queued: another overview is being made first." \
	"$(ask "$U/?host=elsewhere" >/dev/null; grep -o 'Queued:[^.]*\.' "$WORK/body")" "... said on its page"
rm "$WORK/hold"
for c in current previous; do
	assert_eq "$(want_cycle $c --host node1 --netns '')" \
		"$(get_made "$U/api/overview?per_page=1000&$NEWF" | ov_cycle $c)" \
		"$NEWF once made: the $c cycle is report --host node1 --netns ''s"
done
assert_eq 0 "$(get_made "$U/api/overview?host=elsewhere" | jq .total)" "host=elsewhere once made: none"
assert_eq "" "$(grep -v '^nftally: serving\|^nftally: serve: test: ' "$WORK/serve.err")" \
	"serve said nothing else"
serve_stop
finish
