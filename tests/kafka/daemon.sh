# SPDX-License-Identifier: BSD-2-Clause
# tests/kafka/daemon.sh - start, stop and kill ksink daemons from a test.
# Source it after tests/kafka/lib.sh (POSIX sh or bash):
#
#	. "$top_srcdir/tests/kafka/lib.sh"
#	. "$top_srcdir/tests/kafka/daemon.sh"
#	daemon_start a "$work/ksink.ini" "$work/ksink-a.log"
#	...
#	daemon_kill a                 # SIGKILL, then start it again:
#	daemon_start a "$work/ksink.ini" "$work/ksink-a.log"
#	...
#	daemon_stop a                 # SIGTERM; the test fails unless it
#	                              # exits 0
#
# Each daemon has a slot, a name made of letters, digits and underscores
# (a, b, ...), which keeps its pid and its log file; a slot is reused by
# starting it again once its daemon exited.  Every daemon is tracked
# (track_pid), so that it is stopped when the test exits.  The log gets a
# line "=== TIME EVENT" at each start, signal and exit.
#
# Functions:
#   daemon_start SLOT CONF LOG [VAR=VALUE...]
#                          start "$KSINK -c CONF" with those environment
#                          variables in the background, its output
#                          appended to LOG; $DAEMON_WRAP, when set, is a
#                          command (split at blanks) to run it under, such
#                          as valgrind and its options
#   daemon_pid SLOT        print its pid (empty once it was reaped)
#   daemon_log SLOT        print its log file
#   daemon_slots           print the slots started, in order
#   daemon_running SLOT    succeed while it runs
#   daemon_alive SLOT      succeed while it runs; fail the test with the
#                          end of its log when it exited by itself
#   daemon_ready SLOT      succeed once SIGTERM would stop it cleanly
#   daemon_pid_ready PID   the same for a ksink started otherwise
#   daemon_reap SLOT SECS  wait up to SECS seconds for it to exit, SIGKILL
#                          it when it still runs; $DAEMON_RC gets its exit
#                          status (-1: it still ran and was killed)
#   daemon_send SLOT SIG   send it signal SIG (TERM, HUP, ...) without
#                          waiting for its exit; TERM once it is ready;
#                          fails when it no longer runs
#   daemon_kill SLOT       SIGKILL it (fails the test when it had already
#                          exited by itself) and reap it
#   daemon_term SLOT [SECS]
#                          SIGTERM it, once it is ready, and reap it
#                          within SECS seconds (60); return 0 when it
#                          exited 0, 1 otherwise, with $DAEMON_RC set
#   daemon_stop SLOT [SECS]
#                          daemon_alive, daemon_term, and fail the test
#                          with the end of its log unless it exited 0
#   daemon_stop_all [SECS] daemon_stop every slot not reaped yet, in turn
#
# SIGTERM and readiness: ksink blocks SIGTERM early in main() and waits
# for it with sigtimedwait.  A SIGTERM sent before that, while the dynamic
# loader runs, takes its default action and kills the process (status
# 143).  daemon_ready reads the signal masks of its threads in /proc: it
# is ready once one of them blocks or catches SIGTERM.

# Sourcing it twice keeps the slots.
_dm_slots=${_dm_slots:-}

_dm_now()
{
	date '+%H:%M:%S.%3N'
}

_dm_check_slot()
{
	case $1 in
	'' | *[!A-Za-z0-9_]*)
		hard_error "daemon slot \"$1\": use letters, digits and _" ;;
	esac
}

daemon_pid()
{
	eval "echo \"\${_dm_pid_$1:-}\""
}

daemon_log()
{
	eval "echo \"\${_dm_log_$1:-}\""
}

daemon_slots()
{
	echo $_dm_slots
}

