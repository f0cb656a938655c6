#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# import-ipset round-trips a real `ipset save`: sets made with ipset in a
# namespace become a targets file whose addresses are exactly the members,
# labelled by comment or set name, which nftally then installs and counts;
# sets of other types are skipped (or refused when named); exceptions, an
# address in two sets and bad input are errors naming the input line.
. "$(dirname "$0")/lib.sh"
need
command -v ipset >/dev/null || skip_or_fail "the ipset test needs ipset"
setup_topology
inns "$R" ipset create billing hash:ip comment
inns "$R" ipset add billing 198.18.2.2 comment "vm 101"
inns "$R" ipset add billing 198.18.2.3
inns "$R" ipset create nets hash:net family inet6
inns "$R" ipset add nets 2001:db8:4::/64
inns "$R" ipset add nets 2001:db8:2::2
inns "$R" ipset create small bitmap:ip range 198.18.3.0/24
inns "$R" ipset add small 198.18.3.0/31
inns "$R" ipset create masked hash:ip netmask 24
inns "$R" ipset add masked 198.18.4.9
inns "$R" ipset create ports hash:ip,port
inns "$R" ipset add ports 198.18.7.1,udp:53
inns "$R" ipset save > "$WORK/save"
"$NFTALLY" import-ipset < "$WORK/save" > "$WORK/targets" 2> "$WORK/err"
assert_eq 0 $? "import-ipset exit code"
# (ipset lists members in its hash order: compare sorted, and find the
# lines of the save file by their text.)
line_of() { grep -n -- "$1" "$WORK/save" | cut -d: -f1; }
assert_eq "# targets imported by nftally import-ipset from stdin" "$(head -1 "$WORK/targets")" \
	"the targets file's header"
assert_eq "billing 198.18.2.3
masked 198.18.4.0/24
nets 2001:db8:2::2
nets 2001:db8:4::/64
small 198.18.3.0
small 198.18.3.1
vm_101 198.18.2.2" "$(tail -n +2 "$WORK/targets" | sort)" "the targets file"
assert_eq "nftally: stdin:$(line_of 'vm 101'): comment \"vm 101\" has blanks; its label has '_' for them
nftally: stdin:$(line_of 'create ports'): set ports (hash:ip,port) skipped: not an address set" \
	"$(cat "$WORK/err")" "notes on stderr"
# Round trip: the members ipset holds are the addresses nftally accounts.
members() { # the members of the address sets, canonical, sorted
	for s in billing nets small masked; do
		inns "$R" ipset list "$s" | sed -n '/^Members:/,$p' | tail -n +2 | awk '{ print $1 }'
	done | sed 's|^198.18.4.0$|198.18.4.0/24|' | sort
}
write_config 1
nftally_r apply 2> "$WORK/err"
assert_eq 0 $? "the imported file applies"
assert_eq "$(members)" "$(nftally_r dump | jq -r .addr | sort)" \
	"nftally accounts exactly the members of the sets"
send "$C" 198.18.2.2 100 3 198.18.1.2
assert_eq "vm_101 384" "$(nftally_r dump | jq -r 'select(.addr == "198.18.2.2") | "\(.label) \(.in_bytes)"')" \
	"and counts them"

# Only the named sets; a named set that holds no addresses is refused.
assert_eq "nets 2001:db8:2::2
nets 2001:db8:4::/64" "$("$NFTALLY" import-ipset nets < "$WORK/save" 2>/dev/null | tail -n +2 | sort)" \
	"import-ipset nets"
imp_err() { # WANT ARGS... (input on stdin)
	local want=$1; shift
	"$NFTALLY" import-ipset "$@" > "$WORK/out" 2> "$WORK/err"
	assert_eq "1 $want" "$? $(cat "$WORK/err")" "refused: $want"
	assert_eq "" "$(cat "$WORK/out")" "nothing written for: $want"
}
imp_err "nftally: stdin:$(line_of 'create ports'): set ports is of type hash:ip,port; only hash:ip, hash:net and bitmap:ip (without bitmask) hold addresses to account" \
	ports < "$WORK/save"
imp_err "nftally: stdin: no set nosuch" nosuch < "$WORK/save"
inns "$R" ipset add nets 2001:db8:5::/64 nomatch
inns "$R" ipset save nets > "$WORK/save"
imp_err "nftally: stdin:$(line_of nomatch): 2001:db8:5::/64 is an exception (nomatch) in set nets; a targets file has none" \
	< "$WORK/save"
imp_err "nftally: stdin:4: duplicate address 198.18.2.2 (line 2)" < <(printf 'create a hash:ip family inet\nadd a 198.18.2.2\ncreate b hash:ip family inet\nadd b 198.18.2.2\n')
imp_err "nftally: stdin:2: label '#x' would start with '#' or '@' in a targets file" < <(printf 'create a hash:ip family inet\nadd a 198.18.2.2 comment "#x"\n')
imp_err "nftally: stdin:2: bad member '2001:db8::/64' of set a: wrong address family" < <(printf 'create a hash:net family inet\nadd a 2001:db8::/64\n')
imp_err "nftally: stdin:2: empty comment: no label for 198.18.2.2" < <(printf 'create a hash:ip family inet\nadd a 198.18.2.2 comment ""\n')
imp_err "nftally: stdin:1: bad netmask 33 for an IPv4 set" < <(printf 'create a hash:ip family inet netmask 33\n')
imp_err "nftally: stdin:1: set m is of type hash:ip bitmask; only hash:ip, hash:net and bitmap:ip (without bitmask) hold addresses to account" \
	m < <(printf 'create m hash:ip family inet bitmask 255.255.0.255\nadd m 198.18.0.1\n')
# it needs no configuration: a broken default config does not matter
"$NFTALLY" -c /dev/null/nonexistent import-ipset < /dev/null > /dev/null 2>&1
assert_eq 0 $? "import-ipset reads no config"
imp_err "nftally: stdin:1: expected 'create' or 'add' (the output of ipset save)" < <(printf 'flush\n')
imp_err "nftally: stdin:1: add to set a before its create line" < <(printf 'add a 198.18.2.2\n')
inns "$R" ipset destroy
finish
