#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The PostgreSQL outbox on a full disk: the state directory (which holds
# the outbox and the report's pending file) is a small tmpfs, PostgreSQL
# is down so the outbox must grow, and the tmpfs fills up.  (1) With one
# page left (enough for the pending file, not for the outbox's
# transaction) the JSON lines keep coming, and each report has an `error`
# event saying it waits in memory; with no page left the pending file
# fails (an `error` event, no lines; the next report covers the gap);
# once space is back the reports that waited go into the outbox once
# each, and when the server is back per-address totals in nftally_usage
# equal what was sent, to the byte.  (2) A stop before space is back
# loses from PostgreSQL exactly the reports its `error` events name
# (their lines were printed), and nothing else.
#
# The tmpfs is mounted in a mount namespace of this test's own.
if [ -z "${NFTALLY_PG_DISK_NS:-}" ] && command -v unshare >/dev/null; then
	NFTALLY_PG_DISK_NS=1 exec unshare -m --propagation private "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
need
[ -n "${NFTALLY_PG_DISK_NS:-}" ] || skip_or_fail "the full-disk test needs unshare"
command -v sqlite3 >/dev/null || skip_or_fail "the outbox checks need sqlite3"
. "$(dirname "$0")/lib-pg.sh"
FS="$WORK/state"
mkdir "$FS"
mount -t tmpfs -o size=1m,mode=0700 nftally-pg-disk "$FS" || skip_or_fail "cannot mount a tmpfs"
trap 'umount "$FS" 2>/dev/null; pg_cleanup' EXIT
pg_start || { cat "$PGDIR/log"; skip_or_fail "the PostgreSQL server does not start"; }

setup_topology
write_config 1
# the store elsewhere: only the outbox (and the state files) meet the full disk
cat >> "$WORK/nftally.conf" <<CONF
host = node1
store = $WORK/store.db
postgresql = host=$PGDIR dbname=postgres user=postgres
CONF
printf '%s\n' "a 198.18.4.1" "b 2001:db8:4::1" > "$WORK/targets"

# What was sent, per address (IPv4 28, IPv6 48 bytes of headers).
W4=0 P4=0 W6=0 P6=0
traffic() { # PAYLOAD COUNT
	send "$C" 198.18.4.1 "$1" "$2" 198.18.1.2
	send "$C" 2001:db8:4::1 "$1" "$2" 2001:db8:1::2
	W4=$((W4 + $2 * ($1 + 28))) P4=$((P4 + $2))
	W6=$((W6 + $2 * ($1 + 48))) P6=$((P6 + $2))
}
usage() { # ADDR
	sql "SELECT coalesce(sum(in_bytes), 0) || ' ' || coalesce(sum(in_packets), 0)
	     FROM nftally_usage WHERE host = 'node1' AND addr = '$1'" 2>/dev/null
}
# Wait (at most 30 s: a retry may be 16 s away) until nftally_usage has
# WANT4 and WANT6, then assert.
check() { # WHAT WANT4 WANT6
	for _ in $(seq 300); do
		[ "$(usage 198.18.4.1)" = "$2" ] && [ "$(usage 2001:db8:4::1)" = "$3" ] && break
		sleep 0.1
	done
	assert_eq "$2" "$(usage 198.18.4.1)" "$1: 198.18.4.1 in nftally_usage"
	assert_eq "$3" "$(usage 2001:db8:4::1)" "$1: 2001:db8:4::1 in nftally_usage"
}
outbox() { sqlite3 "$FS/pg-outbox.db" "SELECT count(*) FROM outbox" 2>/dev/null; }
# Fill the tmpfs but for one page: enough for the pending file (one
# page), not for the outbox's transaction (several).  Traffic sent while
# it is quite full goes into the first report that succeeds after.
fill() { # PAYLOAD COUNT
	head -c 4096 /dev/zero > "$FS/spare"
	dd if=/dev/zero of="$FS/fill" bs=4096 >/dev/null 2>&1
	traffic "$1" "$2"
	rm "$FS/spare"
}
# The seq of the report the outbox could not take (after line FROM of FILE).
waiting_seq() { # FILE FROM
	for _ in $(seq 60); do
		tail -n +"$(($2 + 1))" "$1" | grep -o 'report [0-9]* is not in the PostgreSQL outbox yet' |
			head -1 | cut -d' ' -f2 | grep . && return 0
		sleep 0.1
	done
	return 1
}
# Bytes and packets in of ADDR on the JSON lines of report SEQ in FILE.
printed() { # FILE SEQ ADDR
	jq -rs --argjson s "$2" --arg a "$3" '[.[] | select(.seq == $s and .addr == $a)] |
		"\(map(.in_bytes) | add // 0) \(map(.in_packets) | add // 0)"' "$1"
}

# --- (1) the disk fills while PostgreSQL is down: one page left, then
#     none; space back, then the server ---
start_run "$WORK/a.json"
traffic 100 10
check "(1) before" "$W4 $P4" "$W6 $P6"
pgctl stop -m fast
traffic 90 5
sleep 2.2 # a report or two into the outbox, which grows
from=$(wc -l < "$WORK/a.json")
fill 60 4
SEQ=$(waiting_seq "$WORK/a.json" "$from") &&
	ok "(1) report $SEQ is not in the outbox: an error event says it waits in memory" ||
	bad "(1) no error event for the outbox: $(jq -c 'select(.event == "error") | .message' "$WORK/a.json")"
grep '"event":"error"' "$WORK/a.json" | grep "report $SEQ is not in the PostgreSQL outbox yet" |
	grep -q "database or disk is full" && ok "(1) the error says the disk is full" ||
	bad "(1) the error does not say the disk is full"
