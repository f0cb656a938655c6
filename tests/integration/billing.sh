#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Billing (docs/billing.md).  1. Real traffic through a run of interval 1
# in several reports: the 5-minute samples sum to what was sent, and
# `report --cycle current` with each --bill policy, per-label cycles (a
# cycles file), --all, --by 5min and --p95 (at a fixed --at, checked
# against the definition recomputed here from the samples) match exactly.
# 2. A store filled with known reports through the store API (billfill):
# the 95th percentile of a partial cycle, a whole cycle with missing slots,
# each --bill policy per slot, a label's own cycle in another zone, and
# --units, all to the byte and bit/s.
. "$(dirname "$0")/lib.sh"
need
command -v sqlite3 >/dev/null || skip_or_fail "billing tests need sqlite3"
BILLFILL=${BILLFILL:-$(dirname "$0")/../../build/tests/billfill}
[ -x "$BILLFILL" ] || skip_or_fail "no billfill at $BILLFILL"

# --- 1. real traffic ---
setup_topology
write_config 1
cat >> "$WORK/nftally.conf" <<CONF
timezone = UTC
cycle_day = 1
cycles = $WORK/cycles
CONF
printf '%s\n' "# label day zone" "vm-b 15 America/New_York" > "$WORK/cycles"
cat > "$WORK/targets" <<'T'
vm-a    198.18.2.2
vm-b    2001:db8:2::2
vm-c    198.18.4.1
T
DB="$WORK/state/nftally.db"
A_IN=0 A_OUT=0 B_IN=0
traffic() { # K
	send "$C" 198.18.2.2 100 $((10 * $1)) 198.18.1.2
	send "$S" 198.18.1.2 200 $((5 * $1)) 198.18.2.2
	send "$C" 2001:db8:2::2 80 $((9 * $1)) 2001:db8:1::2
	A_IN=$((A_IN + 128 * 10 * $1)) A_OUT=$((A_OUT + 228 * 5 * $1))
	B_IN=$((B_IN + 128 * 9 * $1))
}
start_run "$WORK/r.json"
for k in 1 2 3; do
	traffic $k
	wait_seq_after "$WORK/r.json"
done
sleep 1.2
stop_run; assert_eq 0 $? "run exits 0"
NOW=$(date +%s)
rep() { nftally_r report "$@"; }
q() { sqlite3 "$DB" "$1"; }

assert_eq "$A_IN $A_OUT" "$(q "SELECT sum(in_bytes) || ' ' || sum(out_bytes) FROM samples
	JOIN series s ON s.id = series WHERE label = 'vm-a'")" "vm-a's samples sum to what was sent"
assert_eq "$B_IN" "$(q "SELECT sum(in_bytes) FROM samples JOIN series s ON s.id = series
	WHERE label = 'vm-b'")" "vm-b's samples"
assert_eq 0 "$(q "SELECT count(*) FROM samples WHERE t % 300 != 0")" "samples on the 5-minute grid"
assert_eq 4 "$(q "SELECT value FROM meta WHERE key = 'schema'")" "schema 4"
assert_eq "$A_IN" "$(rep --by 5min --format json --label vm-a | jq -s 'map(.in_bytes) | add')" \
	"--by 5min sums to what was sent"

# each --bill policy over the current cycle
field() { jq -r --arg l "$1" --arg f "$2" 'select(.label == $l) | .[$f]'; }
MAX=$((A_IN > A_OUT ? A_IN : A_OUT))
for pol in "sum $((A_IN + A_OUT))" "max $MAX" "in $A_IN" "out $A_OUT"; do
	set -- $pol
	assert_eq "$2" "$(rep --cycle current --bill "$1" --format json --at "@$NOW" |
		field vm-a billed_bytes)" "vm-a --cycle current --bill $1"
done
J=$(rep --cycle current --bill sum --format json --at "@$NOW")
assert_eq "$B_IN" "$(echo "$J" | field vm-b billed_bytes)" "vm-b --cycle current --bill sum"
# vm-b's cycle: the 15th at 00:00 in New York; vm-a's the 1st, UTC
START=$(echo "$J" | field vm-b cycle_start) END=$(echo "$J" | field vm-b cycle_end)
LAST=$(TZ=America/New_York date -d "@$START" +%Y-%m-01)
DIM=$(TZ=America/New_York date -d "$LAST +1 month -1 day" +%d)
WANT_DAY=$((DIM < 15 ? DIM : 15))
assert_eq "$WANT_DAY 00:00:00 1" "$(TZ=America/New_York date -d "@$START" '+%-d %T') $(
	[ "$START" -le "$NOW" ] && [ "$NOW" -lt "$END" ] && echo 1)" \
	"vm-b's cycle starts on the 15th, New York time, and holds now"
