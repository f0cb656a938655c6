#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The fast paths at scale are correctness-tested too: 20,003 addresses
# (40,006 counters: above the size where nftally stops dumping and looks
# counters up by name), exact counts for the targets that carry traffic,
# zero for the rest, an incremental reload under run, a no-change re-apply.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
{
	echo "vm-v4 198.18.2.2"
	echo "vm-v6 2001:db8:2::2"
	echo "vm-net 198.18.4.0/24"
	many_targets 14000 6000
} > "$T"
N=$(wc -l < "$T")
assert_eq 20003 "$N" "targets"
nftally_r apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally installed: 20003 addresses (20003 new, 0 removed)" "$(cat "$WORK/err")" "apply"
assert_eq 40008 "$(inns "$R" nft list counters table inet nftally | grep -c '^	counter ')" \
	"counters in the kernel (2 per address, owner, skeleton)"

send "$C" 198.18.2.2 100 11 198.18.1.2
send "$C" 198.18.4.9 200 7 198.18.1.2
send "$S" 2001:db8:1::2 300 5 2001:db8:2::2
nftally_r dump > "$WORK/dump.json"
assert_eq 20003 "$(grep -c '"addr"' "$WORK/dump.json")" "dump lines"
assert_eq $((11 * 128)) "$(sum_field "$WORK/dump.json" 198.18.2.2 in_bytes)" "IPv4 target in"
assert_eq $((7 * 228)) "$(sum_field "$WORK/dump.json" 198.18.4.0/24 in_bytes)" "prefix target in"
assert_eq $((5 * 348)) "$(sum_field "$WORK/dump.json" 2001:db8:2::2 out_bytes)" "IPv6 target out"
assert_eq 0 "$(jq -s '[.[] | select(.addr != "198.18.2.2" and .addr != "198.18.4.0/24" and .addr != "2001:db8:2::2") |
	.in_bytes + .out_bytes] | add' "$WORK/dump.json")" "every other address counted nothing"

# A re-apply of an unchanged table changes nothing and resets nothing.
nftally_r apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally updated: 20003 addresses (0 new, 0 removed)" "$(cat "$WORK/err")" "re-apply"
nftally_r dump > "$WORK/dump2.json"
assert_eq $((11 * 128)) "$(sum_field "$WORK/dump2.json" 198.18.2.2 in_bytes)" "kept across re-apply"

# Standalone applies trust the last apply's record while the ruleset
# generation has not moved (no listing), and list the table again once
# anything changed it: a line removed and put back, then a map element
# deleted by hand, which only a listing finds and mends.
[ -s "$WORK/state/nftally.applied" ] && ok "apply wrote its record" || bad "no nftally.applied"
grep -v '^v4-78 ' "$T" > "$T.less"
nftally_r -t "$T.less" apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally updated: 20002 addresses (0 new, 1 removed)" "$(cat "$WORK/err")" "apply from the record, one removed"
assert_eq "" "$(inns "$R" nft list counters table inet nftally | grep c613004e)" "removed address's counters deleted"
nftally_r apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally updated: 20003 addresses (1 new, 0 removed)" "$(cat "$WORK/err")" "apply from the record, one back"
inns "$R" nft delete element inet nftally in4 '{ 198.18.2.2 }'
nftally_r apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally updated: 20003 addresses (0 new, 0 removed)" "$(cat "$WORK/err")" "apply after a hand edit"
assert_eq 1 "$(inns "$R" nft list map inet nftally in4 | grep -c '198.18.2.2 : "in4_c6120202"')" \
	"the element deleted by hand is back (the generation moved: listed)"
nftally_r dump > "$WORK/dump2.json"
assert_eq $((11 * 128)) "$(sum_field "$WORK/dump2.json" 198.18.2.2 in_bytes)" "kept across the record's applies"

# A changed skeleton on an existing table is built in a scratch namespace
# and copied: the policy's set is filled, every counter keeps its value,
# every element stays; and back again.
{ cat "$WORK/nftally.conf"; echo 'exclude = "198.18.0.9 2001:db8:9::/64"'; } > "$WORK/x.conf"
nftally_r -c "$WORK/x.conf" apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally updated: 20003 addresses (0 new, 0 removed)" "$(cat "$WORK/err")" "apply, skeleton changed"
assert_eq "198.18.0.9" "$(inns "$R" nft -j list set inet nftally exclude4 | jq -r '.nftables[1].set.elem[0]')" \
	"the policy's set holds the new exclusion"
assert_eq 14001 "$(inns "$R" nft -j list map inet nftally in4 | jq '.nftables[1].map.elem | length')" \
	"every IPv4 host element stays"
nftally_r dump > "$WORK/dump2.json"
assert_eq $((11 * 128)) "$(sum_field "$WORK/dump2.json" 198.18.2.2 in_bytes)" "kept across the skeleton change"
nftally_r apply 2> "$WORK/err"
assert_eq "null" "$(inns "$R" nft -j list set inet nftally exclude4 | jq -c '.nftables[1].set.elem')" \
	"the exclusion is gone again"

