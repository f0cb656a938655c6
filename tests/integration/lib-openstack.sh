# SPDX-License-Identifier: GPL-2.0-or-later
# An OpenStack network node with legacy Neutron routers, built of network
# namespaces for the integration tests (source it after lib.sh). Each router
# is a namespace ${PFX}qrouter-UUID with a gateway port qg-... on the
# provider network and a port qr-... on its tenant network, NATed with
# iptables-legacy the way neutron-l3-agent does it for a legacy router.
#
#   ext  198.18.0.1/24 2001:db8:e::1/64, 169.254.169.254/32 (upstream)
#    |   br-ex, a bridge in ${PFX}node (the network node's own namespace)
#   qg-  gateway IP 198.18.0.N0/24 2001:db8:e::N0/64, floating IPs /32
#   ${PFX}qrouter-UUID(N)  (iptables-legacy nat, mangle, filter)
#   qr-  198.19.N.1/24 2001:db8:N::1/64
#    |   brq-netN, a bridge in ${PFX}node (the tenant network)
#   vm-N-1 198.19.N.10, vm-N-2 198.19.N.11 (2001:db8:N::10, ::11)
#
# Router N's FIP (os_router gives one to vm-N-1) is 198.18.0.10N. Every
# address on the two segments is pinned in every neighbour table
# (Neutron's gratuitous ARP, made silent) and every port's MAC in the
# bridge's forwarding table. Neutron ports have fixed MACs (fa:16:3e:...),
# so a router created again under its name answers on the same MACs.
# IPv6 is routed, not NATed (as in Neutron): ext routes 2001:db8:N::/64 to
# router N's 2001:db8:e::N0.
#
# Every VM runs an echo (udpflow.py) on port 9998 answering 40 bytes; ext
# answers 60 bytes on 198.18.0.1 and on 169.254.169.254. Every VM, ext and
# router has a per-source sink (add_src_sink; port 9999 is dropped).
#
# State of the model (which FIP is NATed to which VM, which namespace is a
# member of the provider segment) lives in $OS_DIR, so a router deleted and
# created again comes back with its FIPs, as the l3-agent's resync does.

OS_NODE="${PFX}node" OS_EXT="${PFX}ext"
OS_DIR="$WORK/os"
OS_EXT_MAC=fa:16:3e:00:00:01
IPT=iptables-legacy

# Deterministic "random" hex of LEN digits for router N, so names look like
# Neutron's and a router created again gets the same ones.
os_hex() { # N SALT LEN
	printf 'router %s %s' "$1" "$2" | md5sum | cut -c1-"$3"
}
os_uuid() { echo "$(os_hex "$1" 1 8)-$(os_hex "$1" 2 4)-4$(os_hex "$1" 3 3)-a$(os_hex "$1" 4 3)-$(os_hex "$1" 5 12)"; }
os_ns() { echo "${PFX}qrouter-$(os_uuid "$1")"; }
os_qg() { echo "qg-$(os_hex "$1" 6 8)-$(os_hex "$1" 7 2)"; }
os_qr() { echo "qr-$(os_hex "$1" 8 8)-$(os_hex "$1" 9 2)"; }
os_tap() { echo "tap${1#q?-}"; }          # the node's side of a qg-/qr- veth
os_gw() { echo "198.18.0.$(($1 * 10))"; }
os_gw6() { echo "2001:db8:e::$(($1 * 10))"; }
os_fip() { echo "198.18.0.$((100 + $1))"; }
os_vm() { echo "${PFX}vm-$1-$2"; }
os_vm_ip() { echo "198.19.$1.$((9 + $2))"; }
os_vm_ip6() { echo "2001:db8:$1::$((9 + $2))"; }
os_mac() { printf 'fa:16:3e:%02x:%02x:%02x\n' "$1" "$2" "$3"; } # N KIND K
os_qg_mac() { os_mac "$1" 0 1; }
os_qr_mac() { os_mac "$1" 0 2; }
os_vm_mac() { os_mac "$1" 1 "$2"; }

ipt() { local ns=$1; shift; inns "$ns" "$IPT" -w "$@"; }

