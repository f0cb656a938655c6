#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A simulated fleet into one PostgreSQL (not part of the test suite): HOSTS
# hosts (default 200), each with its own outbox and its own connection,
# report ADDRS addresses with traffic (default 1,000) every simulated
# minute and send them through the real sink (outbox_add, pg_send), PROCS
# processes at once (default 8), for MINUTES minutes (default 6; minute 0
# more, untimed, warms up).  Each minute is also COPYed bare into a twin
# of nftally_raw in the same run.  Prints the key=value lines of
# build/fleet-bench: a minute of the whole fleet as a fraction of 60 s,
# rows/s, and the ratio against the bare COPY (medians over the minutes).
# The server is the tests' (tests/integration/lib-pg.sh: initdb and pg_ctl
# as postgres in a temporary directory, a unix socket) with fsync on, so
# each commit is a real one.
#   usage: bench/fleet.sh [HOSTS] [ADDRS] [MINUTES] [PROCS]
# Needs root (to run the server as postgres) and a build with libpq.
set -eu
cd "$(dirname "$0")/.."
HOSTS=${1:-200} ADDRS=${2:-1000} MINUTES=${3:-6} PROCS=${4:-8}
BENCH=${FLEET_BENCH:-$PWD/build/fleet-bench}
[ -x "$BENCH" ] || { echo "no $BENCH (a build with libpq)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "bench/fleet.sh needs root" >&2; exit 1; }
set +u
. tests/integration/lib.sh
. tests/integration/lib-pg.sh
set -u
# a connection per host, the bench's own and a few to spare
PG_FSYNC=on PG_OPTS="-c max_connections=$((HOSTS + 10))" pg_start
echo "postgresql=$("$PGBIN/postgres" --version | awk '{ print $3 }')"
echo "cpus=$(nproc)"
"$BENCH" "$HOSTS" "$ADDRS" "$MINUTES" "$PROCS" "host=$PGDIR dbname=postgres user=postgres" \
	"$PGDIR"