START=$(echo "$J" | field vm-a cycle_start)
assert_eq "01 00:00:00" "$(TZ=UTC date -d "@$START" '+%d %T')" "vm-a's cycle: the 1st, UTC"
# --all: vm-c (targets file, no traffic) with zeros; the previous cycle all zeros
assert_eq "0 0" "$(rep --cycle current --all --format json --at "@$NOW" |
	jq -r 'select(.label == "vm-c") | "\(.in_bytes) \(.out_bytes)"')" "--all lists vm-c with zeros"
assert_eq "" "$(rep --cycle previous --format json --at "@$NOW")" "the previous cycle: nothing"
assert_eq "vm-a 0 vm-b 0 vm-c 0" "$(rep --cycle previous --all --format json --at "@$NOW" |
	jq -r '"\(.label) \(.in_bytes)"' | xargs)" "the previous cycle with --all: zeros"
# --units: the table in kB, three decimals (PERIOD HOST LABEL IN kB IN_PKTS ...)
KB=$(awk -v b="$A_IN" 'BEGIN { printf "%.3f kB", b / 1000 }')
assert_eq "$KB" "$(rep --cycle current --units kB --label vm-a --at "@$NOW" |
	awk 'NR == 2 { print $4, $5 }')" "--units kB"

# --p95 at NOW, against the definition: N slots of the cycle ended by NOW,
# k = ceil(0.95 N), the k-th smallest (empty slots 0)
p95_want() { # LABEL COLUMN: bytes of the k-th smallest slot
	local start
	start=$(rep --cycle current --format json --at "@$NOW" | field "$1" cycle_start)
	q "SELECT sum($2) FROM samples JOIN series s ON s.id = series WHERE label = '$1'
		AND t >= $start AND t + 300 <= $NOW GROUP BY t" | sort -n |
	awk -v n=$(( (NOW - start) / 300 )) '{ v[NR] = $1 } END {
		k = int((95 * n + 99) / 100); z = n - NR
		print (k <= z ? 0 : v[k - z]) }'
}
bps() { echo $(( ($1 * 8 + 150) / 300 )); }
P=$(rep --p95 --format json --at "@$NOW")
for l in vm-a vm-b; do
	assert_eq "$(bps "$(p95_want $l in_bytes)") $(bps "$(p95_want $l out_bytes)")" \
		"$(echo "$P" | jq -r --arg l $l 'select(.label == $l) | "\(.in_p95_bps) \(.out_p95_bps)"')" \
		"$l --p95 as defined"
done

# --- 2. a store of known reports ---
T0=1767225600 # 2026-01-01 00:00 UTC
F="$WORK/known.txt"
{
	# cust-a, two addresses, slots 0..19 of January: a1 in 1000 (i + 1),
	# out 1000 (20 - i); a2 half of that in, nothing out.  Per slot the
	# label's in is 1500 (i + 1), out 1000 (20 - i).
	for i in $(seq 0 19); do
		t=$((T0 + 300 * i + 300))
		echo "$t cust-a 198.18.0.1 $((1000 * (i + 1))) $((1000 * (20 - i)))"
		echo "$t cust-a 198.18.0.2 $((500 * (i + 1))) 0"
	done
	# cust-b, own cycle: the 15th, Europe/Berlin: 2026-01-14 23:00Z.  One
	# report ending 22:58Z (December's cycle), one 23:04Z (January's)
	echo "$((T0 + 13 * 86400 + 82680)) cust-b 198.18.0.3 700 70"
	echo "$((T0 + 13 * 86400 + 83040)) cust-b 198.18.0.3 900 90"
	# cust-d in February (a whole cycle, 28 days = 8064 slots): 500
	# slots of 1000 j bytes (j = 1..500), each its own slot from the start
	for j in $(seq 1 500); do
		echo "$((T0 + 31 * 86400 + 300 * j)) cust-d 198.18.0.4 $((1000 * j)) 0"
	done
} > "$F"
cat > "$WORK/known.conf" <<CONF
store = $WORK/known.db
state_dir = $WORK/state
targets = $WORK/known-targets
timezone = UTC
cycles = $WORK/known-cycles
CONF
printf '%s\n' "cust-b 15 Europe/Berlin" > "$WORK/known-cycles"
printf '%s\n' "cust-a 198.18.0.1 198.18.0.2" "cust-c 198.18.0.9" > "$WORK/known-targets"
"$BILLFILL" "$WORK/known.db" node1 < "$F"
assert_eq 0 $? "billfill"
krep() { "$NFTALLY" -c "$WORK/known.conf" report "$@"; }
# the partial cycle at T0 + 6000: N = 20 slots ended, k = ceil(19) = 19.
# in: 1500..30000, the 19th 28500 -> 28500 * 8 / 300 = 760 bit/s.
# out: 1000..20000, the 19th 19000 -> 506.67 -> 507.
# sum: 1500(i+1) + 1000(20-i) = 21500 + 500 i, the 19th (i = 18) 30500 -> 813.33 -> 813.
# max: max(1500(i+1), 1000(20-i)): 20000,19000,18000,17000,16000,15000,14000,13500 (i=8:
#   13500 vs 12000),15000,...: sorted, the 19th is the second largest, 28500 -> 760.
AT="--at @$((T0 + 6000))"
for pol in "sum 813" "max 760" "in 760" "out 507"; do
	set -- $pol
	assert_eq "cust-a 20 19 760 507 $2" "$(krep --p95 --cycle 2026-01 --bill "$1" --format json $AT |
		jq -r 'select(.label == "cust-a") | "\(.label) \(.slots) \(.rank) \(.in_p95_bps) \(.out_p95_bps) \(.bill_p95_bps)"')" \
		"cust-a --p95 --bill $1 of a partial cycle"
