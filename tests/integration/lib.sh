# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for nftally's integration tests: a client, a router and a
# server namespace wired by veth pairs (198.18.0.0/15 and 2001:db8::/32
# only), exact assertions, and cleanup of only what the test made.
#
#   client c0 198.18.1.2/24 2001:db8:1::2/64
#       |
#   router r0 198.18.1.1/24 2001:db8:1::1/64   <- nftally runs here
#          r1 198.18.2.1/24 2001:db8:2::1/64
#       |
#   server s0 198.18.2.2/24 2001:db8:2::2/64, 198.18.4.1, 198.18.4.2,
#             2001:db8:4::1, 2001:db8:4::2 (routed prefixes 198.18.4.0/24,
#             2001:db8:4::/64)

set -u
NFTALLY=${NFTALLY:-$(dirname "$0")/../../build/nftally}
UDPSEND=${UDPSEND:-$(dirname "$0")/../../build/tests/udpsend}
UDPFLOW=${UDPFLOW:-$(dirname "$0")/udpflow.py}
PFX="nft$$"
TOPO_NS=""
C="${PFX}c" R="${PFX}r" S="${PFX}s"
WORK=$(mktemp -d /tmp/nftally-test.XXXXXX)
PIDS=""
FAILS=0

skip_or_fail() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $*" >&2
		exit 1
	fi
	echo "SKIP: $*" >&2
	exit 77
}

cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	for ns in "$C" "$R" "$S" $TOPO_NS; do ip netns del "$ns" 2>/dev/null; done
	[ -n "${NFTALLY_KEEP_WORK:-}" ] && cp -r "$WORK" "$NFTALLY_KEEP_WORK"
	rm -rf "$WORK"
}
trap cleanup EXIT

need() {
	[ "$(id -u)" = 0 ] || skip_or_fail "integration tests need root"
	for t in ip nft jq; do
		command -v "$t" >/dev/null || skip_or_fail "integration tests need $t"
	done
	[ -x "$NFTALLY" ] || skip_or_fail "no nftally binary at $NFTALLY"
	ip netns add "${PFX}probe" 2>/dev/null || skip_or_fail "cannot create network namespaces"
	if ! ip netns exec "${PFX}probe" nft add table inet probe 2>/dev/null; then
		ip netns del "${PFX}probe"
		skip_or_fail "nf_tables is not available"
	fi
	ip netns del "${PFX}probe"
}

inns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

mac() { inns "$1" cat "/sys/class/net/$2/address"; }

# Pin a neighbour so ARP/ND add no packets carrying a target's address.
pin() { inns "$1" ip neigh replace "$2" lladdr "$3" dev "$4" nud permanent; }

# A silent namespace: no DAD, no router solicitations, no reverse-path
# filter (IPv4 settings of a new namespace come from the host's).
quiet_ns() { # NS
	ip netns add "$1"
	inns "$1" ip link set lo up
	inns "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
	inns "$1" sysctl -qw net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0
	inns "$1" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

# A namespace of a larger topology (lib-openstack.sh, lib-hosting.sh),
# deleted by cleanup (after the processes the test started).
mkns() { # NS
	quiet_ns "$1"
	case " $TOPO_NS " in *" $1 "*) ;; *) TOPO_NS="$TOPO_NS $1" ;; esac
}

