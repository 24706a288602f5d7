#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# tests/postgres/server.sh - a throw-away PostgreSQL 15 server for the tests
# of the postgres sink, from Debian's packages (postgresql-15).
#
# Usage: server.sh start|stop|status|kill9|restart|psql [ARGS...]
#
#   start    make sure a server runs and print "HOST PORT".  The first call
#            runs initdb in the state directory, picks a free port on
#            127.0.0.1 and starts postgres with pg_ctl; later calls reuse
#            the live server.  Concurrent calls are serialised with
#            flock(1).
#   stop     stop the server (pg_ctl stop -m immediate after -m fast fails)
#            and delete its data and the state directory's files.
#   status   print "HOST PORT" and exit 0 when the server answers.
#   kill9    kill -9 the postmaster (its backends die with it when they
#            notice); data and port stay recorded.
#   restart  start the server again on the same port and data.
#   psql     run psql as the superuser with ARGS (-X -q -v ON_ERROR_STOP=1).
#
# Roles: "ksink_admin", a superuser that authenticates by trust on
# loopback, for the tests' own administration; and "ksink", an ordinary
# login (CREATEDB) that authenticates with a password (scram-sha-256) made
# up at random by each initdb, kept in $STATE/password (mode 600).
#
# PostgreSQL refuses to run as root: when this script runs as root, the
# server runs as the system user $KSINK_PG_USER (default ksink-test,
# created with useradd when missing), which owns the data directory.
#
# Environment:
#   KSINK_PG_BINDIR   the server's programs (default /usr/lib/postgresql/15/bin)
#   KSINK_PG_STATE    state directory: data/, server.log, port, password,
#                     rundir (see RUN below),
#                     lock (default $top_builddir/tests/postgres/run, or
#                     ${TMPDIR:-/tmp}/ksink-pg-UID outside make check)
#   KSINK_PG_USER     the user the server runs as when we are root
#   KSINK_PG_LISTEN   one more address to listen on, where the role ksink
#                     may log in from 10.0.0.0/8 (a test of its own that
#                     made that address in a network namespace)
#   PYTHON3

set -u

BINDIR=${KSINK_PG_BINDIR:-/usr/lib/postgresql/15/bin}
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
if [ -n "${KSINK_PG_STATE:-}" ]; then
	STATE=$KSINK_PG_STATE
elif [ -n "${top_builddir:-}" ]; then
	STATE=$top_builddir/tests/postgres/run
else
	STATE=${TMPDIR:-/tmp}/ksink-pg-$(id -u)
fi
PGUSER_OS=${KSINK_PG_USER:-ksink-test}
me=server.sh
# Where the server's files are: $STATE, or, when the server's user cannot
# reach $STATE (below a directory of mode 700, as mktemp -d makes), a
# directory of its own under ${TMPDIR:-/tmp}, named in $STATE/rundir.
RUN=$STATE

die()
{
	echo "$me: $*" >&2
	exit 1
}

# Runs a command as the server's user.
as_pg()
{
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$PGUSER_OS" -- "$@"
	else
		"$@"
	fi
}

psql_admin()
{
	PGCONNECT_TIMEOUT=5 "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
	    -h 127.0.0.1 -p "$(cat "$STATE/port")" -U ksink_admin "$@"
}

answers()
{
	[ -r "$STATE/port" ] || return 1
	psql_admin -At -d postgres -c 'SELECT 1' >/dev/null 2>&1
}

wait_up()
{
	n=0
	while ! answers; do
		n=$((n + 1))
		[ $n -gt 300 ] && return 1
		sleep 0.2
	done
}

ensure_user()
{
	[ "$(id -u)" -eq 0 ] || return 0
	id -u "$PGUSER_OS" >/dev/null 2>&1 && return 0
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$PGUSER_OS" ||
		die "cannot create the system user $PGUSER_OS (PostgreSQL refuses to run as root)"
}

pg_start_server()
{
	as_pg "$BINDIR/pg_ctl" -D "$RUN/data" -l "$RUN/server.log" \
	    -o "-p $(cat "$STATE/port")" -w -t 60 start >/dev/null 9>&- ||
		{ tail -n 20 "$RUN/server.log" >&2; die "pg_ctl start failed (log: $RUN/server.log)"; }
	wait_up || die "the server does not answer on port $(cat "$STATE/port")"
}

# Deletes the server's files, and the directory of its own if it had one.
rm_run()
{
	rm -rf "$RUN/data" "$RUN/server.log" "$RUN/initdb.log"
	if [ "$RUN" != "$STATE" ]; then
		rm -rf "$RUN"
		rm -f "$STATE/rundir"
		RUN=$STATE
	fi
}

