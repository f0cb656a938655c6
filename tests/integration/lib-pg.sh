# SPDX-License-Identifier: GPL-2.0-or-later
# A PostgreSQL server of the test's own for the PostgreSQL sink's tests
# (pg.sh, pg-faults.sh, pg-report.sh): initdb and pg_ctl as the unprivileged postgres
# user in a temporary directory, a unix socket there, stopped and removed
# with the test's namespaces.  Source after lib.sh and need.

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -z "$PGBIN" ] && PGBIN=$(dirname "$(command -v pg_ctl 2>/dev/null || echo /x/x)")
[ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] ||
	skip_or_fail "the PostgreSQL test needs initdb and pg_ctl (postgresql)"
command -v psql >/dev/null || skip_or_fail "the PostgreSQL test needs psql"
id postgres >/dev/null 2>&1 || skip_or_fail "the PostgreSQL test needs a postgres user"

PGDIR=$(mktemp -d /tmp/nftally-pg.XXXXXX)
chown postgres "$PGDIR"
chmod 755 "$PGDIR"
# pg_ctl in namespace PG_NS if set (the server then listens there), else
# in the test's own.
pgctl() {
	${PG_NS:+ip netns exec "$PG_NS"} runuser -u postgres -- \
		"$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" "$@" >/dev/null
}
pg_cleanup() {
	pgctl stop -m immediate 2>/dev/null
	cleanup
	rm -rf "$PGDIR"
}
trap pg_cleanup EXIT
runuser -u postgres -- "$PGBIN/initdb" -D "$PGDIR/data" -A trust -U postgres --no-sync \
	>/dev/null || skip_or_fail "initdb failed"
# PG_LISTEN: the TCP addresses to listen on (none by default: the socket);
# PG_FSYNC: on for commits that reach the disk (off by default: tests need
# no durability from the server, only its answers); PG_OPTS: more -c NAME=V.
pg_start() {
	pgctl start -w -o "-k $PGDIR -c listen_addresses='${PG_LISTEN:-}' \
-c fsync=${PG_FSYNC:-off} ${PG_OPTS:-}"
}
# The test's own statements, as the superuser over the unix socket (which
# no network namespace or drop rule cuts).
sql() { psql -h "$PGDIR" -U postgres -d "${PG_DB:-postgres}" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
