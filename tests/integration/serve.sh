#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# nftally serve (docs/dashboard.md) over a store of known reports: the
# overview's and a label's numbers equal `nftally report`'s (the same
# cycles, totals and 95th percentiles) and the known values to the byte
# and bit/s; the series per slot, address and class; paging, sorting and
# filters; customer tokens see their label only (403 otherwise), no token
# on another address than loopback is refused and gets nothing; a hostile
# label is escaped on every page; HTTPS with a certificate.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-serve.sh"
serve_test_init "${PFX}w"
code() { inns "$W" curl -s -o /dev/null -w '%{http_code}' "$@"; }
rep() { "$NFTALLY" -c "$WORK/nftally.conf" report --at "@$AT" --bill sum --all "$@"; }
serve_start "$W" "$U" -c "$WORK/nftally.conf" --at "@$AT" --tokens "$WORK/tokens"
assert_eq 0 $? "serve starts on 127.0.0.1:9480"

# --- the overview equals report, cycle by cycle ---
KEYS='{label: .label, period, cycle_start, cycle_end, in_bytes, in_packets, out_bytes, out_packets, billed_bytes, slots, rank, in_p95_bps, out_p95_bps, bill_p95_bps}'
want_cycle() { # CYCLE: report --cycle and --p95 of it, one object per label
	{ rep --cycle "$1" --merge-hosts --format json; rep --cycle "$1" --p95 --format json; } |
		jq -sc "group_by(.label) | map(add | $KEYS)"
}
OV=$(get "$U/api/overview?per_page=1000")
for c in current previous; do
	assert_eq 4 "$(want_cycle $c | jq length)" "report has the four labels in the $c cycle"
	assert_eq "$(want_cycle $c)" "$(echo "$OV" | jq -c --arg c $c \
		"[.labels[] | .[\$c] + {label: .label}] | sort_by(.label) | map($KEYS)")" \
		"the overview's $c cycle equals report's"
done
# and the known numbers (billing.sh's definitions): cust-a's January, its
# 95th percentiles (sum 813, in 760, out 507 bit/s over 20 slots), its
# December; cust-d's December only
assert_eq "2026-01 315000 40 210000 20 525000 20 19 760 507 813 | 2025-12 5000" \
	"$(echo "$OV" | jq -r '.labels[] | select(.label == "cust-a") | .current as $c |
	"\($c.period) \($c.in_bytes) \($c.in_packets) \($c.out_bytes) \($c.out_packets) \($c.billed_bytes) \($c.slots) \($c.rank) \($c.in_p95_bps) \($c.out_p95_bps) \($c.bill_p95_bps) | \(.previous.period) \(.previous.billed_bytes)"')" \
	"cust-a's cycles in the overview"
assert_eq "0 110000" "$(echo "$OV" | jq -r '.labels[] | select(.label == "cust-d") |
	"\(.current.billed_bytes) \(.previous.billed_bytes)"')" "cust-d: December only"
assert_eq "4" "$(echo "$OV" | jq -r '.total')" "four labels"
# the last day: 288 slots from 24 h before the slot in progress; cust-a's
# 20 slots of January are 40 (i + 1) bit/s in; December's 23:00 slot
# 4000 B -> 107 bit/s
assert_eq "288 $((AT / 300 * 300 - 86400))" "$(echo "$OV" | jq -r \
	'"\(.labels[] | select(.label == "cust-a") | .spark_in_bps | length) \(.spark_start)"')" \
	"sparkline slots and start"
SPARK_WANT=$( (echo 107; for i in $(seq 1 20); do echo $((40 * i)); done) | paste -sd,)
assert_eq "$SPARK_WANT" "$(echo "$OV" | jq -r '.labels[] | select(.label == "cust-a") |
	.spark_in_bps | map(select(. > 0)) | join(",")')" "cust-a's sparkline"

# --- the quotas' bars: the quotas file's limits against this cycle ---
assert_eq "cust-a 500000 525000 sum 105 2|cust-d 1000000 0 max 0 0|cust-e 4000 3600 sum 90 1" \
	"$(echo "$OV" | jq -r '[.labels[] | select(.quota) | "\(.label) \(.quota.limit_bytes) \(.quota.used_bytes) \(.quota.bill) \(.quota.percent) \(.quota.state)"] | join("|")')" \
	"quotas in the overview (limit, used, bill, percent, state)"
