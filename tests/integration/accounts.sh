#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Many accounts in one `nftally run`, against the real kernel: a glob
# account over router namespaces (template gateway, addresses discovered
# on qg-*, a labels file) and an account in the run's own namespace (a
# targets file and host routes through veth*).  Every byte and packet is
# checked per namespace, account and address; the namespaces come and go
# under the run (a new one, one deleted while its traffic is counted and
# created again, one replaced while the run was killed), addresses and
# routes appear and leave, the labels file is renamed over, and `dump`,
# `apply`, `remove` and `report` act on one account.
#
#   run's own namespace H (account host: targets file + routes veth*)
#     xr1 198.18.11.1 2001:db8:11::1 --- qg-1 198.18.11.2 2001:db8:11::2  R1
#     xr2 198.18.12.1 2001:db8:12::1 --- qg-2 198.18.12.2 2001:db8:12::2  R2
#     xr3 198.18.13.1 2001:db8:13::1 --- qg-3 198.18.13.2 2001:db8:13::2  R3
#     vethk --- vk 198.18.60.2 198.18.60.3 2001:db8:60::2  K, a routed
#                   container (host routes in H from part 3; .3 is also
#                   in the targets file)
#   R1 and R2 also hold 198.18.20.1 and 2001:db8:20::1 (same address, same
#   label): two metric series, told apart by netns.
# The parts: 1 the run, 2 namespaces coming and going, 3 addresses and
# routes, 4 labels, 5 metrics, 6 kill -9, 7 commands on one account.
. "$(dirname "$0")/lib.sh"
need
command -v promtool >/dev/null || skip_or_fail "accounts.sh needs promtool"
H="${PFX}h" K="${PFX}k" R1="${PFX}r1" R2="${PFX}r2" R3="${PFX}r3"
NODE=acct-node
IVL=2
# The glob must match only what this test makes: a namespace left behind by
# an earlier test of the same PID would be counted too.
for n in /run/netns/"${PFX}"r*; do
	[ -e "$n" ] && { echo "FAIL: $n exists already and matches ${PFX}r*" >&2; exit 1; }
done
delns() { for ns in "$H" "$K" "$R1" "$R2" "$R3"; do ip netns del "$ns" 2>/dev/null; done; }
trap 'cleanup; delns' EXIT

# ---- the networks ----

mkns() { # NAME: quiet IPv6, no reverse-path filter (sources on other links)
	ip netns add "$1"
	inns "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.router_solicitations=0 net.ipv6.conf.default.router_solicitations=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n "$1" link set lo up
}

mkrouter() { # N: namespace R<N> with qg-N, wired to xrN in H
	local r="${PFX}r$1" x="xr$1" q="qg-$1" n=$((10 + $1))
	mkns "$r"
	ip link add "$x" netns "$H" type veth peer name "$q" netns "$r"
	ip -n "$H" addr add "198.18.$n.1/24" dev "$x"
	ip -n "$H" addr add "2001:db8:$n::1/64" dev "$x" nodad
	ip -n "$r" addr add "198.18.$n.2/24" dev "$q"
	ip -n "$r" addr add "2001:db8:$n::2/64" dev "$q" nodad
	if [ "$1" -le 2 ]; then
		ip -n "$r" addr add 198.18.20.1/32 dev "$q"
		ip -n "$r" addr add 2001:db8:20::1/128 dev "$q" nodad
	fi
	ip -n "$H" link set "$x" up
	ip -n "$r" link set "$q" up
	pin "$H" "198.18.$n.2" "$(mac "$r" "$q")" "$x"
	pin "$H" "2001:db8:$n::2" "$(mac "$r" "$q")" "$x"
	pin "$r" "198.18.$n.1" "$(mac "$H" "$x")" "$q"
	pin "$r" "2001:db8:$n::1" "$(mac "$H" "$x")" "$q"
	add_sink "$r"
}

mkns "$H"
add_sink "$H" 100
mkns "$K"
ip link add vethk netns "$H" type veth peer name vk netns "$K"
ip -n "$K" addr add 198.18.60.2/32 dev vk
ip -n "$K" addr add 198.18.60.3/32 dev vk
ip -n "$K" addr add 2001:db8:60::2/128 dev vk nodad
ip -n "$H" link set vethk up
ip -n "$K" link set vk up
ip -n "$K" route add default dev vk
ip -n "$K" -6 route add default dev vk
pin "$H" 198.18.60.2 "$(mac "$K" vk)" vethk
pin "$H" 198.18.60.3 "$(mac "$K" vk)" vethk
pin "$H" 2001:db8:60::2 "$(mac "$K" vk)" vethk
add_sink "$K"
mkrouter 1
mkrouter 2

