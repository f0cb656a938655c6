#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally serve in a real headless Chromium (browser.py, the DevTools
# protocol over a pipe): the overview and a label's page load with no
# console error, exception or failed load; the numbers on them equal
# `nftally report`'s; every chart draws its points (288 five-minute, 720
# hourly, 365 daily slots, one line per series) and ink on its canvas; a
# customer's token opens its label and gets 403 on another's; the
# overview with new filters, whose snapshot is held (NFTALLY_SERVE_HOLD_FILE,
# tests only) until the browser has its 503 page, reloads itself into the
# overview once the snapshot is made.  The
# screenshots stay in $SERVE_SHOTS (default: the work dir, removed unless
# NFTALLY_KEEP_WORK is set).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-serve.sh"
need
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
DYGRAPHS=${DYGRAPHS:-/usr/share/javascript/dygraphs/dygraph.min.js}
[ -x "$CHROMIUM" ] || skip_or_fail "no Chromium at $CHROMIUM (Debian: apt install chromium)"
[ -r "$DYGRAPHS" ] || skip_or_fail "no dygraphs at $DYGRAPHS (Debian: apt install libjs-dygraphs)"
command -v python3 >/dev/null || skip_or_fail "the browser test needs python3"
command -v curl >/dev/null || skip_or_fail "the browser test needs curl"
[ -x "$BILLFILL" ] || skip_or_fail "no billfill at $BILLFILL"
SHOTS=${SERVE_SHOTS:-$WORK/shots}
mkdir -p "$SHOTS"

serve_fill "$WORK"; assert_eq 0 $? "billfill"
W="${PFX}b"
serve_ns "$W" || skip_or_fail "cannot make namespace $W"
U=http://127.0.0.1:9480
echo "$AT" > "$WORK/at"
NFTALLY_SERVE_AT_FILE="$WORK/at" NFTALLY_SERVE_HOLD_FILE="$WORK/hold" serve_start "$W" "$U" \
	-c "$WORK/nftally.conf" --at "@$AT" --tokens "$WORK/tokens" --dygraphs "$DYGRAPHS"
assert_eq 0 $? "serve starts"
rep() { "$NFTALLY" -c "$WORK/nftally.conf" report --at "@$AT" --bill sum --all "$@"; }

OUT="$WORK/browser.jsonl"
echo 0 > "$WORK/hold" # host=node1's snapshot: held from its first label
BROWSER_AFTER_FIRST="rm -f $WORK/hold" timeout 120 ip netns exec "$W" \
	python3 "$(dirname "$0")/browser.py" "$CHROMIUM" "$SHOTS" "filtered@30=$U/?host=node1" \
	"overview=$U/" "label=$U/label?l=cust-e" "label-a=$U/label?l=cust-a" \
	"customer=$U/label?l=cust-a&token=$CUST_TOKEN" \
	"customer-other=$U/label?l=cust-d&token=$CUST_TOKEN" > "$OUT" 2>"$WORK/browser.err"
assert_eq 0 $? "browser.py ran ($(tail -3 "$WORK/browser.err" | tr '\n' ' '))"
page() { jq -c --arg n "$1" "select(.name == \$n) | $2" "$OUT"; }

for p in overview label label-a customer; do
	assert_eq "200 true []" "$(page $p '"\(.status) \(.ready) \(.errors + .page_errors)"' | jq -r .)" \
		"$p: HTTP 200, charts drawn, no console error, exception or failed load"
done

# new filters: the 503 page, then (reloading itself after 5 s) the overview
assert_eq "503 true 200 true 4" "$(page filtered '"\(.first_status) \(.loads >= 2) \(.status) \(.ready) \(.rows | length)"' | jq -r .)" \
	"host=node1: 503 while made, then the page reloads itself into the overview (4 labels)"
assert_eq "$(page filtered '.errors | map(select(test("status of 503") | not))')" "[]" \
	"... with no console error but the 503 itself"

