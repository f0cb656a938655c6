#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The store under attack, with real traffic and exact sums: (1) a database
# locked by another writer does not hold up reports or signals, and the
# reports that waited go in once each when the lock goes; (2) a full file
# system (a small tmpfs) makes reports wait, and they go in once space is
# back, also when the store could not even be opened at start; (3) a
# database deleted or replaced under the run is noticed, opened again, and
# the metrics never go backwards, not even across a restart.
#
# The tmpfs is mounted in a mount namespace of this test's own.
if [ -z "${NFTALLY_STORE_FAULTS_NS:-}" ] && command -v unshare >/dev/null; then
	NFTALLY_STORE_FAULTS_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
need
[ -n "${NFTALLY_STORE_FAULTS_NS:-}" ] || skip_or_fail "store fault tests need unshare"
for t in sqlite3 mkfifo; do
	command -v $t >/dev/null || skip_or_fail "store fault tests need $t"
done
FS="$WORK/fs"
mkdir "$FS"
trap 'umount "$FS" 2>/dev/null; cleanup' EXIT
setup_topology
write_config 1
echo "prom_file = $WORK/nftally.prom" >> "$WORK/nftally.conf"
cat > "$WORK/targets" <<'T'
vm-a    198.18.2.2
vm-b    2001:db8:2::2
T

# Every line of nftally's stdout with its arrival time in front, as seen
# from outside the process.
stamp() { while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }
start_run_ts() { # OUTFILE [ARGS...]
	local out=$1; shift
	ip netns exec "$R" "$NFTALLY" -c "$WORK/nftally.conf" "$@" run 2> "$out.err" \
		> >(stamp > "$out") &
	RUN=$!; PIDS="$PIDS $RUN"
	wait_started "$out"
}
stop_run_ts() { # the run exits 0 (under the sanitizers: no leak either)
	stop_run; local rc=$?
	sleep 0.3
	[ $rc = 0 ] || bad "run exited $rc"
}
json() { cut -d' ' -f2- "$1"; } # FILE: the lines without their times
nseq() { json "$1" | jq -rs 'map(.seq // empty) | unique | length'; }
wait_for() { # FILE PATTERN [N]: the Nth line matching arrived
	for _ in $(seq 100); do
		[ "$(grep -c -- "$2" "$1")" -ge "${3:-1}" ] && return 0
		sleep 0.1
	done
	bad "no ${3:-1}x '$2' in $1"
}
wait_report() { # FILE: a report began after now
	local n; n=$(nseq "$1")
	for _ in $(seq 50); do
		[ "$(nseq "$1")" -gt "$n" ] && return 0
		sleep 0.1
	done
	bad "no report in $1"
}
SA=0 SB=0 # bytes in of vm-a, out of vm-b, sent in this section
traffic() { # K
	send "$C" 198.18.2.2 100 $((10 * $1)) 198.18.1.2
	send "$S" 2001:db8:1::2 80 $((9 * $1)) 2001:db8:2::2
	SA=$((SA + 128 * 10 * $1)) SB=$((SB + 128 * 9 * $1))
}
usage() { # DB ADDR FIELD: the sum in table usage, every tier
	sqlite3 -readonly "$1" "SELECT coalesce(sum(u.$3), 0) FROM usage u JOIN series s
		ON s.id = u.series WHERE s.addr = '$2'"
}
check_sums() { # DB RUNFILE WHAT: every report once, to the byte
	assert_eq "$SA" "$(usage "$1" 198.18.2.2 in_bytes)" "$3: vm-a in_bytes in the store"
	assert_eq "$SB" "$(usage "$1" 2001:db8:2::2 out_bytes)" "$3: vm-b out_bytes in the store"
	assert_eq "$(nseq "$2")" "$(sqlite3 -readonly "$1" "SELECT count(*) FROM reports")" \
		"$3: every report printed is recorded, once"
	assert_eq "$SA" "$(json "$2" | jq -rs 'map(select(.addr == "198.18.2.2")) |
		map(.in_bytes) | add')" "$3: printed vm-a in_bytes"
}
metric() { # ADDR DIRECTION: bytes in the textfile
	awk -v a="addr=\"$1\"" -v d="direction=\"$2\"" \
		'index($1, "nftally_bytes_total{") == 1 && index($0, a) && index($0, d) { print $2 }' \
		"$WORK/nftally.prom"
}

