# SPDX-License-Identifier: BSD-2-Clause
# tests/postgres/pg-common.sh - shared by the postgres sink's ledger tests.
# Source it after tests/kafka/lib.sh, kafka_require, tests/postgres/lib.sh
# and pg_require.
#
# As in tests/e2e/sqlite-common.sh, every record adds its amount to its
# user's balance (an upsert) and appends a row (topic, part, off, id) to a
# table without uniqueness, so that a record applied twice, an aborted one
# applied, one lost or a partition out of order all show;
# tests/postgres/check_pg.py compares the database with the oracle.
#
# Functions (slot names a ksink process: a, b, ...):
#   pg_setup NAME [PARTS]  scratch dir $PG_WORK, topic $PG_TOPIC (created),
#                          database $PG_DB, config $PG_CONF
#   pg_start SLOT          start ksink; its log is $PG_WORK/ksink-SLOT.log
#   pg_kill SLOT           SIGKILL it (fails if it had exited on its own)
#   pg_alive SLOT          fail when it exited on its own
#   pg_wait_progress SECS  wait until the database has more records than
#                          when the last ksink was started
#   pg_finish              oracle, catch up, SIGTERM every ksink (each must
#                          exit 0), compare
# PG_PLUGIN (default postgres) is the connector's type; PG_EXTRA is added
# to the connector's section; PG_CONNECT_PORT replaces the server's port in
# the conninfo (a proxy's); PG_WRAP_SLOT is a command line that runs
# ksink (slot SLOT), such as ip netns exec NS, and PG_CONF_SLOT its own
# configuration file.

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
postgres.conninfo = $(pg_conninfo "$PG_DB" | sed "s/port=$PG_PORT/port=${PG_CONNECT_PORT:-$PG_PORT}/")
postgres.password.file = $PG_PASSWORD_FILE
postgres.init = CREATE TABLE IF NOT EXISTS balances("user" text PRIMARY KEY, amount bigint NOT NULL);
    CREATE TABLE IF NOT EXISTS records(seq bigserial PRIMARY KEY, topic text, part integer, off bigint, id text)
postgres.statement = INSERT INTO balances("user", amount) VALUES (:value::jsonb->>'user', (:value::jsonb->>'amount')::bigint)
    ON CONFLICT ("user") DO UPDATE SET amount = balances.amount + excluded.amount;
    INSERT INTO records(topic, part, off, id) VALUES (:topic, :partition, :offset, :value::jsonb->>'id')
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
	echo "=== $(date '+%H:%M:%S') start" >>"$PG_WORK/ksink-$1.log"
	eval "_pg_wrap=\${PG_WRAP_$1:-}"
	# shellcheck disable=SC2086 # the wrapper is words
	eval "_pg_conf=\${PG_CONF_$1:-\$PG_CONF}"
	$_pg_wrap "$KSINK" -c "$_pg_conf" >>"$PG_WORK/ksink-$1.log" 2>&1 &
	eval "PG_PID_$1=\$!"
	track_pid $!
	case " $PG_SLOTS " in
	*" $1 "*) ;;
	*) PG_SLOTS="$PG_SLOTS $1" ;;
	esac
	PG_STARTED_AT=$(pg_count)
}

pg_alive()
{
	eval "_pg_pid=\$PG_PID_$1"
	kill -0 "$_pg_pid" 2>/dev/null && return 0
	wait "$_pg_pid"
	_pg_rc=$?
	untrack_pid "$_pg_pid"
	tail -n 30 "$PG_WORK/ksink-$1.log" >&2
	fail "ksink ($1) exited by itself with status $_pg_rc (log: $PG_WORK/ksink-$1.log)"
}

pg_kill()
{
	pg_alive "$1"
	eval "_pg_pid=\$PG_PID_$1"
	kill -KILL "$_pg_pid"
	wait "$_pg_pid" 2>/dev/null
	untrack_pid "$_pg_pid"
	echo "=== $(date '+%H:%M:%S') SIGKILL" >>"$PG_WORK/ksink-$1.log"
}

_pg_progressed()
{
	[ "$(pg_count)" -gt "$PG_STARTED_AT" ]
}

pg_wait_progress()
{
	wait_for "$1" _pg_progressed
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
	for _pg_s in $PG_SLOTS; do
		eval "_pg_pid=\$PG_PID_$_pg_s"
		kill -0 "$_pg_pid" 2>/dev/null || continue
		kill -TERM "$_pg_pid"
	done
	for _pg_s in $PG_SLOTS; do
		eval "_pg_pid=\$PG_PID_$_pg_s"
		_pg_gone() { ! kill -0 "$_pg_pid" 2>/dev/null; }
		wait_for 60 _pg_gone ||
			fail "ksink ($_pg_s) still runs 60 s after SIGTERM"
		wait "$_pg_pid"
		_pg_rc=$?
		untrack_pid "$_pg_pid"
		if [ "$_pg_rc" -ne 0 ]; then
			tail -n 30 "$PG_WORK/ksink-$_pg_s.log" >&2
			fail "ksink ($_pg_s) exited with status $_pg_rc after SIGTERM, expected 0"
		fi
	done
	if ! PG_SUMMARY=$("$PYTHON3" "$CHECK_PG" --topic "$PG_TOPIC" "$PG_WORK/oracle.tsv" "$PG_DB"); then
		echo "$PG_SUMMARY"
		fail "the database differs from the committed records of $PG_TOPIC"
	fi
	echo "$PG_SUMMARY"
}