daemon_start()
{
	_dm_check_slot "$1"
	_dm_slot=$1 _dm_conf=$2 _dm_log=$3
	shift 3
	[ -z "$(daemon_pid "$_dm_slot")" ] ||
		hard_error "daemon_start $_dm_slot: its ksink was not reaped"
	[ -x "$KSINK" ] || hard_error "ksink not built: $KSINK"
	echo "=== $(_dm_now) start${*:+ with $*}" >>"$_dm_log"
	# shellcheck disable=SC2086
	env "$@" ${DAEMON_WRAP:-} "$KSINK" -c "$_dm_conf" >>"$_dm_log" 2>&1 &
	eval "_dm_pid_$_dm_slot=\$!"
	eval "_dm_log_$_dm_slot=\$_dm_log"
	track_pid $!
	case " $_dm_slots " in
	*" $_dm_slot "*) ;;
	*) _dm_slots="$_dm_slots $_dm_slot" ;;
	esac
}

daemon_running()
{
	_dm_p=$(daemon_pid "$1")
	[ -n "$_dm_p" ] && kill -0 "$_dm_p" 2>/dev/null
}

daemon_reap()
{
	_dm_p=$(daemon_pid "$1")
	DAEMON_RC=0
	[ -n "$_dm_p" ] || return 0
	_dm_n=0
	while kill -0 "$_dm_p" 2>/dev/null && [ $_dm_n -lt $(($2 * 10)) ]; do
		sleep 0.1
		_dm_n=$((_dm_n + 1))
	done
	if kill -0 "$_dm_p" 2>/dev/null; then
		kill -KILL "$_dm_p" 2>/dev/null
		wait "$_dm_p" 2>/dev/null
		DAEMON_RC=-1
	else
		wait "$_dm_p"
		DAEMON_RC=$?
	fi
	untrack_pid "$_dm_p"
	eval "_dm_pid_$1="
	echo "=== $(_dm_now) exited with status $DAEMON_RC" >>"$(daemon_log "$1")"
}

daemon_alive()
{
	daemon_running "$1" && return 0
	[ -n "$(daemon_pid "$1")" ] || fail "daemon_alive $1: no ksink was started"
	daemon_reap "$1" 0
	tail -n 30 "$(daemon_log "$1")" >&2
	fail "ksink ($1) exited by itself with status $DAEMON_RC (log: $(daemon_log "$1"))"
}

# The fourth hex digit from the right of SigBlk or SigCgt holds signals 13
# to 16; SIGTERM (15) is its bit 4.
daemon_ready()
{
	daemon_pid_ready "$(daemon_pid "$1")"
}

daemon_pid_ready()
{
	[ -n "$1" ] || return 1
	cat /proc/"$1"/task/*/status 2>/dev/null |
	    awk '/^Sig(Blk|Cgt):/ && index("4567cdefCDEF",
		substr($2, length($2) - 3, 1)) { ok = 1 } END { exit !ok }'
}

daemon_kill()
{
	daemon_alive "$1"
	echo "=== $(_dm_now) SIGKILL" >>"$(daemon_log "$1")"
	kill -KILL "$(daemon_pid "$1")"
	daemon_reap "$1" 10
}

daemon_send()
{
	daemon_running "$1" || return 1
	if [ "$2" = TERM ]; then
		wait_for 10 daemon_ready "$1" ||
			echo "daemon_send $1: SIGTERM still not blocked after 10 s" >&2
	fi
	echo "=== $(_dm_now) SIG$2" >>"$(daemon_log "$1")"
	kill -"$2" "$(daemon_pid "$1")" 2>/dev/null
}

daemon_term()
{
	# A daemon that exited by itself is only reaped: DAEMON_RC says how.
	daemon_send "$1" TERM
	daemon_reap "$1" "${2:-60}"
	[ "$DAEMON_RC" -eq 0 ]
}

daemon_stop()
{
	daemon_alive "$1"
	daemon_term "$1" "${2:-60}" && return 0
	tail -n 30 "$(daemon_log "$1")" >&2
	if [ "$DAEMON_RC" -eq -1 ]; then
		fail "ksink ($1) still ran ${2:-60} s after SIGTERM (killed; log: $(daemon_log "$1"))"
	fi
	fail "ksink ($1) exited with status $DAEMON_RC after SIGTERM, expected 0 (log: $(daemon_log "$1"))"
}

daemon_stop_all()
{
	for _dm_s in $_dm_slots; do
		[ -z "$(daemon_pid "$_dm_s")" ] || daemon_stop "$_dm_s" "${1:-60}"
	done
}
