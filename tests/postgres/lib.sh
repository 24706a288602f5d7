# SPDX-License-Identifier: BSD-2-Clause
# tests/postgres/lib.sh - shell functions for the tests that need a real
# PostgreSQL server.  Source it after tests/kafka/lib.sh (which provides
# skip, fail, hard_error, at_exit, ...):
#
#	. "$top_srcdir/tests/kafka/lib.sh"
#	. "$top_srcdir/tests/postgres/lib.sh"
#	pg_require                  # sets PG_HOST, PG_PORT, PG_PASSWORD_FILE
#	db=$(pg_createdb mytest)    # a fresh database owned by ksink
#	pg_sql "$db" 'SELECT count(*) FROM t'
#
# pg_require starts the server through tests/postgres/server.sh when none
# runs yet (the first test to need it starts it; tests/postgres/stop.test
# stops it after all tests listed in POSTGRES_TESTS).  When no server can
# be had the test is skipped (77), or fails hard (99) when CI=true.
#
# Functions:
#   pg_require            ensure a server; set PG_HOST, PG_PORT, PG_SH,
#                         PG_PASSWORD_FILE (the password of the role ksink)
#   pg_createdb NAME      create a fresh database NAME_PID owned by ksink
#                         and print its name; dropped at exit
#   pg_conninfo DB        print a conninfo for role ksink on DB (without
#                         the password: use postgres.password.file)
#   pg_sql DB SQL         run SQL as the superuser, print rows unaligned
#   pg_psql ARGS...       psql as the superuser

PG_SH=$top_srcdir/tests/postgres/server.sh
PSQL=${PSQL:-/usr/lib/postgresql/15/bin/psql}

pg_require()
{
	[ -x "${KSINK_PG_BINDIR:-/usr/lib/postgresql/15/bin}/initdb" ] ||
		_ks_unavailable "PostgreSQL 15 not installed (tests/install-deps.sh --test installs postgresql-15)"
	if ! _pg_addr=$("$PG_SH" start); then
		_ks_unavailable "cannot start a PostgreSQL server with $PG_SH (see the messages above)"
	fi
	set -- $_pg_addr
	PG_HOST=$1
	PG_PORT=$2
	[ -n "$PG_PORT" ] || _ks_unavailable "$PG_SH start printed no address"
	PG_PASSWORD_FILE=${KSINK_PG_STATE:-$top_builddir/tests/postgres/run}/password
	export PG_HOST PG_PORT PG_PASSWORD_FILE
	echo "$_ks_test: PostgreSQL at $PG_HOST:$PG_PORT"
}

pg_psql()
{
	"$PG_SH" psql "$@"
}

pg_sql()
{
	_pg_db=$1
	shift
	"$PG_SH" psql -At -d "$_pg_db" -c "$*"
}

pg_createdb()
{
	_pg_name=$(echo "$1_$$" | tr -c 'a-zA-Z0-9_\n' '_')
	pg_sql postgres "DROP DATABASE IF EXISTS $_pg_name" >/dev/null 2>&1
	pg_sql postgres "CREATE DATABASE $_pg_name OWNER ksink" >/dev/null ||
		hard_error "cannot create database $_pg_name"
	at_exit "\"\$PG_SH\" psql -d postgres -c 'DROP DATABASE IF EXISTS $_pg_name WITH (FORCE)' >/dev/null 2>&1"
	echo "$_pg_name"
}

pg_conninfo()
{
	echo "host=$PG_HOST port=$PG_PORT user=ksink dbname=$1 sslmode=disable"
}
