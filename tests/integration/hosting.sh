#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A hosting node (lib-hosting.sh): routed containers (host routes through
# veths) and bridged guests (ports of the uplink bridge) in one namespace,
# and one nftally run with two accounts there: "containers" (template
# host, targets = routes veth*) and "guests" (template bridge, a targets
# file, only what crosses the uplink port). Exact per address and per
# label, both directions, IPv4 and IPv6; a container's new IP (route
# added) counted 100 ms later; a removed IP drained exactly; one report
# with the per-label totals of both accounts.
#
# With NFTALLY_NETWORK_ONLY=1 only the network is checked, with probe
# tables that mirror the two templates, and the script prints "network
# model ok"; by default nftally's accounts are checked too.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-hosting.sh"
hz_setup
# Bridged frames must not also pass the IP hooks here (br_netfilter); see
# the end of the script for what they do when they do.
BRNF=/proc/sys/net/bridge/bridge-nf-call-iptables
if inns "$HZ_NODE" test -e "$BRNF"; then
	inns "$HZ_NODE" sysctl -qw net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0
fi
hz_ct_create 101 198.18.65.101 2001:db8:65::101
hz_ct_create 102 198.18.65.102 2001:db8:65::102
hz_guest_create 50 vnet0
hz_guest_create 51 vnet1
N=$HZ_NODE UP=$HZ_UP CT101=$(hz_ct 101) CT102=$(hz_ct 102) G50=$(hz_guest 50) G51=$(hz_guest 51)
READY=1
[ -n "${NFTALLY_NETWORK_ONLY:-}" ] && READY=

# What nftally must report, per account, address and direction, and per
# label (the report).
declare -A BYTES PKTS LBYTES LPKTS
declare -A LABEL=([198.18.65.101]=ct101 [198.18.65.111]=ct101 [2001:db8:65::101]=ct101
	[198.18.65.102]=veth102 [198.18.64.50]=guest-50 [2001:db8:64::50]=guest-50
	[198.18.64.51]=guest-51)
bill() { # ACCOUNT ADDR in|out COUNT L3SIZE
	local k="$1|$2|$3" l="${LABEL[$2]}|$3"
	BYTES[$k]=$(( ${BYTES[$k]:-0} + $4 * $5 )); PKTS[$k]=$(( ${PKTS[$k]:-0} + $4 ))
	LBYTES[$l]=$(( ${LBYTES[$l]:-0} + $4 * $5 )); LPKTS[$l]=$(( ${LPKTS[$l]:-0} + $4 ))
}
flow() { # WHAT NS SRC DST PAYLOAD COUNT
	assert_eq "$6" "$(ask "$2" "$3" 0 "$4" "$5" "$6")" "$1: answers"
}

# Probes mirroring the templates: the host template's forward hook at
# priority 20 for the containers, the bridge family's forward hook with
# `interfaces = eth0` for the guests.
CT_ADDRS="198.18.65.101 198.18.65.102 198.18.65.111 2001:db8:65::101"
G_ADDRS="198.18.64.50 198.18.64.51 2001:db8:64::50"
cname() { echo "$1" | tr '.:' '__'; }
probe() { # FAMILY NAME HOOK PRIO IFACE ADDRS...
	local fam=$1 name=$2 hook=$3 prio=$4 ifc=$5 a c m fin="" fout=""; shift 5
	[ -n "$ifc" ] && fin="iifname != \"$ifc\" return;" fout="oifname != \"$ifc\" return;"
	{
		echo "table $fam $name {"
		echo " map in4 { type ipv4_addr : counter; }"; echo " map out4 { type ipv4_addr : counter; }"
		echo " map in6 { type ipv6_addr : counter; }"; echo " map out6 { type ipv6_addr : counter; }"
		echo " chain cin { $fin counter name ip daddr map @in4; counter name ip6 daddr map @in6; }"
		echo " chain cout { $fout counter name ip saddr map @out4; counter name ip6 saddr map @out6; }"
		echo " chain c { type filter hook $hook priority $prio; policy accept; jump cin; jump cout; }"
		echo "}"
		for a in "$@"; do
			c=$(cname "$a"); m=4; case $a in *:*) m=6 ;; esac
			echo "add counter $fam $name i_$c"; echo "add counter $fam $name o_$c"
			echo "add element $fam $name in$m { $a : \"i_$c\" }"
			echo "add element $fam $name out$m { $a : \"o_$c\" }"
		done
	} | inns "$N" nft -f -
}
probe_get() { # FAMILY NAME in|out ADDR -> "BYTES PACKETS"
	inns "$N" nft list counter "$1" "$2" "${3:0:1}_$(cname "$4")" | awk '/packets/ {print $4, $2}'
}
probe inet probe_ct forward 20 "" $CT_ADDRS
probe bridge probe_br forward 0 eth0 $G_ADDRS

