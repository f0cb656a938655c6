#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The PostgreSQL sink's throughput (not part of the test suite): one report
# of N addresses (default 100,000) that all had traffic, from the outbox
# into nftally_raw through pg_send, against a bare COPY of the same rows
# into the same table, in the same run, on a server this script starts
# itself (initdb and pg_ctl as the postgres user in a temporary directory,
# a unix socket, fsync on: the commit is a real one).  Prints the key=value
# lines of build/pg-bench (medians of ROUNDS) and the PostgreSQL version.
#   usage: bench/pg.sh [N] [ROUNDS]   (defaults: 100000 5)
# Needs root (to run the server as postgres) and a build with libpq.
set -eu
cd "$(dirname "$0")/.."
N=${1:-100000} ROUNDS=${2:-5}
BENCH=${PG_BENCH:-$PWD/build/pg-bench}
[ -x "$BENCH" ] || { echo "no $BENCH (a build with libpq)" >&2; exit 1; }
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "bench/pg.sh needs initdb and pg_ctl" >&2; exit 1; }
PGDIR=$(mktemp -d /tmp/nftally-pgbench.XXXXXX)
chown postgres "$PGDIR"
chmod 755 "$PGDIR"
pgctl() { runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" "$@" >/dev/null; }
trap 'pgctl stop -m fast 2>/dev/null; rm -rf "$PGDIR"' EXIT
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres >/dev/null
pgctl start -w -o "-k $PGDIR -c listen_addresses=''"
echo "postgresql=$("$PGBIN/postgres" --version | awk '{ print $3 }')"
"$BENCH" "$N" "$ROUNDS" "host=$PGDIR dbname=postgres user=postgres" "$PGDIR/outbox.db"