mkdir -p "$WORK/lab" "$WORK/tg" "$WORK/prom"
cat > "$WORK/tg/targets" <<T
h-r1 198.18.11.1 2001:db8:11::1
h-r2 198.18.12.1 2001:db8:12::1
h-r3 198.18.13.1 2001:db8:13::1
k-file 198.18.60.3
T
cat > "$WORK/lab/routers" <<L
198.18.11.0/24   fip-r1
2001:db8:11::/64 fip-r1
198.18.20.0/24   shared
2001:db8:20::/64 shared
L
CONF="$WORK/nftally.conf"
cat > "$CONF" <<CONF
host = $NODE
interval = $IVL
state_dir = $WORK/state
prom_file = $WORK/prom/nftally.prom

[account routers]
netns = ${PFX}r*
template = gateway
interfaces = qg-*
targets = interfaces qg-*
labels = $WORK/lab/routers

[account host]
targets = routes veth* file $WORK/tg/targets
CONF
nft_h() { inns "$H" "$NFTALLY" -c "$CONF" "$@"; }

# ---- expectations: what each namespace, account and address counted ----

declare -A EB EP
exp() { # NETNS ACCOUNT ADDR in|out PAYLOAD COUNT
	local l=28 k="$1|$2|$3|$4"
	case $3 in *:*) l=48 ;; esac
	EB[$k]=$(( ${EB[$k]:-0} + ($5 + l) * $6 ))
	EP[$k]=$(( ${EP[$k]:-0} + $6 ))
}
# From H to router N: in at the router, out at the host (SRC is a target).
h2r() { # N DST SRC PAYLOAD COUNT
	send "$H" "$2" "$4" "$5" "$3"
	exp "${PFX}r$1" routers "$2" in "$4" "$5"
	exp "" host "$3" out "$4" "$5"
}
r2h() { # N SRC DST PAYLOAD COUNT
	send "${PFX}r$1" "$3" "$4" "$5" "$2"
	exp "${PFX}r$1" routers "$2" out "$4" "$5"
	exp "" host "$3" in "$4" "$5"
}
# Everything expected, one line per netns|account|addr, sorted.
expected() {
	local k
	for k in "${!EB[@]}"; do echo "${k%|*} ${k##*|} ${EB[$k]} ${EP[$k]}"; done |
		awk '{ i = $2 == "in" ? 0 : 2; b[$1, i] = $3; p[$1, i] = $4; k[$1] = 1 }
		     END { for (x in k) printf "%s %d %d %d %d\n", x, b[x, 0], p[x, 0], b[x, 2], p[x, 2] }' |
		sort
}
# The same from the JSON lines of FILES: a report printed again (replayed
# after a kill) counts once; addresses that counted nothing are left out.
reported() { # FILES...
	cat "$@" | jq -rs '[.[] | select(.addr)] | unique_by([.netns, .account, .seq, .addr, .class])
		| group_by([.netns, .account, .addr]) | .[]
		| [(.[0] | "\(.netns)|\(.account)|\(.addr)"), (map(.in_bytes) | add), (map(.in_packets) | add),
		   (map(.out_bytes) | add), (map(.out_packets) | add)]
		| select(.[1] + .[2] + .[3] + .[4] > 0) | map(tostring) | join(" ")' | sort
}
# Sum of FIELD for NETNS, ACCOUNT, ADDR in FILES (once per report).
tot() { # NETNS ACCOUNT ADDR FIELD FILES...
	local n=$1 a=$2 x=$3 f=$4; shift 4
	cat "$@" | jq -rs --arg n "$n" --arg a "$a" --arg x "$x" --arg f "$f" \
		'[.[] | select(.addr == $x and .netns == $n and .account == $a)]
		 | unique_by(.seq) | map(.[$f]) | add // 0'
}

# ---- the run and its lines ----

start_acct() { # OUT STARTS: run in H, wait for STARTS start events
	ip netns exec "$H" "$NFTALLY" -c "$CONF" run > "$1" 2> "$1.err" &
	RUN=$!; PIDS="$PIDS $RUN"
	for _ in $(seq 100); do
		[ "$(grep -c '"event":"start"' "$1")" -ge "$2" ] && return 0
		kill -0 "$RUN" 2>/dev/null || break
		sleep 0.1
	done
	bad "run did not start $2 instances: $(grep -c '"event":"start"' "$1") in $1; $(cat "$1.err")"
}
# Lines of NETNS and ACCOUNT with an event EV in FILE.
nev() { jq -c --arg n "$2" --arg a "$3" --arg e "$4" \
	'select(.netns == $n and .account == $a and .event == $e)' "$1" | wc -l; } # FILE NETNS ACCOUNT EV
