#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The bridge template: two guests on a Linux bridge in the middle namespace
# (no IP forwarding, no address on the bridge), counted in the bridge
# family exactly, IPv4 and IPv6, both directions; `interfaces` limits the
# count to one port; dump and remove find the bridge table.
. "$(dirname "$0")/lib.sh"
need
for ns in "$C" "$R" "$S"; do
	ip netns add "$ns"
	inns "$ns" ip link set lo up
	inns "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
done
ip link add c0 netns "$C" type veth peer name r0 netns "$R"
ip link add s0 netns "$S" type veth peer name r1 netns "$R"
inns "$R" ip link add br0 type bridge
for p in r0 r1; do inns "$R" ip link set "$p" master br0; inns "$R" ip link set "$p" up; done
inns "$R" ip link set br0 up
inns "$C" ip addr add 198.18.6.2/24 dev c0
inns "$C" ip addr add 2001:db8:6::2/64 dev c0 nodad
inns "$S" ip addr add 198.18.6.3/24 dev s0
inns "$S" ip addr add 2001:db8:6::3/64 dev s0 nodad
inns "$C" ip link set c0 up
inns "$S" ip link set s0 up
CM=$(mac "$C" c0) SM=$(mac "$S" s0)
pin "$C" 198.18.6.3 "$SM" c0; pin "$C" 2001:db8:6::3 "$SM" c0
pin "$S" 198.18.6.2 "$CM" s0; pin "$S" 2001:db8:6::2 "$CM" s0
add_sink "$C"
add_sink "$S"
write_config 1
echo "template = bridge" >> "$WORK/nftally.conf"
printf 'guest-c 198.18.6.2 2001:db8:6::2\nguest-s 198.18.6.3\n' > "$WORK/targets"
out="$WORK/run.json"
start_run "$out"
send "$C" 198.18.6.3 100 10 198.18.6.2
send "$S" 198.18.6.2 200 4 198.18.6.3
send "$C" 2001:db8:6::3 50 6 2001:db8:6::2
send "$S" 2001:db8:6::2 70 3 2001:db8:6::3
sleep 1.3
stop_run; assert_eq 0 $? "run exits 0"
assert_eq 1 "$(inns "$R" nft list tables | grep -c '^table bridge nftally$')" \
	"the table is of family bridge"
assert_eq 0 "$(inns "$R" nft list tables | grep -c 'inet nftally')" "and there is no inet one"
assert_eq "$((10 * 128)) 10" \
	"$(sum_field "$out" 198.18.6.2 out_bytes) $(sum_field "$out" 198.18.6.2 out_packets)" \
	"guest-c out: layer-3 bytes of the bridged packets"
assert_eq "$((4 * 228)) 4" \
	"$(sum_field "$out" 198.18.6.2 in_bytes) $(sum_field "$out" 198.18.6.2 in_packets)" "guest-c in"
assert_eq "$((10 * 128)) $((4 * 228))" \
	"$(sum_field "$out" 198.18.6.3 in_bytes) $(sum_field "$out" 198.18.6.3 out_bytes)" \
	"guest-s in and out"
assert_eq "$((6 * 98)) $((3 * 118))" \
	"$(sum_field "$out" 2001:db8:6::2 out_bytes) $(sum_field "$out" 2001:db8:6::2 in_bytes)" \
	"guest-c IPv6 out and in"
assert_eq "10 4" "$(rx_packets "$S" rx4) $(rx_packets "$C" rx4)" "the bridge passed everything"
# dump finds the bridge table (even with the default template in the config)
write_config 1
assert_eq "$((10 * 128))" "$(nftally_r dump | jq -r 'select(.addr == "198.18.6.3") | .in_bytes')" \
	"dump reads the bridge table"

# Only frames entering through port r0 (from guest c) count as in.
write_config 1
printf 'template = bridge\ninterfaces = r0\n' >> "$WORK/nftally.conf"
out="$WORK/run2.json"
start_run "$out"
send "$C" 198.18.6.3 100 2 198.18.6.2
send "$S" 198.18.6.2 100 5 198.18.6.3
sleep 1.3
stop_run
assert_eq "$((2 * 128)) 0" \
	"$(sum_field "$out" 198.18.6.3 in_bytes) $(sum_field "$out" 198.18.6.2 in_bytes)" \
	"with interfaces = r0, in counts only what entered through r0"
assert_eq "$((5 * 128))" "$(sum_field "$out" 198.18.6.3 out_bytes)" \
	"and out only what left through r0"
write_config 1
nftally_r remove > /dev/null 2> "$WORK/err"
assert_eq "0 " "$? $(cat "$WORK/err")" "remove"
assert_eq "" "$(inns "$R" nft list tables | grep nftally)" "the bridge table is gone"
finish