assert_eq "null" "$(echo "$OV" | jq -c '.labels[] | select(.label | startswith("<")) | .quota')" \
	"no quota, no quota object"
OVH=$(get "$U/?per_page=1000")
assert_eq 'data-quota-used="525000" data-quota-limit="500000"' \
	"$(echo "$OVH" | grep -o 'data-quota-used="[0-9]*" data-quota-limit="500000"')" \
	"cust-a's bar on the overview"
assert_eq 1 "$(echo "$OVH" | grep -c '<meter min="0" max="4000" low="3200" high="3999" optimum="0" value="3600"></meter> 90%')" \
	"cust-e's meter"
assert_eq "500000 525000 2" "$(get "$U/api/label?l=cust-a" | jq -r '.quota | "\(.limit_bytes) \(.used_bytes) \(.state)"')" \
	"cust-a's page: its quota"

# --- sorting, paging, filters ---
assert_eq "cust-a,cust-e,$HOSTILE" "$(get "$U/api/overview?sort=billed&per_page=3" |
	jq -r '[.labels[].label] | join(",")')" "sorted by billed, largest first"
want_order=$(rep --cycle current --merge-hosts --format json | jq -sr \
	'sort_by(-.billed_bytes, .label) | map(.label) | .[2:4] | join(",")')
assert_eq "$HOSTILE,cust-d" "$want_order" "report's order by billed"
assert_eq "$want_order" "$(get "$U/api/overview?sort=billed&per_page=2&page=2" |
	jq -r '[.labels[].label] | join(",")')" "page 2 of 2 a page, by billed (report's order)"
assert_eq "cust-e,cust-d" "$(get "$U/api/overview?label=cust&sort=label&order=desc&per_page=2" |
	jq -r '[.labels[].label] | join(",")')" "filter by label, descending"
assert_eq "3" "$(get "$U/api/overview?label=cust" | jq -r .total)" "three cust labels"
assert_eq "0" "$(get_made "$U/api/overview?host=elsewhere" | jq -r .total)" "no label from host elsewhere"
assert_eq "cust-a" "$(get_made "$U/api/overview?host=node1&netns=-&label=cust-a" |
	jq -r '[.labels[].label] | join(",")')" "host node1, netns - (the first namespace) and label filters"
assert_eq "4 1 0" "$(get "$U/api/overview?netns=" | jq -r .total) $(get_made "$U/?netns=-" |
	grep -c 'name="netns" value="-"') $(get_made "$U/api/overview?netns=elsewhere" | jq -r .total)" \
	"netns= (an empty form field) is no filter, netns=- the first namespace, another none"

# --- a label: its cycles and series ---
L=$(get "$U/api/label?l=cust-a")
assert_eq "$(want_cycle current | jq -c '.[] | select(.label == "cust-a")')" \
	"$(echo "$L" | jq -c ".cycles[0] + {label: .label} | $KEYS")" "cust-a's page: this cycle as report"
assert_eq "$(rep --cycle previous --merge-hosts --format json --label cust-a | jq -r .billed_bytes)" \
	"$(echo "$L" | jq -r '.cycles[1].billed_bytes')" "cust-a's page: the previous cycle as report"
assert_eq "12 2026-01 2025-02" "$(echo "$L" | jq -r '"\(.cycles | length) \(.cycles[0].period) \(.cycles[11].period)"')" \
	"twelve cycles, this one first"
assert_eq "288 720 365" "$(echo "$L" | jq -r '[.series["5min"], .series.hour, .series.day] |
	map(.t | length) | join(" ")')" "5-minute, hourly and daily slots"
assert_eq "$SPARK_WANT" "$(echo "$L" | jq -r '.series["5min"].in_bps | map(select(. > 0)) | join(",")')" \
	"the 5-minute series equals the sparkline"
