# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/http-lib.sh - shared by the HTTP sink's end-to-end tests
# (http-idempotent.test, http-offsets.test, http-ignore-key.test).  Source
# it after tests/kafka/lib.sh and kafka_require.
#
# A transactional producer writes records to a new topic of 3 partitions,
# aborting about a third of its transactions, while ksink sends them with
# the http connector to the reference receiver (tests/http/receiver.py),
# which injects faults: 500s, 429 with Retry-After, answers slower than
# the client's timeout (after applying), and connections closed after
# applying but before answering.  ksink is SIGKILLed at random moments
# while it sends, and restarted.  Then tests/http/check.py compares what
# the receiver applied with the oracle, a read_committed reading of the
# topic, and prints the counts.
#
# Functions:
#   ht_run NAME MODE RECORDS RATE KILLS MIN_RECORDS DUPLICATES
#       the whole test.  MODE is the receiver's (idempotent, offsets or
#       ignore-key); offsets makes the connector use http.offsets.url, the
#       others the ledger.  RECORDS records (committed and aborted) are
#       produced at RATE records/s; ksink is killed KILLS times at least;
#       the topic must end with MIN_RECORDS committed records at least.
#       DUPLICATES is forbid, or expect for a receiver that ignores the key.

HT_FAULTS=500=0.02,429=0.02,slow=0.02,close=0.03
HT_FAULT_KINDS=500,429,slow,close
HT_CHECK=$top_srcdir/tests/http/check.py

[ -x "$KSINK" ] || hard_error "ksink not built: $KSINK"
[ -f "$KSINK_PLUGIN_DIR/http.so" ] ||
	hard_error "http connector not built: $KSINK_PLUGIN_DIR/http.so"

ht_count()
{
	"$PYTHON3" "$HT_CHECK" --progress --db "$HT_WORK/receiver.db" \
	    --topic "$HT_TOPIC"
}

ht_setup()
{
	HT_WORK=$(scratch_dir "$top_builddir/tests/e2e/$1.dir") || exit 99
	HT_TOPIC=$(unique_topic "$1")
	HT_CONF=$HT_WORK/ksink.ini
	HT_LOG=$HT_WORK/ksink.log
	"$TXPRODUCER" -b "$BOOTSTRAP" -t "$HT_TOPIC" -p 3 -n 0 \
	    2>>"$HT_WORK/producer.log" ||
		hard_error "cannot create topic $HT_TOPIC (see $HT_WORK/producer.log)"

	"$PYTHON3" "$top_srcdir/tests/http/receiver.py" --port 0 \
	    --db "$HT_WORK/receiver.db" --mode "$2" --fault "$HT_FAULTS" \
	    --fault-after 3 --slow-ms 1000 --retry-after 1 \
	    --seed "$(random_int 1 1000000)" --log "$HT_WORK/receiver.log" \
	    >"$HT_WORK/port" 2>"$HT_WORK/receiver.err" &
	HT_RECEIVER=$!
	track_pid $HT_RECEIVER
	wait_for 10 test -s "$HT_WORK/port" ||
		hard_error "the receiver did not start: $(cat "$HT_WORK/receiver.err")"
	HT_PORT=$(cat "$HT_WORK/port")

	# A short session timeout (the harness broker accepts 1000 ms and
	# more), and a static member id so that a restarted ksink takes its
	# partitions back at once.  http.timeout.ms is below the receiver's
	# slow answers.
	cat >"$HT_CONF" <<EOF
[worker]
plugin.dir = $KSINK_PLUGIN_DIR
log.level = info

[kafka]
bootstrap.servers = $BOOTSTRAP

[connector $1]
type = http
topics = $HT_TOPIC
batch.max.records = 2000
batch.max.ms = 50
errors.retry.timeout.ms = 120000
kafka.group.id = ksink-$HT_TOPIC
kafka.group.instance.id = ksink-$HT_TOPIC
kafka.session.timeout.ms = 2000
kafka.heartbeat.interval.ms = 300
kafka.auto.offset.reset = earliest
http.url = http://127.0.0.1:$HT_PORT/records
http.timeout.ms = 700
http.batch.max.records = 250
EOF
	if [ "$2" = offsets ]; then
		echo "http.offsets.url = http://127.0.0.1:$HT_PORT/offsets" \
		    >>"$HT_CONF"
	else
		echo "http.state.path = $HT_WORK/ledger.db" >>"$HT_CONF"
	fi
	"$KSINK" -t -c "$HT_CONF" >"$HT_WORK/check-config.log" 2>&1 ||
		fail "ksink -t refuses the test configuration: $(cat "$HT_WORK/check-config.log")"
}

ht_start()
{
	echo "=== $(date '+%H:%M:%S') start" >>"$HT_LOG"
	"$KSINK" -c "$HT_CONF" >>"$HT_LOG" 2>&1 &
	HT_PID=$!
	track_pid $HT_PID
	HT_STARTED_AT=$(ht_count)
}