# Under run: one address leaves, one arrives, incrementally; exact deltas.
start_run "$WORK/run.json"
send "$C" 198.18.2.2 100 3 198.18.1.2
{ grep -v '^v4-77 ' "$T"; echo "late 198.18.2.77"; } > "$T.new"; mv "$T.new" "$T"
for _ in $(seq 100); do grep -q '"event":"reloaded"' "$WORK/run.json" && break; sleep 0.1; done
assert_eq 1 "$(jq -r 'select(.event == "reloaded") | .message' "$WORK/run.json" | grep -c '20003 addresses (1 new, 1 removed)')" \
	"incremental reload"
send "$C" 198.18.2.2 100 2 198.18.1.2
sleep 1.2
stop_run; assert_eq 0 $? "run exit code"
assert_eq $((16 * 128)) "$(sum_field "$WORK/run.json" 198.18.2.2 in_bytes)" "run: all bytes of the IPv4 target"
assert_eq $((7 * 228)) "$(sum_field "$WORK/run.json" 198.18.4.0/24 in_bytes)" "run: prefix target"
# Its last line is the last of its report: either a report of its own just
# before the reloaded event (no report had it yet), or the first report
# after it (its counter waited for it); no report after that has it.
assert_eq 1 "$(jq -rs '(map(.event == "reloaded") | index(true)) as $r |
	([.[$r:][] | select(.seq != null) | .seq] | min) as $next |
	([.[] | select(.addr == "198.19.0.77") | .seq] | max) as $last |
	if ($last == $next) or (.[$r - 1].addr == "198.19.0.77" and .[$r - 1].seq == $last)
	then 1 else 0 end' "$WORK/run.json")" "removed address drained, then gone"
assert_eq "" "$(inns "$R" nft list counters table inet nftally | grep c613004d)" "removed address's counters deleted"

# remove looks for counters without a target by name, among the addresses
# that the run's state and the last apply's record name (no object dump):
# an address an apply added after the run and removed again, its counters
# kept for a run, is named by neither the targets nor the run's state.
echo "late2 198.18.2.78" >> "$T"
nftally_r apply 2> /dev/null
grep -v '^late2 ' "$T" > "$T.new"; mv "$T.new" "$T"
nftally_r apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally updated: 20003 addresses (0 new, 1 removed)
nftally: the removed addresses stopped counting; the next nftally run reports their last bytes and deletes their counters" \
	"$(cat "$WORK/err")" "apply keeps the counters of an address no report had"
assert_eq 2 "$(inns "$R" nft list counters table inet nftally | grep -c c612024e)" "its counters are kept"
nftally_r remove > "$WORK/remove.json"
assert_eq 20004 "$(grep -c '"addr"' "$WORK/remove.json")" "remove: a line for every address with counters"
assert_eq "0 (unknown)" "$(jq -r 'select(.addr == "198.18.2.78") | "\(.in_bytes) \(.label)"' "$WORK/remove.json")" \
	"remove reports the counter only the apply's record names"
assert_eq "" "$(inns "$R" nft list tables | grep 'inet nftally')" "table removed"
assert_eq "" "$(ls "$WORK/state" | grep -e '\.applied$')" "remove deletes the apply's record"

# The skeleton copied from a scratch namespace is the one libnftables makes:
# a table changed to config B lists as a table made from config B.
K="${PFX}k"; TOPO_NS="${TOPO_NS:-} $K"
printf 'k1 198.18.6.1\nk2 2001:db8:6::1\nk3 198.18.7.0/24\nk4 2001:db8:7::/64\n' > "$WORK/kt"
printf 'state_dir = %s/kstate\n' "$WORK" > "$WORK/ka.conf"
{ cat "$WORK/ka.conf"; echo 'exclude = "198.18.0.9 2001:db8:9::/64"'; echo 'interfaces = lo'; } > "$WORK/kb.conf"
ip netns add "$K"
inns "$K" "$NFTALLY" -c "$WORK/kb.conf" -t "$WORK/kt" apply 2> /dev/null
# the same but for where nftally_skeleton (replaced after the skeleton) is listed
unmarked() { inns "$K" nft list ruleset | sed '/counter nftally_skeleton {/,/}/d' | grep -v '^$'; }
unmarked > "$WORK/fresh.nft"
inns "$K" nft delete table inet nftally; rm -rf "$WORK/kstate"
inns "$K" "$NFTALLY" -c "$WORK/ka.conf" -t "$WORK/kt" apply 2> /dev/null
inns "$K" "$NFTALLY" -c "$WORK/kb.conf" -t "$WORK/kt" apply 2> "$WORK/err"
assert_eq "nftally: table inet nftally updated: 4 addresses (0 new, 0 removed)" "$(cat "$WORK/err")" "apply of config B"
unmarked > "$WORK/copied.nft"
assert_eq "" "$(diff "$WORK/fresh.nft" "$WORK/copied.nft")" "copied skeleton = fresh install"
assert_eq 11 "$(grep -c 'elements = ' "$WORK/copied.nft")" "8 maps and 3 sets with elements"
assert_eq 1 "$(grep -c 'elements = { 198.18.0.9 }' "$WORK/copied.nft")" "the exclusion, copied"
finish