wait_ev() { # FILE NETNS ACCOUNT EV N
	for _ in $(seq 60); do
		[ "$(nev "$@")" -ge "$5" ] && return 0
		sleep 0.1
	done
	bad "no $4 event ($5) for $3 in '$2' in $1"
	return 1
}
# Line number in OUT1 of the Nth event EV of NETNS and ACCOUNT.
ev_at() { # NETNS ACCOUNT N EV
	grep -n "\"netns\":\"$1\",\"account\":\"$2\",\"event\":\"$4\"" "$OUT1" | sed -n "$3{s/:.*//;p}"
}
# Lines for ADDR of NETNS after the Nth reloaded event of NETNS and ACCOUNT.
after_ev() { # NETNS ACCOUNT N ADDR
	local at
	at=$(ev_at "$1" "$2" "$3" reloaded)
	tail -n +"${at:-999999}" "$OUT1" | grep "\"netns\":\"$1\"" | grep -c "\"addr\":\"$4\""
}
# Wait (at most 3 intervals) until every instance named (NETNS|ACCOUNT)
# has reported at a boundary after this call; sets REP_T to the latest
# boundary reported.
wait_rep() { # FILE KEY...
	local f=$1 t0 k all; shift
	t0=$(date +%s)
	for _ in $(seq 60); do
		all=1
		for k in "$@"; do
			jq -se --argjson t "$t0" --arg n "${k%|*}" --arg a "${k#*|}" \
				'any(.[]; .seq and .netns == $n and .account == $a and (.time | fromdate) > $t)' \
				"$f" > /dev/null 2>&1 || { all=0; break; }
		done
		if [ $all = 1 ]; then
			REP_T=$(jq -rs '[.[] | select(.seq) | .time | fromdate] | max' "$f")
			return 0
		fi
		sleep 0.1
	done
	bad "no report after $t0 of each of $* in $f"
	return 1
}
HOSTK="|host" RK1="$R1|routers" RK2="$R2|routers" RK3="$R3|routers"
# The time (EPOCHREALTIME) FILE first holds a line matching PATTERN (grep),
# looked for every 10 ms for at most about 5 s, in the background: into
# RESULT ("never" if not seen).
watch_line() { # FILE PATTERN RESULT
	( for _ in $(seq 500); do
		if grep -q "$2" "$1"; then echo "$EPOCHREALTIME" > "$3"; exit 0; fi
		sleep 0.01
	done; echo never > "$3" ) &
	WATCHER=$!
}
fds() { # of RUN: the fewest of five looks (a report may hold a file open)
	for _ in 1 2 3 4 5; do ls "/proc/$RUN/fd" | wc -l; sleep 0.05; done | sort -n | head -1
}
# File descriptors of RUN on the namespace DEV:INODE (stat -L of its name).
netns_fds() { stat -L -c %d:%i "/proc/$RUN/fd/"* 2>/dev/null | grep -cx "$1"; }
wait_gone_link() { # NS LINK: the namespace freed takes its veth peer along
	for _ in $(seq 150); do
		ip -n "$1" link show "$2" > /dev/null 2>&1 || return 0
		sleep 0.1
	done
	return 1
}
us_since() { echo $(( 10#${2/./} - 10#${1/./} )); } # T0 T1 (EPOCHREALTIME)

# ==== 1. one run: a glob account over R1 and R2, a file account in H ====
OUT1="$WORK/run1.json"
start_acct "$OUT1" 3
assert_eq 1 "$(nev "$OUT1" "$R1" routers start)" "1: start of routers in $R1"
assert_eq 1 "$(nev "$OUT1" "$R2" routers start)" "1: start of routers in $R2"
assert_eq 1 "$(nev "$OUT1" "" host start)" "1: start of host in the run's own namespace"
h2r 1 198.18.11.2 198.18.11.1 100 10
h2r 1 2001:db8:11::2 2001:db8:11::1 200 5
r2h 1 198.18.11.2 198.18.11.1 300 4
r2h 1 198.18.20.1 198.18.11.1 70 6
r2h 1 2001:db8:20::1 2001:db8:11::1 80 2
h2r 2 198.18.12.2 198.18.12.1 50 7
r2h 2 2001:db8:12::2 2001:db8:12::1 60 3
r2h 2 198.18.20.1 198.18.12.1 90 5
wait_rep "$OUT1" "$HOSTK" "$RK1" "$RK2"
assert_eq "$(expected)" "$(reported "$OUT1")" "1: every namespace, account and address exact"
assert_eq "10 15" "$(rx_packets "$R1" rx4) $(rx_packets "$H" rx4)" "1: nothing dropped on the way"
assert_eq "198.18.11.2 198.18.20.1 2001:db8:11::2 2001:db8:20::1" \
	"$(jq -rs --arg n "$R1" '[.[] | select(.addr and .netns == $n and .account == "routers") | .addr] | unique | join(" ")' "$OUT1")" \
	"1: the lines of $R1 are its qg-1 addresses"
assert_eq "198.18.12.2 198.18.20.1 2001:db8:12::2 2001:db8:20::1" \
	"$(jq -rs --arg n "$R2" '[.[] | select(.addr and .netns == $n and .account == "routers") | .addr] | unique | join(" ")' "$OUT1")" \
	"1: the lines of $R2 are its qg-2 addresses"
assert_eq "198.18.11.1 198.18.12.1 198.18.13.1 198.18.60.3 2001:db8:11::1 2001:db8:12::1 2001:db8:13::1" \
	"$(jq -rs '[.[] | select(.addr and .netns == "" and .account == "host") | .addr] | unique | join(" ")' "$OUT1")" \
	"1: the lines of account host are its file's addresses, in the run's namespace"
assert_eq "0 0" "$(jq -s --arg h "$NODE" '[map(select(.host != $h)), map(select(.addr and (.account | not)))] | map(length) | join(" ")' -r "$OUT1")" \
	"1: every line says host $NODE, every counter line its account"

# ==== 2. lifecycle: a new namespace, one deleted under traffic and back ====
FD0=$(fds)
T0=$EPOCHREALTIME
watch_line "$OUT1" "\"netns\":\"$R3\",\"account\":\"routers\",\"event\":\"start\"" "$WORK/r3.start"
mkrouter 3
T1=$EPOCHREALTIME
sleep 0.1
h2r 3 198.18.13.2 198.18.13.1 100 9
h2r 3 2001:db8:13::2 2001:db8:13::1 30 4
wait "$WATCHER"
TS=$(cat "$WORK/r3.start")
if [ "$TS" = never ]; then
	bad "2: no start event of $R3"
else
	US=$(us_since "$T0" "$TS")
	[ "$US" -lt 1000000 ] && ok "2: $R3 started $((US / 1000)) ms after ip netns add" ||
		bad "2: $R3 started $((US / 1000)) ms after ip netns add"
	echo "# $R3 was wired $(( $(us_since "$T0" "$T1") / 1000 )) ms after ip netns add"
fi
wait_rep "$OUT1" "$HOSTK" "$RK1" "$RK2" "$RK3"
assert_eq "$((9 * 128)) 9 $((4 * 78)) 4" \
	"$(tot "$R3" routers 198.18.13.2 in_bytes "$OUT1") $(tot "$R3" routers 198.18.13.2 in_packets "$OUT1") $(tot "$R3" routers 2001:db8:13::2 in_bytes "$OUT1") $(tot "$R3" routers 2001:db8:13::2 in_packets "$OUT1")" \
	"2: the new namespace counted from the first packet, 100 ms after it was wired"
FD1=$(fds)
echo "# fds of the run: $FD0 with $R1 and $R2, $FD1 with $R3 too"

# R2 deleted right after a burst arrived, between two boundaries, while
# steady traffic goes to R1.
INO=$(stat -L -c %d:%i "/run/netns/$R2")
assert_eq 1 "$(netns_fds "$INO")" "2: the run holds $R2 ($INO) while it is there"
RX2=$(rx_packets "$R2" rx4)
wait_rep "$OUT1" "$RK2"
inns "$H" "$UDPSEND" 198.18.11.2 9999 100 100 198.18.11.1 8000 & STEADY=$!
exp "$R1" routers 198.18.11.2 in 100 100
exp "" host 198.18.11.1 out 100 100
h2r 2 198.18.12.2 198.18.12.1 100 20
for _ in $(seq 100); do [ "$(rx_packets "$R2" rx4)" -ge $((RX2 + 20)) ] && break; sleep 0.01; done
RXB=$(rx_packets "$R2" rx4)
ip netns del "$R2"
TDEL=$EPOCHREALTIME
assert_eq $((RX2 + 20)) "$RXB" "2: the burst arrived in $R2 before its deletion"
wait "$STEADY"
wait_ev "$OUT1" "$R2" routers netns_gone 1
LAST=$(jq -r --arg n "$R2" 'select(.netns == $n and .event == "netns_gone") | .message' "$OUT1" |
	sed -n 's/.*report \([0-9]*\) was its last.*/\1/p')
[ -n "$LAST" ] && ok "2: netns_gone names report $LAST" || bad "2: netns_gone names no report"
# The burst came in the last report unless a boundary fell between it and
# the deletion (then in the one before): it is in the sum either way.
if [ "$(us_since "$TDEL" "$((REP_T + IVL)).000000")" -gt 300000 ]; then
	assert_eq "$((20 * 128)) 20" \
		"$(jq -rs --arg n "$R2" --argjson s "${LAST:-0}" '.[] | select(.netns == $n and .seq == $s and .addr == "198.18.12.2") | "\(.in_bytes) \(.in_packets)"' "$OUT1")" \
		"2: the burst is in the last report of $R2, read after ip netns del"
fi
assert_eq "$((7 * 78 + 20 * 128)) 27" \
	"$(tot "$R2" routers 198.18.12.2 in_bytes "$OUT1") $(tot "$R2" routers 198.18.12.2 in_packets "$OUT1")" \
	"2: everything sent to $R2 is in its reports"
wait_rep "$OUT1" "$HOSTK" "$RK1" "$RK3"
assert_eq "$(expected)" "$(reported "$OUT1")" "2: every namespace, account and address exact after the deletion"
wait_gone_link "$H" xr2 && ok "2: $R2 freed (its veth went with it)" || bad "2: $R2 still alive: xr2 in $H"
assert_eq 0 "$(netns_fds "$INO")" "2: no fd of the run on the deleted namespace"
assert_eq "$FD0" "$(fds)" "2: the run's fds as before $R3 existed (one router less, one more)"

# R2 again, the same name, the same addresses: a new namespace from zero.
mkrouter 2
wait_ev "$OUT1" "$R2" routers netns_new 1
wait_ev "$OUT1" "$R2" routers start 2
NEWAT=$(ev_at "$R2" routers 1 netns_new)
h2r 2 198.18.12.2 198.18.12.1 100 15
r2h 2 198.18.20.1 198.18.12.1 40 4
wait_rep "$OUT1" "$RK2"
after_new() { tail -n +"$NEWAT" "$OUT1" | jq -rs --arg n "$R2" --arg x "$1" \
	"[.[] | select(.netns == \$n and .addr == \$x)] | $2"; }
assert_eq "$((15 * 128)) 15" "$(after_new 198.18.12.2 '"\(map(.in_bytes) | add) \(map(.in_packets) | add)"')" \
	"2: the new $R2 counts from zero, exactly"
assert_eq "$((4 * 68)) 4" "$(after_new 198.18.20.1 '"\(map(.out_bytes) | add) \(map(.out_packets) | add)"')" \
	"2: its shared address too"
assert_eq 0 "$(after_new 198.18.12.2 'map(select(.in_packets > 15 or .in_bytes > 1920)) | length')" \
	"2: no line of the new $R2 with more than was sent (no huge delta)"

# ==== 3. addresses and routes as they appear and leave ====
pin "$H" 198.18.11.5 "$(mac "$R1" qg-1)" xr1
pin "$H" 2001:db8:11::5 "$(mac "$R1" qg-1)" xr1
RL1=$(nev "$OUT1" "$R1" routers reloaded)
ip -n "$R1" addr add 198.18.11.5/32 dev qg-1
ip -n "$R1" addr add 2001:db8:11::5/128 dev qg-1 nodad
sleep 0.1
h2r 1 198.18.11.5 198.18.11.1 100 12
h2r 1 2001:db8:11::5 2001:db8:11::1 100 6
ip -n "$H" route add 198.18.60.2/32 dev vethk
ip -n "$H" route add 198.18.60.3/32 dev vethk
ip -n "$H" -6 route add 2001:db8:60::2/128 dev vethk
sleep 0.1
send "$H" 198.18.60.2 100 11 198.18.11.1
exp "" host 198.18.60.2 in 100 11
exp "" host 198.18.11.1 out 100 11
send "$H" 2001:db8:60::2 100 3 2001:db8:11::1
exp "" host 2001:db8:60::2 in 100 3
exp "" host 2001:db8:11::1 out 100 3
send "$H" 198.18.60.3 200 2 198.18.11.1
exp "" host 198.18.60.3 in 200 2
exp "" host 198.18.11.1 out 200 2
wait_rep "$OUT1" "$HOSTK" "$RK1"
assert_eq "$((12 * 128)) 12 $((6 * 148)) 6" \
	"$(tot "$R1" routers 198.18.11.5 in_bytes "$OUT1") $(tot "$R1" routers 198.18.11.5 in_packets "$OUT1") $(tot "$R1" routers 2001:db8:11::5 in_bytes "$OUT1") $(tot "$R1" routers 2001:db8:11::5 in_packets "$OUT1")" \
	"3: addresses added on qg-1, used 100 ms later: counted from the first packet"
[ "$(nev "$OUT1" "$R1" routers reloaded)" -gt "$RL1" ] &&
	jq -r --arg n "$R1" 'select(.netns == $n and .event == "reloaded") | .message' "$OUT1" | grep -q '(addresses changed)' &&
	ok "3: reloaded (addresses changed) in $R1" || bad "3: no reloaded (addresses changed) in $R1"
assert_eq "$((11 * 128)) 11 $((3 * 148)) 3" \
	"$(tot "" host 198.18.60.2 in_bytes "$OUT1") $(tot "" host 198.18.60.2 in_packets "$OUT1") $(tot "" host 2001:db8:60::2 in_bytes "$OUT1") $(tot "" host 2001:db8:60::2 in_packets "$OUT1")" \
	"3: host routes via vethk, used 100 ms later: counted from the first packet"
assert_eq "13 3" "$(rx_packets "$K" rx4) $(rx_packets "$K" rx6)" "3: the container received them"
assert_eq "vethk" "$(jq -rs '[.[] | select(.addr == "198.18.60.2") | .label] | unique | join(" ")' "$OUT1")" \
	"3: a route's label without a labels file: its interface"
assert_eq "$((2 * 228)) 2 k-file 1" \
	"$(tot "" host 198.18.60.3 in_bytes "$OUT1") $(tot "" host 198.18.60.3 in_packets "$OUT1") $(jq -rs '[.[] | select(.addr == "198.18.60.3")] | "\(map(.label) | unique | join(" ")) \(group_by(.seq) | map(length) | max)"' "$OUT1")" \
	"3: an address in the file and routed: the file's label, one line per report"
# The address and the routes leave right after their last datagrams:
# drained exactly, in the report after the reload; an address the file
# names stays.
RL1=$(nev "$OUT1" "$R1" routers reloaded) RLH=$(nev "$OUT1" "" host reloaded)
h2r 1 198.18.11.5 198.18.11.1 100 8
send "$H" 198.18.60.2 100 4 198.18.11.1
exp "" host 198.18.60.2 in 100 4
exp "" host 198.18.11.1 out 100 4
ip -n "$R1" addr del 198.18.11.5/32 dev qg-1
ip -n "$H" route del 198.18.60.2/32 dev vethk
ip -n "$H" route del 198.18.60.3/32 dev vethk
wait_ev "$OUT1" "$R1" routers reloaded $((RL1 + 1))
wait_ev "$OUT1" "" host reloaded $((RLH + 1))
wait_rep "$OUT1" "$HOSTK" "$RK1"
wait_rep "$OUT1" "$HOSTK" "$RK1"
assert_eq "$((20 * 128)) 20 $((15 * 128)) 15" \
	"$(tot "$R1" routers 198.18.11.5 in_bytes "$OUT1") $(tot "$R1" routers 198.18.11.5 in_packets "$OUT1") $(tot "" host 198.18.60.2 in_bytes "$OUT1") $(tot "" host 198.18.60.2 in_packets "$OUT1")" \
	"3: the removed address and route drained exactly"
assert_eq "1 1" "$(after_ev "$R1" routers $((RL1 + 1)) 198.18.11.5) $(after_ev "" host $((RLH + 1)) 198.18.60.2)" \
	"3: one last line for each after its removal, none after"
[ "$(after_ev "" host $((RLH + 1)) 198.18.60.3)" -ge 2 ] && ok "3: the file's address, routed no more, reported on" ||
	bad "3: the file's address left with its route"

# ==== 4. labels ====
assert_eq "fip-r1" "$(jq -rs --arg n "$R1" '[.[] | select(.netns == $n and .addr == "198.18.11.2") | .label] | unique | join(" ")' "$OUT1")" \
	"4: a discovered address labelled by the labels file"
assert_eq "$R2" "$(jq -rs --arg n "$R2" '[.[] | select(.netns == $n and .addr == "198.18.12.2") | .label] | unique | join(" ")' "$OUT1")" \
	"4: without a labels entry: the namespace's name"
assert_eq "shared shared" "$(jq -rs '[.[] | select(.addr == "198.18.20.1") | .label] | unique | join(" ")' "$OUT1") $(jq -rs '[.[] | select(.addr == "2001:db8:20::1") | .label] | unique | join(" ")' "$OUT1")" \
	"4: the shared addresses by their prefix"
RL1=$(nev "$OUT1" "$R1" routers reloaded)
sed 's/fip-r1$/fip-r1-new/' "$WORK/lab/routers" > "$WORK/lab/routers.tmp"
mv "$WORK/lab/routers.tmp" "$WORK/lab/routers"
wait_ev "$OUT1" "$R1" routers reloaded $((RL1 + 1))
RENAT=$(ev_at "$R1" routers $((RL1 + 1)) reloaded)
h2r 1 198.18.11.2 198.18.11.1 100 5
wait_rep "$OUT1" "$RK1"
assert_eq "fip-r1-new" "$(tail -n +"$RENAT" "$OUT1" | jq -rs --arg n "$R1" '[.[] | select(.netns == $n and .addr == "198.18.11.2") | .label] | unique | join(" ")')" \
	"4: the labels file renamed over: the new label in the next report"
assert_eq "$((5 * 128)) 5" "$(tail -n +"$RENAT" "$OUT1" | jq -rs --arg n "$R1" '[.[] | select(.netns == $n and .addr == "198.18.11.2")] | "\(map(.in_bytes) | add) \(map(.in_packets) | add)"')" \
	"4: the counter carries on under the new label (no reset)"
assert_eq "$(expected)" "$(reported "$OUT1")" "4: every total exact across the relabelling"

# ==== 5. metrics: the same address and label in two namespaces ====
wait_rep "$OUT1" "$HOSTK" "$RK1" "$RK2" "$RK3"
PROM="$WORK/prom/nftally.prom"
promtool check metrics < "$PROM" > "$WORK/promtool.out" 2>&1
rc=$?; assert_eq 0 $rc "5: promtool check metrics"; [ $rc = 0 ] || cat "$WORK/promtool.out"
assert_eq "" "$(grep -v '^#' "$PROM" | sed 's/ [^ ]*$//' | sort | uniq -d)" "5: no series twice"
series() { grep "^nftally_$1_total{host=\"$NODE\",netns=\"$2\",account=\"routers\",label=\"shared\",addr=\"$3\",direction=\"$4\"} " "$PROM" | awk '{ print $2 }'; }
assert_eq "$(tot "$R1" routers 198.18.20.1 out_bytes "$OUT1") $(tot "$R2" routers 198.18.20.1 out_bytes "$OUT1") $(tot "$R1" routers 198.18.20.1 out_packets "$OUT1") $(tot "$R2" routers 198.18.20.1 out_packets "$OUT1")" \
	"$(series bytes "$R1" 198.18.20.1 out) $(series bytes "$R2" 198.18.20.1 out) $(series packets "$R1" 198.18.20.1 out) $(series packets "$R2" 198.18.20.1 out)" \
	"5: one series per namespace for 198.18.20.1 (shared), each with its own total"
assert_eq 2 "$(grep -c '^nftally_bytes_total{.*addr="2001:db8:20::1",direction="in"}' "$PROM")" \
	"5: two series for 2001:db8:20::1"

# ==== 6. kill -9 while namespaces are deleted and created again ====
# R2 comes back without a table; R3 gets one from `apply` (as a unit's
# ExecStartPre would) and counts before the run is back: its table has
# the old one's handle, only the namespace tells them apart.
wait_rep "$OUT1" "$HOSTK" "$RK1" "$RK2" "$RK3"
kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
ip netns del "$R2"
ip netns del "$R3"
wait_gone_link "$H" xr2 || bad "6: $R2 not freed"
wait_gone_link "$H" xr3 || bad "6: $R3 not freed"
mkrouter 2
mkrouter 3
sed "s/^netns = .*/netns = $R3/" "$CONF" > "$WORK/r3.conf"
inns "$H" "$NFTALLY" -c "$WORK/r3.conf" --account routers apply 2> "$WORK/apply-r3.err"
rc=$?; assert_eq 0 $rc "6: apply in the new $R3 while no run runs"; [ $rc = 0 ] || cat "$WORK/apply-r3.err"
h2r 1 198.18.11.2 198.18.11.1 100 7  # counted by R1's table, reported after the restart
h2r 3 198.18.13.2 198.18.13.1 100 8  # counted by R3's new table, likewise
send "$H" 198.18.12.2 100 5 198.18.12.1  # R2 has no table: counted in H only
exp "" host 198.18.12.1 out 100 5
OUT2="$WORK/run2.json"
start_acct "$OUT2" 4
for r in "$R2" "$R3"; do
	if [ "$(nev "$OUT2" "$r" routers table_missing)" -ge 1 ] || [ "$(nev "$OUT2" "$r" routers netns_new)" -ge 1 ]; then
		ok "6: the replaced $r has a new table: $(jq -r --arg n "$r" 'select(.netns == $n and .event and .event != "start") | .message' "$OUT2" | tr '\n' ' ')"
	else
		bad "6: no table_missing or netns_new for $r"
	fi
done
assert_eq 0 "$(nev "$OUT2" "$R1" routers table_missing)" "6: the namespace that stayed has no window"
h2r 2 198.18.12.2 198.18.12.1 100 6
h2r 3 198.18.13.2 198.18.13.1 100 10
wait_rep "$OUT2" "$HOSTK" "$RK1" "$RK2" "$RK3"
assert_eq "$((6 * 128)) 6 $((18 * 128)) 18" \
	"$(tot "$R2" routers 198.18.12.2 in_bytes "$OUT2") $(tot "$R2" routers 198.18.12.2 in_packets "$OUT2") $(tot "$R3" routers 198.18.13.2 in_bytes "$OUT2") $(tot "$R3" routers 198.18.13.2 in_packets "$OUT2")" \
	"6: the new tables after the restart: exactly what they counted"
assert_eq "$(expected)" "$(reported "$OUT1" "$OUT2")" "6: every total exact across kill -9, nothing twice"
assert_eq 0 "$(cat "$OUT1" "$OUT2" | grep -c '"event":"counter_reset"')" "6: no counter_reset"

# ==== 7. one account's commands ====
nft_h --account routers apply 2> "$WORK/apply0.err"
rc=$?; assert_eq 0 $rc "7: apply --account routers while the run runs (asks the run)"; [ $rc = 0 ] || cat "$WORK/apply0.err"
nft_h --account routers remove > "$WORK/remove0.json" 2> "$WORK/remove0.err"
assert_eq "1 0" "$? $(wc -c < "$WORK/remove0.json")" "7: remove --account routers refused while the run runs"
for r in "$R1" "$R2" "$R3"; do
	inns "$r" nft list table inet nftally > /dev/null 2>&1 || bad "7: refused remove deleted the table in $r"
done
stop_run; assert_eq 0 $? "7: run exits 0 after SIGTERM"
h2r 1 198.18.11.2 198.18.11.1 100 6 # for remove's last report
nft_h --account routers dump > "$WORK/dump.json" 2> "$WORK/dump.err"
assert_eq 0 $? "7: dump --account routers"
assert_eq "routers $R1 5|routers $R2 4|routers $R3 2|" \
	"$(jq -rs 'group_by(.netns) | .[] | "\(.[0].account) \(.[0].netns) \(length)"' "$WORK/dump.json" | tr '\n' '|')" \
	"7: dump prints the lines of that account only, with their netns"
assert_eq "$(( $(tot "$R1" routers 198.18.11.2 in_bytes "$OUT1" "$OUT2") + 6 * 128 )) $((6 * 128)) $((18 * 128))" \
	"$(jq -r --arg n "$R1" 'select(.netns == $n and .addr == "198.18.11.2") | .in_bytes' "$WORK/dump.json") $(jq -r --arg n "$R2" 'select(.netns == $n and .addr == "198.18.12.2") | .in_bytes' "$WORK/dump.json") $(jq -r --arg n "$R3" 'select(.netns == $n and .addr == "198.18.13.2") | .in_bytes' "$WORK/dump.json")" \
	"7: dump's cumulative values"
HTAB=$(inns "$H" nft list table inet nftally)
nft_h --account routers apply 2> "$WORK/apply.err"
assert_eq 0 $? "7: apply --account routers"
nft_h --account routers remove > "$WORK/remove.json" 2> "$WORK/remove.err"
rc=$?; assert_eq 0 $rc "7: remove --account routers"; [ $rc = 0 ] || cat "$WORK/remove.err"
exp "$R1" routers 198.18.11.2 in 100 6
assert_eq "$((6 * 128)) 6" "$(tot "$R1" routers 198.18.11.2 in_bytes "$WORK/remove.json") $(tot "$R1" routers 198.18.11.2 in_packets "$WORK/remove.json")" \
	"7: remove's last report"
assert_eq "routers" "$(jq -rs 'map(.account) | unique | join(" ")' "$WORK/remove.json")" "7: remove's lines are that account's"
for r in "$R1" "$R2" "$R3"; do
	inns "$r" nft list table inet nftally > /dev/null 2>&1 && bad "7: table left in $r" || ok "7: remove deleted the table in $r"
done
assert_eq "$HTAB" "$(inns "$H" nft list table inet nftally)" "7: the other account's table unchanged by apply and remove"
nft_h --account routers apply 2> "$WORK/apply2.err"
assert_eq 0 $? "7: apply --account routers again"
for r in "$R1" "$R2" "$R3"; do
	inns "$r" nft list table inet nftally > /dev/null 2>&1 && ok "7: apply installed the table in $r" || bad "7: no table in $r"
done
assert_eq "$HTAB" "$(inns "$H" nft list table inet nftally)" "7: the other account's table still unchanged"
nft_h --account host dump > "$WORK/dump2.json"
assert_eq "host|" "$(jq -r '"\(.account)|\(.netns)"' "$WORK/dump2.json" | sort -u | tr '\n' ' ' | sed 's/ $//')" \
	"7: dump --account host: its lines only, in the run's namespace"

# report: per account, per namespace, per label, as the JSON lines say
ALL=("$OUT1" "$OUT2" "$WORK/remove.json")
rep_sum() { nft_h report --utc --format json "$@" | jq -rs \
	'[(map(.in_bytes) | add), (map(.in_packets) | add), (map(.out_bytes) | add), (map(.out_packets) | add)] | map(. // 0 | tostring) | join(" ")'; }
json_sum() { cat "${ALL[@]}" | jq -rs "[.[] | select(.addr) | $1] | unique_by([.netns, .account, .seq, .addr])
	| [(map(.in_bytes) | add), (map(.in_packets) | add), (map(.out_bytes) | add), (map(.out_packets) | add)] | map(. // 0 | tostring) | join(\" \")"; }
assert_eq "$(json_sum 'select(.account == "routers")')" "$(rep_sum --account routers)" "7: report --account routers"
assert_eq "$(json_sum 'select(.account == "host")')" "$(rep_sum --account host)" "7: report --account host"
for r in "$R1" "$R2" "$R3"; do
	assert_eq "$(json_sum "select(.netns == \"$r\")")" "$(rep_sum --netns "$r")" "7: report --netns $r"
done
assert_eq "$(json_sum 'select(.netns == "")')" "$(rep_sum --netns '')" "7: report --netns ''"
assert_eq "$(cat "${ALL[@]}" | jq -rs '[.[] | select(.addr and .netns != "")] | unique_by([.netns, .account, .seq, .addr])
	| group_by([.netns, .label]) | .[] | "\(.[0].netns) \(.[0].label) \(map(.in_bytes) | add) \(map(.out_bytes) | add)"' | sort)" \
	"$(nft_h report --utc --format json --account routers | jq -rs 'group_by([.netns, .label]) | .[] | "\(.[0].netns) \(.[0].label) \(map(.in_bytes) | add) \(map(.out_bytes) | add)"' | sort)" \
	"7: report per namespace and label"
finish
