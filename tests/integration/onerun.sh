#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One run per table per network namespace, whatever the state directory:
# a second run with another state_dir is refused, remove with another
# state_dir is refused, apply with another state_dir hands over to the run;
# runs of the same table in two namespaces both count exactly; kill -9
# frees the table's name at once.
. "$(dirname "$0")/lib.sh"
need
setup_topology
write_config 1
echo "vm-v4 198.18.2.2" > "$WORK/targets"
echo "vm-v6 2001:db8:2::2" >> "$WORK/targets"

start_run "$WORK/run.json"
FIRST=$RUN

# A second run with another state directory (bounded: the old code ran it).
timeout 20 ip netns exec "$R" "$NFTALLY" -c "$WORK/nftally.conf" --state-dir "$WORK/other" run > "$WORK/second.json" 2> "$WORK/second.err"
assert_eq 1 $? "second run, other state_dir: exit code"
assert_eq "nftally: another nftally run (pid $FIRST) is accounting table inet nftally in this network namespace" \
	"$(cat "$WORK/second.err")" "second run: message"
assert_eq "" "$(cat "$WORK/second.json")" "second run: no output"

# remove with another state directory.
nftally_r --state-dir "$WORK/other" remove > "$WORK/remove.json" 2> "$WORK/remove.err"
assert_eq 1 $? "remove, other state_dir: exit code"
assert_eq "nftally: nftally run (pid $FIRST) accounts table inet nftally; stop it first" \
	"$(cat "$WORK/remove.err")" "remove: message"
inns "$R" nft list table inet nftally > /dev/null 2>&1 && ok "table still there" || bad "remove deleted the table"

# apply with another state directory hands over to the run.
send "$C" 198.18.2.2 100 10 198.18.1.2
nftally_r --state-dir "$WORK/other" apply 2> "$WORK/apply.err"
assert_eq 0 $? "apply, other state_dir: exit code"
assert_eq "nftally: $WORK/targets is valid; nftally run (pid $FIRST) accounts table inet nftally and was asked to apply it (see its output)" \
	"$(cat "$WORK/apply.err")" "apply: handed over"
for _ in $(seq 100); do grep -q '"event":"reloaded"' "$WORK/run.json" && break; sleep 0.1; done
assert_eq 1 "$(jq -r 'select(.event == "reloaded") | .message' "$WORK/run.json" | grep -c '(SIGHUP)')" \
	"run reloaded for apply"

# The same table in a second namespace (the server, whose input hook the
# sink drops before accounting: outgoing traffic then): both count exactly.
ip netns exec "$S" "$NFTALLY" -c "$WORK/nftally.conf" --state-dir "$WORK/state-s" run \
	> "$WORK/run-s.json" 2> "$WORK/run-s.err" &
RUN_S=$!; PIDS="$PIDS $RUN_S"
for _ in $(seq 100); do grep -q '"event":"start"' "$WORK/run-s.json" && break; sleep 0.1; done
assert_eq 1 "$(grep -c '"event":"start"' "$WORK/run-s.json")" "run in a second namespace started"
send "$S" 198.18.1.2 200 5 198.18.2.2
send "$S" 2001:db8:1::2 300 4 2001:db8:2::2
sleep 2.2
kill -TERM "$RUN_S"; wait "$RUN_S"; assert_eq 0 $? "second namespace: exit code"
PIDS=$(echo "$PIDS" | sed "s/ $RUN_S//")
assert_eq $((5 * 228)) "$(sum_field "$WORK/run-s.json" 198.18.2.2 out_bytes)" "second namespace: IPv4 out"
assert_eq 5 "$(sum_field "$WORK/run-s.json" 198.18.2.2 out_packets)" "second namespace: IPv4 out packets"
assert_eq $((4 * 348)) "$(sum_field "$WORK/run-s.json" 2001:db8:2::2 out_bytes)" "second namespace: IPv6 out"

# kill -9 frees the name at once: a run with another state directory starts.
kill -KILL "$FIRST"; wait "$FIRST" 2>/dev/null
PIDS=$(echo "$PIDS" | sed "s/ $FIRST//")
assert_eq $((10 * 128)) "$(sum_field "$WORK/run.json" 198.18.2.2 in_bytes)" "first run: IPv4 in"
assert_eq $((5 * 228)) "$(sum_field "$WORK/run.json" 198.18.2.2 out_bytes)" "first run: IPv4 out"
assert_eq $((4 * 348)) "$(sum_field "$WORK/run.json" 2001:db8:2::2 out_bytes)" "first run: IPv6 out"
start_run "$WORK/run2.json" --state-dir "$WORK/other"
assert_eq 1 "$(grep -c '"event":"start"' "$WORK/run2.json")" "run after kill -9 started at once"
stop_run; assert_eq 0 $? "run after kill -9: exit code"
finish