# The provider segment: every member pins every registered address that is
# not its own (the member's MAC tells which are its own).
os_ext_join() { # NS IFACE MAC
	echo "$1 $2 $3" >> "$OS_DIR/ext-members"
	local ip mac
	while read -r ip mac; do
		[ "$mac" = "$3" ] || pin "$1" "$ip" "$mac" "$2"
	done < "$OS_DIR/ext-addrs"
}
os_ext_leave() { # NS
	sed -i "\\|^$1 |d" "$OS_DIR/ext-members"
}
os_ext_addr() { # IP MAC: register (or move) an address and pin it everywhere
	sed -i "\\|^$1 |d" "$OS_DIR/ext-addrs"
	echo "$1 $2" >> "$OS_DIR/ext-addrs"
	local ns ifc mac
	while read -r ns ifc mac; do
		[ "$mac" = "$2" ] || pin "$ns" "$1" "$2" "$ifc"
	done < "$OS_DIR/ext-members"
}
os_ext_addr_del() { # IP
	sed -i "\\|^$1 |d" "$OS_DIR/ext-addrs"
	local ns ifc mac
	while read -r ns ifc mac; do
		inns "$ns" ip neigh del "$1" dev "$ifc" 2>/dev/null
	done < "$OS_DIR/ext-members"
	return 0
}
# Every address answered by MAC is gone (its router was deleted): the
# neighbours send to it into the void (a MAC no port has; the bridge floods
# and every port drops it) until it is announced again. Not forgetting it
# would let ARP resolve it at a moment of the new router's choosing, and
# the queued packets would arrive before anyone expected the address;
# keeping the old MAC would bind the first packets to a FIP to "no NAT" in
# conntrack before the new router has the DNAT rule.
OS_VOID_MAC=02:00:00:00:de:ad
os_ext_forget() { # MAC
	local ip
	for ip in $(awk -v m="$1" '$2 == m {print $1}' "$OS_DIR/ext-addrs"); do
		os_ext_addr "$ip" "$OS_VOID_MAC"
	done
}

# A veth from NS (IFACE, MAC) to bridge BR of the node (port PORT), its MAC
# pinned in the bridge.
os_plug() { # NS IFACE MAC BR PORT
	ip link add "$2" netns "$1" address "$3" type veth peer name "$5" netns "$OS_NODE"
	inns "$OS_NODE" ip link set "$5" master "$4" up
	inns "$1" ip link set "$2" up
	inns "$OS_NODE" bridge fdb replace "$3" dev "$5" master static
}

os_setup() {
	need
	command -v "$IPT" >/dev/null || skip_or_fail "the OpenStack model needs $IPT"
	command -v python3 >/dev/null || skip_or_fail "the OpenStack model needs python3"
	mkdir -p "$OS_DIR"
	: > "$OS_DIR/ext-members"; : > "$OS_DIR/ext-addrs"; : > "$OS_DIR/fips"
	mkns "$OS_NODE"; mkns "$OS_EXT"
	inns "$OS_NODE" ip link add br-ex type bridge
	inns "$OS_NODE" ip link set br-ex up
	os_plug "$OS_EXT" eth0 "$OS_EXT_MAC" br-ex ext0
	inns "$OS_EXT" ip addr add 198.18.0.1/24 dev eth0
	inns "$OS_EXT" ip addr add 2001:db8:e::1/64 dev eth0 nodad
	inns "$OS_EXT" ip addr add 169.254.169.254/32 dev eth0
	add_src_sink "$OS_EXT"
	start_echo "$OS_EXT" 198.18.0.1 60
	start_echo "$OS_EXT" 169.254.169.254 60
	start_echo "$OS_EXT" 2001:db8:e::1 60
	os_ext_join "$OS_EXT" eth0 "$OS_EXT_MAC"
	os_ext_addr 198.18.0.1 "$OS_EXT_MAC"
	os_ext_addr 2001:db8:e::1 "$OS_EXT_MAC"
}

# VM K of router N's tenant network (kept when the router goes away).
os_vm_create() { # N K
	local vm; vm=$(os_vm "$1" "$2")
	mkns "$vm"
	os_plug "$vm" eth0 "$(os_vm_mac "$1" "$2")" "brq-net$1" "tap$(os_hex "$1" $((20 + $2)) 8)-$(os_hex "$1" $((30 + $2)) 2)"
	inns "$vm" ip addr add "$(os_vm_ip "$1" "$2")/24" dev eth0
	inns "$vm" ip addr add "$(os_vm_ip6 "$1" "$2")/64" dev eth0 nodad
	pin "$vm" "198.19.$1.1" "$(os_qr_mac "$1")" eth0
	pin "$vm" "2001:db8:$1::1" "$(os_qr_mac "$1")" eth0
	inns "$vm" ip route add default via "198.19.$1.1"
	inns "$vm" ip -6 route add default via "2001:db8:$1::1"
	add_src_sink "$vm"
	start_echo "$vm" :: 40
}