setup_topology() {
	for ns in "$C" "$R" "$S"; do quiet_ns "$ns"; done
	ip link add c0 netns "$C" type veth peer name r0 netns "$R"
	ip link add s0 netns "$S" type veth peer name r1 netns "$R"
	inns "$C" ip addr add 198.18.1.2/24 dev c0
	inns "$C" ip addr add 2001:db8:1::2/64 dev c0 nodad
	inns "$R" ip addr add 198.18.1.1/24 dev r0
	inns "$R" ip addr add 2001:db8:1::1/64 dev r0 nodad
	inns "$R" ip addr add 198.18.2.1/24 dev r1
	inns "$R" ip addr add 2001:db8:2::1/64 dev r1 nodad
	inns "$S" ip addr add 198.18.2.2/24 dev s0
	inns "$S" ip addr add 2001:db8:2::2/64 dev s0 nodad
	for a in 198.18.4.1/32 198.18.4.2/32; do inns "$S" ip addr add "$a" dev s0; done
	for a in 2001:db8:4::1/128 2001:db8:4::2/128; do inns "$S" ip addr add "$a" dev s0 nodad; done
	for ns_if in "$C c0" "$R r0" "$R r1" "$S s0"; do
		set -- $ns_if
		inns "$1" ip link set "$2" up
	done
	inns "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	inns "$C" ip route add default via 198.18.1.1
	inns "$C" ip -6 route add default via 2001:db8:1::1
	inns "$S" ip route add default via 198.18.2.1
	inns "$S" ip -6 route add default via 2001:db8:2::1
	inns "$R" ip route add 198.18.4.0/24 via 198.18.2.2
	inns "$R" ip -6 route add 2001:db8:4::/64 via 2001:db8:2::2
	local cm rm0 rm1 sm
	cm=$(mac "$C" c0) rm0=$(mac "$R" r0) rm1=$(mac "$R" r1) sm=$(mac "$S" s0)
	pin "$C" 198.18.1.1 "$rm0" c0; pin "$C" 2001:db8:1::1 "$rm0" c0
	pin "$R" 198.18.1.2 "$cm" r0; pin "$R" 2001:db8:1::2 "$cm" r0
	pin "$R" 198.18.2.2 "$sm" r1; pin "$R" 2001:db8:2::2 "$sm" r1
	pin "$S" 198.18.2.1 "$rm1" s0; pin "$S" 2001:db8:2::1 "$rm1" s0
	add_sink "$C"
	add_sink "$S"
}

# Receivers count and drop the test traffic (no ICMP answers), which also
# proves nothing was lost on the way through the router.  A namespace
# whose own input nftally counts drops after it (PRIORITY above 20): what
# a filter drops before nftally's chain is not billed.
add_sink() { # NS [PRIORITY]
	inns "$1" nft -f - <<NFT
table inet sink {
	counter rx4 { }
	counter rx6 { }
	chain input {
		type filter hook input priority ${2:-0}; policy accept;
		meta nfproto ipv4 udp dport 9999 counter name rx4 drop
		meta nfproto ipv6 udp dport 9999 counter name rx6 drop
	}
}
NFT
}

# A receiver that also counts every UDP datagram per source address (map
# from4/from6 keyed by the addresses watch_src names): port 9999 is counted
# in rx4/rx6 and dropped as in add_sink, other UDP (udpflow.py's
# conversations) is accepted.
add_src_sink() { # NS
	inns "$1" nft -f - <<'NFT'
table inet sink {
	counter rx4 { }
	counter rx6 { }
	map from4 { type ipv4_addr : counter; }
	map from6 { type ipv6_addr : counter; }
	chain input {
		type filter hook input priority 0; policy accept;
		meta l4proto udp counter name ip saddr map @from4
		meta l4proto udp counter name ip6 saddr map @from6
		meta nfproto ipv4 udp dport 9999 counter name rx4 drop
		meta nfproto ipv6 udp dport 9999 counter name rx6 drop
	}
}
NFT
}

src_counter() { echo "from_$1" | tr '.:' '__'; }

watch_src() { # NS ADDR...
	local ns=$1 a m; shift
	for a in "$@"; do
		case $a in *:*) m=from6 ;; *) m=from4 ;; esac
		inns "$ns" nft -f - <<NFT
add counter inet sink $(src_counter "$a")
add element inet sink $m { $a : "$(src_counter "$a")" }
NFT
	done
}

# UDP packets NS received from ADDR (watch_src first).
rx_from() { # NS ADDR
	inns "$1" nft list counter inet sink "$(src_counter "$2")" | awk '/packets/ {print $2}'
}

# A conversation: COUNT datagrams of PAYLOAD bytes from NS (SRC:SPORT) to
# DST:9998, where an echo answers each; prints the number of answers.
ask() { # NS SRC SPORT DST PAYLOAD COUNT [GAP_US]
	local ns=$1; shift
	inns "$ns" python3 "$UDPFLOW" ask "$1" "$2" "$3" 9998 "$4" "$5" ${6:-}
}

