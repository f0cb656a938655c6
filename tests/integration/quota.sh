#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Quotas with real traffic through the router: a quota crossed by known
# traffic gives exactly one quota_warning and one quota_exceeded, each with
# its hook run once, also across a kill -9 right after the crossing; the
# metrics show it; drop stops and throttle limits the over-quota address's
# traffic while another address is untouched (exact counters), and
# removing the quota lines restores it.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
cat > "$WORK/hook" <<HOOK
#!/bin/sh
echo "\$NFTALLY_EVENT \$NFTALLY_LABEL \$NFTALLY_USED \$NFTALLY_LIMIT \$NFTALLY_PERCENT \$NFTALLY_BILL \$NFTALLY_CYCLE_START" >> "$WORK/hook.log"
HOOK
chmod +x "$WORK/hook"
cat >> "$WORK/nftally.conf" <<CONF
quotas = $WORK/quotas
quota_hook = $WORK/hook
quota_hook_timeout = 5
prom_file = $WORK/prom
CONF
printf 'vm 198.18.2.2\ndropper 198.18.4.1\nslowed 198.18.4.2\n' > "$WORK/targets"
# 10240 bytes: 40 datagrams of 128 bytes (100 + 28) reach the warning at
# 50 % exactly, 40 more the limit exactly
printf 'vm 10240 warn=50%%\n' > "$WORK/quotas"
CYCLE=$(date -d "$(date +%Y-%m-01)" -u +%Y-%m-%dT%H:%M:%SZ)

out1="$WORK/run1.json"
start_run "$out1"
send "$C" 198.18.2.2 100 40 198.18.1.2
wait_event "$out1" quota_warning 1 || bad "no quota_warning"
send "$C" 198.18.2.2 100 40 198.18.1.2
wait_event "$out1" quota_exceeded 1 || bad "no quota_exceeded"
kill -9 "$RUN"; wait "$RUN" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $RUN//")

out2="$WORK/run2.json"
start_run "$out2"
send "$C" 198.18.2.2 100 5 198.18.1.2      # over the limit: nothing new fires
sleep 2.5
stop_run; assert_eq 0 $? "run exits 0 after the restart"
ev() { cat "$out1" "$out2" | jq -c --arg e "$1" 'select(.event == $e) | [.label, .used, .limit, .fraction, .cycle_start, .bill]'; }
assert_eq "[\"vm\",5120,10240,0.5,\"$CYCLE\",\"sum\"]" "$(ev quota_warning)" "one quota_warning, exact"
assert_eq "[\"vm\",10240,10240,1,\"$CYCLE\",\"sum\"]" "$(ev quota_exceeded)" "one quota_exceeded, exact"
assert_eq "quota_warning vm 5120 10240 50 sum $CYCLE
quota_exceeded vm 10240 10240 100 sum $CYCLE" "$(cat "$WORK/hook.log")" "the hook ran once per event"
assert_eq "$((85 * 128))" "$(total 198.18.2.2 in_bytes "$out1" "$out2")" "every datagram counted"
assert_eq "nftally_quota_used_bytes{host=\"$(uname -n)\",label=\"vm\"} $((85 * 128))" \
	"$(grep '^nftally_quota_used_bytes' "$WORK/prom")" "metric: used"
assert_eq "nftally_quota_limit_bytes{host=\"$(uname -n)\",label=\"vm\"} 10240" \
	"$(grep '^nftally_quota_limit_bytes' "$WORK/prom")" "metric: limit"
assert_eq "nftally_quota_exceeded{host=\"$(uname -n)\",label=\"vm\"} 2" \
	"$(grep '^nftally_quota_exceeded' "$WORK/prom")" "metric: state"
assert_eq "" "$(inns "$R" nft list table inet nftally | grep -E 'qdrop|qmark|qthr')" \
	"no enforcing quota: no enforcement in the table"

# A crash between recording a level and delivering it (simulated: the
# record says fired, not delivered, and no marker is taken): the next
# start delivers both once, with the usage of the last firing, and a start
# after that nothing.
awk '{ if (NR > 1) { $6 = 0; $7 = 0 } print }' "$WORK/state/quota.state" > "$WORK/qs" &&
	mv "$WORK/qs" "$WORK/state/quota.state"