# --- 1. a lock held by another writer across three intervals ---
DB="$WORK/state/nftally.db"
start_run_ts "$WORK/a.json"
traffic 1
wait_report "$WORK/a.json"
mkfifo "$WORK/lockin"
sqlite3 "$DB" < "$WORK/lockin" > /dev/null 2>&1 &
LOCKER=$!; PIDS="$PIDS $LOCKER"
exec 7> "$WORK/lockin"
echo "BEGIN EXCLUSIVE;" >&7
for _ in $(seq 50); do
	sqlite3 "$DB" "PRAGMA busy_timeout = 0; BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1 || break
	sleep 0.1
done
sqlite3 "$DB" "PRAGMA busy_timeout = 0; BEGIN IMMEDIATE; ROLLBACK;" >/dev/null 2>&1 &&
	bad "the database is not locked"
LOCKED_AT=$EPOCHREALTIME
traffic 1
# a SIGHUP right after a report's lines, while that report meets the lock
wait_report "$WORK/a.json"
kill -HUP "$RUN"; HUP_AT=$EPOCHREALTIME
wait_for "$WORK/a.json" '"event":"reloaded"'
HUP_DONE=$(awk '/"event":"reloaded"/ { print $1; exit }' "$WORK/a.json")
traffic 2
sleep 2.5
echo "COMMIT;" >&7; exec 7>&-
wait "$LOCKER"; PIDS=$(echo "$PIDS" | sed "s/ $LOCKER//")
UNLOCKED_AT=$EPOCHREALTIME
traffic 1
wait_for "$WORK/a.json" '"event":"store_recovered"'
wait_report "$WORK/a.json"
STOP_AT=$EPOCHREALTIME
stop_run_ts
WAITED=$(awk -v a="$LOCKED_AT" -v b="$UNLOCKED_AT" '$1 > a && $1 < b &&
	/is not in the store yet/' "$WORK/a.json" | wc -l)
[ "$WAITED" -ge 3 ] && ok "$WAITED reports waited for the lock" ||
	bad "only $WAITED reports waited for the lock"
echo "$HUP_AT $HUP_DONE" | awk '{ d = $2 - $1; exit !(d >= 0 && d < 0.5) }' &&
	ok "SIGHUP handled at once while the store is locked" ||
	bad "SIGHUP at $HUP_AT handled at $HUP_DONE"
# Report lines on time: each within 0.5 s of its whole second (the
# interval's boundary), and one report every second.
LATE=$(awk -v stop="$STOP_AT" '$1 < stop && match($0, /"seq":[0-9]+/) {
	s = substr($0, RSTART + 6, RLENGTH - 6)
	if (s in seen) next
	seen[s] = 1
	if ($1 - int($1) >= 0.5 || (p && $1 - p > 1.5)) print s, $1, p
	p = $1 }' "$WORK/a.json")
assert_eq "" "$LATE" "report lines late (seq, arrival, previous)"
assert_eq 1 "$(grep -c '"event":"store_recovered"' "$WORK/a.json" | awk '{ print ($1 >= 3) }')" \
	"every waiting report went in (store_recovered each)"
check_sums "$DB" "$WORK/a.json" "lock"

# --- 2. a full file system; then one full at start ---
mount -t tmpfs -o size=1m,mode=0700 nftally-test "$FS" || skip_or_fail "cannot mount a tmpfs"
DB="$FS/nftally.db"
echo "store = $DB" >> "$WORK/nftally.conf"
SA=0 SB=0
start_run_ts "$WORK/b.json"
traffic 1
wait_report "$WORK/b.json"
dd if=/dev/zero of="$FS/fill" bs=4096 >/dev/null 2>&1
traffic 1
wait_for "$WORK/b.json" 'is not in the store yet' 2
traffic 1
wait_report "$WORK/b.json"
rm "$FS/fill"
traffic 1
wait_for "$WORK/b.json" '"event":"store_recovered"'
wait_report "$WORK/b.json"
stop_run_ts
assert_eq 1 "$(grep -c 'is not in the store yet' "$WORK/b.json" | awk '{ print ($1 >= 2) }')" \
	"reports waited while the disk was full"
assert_eq 1 "$(grep -c 'is not in the store yet.*full' "$WORK/b.json" | awk '{ print ($1 >= 1) }')" \
	"the error says the disk is full"
check_sums "$DB" "$WORK/b.json" "full disk"
# a store that cannot even be created at start: run starts and retries
rm -f "$DB" "$DB-wal" "$DB-shm"
dd if=/dev/zero of="$FS/fill" bs=4096 >/dev/null 2>&1
SA=0 SB=0
start_run_ts "$WORK/b2.json"
grep -q '"event":"error".*store again' "$WORK/b2.json" && ok "the store failed at start: an error" ||
	bad "no error at start: $(cat "$WORK/b2.json" "$WORK/b2.json.err")"
traffic 1
wait_report "$WORK/b2.json"
traffic 1
wait_report "$WORK/b2.json"
grep -q nftally_bytes_total "$WORK/nftally.prom" &&
	awk 'index($1, "nftally_bytes_total{") == 1 { n++ } END { exit (n > 0) }' "$WORK/nftally.prom" &&
	ok "no byte counters before the store is open" || bad "byte counters shown from 0"
rm "$FS/fill"
wait_for "$WORK/b2.json" '"event":"store_recovered"' 2
wait_report "$WORK/b2.json"
stop_run_ts
check_sums "$DB" "$WORK/b2.json" "full at start"
assert_eq "$SA" "$(metric 198.18.2.2 in)" "the metrics are the store's totals once it is open"
umount "$FS"
sed -i '/^store = /d' "$WORK/nftally.conf"

# --- 3. the database deleted, then replaced, under the run ---
DB="$WORK/c.db"
echo "store = $DB" >> "$WORK/nftally.conf"
SA=0 SB=0
start_run_ts "$WORK/c.json"
traffic 1
wait_report "$WORK/c.json"
sqlite3 "$DB" ".backup $WORK/copy.db"
S1A=$SA S1B=$SB
traffic 2
wait_report "$WORK/c.json"
rm "$DB"
SA=0 SB=0 # what the new database gets
traffic 1
wait_for "$WORK/c.json" "$DB: the database was deleted"
wait_report "$WORK/c.json"
assert_eq 1 "$(grep -c '"event":"error".*the database was deleted' "$WORK/c.json")" \
	"the deleted database is an error, once"
T3A=$((S1A + 128 * 10 * 3))
assert_eq "$T3A" "$(metric 198.18.2.2 in)" "the metrics go on after the deletion"
assert_eq "$SA" "$(usage "$DB" 198.18.2.2 in_bytes)" \
	"the new database has the reports since the deletion"
assert_eq "$((T3A - SA))" "$(sqlite3 -readonly "$DB" "SELECT c.in_bytes FROM carried c
	JOIN series s ON s.id = c.series WHERE s.addr = '198.18.2.2'")" \
	"the lost database's totals are carried over"
# the copy (with only the first report) moved into the database's place
mv "$WORK/copy.db" "$DB"
SA=$S1A SB=$S1B
traffic 1
wait_for "$WORK/c.json" "$DB: the database was replaced"
wait_report "$WORK/c.json"
T4A=$((T3A + 1280))
assert_eq "$T4A" "$(metric 198.18.2.2 in)" "the metrics go on after the replacement"
assert_eq "$SA" "$(usage "$DB" 198.18.2.2 in_bytes)" \
	"the replacing database has its own reports and the ones since"
stop_run_ts
start_run_ts "$WORK/c2.json"
assert_eq "$T4A" "$(metric 198.18.2.2 in)" "after a restart the metrics start where they were"
stop_run_ts
assert_eq "$T4A" "$(json "$WORK/c.json" | jq -rs 'map(select(.addr == "198.18.2.2")) |
	map(.in_bytes) | add')" "printed vm-a in_bytes"
finish
