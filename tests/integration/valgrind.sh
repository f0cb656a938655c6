#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every CLI path under valgrind: no invalid accesses and no definite leaks
# (render, apply, dump, run with a reload, a rejected file, the store and
# both metrics outputs, report in every format, the policy (classes,
# exclusions, groups, overhead) and import-ipset, remove).
. "$(dirname "$0")/lib.sh"
need
command -v valgrind >/dev/null || skip_or_fail "valgrind is not installed"
setup_topology
write_config 1
printf 'vm-v4 198.18.2.2\nvm-net 198.18.4.0/24 2001:db8:4::/64\n' > "$WORK/targets"
VG="valgrind -q --suppressions=$SRCDIR/tests/valgrind.supp --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99"
# libnftnl before 1.1.7 leaks inside itself (see the file): suppressed there only.
if ! pkg-config --atleast-version=1.1.7 libnftnl 2>/dev/null; then
	echo "# libnftnl $(pkg-config --modversion libnftnl 2>/dev/null || echo '(unknown)'): leaks inside libnftnl suppressed"
	VG="$VG --suppressions=$SRCDIR/tests/valgrind-libnftnl-old.supp"
fi

vg() { # WHAT EXPECTED-EXIT ARGS...
	local what=$1 want=$2; shift 2
	inns "$R" $VG "$NFTALLY" -c "$WORK/nftally.conf" "$@" > "$WORK/out" 2> "$WORK/vg.err"
	assert_eq "$want" "$?" "valgrind exit code of $what"
}
vg render 0 render
vg apply 0 apply
vg dump 0 dump
vg "bad targets" 1 -t /dev/null/x apply
printf 'a 198.18.2.2\na 198.18.2.2\n' > "$WORK/bad"
vg "duplicate targets" 1 -t "$WORK/bad" apply

ip netns exec "$R" $VG "$NFTALLY" -c "$WORK/nftally.conf" --prom-file "$WORK/prom" \
	--listen 127.0.0.1:9663 run > "$WORK/run.json" 2> "$WORK/run.err" &
RUN=$!; PIDS="$PIDS $RUN"
for _ in $(seq 100); do grep -q '"event":"start"' "$WORK/run.json" 2>/dev/null && break; sleep 0.1; done
printf 'vm-v4 198.18.2.2\n' > "$WORK/targets"
kill -HUP "$RUN"; sleep 1
inns "$R" curl -sf -o /dev/null http://127.0.0.1:9663/metrics
assert_eq 0 $? "scrape under valgrind"
printf 'x\n' > "$WORK/targets"
kill -HUP "$RUN"; sleep 1.2
stop_run; assert_eq 0 $? "valgrind exit code of run"
assert_eq "" "$(grep -v 'targets:1: missing address' "$WORK/run.err")" "valgrind reports nothing for run"
printf 'vm-v4 198.18.2.2\n' > "$WORK/targets"
vg "report table" 0 report --human --per-addr
vg "report json" 0 report --format json --by hour
vg "report csv" 0 report --format csv --by month --addr 198.18.2.2
vg "report bad option" 2 report --by week
printf 'local 198.18.1.0/24\nnational 198.18.0.0/15 2001:db8::/32\n' > "$WORK/classes"
printf '@grp 198.18.2.2 198.18.4.0/24\n' > "$WORK/gtargets"
cp "$WORK/nftally.conf" "$WORK/policy.conf"
printf 'classes = %s\nexclude = "169.254.0.0/16 fe80::/10"\noverhead = 14\ninterfaces = r0\n' \
	"$WORK/classes" >> "$WORK/policy.conf"