rm -r "$WORK/state/quota.d"
out2b="$WORK/run2b.json"
start_run "$out2b"
wait_event "$out2b" quota_exceeded 1 || bad "no redelivered quota_exceeded"
sleep 1.2
stop_run
start_run "$WORK/run2c.json"
sleep 1.2
stop_run
assert_eq "quota_warning 10240 0.5
quota_exceeded 10240 1" "$(cat "$out2b" "$WORK/run2c.json" | jq -r 'select((.event // "") | startswith("quota_")) | "\(.event) \(.used) \(.fraction)"')" \
	"recorded, not delivered: delivered once at the next start"
assert_eq 4 "$(wc -l < "$WORK/hook.log")" "and its hooks run once"

# A damaged record is kept aside; the run goes on, and the levels reached
# fire again (said by state_damaged).
echo garbage > "$WORK/state/quota.state"
out2d="$WORK/run2d.json"
start_run "$out2d"
wait_event "$out2d" quota_exceeded 1 || bad "no quota_exceeded after a damaged record"
# Their hooks run after the events are printed: wait for them, or the
# next start (below) would run one a stop came before.
for _ in $(seq 100); do [ "$(wc -l < "$WORK/hook.log")" = 6 ] && break; sleep 0.1; done
stop_run
assert_eq 6 "$(wc -l < "$WORK/hook.log")" "a damaged quota.state: the hooks run again too"
assert_eq "state_damaged quota_warning quota_exceeded" \
	"$(jq -r 'select((.event // "") | test("^(state_damaged|quota_)")) | .event' "$out2d" | xargs)" \
	"a damaged quota.state: said, kept aside, the levels fire again"
assert_eq garbage "$(cat "$WORK/state/quota.state.damaged")" "kept as quota.state.damaged"

# kill -9 at each step of a delivery (NFTALLY_CRASH_AT, a point in the
# code): after the level is recorded, after its event is printed, after
# its hook is started.  The restart completes what is missing: each event
# printed once, each hook run once.
: > "$WORK/hook.log"
printf 'vm 198.18.2.2\nk1 198.18.4.1\nk2 198.18.4.2\nk3 2001:db8:4::1\n' > "$WORK/targets"
printf 'k1 1280 warn=none\nk2 1280 warn=none\nk3 980 warn=none\n' > "$WORK/quotas"
crash_at() { # POINT DST PAYLOAD SRC
	local out="$WORK/crash-$1.json"
	NFTALLY_CRASH_AT=$1 start_run "$out"
	send "$C" "$2" "$3" 10 "$4"
	for _ in $(seq 100); do kill -0 "$RUN" 2>/dev/null || break; sleep 0.1; done
	wait "$RUN"
	assert_eq 137 $? "killed at $1"
	PIDS=$(echo "$PIDS" | sed "s/ $RUN//")
	start_run "$out.2"
	sleep 1.5
	stop_run; assert_eq 0 $? "run exits 0 after the kill at $1"
}
crash_at quota-recorded 198.18.4.1 100 198.18.1.2
crash_at quota-events 198.18.4.2 100 198.18.1.2
crash_at quota-hooks 2001:db8:4::1 50 2001:db8:1::2
where() { # LABEL: the outputs its quota_exceeded is in
	for f in "$WORK"/crash-*.json "$WORK"/crash-*.json.2; do
		jq -c --arg l "$1" 'select(.event == "quota_exceeded" and .label == $l)' "$f" |
			grep -q . && echo "${f#"$WORK"/crash-}"
	done | xargs
}
assert_eq "quota-recorded.json.2 | quota-events.json | quota-hooks.json" \
	"$(where k1) | $(where k2) | $(where k3)" \
	"each quota_exceeded printed once: by the restart, before the kill, before the kill"
assert_eq "quota_exceeded k1 1280 1280 100 sum $CYCLE
quota_exceeded k2 1280 1280 100 sum $CYCLE
quota_exceeded k3 980 980 100 sum $CYCLE" "$(sort "$WORK/hook.log")" "each hook ran once"

