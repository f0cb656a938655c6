# SPDX-License-Identifier: GPL-2.0-or-later
# A hosting node for the integration tests (source it after lib.sh): one
# namespace ${PFX}hnode with routed containers and bridged guests, and an
# upstream router.
#
#   up      198.18.64.1/24 2001:db8:64::1/64; routes 198.18.65.0/24 and
#    |      2001:db8:65::/64 to the node
#   eth0    a port of br0 (the uplink NIC, bridged)
#   ${PFX}hnode: br0 198.18.64.2/24 2001:db8:64::2/64, default via up
#    |-- vethID   routed container ${PFX}ctID: IP/32 and IP6/128 on its eth0,
#    |            default via 198.18.65.1 onlink and fe80::1 (the node's
#    |            veth answers for both: pinned); on the node a host route
#    |            IP/32 (IP6/128) dev vethID, as OpenVZ venet/veth-routed
#    |            and routed libvirt guests are wired
#    `-- vnetK    port of br0, bridged guest ${PFX}gK: 198.18.64.K/24,
#                 2001:db8:64::K/64, default via up (198.18.64.1)
#
# Silent: every neighbour pinned, every MAC pinned in br0, no redirects.
# Every container and guest runs an echo (udpflow.py) on port 9998 that
# answers 40 bytes; up answers 60 bytes. Each has a per-source sink.

HZ_NODE="${PFX}hnode" HZ_UP="${PFX}up"
HZ_UP_MAC=02:00:5e:40:00:01 HZ_BR_MAC=02:00:5e:40:00:02 HZ_GW_MAC=02:00:5e:40:00:03
HZ_GUESTS=""

hz_ct() { echo "${PFX}ct$1"; }
hz_guest() { echo "${PFX}g$1"; }
hz_ct_mac() { printf '02:00:5e:41:%02x:%02x\n' $(($1 / 256)) $(($1 % 256)); }
hz_guest_mac() { printf '02:00:5e:42:00:%02x\n' "$1"; }

hz_setup() {
	need
	command -v python3 >/dev/null || skip_or_fail "the hosting model needs python3"
	mkns "$HZ_NODE"; mkns "$HZ_UP"
	local ns
	for ns in "$HZ_NODE" "$HZ_UP"; do
		inns "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
		inns "$ns" sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
	done
	inns "$HZ_NODE" ip link add br0 address "$HZ_BR_MAC" type bridge
	inns "$HZ_NODE" ip link set br0 up
	ip link add eth0 netns "$HZ_UP" address "$HZ_UP_MAC" type veth peer name eth0 netns "$HZ_NODE"
	inns "$HZ_NODE" ip link set eth0 master br0 up
	inns "$HZ_NODE" bridge fdb replace "$HZ_UP_MAC" dev eth0 master static
	inns "$HZ_UP" ip link set eth0 up
	inns "$HZ_UP" ip addr add 198.18.64.1/24 dev eth0
	inns "$HZ_UP" ip addr add 2001:db8:64::1/64 dev eth0 nodad
	inns "$HZ_NODE" ip addr add 198.18.64.2/24 dev br0
	inns "$HZ_NODE" ip addr add 2001:db8:64::2/64 dev br0 nodad
	pin "$HZ_UP" 198.18.64.2 "$HZ_BR_MAC" eth0
	pin "$HZ_UP" 2001:db8:64::2 "$HZ_BR_MAC" eth0
	pin "$HZ_NODE" 198.18.64.1 "$HZ_UP_MAC" br0
	pin "$HZ_NODE" 2001:db8:64::1 "$HZ_UP_MAC" br0
	inns "$HZ_NODE" ip route add default via 198.18.64.1
	inns "$HZ_NODE" ip -6 route add default via 2001:db8:64::1
	inns "$HZ_UP" ip route add 198.18.65.0/24 via 198.18.64.2
	inns "$HZ_UP" ip -6 route add 2001:db8:65::/64 via 2001:db8:64::2
	add_src_sink "$HZ_UP"
	start_echo "$HZ_UP" :: 60
}

