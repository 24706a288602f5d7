#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/chaos/cell.sh - one cell of the fault matrix: one sink through one
# fault, checked against the oracle; appends its row to $CHAOS_ROWS (or
# prints it) and exits 0 when the cell is clean.
#
# usage: cell.sh FAULT SINK
#
# FAULT: sigkill sigterm broker-crash zombie churn-eager churn-coop hang
#        sqlite-busy file-enospc file-fsync http-500 http-429 http-slow
#        http-close all-faults partition (postgres only)
# SINK:  sqlite postgres file http http/offsets null
#
# CHAOS_SHORT=1 makes every cell small (the short version in make check).
# Knobs for experiments: CHAOS_KILLS (sigkill), CHAOS_TERMS (sigterm),
# CHAOS_CRASHES (broker-crash), CHAOS_EVENTS (churn), CHAOS_RATE (records
# per second of the producer).  Run by tests/chaos/chaos.sh, which starts
# the broker; see tests/chaos/check.py for the row.

[ $# -eq 2 ] || { echo "usage: cell.sh FAULT SINK" >&2; exit 2; }
. "$top_srcdir/tests/kafka/lib.sh"
kafka_require >/dev/null
. "$top_srcdir/tests/chaos/lib.sh"

fault=$1
sink=$2
short=$CH_SHORT
rate=${CHAOS_RATE:-300}

# Size of a cell: $(size SHORT FULL)
size()
{
	if [ "$short" = 1 ]; then echo "$1"; else echo "$2"; fi
}

static_member()
{
	echo "kafka.group.instance.id = ksink-$CH_TOPIC"
}

# --- SIGKILL and SIGTERM at random moments -----------------------------

# Half of the stops come a random moment after the worker has applied
# something since it started, the other half at any moment (during its
# start, its group join, its recovery).  A static group member id lets a
# restarted worker take its partitions back at once.  For the file sink,
# every fourth start also arms the sink's own crash hook
# (KSINK_FILE_CRASH_AT), which kills it at a random step of a commit.
cell_stop()
{
	_sig=$1 _want=$2
	ch_config "$(static_member)"
	ch_produce $((rate * _want * 13 / 10)) "$rate"
	ch_start a
	_n=0 _busy=0 _hooked=0 _i=0
	_points=(after_write after_data_fsync after_tmp_manifest after_rename
	    before_dir_fsync after_commit after_rotate_rename)
	while ch_producer_running || [ $_n -lt "$_want" ]; do
		_i=$((_i + 1))
		if [ "$sink" = file ] && [ "$_sig" = KILL ] &&
		    [ $((_i % 4)) -eq 0 ] && ch_producer_running; then
			ch_term a >/dev/null
			_at=${_points[$(random_int 0 6)]}:$(random_int 1 3)
			ch_start a KSINK_FILE_CRASH_AT="$_at"
			ch_reap a 10
			if [ "$CH_RC" = 137 ]; then
				_hooked=$((_hooked + 1))
			elif [ "$CH_RC" != -1 ]; then
				ch_problem "ksink exited $CH_RC instead of dying at $_at"
			fi
			ch_start a
			continue
		fi
		ch_mark
		if [ $((_i % 2)) -eq 0 ] && ch_producer_running &&
		    ch_progress 8; then
			_busy=$((_busy + 1))
			sleep_ms "$(random_int 0 1000)"
		else
			sleep_ms "$(random_int 0 1500)"
		fi
		if [ "$_sig" = KILL ]; then
			ch_kill a
		else
			ch_term a
		fi
		_n=$((_n + 1))
		ch_start a
	done
	ch_producer_wait
	_what=kills
	[ "$_sig" = KILL ] || _what=terms
	_more=
	[ $_hooked -eq 0 ] || _more=", $_hooked more inside a commit (KSINK_FILE_CRASH_AT)"
	ch_injected "$_n $_what ($_busy while applying)$_more"
	echo "SIG$_sig: $CH_INJECTED"
	ch_finish
}

# --- broker crash ------------------------------------------------------

# Standalone, the cell crashes the broker itself, CHAOS_CRASHES times.
# With CHAOS_CRASH_DIR set, tests/chaos/chaos.sh runs the broker-crash
# cells of all sinks at once and crashes the broker under all of them:
# each cell touches CHAOS_CRASH_DIR/ready-SINK once its worker applies
# records, and goes on when chaos.sh has touched CHAOS_CRASH_DIR/done
# (CHAOS_CRASH_DIR/crashes holds the number of crashes).
cell_broker_crash()
{
	_want=${CHAOS_CRASHES:-$(size 1 3)}
	_coord=${CHAOS_CRASH_DIR:-}
	at_exit '"$BROKER_SH" status >/dev/null 2>&1 || "$BROKER_SH" restart >/dev/null 2>&1'
	ch_config
	ch_produce $((rate * $(size 12 $((15 + 20 * _want))))) "$rate" -R
	ch_start a
	ch_mark
	ch_progress 30 || ch_problem "nothing applied 30 s after the start"
	_n=0
	if [ -n "$_coord" ]; then
		touch "$_coord/ready-$(echo "$sink" | tr / -)"
		_t0=$(date +%s)
		while [ ! -e "$_coord/done" ]; do
			[ $(($(date +%s) - _t0)) -lt 900 ] ||
				hard_error "no word from chaos.sh's broker crashes in 900 s"
			ch_alive a
			ch_producer_revive
			sleep 0.5
		done
		_n=$(cat "$_coord/crashes")
	fi
	while [ -z "$_coord" ] && [ $_n -lt "$_want" ]; do
		if [ $_n -gt 0 ]; then
			ch_mark
			ch_progress 30 || ch_problem "nothing applied for 30 s before crash $((_n + 1))"
		fi
		sleep_ms "$(random_int 500 2500)"
		ch_alive a
		"$BROKER_SH" kill9 2>>"$CH_WORK/broker.log" ||
			hard_error "broker.sh kill9 failed"
		_n=$((_n + 1))
		echo "$(date '+%H:%M:%S') broker crash $_n"
		sleep_ms "$(random_int 2000 6000)"
		ch_alive a
		"$BROKER_SH" restart >/dev/null 2>>"$CH_WORK/broker.log" ||
			hard_error "broker.sh restart failed: $(tail -n 3 "$CH_WORK/broker.log")"
		echo "$(date '+%H:%M:%S') broker up again"
		ch_alive a
		ch_producer_revive
	done
	# Records flow again after the last crash.
	ch_producer_revive
	ch_mark
	_flowing() { _ch_progressed || ! ch_producer_running; }
	wait_for 60 _flowing ||
		ch_problem "nothing applied within 60 s after the last broker restart"
	while ch_producer_running; do
		ch_alive a
		sleep 1
	done
	ch_producer_wait
	_more=
	[ -z "${CH_PRODUCER_RESTARTS:-}" ] ||
		_more="; producer fenced and replaced $CH_PRODUCER_RESTARTS times"
	ch_injected "$_n broker crashes (kill -9, restart) under one running ksink$_more"
	ch_finish
}

# --- zombie ------------------------------------------------------------

assigned_lines()
{
	grep -c 'assigned' "$CH_WORK/ksink-$1.log"
}

cell_zombie()
{
	_rounds=$(size 1 2)
	ch_config
	# The short cells' records come over 20 s, at half the rate: some
	# are still to come once the stopped worker's partitions are taken
	# over (and, for PostgreSQL, claimed), or the new owner's progress
	# could not be checked (with 10 s the producer was seen done before
	# that on a loaded machine, for the SQLite and PostgreSQL cells).
	_zrate=$rate
	[ "$short" != 1 ] || _zrate=$((rate / 2))
	ch_produce $((rate * $(size 10 30))) "$_zrate"
	ch_start a
	ch_mark
	ch_progress 30 || ch_problem "nothing applied 30 s after the start"
	if ! ch_shared; then
		zombie_locked
		return
	fi
	ch_start b
	_r=0
	while [ $_r -lt "$_rounds" ]; do
		_r=$((_r + 1))
		# Both in the group, both holding partitions.
		sleep 4
		if [ $((_r % 2)) -eq 1 ]; then _z=a _o=b; else _z=b _o=a; fi
		ch_alive $_z
		ch_alive $_o
		_before=$(assigned_lines $_o)
		kill -STOP "$(ch_pid $_z)"
		_t0=$(date +%s)
		echo "$(date '+%H:%M:%S') SIGSTOP $_z"
		_took() { [ "$(assigned_lines $_o)" -gt "$_before" ]; }
		if ! wait_for 30 _took; then
			ch_problem "round $_r: worker $_o did not take the stopped worker's partitions within 30 s"
		fi
		ch_mark
		ch_progress 30 || ch_problem "round $_r: worker $_o applied nothing while $_z was stopped"
		# Past the session timeout for sure, then wake the zombie.
		while [ $(($(date +%s) - _t0)) -lt 5 ]; do sleep 0.2; done
		kill -CONT "$(ch_pid $_z)"
		echo "$(date '+%H:%M:%S') SIGCONT $_z (stopped $(($(date +%s) - _t0)) s)"
		sleep 3
		ch_alive $_z
		ch_alive $_o
	done
	while ch_producer_running; do sleep 1; done
	ch_producer_wait
	ch_injected "$_r SIGSTOPs past the session timeout, taken over and resumed"
	ch_finish
}

# The sinks whose state one process holds: the stopped worker keeps its
# lock, so a second one must be refused; the first resumes after SIGCONT.
zombie_locked()
{
	kill -STOP "$(ch_pid a)"
	echo "$(date '+%H:%M:%S') SIGSTOP a"
	sleep 4
	ch_start b
	ch_reap b 20
	if [ "$CH_RC" = 1 ] && grep -qiE 'lock|in use' "$CH_WORK/ksink-b.log"; then
		echo "second worker refused: $(grep -iE 'lock|in use' "$CH_WORK/ksink-b.log" | head -n 1)"
		_how="refused by the lock"
	else
		ch_problem "a second worker on the stopped worker's state was not refused by its lock (status $CH_RC)"
		_how="NOT refused"
	fi
	kill -CONT "$(ch_pid a)"
	echo "$(date '+%H:%M:%S') SIGCONT a"
	ch_mark
	if ch_producer_running; then
		ch_progress 30 || ch_problem "the resumed worker applied nothing within 30 s"
	fi
	while ch_producer_running; do ch_alive a; sleep 1; done
	ch_producer_wait
	ch_injected "1 SIGSTOP past the session timeout; second worker $_how"
	ch_finish
}

# --- rebalance churn -----------------------------------------------------

cell_churn()
{
	_want=${CHAOS_EVENTS:-$(size 6 24)}
	_extra=
	[ "$fault" = churn-coop ] &&
		_extra="kafka.partition.assignment.strategy = cooperative-sticky"
	ch_config ${_extra:+"$_extra"}
	ch_produce $((rate * _want * 17 / 10)) "$rate"
	ch_start a
	ch_start b
	ch_start c
	_ev=0 _joins=0 _leaves=0
	while ch_producer_running || [ $_ev -lt "$_want" ]; do
		sleep_ms "$(random_int 300 2500)"
		_s=$(echo a b c | cut -d' ' -f"$(random_int 1 3)")
		_up=0
		for _x in a b c; do ch_running $_x && _up=$((_up + 1)); done
		if ch_running $_s && [ $_up -gt 1 ]; then
			ch_term $_s
			_leaves=$((_leaves + 1))
		elif [ -n "$(ch_pid $_s)" ]; then
			# Not running, not reaped: it exited by itself.
			# ch_alive reports that and starts it again.
			ch_alive $_s || :
			continue
		elif ! ch_running $_s; then
			ch_start $_s
			_joins=$((_joins + 1))
		else
			continue
		fi
		_ev=$((_ev + 1))
	done
	ch_producer_wait
	ch_injected "$_leaves leaves (SIGTERM), $_joins joins of 3 workers"
	ch_finish
}

# --- partition (postgres) ----------------------------------------------

# The partitioned zombie across hosts: tests/postgres/hosts.test (workers
# in network namespaces, a broker and a server of its own), with more
# cuts; its counts make the row.  It needs root and ip(8).
cell_partition()
{
	_cuts=${CHAOS_CUTS:-$(size 1 5)}
	_out=$(PG_CUTS=$_cuts bash "$top_srcdir/tests/postgres/hosts.test" 2>&1)
	_rc=$?
	echo "$_out"
	_line=$(echo "$_out" | grep '^oracle=' | tail -n 1)
	_fenced=$(echo "$_out" | sed -n "s/.* late commit in \([0-9]*\) of them.*/\1/p")
	ch_injected "$_cuts cuts of one worker's link to the broker (its link to PostgreSQL up), ${_fenced:-0} late commits fenced"
	if [ $_rc -eq 77 ]; then
		ch_problem "not run: $(echo "$_out" | grep '^SKIP' | tail -n 1)"
	elif [ $_rc -ne 0 ]; then
		ch_problem "tests/postgres/hosts.test failed (status $_rc): $(echo "$_out" | grep -E '^(FAIL|ERROR)' | tail -n 1)"
	fi
	if [ -z "$_line" ]; then
		ch_row - - - - - -
	else
		_v() { echo "$_line" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
		ch_row "$(_v oracle)" "$(_v applied)" "$(_v missing)" \
		    "$(_v duplicated)" "$(_v aborted_applied)" \
		    "$(_v order_violations)"
	fi
	[ -z "$CH_PROBLEMS" ]
}

# --- hanging input transaction -------------------------------------------

cell_hang()
{
	_tmo=$(size 8000 15000)
	_stall=
	ch_has_option stall.warn.ms && _stall="stall.warn.ms = 2000"
	ch_config ${_stall:+"$_stall"}
	ch_start a
	# Some committed records first, all applied.
	ch_produce 300 0
	ch_producer_wait
	ch_oracle -b "$BOOTSTRAP" -t "$CH_TOPIC" >"$CH_WORK/before.tsv" ||
		hard_error "the oracle could not read $CH_TOPIC"
	CH_EXPECTED=$(wc -l <"$CH_WORK/before.tsv")
	wait_for 60 _ch_caught_up || ch_problem "the first records were not applied within 60 s"

	# The open transaction: 6 records, two per partition.
	_seed=990099
	env "$CH_TOOL_ENV" "$TXPRODUCER" -H -b "$BOOTSTRAP" -t "$CH_TOPIC" -n 6 -s $_seed \
	    -T "$_tmo" >"$CH_WORK/hang.out" 2>>"$CH_WORK/hang.log" &
	_hang=$!
	track_pid $_hang
	wait_for 60 grep -q open "$CH_WORK/hang.out" ||
		hard_error "the hanging producer did not open its transaction: $(cat "$CH_WORK/hang.log")"
	_t_open=$(ch_now_ms)
	echo "$(date '+%H:%M:%S') transaction open (transaction.timeout.ms $_tmo)"
	ch_oracle -U -b "$BOOTSTRAP" -t "$CH_TOPIC" >"$CH_WORK/uncommitted.tsv" ||
		hard_error "the oracle could not read $CH_TOPIC"
	grep "\"id\":\"$_seed-" "$CH_WORK/uncommitted.tsv" |
	    awk -F '\t' '!($1 in m) || $2 < m[$1] { m[$1] = $2 }
	    END { for (p in m) print p, m[p] }' | sort >"$CH_WORK/hang-first"
	echo "first offsets of the open transaction: $(tr '\n' ' ' <"$CH_WORK/hang-first")"
	[ "$(wc -l <"$CH_WORK/hang-first")" -eq 3 ] ||
		hard_error "the open transaction is not on 3 partitions"

	# More committed transactions while it hangs.
	ch_produce $((rate * 5)) "$rate"
	_early=0 _resumed=0 _t_resumed=
	_deadline=$((_t_open + _tmo + 60000))
	while [ "$(ch_now_ms)" -lt $_deadline ]; do
		_now=$(ch_now_ms)
		ch_maxoff >"$CH_WORK/maxoff"
		_past=$(join "$CH_WORK/hang-first" "$CH_WORK/maxoff" |
		    awk '$3 >= $2 { n++ } END { print n + 0 }')
		if [ "$_past" -gt 0 ] && [ $_now -lt $((_t_open + _tmo - 3000)) ]; then
			_early=1
			echo "$(date '+%H:%M:%S') past the open transaction: $(join "$CH_WORK/hang-first" "$CH_WORK/maxoff" | tr '\n' ' ')"
		fi
		if [ "$_past" -eq 3 ]; then
			_resumed=1
			_t_resumed=$_now
			break
		fi
		ch_alive a
		sleep 0.5
	done
	if [ $_early = 1 ]; then
		ch_problem "records at or past the open transaction's first offset were applied while it was open"
	fi
	if [ $_resumed = 1 ]; then
		echo "resumed on every partition $(((_t_resumed - _t_open) / 1000)) s after the transaction opened"
	else
		ch_problem "did not resume past the aborted transaction within 60 s of its timeout"
	fi
	# The end of the stall is logged at the next check.
	sleep 3
	_stalls=$(grep -c 'is stalled' "$CH_WORK/ksink-a.log")
	_moves=$(grep -c 'moves again' "$CH_WORK/ksink-a.log")
	grep -E 'is stalled|moves again' "$CH_WORK/ksink-a.log"
	if [ "$_stalls" -eq 0 ]; then
		ch_problem "stall not reported"
	fi
	kill -TERM $_hang 2>/dev/null
	wait $_hang 2>/dev/null
	untrack_pid $_hang
	ch_producer_wait
	ch_injected "open transaction on 3 partitions for $_tmo ms; $_stalls stall reports, $_moves resume reports"
	ch_finish
}

# --- sink faults -----------------------------------------------------------

cell_sqlite_busy()
{
	_want=$(size 2 4)
	ch_config "sqlite.busy.timeout.ms = 300"
	ch_produce $((rate * 6 * _want)) "$rate"
	ch_start a
	_n=0
	while [ $_n -lt "$_want" ]; do
		ch_mark
		ch_progress 30 || ch_problem "nothing applied for 30 s"
		_hold=$(random_int 1500 3000)
		"$PYTHON3" - "$CH_WORK/ledger.db" "$_hold" <<'EOF' ||
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=60)
con.execute("BEGIN IMMEDIATE")
time.sleep(int(sys.argv[2]) / 1000.0)
con.execute("ROLLBACK")
EOF
			hard_error "the lock holder failed"
		_n=$((_n + 1))
		echo "$(date '+%H:%M:%S') held the write lock for $_hold ms"
		ch_alive a
		sleep_ms "$(random_int 300 1500)"
	done
	while ch_producer_running; do ch_alive a; sleep 1; done
	ch_producer_wait
	_retries=$(grep -c 'retrying' "$CH_WORK/ksink-a.log")
	[ "$_retries" -gt 0 ] ||
		ch_problem "no retry logged: the lock never made the sink wait"
	ch_injected "$_n write locks held 1.5-3 s (busy timeout 300 ms); $_retries retries logged"
	ch_finish
}

cell_file_enospc()
{
	_want=$(size 1 3)
	_mode=shim
	if [ "$(id -u)" = 0 ] && [ "${CHAOS_NO_MOUNT:-0}" != 1 ] &&
	    mount -t tmpfs -o size=24m tmpfs "$CH_WORK/out" 2>/dev/null; then
		_mode=tmpfs
		at_exit "umount '$CH_WORK/out' 2>/dev/null"
	fi
	ch_config
	ch_produce $((rate * 7 * _want)) "$rate"
	if [ $_mode = shim ]; then
		ch_start a LD_PRELOAD="$CHAOS_FAULTFS" FAULTFS_DIR="$CH_WORK/out" \
		    FAULTFS_ENOSPC="$CH_WORK/enospc" \
		    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	else
		ch_start a
	fi
	_n=0
	while [ $_n -lt "$_want" ]; do
		ch_mark
		ch_progress 30 || ch_problem "nothing applied for 30 s"
		if [ $_mode = tmpfs ]; then
			dd if=/dev/zero of="$CH_WORK/out/filler" bs=64k \
			    2>/dev/null
		else
			touch "$CH_WORK/enospc"
		fi
		_n=$((_n + 1))
		echo "$(date '+%H:%M:%S') no space left ($_mode): $(df -k "$CH_WORK/out" | awk 'NR == 2 { print $4 }') KiB free"
		sleep_ms "$(random_int 2000 4000)"
		ch_alive a
		rm -f "$CH_WORK/out/filler" "$CH_WORK/enospc"
		echo "$(date '+%H:%M:%S') space freed"
	done
	while ch_producer_running; do ch_alive a; sleep 1; done
	ch_producer_wait
	_retries=$(grep -c 'No space left' "$CH_WORK/ksink-a.log")
	[ "$_retries" -gt 0 ] ||
		ch_problem "no ENOSPC logged: the fault never hit the sink"
	ch_injected "$_n times out of space ($_mode, 2-4 s); $_retries retries logged"
	ch_finish
}

# Each round fails one fsync: of a data file, of the directory (most of
# them come right after the manifest's rename), or any; the connector must
# stop, and the operator's restart must find a consistent state.
# CHAOS_FSYNC_KINDS lists the rounds (default "dir file" short, "file dir
# any" full).
cell_file_fsync()
{
	_kinds=${CHAOS_FSYNC_KINDS:-$(size "dir file" "file dir any")}
	_want=$(echo $_kinds | wc -w)
	[ -f "$CHAOS_FAULTFS" ] || hard_error "$CHAOS_FAULTFS not built"
	ch_config
	ch_produce $((rate * 8 * _want)) "$rate"
	_n=0 _stopped=0 _what=
	for _kind in $_kinds; do
		_n=$((_n + 1))
		case $_kind in
		file) _nth=$(random_int 1 12) ;;
		dir) _nth=$(random_int 3 8) ;;
		*) _nth=$(random_int 1 20) _kind= ;;
		esac
		_seen=$(grep -c 'faultfs: fsync' "$CH_WORK/ksink-a.log" 2>/dev/null)
		ch_start a LD_PRELOAD="$CHAOS_FAULTFS" FAULTFS_DIR="$CH_WORK/out" \
		    FAULTFS_FSYNC_EIO=$_nth FAULTFS_FSYNC_KIND="$_kind" \
		    ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
		ch_reap a 30
		if [ "$CH_RC" = -1 ]; then
			echo "fsync $_nth (${_kind:-any}) not reached within 30 s"
		elif [ "$CH_RC" = 1 ] && [ "$(grep -c 'faultfs: fsync' \
		    "$CH_WORK/ksink-a.log")" -gt "${_seen:-0}" ]; then
			_stopped=$((_stopped + 1))
			_what="$_what${_what:+, }$(grep 'faultfs: fsync' "$CH_WORK/ksink-a.log" | tail -n 1 | sed 's,.*/,,; s/:.*//; s/^out$/directory/; s/^[0-9]*\.log$/data file/')"
			echo "stopped: $(grep -iE 'fsync' "$CH_WORK/ksink-a.log" | grep -v faultfs | tail -n 1)"
		else
			ch_problem "after an fsync failure (${_kind:-any} fsync $_nth) ksink exited with status $CH_RC, not 1"
		fi
		# The operator's restart.
		ch_start a
		ch_mark
		if ch_producer_running && ! ch_progress 30; then
			ch_alive a
			ch_problem "the restart after the fsync failure applied nothing within 30 s"
		fi
		ch_term a
	done
	while ch_producer_running; do sleep 1; done
	ch_producer_wait
	[ $_stopped -gt 0 ] || ch_problem "no fsync failure stopped the connector"
	ch_injected "$_stopped fsync EIO failures ($_what), each stopped the connector (exit 1), then restarted"
	ch_finish
}

