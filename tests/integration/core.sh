#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Core proof: known UDP traffic through a router running nftally, for an
# IPv4, an IPv6 and a prefix target, both directions; dump and run-mode
# deltas equal what was sent to the byte and packet; a foreign table is
# unchanged; re-applying and changing targets keeps the counters of
# addresses that stay; remove deletes only nftally's table.
. "$(dirname "$0")/lib.sh"
need
setup_topology
add_foreign_table
write_config 1
cat > "$WORK/targets" <<'T'
# label  addresses
vm-v4    198.18.2.2
vm-v6    2001:db8:2::2
vm-net   198.18.4.0/24 2001:db8:4::/64
T
ADDRS="198.18.2.2 2001:db8:2::2 198.18.4.0/24 2001:db8:4::/64"
declare -A EIB EIP EOB EOP
reset_expect() { for a in $ADDRS; do EIB[$a]=0 EIP[$a]=0 EOB[$a]=0 EOP[$a]=0; done; }
reset_expect
RX_S4=0 RX_S6=0 RX_C4=0 RX_C6=0

# in: client -> target address; out: target address -> client.
# l3 size = payload + 28 (IPv4) or + 48 (IPv6).
traffic_in() { # TARGET DST PAYLOAD COUNT
	local hdr=28; case $2 in *:*) hdr=48 ;; esac
	send "$C" "$2" "$3" "$4" "$( [ $hdr = 28 ] && echo 198.18.1.2 || echo 2001:db8:1::2)"
	EIB[$1]=$(( ${EIB[$1]} + ($3 + hdr) * $4 )); EIP[$1]=$(( ${EIP[$1]} + $4 ))
	if [ $hdr = 28 ]; then RX_S4=$((RX_S4 + $4)); else RX_S6=$((RX_S6 + $4)); fi
}
traffic_out() { # TARGET SRC PAYLOAD COUNT
	local hdr=28 dst=198.18.1.2; case $2 in *:*) hdr=48 dst=2001:db8:1::2 ;; esac
	send "$S" "$dst" "$3" "$4" "$2"
	EOB[$1]=$(( ${EOB[$1]} + ($3 + hdr) * $4 )); EOP[$1]=$(( ${EOP[$1]} + $4 ))
	if [ $hdr = 28 ]; then RX_C4=$((RX_C4 + $4)); else RX_C6=$((RX_C6 + $4)); fi
}
batch() { # SCALE: a mix over every target and direction
	local k=$1
	traffic_in 198.18.2.2 198.18.2.2 100 $((10 * k))
	traffic_in 198.18.4.0/24 198.18.4.1 200 $((5 * k))
	traffic_in 198.18.4.0/24 198.18.4.2 300 $((3 * k))
	traffic_in 2001:db8:2::2 2001:db8:2::2 150 $((7 * k))
	traffic_in 2001:db8:4::/64 2001:db8:4::1 50 $((4 * k))
	traffic_out 198.18.2.2 198.18.2.2 60 $((6 * k))
	traffic_out 198.18.4.0/24 198.18.4.2 70 $((2 * k))
	traffic_out 2001:db8:2::2 2001:db8:2::2 80 $((9 * k))
	traffic_out 2001:db8:4::/64 2001:db8:4::1 90 $((1 * k))
	traffic_out 2001:db8:4::/64 2001:db8:4::2 1000 $((3 * k))
}
check_lines() { # FILE WHAT: summed counter lines equal the expectations
	for a in $ADDRS; do
		assert_eq "${EIB[$a]}" "$(sum_field "$1" "$a" in_bytes)" "$2 $a in_bytes"
		assert_eq "${EIP[$a]}" "$(sum_field "$1" "$a" in_packets)" "$2 $a in_packets"
		assert_eq "${EOB[$a]}" "$(sum_field "$1" "$a" out_bytes)" "$2 $a out_bytes"
		assert_eq "${EOP[$a]}" "$(sum_field "$1" "$a" out_packets)" "$2 $a out_packets"
	done
}