assert_eq "$((4 * 88)) 4" "$(printed "$WORK/a.json" "$SEQ" 198.18.4.1)" \
	"(1) report $SEQ's lines printed all the same (198.18.4.1)"
traffic 75 2
sleep 3
# Every report printed since the fill waits in memory, each with its event.
PRINTED=$(tail -n +"$((from + 1))" "$WORK/a.json" | jq -r 'select(.seq) | .seq' | sort -un | xargs)
WAITING=$(tail -n +"$((from + 1))" "$WORK/a.json" |
	grep -o 'report [0-9]* is not in the PostgreSQL outbox yet' | cut -d' ' -f2 | sort -un | xargs)
assert_eq "$PRINTED" "$WAITING" "(1) the reports printed since the fill are those waiting in memory"
[ "$(echo "$PRINTED" | wc -w)" -ge 3 ] && ok "(1) the JSON lines kept coming ($PRINTED)" ||
	bad "(1) only reports '$PRINTED' printed in 4 s of a full disk"
# The last page taken too: now the report's own pending file fails (no
# lines, an error event), and the next report that can be made covers it.
dd if=/dev/zero of="$FS/last" bs=4096 >/dev/null 2>&1
traffic 70 3
sleep 1
n1=$(jq -rs 'map(.seq // empty) | unique | length' "$WORK/a.json")
sleep 2
n2=$(jq -rs 'map(.seq // empty) | unique | length' "$WORK/a.json")
assert_eq "$n1" "$n2" "(1) with no page left, no report is made"
grep '"event":"error"' "$WORK/a.json" |
	grep -q 'nftally.pending.tmp: writing failed: No space left on device' &&
	ok "(1) with no page left, an error event names the pending file" ||
	bad "(1) no error event for the pending file"
OUTBOX_FULL=$(outbox)
rm "$FS/fill" "$FS/last"
traffic 80 2
sleep 2.2
# the reports that waited in memory went into the outbox, once each
assert_eq "$(for q in $PRINTED; do echo 1; done | xargs)" \
	"$(for q in $PRINTED; do sqlite3 "$FS/pg-outbox.db" "SELECT count(*) FROM outbox WHERE seq = $q"; done | xargs)" \
	"(1) space back: reports $PRINTED in the outbox, once each"
pg_start
traffic 110 6
check "(1) space back, then the server" "$W4 $P4" "$W6 $P6"
assert_eq "$W4" "$(total 198.18.4.1 in_bytes "$WORK/a.json")" "(1) the JSON lines have it all too"
wait_event "$WORK/a.json" pg_recovered 1 && ok "(1) pg_recovered" || bad "(1) no pg_recovered"
stop_run; assert_eq 0 $? "(1) run exit code"
assert_eq 1 "$(sql "SELECT count(*) FROM nftally_raw WHERE seq = $SEQ AND addr = '198.18.4.1'
		     AND in_bytes = $((4 * 88))")" "(1) report $SEQ in nftally_raw, once, whole"
assert_eq 0 "$(outbox)" "(1) the outbox is empty (it held $OUTBOX_FULL while full)"

# --- (2) a stop while the disk is still full: that report, and only it,
#     is lost from PostgreSQL, and the stop's error event names it ---
start_run "$WORK/b.json"
traffic 100 3
check "(2) before" "$W4 $P4" "$W6 $P6"
pgctl stop -m fast
traffic 95 7
sleep 2.2
from=$(wc -l < "$WORK/b.json")
fill 40 9
SEQ=$(waiting_seq "$WORK/b.json" "$from") &&
	ok "(2) report $SEQ waits in memory" || bad "(2) no report waits in memory"
assert_eq "$((9 * 68)) 9" "$(printed "$WORK/b.json" "$SEQ" 198.18.4.1)" \
	"(2) report $SEQ's lines printed (198.18.4.1)"
assert_eq "$((9 * 88)) 9" "$(printed "$WORK/b.json" "$SEQ" 2001:db8:4::1)" \
	"(2) report $SEQ's lines printed (2001:db8:4::1)"
from=$(wc -l < "$WORK/b.json")
stop_run; assert_eq 0 $? "(2) run exit code at a stop on a full disk"
# the reports the stop names as lost (SEQ and those after it that waited)
LOST=$(tail -n +"$((from + 1))" "$WORK/b.json" | grep '"event":"error"' |
	grep -o 'report [0-9]* is not in the PostgreSQL outbox: ' | cut -d' ' -f2 | sort -un | xargs)
assert_eq "$SEQ" "$(echo "$LOST" | cut -d' ' -f1)" "(2) the stop's error events name report $SEQ first"
L4=0 Q4=0 L6=0 Q6=0
for q in $LOST; do
	set -- $(printed "$WORK/b.json" "$q" 198.18.4.1) $(printed "$WORK/b.json" "$q" 2001:db8:4::1)
	L4=$((L4 + $1)) Q4=$((Q4 + $2)) L6=$((L6 + $3)) Q6=$((Q6 + $4))
done
rm "$FS/fill"
pg_start
start_run "$WORK/c.json"
traffic 120 2
check "(2) after: what was sent but the reports named lost ($LOST)" \
	"$((W4 - L4)) $((P4 - Q4))" "$((W6 - L6)) $((P6 - Q6))"
stop_run; assert_eq 0 $? "(2) the next run's exit code"
for q in $LOST; do
	assert_eq 0 "$(sql "SELECT count(*) FROM nftally_raw WHERE seq = $q")" \
		"(2) report $q is not in nftally_raw"
done

assert_eq 0 "$(sql "SELECT count(*) FROM (SELECT 1 FROM nftally_raw GROUP BY host, netns,
		    account, seq, time, addr, class HAVING count(*) > 1) d")" "no row twice"
assert_eq 0 "$(outbox)" "the outbox is empty at the end"
finish