if [ -n "$READY" ]; then
	cat > "$WORK/ct-labels" <<LABELS
# exported from vzlist (address label); ct102 has none
198.18.65.101 ct101
198.18.65.111 ct101
2001:db8:65::101 ct101
LABELS
	cat > "$WORK/guests" <<TARGETS
guest-50 198.18.64.50 2001:db8:64::50
guest-51 198.18.64.51
TARGETS
	cat > "$WORK/nftally.conf" <<CONF
host = hostnode-7
interval = 1
state_dir = $WORK/state
store = $WORK/nftally.db

[account containers]
table = nftally_ct
template = host
targets = routes veth*
labels = $WORK/ct-labels

[account guests]
table = nftally_br
template = bridge
interfaces = eth0
targets = file $WORK/guests
CONF
	out="$WORK/run.json"
	RUN_NS=$N start_run "$out"
	assert_eq "1 1" "$(inns "$N" nft list tables | grep -c '^table inet nftally_ct$') $(inns "$N" nft list tables | grep -c '^table bridge nftally_br$')" \
		"both accounts' tables are installed when the run has started"
fi

watch_src "$UP" 198.18.65.101 198.18.65.102 198.18.64.50 198.18.64.51 2001:db8:65::101 2001:db8:64::50 198.18.65.111
watch_src "$CT101" 198.18.64.1 2001:db8:64::1 198.18.64.50
watch_src "$G50" 198.18.64.1 198.18.64.51 198.18.65.101 2001:db8:64::1
watch_src "$G51" 198.18.64.50

flow "upstream to container 101" "$UP" 198.18.64.1 198.18.65.101 100 10
bill containers 198.18.65.101 in 10 128; bill containers 198.18.65.101 out 10 68
flow "container 101 to upstream" "$CT101" 0.0.0.0 198.18.64.1 200 6
bill containers 198.18.65.101 out 6 228; bill containers 198.18.65.101 in 6 88
flow "upstream to container 101, IPv6" "$UP" 2001:db8:64::1 2001:db8:65::101 50 4
bill containers 2001:db8:65::101 in 4 98; bill containers 2001:db8:65::101 out 4 88
flow "container 102 to upstream" "$CT102" 0.0.0.0 198.18.64.1 300 5
bill containers 198.18.65.102 out 5 328; bill containers 198.18.65.102 in 5 88
flow "upstream to guest 50" "$UP" 198.18.64.1 198.18.64.50 150 8
bill guests 198.18.64.50 in 8 178; bill guests 198.18.64.50 out 8 68
flow "guest 51 to upstream" "$G51" 0.0.0.0 198.18.64.1 250 5
bill guests 198.18.64.51 out 5 278; bill guests 198.18.64.51 in 5 88
flow "upstream to guest 50, IPv6" "$UP" 2001:db8:64::1 2001:db8:64::50 60 3
bill guests 2001:db8:64::50 in 3 108; bill guests 2001:db8:64::50 out 3 88
# Guest to guest on the bridge never crosses eth0: not billed.
flow "guest 50 to guest 51 (same bridge)" "$G50" 0.0.0.0 198.18.64.51 70 3
# Container to guest: the node routes it out of br0 itself (bridge
# local-out, not forward: the guests account does not see it); the guest
# answers through its gateway upstream (bridge forward to eth0: billed to
# the guest's out) and upstream routes the answer to the node.
flow "container 101 to guest 50" "$CT101" 0.0.0.0 198.18.64.50 80 2
bill containers 198.18.65.101 out 2 108; bill containers 198.18.65.101 in 2 68
bill guests 198.18.64.50 out 2 68

assert_eq 16 "$(rx_from "$CT101" 198.18.64.1)" "container 101 got upstream's 10 datagrams and 6 answers"
assert_eq 4 "$(rx_from "$CT101" 2001:db8:64::1)" "container 101 got upstream's IPv6 datagrams"
assert_eq 2 "$(rx_from "$CT101" 198.18.64.50)" "container 101 got guest 50's answers"
assert_eq "16 5 3" "$(rx_from "$UP" 198.18.65.101) $(rx_from "$UP" 198.18.65.102) $(rx_from "$UP" 2001:db8:64::50)" \
	"upstream got the containers' and guest 50's traffic"
assert_eq "8 3 2" "$(rx_from "$G50" 198.18.64.1) $(rx_from "$G50" 198.18.64.51) $(rx_from "$G50" 198.18.65.101)" \
	"guest 50 got upstream's, guest 51's answers and container 101's"
