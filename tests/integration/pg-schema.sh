#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `nftally pg-schema` against a real server this test starts itself (as
# pg.sh does): the owner role of docs/fleet.md makes the schema (the
# tables, the view and the partition function, owned by it), a second run
# changes nothing, the conninfo comes from --postgresql or the config's
# `postgresql =`, and after the grants of fleet.md the node role adds rows
# (and a month's partition) without CREATE.  Refusals are one line on
# stderr and a non-zero exit: an unreachable server (3), a role without
# CREATE (3, nothing made), a schema newer than this nftally (1), no
# database named (2).  No network namespace: the server's unix socket.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_or_fail "the PostgreSQL tests need root"
[ -x "$NFTALLY" ] || skip_or_fail "no nftally binary at $NFTALLY"
. "$(dirname "$0")/lib-pg.sh"
pg_start || { cat "$PGDIR/log"; skip_or_fail "the PostgreSQL server does not start"; }
sql_in() { psql -h "$PGDIR" -U postgres -d "$1" -XAtq -v ON_ERROR_STOP=1 -c "$2"; }
sql_as() { psql -h "$PGDIR" -U "$1" -d acct -XAtq -v ON_ERROR_STOP=1 -c "$2" 2>&1; }
# nftally pg-schema with the caller's arguments: stdout, stderr, exit code
schema() {
	"$NFTALLY" "$@" > "$WORK/out" 2> "$WORK/err"
	echo $? > "$WORK/rc"
}
# the objects nftally made in database $1, with their owners
objects() {
	sql_in "$1" "SELECT string_agg(c.relname || ':' || pg_get_userbyid(c.relowner), ' '
		     ORDER BY c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v')"
}

# The setup of docs/fleet.md, before any schema.
sql_in postgres "CREATE DATABASE acct"
sql_in postgres "CREATE DATABASE other"
# (PostgreSQL 15 grants PUBLIC no CREATE on public; older ones did)
sql_in acct "REVOKE CREATE ON SCHEMA public FROM PUBLIC;
	     CREATE ROLE nftally_owner LOGIN; GRANT CREATE ON SCHEMA public TO nftally_owner;
	     CREATE ROLE nftally_node LOGIN; CREATE ROLE nftally_read LOGIN"
OWNER="host=$PGDIR dbname=acct user=nftally_owner"
NODE="host=$PGDIR dbname=acct user=nftally_node"

# --- a role without CREATE: refused, one line, exit 3, nothing made ---
schema pg-schema --postgresql "$NODE"
assert_eq 3 "$(cat "$WORK/rc")" "node role: exit code"
assert_eq 1 "$(wc -l < "$WORK/err")" "node role: one line on stderr"
assert_eq "nftally: postgresql: schema: ERROR:  permission denied for schema public" \
	"$(cat "$WORK/err")" "node role: the server's refusal"
assert_eq "" "$(cat "$WORK/out")" "node role: nothing on stdout"
assert_eq "" "$(objects acct)" "node role: nothing made"

# --- an unreachable server: one line, exit 3 ---
schema pg-schema --postgresql "host=$WORK/nothere dbname=acct user=nftally_owner"
assert_eq 3 "$(cat "$WORK/rc")" "unreachable: exit code"
assert_eq 1 "$(wc -l < "$WORK/err")" "unreachable: one line on stderr"
case $(cat "$WORK/err") in
"nftally: postgresql: connect: "*"\"$WORK/nothere/.s.PGSQL.5432\""*"No such file or directory")
	ok "unreachable: libpq's message" ;;
*) bad "unreachable: message: $(cat "$WORK/err")" ;;
esac

# --- no database named: a usage error ---
printf '%s\n' "host = admin" > "$WORK/none.conf"
schema -c "$WORK/none.conf" pg-schema
assert_eq 2 "$(cat "$WORK/rc")" "no conninfo: exit code"
assert_eq "nftally: pg-schema: no database: give --postgresql CONNINFO or set 'postgresql' in the config" \
	"$(cat "$WORK/err")" "no conninfo: message"
schema --postgresql "$OWNER" dump
assert_eq 2 "$(cat "$WORK/rc")" "--postgresql with dump: exit code"
assert_eq "nftally: --postgresql is an option of report, serve and pg-schema" \
	"$(cat "$WORK/err")" "--postgresql with dump: message"

