#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fill-fast.sh against billfill on the same data (bench/serve.sh's line()
# for every slot): every table's rows in key order, meta but its
# identity, and `nftally report` (the cycle's totals and 95th percentiles,
# 5-minute, hourly and daily rows), byte for byte.  Exit 0 when all agree.
#   usage: bench/fill-fast-check.sh [LABELS] [SLOTS]   (defaults 20 576)
# Not part of the test suite.
set -u
cd "$(dirname "$0")/.." || exit 1
LABELS=${1:-20}; SLOTS=${2:-576}
NFTALLY=${NFTALLY:-$PWD/build/nftally}
BILLFILL=${BILLFILL:-$PWD/build/tests/billfill}
export BILLFILL
T0=1767225600
D=$(mktemp -d /tmp/nftally-fill-check.XXXXXX)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$D"' EXIT
for k in $(seq "$SLOTS"); do
	awk -v t0="$T0" -v n="$LABELS" -v k="$k" 'BEGIN {
		for (l = 0; l < n; l++)
			printf "%d l%05d 198.%d.%d.%d %d %d\n", t0 + 300 * k, l, 18 + int(l / 65536),
				int(l / 256) % 256, l % 256, 1000 + (l * 7 + k * 13) % 50000,
				500 + (l * 3 + k * 11) % 30000 }'
done > "$D/fill.txt"
"$BILLFILL" "$D/slow.db" node1 < "$D/fill.txt" || exit 1
bench/fill-fast.sh "$D/fast.db" "$LABELS" "$SLOTS" "$T0" node1 || exit 1
AT=$((T0 + 300 * SLOTS + 299))
fail=0
: > "$D/none"
for db in slow fast; do
	for t in series usage samples reports totals carried; do
		echo "== $t"
		sqlite3 "$D/$db.db" "SELECT * FROM $t ORDER BY 1, 2, 3, 4, 5"
	done > "$D/$db.rows"
	sqlite3 "$D/$db.db" "SELECT * FROM meta ORDER BY key" > "$D/$db.meta"
	sqlite3 "$D/$db.db" "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name" \
		> "$D/$db.schema"
	sqlite3 "$D/$db.db" "PRAGMA journal_mode" > "$D/$db.journal"
	printf 'store = %s\nstate_dir = %s\ntargets = %s/none\ntimezone = UTC\n' \
		"$D/$db.db" "$D" "$D" > "$D/$db.conf"
	for args in "--cycle current --merge-hosts --all --bill sum --format json" \
		"--cycle current --p95 --all --bill sum --format json" \
		"--by 5min --label l00001 --format json" "--by hour --all" "--by day --all"; do
		echo "== $args"
		# shellcheck disable=SC2086
		"$NFTALLY" -c "$D/$db.conf" --at "@$AT" report $args
	done > "$D/$db.report" 2>&1
done
for f in rows meta schema journal report; do
	if cmp -s "$D/slow.$f" "$D/fast.$f"; then
		echo "$f: same ($(wc -c < "$D/fast.$f") bytes)"
	else
		echo "$f: DIFFERENT"; diff "$D/slow.$f" "$D/fast.$f" | head -20; fail=1
	fi
done
exit $fail
