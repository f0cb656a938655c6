#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The gateway template on a NAT router, as on an OpenStack network node: the
# floating address 198.18.9.1 is translated to the server's 198.18.2.2 by
# DNAT (in) and SNAT (out).  Both directions are billed to the floating
# address, exactly; the private address counts nothing.  With
# `interfaces = r0` (the uplink) a hairpin from the inside is not billed, and
# so with the wildcard `r0*` (nft's iifname "r0*") next to an exact name.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
echo "template = gateway" >> "$WORK/nftally.conf"
inns "$R" nft -f - <<'NFT'
table ip nat {
	chain pre {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 198.18.9.1 dnat to 198.18.2.2
	}
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 198.18.2.2 oif "r0" snat to 198.18.9.1
		ip saddr 198.18.2.2 ip daddr 198.18.2.2 snat to 198.18.2.1
	}
}
NFT
printf 'floating 198.18.9.1\nprivate 198.18.2.2\nvm6 2001:db8:2::2\n' > "$WORK/targets"
out="$WORK/run.json"
start_run "$out"
send "$C" 198.18.9.1 100 10 198.18.1.2   # in, DNAT to the server
send "$S" 198.18.1.2 200 6 198.18.2.2    # out, SNAT to the floating address
send "$C" 2001:db8:2::2 50 4 2001:db8:1::2 # IPv6, routed without NAT
send "$S" 2001:db8:1::2 60 3 2001:db8:2::2
sleep 1.3
stop_run; assert_eq 0 $? "run exits 0"
assert_eq 10 "$(rx_packets "$S" rx4)" "the server received the DNATed packets"
assert_eq 6 "$(rx_packets "$C" rx4)" "the client received the SNATed packets"
assert_eq "$((10 * 128)) 10" \
	"$(sum_field "$out" 198.18.9.1 in_bytes) $(sum_field "$out" 198.18.9.1 in_packets)" \
	"in is billed to the floating address (before DNAT)"
assert_eq "$((6 * 228)) 6" \
	"$(sum_field "$out" 198.18.9.1 out_bytes) $(sum_field "$out" 198.18.9.1 out_packets)" \
	"out is billed to the floating address (after SNAT)"
assert_eq "0 0" "$(sum_field "$out" 198.18.2.2 in_bytes) $(sum_field "$out" 198.18.2.2 out_bytes)" \
	"the private address counts nothing"
assert_eq "$((4 * 98)) $((3 * 108))" \
	"$(sum_field "$out" 2001:db8:2::2 in_bytes) $(sum_field "$out" 2001:db8:2::2 out_bytes)" \
	"IPv6 through the gateway"
assert_eq 1 "$(inns "$R" nft list chain inet nftally prerouting | grep -cE 'hook prerouting priority (-150|mangle);')" \
	"in is counted before dstnat (-100)"
assert_eq 1 "$(inns "$R" nft list chain inet nftally postrouting | grep -cE 'hook postrouting priority (150|srcnat \+ 50);')" \
	"out is counted after srcnat (100)"

# Only the uplink: a hairpin from the server to its own floating address
# enters through r1 and is not billed; the client's traffic still is.
echo "interfaces = r0" >> "$WORK/nftally.conf"
out="$WORK/run2.json"
start_run "$out"
send "$S" 198.18.9.1 100 5 198.18.2.2
send "$C" 198.18.9.1 100 2 198.18.1.2
sleep 1.3
stop_run
assert_eq "$((2 * 128)) 2" \
	"$(sum_field "$out" 198.18.9.1 in_bytes) $(sum_field "$out" 198.18.9.1 in_packets)" \
	"with interfaces = r0 only what entered through r0 is billed"
assert_eq 17 "$(rx_packets "$S" rx4)" "the hairpin reached the server"

# A wildcard is a condition of the early return (nft 0.9.3 has no wildcards
# in sets), the exact name stays in the set: the same billing as r0 alone.
GOLDEN="${SRCDIR:-$(dirname "$0")/../..}/tests/golden/gateway-wild.nft"
inns "$R" nft -c -f "$GOLDEN"
assert_eq 0 $? "the kernel takes the golden ruleset with wildcard interfaces"
sed -i '/^interfaces/d' "$WORK/nftally.conf"
echo "interfaces = x9 r0*" >> "$WORK/nftally.conf"
out="$WORK/run3.json"
start_run "$out"
assert_eq 1 "$(inns "$R" nft list chain inet nftally account_in |
	grep -c 'iifname != @ifaces iifname != "r0\*" return')" "the rule of interfaces = x9 r0*"
send "$S" 198.18.9.1 100 4 198.18.2.2   # the hairpin enters through r1
send "$C" 198.18.9.1 100 3 198.18.1.2   # enters through r0
send "$S" 198.18.1.2 200 2 198.18.2.2   # leaves through r0
sleep 1.3
stop_run
assert_eq "$((3 * 128)) 3 $((2 * 228)) 2" \
	"$(sum_field "$out" 198.18.9.1 in_bytes) $(sum_field "$out" 198.18.9.1 in_packets) $(sum_field "$out" 198.18.9.1 out_bytes) $(sum_field "$out" 198.18.9.1 out_packets)" \
	"with interfaces = x9 r0* only what went through r0 is billed"
assert_eq $((17 + 4 + 3)) "$(rx_packets "$S" rx4)" "the server received the hairpin and the DNATed packets"
assert_eq $((6 + 2)) "$(rx_packets "$C" rx4)" "the client received the SNATed packets"
finish