# per address: 198.18.0.2 in 500 (i + 1) B a slot -> 13.33 (i + 1) bit/s, rounded half up
A2=$(for i in $(seq 1 20); do echo $(( (500 * i * 8 + 150) / 300 )); done | paste -sd,)
assert_eq "198.18.0.1 198.18.0.2|$A2" "$(echo "$L" | jq -r '.series["5min"].addr |
	"\(map(.addr) | join(" "))|\(.[1].in_bps | map(select(. > 0)) | join(","))"')" "per address"
# hours from report --by hour: bytes * 8 / 3600, rounded half up
HW=$("$NFTALLY" -c "$WORK/nftally.conf" report --by hour --utc --merge-hosts --label cust-a \
	--format json | jq -r '.in_bytes' | awk '{ printf "%s%d", (NR > 1 ? "," : ""), int(($1 * 8 + 1800) / 3600) }')
assert_eq "$HW" "$(echo "$L" | jq -r '.series.hour.in_bps | map(select(. > 0)) | join(",")')" \
	"the hourly series equals report --by hour"
assert_eq "9,260,440" "$HW" "the hours: 23:00 of December 31, 00:00 and 01:00"
# days (local time, UTC here), the last two: December 31 and January 1, in
# 4000 and 315000 B, out 1000 and 210000 B over 86400 s
assert_eq "0 29 0 19 $((T0 - 86400)) $T0" "$(echo "$L" | jq -r '.series.day |
	"\(.in_bps[363:] | join(" ")) \(.out_bps[363:] | join(" ")) \(.t[363:] | join(" "))"')" \
	"the daily series"
E=$(get "$U/api/label?l=cust-e")
assert_eq "other:53/16 web:27/0" "$(echo "$E" | jq -r '.series["5min"].class | map("\(.class):\(.in_bps | add)/\(.out_bps | add)") | join(" ")')" \
	"per class: other 2000 B in, 600 out; web 1000 in, in one slot"
assert_eq "[]" "$(echo "$L" | jq -c '.series["5min"].class')" "no classes: no class series"
assert_eq 404 "$(code "$U/api/label?l=nobody")" "an unknown label: 404"
assert_eq 400 "$(code "$U/api/label")" "no label: 400"

# --- a hostile label is escaped ---
HURL='%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E%26amp%3B'
PAGE=$(get "$U/")
assert_eq 0 "$(echo "$PAGE" | grep -c '<script>alert')" "the overview has no raw <script>alert"
assert_eq 1 "$(echo "$PAGE" | grep -c '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;')" \
	"the overview shows the label escaped"
assert_eq 1 "$(echo "$PAGE" | grep -Fc "href=\"/label?l=$HURL\"")" "the link to it is URL-encoded"
LP=$(get "$U/label?l=$HURL")
assert_eq "0 1" "$(echo "$LP" | grep -c '<script>alert') $(echo "$LP" |
	grep -c '<h1 id="label">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;</h1>')" \
	"its page: escaped in the heading, nowhere raw"
assert_eq "$HOSTILE" "$(get "$U/api/label?l=$HURL" | jq -r .label)" "its JSON: the label as it is"
assert_eq 1 "$(get "$U/?label=%22%3E%3Cb%3E" | grep -c 'value="&quot;&gt;&lt;b&gt;"')" \
	"a filter value is escaped in the form"

# --- customer tokens ---
CT="Authorization: Bearer $CUST_TOKEN"
assert_eq "200 200 200" "$(code -H "$CT" "$U/api/label?l=cust-a") $(code -H "$CT" "$U/label?l=cust-a") $(
	code "$U/label?l=cust-a&token=$CUST_TOKEN")" "a customer token opens its label (Bearer, ?token=)"
assert_eq "200" "$(code -u "x:$CUST_TOKEN" "$U/api/label?l=cust-a")" "... and as basic auth's password"
assert_eq "403 403 403 403" "$(code -H "$CT" "$U/api/label?l=cust-d") $(code -H "$CT" "$U/label?l=cust-d") $(
	code -H "$CT" "$U/api/overview") $(code "$U/api/label?l=cust-e&token=$CUST_TOKEN")" \
	"... and nothing else: 403"
