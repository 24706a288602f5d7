# SPDX-License-Identifier: BSD-2-Clause
# tests/chaos/lib.sh - shell functions of the fault matrix's cells
# (tests/chaos/cell.sh).  Source it after tests/kafka/lib.sh and
# kafka_require, in bash.
#
# A cell runs ksink on one sink through one fault and writes one row of
# the matrix.  The functions here know the sinks and the workers; cell.sh
# knows the faults.
#
# Sinks (CH_SINK): sqlite, file, http (the reference receiver honouring
# Idempotency-Key, the connector's ledger), http/offsets (the receiver
# keeps the offsets), null.
#
#   ch_setup FAULT SINK      work dir $CH_WORK, topic $CH_TOPIC (created, 3
#                            partitions), receiver for http; the
#                            configuration is written by ch_config
#   ch_config [LINE...]      write $CH_CONF: the sink's connector with
#                            short group timeouts, plus LINEs
#   ch_shared                succeed when several workers may share the
#                            sink's state (sqlite, http/offsets)
#   ch_count                 records the sink holds now
#   ch_maxoff                "PARTITION MAX_OFFSET" lines
#   ch_start SLOT [VAR=VALUE...]
#                            start ksink as worker SLOT (a, b, c) with
#                            those environment variables (daemon_start of
#                            tests/kafka/daemon.sh; the other worker
#                            functions wrap its functions too)
#   ch_running SLOT          succeed when the worker runs
#   ch_alive SLOT            like ch_running; a worker that exited by
#                            itself is reaped, reported as a problem and
#                            started again (3 times at most)
#   ch_kill SLOT             SIGKILL it
#   ch_term SLOT             SIGTERM it once it blocks SIGTERM; it must
#                            exit 0 within 60 s
#   ch_reap SLOT SECS        wait up to SECS for it to exit; $CH_RC gets
#                            its status (-1 when it still ran: killed)
#   ch_progress SECS         wait until the sink holds more records than
#                            at the last ch_mark
#   ch_mark                  remember the sink's count for ch_progress
#   ch_oracle, ch_txproducer tests/kafka/oracle and txproducer
#   ch_produce N RATE [ARGS] start the transactional producer in the
#                            background ($CH_PRODUCER)
#   ch_producer_running      succeed while it runs
#   ch_producer_revive       start another producer when it gave up
#   ch_producer_wait         wait for it; a failure is a note
#   ch_problem MSG           the cell is not clean because of MSG
#   ch_note MSG              add MSG to the row without failing it
#   ch_injected TEXT         what the cell did, for the row
#   ch_before_row            a hook ch_finish calls before the row
#   ch_finish                the oracle, wait until the sink caught up,
#                            stop every worker (exit 0 each), check, and
#                            write the row to $CHAOS_ROWS

. "$top_srcdir/tests/kafka/daemon.sh"
. "$top_srcdir/tests/kafka/ledger.sh"

CH_CHECK=$top_srcdir/tests/chaos/check.py

# The oracle and the producer are built with the sanitizers when ksink is:
# their leaks at exit are not ksink's and must not fail them.
# (Started in the background as `env "$CH_TOOL_ENV" PROGRAM ... &`, so
# that $! is the program's own pid.)
CH_TOOL_ENV=ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

ch_oracle()
{
	env "$CH_TOOL_ENV" "$ORACLE" "$@"
}

ch_txproducer()
{
	env "$CH_TOOL_ENV" "$TXPRODUCER" "$@"
}
[ -x "$KSINK" ] || hard_error "ksink not built: $KSINK"

CH_PROBLEMS=
CH_NOTES=
CH_INJECTED=
CH_MARK=0
CH_SHORT=${CHAOS_SHORT:-0}

# The row keeps the first 3 problems; the log has them all.
ch_problem()
{
	echo "PROBLEM: $*" >&2
	CH_NPROBLEMS=$((${CH_NPROBLEMS:-0} + 1))
	[ $CH_NPROBLEMS -le 3 ] || return 0
	CH_PROBLEMS="${CH_PROBLEMS:+$CH_PROBLEMS; }$*"
}

ch_note()
{
	echo "note: $*"
	CH_NOTES="${CH_NOTES:+$CH_NOTES; }$*"
}

ch_injected()
{
	CH_INJECTED=$*
}

ch_now_ms()
{
	date +%s%3N
}

