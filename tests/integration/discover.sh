#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Address discovery (kernel/discover.c, through tests/nsdisc): in a
# namespace with veths, the addresses on the interfaces named and the host
# routes (/32, /128) through those named, exactly, and every change seen
# within 100 ms, measured here from before the `ip` command to the line the
# program prints.  What must not count does not (link-local and loopback
# addresses, other interfaces, prefixes, blackholes); a link deleted takes
# its routes along without a route notification; a multipath route counts
# through its matching next hop.  Then the same under valgrind, the
# discovery opened from the host's namespace around an enter/leave.
. "$(dirname "$0")/lib.sh"
NSDISC=${NSDISC:-$(dirname "$0")/../../build/tests/nsdisc}
need
[ -x "$NSDISC" ] || skip_or_fail "no nsdisc at $NSDISC"
D="${PFX}d"
LIMIT_US=100000
trap 'ip netns del "$D" 2>/dev/null; cleanup' EXIT

ip netns add "$D"
inns "$D" ip link set lo up
inns "$D" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
inns "$D" ip link add t0a type veth peer name t0b
inns "$D" ip link add x0a type veth peer name x0b
for l in t0a t0b x0a x0b; do inns "$D" ip link set "$l" up; done
inns "$D" ip addr add 198.18.3.1/24 dev t0a
inns "$D" ip addr add 2001:db8:3::1/64 dev t0a nodad
inns "$D" ip addr add 198.18.7.1/24 dev x0a
inns "$D" ip addr add 198.18.3.9/32 dev lo  # a service address: of scope global
# Globs: addresses on t0* and lo (whose 127.0.0.1 and ::1 are of scope
# host), routes through t0a and v*.
ARGS=(disc -a 't0*' -a lo -r t0a -r 'v*')

