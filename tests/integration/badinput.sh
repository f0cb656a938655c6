#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Bad input never changes the installed table: every broken targets file,
# config, template or option gives one line naming file and line, a non-zero
# exit, and `nft list table` stays byte for byte the same.  Hostile labels
# are data and never reach nft.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
GOOD='vm-v4 198.18.2.2
vm-net 198.18.4.0/24'
printf '%s\n' "$GOOD" > "$WORK/targets"
nftally_r apply 2>/dev/null || bad "initial apply failed"
send "$C" 198.18.2.2 100 5 198.18.1.2
BEFORE=$(inns "$R" nft list table inet nftally)
echo "$BEFORE" | grep -q 'packets 5 bytes 640' && ok "table holds traffic" || bad "no traffic counted"

# rejects CONTENT EXPECTED-STDERR-LINE [EXIT]: the targets file is rejected
rejects() {
	printf '%s' "$1" > "$WORK/targets"
	nftally_r apply 2> "$WORK/err"
	local rc=$?
	assert_eq "${3:-1}" "$rc" "exit code for: $2"
	assert_eq "nftally: $2" "$(cat "$WORK/err")" "message"
	assert_eq 1 "$(wc -l < "$WORK/err")" "one line"
	[ "$BEFORE" = "$(inns "$R" nft list table inet nftally)" ] && ok "table unchanged" ||
		bad "table changed after: $2"
}
T="$WORK/targets"
rejects $'a 198.18.2.2\nb 198.18.300.1\n' "$T:2: bad address '198.18.300.1': bad address"
rejects $'a 198.18.2.2\n\n# c\nb 198.18.2.2\n' "$T:4: duplicate address 198.18.2.2 (line 1)"
rejects $'a 198.18.4.0/24\nb 198.18.4.9\n' "$T:2: 198.18.4.9 overlaps 198.18.4.0/24 (line 1)"
rejects $'a 2001:db8::/32\nb 2001:db8:4::/64\n' "$T:2: 2001:db8:4::/64 overlaps 2001:db8::/32 (line 1)"
rejects $'a 198.18.4.1/24\n' "$T:1: bad address '198.18.4.1/24': host bits set in prefix"
rejects $'a 198.18.4.0/33\n' "$T:1: bad address '198.18.4.0/33': bad prefix length"
rejects "$(printf 'x%.0s' $(seq 129)) 198.18.2.2" "$T:1: label is longer than 128 bytes"
rejects $'ok 198.18.2.2\nbad\x01label 198.18.2.3\n' "$T:2: label contains a control character"
rejects $'ok 198.18.2.2\n\xff\xfe 198.18.2.3\n' "$T:2: label is not valid UTF-8"
rejects $'lonely\n' "$T:1: missing address"
printf 'a 198.18.2.2\nb\0c 198.18.2.3\n' > "$T"
nftally_r apply 2> "$WORK/err"; assert_eq 1 $? "NUL byte exit code"
assert_eq "nftally: $T:2: NUL byte in line" "$(cat "$WORK/err")" "NUL byte message"
{ printf 'a '; head -c 100000 /dev/zero | tr '\0' 'x'; printf '\n'; } > "$T"
nftally_r apply 2> "$WORK/err"; assert_eq 1 $? "100 KB line exit code"
assert_eq "nftally: $T:1: line is longer than 65536 bytes" "$(cat "$WORK/err")" "100 KB line message"
assert_eq "$BEFORE" "$(inns "$R" nft list table inet nftally)" "table unchanged after long line"

# Missing files: named with -t / -c they are errors.
inns "$R" "$NFTALLY" -c "$WORK/nftally.conf" -t "$WORK/nope" apply 2> "$WORK/err"
assert_eq 1 $? "missing targets exit code"
assert_eq "nftally: $WORK/nope: cannot open: No such file or directory" "$(cat "$WORK/err")" "missing targets"
inns "$R" "$NFTALLY" -c "$WORK/nope.conf" apply 2> "$WORK/err"
assert_eq 1 $? "missing config exit code"
assert_eq "nftally: $WORK/nope.conf: cannot open: No such file or directory" "$(cat "$WORK/err")" "missing config"
printf '%s\n' "$GOOD" > "$T"
cp "$WORK/nftally.conf" "$WORK/bad.conf"; echo 'colour = blue' >> "$WORK/bad.conf"
inns "$R" "$NFTALLY" -c "$WORK/bad.conf" apply 2> "$WORK/err"
assert_eq 1 $? "bad config exit code"
assert_eq "nftally: $WORK/bad.conf:6: unknown key 'colour'" "$(cat "$WORK/err")" "bad config"
nftally_r --table 'x;flush ruleset' apply 2> "$WORK/err"
assert_eq 1 $? "hostile table name exit code"
assert_eq "nftally: --table: bad table name 'x;flush ruleset' (use a-z, 0-9, _; at most 32)" \
	"$(cat "$WORK/err")" "hostile table name"