# Routed container ID with its first addresses.
hz_ct_create() { # ID IP IP6
	local ct; ct=$(hz_ct "$1")
	mkns "$ct"
	ip link add eth0 netns "$ct" address "$(hz_ct_mac "$1")" type veth \
		peer name "veth$1" netns "$HZ_NODE" address "$HZ_GW_MAC"
	inns "$ct" ip link set eth0 up
	inns "$HZ_NODE" ip link set "veth$1" up
	pin "$ct" 198.18.65.1 "$HZ_GW_MAC" eth0
	pin "$ct" fe80::1 "$HZ_GW_MAC" eth0
	inns "$ct" ip route add 198.18.65.1 dev eth0
	inns "$ct" ip route add default via 198.18.65.1 dev eth0
	inns "$ct" ip -6 route add default via fe80::1 dev eth0
	add_src_sink "$ct"
	start_echo "$ct" :: 40
	hz_ct_ip_add "$1" "$2"
	hz_ct_ip_add "$1" "$3"
}

# An address for container ID: on its eth0, and the node's host route
# through vethID (what vzctl set --ipadd or a routed libvirt hook does).
hz_ct_ip_add() { # ID IP
	local ct len=32 opt=""; ct=$(hz_ct "$1")
	case $2 in *:*) len=128 opt=nodad ;; esac
	inns "$ct" ip addr add "$2/$len" dev eth0 $opt
	pin "$HZ_NODE" "$2" "$(hz_ct_mac "$1")" "veth$1"
	inns "$HZ_NODE" ip route add "$2/$len" dev "veth$1"
}

hz_ct_ip_del() { # ID IP
	local ct len=32; ct=$(hz_ct "$1")
	case $2 in *:*) len=128 ;; esac
	inns "$HZ_NODE" ip route del "$2/$len" dev "veth$1"
	inns "$HZ_NODE" ip neigh del "$2" dev "veth$1"
	inns "$ct" ip addr del "$2/$len" dev eth0
}

# Bridged guest K (198.18.64.K, 2001:db8:64::K) on port vnetN of br0,
# known to the upstream router, the node and the other guests.
hz_guest_create() { # K PORT
	local g; g=$(hz_guest "$1")
	mkns "$g"
	ip link add eth0 netns "$g" address "$(hz_guest_mac "$1")" type veth peer name "$2" netns "$HZ_NODE"
	inns "$HZ_NODE" ip link set "$2" master br0 up
	inns "$HZ_NODE" bridge fdb replace "$(hz_guest_mac "$1")" dev "$2" master static
	inns "$g" ip link set eth0 up
	inns "$g" ip addr add "198.18.64.$1/24" dev eth0
	inns "$g" ip addr add "2001:db8:64::$1/64" dev eth0 nodad
	pin "$g" 198.18.64.1 "$HZ_UP_MAC" eth0
	pin "$g" 2001:db8:64::1 "$HZ_UP_MAC" eth0
	inns "$g" ip route add default via 198.18.64.1
	inns "$g" ip -6 route add default via 2001:db8:64::1
	pin "$HZ_UP" "198.18.64.$1" "$(hz_guest_mac "$1")" eth0
	pin "$HZ_UP" "2001:db8:64::$1" "$(hz_guest_mac "$1")" eth0
	pin "$HZ_NODE" "198.18.64.$1" "$(hz_guest_mac "$1")" br0
	pin "$HZ_NODE" "2001:db8:64::$1" "$(hz_guest_mac "$1")" br0
	local other
	for other in $HZ_GUESTS; do
		pin "$g" "198.18.64.$other" "$(hz_guest_mac "$other")" eth0
		pin "$(hz_guest "$other")" "198.18.64.$1" "$(hz_guest_mac "$1")" eth0
	done
	HZ_GUESTS="$HZ_GUESTS $1"
	add_src_sink "$g"
	start_echo "$g" :: 40
}
