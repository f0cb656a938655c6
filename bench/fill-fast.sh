#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The store bench/serve.sh fills through billfill (LABELS labels of one
# address, a report of every label at the end of each of SLOTS 5-minute
# slots from T0, 256 rows a report), written by SQLite directly in
# minutes instead of hours: billfill's 0.5 s a report of 10,000 rows goes
# into two indexes at each series' place, 75 minutes for 31 days.
# The store itself (tables, indexes, meta schema and table) is made by
# billfill from no input, so its schema is the store code's; then, with
# the indexes dropped and no journal, one INSERT ... SELECT a table in
# primary-key order writes the rows billfill would write (series, usage
# tier 0, samples, totals, reports, meta last_seq and last_time), and the
# indexes are made again from the very SQL the store code made them with.
# bench/serve.sh's line() is the same data; fill-fast-check.sh compares
# the two fills table by table and by `nftally report`.
#   usage: bench/fill-fast.sh DB LABELS SLOTS [T0 [HOST]]
# Not part of the test suite.
set -eu
cd "$(dirname "$0")/.."
DB=$1 N=$2 S=$3 T0=${4:-1767225600} HOST=${5:-node1}
BILLFILL=${BILLFILL:-$PWD/build/tests/billfill}
[ -e "$DB" ] && { echo "$DB exists: fill-fast.sh makes a new store" >&2; exit 1; }
"$BILLFILL" "$DB" "$HOST" < /dev/null
R=$(((N + 255) / 256)) # billfill's reports a slot (MAXROWS 256)
IDX=$(sqlite3 "$DB" "SELECT sql || ';' FROM sqlite_master WHERE type = 'index' AND sql NOT NULL")
DROP=$(sqlite3 "$DB" "SELECT 'DROP INDEX ' || name || ';' FROM sqlite_master
	WHERE type = 'index' AND sql NOT NULL")
# the counts of label l (series l + 1) in slot k (1-based), as line()'s
IN="1000 + (l.value * 7 + k.value * 13) % 50000"
OUT="500 + (l.value * 3 + k.value * 11) % 30000"
SLOTS="generate_series(1, $S) AS k CROSS JOIN generate_series(0, $((N - 1))) AS l"
sqlite3 "$DB" > /dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
BEGIN;
$DROP
INSERT INTO series(id, host, netns, account, addr, label, class)
	SELECT value + 1, '$HOST', '', '', format('198.%d.%d.%d', 18 + value / 65536,
	value / 256 % 256, value % 256), format('l%05d', value), ''
	FROM generate_series(0, $((N - 1)));
INSERT INTO usage SELECT 0, $T0 + 300 * k.value, l.value + 1, $IN, 1, $OUT, 1 FROM $SLOTS;
INSERT INTO samples SELECT $T0 + 300 * (k.value - 1), l.value + 1, $IN, 1, $OUT, 1 FROM $SLOTS;
INSERT INTO reports SELECT '$HOST', '', '', (k.value - 1) * $R + j.value + 1,
	$T0 + 300 * k.value FROM generate_series(1, $S) AS k
	CROSS JOIN generate_series(0, $((R - 1))) AS j;
$IDX
INSERT INTO totals SELECT series, sum(in_bytes), sum(in_packets), sum(out_bytes),
	sum(out_packets) FROM samples GROUP BY series;
INSERT OR REPLACE INTO meta(key, value) VALUES('last_seq', $((S * R))),
	('last_time', $((T0 + 300 * S)));
COMMIT;
PRAGMA journal_mode = WAL;
SQL