# An echo on ADDR:9998 in NS answering REPLY bytes, in the background
# (ip netns exec execs python: $! is the echo itself, for cleanup's kill).
start_echo() { # NS ADDR REPLY
	ip netns exec "$1" python3 "$UDPFLOW" echo "$2" 9998 "$3" 600 \
		>> "$WORK/echo.log" 2>&1 &
	PIDS="$PIDS $!"
}

# A table in the router that nftally must never touch.
add_foreign_table() {
	inns "$R" nft -f - <<'NFT'
table ip foreign {
	set blocked {
		type ipv4_addr
		elements = { 198.18.9.9 }
	}
	chain fw {
		type filter hook forward priority 0; policy accept;
		ip daddr @blocked drop
	}
}
NFT
}

foreign_snapshot() { inns "$R" nft list table ip foreign; }

# nftally run in the router (or in RUN_NS), in the background, as a direct
# child (so a signal to $! reaches nftally itself).  Sets RUN to its PID.
start_run() { # OUTFILE [ARGS...]
	local out=$1; shift
	ip netns exec "${RUN_NS:-$R}" "$NFTALLY" -c "$WORK/nftally.conf" "$@" run > "$out" 2> "$out.err" &
	RUN=$!; PIDS="$PIDS $RUN"
	wait_started "$out"
}

# Wait until the run $RUN has printed its start event to OUTFILE (for at
# most START_WAIT tenths of a second, default 100).
wait_started() { # OUTFILE
	local out=$1
	for _ in $(seq "${START_WAIT:-100}"); do
		grep -q '"event":"start"' "$out" 2>/dev/null && return 0
		kill -0 "$RUN" 2>/dev/null || break
		sleep 0.1
	done
	bad "nftally run did not start: $(cat "$out.err")"
	return 1
}

stop_run() { # exit code of nftally run after SIGTERM
	kill -TERM "$RUN"
	wait "$RUN"
	local rc=$?
	PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
	return $rc
}

# send NS DST PAYLOAD COUNT SRC
send() { inns "$1" "$UDPSEND" "$2" 9999 "$3" "$4" "$5"; }

rx_packets() { inns "$1" nft list counter inet sink "$2" | awk '/packets/ {print $2}'; }

# Someone deletes a counter of nftally's and creates it again, with its
# element, in one transaction: the run never sees it missing.
recreate_counter() { # MAP ADDR COUNTER
	inns "$R" nft -f - <<NFT
delete element inet nftally $1 { $2 }
delete counter inet nftally $3
add counter inet nftally $3
add element inet nftally $1 { $2 : "$3" }
NFT
}

nftally_r() { inns "$R" "$NFTALLY" -c "$WORK/nftally.conf" "$@"; }

write_config() {
	cat > "$WORK/nftally.conf" <<CONF
# test config
table = nftally
targets = $WORK/targets
interval = ${1:-1}
state_dir = $WORK/state
CONF
}

# The report after state file STATE as run would have written it to
# TABLE.pending: the next seq, one second later, 198.18.2.2 with 1280 more
# bytes and 10 more packets, nothing else reported.
pending_after() { # STATE
	awk '
	$1 == "seq" { $2 = $2 + 1 }
	$1 == "time" { $2 = $2 + 1 }
	$1 == "entry" && $2 == "198.18.2.2" { $3 = 1; $4 = $4 + 1280; $5 = $5 + 10 }
	$1 == "entry" && $2 != "198.18.2.2" { $3 = 0 }
	{ print }' "$1"
}

# Wait (at most 6 s) until FILE holds N events of type EVENT.
wait_event() { # FILE EVENT N
	for _ in $(seq 60); do
		[ "$(grep -c "\"event\":\"$2\"" "$1")" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

# Many idle targets (198.19.0.0/16 and 2001:db8:3::/64), for tests at scale.
many_targets() { # N4 N6
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "v4-%d 198.19.%d.%d\n", i, int(i / 256), i % 256 }'
	awk -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "v6-%d 2001:db8:3::%x\n", i, i + 1 }'
}