FOREIGN_BEFORE=$(foreign_snapshot)
echo "$FOREIGN_BEFORE" | grep -q '198.18.9.9' && ok "foreign table present" || bad "foreign table missing"

# --- render changes nothing; apply installs ---
nftally_r render > "$WORK/render.nft" || bad "render failed"
assert_eq "" "$(inns "$R" nft list tables | grep nftally)" "no table after render"
grep -q 'vm-' "$WORK/render.nft" && bad "a label reached nft syntax"
nftally_r apply 2> "$WORK/apply.err"
assert_eq 0 $? "apply exit code"
assert_eq "nftally: table inet nftally installed: 4 addresses (4 new, 0 removed)" \
	"$(cat "$WORK/apply.err")" "apply summary"

# --- dump: cumulative counters equal the traffic ---
batch 1
nftally_r dump > "$WORK/dump1.json"
assert_eq 4 "$(grep -c '"addr"' "$WORK/dump1.json")" "dump lines"
assert_eq "vm-net" "$(jq -r 'select(.addr == "2001:db8:4::/64") | .label' "$WORK/dump1.json")" "prefix label"
assert_eq 1 "$(jq -r 'select(.addr == "198.18.2.2") | .time' "$WORK/dump1.json" |
	grep -cE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$')" "RFC 3339 UTC time"
check_lines "$WORK/dump1.json" dump

# --- apply again: nothing resets ---
nftally_r apply 2>/dev/null
nftally_r dump > "$WORK/dump2.json"
check_lines "$WORK/dump2.json" "dump after re-apply"

# --- run: with no state yet, the deltas of a run start from the counters'
# creation, so they sum to all the traffic ever sent ---
start_run "$WORK/run.json"
batch 2
sleep 1.2
batch 1
sleep 1.2
# Traffic right before SIGTERM is reported by the last read on the way out.
batch 1
stop_run
assert_eq 0 $? "run exit code after SIGTERM"
assert_eq "" "$(cat "$WORK/run.json.err")" "run wrote nothing to stderr"
check_lines "$WORK/run.json" run
TICKS=$(jq -rs '[.[] | select(.addr == "198.18.2.2")] | length' "$WORK/run.json")
[ "$TICKS" -ge 3 ] && ok "run printed $TICKS intervals" || bad "run printed only $TICKS intervals"
# No state yet: the first report counts from the counters' creation and has
# no since; every later one has.
assert_eq "4 1" "$(jq -rs '[.[] | select(.addr != null and .since == null) | .seq] | "\(length) \(unique | join(","))"' "$WORK/run.json")" \
	"only the first report lacks since"
nftally_r dump > "$WORK/dump3.json"
check_lines "$WORK/dump3.json" "dump after run"


# --- topology change through apply: kept counters keep counting ---
# Traffic after the run's last report, to an address about to be removed:
# the next run must still report it.
send "$C" 2001:db8:2::2 20 5 2001:db8:1::2; RX_S6=$((RX_S6 + 5))
cat > "$WORK/targets" <<'T'
vm-v4-renamed 198.18.2.2
vm-net   198.18.4.0/24 2001:db8:4::/64
vm-new   198.18.4.77/32
T
# 198.18.4.77 overlaps 198.18.4.0/24: rejected, nothing changes.
if nftally_r apply 2> "$WORK/apply2.err"; then bad "overlapping targets accepted"; fi
assert_eq "$WORK/targets:3: 198.18.4.77 overlaps 198.18.4.0/24 (line 2)" \
	"$(sed 's/^nftally: //' "$WORK/apply2.err")" "overlap error names file and line"
sed -i 's|198.18.4.77/32|2001:db8:77::1|' "$WORK/targets"
nftally_r apply 2> "$WORK/apply3.err"
assert_eq "nftally: table inet nftally updated: 4 addresses (1 new, 1 removed)
nftally: the removed addresses stopped counting; the next nftally run reports their last bytes and deletes their counters" \
	"$(cat "$WORK/apply3.err")" "apply summary after change"