# Neutron's l3-agent tables for a legacy router with gateway port QG and
# gateway IP GW (neutron/agent/l3/router_info.py: external_gateway_nat_*,
# external_gateway_mangle_rules; metadata_driver.py: the metadata proxy
# rules), without the address-scope marks, which change no address.
os_nat_base() { # NS QG GW
	inns "$1" "$IPT-restore" -w <<IPT
*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:neutron-l3-agent-PREROUTING - [0:0]
:neutron-l3-agent-mark - [0:0]
:neutron-l3-agent-floatingip - [0:0]
-A PREROUTING -j neutron-l3-agent-PREROUTING
-A neutron-l3-agent-PREROUTING -j neutron-l3-agent-mark
-A neutron-l3-agent-PREROUTING -j neutron-l3-agent-floatingip
-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x1/0xffff
-A neutron-l3-agent-mark -i $2 -j MARK --set-xmark 0x2/0xffff
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:neutron-l3-agent-OUTPUT - [0:0]
:neutron-l3-agent-POSTROUTING - [0:0]
:neutron-l3-agent-PREROUTING - [0:0]
:neutron-l3-agent-float-snat - [0:0]
:neutron-l3-agent-snat - [0:0]
:neutron-postrouting-bottom - [0:0]
-A PREROUTING -j neutron-l3-agent-PREROUTING
-A OUTPUT -j neutron-l3-agent-OUTPUT
-A POSTROUTING -j neutron-l3-agent-POSTROUTING
-A POSTROUTING -j neutron-postrouting-bottom
-A neutron-l3-agent-POSTROUTING ! -i $2 ! -o $2 -m conntrack ! --ctstate DNAT -j ACCEPT
-A neutron-l3-agent-PREROUTING -d 169.254.169.254/32 -i qr-+ -p tcp -m tcp --dport 80 -j REDIRECT --to-ports 9697
-A neutron-l3-agent-snat -j neutron-l3-agent-float-snat
-A neutron-l3-agent-snat -o $2 -j SNAT --to-source $3
-A neutron-l3-agent-snat -m mark ! --mark 0x2/0xffff -m conntrack --ctstate DNAT -j SNAT --to-source $3
-A neutron-postrouting-bottom -m comment --comment "Perform source NAT on outgoing traffic." -j neutron-l3-agent-snat
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:neutron-l3-agent-INPUT - [0:0]
-A INPUT -j neutron-l3-agent-INPUT
-A neutron-l3-agent-INPUT -m mark --mark 0x1/0xffff -j ACCEPT
-A neutron-l3-agent-INPUT -p tcp -m tcp --dport 9697 -j DROP
COMMIT
IPT
}

# Router N (created, or created again under the same name with the same
# ports, MACs and FIPs): namespace, qg- on br-ex, qr- on brq-netN, its two
# VMs (kept across a re-creation), NAT, and the FIPs recorded for it.
os_router() { # N
	local n=$1 ns qg qr
	ns=$(os_ns "$n") qg=$(os_qg "$n") qr=$(os_qr "$n")
	if ! inns "$OS_NODE" ip link show "brq-net$n" >/dev/null 2>&1; then
		inns "$OS_NODE" ip link add "brq-net$n" type bridge
		inns "$OS_NODE" ip link set "brq-net$n" up
	fi
	[ -e "/run/netns/$ns" ] || mkns "$ns"
	inns "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	inns "$ns" sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.default.send_redirects=0
	os_plug "$ns" "$qg" "$(os_qg_mac "$n")" br-ex "$(os_tap "$qg")"
	os_plug "$ns" "$qr" "$(os_qr_mac "$n")" "brq-net$n" "$(os_tap "$qr")"
	inns "$ns" ip addr add "$(os_gw "$n")/24" dev "$qg"
	inns "$ns" ip addr add "$(os_gw6 "$n")/64" dev "$qg" nodad
	inns "$ns" ip addr add "198.19.$n.1/24" dev "$qr"
	inns "$ns" ip addr add "2001:db8:$n::1/64" dev "$qr" nodad
	os_ext_join "$ns" "$qg" "$(os_qg_mac "$n")"
	inns "$ns" ip route add default via 198.18.0.1
	inns "$ns" ip -6 route add default via 2001:db8:e::1
	add_src_sink "$ns"
	local k
	for k in 1 2; do
		inns "$(os_vm "$n" "$k")" true 2>/dev/null || os_vm_create "$n" "$k"
		pin "$ns" "$(os_vm_ip "$n" "$k")" "$(os_vm_mac "$n" "$k")" "$qr"
		pin "$ns" "$(os_vm_ip6 "$n" "$k")" "$(os_vm_mac "$n" "$k")" "$qr"
	done
	os_nat_base "$ns" "$qg" "$(os_gw "$n")"
	os_ext_addr "$(os_gw "$n")" "$(os_qg_mac "$n")"
	os_ext_addr "$(os_gw6 "$n")" "$(os_qg_mac "$n")"
	inns "$OS_EXT" ip -6 route replace "2001:db8:$n::/64" via "$(os_gw6 "$n")"
	local fip fixed r
	while read -r fip fixed r; do
		[ "$r" = "$n" ] && os_fip_apply "$n" "$fip" "$fixed"
	done < "$OS_DIR/fips"
	return 0
}

