#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `nftally report` with hostile labels in the store: CSV cells that a
# spreadsheet would run as formulas are neutralised (a leading ', quoted),
# bidirectional controls are removed from CSV and table, and JSON keeps
# the labels exactly as in the targets file.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
RLO=$(printf '\342\200\256') # U+202E RIGHT-TO-LEFT OVERRIDE
cat > "$WORK/targets" <<T
=HYPERLINK("http://198.18.0.1/x","a")  198.18.2.2
+1+2                                   198.18.4.1
-2+3                                   198.18.4.2
vm${RLO}1.01                           2001:db8:2::2
T
start_run "$WORK/run.json"
send "$C" 198.18.2.2 100 1 198.18.1.2
send "$C" 198.18.4.1 100 1 198.18.1.2
send "$C" 198.18.4.2 100 1 198.18.1.2
send "$C" 2001:db8:2::2 100 1 2001:db8:1::2
sleep 1.5
stop_run
assert_eq 0 $? "run exits 0"
DAY=$(date -u +%F)
nftally_r report --utc --format csv > "$WORK/csv" 2>&1
assert_eq 0 $? "report --format csv"
sort "$WORK/csv" > "$WORK/csv.sorted"
HOST=$(uname -n) # run's origin: this host, the namespace it started in ("")
sort > "$WORK/want.sorted" <<W
period,host,netns,label,in_bytes,in_packets,out_bytes,out_packets
$DAY,$HOST,,"'+1+2",128,1,0,0
$DAY,$HOST,,"'-2+3",128,1,0,0
$DAY,$HOST,,"'=HYPERLINK(""http://198.18.0.1/x"",""a"")",128,1,0,0
$DAY,$HOST,,vm1.01,148,1,0,0
W
assert_eq "$(cat "$WORK/want.sorted")" "$(cat "$WORK/csv.sorted")" "CSV, exactly"
nftally_r report --utc > "$WORK/table" 2>&1
assert_eq 0 $? "report (table)"
assert_eq 0 "$(grep -c "$RLO" "$WORK/table")" "no U+202E in the table"
assert_eq 1 "$(grep -c "^$DAY  $HOST  *vm1\.01  " "$WORK/table")" "the label without it"
assert_eq 6 "$(wc -l < "$WORK/table")" "table: header, 4 rows, total"
nftally_r report --utc --format json > "$WORK/json" 2>&1
assert_eq "+1+2 -2+3 =HYPERLINK(\"http://198.18.0.1/x\",\"a\") vm${RLO}1.01" \
	"$(jq -r .label "$WORK/json" | sort | tr '\n' ' ' | sed 's/ $//')" "JSON labels exact"
assert_eq "$HOST " "$(jq -r '"\(.host) \(.netns)"' "$WORK/json" | sort -u)" "JSON host and netns"
finish