# Every element of map MAP as "KEY COUNTER" lines, sorted (in the router).
map_elems() { # MAP [TABLE FAMILY]
	inns "$R" nft -j list map "${3:-inet}" "${2:-nftally}" "$1" |
		jq -r '.nftables[] | select(.map) | .map.elem // [] | .[] |
			"\(if (.[0] | type) == "object" then "\(.[0].prefix.addr)/\(.[0].prefix.len)"
			   else .[0] end) \(.[1])"' | sort
}

# How many events of type EVENT a run's output FILE holds.
count_events() { grep -c "\"event\":\"$2\"" "$1"; }

ok() { echo "ok - $*"; }
bad() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }

assert_eq() { # WANT GOT WHAT
	if [ "$1" = "$2" ]; then ok "$3 = $1"; else bad "$3: want $1, got $2"; fi
}

# Field of the counter line for ADDR in a JSON-lines file (summed over all
# lines for that address).
sum_field() { # FILE ADDR FIELD
	jq -rs --arg a "$2" --arg f "$3" \
		'[.[] | select(.addr == $a) | .[$f]] | add // 0' "$1"
}

# Sum of a field for an address over run outputs; a report replayed after
# a crash (same seq) counts once.
total() { # ADDR FIELD FILES...
	local a=$1 f=$2; shift 2
	cat "$@" | jq -rs --arg a "$a" --arg f "$f" \
		'[.[] | select(.addr == $a)] | unique_by(.seq) | map(.[$f]) | add // 0'
}

# Assert the totals over run outputs FILES (as total) of the lines on
# standard input, "ADDR FIELD WANT" each.
assert_totals() { # WHAT FILES... < "ADDR FIELD WANT" lines
	local what=$1 a f want
	shift
	while read -r a f want; do
		[ -n "$a" ] && assert_eq "$want" "$(total "$a" "$f" "$@")" "$what: $a $f"
	done
}

# Wait (at most 3 s) until NS has table FAMILY NAME; print the
# milliseconds it took, fail if it never came.
wait_table() { # NS FAMILY NAME
	local t0; t0=$(date +%s%N)
	for _ in $(seq 30); do
		inns "$1" nft list table "$2" "$3" >/dev/null 2>&1 && break
		sleep 0.1
	done
	echo $(( ($(date +%s%N) - t0) / 1000000 ))
	inns "$1" nft list table "$2" "$3" >/dev/null 2>&1
}

# The end of a topology test's network part: with NFTALLY_NETWORK_ONLY=1
# (to check a change of the model itself) the test ends here; else the run
# is stopped (after its next report) for the nftally assertions that
# follow.
network_part_done() {
	if [ -n "${NFTALLY_NETWORK_ONLY:-}" ]; then
		[ "$FAILS" -eq 0 ] && echo "network model ok"
		finish
	fi
	sleep 1.2
	stop_run; assert_eq 0 $? "run exits 0"
}

# Sum of a field for an address counted in namespace NETNS (the "netns" of
# the lines of a run with accounts), over every namespace of that name
# (one deleted and created again included). Only identical lines (a
# replay) count once: two reports differ in time, seq or account.
total_in() { # NETNS ADDR FIELD FILES...
	local n=$1 a=$2 f=$3; shift 3
	cat "$@" | jq -rs --arg n "$n" --arg a "$a" --arg f "$f" \
		'[.[] | select(.addr == $a and .netns == $n)] | unique | map(.[$f]) | add // 0'
}

# Wait (at most 5 s) until FILE holds a report that began after this call.
wait_seq_after() { # FILE
	local t0; t0=$(date +%s)
	for _ in $(seq 50); do
		jq -e --argjson t "$t0" 'select(.seq and (.time | fromdate) > $t)' "$1" \
			>/dev/null 2>&1 && return 0
		sleep 0.1
	done
	bad "no report in $1 after $t0"
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS assertion(s) failed"
		exit 1
	fi
	echo "all assertions passed"
	exit 0
}