# --- 1. inside the namespace, timed ---
coproc DISC { exec ip netns exec "$D" "$NSDISC" "${ARGS[@]}" 2> "$WORK/disc.err"; }
DPID=$DISC_PID; PIDS="$PIDS $DPID"
exec {DOUT}<&"${DISC[0]}"
MAXUS=0
first() { # WANT
	local line
	if read -r -t 5 -u "$DOUT" line; then
		assert_eq "$1" "$line" "first scan"
	else
		bad "no first scan: $(cat "$WORK/disc.err")"
	fi
}
# A change and the line it must bring, within LIMIT_US.
step() { # WHAT WANT COMMAND...
	local what=$1 want=$2 t0 t1 us line; shift 2
	t0=$EPOCHREALTIME
	"$@" || bad "$what: '$*' failed"
	if ! read -r -t 2 -u "$DOUT" line; then
		bad "$what: no line within 2 s"
		return
	fi
	t1=$EPOCHREALTIME
	us=$(( 10#${t1/./} - 10#${t0/./} ))
	assert_eq "$want" "$line" "$what"
	[ "$us" -gt "$MAXUS" ] && MAXUS=$us
	if [ "$us" -le "$LIMIT_US" ]; then ok "$what: seen in $((us / 1000)) ms"; else
		bad "$what: seen in $((us / 1000)) ms, more than $((LIMIT_US / 1000))"; fi
}
# Changes that must bring no line (the result stays).
quiet() { # WHAT COMMAND...
	local what=$1 line; shift
	"$@" || bad "$what: '$*' failed"
	if read -r -t 0.3 -u "$DOUT" line; then bad "$what: a line: $line"; else ok "$what: no change"; fi
}
n() { inns "$D" "$@"; }

A1="198.18.3.1=addr:t0a" A9="198.18.3.9=addr:lo" A6="2001:db8:3::1=addr:t0a"
first "scan $A1 $A9 $A6"
B="198.18.3.2=addr:t0b"
step "address added on t0b" "scan $A1 $B $A9 $A6" n ip addr add 198.18.3.2/32 dev t0b
R5="198.18.5.5=route:t0a"
step "/32 route added through t0a" "scan $A1 $B $A9 $R5 $A6" n ip route add 198.18.5.5/32 dev t0a
R6="2001:db8:5::5=route:t0a"
step "/128 route added through t0a" "scan $A1 $B $A9 $R5 $A6 $R6" n ip -6 route add 2001:db8:5::5/128 dev t0a
B6="2001:db8:3::2=addr:t0b"
step "IPv6 address added on t0b" "scan $A1 $B $A9 $R5 $A6 $B6 $R6" n ip -6 addr add 2001:db8:3::2/64 dev t0b nodad
quiet "a /32 through x0a" n ip route add 198.18.6.6/32 dev x0a
quiet "a /24 through t0a" n ip route add 198.18.6.0/24 dev t0a
quiet "a blackhole /32" n ip route add blackhole 198.18.6.7/32
quiet "an address on x0b" n ip addr add 198.18.7.2/32 dev x0b
quiet "a link-local address on t0a" n ip -6 addr add fe80::99/64 dev t0a nodad
R10="198.18.10.10=route:t0a"
step "/32 in another routing table" "scan $A1 $B $A9 $R5 $R10 $A6 $B6 $R6" \
	n ip route add 198.18.10.10/32 dev t0a table 100
R9="198.18.9.9=route:t0a"
step "multipath /32 through x0a and t0a" "scan $A1 $B $A9 $R5 $R9 $R10 $A6 $B6 $R6" \
	n ip route add 198.18.9.9/32 nexthop dev x0a nexthop dev t0a
S="$A1 $B $A9 $R5 $R9 $R10 $A6 $B6 $R6"
quiet "a new link v1" n ip link add v1 type veth peer name v1p
n ip link set v1 up; n ip link set v1p up
step "/32 through a new link v1" "scan $A1 $B $A9 $R5 198.18.8.8=route:v1 $R9 $R10 $A6 $B6 $R6" \
	n ip route add 198.18.8.8/32 dev v1
step "/128 through v1" "scan $A1 $B $A9 $R5 198.18.8.8=route:v1 $R9 $R10 $A6 $B6 $R6 2001:db8:8::8=route:v1" \
	n ip -6 route add 2001:db8:8::8/128 dev v1
step "link v1 deleted: its routes with it" "scan $S" n ip link del v1
n ip link set x0b down
step "x0b renamed t0x: its address matches now" "scan $A1 $B $A9 $R5 198.18.7.2=addr:t0x $R9 $R10 $A6 $B6 $R6" \
	n ip link set x0b name t0x
step "t0x's address deleted" "scan $S" n ip addr del 198.18.7.2/32 dev t0x
step "/32 route deleted" "scan $A1 $B $A9 $R9 $R10 $A6 $B6 $R6" n ip route del 198.18.5.5/32 dev t0a
step "/128 route deleted" "scan $A1 $B $A9 $R9 $R10 $A6 $B6" n ip -6 route del 2001:db8:5::5/128 dev t0a
step "address deleted from t0b" "scan $A1 $A9 $R9 $R10 $A6 $B6" n ip addr del 198.18.3.2/32 dev t0b
step "IPv6 address deleted from t0b" "scan $A1 $A9 $R9 $R10 $A6" n ip -6 addr del 2001:db8:3::2/64 dev t0b
step "route in table 100 deleted" "scan $A1 $A9 $R9 $A6" n ip route del 198.18.10.10/32 table 100
step "multipath route deleted" "scan $A1 $A9 $A6" n ip route del 198.18.9.9/32
echo "# slowest change seen in $((MAXUS / 1000)).$(( (MAXUS % 1000) / 100 )) ms"
kill -TERM "$DPID"; wait "$DPID"
assert_eq 0 $? "exit code after SIGTERM"
PIDS=$(echo "$PIDS" | sed "s/ $DPID//")
grep -q '^rescans [0-9]' "$WORK/disc.err" && ok "$(cat "$WORK/disc.err")" || bad "stderr: $(cat "$WORK/disc.err")"

# --- 2. under valgrind, opened from the host's namespace (-n) ---
if command -v valgrind >/dev/null && [ -z "${NFTALLY_SANITIZED:-}" ]; then
	VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
	coproc VGD { exec $VG "$NSDISC" "${ARGS[0]}" -n "$D" "${ARGS[@]:1}" 2> "$WORK/vg.err"; }
	DPID=$VGD_PID; PIDS="$PIDS $DPID"
	exec {DOUT}<&"${VGD[0]}"
	first "scan $A1 $A9 $A6"
	LIMIT_US=2000000 # valgrind is slow; exactness is what counts here
	step "valgrind: address added" "scan $A1 198.18.3.3=addr:t0b $A9 $A6" n ip addr add 198.18.3.3/32 dev t0b
	n ip link add v2 type veth peer name v2p
	n ip link set v2 up
	n ip route add 198.18.8.9/32 dev v2
	# Coalesced or not, the last line has the route; then the link goes.
	for _ in $(seq 20); do
		read -r -t 2 -u "$DOUT" line || break
		[ "$line" = "scan $A1 198.18.3.3=addr:t0b $A9 198.18.8.9=route:v2 $A6" ] && break
	done
	assert_eq "scan $A1 198.18.3.3=addr:t0b $A9 198.18.8.9=route:v2 $A6" "$line" "valgrind: route through v2"
	step "valgrind: v2 deleted" "scan $A1 198.18.3.3=addr:t0b $A9 $A6" n ip link del v2
	kill -TERM "$DPID"; wait "$DPID"
	rc=$?
	PIDS=$(echo "$PIDS" | sed "s/ $DPID//")
	assert_eq 0 "$rc" "valgrind exit code"
	[ "$rc" = 0 ] || cat "$WORK/vg.err"
else
	echo "# no valgrind, or a sanitizer build: part 2 skipped"
fi
finish