fault_counts()
{
	"$PYTHON3" - "$CH_WORK/receiver.db" "$@" <<'EOF'
import sqlite3, sys
c = dict(sqlite3.connect(sys.argv[1]).execute("SELECT name, n FROM counters"))
print(" ".join("%s=%d" % (k, c.get("fault_" + k, 0)) for k in sys.argv[2:]))
EOF
}

# ---------------------------------------------------------------------

case $fault in
sigkill|sigterm|broker-crash|zombie|churn-eager|churn-coop|hang) ;;
partition)
	[ "$sink" = postgres ] || hard_error "$fault is for the postgres sink"
	CH_FAULT=$fault CH_SINK=$sink
	cell_partition
	exit
	;;
sqlite-busy) [ "$sink" = sqlite ] || hard_error "$fault is for the sqlite sink" ;;
file-enospc|file-fsync) [ "$sink" = file ] || hard_error "$fault is for the file sink" ;;
http-500|http-429|http-slow|http-close|all-faults)
	case $sink in http|http/offsets) ;; *) hard_error "$fault is for the http sink" ;; esac
	_k=${fault#http-}
	[ "$fault" = all-faults ] && _k=all
	case $_k in
	all)
		# Each kind in about 8 % of the requests, and many requests.
		CH_HTTP_FAULTS=500=0.08,429=0.08,slow=0.08,close=0.08
		CH_HTTP_BATCH=50
		;;
	500) CH_HTTP_FAULTS=500=0.25 ;;
	429) CH_HTTP_FAULTS=429=0.2 ;;
	slow) CH_HTTP_FAULTS=slow=0.15 ;;
	close) CH_HTTP_FAULTS=close=0.2 ;;
	esac
	;;