ch_setup()
{
	CH_FAULT=$1
	CH_SINK=$2
	_ch_name=$1-$(echo "$2" | tr / -)
	CH_WORK=$(scratch_dir "$top_builddir/tests/chaos/work/$_ch_name") ||
		exit 99
	CH_TOPIC=$(unique_topic "chaos-$_ch_name")
	CH_CONF=$CH_WORK/ksink.ini
	CH_PLUGIN=${CH_SINK%%/*}
	# The file sink's crash hook (KSINK_FILE_CRASH_AT) is in its test
	# build alone.
	CH_PLUGIN_DIR=$KSINK_PLUGIN_DIR
	if [ "$CH_PLUGIN" = file ]; then
		CH_PLUGIN_DIR=${KSINK_FILE_HOOKS_DIR:?}
	fi
	[ -f "$CH_PLUGIN_DIR/$CH_PLUGIN.so" ] ||
		hard_error "$CH_PLUGIN connector not built: $CH_PLUGIN_DIR/$CH_PLUGIN.so"
	ch_txproducer -b "$BOOTSTRAP" -t "$CH_TOPIC" -p 3 -n 0 \
	    2>>"$CH_WORK/producer.log" ||
		hard_error "cannot create topic $CH_TOPIC (see $CH_WORK/producer.log)"
	case $CH_SINK in
	sqlite)
		CH_WHERE="--db $CH_WORK/ledger.db"
		;;
	postgres)
		. "$top_srcdir/tests/postgres/lib.sh"
		pg_require >/dev/null
		CH_PGDB=$(pg_createdb "chaos_$(echo "$_ch_name" | tr -c 'a-z0-9\n' _)")
		CH_WHERE="--pgdb $CH_PGDB"
		;;
	file)
		mkdir -p "$CH_WORK/out"
		CH_WHERE="--dir $CH_WORK/out"
		;;
	null)
		CH_WHERE="--state $CH_WORK/counts.state"
		;;
	http|http/offsets)
		CH_WHERE="--db $CH_WORK/receiver.db"
		ch_receiver "${CH_HTTP_FAULTS:-}"
		;;
	*)
		hard_error "unknown sink $CH_SINK"
		;;
	esac
	echo "cell $CH_FAULT x $CH_SINK: topic $CH_TOPIC, work dir $CH_WORK"
}

# The reference receiver, in idempotent or offsets mode, with FAULTS;
# CH_HTTP_DELAY_MS makes it wait before it handles each request.
ch_receiver()
{
	_ch_mode=idempotent
	[ "$CH_SINK" = http/offsets ] && _ch_mode=offsets
	"$PYTHON3" "$top_srcdir/tests/http/receiver.py" --port 0 \
	    --db "$CH_WORK/receiver.db" --mode "$_ch_mode" \
	    ${1:+--fault "$1"} --fault-after 3 --slow-ms 1000 \
	    --delay-ms "${CH_HTTP_DELAY_MS:-0}" \
	    --retry-after 1 --seed "$(random_int 1 1000000)" \
	    --log "$CH_WORK/receiver.log" \
	    >"$CH_WORK/port" 2>"$CH_WORK/receiver.err" &
	CH_RECEIVER=$!
	track_pid $CH_RECEIVER
	wait_for 10 test -s "$CH_WORK/port" ||
		hard_error "the receiver did not start: $(cat "$CH_WORK/receiver.err")"
	CH_HTTP_PORT=$(cat "$CH_WORK/port")
}

ch_shared()
{
	[ "$CH_SINK" = sqlite ] || [ "$CH_SINK" = postgres ] ||
	    [ "$CH_SINK" = http/offsets ]
}

ch_config()
{
	cat >"$CH_CONF" <<EOF
[worker]
plugin.dir = $CH_PLUGIN_DIR
log.level = info

[kafka]
bootstrap.servers = $BOOTSTRAP

[connector chaos]
type = $CH_PLUGIN
topics = $CH_TOPIC
batch.max.records = 500
batch.max.ms = 50
errors.retry.timeout.ms = 120000
kafka.group.id = ksink-$CH_TOPIC
kafka.session.timeout.ms = 2000
kafka.heartbeat.interval.ms = 300
kafka.max.poll.interval.ms = 20000
kafka.auto.offset.reset = earliest
EOF
	case $CH_SINK in
	sqlite)
		ledger_options sqlite "$CH_WORK/ledger.db" >>"$CH_CONF"
		;;
	postgres)
		ledger_options postgres "$(pg_conninfo "$CH_PGDB")" >>"$CH_CONF"
		# postgres.conninfo is a secret option.
		chmod 600 "$CH_CONF"
		;;
	file)
		cat >>"$CH_CONF" <<EOF
file.path = $CH_WORK/out/{partition}.log
file.format = json
file.rotate.bytes = 200000
EOF
		;;
	null)
		echo "null.state = $CH_WORK/counts.state" >>"$CH_CONF"
		;;
	http|http/offsets)
		cat >>"$CH_CONF" <<EOF
http.url = http://127.0.0.1:$CH_HTTP_PORT/records
http.timeout.ms = 700
http.batch.max.records = ${CH_HTTP_BATCH:-250}
EOF
		if [ "$CH_SINK" = http/offsets ]; then
			echo "http.offsets.url = http://127.0.0.1:$CH_HTTP_PORT/offsets" >>"$CH_CONF"
		else
			echo "http.state.path = $CH_WORK/http-ledger.db" >>"$CH_CONF"
		fi
		;;
	esac
	for _ch_l in "$@"; do
		echo "$_ch_l" >>"$CH_CONF"
	done
	"$KSINK" -t -c "$CH_CONF" >"$CH_WORK/check-config.log" 2>&1 ||
		hard_error "ksink -t refuses the cell's configuration: $(cat "$CH_WORK/check-config.log")"
}

# Whether the connector knows option $1.
ch_has_option()
{
	"$KSINK" --list-options 2>/dev/null | grep -q "^$1 "
}

ch_count()
{
	"$PYTHON3" "$CH_CHECK" count --sink "$CH_PLUGIN" --topic "$CH_TOPIC" \
	    $CH_WHERE
}

ch_maxoff()
{
	"$PYTHON3" "$CH_CHECK" maxoff --sink "$CH_PLUGIN" --topic "$CH_TOPIC" \
	    $CH_WHERE
}

ch_mark()
{
	CH_MARK=$(ch_count)
}

_ch_progressed()
{
	[ "$(ch_count)" -gt "$CH_MARK" ]
}

ch_progress()
{
	wait_for "$1" _ch_progressed
}

# --- workers ---------------------------------------------------------

# The workers are daemons of tests/kafka/daemon.sh: ch_* are its
# functions with the cell's log files, and problems instead of failures.
ch_start()
{
	_ch_slot=$1
	shift
	daemon_start "$_ch_slot" "$CH_CONF" "$CH_WORK/ksink-$_ch_slot.log" "$@"
}

ch_pid()
{
	daemon_pid "$1"
}

ch_running()
{
	daemon_running "$1"
}

ch_reap()
{
	daemon_reap "$1" "$2"
	CH_RC=$DAEMON_RC
}

# A worker that keeps exiting by itself is restarted 3 times, then left
# dead: the cell is not clean anyway.
ch_alive()
{
	ch_running "$1" && return 0
	[ -n "$(ch_pid "$1")" ] || return 1
	ch_reap "$1" 0
	CH_DEATHS=$((${CH_DEATHS:-0} + 1))
	ch_problem "ksink ($1) exited by itself with status $CH_RC at $(date '+%H:%M:%S'): $(grep -E 'error|fatal|FATAL' "$CH_WORK/ksink-$1.log" | tail -n 1)"
	tail -n 20 "$CH_WORK/ksink-$1.log" >&2
	[ $CH_DEATHS -gt 3 ] || ch_start "$1"
	return 1
}

ch_kill()
{
	ch_alive "$1"
	daemon_send "$1" KILL
	ch_reap "$1" 10
}

# daemon_term waits until the worker blocks SIGTERM before sending it.
ch_term()
{
	ch_alive "$1"
	daemon_term "$1" 60
	CH_RC=$DAEMON_RC
	case $CH_RC in
	0) ;;
	-1) ch_problem "ksink ($1) still ran 60 s after SIGTERM (killed)" ;;
	*) ch_problem "ksink ($1) exited with status $CH_RC after SIGTERM, not 0: $(grep -v '^=== ' "$CH_WORK/ksink-$1.log" | tail -n 1)" ;;
	esac
}

# --- the producer ----------------------------------------------------

ch_produce()
{
	_ch_n=$1 _ch_rate=$2
	shift 2
	CH_PRODUCE_RATE=$_ch_rate
	CH_PRODUCE_ARGS=$*
	[ "$_ch_rate" -eq 0 ] ||
		CH_PRODUCE_END=$(($(date +%s) + _ch_n / _ch_rate))
	env "$CH_TOOL_ENV" "$TXPRODUCER" -b "$BOOTSTRAP" -t "$CH_TOPIC" -p 3 \
	    -n "$_ch_n" -a 33 \
	    -m 200 -r "$_ch_rate" -u 50 -s "$(random_int 1 100000)" "$@" \
	    2>>"$CH_WORK/producer.log" &
	CH_PRODUCER=$!
	track_pid $CH_PRODUCER
}

# For cells that break the broker: when the producer gave up (a producer
# fenced by its own coordinator's recovery is fatal to it), start another
# one (another transactional.id) for the rest of the planned time.
ch_producer_revive()
{
	[ -n "$CH_PRODUCER" ] || return 0
	ch_producer_running && return 0
	wait "$CH_PRODUCER"
	_ch_rc=$?
	untrack_pid "$CH_PRODUCER"
	[ $_ch_rc -ne 0 ] || { CH_PRODUCER=; return 0; }
	CH_PRODUCER_RESTARTS=$((${CH_PRODUCER_RESTARTS:-0} + 1))
	echo "$(date '+%H:%M:%S') the producer exited with status $_ch_rc ($(grep -v '^%' "$CH_WORK/producer.log" | tail -n 1)); starting another"
	_ch_left=$((CH_PRODUCE_END - $(date +%s)))
	[ $_ch_left -gt 2 ] || _ch_left=2
	ch_produce $((CH_PRODUCE_RATE * _ch_left)) "$CH_PRODUCE_RATE" \
	    $CH_PRODUCE_ARGS
}

ch_producer_running()
{
	[ -n "$CH_PRODUCER" ] && kill -0 "$CH_PRODUCER" 2>/dev/null
}

ch_producer_wait()
{
	[ -n "$CH_PRODUCER" ] || return 0
	wait "$CH_PRODUCER"
	_ch_rc=$?
	untrack_pid "$CH_PRODUCER"
	if [ $_ch_rc -ne 0 ]; then
		ch_note "the producer exited with status $_ch_rc ($(grep -v '^%' "$CH_WORK/producer.log" | tail -n 1))"
	fi
	tail -n 1 "$CH_WORK/producer.log"
}

# --- the end of a cell -----------------------------------------------

_ch_caught_up()
{
	[ "$(ch_count)" -ge "$CH_EXPECTED" ]
}

# The row: FAULT SINK ORACLE APPLIED MISSING DUPLICATED ABORTED ORDER
# INJECTED RESULT, tab-separated.
ch_row()
{
	_ch_result=ok
	[ -z "$CH_PROBLEMS" ] || _ch_result="FAIL: $CH_PROBLEMS"
	[ "${CH_NPROBLEMS:-0}" -le 3 ] ||
		_ch_result="$_ch_result; $((CH_NPROBLEMS - 3)) more problems in the cell's log"
	[ -z "$CH_NOTES" ] || _ch_result="$_ch_result ($CH_NOTES)"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$CH_FAULT" \
	    "$CH_SINK" "$1" "$2" "$3" "$4" "$5" "$6" "${CH_INJECTED:--}" \
	    "$_ch_result" >>"${CHAOS_ROWS:-/dev/stdout}"
	echo "row: $CH_FAULT $CH_SINK oracle=$1 applied=$2 missing=$3 duplicated=$4 aborted_applied=$5 order_violations=$6 injected=${CH_INJECTED:--} result=$_ch_result"
}

# A cell may redefine it to add to the row once every worker stopped.
ch_before_row()
{
	:
}

ch_finish()
{
	if ! ch_oracle -b "$BOOTSTRAP" -t "$CH_TOPIC" >"$CH_WORK/oracle.tsv" \
	    2>>"$CH_WORK/oracle.log"; then
		ch_problem "the oracle could not read $CH_TOPIC: $(tail -n 1 "$CH_WORK/oracle.log")"
		ch_row - - - - - -
		exit 1
	fi
	CH_EXPECTED=$(wc -l <"$CH_WORK/oracle.tsv")
	echo "oracle: $CH_EXPECTED committed records in $CH_TOPIC"

	_ch_any=0
	for _ch_s in $(daemon_slots); do
		if [ -n "$(ch_pid "$_ch_s")" ]; then
			ch_alive "$_ch_s"
			_ch_any=1
		fi
	done
	[ $_ch_any -eq 1 ] || [ "${CH_DEATHS:-0}" -gt 3 ] || ch_start a
	if [ "${CH_DEATHS:-0}" -gt 3 ]; then
		echo "no catching up: ksink keeps exiting by itself"
	elif ! wait_for 150 _ch_caught_up; then
		ch_problem "the sink holds $(ch_count) of $CH_EXPECTED records 150 s after the producer ended"
	fi
	# Stable: nothing more arrives (a duplicate would).
	sleep 2
	for _ch_s in $(daemon_slots); do
		[ -n "$(ch_pid "$_ch_s")" ] && ch_term "$_ch_s"
	done
	if [ -n "${CH_RECEIVER:-}" ]; then
		kill -TERM "$CH_RECEIVER"
		wait "$CH_RECEIVER"
		untrack_pid "$CH_RECEIVER"
		CH_RECEIVER=
	fi

	_ch_line=$("$PYTHON3" "$CH_CHECK" row --sink "$CH_PLUGIN" \
	    --topic "$CH_TOPIC" --oracle "$CH_WORK/oracle.tsv" $CH_WHERE \
	    2>"$CH_WORK/check.err")
	_ch_rc=$?
	cat "$CH_WORK/check.err" >&2
	echo "check: $_ch_line"
	case $_ch_line in
	oracle=*) ;;
	*)
		ch_problem "check.py failed: $(tail -n 1 "$CH_WORK/check.err")"
		ch_row - - - - - -
		exit 1
		;;
	esac
	[ "$CH_EXPECTED" -gt 0 ] || ch_problem "the oracle read no record"
	_ch_second_opinion $_ch_rc
	eval "$(echo "$_ch_line" | tr ' ' '\n' | grep '=' |
	    sed 's/^\([a-z_]*\)=\(.*\)$/_ch_v_\1='\''\2'\''/')"
	if [ -n "${_ch_v_note:-}" ]; then
		ch_problem "$(echo "$_ch_v_note" | tr _ ' ')"
	fi
	[ $_ch_rc -eq 0 ] || [ -n "$CH_PROBLEMS" ] ||
		ch_problem "the sink differs from the committed records"
	ch_before_row
	ch_row "$_ch_v_oracle" "$_ch_v_applied" "$_ch_v_missing" \
	    "$_ch_v_duplicated" "$_ch_v_aborted_applied" \
	    "$_ch_v_order_violations"
	[ -z "$CH_PROBLEMS" ]
}

# The sink's own end-to-end check, where one exists, must agree.
_ch_second_opinion()
{
	case $CH_SINK in
	sqlite)
		"$PYTHON3" "$CHECK_SQLITE" --topic "$CH_TOPIC" \
		    "$CH_WORK/oracle.tsv" "$CH_WORK/ledger.db" \
		    >"$CH_WORK/second.log" 2>&1
		;;
	postgres)
		"$PYTHON3" "$top_srcdir/tests/postgres/check_pg.py" --topic "$CH_TOPIC" \
		    "$CH_WORK/oracle.tsv" "$CH_PGDB" >"$CH_WORK/second.log" 2>&1
		;;
	http|http/offsets)
		"$PYTHON3" "$top_srcdir/tests/http/check.py" \
		    --db "$CH_WORK/receiver.db" --topic "$CH_TOPIC" \
		    --oracle "$CH_WORK/oracle.tsv" >"$CH_WORK/second.log" 2>&1
		;;
	null)
		. "$top_srcdir/tests/e2e/null-common.sh"
		nl_check "$CH_WORK/oracle.tsv" "$CH_WORK/counts.state" \
		    "$CH_TOPIC" >"$CH_WORK/second.log" 2>&1
		;;
	*)
		return 0
		;;
	esac
	_ch_rc2=$?
	cat "$CH_WORK/second.log"
	if [ $(($1 == 0)) -ne $((_ch_rc2 == 0)) ]; then
		ch_problem "check.py (status $1) and the sink's own check (status $_ch_rc2) disagree"
	fi
}
