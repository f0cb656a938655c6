#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Accounting policy with real traffic through the router: excluded peers are
# never counted (IPv4 and IPv6, both directions); traffic inside a group is
# not counted while its traffic with the outside is, under the group's label;
# the wire-byte overhead is added per packet to deltas and dumps; a bad
# policy in the config changes nothing.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
# More client addresses: inside and outside the excluded prefixes and a group.
for a in 198.18.1.100/24 198.18.1.70/24; do inns "$C" ip addr add "$a" dev c0; done
inns "$C" ip addr add 2001:db8:1::100/64 dev c0 nodad
CM=$(mac "$C" c0)
for a in 198.18.1.100 198.18.1.70 2001:db8:1::100; do pin "$R" "$a" "$CM" r0; done
cat >> "$WORK/nftally.conf" <<'CONF'
exclude = "198.18.1.0/28 2001:db8:1::/124"
overhead = 14
CONF
cat > "$WORK/targets" <<'T'
vm      198.18.2.2 2001:db8:2::2
@tenant 198.18.4.0/24 198.18.1.64/28
T
out="$WORK/run.json"
start_run "$out"
# vm: from an excluded client (not counted) and from another one (counted)
send "$C" 198.18.2.2 100 10 198.18.1.2
send "$C" 198.18.2.2 100 7 198.18.1.100
send "$S" 198.18.1.2 200 5 198.18.2.2
send "$S" 198.18.1.100 200 3 198.18.2.2
send "$C" 2001:db8:2::2 50 4 2001:db8:1::2
send "$C" 2001:db8:2::2 50 6 2001:db8:1::100
send "$S" 2001:db8:1::2 60 8 2001:db8:2::2
send "$S" 2001:db8:1::100 60 2 2001:db8:2::2
# tenant: inside the group (198.18.1.70 <-> 198.18.4.1) and with the outside
send "$C" 198.18.4.1 300 9 198.18.1.70
send "$S" 198.18.1.70 300 11 198.18.4.1
send "$C" 198.18.4.2 400 4 198.18.1.100
send "$S" 198.18.1.100 40 12 198.18.4.2
sleep 1.3
stop_run; assert_eq 0 $? "run exits 0"
W=14
assert_eq "$((7 * (128 + W)))" "$(sum_field "$out" 198.18.2.2 in_bytes)" \
	"vm in: only the client outside the exclusion, 14 bytes a packet added"
assert_eq 7 "$(sum_field "$out" 198.18.2.2 in_packets)" "vm in packets"
assert_eq "$((3 * (228 + W)))" "$(sum_field "$out" 198.18.2.2 out_bytes)" "vm out bytes"
assert_eq "$((6 * (98 + W)))" "$(sum_field "$out" 2001:db8:2::2 in_bytes)" \
	"vm IPv6 in: the excluded IPv6 client is not counted"
assert_eq "$((2 * (108 + W)))" "$(sum_field "$out" 2001:db8:2::2 out_bytes)" "vm IPv6 out bytes"
assert_eq "$((4 * (428 + W)))" "$(sum_field "$out" 198.18.4.0/24 in_bytes)" \
	"group in: only traffic from outside the group"
assert_eq "$((12 * (68 + W)))" "$(sum_field "$out" 198.18.4.0/24 out_bytes)" \
	"group out: only traffic to outside the group"
assert_eq "0 0" "$(sum_field "$out" 198.18.1.64/28 in_bytes) $(sum_field "$out" 198.18.1.64/28 out_bytes)" \
	"the group's client-side member exchanged traffic only inside the group"
assert_eq "tenant" "$(jq -r 'select(.addr == "198.18.1.64/28") | .label' "$out" | sort -u)" \
	"group members report under the group's label"
# Everything was sent: the router forwarded what was not counted.
assert_eq $((10 + 7 + 9 + 4)) "$(rx_packets "$S" rx4)" "server received every IPv4 packet"
D=$(nftally_r dump)
assert_eq "$((7 * (128 + W)))" "$(echo "$D" | jq -r 'select(.addr == "198.18.2.2") | .in_bytes')" \
	"dump adds the overhead too"

# A bad policy is refused with file and line, and the table stays.
BEFORE=$(inns "$R" nft list table inet nftally)
bad_conf() { # LINE WANT
	write_config 1
	echo "$1" >> "$WORK/nftally.conf"
	nftally_r apply 2> "$WORK/err"
	assert_eq "1 nftally: $WORK/nftally.conf:6: $2" "$? $(cat "$WORK/err")" "refused: $1"
}
bad_conf 'exclude = "10.0.0.0/8 10.1.0.0/16"' "exclude: 10.1.0.0/16 overlaps 10.0.0.0/8"
bad_conf 'exclude = "10.0.0.1/8"' "exclude: host bits set in prefix '10.0.0.1/8'"
bad_conf 'exclude = ";flush"' "exclude: bad address ';flush'"
bad_conf 'interfaces = "eth0 e;th1"' "bad interface name 'e;th1' (1 to 15 of a-z, A-Z, 0-9, _ . @ + -)"
bad_conf 'interfaces = abcdefghijklmnop' "bad interface name 'abcdefghijklmnop' (1 to 15 of a-z, A-Z, 0-9, _ . @ + -)"
bad_conf 'overhead = 1001' "bad overhead '1001' (bytes per packet, 0 to 1000)"
printf '@g 198.18.4.0/24\ng 198.18.5.1\n' > "$WORK/targets"
write_config 1
nftally_r apply 2> "$WORK/err"
assert_eq "1 nftally: $WORK/targets:2: label 'g' is not a group (@) here but is one on line 1" \
	"$? $(cat "$WORK/err")" "a label that is a group on one line only"
assert_eq "$BEFORE" "$(inns "$R" nft list table inet nftally)" "the table stayed as it was"
finish