done
# per address: a1 in 1000..20000 -> 19000 -> 507; a2 500..10000 -> 9500 -> 253.33 -> 253
assert_eq "198.18.0.1 507 507,198.18.0.2 253 0" "$(krep --p95 --cycle 2026-01 --per-addr --format json $AT |
	jq -r 'select(.label == "cust-a") | "\(.addr) \(.in_p95_bps) \(.out_p95_bps)"' | paste -sd,)" \
	"cust-a --p95 --per-addr"
# the slot in progress is left out: at T0 + 6299 still 20 slots; at +5999, 19 slots,
# k = 19: the largest of slots 0..18 (in 28500)
assert_eq "20 28500" "$(krep --p95 --cycle 2026-01 --format json --at @$((T0 + 6299)) |
	jq -r 'select(.label == "cust-a") | "\(.slots) \(.in_p95_bytes)"')" "at +6299: 20 slots"
assert_eq "19 28500" "$(krep --p95 --cycle 2026-01 --format json --at @$((T0 + 5999)) |
	jq -r 'select(.label == "cust-a") | "\(.slots) \(.in_p95_bytes)"')" "at +5999: 19 slots"
# February, whole: N = 8064, k = ceil(7660.8) = 7661, 7564 empty slots: the
# 97th smallest of 1000..500000 is 97000 -> 2586.67 -> 2587 bit/s
assert_eq "cust-d 8064 7661 97000 2587" "$(krep --p95 --cycle 2026-02 --format json --at @$((T0 + 90 * 86400)) |
	jq -r 'select(.label == "cust-d") | "\(.label) \(.slots) \(.rank) \(.in_p95_bytes) \(.in_p95_bps)"')" \
	"cust-d --p95 of a whole cycle with empty slots"
# cust-b's January cycle (from the 15th, Berlin) holds the second report only
assert_eq "cust-b 1768431600 1771110000 900 90" "$(krep --cycle 2026-01 --format json |
	jq -r 'select(.label == "cust-b") | "\(.label) \(.cycle_start) \(.cycle_end) \(.in_bytes) \(.out_bytes)"')" \
	"cust-b's own cycle"
assert_eq "cust-b 700" "$(krep --cycle 2025-12 --format json |
	jq -r 'select(.label == "cust-b") | "\(.label) \(.in_bytes)"')" "cust-b's December cycle"
# totals of January for cust-a: in 1500 * 210 = 315000, out 1000 * 210 = 210000
assert_eq "2026-01,1767225600,1769904000,node1,,cust-a,315000,40,210000,20,315000
2026-01,1768431600,1771110000,node1,,cust-b,900,1,90,1,900
2026-01,1767225600,1769904000,,,cust-c,0,0,0,0,0
2026-01,1767225600,1769904000,,,cust-d,0,0,0,0,0" \
	"$(krep --cycle 2026-01 --format csv --bill max --all | sed 1d)" "--cycle 2026-01 --all --bill max, CSV"
# --all per month: the labels without a row in a month get one of zeros
# (host and netns empty, so they sort first within the month)
assert_eq "period,host,netns,label,in_bytes,in_packets,out_bytes,out_packets
2026-01,,,cust-c,0,0,0,0
2026-01,,,cust-d,0,0,0,0
2026-01,node1,,cust-a,315000,40,210000,20
2026-01,node1,,cust-b,1600,2,160,2
2026-02,,,cust-a,0,0,0,0
2026-02,,,cust-b,0,0,0,0
2026-02,,,cust-c,0,0,0,0
2026-02,node1,,cust-d,125250000,500,0,0" \
	"$(krep --by month --utc --all --format csv)" "--by month --all"
assert_eq "period,cycle_start,cycle_end,host,netns,label,in_kB,in_packets,out_kB,out_packets,billed_kB
2026-01,1767225600,1769904000,node1,,cust-a,315.000,40,210.000,20,525.000" \
	"$(krep --cycle 2026-01 --format csv --bill sum --units kB --label cust-a)" "--units kB in CSV"
finish