# the overview's numbers equal report's (current and previous cycle, p95)
WANT=$({ rep --cycle current --merge-hosts --format json; rep --cycle current --p95 --format json
	rep --cycle previous --merge-hosts --format json | jq -c '{label: .label, prev_billed_bytes: .billed_bytes}'; } |
	jq -sc 'group_by(.label) | map(add | {label: .label, in_bytes, out_bytes, billed_bytes, bill_p95_bps, prev_billed_bytes})')
assert_eq 4 "$(echo "$WANT" | jq length)" "report: four labels"
assert_eq "$WANT" "$(page overview '.rows | sort_by(.label)')" "the overview's numbers equal report's"
assert_eq "315000 525000 813 5000" "$(page overview '.rows[] | select(.label == "cust-a") |
	"\(.in_bytes) \(.billed_bytes) \(.bill_p95_bps) \(.prev_billed_bytes)"' | jq -r .)" \
	"cust-a's numbers on the overview"
# a sparkline per label, 288 points of in and out, with ink
assert_eq "4 288 2 true" "$(page overview '.charts | [.[]] | "\(length) \(map(.rows) | unique | join(",")) \(map(.series) | unique | join(",")) \(map(.points == [288, 288] and .ink > 0) | all)"' | jq -r .)" \
	"four sparklines of 288 points and 2 series, each drawn"
assert_eq 1 "$(page overview '.h1' | jq -r . | grep -c nftally)" "the overview's heading"

# a label's page: its cycles equal report's, each chart its points
CY=$(rep --cycle current --merge-hosts --format json --label cust-a | jq -c '{in_bytes, out_bytes, billed_bytes}')
P95=$(rep --cycle current --p95 --format json --label cust-a | jq -c '{in_p95_bps, out_p95_bps, bill_p95_bps}')
assert_eq "$(jq -sc add <<< "$CY $P95")" "$(page label-a '.rows[0] | {in_bytes, out_bytes, billed_bytes, in_p95_bps, out_p95_bps, bill_p95_bps}')" \
	"cust-a's page: this cycle's numbers equal report's"
assert_eq "2026-01 2025-12 12" "$(page label-a '"\(.rows[0].period) \(.rows[1].period) \(.rows | length)"' | jq -r .)" \
	"twelve cycles on the page"
CH='.charts | to_entries | map("\(.key):\(.value.rows)x\(.value.series):\(.value.points | unique | join(",")):\(.value.ink > 0)") | join(" ")'
# the quota's chart: the cycle's start, then each of the 20 slots with
# traffic (cust-a) or the one (cust-e), used and limit
assert_eq "chart-5min:288x4:288:true chart-hour:720x2:720:true chart-day:365x2:365:true chart-addr:288x4:288:true chart-quota:21x2:21:true" \
	"$(page label-a "$CH" | jq -r .)" "cust-a's charts: points per series, drawn (no classes: no class chart)"
assert_eq "chart-5min:288x4:288:true chart-hour:720x2:720:true chart-day:365x2:365:true chart-addr:288x2:288:true chart-class:288x4:288:true chart-quota:2x2:2:true" \
	"$(page label "$CH" | jq -r .)" "cust-e's charts, with two classes"
# the quota's curve ends at its used bytes: 525,000, the cycle's billed
assert_eq "21 0 525000 525000 500000" "$(ip netns exec "$W" curl -s "$U/api/label?l=cust-a" |
	jq -r '.quota | "\(.usage.t | length) \(.usage.used_bytes[0]) \(.usage.used_bytes[-1]) \(.used_bytes) \(.limit_bytes)"')" \
	"the quota's curve: from 0 at the cycle's start to its used bytes"

# a customer
assert_eq "200 cust-a $(page label-a '.rows[0].billed_bytes')" "$(page customer '"\(.status) \(.h1) \(.rows[0].billed_bytes)"' | jq -r .)" \
	"the customer's token opens its label, same numbers"
assert_eq "403 0 0" "$(page customer-other '"\(.status) \(.rows | length) \(.charts | length)"' | jq -r .)" \
	"the customer's token on another label: 403, nothing shown"
for p in overview label; do
	assert_eq "PNG" "$(head -c 4 "$SHOTS/$p.png" | tail -c 3)" "screenshot $p.png"
done
finish