vgc() { # WHAT EXPECTED-EXIT ARGS...: with the policy config
	local what=$1 want=$2; shift 2
	inns "$R" $VG "$NFTALLY" -c "$WORK/policy.conf" "$@" > "$WORK/out" 2> "$WORK/vg.err"
	assert_eq "$want" "$?" "valgrind exit code of $what"
}
vgc "apply with a policy" 0 --table pol -t "$WORK/gtargets" apply
vgc "dump with classes" 0 --table pol -t "$WORK/gtargets" dump
vgc "remove with classes" 0 --table pol -t "$WORK/gtargets" remove
printf 'create a hash:ip family inet comment\nadd a 198.18.2.2 comment "x y"\ncreate p hash:ip,port\n' > "$WORK/save"
$VG "$NFTALLY" import-ipset < "$WORK/save" > "$WORK/out" 2> "$WORK/vg.err"
assert_eq "0 2" "$? $(grep -c nftally: "$WORK/vg.err")" "valgrind: import-ipset (with its two notes)"
vg remove 0 remove; cat "$WORK/vg.err"

# Accounts: a glob over named namespaces (entered with setns), discovery
# and a labels file, in every command and in a run that sees a namespace
# come and go.
VR="${PFX}vr"
TOPO_NS="$TOPO_NS ${VR}1 ${VR}2"
mkvr() { # N: namespace VR$N with 198.18.9.N on qg-N
	ip netns add "$VR$1"
	ip -n "$VR$1" link add "qg-$1" type veth peer name "qx-$1"
	ip -n "$VR$1" link set "qg-$1" up
	ip -n "$VR$1" addr add "198.18.9.$1/32" dev "qg-$1"
}
mkvr 1
printf '198.18.9.0/24 customer-a\n' > "$WORK/labels"
cat > "$WORK/acct.conf" <<C
interval = 1
state_dir = $WORK/acct-state
host = vg1
[account routers]
netns = ${VR}*
template = gateway
interfaces = qg-*
targets = interfaces qg-*
labels = $WORK/labels
[account own]
targets = $WORK/targets
table = own
C
vga() { # WHAT EXPECTED-EXIT ARGS...: with the accounts config
	local what=$1 want=$2; shift 2
	inns "$R" $VG "$NFTALLY" -c "$WORK/acct.conf" "$@" > "$WORK/out" 2> "$WORK/vg.err"
	assert_eq "$want" "$?" "valgrind exit code of $what"
}
vga "render of accounts" 0 render
vga "apply of accounts" 0 apply
vga "dump of one account" 0 --account routers dump
assert_eq 1 "$(grep -c "\"netns\":\"${VR}1\"" "$WORK/out")" "its line names the namespace"
vga "an unknown account" 1 --account nosuch dump
ip netns exec "$R" $VG "$NFTALLY" -c "$WORK/acct.conf" run > "$WORK/arun.json" 2> "$WORK/arun.err" &
RUN=$!; PIDS="$PIDS $RUN"
for _ in $(seq 100); do [ "$(grep -c '"event":"start"' "$WORK/arun.json")" -ge 2 ] && break; sleep 0.1; done
mkvr 2
for _ in $(seq 100); do [ "$(grep -c '"event":"start"' "$WORK/arun.json")" -ge 3 ] && break; sleep 0.1; done
ip -n "${VR}2" addr add 198.18.9.12/32 dev qg-2; sleep 1.5
printf '198.18.9.0/24 customer-b\n' > "$WORK/labels.new"; mv "$WORK/labels.new" "$WORK/labels"
ip netns del "${VR}2"
wait_event "$WORK/arun.json" netns_gone 1
stop_run; assert_eq 0 $? "valgrind exit code of a run of accounts"
# valgrind does not know NS_GET_NSTYPE (ioctl 0xb703, which netns_open
# uses to check a namespace's type) and says so: a note, not an error
assert_eq "" "$(grep -v -e 'unhandled ioctl 0xb703' -e 'could cause spurious value errors' \
	-e 'README_MISSING_SYSCALL_OR_IOCTL' "$WORK/arun.err")" "valgrind reports nothing for a run of accounts"
assert_eq 1 "$(grep -c '"event":"netns_gone"' "$WORK/arun.json")" "the namespace went under valgrind"
vga "report of one account" 0 report --account routers --format json
vga "remove of one account" 0 --account routers remove
finish