nftally_r --interval 0 apply 2>/dev/null; assert_eq 1 $? "interval 0 rejected"
# Under systemd (stderr is the journal stream) messages carry their priority.
: > "$WORK/journal"
JOURNAL_STREAM=$(stat -c '%d:%i' "$WORK/journal") nftally_r --interval 0 apply 2>> "$WORK/journal"
assert_eq "<3>nftally: --interval: bad interval '0' (use whole seconds, 1 to 86400)" "$(cat "$WORK/journal")" \
	"journal priority prefix"
nftally_r --targets '' apply 2> "$WORK/err"; assert_eq 1 $? "empty --targets rejected"
assert_eq "nftally: --targets: empty path for 'targets'" "$(cat "$WORK/err")" "empty --targets message"
nftally_r frobnicate 2>/dev/null; assert_eq 2 $? "unknown command is a usage error"

# Templates: an unknown placeholder, and text nft refuses, point at the template.
PL=$(grep -n -m1 'policy accept;' "$SRCDIR/nft-templates/host.nft" | cut -d: -f1)
sed 's/policy accept;/policy accept; @OOPS@/' "$SRCDIR/nft-templates/host.nft" > "$WORK/t1.nft"
nftally_r --template "$WORK/t1.nft" apply 2> "$WORK/err"
assert_eq 1 $? "bad placeholder exit code"
assert_eq "nftally: $WORK/t1.nft:$PL: unknown placeholder @OOPS@" "$(cat "$WORK/err")" "bad placeholder"
sed 's/policy accept;/policy acept;/' "$SRCDIR/nft-templates/host.nft" > "$WORK/t2.nft"
nftally_r --template "$WORK/t2.nft" apply 2> "$WORK/err"
assert_eq 1 $? "template nft refuses: exit code"
grep -q "^nftally: $WORK/t2.nft:$PL: nft refused the rendered ruleset: Error: " "$WORK/err" &&
	ok "nft's refusal names the template line" || bad "template error: $(cat "$WORK/err")"
assert_eq "$BEFORE" "$(inns "$R" nft list table inet nftally)" "table unchanged after bad templates"
# A first install the kernel refuses halfway (a map too small for the
# targets) leaves no table behind.  (A template may declare a map nftally
# generates again, with a size.)
cat > "$WORK/t3.nft" <<'NFT'
table inet @TABLE@ {
	counter nftally_owner {
	}
	map in4 {
		type ipv4_addr : counter
		size 1
	}
	chain forward {
		type filter hook forward priority 20; policy accept;
		jump account_in
	}
}
NFT
printf 'a 198.18.2.2\nb 198.18.2.3\n' > "$WORK/t3.targets"
nftally_r --table fresh --template "$WORK/t3.nft" -t "$WORK/t3.targets" apply 2> "$WORK/err"
assert_eq 3 $? "refused first install: exit code"
assert_eq "nftally: nf_tables refused the change (adding elements to map in4 in table inet fresh): the map is full" \
	"$(cat "$WORK/err")" "refused first install: message"
assert_eq "" "$(inns "$R" nft list tables | grep fresh)" "refused first install leaves no table"
# The same when the refusal comes in a later transaction: a first install
# of many addresses is sent in several (the counters are in before the map
# overflows), and the table goes again all the same.
sed 's/size 1$/size 5000/' "$WORK/t3.nft" > "$WORK/t4.nft"
awk 'BEGIN { for (i = 0; i < 6000; i++) printf "h%d 198.19.%d.%d\n", i, int(i / 256), i % 256 }' > "$WORK/t4.targets"
nftally_r --table fresh --template "$WORK/t4.nft" -t "$WORK/t4.targets" apply 2> "$WORK/err"
assert_eq "3 nftally: nf_tables refused the change (adding elements to map in4 in table inet fresh): the map is full" \
	"$? $(cat "$WORK/err")" "refused first install of 6000: exit code and message"