fresh()
{
	[ -x "$BINDIR/initdb" ] ||
		die "$BINDIR/initdb not found: install postgresql-15 (tests/install-deps.sh --test)"
	ensure_user
	rm_run
	rm -f "$STATE/port" "$STATE/password"
	# The server's user must reach its directory.
	if [ "$(id -u)" -eq 0 ]; then
		chmod 755 "$STATE"
		chown "$PGUSER_OS" "$STATE"
		if ! as_pg test -w "$STATE" 2>/dev/null; then
			RUN=$(mktemp -d "${TMPDIR:-/tmp}/ksink-pg.XXXXXX") ||
				die "cannot create a directory for the server"
			chmod 755 "$RUN"
			chown "$PGUSER_OS" "$RUN"
			echo "$RUN" >"$STATE/rundir"
		fi
	fi
	mkdir -p "$RUN/data" || die "cannot create $RUN/data"
	[ "$(id -u)" -eq 0 ] && chown "$PGUSER_OS" "$RUN/data"
	chmod 700 "$RUN/data"
	port=$("$PYTHON3" -c '
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
		die "cannot pick a free port with $PYTHON3"
	password=$("$PYTHON3" -c 'import secrets; print(secrets.token_hex(16))') ||
		die "cannot make up a password"
	as_pg "$BINDIR/initdb" -D "$RUN/data" -U ksink_admin -A trust \
	    -E UTF8 --locale=C.UTF-8 >"$RUN/initdb.log" 2>&1 ||
		{ cat "$RUN/initdb.log" >&2; die "initdb failed"; }
	cat >>"$RUN/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1${KSINK_PG_LISTEN:+,$KSINK_PG_LISTEN}'
port = $port
unix_socket_directories = ''
max_connections = 100
shared_buffers = 32MB
fsync = on
log_min_messages = warning
log_connections = off
CONF
	cat >"$RUN/data/pg_hba.conf" <<CONF
host all ksink 127.0.0.1/32 scram-sha-256
host all ksink 10.0.0.0/8 scram-sha-256
host all all 127.0.0.1/32 trust
CONF
	echo "$port" >"$STATE/port"
	pg_start_server
	(umask 077 && echo "$password" >"$STATE/password")
	psql_admin -d postgres -c "CREATE ROLE ksink LOGIN CREATEDB PASSWORD '$password'" ||
		die "cannot create the role ksink"
}

cmd=${1:-}
[ $# -gt 0 ] && shift
mkdir -p "$STATE" || die "cannot create $STATE"
[ -r "$STATE/rundir" ] && RUN=$(cat "$STATE/rundir")

case $cmd in
start)
	exec 9>>"$STATE/lock"
	flock -w 300 9 || die "timed out waiting for the lock on $STATE/lock"
	if ! answers; then
		if [ -f "$RUN/data/postmaster.pid" ] || [ -f "$RUN/data/PG_VERSION" ]; then
			as_pg "$BINDIR/pg_ctl" -D "$RUN/data" -m immediate stop >/dev/null 2>&1
		fi
		fresh
	fi
	echo "127.0.0.1 $(cat "$STATE/port")"
	;;
stop)
	exec 9>>"$STATE/lock"
	flock -w 300 9
	if [ -f "$RUN/data/PG_VERSION" ]; then
		as_pg "$BINDIR/pg_ctl" -D "$RUN/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
			as_pg "$BINDIR/pg_ctl" -D "$RUN/data" -m immediate -w stop >/dev/null 2>&1
	fi
	rm_run
	rm -f "$STATE/port" "$STATE/password"
	;;
status)
	answers || exit 1
	echo "127.0.0.1 $(cat "$STATE/port")"
	;;
kill9)
	[ -r "$RUN/data/postmaster.pid" ] || die "no server recorded in $STATE"
	pid=$(head -n 1 "$RUN/data/postmaster.pid")
	kill -KILL "$pid" || die "cannot kill $pid"
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	;;
restart)
	[ -r "$STATE/port" ] || die "no server recorded in $STATE"
	# After kill -9 the backends may linger a moment; the postmaster.pid
	# left behind is detected as stale by pg_ctl.
	# pg_start_server dies on failure: try it in a subshell, and let
	# only the last try speak.
	n=0
	while ! (pg_start_server) 2>/dev/null; do
		n=$((n + 1))
		[ $n -gt 20 ] && { pg_start_server; break; }
		sleep 1
	done
	;;
psql)
	[ -r "$STATE/port" ] || die "no server recorded in $STATE"
	psql_admin "$@"
	;;
*)
	die "usage: $me start|stop|status|kill9|restart|psql [ARGS...]"
	;;
esac