nftally_r dump > "$WORK/dump4.json"
for a in 198.18.2.2 198.18.4.0/24 2001:db8:4::/64; do
	for f in in_bytes in_packets out_bytes out_packets; do
		assert_eq "$(sum_field "$WORK/dump3.json" "$a" $f)" "$(sum_field "$WORK/dump4.json" "$a" $f)" \
			"$a $f kept across change"
	done
done
assert_eq "vm-v4-renamed" "$(jq -r 'select(.addr == "198.18.2.2") | .label' "$WORK/dump4.json")" "relabel"
assert_eq 0 "$(sum_field "$WORK/dump4.json" 2001:db8:77::1 in_bytes)" "new address starts at 0"
assert_eq "" "$(inns "$R" nft list map inet nftally in6 | grep 2001:db8:2::2)" \
	"removed address no longer counted"
# A run since reported this table: the counters wait for the next run to
# report their last bytes.
assert_eq 2 "$(inns "$R" nft list counters table inet nftally | grep -c 20010db8000200000000000000000002)" \
	"removed address's counters kept for the next run"
send "$C" 2001:db8:2::2 10 4 2001:db8:1::2; RX_S6=$((RX_S6 + 4))
start_run "$WORK/run2.json"
stop_run
assert_eq $((5 * (20 + 48))) "$(sum_field "$WORK/run2.json" 2001:db8:2::2 in_bytes)" \
	"the next run reports the removed address's last bytes, and none sent after removal"
assert_eq 1 "$(jq -rs '[.[] | select(.addr == "2001:db8:2::2")] | length' "$WORK/run2.json")" \
	"the next run drains the removed address once"
assert_eq "" "$(inns "$R" nft list counters table inet nftally | grep 20010db8000200000000000000000002)" \
	"and deletes its counters"

# --- nothing was dropped, the foreign table is untouched ---
assert_eq "$RX_S4" "$(rx_packets "$S" rx4)" "server received every IPv4 packet"
assert_eq "$RX_S6" "$(rx_packets "$S" rx6)" "server received every IPv6 packet"
assert_eq "$RX_C4" "$(rx_packets "$C" rx4)" "client received every IPv4 packet"
assert_eq "$RX_C6" "$(rx_packets "$C" rx6)" "client received every IPv6 packet"
assert_eq "$FOREIGN_BEFORE" "$(foreign_snapshot)" "foreign table unchanged"

# --- remove: last read, then the table goes, nothing else ---
# An address dropped from the file without apply still has counters: remove
# reports it too, with the label the last run knew.
grep -v 'vm-net' "$WORK/targets" > "$WORK/targets.new"; mv "$WORK/targets.new" "$WORK/targets"
# A run reported this table: remove's lines are the last report, the deltas
# since the run's last one, with the next seq.
send "$C" 198.18.2.2 100 3 198.18.1.2; RX_S4=$((RX_S4 + 3))
send "$C" 198.18.4.1 100 2 198.18.1.2; RX_S4=$((RX_S4 + 2))
LASTSEQ=$(jq -s '[.[] | .seq // 0] | max' "$WORK/run2.json")
nftally_r remove > "$WORK/remove.json"
assert_eq 4 "$(grep -c '"addr"' "$WORK/remove.json")" "remove prints final lines"
assert_eq "$((2 * 128)) vm-net $((LASTSEQ + 1))" \
	"$(jq -r 'select(.addr == "198.18.4.0/24") | "\(.in_bytes) \(.label) \(.seq)"' "$WORK/remove.json")" \
	"remove reports counters the targets file no longer names"
assert_eq $((3 * 128)) "$(sum_field "$WORK/remove.json" 198.18.2.2 in_bytes)" "remove reports the last deltas"
assert_eq "" "$(ls "$WORK/state" | grep -e '\.state$' -e '\.pending$')" "remove deletes the run's state"
assert_eq "" "$(inns "$R" nft list tables | grep 'inet nftally')" "table removed"
assert_eq "$FOREIGN_BEFORE" "$(foreign_snapshot)" "foreign table unchanged after remove"
finish