assert_eq "" "$(inns "$R" nft list tables | grep fresh)" "refused first install of 6000 leaves no table"

# Hostile labels are plain data: accepted, never in nft, exact in JSON.
printf '%s\n' '";flush;ruleset;{} 198.18.2.2' "x\$(reboot)'\\ 198.18.4.0/24" > "$T"
nftally_r apply 2>/dev/null; assert_eq 0 $? "hostile labels accepted"
assert_eq 0 "$(inns "$R" nft list ruleset | grep -c -e flush -e reboot)" "labels not in the ruleset"
assert_eq '";flush;ruleset;{}' "$(nftally_r dump | jq -r 'select(.addr == "198.18.2.2") | .label')" \
	"hostile label round-trips through JSON"
printf '%s\n' "$GOOD" > "$T"

# A table of our name that is not ours is never touched.
inns "$R" nft add table inet other
inns "$R" nft add chain inet other keep
OTHER=$(inns "$R" nft list table inet other)
nftally_r --table other apply 2> "$WORK/err"
assert_eq 1 $? "foreign table of our name: exit code"
assert_eq "nftally: table inet other exists but is not nftally's (it has no counter nftally_owner); choose another --table" \
	"$(cat "$WORK/err")" "foreign table refused"
nftally_r --table other remove 2>/dev/null; assert_eq 1 $? "foreign table not removed"
assert_eq "$OTHER" "$(inns "$R" nft list table inet other)" "foreign table unchanged"

# Without CAP_NET_ADMIN: a clear error, exit 3.
if command -v setpriv >/dev/null; then
	chmod 755 "$WORK"; chmod 644 "$WORK/nftally.conf" "$T"
	inns "$R" setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$NFTALLY" -c "$WORK/nftally.conf" dump 2> "$WORK/err"
	assert_eq 3 $? "unprivileged exit code"
	assert_eq "nftally: reading table inet nftally: operation not permitted (nftally needs CAP_NET_ADMIN: run it as root)" \
		"$(cat "$WORK/err")" "unprivileged message"
fi

# run: a broken targets file is rejected as a whole and the run goes on;
# the next good file is applied.  Changes are picked up by themselves
# (inotify) and on SIGHUP.
start_run "$WORK/run.json"
RUNNING=$(inns "$R" nft list table inet nftally)
# wait_event NAME N: until the run printed N events NAME (at most 5 s)
wait_event() {
	for _ in $(seq 50); do
		[ "$(grep -c "\"event\":\"$1\"" "$WORK/run.json")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
printf 'a 198.18.2.2\nb 198.18.2.2\n' > "$T.new"; mv "$T.new" "$T"
wait_event targets_rejected 1 || bad "no targets_rejected event"
assert_eq "$T:2: duplicate address 198.18.2.2 (line 1)" \
	"$(jq -r 'select(.event == "targets_rejected") | .message' "$WORK/run.json")" "reload rejected"
[ "$RUNNING" = "$(inns "$R" nft list table inet nftally)" ] && ok "table unchanged by a rejected reload" ||
	bad "a rejected reload changed the table"
kill -0 "$RUN" && ok "run goes on" || bad "run died"
printf '%s\n' "$GOOD" 'vm-v6 2001:db8:2::2' > "$T"
wait_event reloaded 1 || bad "no reloaded event"
assert_eq 1 "$(jq -r 'select(.event == "reloaded") | .message' "$WORK/run.json" | grep -c 'file changed')" \
	"reload on file change"
send "$S" 2001:db8:1::2 52 3 2001:db8:2::2
kill -HUP "$RUN"
wait_event reloaded 2 || bad "no reload on SIGHUP"
assert_eq "$T (SIGHUP): 3 addresses (0 new, 0 removed) in" \
	"$(jq -r 'select(.event == "reloaded") | .message' "$WORK/run.json" | tail -1 | sed 's/ [0-9.]* ms$//')" "reload on SIGHUP"
sleep 1.2
stop_run; assert_eq 0 $? "run exit code"
assert_eq 300 "$(sum_field "$WORK/run.json" 2001:db8:2::2 out_bytes)" "new address counted after reload"
finish