*) hard_error "unknown fault $fault" ;;
esac

# A zombie stopped while its request is in flight finds it timed out when
# it wakes up, and retries it while the group takes its partitions: a
# slower receiver makes that the common case.
[ "$fault" != zombie ] || CH_HTTP_DELAY_MS=300
ch_setup "$fault" "$sink"
case $fault in
sigkill) cell_stop KILL "${CHAOS_KILLS:-$(size 6 50)}" ;;
sigterm) cell_stop TERM "${CHAOS_TERMS:-$(size 3 15)}" ;;
broker-crash) cell_broker_crash ;;
zombie) cell_zombie ;;
churn-eager|churn-coop)
	ch_shared || hard_error "$sink cannot have several workers"
	cell_churn
	;;
hang) cell_hang ;;
sqlite-busy) cell_sqlite_busy ;;
file-enospc) cell_file_enospc ;;
file-fsync) cell_file_fsync ;;
*)
	# The receiver's fault counts go with the row.
	ch_config
	ch_produce $((rate * $(size 8 20))) "$rate"
	ch_start a
	while ch_producer_running; do ch_alive a; sleep 1; done
	ch_producer_wait
	_kinds="500 429 slow close"
	[ "$fault" = all-faults ] || _kinds=${fault#http-}
	# The receiver's fault counts, once it has stopped.
	ch_before_row()
	{
		ch_injected "receiver faults: $(fault_counts $_kinds)"
		for _k in $_kinds; do
			case " $CH_INJECTED " in
			*" $_k=0 "*) ch_problem "fault $_k never injected" ;;
			esac
		done
	}
	ch_finish
	;;
esac
