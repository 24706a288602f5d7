# SPDX-License-Identifier: BSD-2-Clause
# tests/postgres/pg-common.sh - shared by the postgres sink's ledger tests.
# Source it after tests/kafka/lib.sh, kafka_require, tests/postgres/lib.sh
# and pg_require.
#
# As in tests/e2e/sqlite-common.sh, the connector writes the ledger of
# tests/kafka/ledger.sh, so that a record applied twice, an aborted one
# applied, one lost or a partition out of order all show;
# tests/postgres/check_pg.py compares the database with the oracle.
#
# Functions (slot names a ksink process: a, b, ...; the processes are
# daemons of tests/kafka/daemon.sh, whose functions take the same slots):
#   pg_setup NAME [PARTS]  scratch dir $PG_WORK, topic $PG_TOPIC (created),
#                          database $PG_DB, config $PG_CONF
#   pg_start SLOT          start ksink (daemon_start); its log is
#                          $PG_WORK/ksink-SLOT.log, its pid $PG_PID_SLOT
#   pg_kill SLOT           daemon_kill: SIGKILL it (fails if it had exited
#                          on its own)
#   pg_alive SLOT          daemon_alive: fail when it exited on its own
#   pg_stop SLOT           daemon_stop: SIGTERM once it blocks SIGTERM; it
#                          must exit 0
#   pg_wait_progress SECS  wait until the database has more records than
#                          when the last ksink was started
#   pg_keepalive SLOT      wait until ksink SLOT holds a TCP connection to
#                          the server whose keepalive timer is under a
#                          minute (ss -o; the system's default is 2 h)
#   pg_finish              oracle, catch up, SIGTERM every ksink once it
#                          blocks SIGTERM (each must exit 0), compare
# PG_PLUGIN (default postgres) is the connector's type; PG_LEDGER (default
# postgres; postgres-batch) the ledger's options (tests/kafka/ledger.sh);
# PG_EXTRA is added
# to the connector's section; PG_CONNECT_PORT replaces the server's port in
# the conninfo (a proxy's); PG_WRAP_SLOT is a command line that runs
# ksink (slot SLOT), such as ip netns exec NS, and PG_CONF_SLOT its own
# configuration file.

. "$top_srcdir/tests/kafka/daemon.sh"
. "$top_srcdir/tests/kafka/ledger.sh"

CHECK_PG=$top_srcdir/tests/postgres/check_pg.py

[ -x "$KSINK" ] || hard_error "ksink not built: $KSINK"
[ -f "$KSINK_PLUGIN_DIR/postgres.so" ] ||
	hard_error "postgres connector not built: $KSINK_PLUGIN_DIR/postgres.so"

pg_setup()
{
	PG_WORK=$(scratch_dir "$top_builddir/tests/postgres/$1.dir") || exit 99
	PG_TOPIC=$(unique_topic "$1")
	PG_DB=$(pg_createdb "$1")
	PG_CONF=$PG_WORK/ksink.ini
	PG_SLOTS=
	PG_STARTED_AT=0
	"$TXPRODUCER" -b "$BOOTSTRAP" -t "$PG_TOPIC" -p "${2:-3}" -n 0 \
	    2>>"$PG_WORK/producer.log" ||
		hard_error "cannot create topic $PG_TOPIC (see $PG_WORK/producer.log)"
	cat >"$PG_CONF" <<INI
[worker]
plugin.dir = $KSINK_PLUGIN_DIR
log.level = info

[kafka]
bootstrap.servers = $BOOTSTRAP

[connector ledger]
type = ${PG_PLUGIN:-postgres}
topics = $PG_TOPIC
kafka.group.id = ksink-$PG_TOPIC
kafka.session.timeout.ms = 2000
kafka.heartbeat.interval.ms = 300
kafka.max.poll.interval.ms = 20000
$(ledger_options "${PG_LEDGER:-postgres}" "$(pg_conninfo "$PG_DB" | sed "s/port=$PG_PORT/port=${PG_CONNECT_PORT:-$PG_PORT}/")")
${PG_EXTRA:-}
INI
	# postgres.conninfo is a secret: the file must not be world-readable.
	chmod 600 "$PG_CONF"
	"$KSINK" -t -c "$PG_CONF" >"$PG_WORK/check-config.log" 2>&1 ||
		fail "ksink -t refuses the test configuration: $(cat "$PG_WORK/check-config.log")"
}