# A hook that hangs is killed after quota_hook_timeout, with an error event.
printf 'hang 1000 warn=none\n' > "$WORK/quotas"
printf 'vm 198.18.2.2\nhang 198.18.4.1\nslowed 198.18.4.2\n' > "$WORK/targets"
printf '#!/bin/sh\necho $$ > %s/hook.pid\nexec sleep 60\n' "$WORK" > "$WORK/hook"
sed -i 's/^quota_hook_timeout = 5/quota_hook_timeout = 1/' "$WORK/nftally.conf"
out3="$WORK/run3.json"
start_run "$out3"
send "$C" 198.18.4.1 100 10 198.18.1.2
wait_event "$out3" quota_exceeded 1 || bad "no quota_exceeded for hang"
wait_event "$out3" error 1 || bad "no error for the hanging hook"
assert_eq 1 "$(jq -c 'select(.event == "error") | .message' "$out3" | grep -c 'killed after 1 s')" \
	"the hanging hook is killed after its timeout"
if kill -0 "$(cat "$WORK/hook.pid")" 2>/dev/null; then bad "the hanging hook still runs"
else ok "the hanging hook is gone"; fi
stop_run; assert_eq 0 $? "run exits 0"

# Enforcement: 2560 bytes (20 datagrams) exceed each IPv4 quota, 1960
# (20 IPv6 datagrams of 98 bytes) the one that marks.  A table of the
# operator's own counts the marked packets after nftally's chains.
printf 'vm 198.18.2.2\ndropper 198.18.4.1\nslowed 198.18.4.2\nmarked 2001:db8:2::2\n' > "$WORK/targets"
printf '#!/bin/sh\nexit 0\n' > "$WORK/hook"
cat > "$WORK/quotas" <<'Q'
dropper 2560 warn=none action=drop
slowed 2560 warn=none bill=in action=throttle:1280bytes
marked 1960 warn=none action=mark:0x10
Q
inns "$R" nft -f - <<'NFT'
table inet qmarks {
	counter marked { }
	chain post {
		type filter hook postrouting priority 100; policy accept;
		meta mark 0x10 counter name marked
	}
}
NFT
out4="$WORK/run4.json"
start_run "$out4"
assert_eq 2 "$(inns "$R" nft list table inet nftally | grep -c "@qdrop4 drop")" \
	"an enforcing quota declares its rules (account_in, account_out)"
rx() { rx_packets "$S" rx4; }
send "$C" 198.18.4.1 100 20 198.18.1.2
send "$C" 198.18.4.2 100 20 198.18.1.2
send "$C" 2001:db8:2::2 50 20 2001:db8:1::2
wait_event "$out4" quota_enforced 3 || bad "no quota_enforced"
for _ in $(seq 30); do
	inns "$R" nft list set inet nftally qthr4_0 | grep -q 198.18.4.2 && break
	sleep 0.1
done
assert_eq 1 "$(inns "$R" nft list set inet nftally qdrop4 | grep -c '198.18.4.1')" "dropper in qdrop4"
b0=$(rx)
send "$C" 198.18.4.1 100 10 198.18.1.2    # dropped
send "$C" 198.18.2.2 100 10 198.18.1.2    # untouched
sleep 0.2
b1=$(rx)
assert_eq 10 "$((b1 - b0))" "drop: only the untouched address's 10 datagrams arrive"
# 200 datagrams at once: the bucket holds one second of 1280 bytes/s (10
# datagrams of 128 bytes) and refills by 1.28 bytes a millisecond while
# they are sent; everything over it is dropped
send "$C" 198.18.4.2 100 200 198.18.1.2
sleep 0.2
b2=$(rx)
thr=$((b2 - b1))
if [ "$thr" -ge 10 ] && [ "$thr" -le 12 ]; then ok "throttle: $thr of 200 datagrams arrive"
else bad "throttle: $thr of 200 datagrams arrived (want 10..12)"; fi
marks() { inns "$R" nft list counter inet qmarks marked | awk '/packets/ {print $2}'; }
m0=$(rx_packets "$S" rx6) k0=$(marks)
send "$C" 2001:db8:2::2 50 10 2001:db8:1::2
send "$C" 198.18.2.2 100 1 198.18.1.2     # another address: not marked
sleep 0.2
assert_eq "10 10" "$(($(marks) - k0)) $(($(rx_packets "$S" rx6) - m0))" \
	"mark: its 10 datagrams marked, and all arrive"