assert_eq 3 "$(rx_from "$G51" 198.18.64.50)" "guest 51 got guest 50's datagrams over the bridge"
for k in "${!BYTES[@]}"; do
	IFS='|' read -r acc a d <<< "$k"
	case $acc in containers) t="inet probe_ct" ;; *) t="bridge probe_br" ;; esac
	assert_eq "${BYTES[$k]} ${PKTS[$k]}" "$(probe_get $t "$d" "$a")" "probe ($t): $a $d"
done

# A container's new IP: address and host route, used 100 ms later.
hz_ct_ip_add 101 198.18.65.111
sleep 0.1
flow "upstream to container 101's new IP" "$UP" 198.18.64.1 198.18.65.111 120 7
bill containers 198.18.65.111 in 7 148; bill containers 198.18.65.111 out 7 68
assert_eq "1036 7" "$(probe_get inet probe_ct in 198.18.65.111)" "the probe counted the new IP from its first packet"
assert_eq 7 "$(rx_from "$UP" 198.18.65.111)" "upstream got the answers from the new IP"
# Container 102's IP removed: its last traffic is what was counted before.
hz_ct_ip_del 102 198.18.65.102
assert_eq "" "$(inns "$N" ip route show 198.18.65.102)" "the node no longer routes 198.18.65.102"

# With br_netfilter's bridge-nf-call-iptables=1 (libvirt's and Docker's
# hosts often have it), the IP forward hook also sees bridged frames: guest
# 50's answer to container 101 is counted when the bridge passes it to
# upstream AND when the node routes it back to the container. The host
# template bills it twice; this pins the behaviour the docs describe.
if inns "$N" test -e "$BRNF"; then
	inns "$N" sysctl -qw net.bridge.bridge-nf-call-iptables=1
	flow "container 101 to guest 50 with bridge-nf-call-iptables=1" "$CT101" 0.0.0.0 198.18.64.50 90 2
	bill containers 198.18.65.101 out 2 118; bill containers 198.18.65.101 in 2 68
	bill containers 198.18.65.101 in 2 68   # the bridged copy, seen by forward
	bill guests 198.18.64.50 out 2 68
	inns "$N" sysctl -qw net.bridge.bridge-nf-call-iptables=0
	assert_eq "${BYTES[containers|198.18.65.101|in]} ${PKTS[containers|198.18.65.101|in]}" \
		"$(probe_get inet probe_ct in 198.18.65.101)" "br_netfilter: the answers count twice for container 101"
else
	echo "# br_netfilter is not loaded: its double count is not shown"
fi

network_part_done
for k in "${!BYTES[@]}"; do
	IFS='|' read -r acc a d <<< "$k"
	assert_eq "${BYTES[$k]} ${PKTS[$k]}" \
		"$(jq -rs --arg c "$acc" --arg a "$a" --arg f "$d" \
			'[.[] | select(.addr == $a and .account == $c)] | unique | "\(map(.[$f + "_bytes"]) | add // 0) \(map(.[$f + "_packets"]) | add // 0)"' "$out")" \
		"account $acc: $a $d"
done
assert_eq 0 "$(jq -s '[.[] | select(.addr and (.host != "hostnode-7" or .netns != ""))] | length' "$out")" \
	"every counter line says host hostnode-7 and the daemon's own namespace"
assert_eq "" "$(jq -rs '[.[] | select(.addr and .account == "guests" and (.in_bytes + .out_bytes) > 0
	and (.addr | IN("198.18.64.50", "198.18.64.51", "2001:db8:64::50") | not)) | .addr] | unique | join(" ")' "$out")" \
	"the guests account counted only its targets"
assert_eq "" "$(jq -rs '[.[] | select(.addr and .account == "containers" and (.in_bytes + .out_bytes) > 0
	and (.addr | IN("198.18.65.101", "198.18.65.102", "198.18.65.111", "2001:db8:65::101") | not)) | .addr] | unique | join(" ")' "$out")" \
	"the containers account counted only the routed addresses"
for a in 198.18.65.101 198.18.65.111 198.18.65.102 198.18.64.50; do
	assert_eq "${LABEL[$a]}" "$(jq -rs --arg a "$a" '[.[] | select(.addr == $a)][-1].label' "$out")" "label of $a"
done
# One report over both accounts: the per-label totals.
report=$("$NFTALLY" -c "$WORK/nftally.conf" report --by month --utc --format json)
for l in ct101 veth102 guest-50 guest-51; do
	assert_eq "${LBYTES[$l|in]:-0} ${LBYTES[$l|out]:-0}" \
		"$(echo "$report" | jq -rs --arg l "$l" '[.[] | select(.label == $l)] | "\(map(.in_bytes) | add // 0) \(map(.out_bytes) | add // 0)"')" \
		"report: label $l in and out bytes"
done
finish
