#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Namespaces that change while no run holds them (issue 14):
# 1. A router namespace counted traffic after the run's last report; the run
#    stops cleanly, the namespace is deleted.  The next run says, with a
#    `netns_gone` event whose window starts at that last report, that this
#    traffic could not be read (it went with the namespace), once; the
#    namespace created again under that name is a new one (`netns_new`),
#    counted from zero, exactly.
# 2. kill -9; the namespace is replaced and `nftally apply` installs the
#    table in the new one; traffic; then the run comes back.  The table was
#    made at a moment nothing tells: the first report carries that traffic
#    exactly and has no `since` (never a `since` later than its traffic),
#    and `table_missing` says its window ends at the latest at the restart.
cd "$(dirname "$0")"
. ./lib.sh
need
A="${PFX}a" B="${PFX}rb"
trap 'cleanup; ip netns del "$A" 2>/dev/null; ip netns del "$B" 2>/dev/null' EXIT
mkb() {
	ip netns add "$B"; ip -n "$B" link set lo up
	ip link add xa netns "$A" type veth peer name qg-b netns "$B"
	ip -n "$A" addr add 198.18.30.1/24 dev xa; ip -n "$B" addr add 198.18.30.2/24 dev qg-b
	ip -n "$A" link set xa up; ip -n "$B" link set qg-b up
	pin "$A" 198.18.30.2 "$(mac "$B" qg-b)" xa
	pin "$B" 198.18.30.1 "$(inns "$A" cat /sys/class/net/xa/address)" qg-b
	add_sink "$B"
}
delb() { # the namespace, and wait until the kernel has freed it (xa goes with it)
	ip netns del "$B"
	for _ in $(seq 100); do inns "$A" ip link show xa >/dev/null 2>&1 || return 0; sleep 0.05; done
}
ip netns add "$A"; ip -n "$A" link set lo up
mkb
cat > "$WORK/c" <<C
interval = 1
state_dir = $WORK/state
host = h1
[account routers]
netns = $B
template = gateway
interfaces = qg-*
targets = interfaces qg-*
C
run() { ip netns exec "$A" "$NFTALLY" -c "$WORK/c" run > "$1" 2> "$1.err" & RUN=$!; PIDS="$PIDS $RUN"; }
started() { # FILE N: N start events of namespace B
	for _ in $(seq 100); do
		[ "$(jq -c "select(.event == \"start\" and .netns == \"$B\")" "$1" | wc -l)" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

# --- 1. gone while stopped ---
run "$WORK/1"; started "$WORK/1" 1
send "$A" 198.18.30.2 100 10 198.18.30.1
wait_seq_after "$WORK/1"
kill -TERM "$RUN"; wait "$RUN"; assert_eq 0 $? "first run exits 0"
last=$(jq -r "select(.addr == \"198.18.30.2\") | .time" "$WORK/1" | tail -n 1)
send "$A" 198.18.30.2 100 7 198.18.30.1 # counted by the kernel, never read
delb
run "$WORK/2"
wait_event "$WORK/2" netns_gone 1
assert_eq 1 "$(jq -c "select(.event == \"netns_gone\" and .netns == \"$B\" and .account == \"routers\" and .host == \"h1\")" "$WORK/2" | wc -l)" \
	"one netns_gone event for the namespace gone while no run held it"
assert_eq "$last" "$(jq -r 'select(.event == "netns_gone") | .lost_since' "$WORK/2")" \
	"its window starts at the last report"
assert_eq 10 "$(sum_field "$WORK/1" 198.18.30.2 in_packets)" "what the first run reported"
mkb
started "$WORK/2" 1 && ok "the namespace created again gets its table"
wait_event "$WORK/2" netns_new 1
assert_eq 1 "$(grep -c '"event":"netns_new"' "$WORK/2")" "netns_new for the new namespace of that name"
send "$A" 198.18.30.2 100 5 198.18.30.1
sleep 2.2
kill -TERM "$RUN"; wait "$RUN"; assert_eq 0 $? "second run exits 0"
assert_eq 5 "$(sum_field "$WORK/2" 198.18.30.2 in_packets)" "the new namespace counted from zero"
assert_eq $((5 * 128)) "$(sum_field "$WORK/2" 198.18.30.2 in_bytes)" "its bytes"
run "$WORK/3"; started "$WORK/3" 1
sleep 1.2
kill -TERM "$RUN"; wait "$RUN"
assert_eq 0 "$(grep -c '"event":"netns_gone"\|"event":"table_missing"' "$WORK/3")" \
	"said once: a third run says nothing more"

# --- 2. replaced and applied while the run was killed ---
run "$WORK/4"; started "$WORK/4" 1
send "$A" 198.18.30.2 100 3 198.18.30.1
sleep 2.2
kill -KILL "$RUN"; wait "$RUN" 2>/dev/null
delb; mkb
inns "$A" "$NFTALLY" -c "$WORK/c" apply 2>/dev/null
send "$A" 198.18.30.2 100 7 198.18.30.1
sleep 1.5
run "$WORK/5"; started "$WORK/5" 1
sleep 2.2
kill -TERM "$RUN"; wait "$RUN"
assert_eq 7 "$(sum_field "$WORK/5" 198.18.30.2 in_packets)" "traffic before the restart into the applied table, once"
first=$(jq -c 'select(.addr == "198.18.30.2")' "$WORK/5" | head -n 1)
assert_eq 7 "$(echo "$first" | jq .in_packets)" "all of it in the first report"
assert_eq null "$(echo "$first" | jq .since)" "which has no since"
assert_eq 1 "$(jq -c 'select(.event == "table_missing") | select(.message | test("at the latest"))' "$WORK/5" | wc -l)" \
	"table_missing: its window ends at the latest at the restart"
finish
