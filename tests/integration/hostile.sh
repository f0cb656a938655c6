#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Hostile surroundings: a million-line targets file with one bad line at
# the end, symlinks planted at the state file and the state directory, a
# truncated state file.  Each gives a clear error or is handled, the table
# stays as it was, and nothing in the state directory is lost or written
# through a link.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
T="$WORK/targets"
printf 'vm 198.18.2.2\n' > "$T"
nftally_r apply 2>/dev/null || bad "apply"
send "$C" 198.18.2.2 100 3 198.18.1.2
BEFORE=$(inns "$R" nft list table inet nftally)

# A million lines, the last one bad: the whole file is rejected at that line.
awk 'BEGIN { for (i = 0; i < 999999; i++) printf "l%d 2001:db8:a:%x:%x::1\n", i, int(i / 65536), i % 65536
	     print "last 2001:db8:a::zz" }' > "$WORK/million"
inns "$R" "$NFTALLY" -c "$WORK/nftally.conf" -t "$WORK/million" apply 2> "$WORK/err"
assert_eq 1 $? "million-line file with a bad last line: exit code"
assert_eq "nftally: $WORK/million:1000000: bad address '2001:db8:a::zz': bad address" "$(cat "$WORK/err")" \
	"the error names line 1000000"
[ "$BEFORE" = "$(inns "$R" nft list table inet nftally)" ] && ok "table unchanged" || bad "table changed"

# A symlink planted at the state file: never followed, kept aside, the run
# goes on from the current values; its target is untouched.
mkdir -p "$WORK/state"; chmod 700 "$WORK/state"
echo "precious" > "$WORK/victim"
ln -s "$WORK/victim" "$WORK/state/nftally.state"
start_run "$WORK/r1.json"
send "$C" 198.18.2.2 100 2 198.18.1.2
sleep 1.2
stop_run; assert_eq 0 $? "run with a symlink at the state file exits 0"
assert_eq "precious" "$(cat "$WORK/victim")" "symlink target untouched"
jq -r 'select(.event == "state_damaged") | .message' "$WORK/r1.json" | grep -q 'is a symlink; refusing to follow it' &&
	ok "state_damaged names the symlink" || bad "no state_damaged event for the symlink"
[ -L "$WORK/state/nftally.state.damaged" ] && ok "the link is kept aside" || bad "link not kept aside"
assert_eq $((2 * 128)) "$(sum_field "$WORK/r1.json" 198.18.2.2 in_bytes)" "counting goes on from the current values"
assert_eq 600 "$(stat -c %a "$WORK/state/nftally.state")" "state file mode 0600"
assert_eq 700 "$(stat -c %a "$WORK/state")" "state directory mode 0700"

# A truncated state file (a cut write of someone else's doing).
head -c 40 "$WORK/state/nftally.state" > "$WORK/cut"; cat "$WORK/cut" > "$WORK/state/nftally.state"
start_run "$WORK/r2.json"
stop_run; assert_eq 0 $? "run with a truncated state exits 0"
assert_eq 1 "$(grep -c '"event":"state_damaged"' "$WORK/r2.json")" "truncated state reported"

# A symlink as the state directory: refused with a clear message.
ln -s "$WORK/state" "$WORK/statelink"
inns "$R" "$NFTALLY" -c "$WORK/nftally.conf" --state-dir "$WORK/statelink" run > /dev/null 2> "$WORK/err"
assert_eq 3 $? "symlinked state directory: exit code"
assert_eq "nftally: $WORK/statelink: cannot open state directory: it is a symlink" "$(cat "$WORK/err")" \
	"symlinked state directory refused"
[ "$BEFORE" != "" ] && inns "$R" nft list table inet nftally >/dev/null && ok "table still there" || bad "table gone"
finish