# --- the owner makes it: once ---
schema pg-schema --postgresql "$OWNER"
assert_eq 0 "$(cat "$WORK/rc")" "owner: exit code"
assert_eq "nftally schema version 1: made" "$(cat "$WORK/out")" "owner: made"
assert_eq "" "$(cat "$WORK/err")" "owner: nothing on stderr"
assert_eq "nftally_raw:nftally_owner nftally_schema:nftally_owner nftally_usage:nftally_owner" \
	"$(objects acct)" "owner: the tables and the view, the owner's"
assert_eq "nftally_owner" "$(sql_in acct "SELECT pg_get_userbyid(proowner) FROM pg_proc
				       WHERE proname = 'nftally_partition'")" \
	"owner: the partition function, the owner's"
assert_eq 1 "$(sql_in acct 'SELECT count(*) FROM nftally_schema')" "owner: one version row"
assert_eq 1 "$(sql_in acct 'SELECT max(version) FROM nftally_schema')" "owner: version 1"

# --- again, from the config's `postgresql =`: nothing changes ---
printf '%s\n' "host = admin" "postgresql = $OWNER" > "$WORK/owner.conf"
BEFORE=$(sql_in acct "SELECT string_agg(oid::text, ' ' ORDER BY oid) FROM pg_class
		      WHERE relname LIKE 'nftally%'")
schema -c "$WORK/owner.conf" pg-schema
assert_eq 0 "$(cat "$WORK/rc")" "again: exit code"
assert_eq "nftally schema version 1: up to date already, nothing changed" \
	"$(cat "$WORK/out")" "again: nothing changed"
assert_eq "$BEFORE" "$(sql_in acct "SELECT string_agg(oid::text, ' ' ORDER BY oid) FROM pg_class
			       WHERE relname LIKE 'nftally%'")" "again: the same objects"
assert_eq 1 "$(sql_in acct 'SELECT count(*) FROM nftally_schema')" "again: one version row"

# --- the node role, with fleet.md's grants, adds rows without CREATE ---
sql_in acct "GRANT USAGE ON SCHEMA public TO nftally_node, nftally_read;
	     GRANT SELECT ON nftally_schema TO nftally_node;
	     GRANT INSERT ON nftally_raw TO nftally_node;
	     GRANT EXECUTE ON FUNCTION nftally_partition(timestamp) TO nftally_node;
	     GRANT TEMPORARY ON DATABASE acct TO nftally_node;
	     GRANT SELECT ON nftally_raw, nftally_usage TO nftally_read;"
schema pg-schema --postgresql "$NODE"
assert_eq 0 "$(cat "$WORK/rc")" "node role, schema there: exit code"
assert_eq "nftally schema version 1: up to date already, nothing changed" \
	"$(cat "$WORK/out")" "node role, schema there: only checked"
sql_as nftally_node "SELECT nftally_partition('2026-11-01');
	INSERT INTO nftally_raw VALUES ('node1', '', '', 'nftally', 'cust-a', '198.18.4.1', '',
	NULL, '2026-11-05 10:01+00', 1, 1000, 10, 500, 5)" >/dev/null
assert_eq "1000 10 500 5" "$(sql_as nftally_read "SELECT in_bytes || ' ' || in_packets || ' ' ||
	out_bytes || ' ' || out_packets FROM nftally_usage WHERE addr = '198.18.4.1'")" \
	"node role: a row in, through the owner's partition function"
case $(sql_as nftally_node "CREATE TABLE x(i int)") in
*"permission denied"*) ok "node role: creates no table" ;;
*) bad "node role: can create a table" ;;
esac

# --- a schema newer than this nftally: refused, exit 1 ---
sql_in acct "INSERT INTO nftally_schema VALUES (2)"
schema pg-schema --postgresql "$OWNER"
assert_eq 1 "$(cat "$WORK/rc")" "newer schema: exit code"
assert_eq "nftally: postgresql: schema 2 is newer than this nftally's (1)" \
	"$(cat "$WORK/err")" "newer schema: message"
assert_eq 2 "$(sql_in acct 'SELECT count(*) FROM nftally_schema')" "newer schema: untouched"

# --- another database, the superuser: made there, nothing in acct changed ---
schema pg-schema --postgresql "host=$PGDIR dbname=other user=postgres"
assert_eq "0 nftally schema version 1: made" "$(cat "$WORK/rc") $(cat "$WORK/out")" \
	"other database: made"
assert_eq "nftally_raw:postgres nftally_schema:postgres nftally_usage:postgres" \
	"$(objects other)" "other database: the superuser's"
finish