# Fails with the end of the log when ksink exited by itself.
ht_alive()
{
	kill -0 "$HT_PID" 2>/dev/null && return 0
	wait "$HT_PID"
	_ht_rc=$?
	untrack_pid "$HT_PID"
	tail -n 30 "$HT_LOG" >&2
	fail "ksink exited by itself with status $_ht_rc (log: $HT_LOG)"
}

ht_kill()
{
	ht_alive
	kill -KILL "$HT_PID"
	wait "$HT_PID" 2>/dev/null
	untrack_pid "$HT_PID"
	echo "=== $(date '+%H:%M:%S') SIGKILL" >>"$HT_LOG"
}

_ht_progressed()
{
	[ "$(ht_count)" -gt "$HT_STARTED_AT" ]
}

_ht_caught_up()
{
	[ "$(ht_count)" -ge "$HT_EXPECTED" ]
}

ht_run()
{
	_ht_name=$1 _ht_mode=$2 _ht_records=$3 _ht_rate=$4 _ht_kills=$5
	_ht_min=$6 _ht_dup=$7
	ht_setup "$_ht_name" "$_ht_mode"
	echo "topic $HT_TOPIC, receiver in $_ht_mode mode on port $HT_PORT, faults $HT_FAULTS, work dir $HT_WORK"

	"$TXPRODUCER" -b "$BOOTSTRAP" -t "$HT_TOPIC" -p 3 -n "$_ht_records" \
	    -a 33 -m 200 -r "$_ht_rate" -u 50 -k 2>>"$HT_WORK/producer.log" &
	_ht_producer=$!
	track_pid $_ht_producer

	ht_start
	_ht_killed=0
	_ht_busy=0
	while kill -0 $_ht_producer 2>/dev/null ||
	    [ $_ht_killed -lt "$_ht_kills" ]; do
		# Kill while it sends: wait until the receiver got something
		# since the start, then a random moment later.  Once the
		# producer is done there may be nothing left: kill anyway.
		if kill -0 $_ht_producer 2>/dev/null && wait_for 8 _ht_progressed
		then
			_ht_busy=$((_ht_busy + 1))
		fi
		sleep_ms "$(random_int 100 1500)"
		ht_kill
		_ht_killed=$((_ht_killed + 1))
		ht_start
	done
	wait $_ht_producer
	_ht_rc=$?
	untrack_pid $_ht_producer
	[ $_ht_rc -eq 0 ] ||
		hard_error "txproducer failed with status $_ht_rc: $(tail -n 5 "$HT_WORK/producer.log")"
	tail -n 1 "$HT_WORK/producer.log"
	echo "ksink killed $_ht_killed times, $_ht_busy of them while sending records"

	"$ORACLE" -b "$BOOTSTRAP" -t "$HT_TOPIC" >"$HT_WORK/oracle.tsv" \
	    2>>"$HT_WORK/oracle.log" ||
		hard_error "oracle failed: $(cat "$HT_WORK/oracle.log")"
	HT_EXPECTED=$(wc -l <"$HT_WORK/oracle.tsv")
	[ "$HT_EXPECTED" -gt 0 ] || hard_error "the oracle read no record"
	echo "oracle: $HT_EXPECTED committed records in $HT_TOPIC"
	if ! wait_for 150 _ht_caught_up; then
		echo "the receiver has $(ht_count) of $HT_EXPECTED records after 150 s" >&2
	fi
	# Stable: nothing more arrives (a duplicate would).
	sleep 2
	ht_alive
	kill -TERM "$HT_PID"
	_ht_gone() { ! kill -0 "$HT_PID" 2>/dev/null; }
	wait_for 60 _ht_gone || fail "ksink still runs 60 s after SIGTERM"
	wait "$HT_PID"
	_ht_rc=$?
	untrack_pid "$HT_PID"
	if [ $_ht_rc -ne 0 ]; then
		tail -n 30 "$HT_LOG" >&2
		fail "ksink exited with status $_ht_rc after SIGTERM, expected 0"
	fi
	kill -TERM $HT_RECEIVER
	wait $HT_RECEIVER
	untrack_pid $HT_RECEIVER
	echo "ksink: $(grep -c 're-sending the in-doubt' "$HT_LOG") in-doubt requests re-sent, $(grep -c 'failed transiently' "$HT_LOG") transient failures reported"

	# Every kind of fault must have happened, except in the small run
	# against a receiver that ignores the key, which only shows
	# duplicates.
	_ht_req=--require-faults
	[ "$_ht_dup" = forbid ] || _ht_req=
	if ! "$PYTHON3" "$HT_CHECK" --db "$HT_WORK/receiver.db" \
	    --topic "$HT_TOPIC" --oracle "$HT_WORK/oracle.tsv" \
	    --duplicates "$_ht_dup" --faults "$HT_FAULT_KINDS" $_ht_req \
	    --min-records "$_ht_min" --kills "$_ht_killed" \
	    --min-kills "$_ht_kills"; then
		fail "what the receiver applied differs from the committed records of $HT_TOPIC"
	fi
}