# A new router N with its FIP 198.18.0.10N on vm-N-1.
os_router_new() { # N
	echo "$(os_fip "$1") $(os_vm_ip "$1" 1) $1" >> "$OS_DIR/fips"
	os_router "$1"
}

# Router N deleted as the l3-agent deletes it: ports unplugged (qg- first,
# so nothing enters that cannot leave), then the namespace. Its VMs and
# the records of its FIPs stay.
os_router_del() { # N
	local ns; ns=$(os_ns "$1")
	inns "$ns" ip link del "$(os_qg "$1")"
	inns "$ns" ip link del "$(os_qr "$1")"
	os_ext_leave "$ns"
	os_ext_forget "$(os_qg_mac "$1")"
	ip netns del "$ns"
}

# The rules first, then the address, then the neighbours learn it (the
# gratuitous ARP): the order of router_info.process_external. OS_GARP_DELAY
# (seconds, default 0) between the address and the announcement gives an
# accounting daemon the time its contract allows to see the address.
os_fip_apply() { # N FIP FIXED
	local ns; ns=$(os_ns "$1")
	ipt "$ns" -t nat -A neutron-l3-agent-PREROUTING -d "$2/32" -j DNAT --to-destination "$3"
	ipt "$ns" -t nat -A neutron-l3-agent-OUTPUT -d "$2/32" -j DNAT --to-destination "$3"
	ipt "$ns" -t nat -A neutron-l3-agent-float-snat -s "$3/32" -j SNAT --to-source "$2"
	inns "$ns" ip addr add "$2/32" dev "$(os_qg "$1")"
	sleep "${OS_GARP_DELAY:-0}"
	os_ext_addr "$2" "$(os_qg_mac "$1")"
}

os_fip_unapply() { # N FIP FIXED
	local ns; ns=$(os_ns "$1")
	ipt "$ns" -t nat -D neutron-l3-agent-PREROUTING -d "$2/32" -j DNAT --to-destination "$3"
	ipt "$ns" -t nat -D neutron-l3-agent-OUTPUT -d "$2/32" -j DNAT --to-destination "$3"
	ipt "$ns" -t nat -D neutron-l3-agent-float-snat -s "$3/32" -j SNAT --to-source "$2"
	inns "$ns" ip addr del "$2/32" dev "$(os_qg "$1")"
}

os_vm_router() { echo "$1" | cut -d. -f3; }   # 198.19.N.x -> N

# Associate FIP with the VM whose address is FIXED (on router N = the
# VM's tenant network).
os_fip_add() { # FIP FIXED
	local n; n=$(os_vm_router "$2")
	echo "$1 $2 $n" >> "$OS_DIR/fips"
	os_fip_apply "$n" "$1" "$2"
}

os_fip_del() { # FIP
	local fip fixed n
	read -r fip fixed n < <(grep "^$1 " "$OS_DIR/fips")
	os_fip_unapply "$n" "$fip" "$fixed"
	sed -i "\\|^$1 |d" "$OS_DIR/fips"
	os_ext_addr_del "$1"
}

# Re-associate FIP with another VM, behind the same router or another one
# (then the address leaves one qg- for the other's).
os_fip_move() { # FIP NEWFIXED
	os_fip_del "$1"
	os_fip_add "$1" "$2"
}

# Packets that matched the first iptables-legacy rule whose text contains
# PATTERN in TABLE (NAT rules see only the first packet of each connection).
ipt_packets() { # NS TABLE PATTERN
	inns "$1" "$IPT-save" -c -t "$2" | grep -F -- "$3" | sed -n 's/^\[\([0-9]*\):.*/\1/p' | head -1
}
