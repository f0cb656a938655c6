#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Network classes with real traffic: a target's traffic is counted per class
# of the peer (first matching class wins, the rest in the default class),
# exactly, IPv4 and IPv6, both directions; counter lines, the store's
# report and the metrics carry the class; a class removed from the file is
# drained and its counters deleted.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
CM=$(mac "$C" c0)
for a in 198.18.1.50/24 198.18.1.100/24; do inns "$C" ip addr add "$a" dev c0; done
inns "$C" ip addr add 198.19.1.5/24 dev c0
inns "$C" ip addr add 2001:db8:7::5/64 dev c0 nodad
inns "$R" ip route add 198.19.1.0/24 dev r0
inns "$R" ip -6 route add 2001:db8:7::/64 dev r0
for a in 198.18.1.50 198.18.1.100 198.19.1.5 2001:db8:7::5; do pin "$R" "$a" "$CM" r0; done
cat > "$WORK/classes" <<'CL'
# first match wins: 198.18.1.100 is local (the /27), not national
local     198.18.1.0/28 2001:db8:1::/120
national  198.18.0.0/16 2001:db8:1::/64
local     198.18.1.96/27
CL
cat >> "$WORK/nftally.conf" <<CONF
classes = $WORK/classes
prom_file = $WORK/prom
CONF
printf 'vm 198.18.2.2 2001:db8:2::2\n' > "$WORK/targets"
out="$WORK/run.json"
start_run "$out"
send "$C" 198.18.2.2 100 3 198.18.1.2      # local
send "$C" 198.18.2.2 100 5 198.18.1.100    # local, by the second local line
send "$C" 198.18.2.2 100 7 198.18.1.50     # national
send "$C" 198.18.2.2 100 11 198.19.1.5     # other
send "$S" 198.18.1.50 200 2 198.18.2.2     # out, national
send "$S" 198.19.1.5 200 4 198.18.2.2      # out, other
send "$C" 2001:db8:2::2 50 6 2001:db8:1::2 # local
send "$C" 2001:db8:2::2 50 8 2001:db8:7::5 # other
send "$S" 2001:db8:1::2 60 9 2001:db8:2::2 # out, local
sleep 1.3
stop_run; assert_eq 0 $? "run exits 0"
cf() { # ADDR CLASS FIELD: summed over the counter lines
	jq -rs --arg a "$1" --arg c "$2" --arg f "$3" \
		'[.[] | select(.addr == $a and .class == $c) | .[$f]] | add // 0' "$out"
}
assert_eq "$((8 * 128)) 8" "$(cf 198.18.2.2 local in_bytes) $(cf 198.18.2.2 local in_packets)" \
	"IPv4 in, local"
assert_eq "$((7 * 128))" "$(cf 198.18.2.2 national in_bytes)" "IPv4 in, national"
assert_eq "$((11 * 128))" "$(cf 198.18.2.2 other in_bytes)" "IPv4 in, the default class"
assert_eq "$((2 * 228)) $((4 * 228)) 0" \
	"$(cf 198.18.2.2 national out_bytes) $(cf 198.18.2.2 other out_bytes) $(cf 198.18.2.2 local out_bytes)" \
	"IPv4 out per class"
assert_eq "$((6 * 98)) $((8 * 98)) $((9 * 108))" \
	"$(cf 2001:db8:2::2 local in_bytes) $(cf 2001:db8:2::2 other in_bytes) $(cf 2001:db8:2::2 local out_bytes)" \
	"IPv6 per class"
assert_eq 0 "$(jq -s '[.[] | select(.addr and (has("class") | not))] | length' "$out")" \
	"every counter line has a class"
assert_eq "$((7 * 128))" "$(nftally_r report --format json --class national | jq -s 'map(.in_bytes) | add')" \
	"report --class national"
assert_eq "local national other" "$(nftally_r report --format json --by-class | jq -r .class | sort -u | xargs)" \
	"report rows per class (--by-class)"
assert_eq "$((11 * 128))" \
	"$(grep -F "nftally_bytes_total{host=\"$(uname -n)\",netns=\"\",label=\"vm\",addr=\"198.18.2.2\",class=\"other\",direction=\"in\"} " "$WORK/prom" | awk '{print $2}')" \
	"metrics carry the class"
D=$(nftally_r dump)
assert_eq "$((8 * 128))" "$(echo "$D" | jq -r 'select(.addr == "198.18.2.2" and .class == "local") | .in_bytes')" \
	"dump per class"

# national leaves the file: its counters are drained and deleted, the
# others keep counting.
printf 'local 198.18.1.0/28 2001:db8:1::/120\n' > "$WORK/classes"
out="$WORK/run2.json"
start_run "$out"
send "$C" 198.18.2.2 100 1 198.18.1.50     # now in the default class
sleep 1.3
stop_run
assert_eq 0 "$(inns "$R" nft list counters table inet nftally | grep -c '_national')" \
	"the removed class's counters are gone"
assert_eq 128 "$(jq -rs '[.[] | select(.addr == "198.18.2.2" and .class == "other") | .in_bytes] | add' "$out")" \
	"its peers count in the default class now"
# bad class files change nothing
BEFORE=$(inns "$R" nft list table inet nftally)
printf 'local 198.18.1.0/28\nBad 198.18.5.0/24\n' > "$WORK/classes"
nftally_r apply 2> "$WORK/err"
assert_eq "1 nftally: $WORK/classes:2: bad class name 'Bad' (a-z first, then a-z, 0-9, _; at most 16)" \
	"$? $(cat "$WORK/err")" "a bad class name"
printf 'other 198.18.5.0/24\n' > "$WORK/classes"
nftally_r apply 2> "$WORK/err"
assert_eq "1 nftally: $WORK/classes:1: class other is the default class (default_class)" \
	"$? $(cat "$WORK/err")" "the default class in the file"
printf 'local 198.18.5.1/24\n' > "$WORK/classes"
nftally_r apply 2> "$WORK/err"
assert_eq "1 nftally: $WORK/classes:1: bad prefix '198.18.5.1/24': host bits set in prefix" \
	"$? $(cat "$WORK/err")" "a bad prefix"
assert_eq "$BEFORE" "$(inns "$R" nft list table inet nftally)" "the table stayed as it was"
finish