# An address added to an enforced label is enforced with the targets
# file's change, before any report.
printf 'dropper 2001:db8:4::1\n' >> "$WORK/targets"
wait_event "$out4" reloaded 1 || bad "no reload"
m1=$(rx_packets "$S" rx6)
send "$C" 2001:db8:4::1 50 5 2001:db8:1::2
sleep 0.2
assert_eq 0 "$(($(rx_packets "$S" rx6) - m1))" "a new address of an exceeded label is dropped at once"
sleep 1.5
# what the counters say is what arrived: enforcement acts before counting
assert_eq "$((20 * 128)) $((11 * 128)) $(((20 + thr) * 128))" \
	"$(total 198.18.4.1 in_bytes "$out4") $(total 198.18.2.2 in_bytes "$out4") $(total 198.18.4.2 in_bytes "$out4")" \
	"counters: dropper, the untouched vm, slowed"

# A bad quotas file changes nothing: the quotas and their enforcement stay.
printf 'dropper lots action=drop\n' > "$WORK/quotas"
wait_event "$out4" quotas_rejected 1 || bad "no quotas_rejected"
assert_eq 1 "$(jq -r 'select(.event == "quotas_rejected") | .message' "$out4" | grep -c "quotas:1: bad limit 'lots'")" \
	"quotas_rejected names file and line"
sleep 1.2
b5=$(rx)
send "$C" 198.18.4.1 100 5 198.18.1.2
sleep 0.2
assert_eq 0 "$(($(rx) - b5))" "still dropped after a bad quotas file"
# A full resync (SIGHUP: the skeleton rebuilt, the sets filled again)
# keeps it.
kill -HUP "$RUN"
for _ in $(seq 50); do
	grep -q '"message":"[^"]*(SIGHUP)' "$out4" && break
	sleep 0.1
done
b6=$(rx)
send "$C" 198.18.4.1 100 5 198.18.1.2
sleep 0.2
assert_eq "1 0" "$(grep -c '"message":"[^"]*(SIGHUP)' "$out4") $(($(rx) - b6))" \
	"still dropped after a SIGHUP"

# The quota lines removed: the next report lifts the enforcement.  The
# operator's table is untouched.
printf '# none\n' > "$WORK/quotas"
wait_event "$out4" quota_lifted 3 || bad "no quota_lifted"
for _ in $(seq 30); do
	[ -z "$(inns "$R" nft list set inet nftally qdrop4 2>/dev/null | grep 198.18.4.1)" ] && break
	sleep 0.1
done
b3=$(rx)
send "$C" 198.18.4.1 100 10 198.18.1.2
send "$C" 198.18.4.2 100 200 198.18.1.2
sleep 0.2
b4=$(rx)
m2=$(rx_packets "$S" rx6)
send "$C" 2001:db8:4::1 50 5 2001:db8:1::2
sleep 0.2
assert_eq 210 "$((b4 - b3))" "removed quotas: every datagram arrives again"
assert_eq 5 "$(($(rx_packets "$S" rx6) - m2))" "the added address's too"
assert_eq 0 "$(inns "$R" nft list table inet nftally | grep -cE 'qdrop|qmark|qthr|qmeter')" \
	"no action left: the enforcement's rules and sets are gone"
stop_run; assert_eq 0 $? "run exits 0"

# The gateway template: drop acts in prerouting (to the address) and in
# postrouting (from it).
echo "template = gateway" >> "$WORK/nftally.conf"
printf 'vm 198.18.2.2\ngw 198.18.4.1\n' > "$WORK/targets"
printf 'gw 1280 warn=none action=drop\n' > "$WORK/quotas"
out5="$WORK/run5.json"
start_run "$out5"
send "$C" 198.18.4.1 100 10 198.18.1.2
wait_event "$out5" quota_enforced 1 || bad "no quota_enforced with gateway"
for _ in $(seq 30); do
	inns "$R" nft list set inet nftally qdrop4 | grep -q 198.18.4.1 && break
	sleep 0.1
done
b7=$(rx) c7=$(rx_packets "$C" rx4)
send "$C" 198.18.4.1 100 5 198.18.1.2
send "$S" 198.18.1.2 100 5 198.18.4.1
send "$C" 198.18.2.2 100 3 198.18.1.2
sleep 0.2
assert_eq "3 0" "$(($(rx) - b7)) $(($(rx_packets "$C" rx4) - c7))" \
	"gateway: both directions of the exceeded address dropped, another address untouched"
stop_run; assert_eq 0 $? "run exits 0"
finish