assert_eq "303 /label?l=cust-a" "$(inns "$W" curl -s -o /dev/null -w '%{http_code} %{redirect_url}' -H "$CT" "$U/" |
	sed 's|http://127.0.0.1:9480||')" "a customer's / is its label's page"
assert_eq "$(echo "$L" | jq -c .cycles)" "$(get -H "$CT" "$U/api/label?l=cust-a" | jq -c .cycles)" \
	"the customer sees the operator's numbers"
assert_eq 401 "$(code -H "Authorization: Bearer wrong-token-0123456789" "$U/api/label?l=cust-a")" \
	"an unknown token: 401"
assert_eq "404 200" "$(code "$U/static/..%2Fnftally.conf") $(code "$U/static/nftally.js")" "static files"
assert_eq "405 200" "$(code -X POST "$U/api/overview") $(code -I "$U/api/overview")" "POST refused, HEAD answered"
serve_stop

OUT=$(inns "$W" "$NFTALLY" -c "$WORK/nftally.conf" --store "$WORK/none.db" serve 2>&1)
assert_eq "1|nftally: $WORK/none.db: no store there (has nftally run written one?)" "$?|$OUT" \
	"no store: refused"

# --- another address than loopback: no token, no start; with one, no data without it ---
OUT=$(inns "$W" "$NFTALLY" -c "$WORK/nftally.conf" serve --listen 198.18.9.1:9480 2>&1)
assert_eq "1|nftally: --listen 198.18.9.1:9480 is not a loopback address: an operator token (--token-file) is required" \
	"$?|$OUT" "no operator token on 198.18.9.1: refused"
echo short > "$WORK/short-token"
OUT=$(inns "$W" "$NFTALLY" -c "$WORK/nftally.conf" serve --listen 198.18.9.1:9480 \
	--token-file "$WORK/short-token" 2>&1)
assert_eq "1|nftally: $WORK/short-token:1: the token must be one line of at least 16 printable characters without blanks" \
	"$?|$OUT" "a short token: refused"
# this time from the config's serve_* keys
V=http://198.18.9.1:9480
{ cat "$WORK/nftally.conf"; printf '%s\n' "serve_listen = 198.18.9.1:9480" \
	"serve_token_file = $WORK/operator-token" "serve_tokens = $WORK/tokens"; } > "$WORK/keys.conf"
SERVE_READY_CURL="-u op:$OP_TOKEN" serve_start "$W" "$V" -c "$WORK/keys.conf" --at "@$AT"
assert_eq 0 $? "serve on 198.18.9.1 with an operator token (serve_listen, serve_token_file)"
assert_eq "401 401 401" "$(code "$V/") $(code "$V/api/overview") $(code "$V/api/label?l=cust-a")" \
	"no token: 401 everywhere"
assert_eq "" "$(get "$V/api/overview" | grep -o 315000)" "... and no number"
assert_eq "$(echo "$OV" | jq -c .labels)" "$(get -u "op:$OP_TOKEN" "$V/api/overview?per_page=1000" |
	jq -c .labels)" "the operator's token (basic auth) sees the overview"
assert_eq "200 403" "$(code -H "$CT" "$V/api/label?l=cust-a") $(code -H "$CT" "$V/api/label?l=cust-d")" \
	"a customer token there too: its label only"
serve_stop

# --- HTTPS ---
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
	serve_start "$W" https://127.0.0.1:9443 -c "$WORK/nftally.conf" --at "@$AT" \
		--listen 127.0.0.1:9443 --tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem"
	assert_eq 0 $? "serve with a certificate"
	assert_eq "$(echo "$OV" | jq -c '.labels[0].current')" "$(get --cacert "$WORK/cert.pem" \
		--resolve localhost:9443:127.0.0.1 https://localhost:9443/api/overview | jq -c '.labels[0].current')" \
		"the overview over HTTPS"
	assert_eq 000 "$(code http://127.0.0.1:9443/api/overview)" "no plain HTTP on the HTTPS port"
	serve_stop
else
	skip_or_fail "openssl is needed for the HTTPS part"
fi
assert_eq "" "$(grep -v '^nftally: serving' "$WORK/serve.err")" "serve said nothing else"
finish