pg_count()
{
	"$PYTHON3" "$CHECK_PG" --count "$PG_DB"
}

pg_start()
{
	# PG_WRAP_SLOT runs this slot's ksink as DAEMON_WRAP would.
	_pg_wrap=${DAEMON_WRAP:-}
	eval "DAEMON_WRAP=\${PG_WRAP_$1:-\$_pg_wrap}"
	eval "_pg_conf=\${PG_CONF_$1:-\$PG_CONF}"
	daemon_start "$1" "$_pg_conf" "$PG_WORK/ksink-$1.log"
	DAEMON_WRAP=$_pg_wrap
	eval "PG_PID_$1=$(daemon_pid "$1")"
	case " $PG_SLOTS " in
	*" $1 "*) ;;
	*) PG_SLOTS="$PG_SLOTS $1" ;;
	esac
	PG_STARTED_AT=$(pg_count)
}

pg_alive()
{
	daemon_alive "$1"
}

pg_kill()
{
	daemon_kill "$1"
}

pg_stop()
{
	daemon_stop "$1"
}

_pg_progressed()
{
	[ "$(pg_count)" -gt "$PG_STARTED_AT" ]
}

pg_wait_progress()
{
	wait_for "$1" _pg_progressed
}

_pg_keepalive_seen()
{
	ss -tnopH state established "( dport = :$PG_PORT )" 2>/dev/null |
	    grep "pid=$_pg_ka_pid," | grep -Eq 'timer:\(keepalive,[0-9.]+(ms|s|sec),'
}

pg_keepalive()
{
	eval "_pg_ka_pid=\$PG_PID_$1"
	if wait_for 20 _pg_keepalive_seen; then
		echo "ksink $1 (pid $_pg_ka_pid): its connection to PostgreSQL has a keepalive timer under a minute"
	else
		fail "ksink $1 (pid $_pg_ka_pid) holds no connection to port $PG_PORT with a keepalive timer under a minute: $(ss -tnopH state established "( dport = :$PG_PORT )" 2>&1)"
	fi
}

_pg_caught_up()
{
	[ "$(pg_count)" -ge "$PG_EXPECTED" ]
}

pg_finish()
{
	"$ORACLE" -b "$BOOTSTRAP" -t "$PG_TOPIC" >"$PG_WORK/oracle.tsv" \
	    2>>"$PG_WORK/oracle.log" ||
		hard_error "oracle failed: $(cat "$PG_WORK/oracle.log")"
	PG_EXPECTED=$(wc -l <"$PG_WORK/oracle.tsv")
	[ "$PG_EXPECTED" -gt 0 ] || hard_error "the oracle read no record"
	echo "oracle: $PG_EXPECTED committed records in $PG_TOPIC"
	if ! wait_for "${PG_CATCHUP:-120}" _pg_caught_up; then
		echo "the database has $(pg_count) of $PG_EXPECTED records after ${PG_CATCHUP:-120} s" >&2
	fi
	sleep 2
	echo "database: $(pg_count) records"
	# Every ksink is sent SIGTERM before any is waited for.
	for _pg_s in $PG_SLOTS; do
		daemon_send "$_pg_s" TERM
	done
	for _pg_s in $PG_SLOTS; do
		daemon_reap "$_pg_s" 60
		case $DAEMON_RC in
		0) ;;
		-1) fail "ksink ($_pg_s) still ran 60 s after SIGTERM (killed)" ;;
		*)
			tail -n 30 "$PG_WORK/ksink-$_pg_s.log" >&2
			fail "ksink ($_pg_s) exited with status $DAEMON_RC after SIGTERM, expected 0"
			;;
		esac
	done
	if ! PG_SUMMARY=$("$PYTHON3" "$CHECK_PG" --topic "$PG_TOPIC" "$PG_WORK/oracle.tsv" "$PG_DB"); then
		echo "$PG_SUMMARY"
		fail "the database differs from the committed records of $PG_TOPIC"
	fi
	echo "$PG_SUMMARY"
}
