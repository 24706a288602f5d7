# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/sqlite-common.sh - shared by the SQLite crash tests
# (sqlite-kill.test, sqlite-two-workers.test).  Source it after
# tests/kafka/lib.sh and kafka_require.
#
# The tests write the ledger of tests/kafka/ledger.sh with the sqlite
# connector: a record applied twice, an aborted record applied, a record
# lost or a partition applied out of order all show.
# tests/e2e/check_sqlite.py compares the database with the oracle, a
# read_committed reading of the topic.
#
# Functions (slot names a ksink process: a, b, ...):
#   sq_setup NAME          scratch dir $SQ_WORK, topic $SQ_TOPIC (created,
#                          3 partitions), config $SQ_CONF, database $SQ_DB
#   sq_start SLOT          start ksink (daemon_start, tests/kafka/daemon.sh);
#                          its log is $SQ_WORK/ksink-SLOT.log
#   sq_alive SLOT          daemon_alive: fail if it exited by itself
#   sq_kill SLOT           daemon_kill: SIGKILL it (fails the test if it
#                          had already exited on its own)
#   sq_wait_progress SECS  wait until the database has more records than
#                          when the last ksink was started
#   sq_finish              after the producer: compute the oracle, wait
#                          until the database has caught up, stop every
#                          ksink with SIGTERM (each must exit 0) and compare

. "$top_srcdir/tests/kafka/daemon.sh"
. "$top_srcdir/tests/kafka/ledger.sh"

sq_check()
{
	"$PYTHON3" "$CHECK_SQLITE" "$@"
}

[ -x "$KSINK" ] || hard_error "ksink not built: $KSINK"
[ -f "$KSINK_PLUGIN_DIR/sqlite.so" ] ||
	hard_error "sqlite connector not built: $KSINK_PLUGIN_DIR/sqlite.so"

sq_setup()
{
	SQ_WORK=$(scratch_dir "$top_builddir/tests/e2e/$1.dir") || exit 99
	SQ_TOPIC=$(unique_topic "$1")
	SQ_CONF=$SQ_WORK/ksink.ini
	SQ_DB=$SQ_WORK/ledger.db
	SQ_STARTED_AT=0
	# Create the topic before ksink subscribes to it.
	"$TXPRODUCER" -b "$BOOTSTRAP" -t "$SQ_TOPIC" -p 3 -n 0 \
	    2>>"$SQ_WORK/producer.log" ||
		hard_error "cannot create topic $SQ_TOPIC (see $SQ_WORK/producer.log)"
	# A short session timeout (the harness broker accepts 1000 ms and
	# more) so that the group notices a killed member within seconds.
	cat >"$SQ_CONF" <<EOF
[worker]
plugin.dir = $KSINK_PLUGIN_DIR
log.level = info

[kafka]
bootstrap.servers = $BOOTSTRAP

[connector ledger]
type = sqlite
topics = $SQ_TOPIC
kafka.group.id = ksink-$SQ_TOPIC
kafka.session.timeout.ms = 2000
kafka.heartbeat.interval.ms = 300
kafka.max.poll.interval.ms = 20000
$(ledger_options sqlite "$SQ_DB")
EOF
	"$KSINK" -t -c "$SQ_CONF" >"$SQ_WORK/check-config.log" 2>&1 ||
		fail "ksink -t refuses the test configuration: $(cat "$SQ_WORK/check-config.log")"
}

sq_count()
{
	sq_check --count "$SQ_DB"
}

sq_start()
{
	daemon_start "$1" "$SQ_CONF" "$SQ_WORK/ksink-$1.log"
	SQ_STARTED_AT=$(sq_count)
}

sq_alive()
{
	daemon_alive "$1"
}

sq_kill()
{
	daemon_kill "$1"
}

_sq_progressed()
{
	[ "$(sq_count)" -gt "$SQ_STARTED_AT" ]
}

sq_wait_progress()
{
	wait_for "$1" _sq_progressed
}

_sq_caught_up()
{
	_sq_n=$(sq_count)
	[ "$_sq_n" -ge "$SQ_EXPECTED" ]
}

sq_finish()
{
	"$ORACLE" -b "$BOOTSTRAP" -t "$SQ_TOPIC" >"$SQ_WORK/oracle.tsv" \
	    2>>"$SQ_WORK/oracle.log" ||
		hard_error "oracle failed: $(cat "$SQ_WORK/oracle.log")"
	SQ_EXPECTED=$(wc -l <"$SQ_WORK/oracle.tsv")
	[ "$SQ_EXPECTED" -gt 0 ] || hard_error "the oracle read no record"
	echo "oracle: $SQ_EXPECTED committed records in $SQ_TOPIC"

	if ! wait_for 120 _sq_caught_up; then
		echo "the database has $(sq_count) of $SQ_EXPECTED records after 120 s" >&2
	fi
	# Stable: nothing more arrives (a duplicate would).
	sleep 2
	echo "database: $(sq_count) records"

	daemon_stop_all

	if ! SQ_SUMMARY=$(sq_check --topic "$SQ_TOPIC" "$SQ_WORK/oracle.tsv" "$SQ_DB"); then
		echo "$SQ_SUMMARY"
		fail "the database differs from the committed records of $SQ_TOPIC"
	fi
	echo "$SQ_SUMMARY"
}
