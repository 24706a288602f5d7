# SPDX-License-Identifier: BSD-2-Clause
# tests/kafka/lib.sh - shell functions for the tests that run against a real
# Kafka broker.  Source it from a test script (POSIX sh or bash):
#
#	. "$top_srcdir/tests/kafka/lib.sh"
#	kafka_require               # sets BOOTSTRAP, TXPRODUCER, ORACLE
#	topic=$(unique_topic mytest)
#	work=$(scratch_dir "$top_builddir/tests/e2e/mytest.dir")
#	"$KSINK" -c "$work/ksink.ini" 2>>"$work/ksink.log" & track_pid $!
#	wait_for 60 test -s "$work/out" || fail "no output after 60 s"
#
# kafka_require starts the broker through tests/kafka/broker.sh when none
# runs yet (the first test to need it starts it; tests/kafka/stop.test stops
# it after all tests listed in KAFKA_TESTS).  When no broker can be had
# (no java, no mvn, the broker does not start) the test is skipped with
# exit status 77, or fails hard with 99 when CI=true, so that a CI job never
# passes by skipping everything.
#
# Functions:
#   kafka_require          ensure a broker; set BOOTSTRAP, BROKER_SH,
#                          TXPRODUCER, ORACLE, CHECK_SQLITE
#   unique_topic NAME      print a topic name no other test or run uses
#   scratch_dir DIR        create DIR afresh, print its absolute name (and
#                          set SCRATCH to it when not called in $(...));
#                          it is removed at exit if the test passed or
#                          skipped (unless KSINK_TEST_KEEP=1), and kept
#                          for inspection otherwise
#   wait_for SECS CMD...   run CMD every 0.2 s until it succeeds; return 1
#                          when SECS seconds pass first
#   track_pid PID          kill PID (TERM, then KILL after 5 s) at exit
#   untrack_pid PID        forget PID (after it was waited for)
#   at_exit CMD            run the shell command CMD at exit
#   random_int MIN MAX     print a random integer in [MIN, MAX]
#   sleep_ms MS            sleep MS milliseconds
#   skip MSG, fail MSG, hard_error MSG
#                          print MSG and exit 77, 1 or 99
#
# The exit trap also runs on SIGINT, SIGTERM and SIGHUP.

: "${top_srcdir:?top_srcdir is not set: run the test through make check}"
: "${top_builddir:?top_builddir is not set: run the test through make check}"
KSINK_TESTBIN=${KSINK_TESTBIN:-$top_builddir/tests}
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
BROKER_SH=$top_srcdir/tests/kafka/broker.sh
TXPRODUCER=$KSINK_TESTBIN/kafka/txproducer
ORACLE=$KSINK_TESTBIN/kafka/oracle
CHECK_SQLITE=$top_srcdir/tests/e2e/check_sqlite.py

_ks_test=$(basename "$0")
_ks_pids=
_ks_exit_cmds=

skip()
{
	echo "SKIP: $_ks_test: $*" >&2
	exit 77
}

fail()
{
	echo "FAIL: $_ks_test: $*" >&2
	exit 1
}

hard_error()
{
	echo "ERROR: $_ks_test: $*" >&2
	exit 99
}

# Skip, or under CI fail hard: the environment lacks something.
_ks_unavailable()
{
	if [ "${CI:-}" = true ]; then
		hard_error "$* (CI=true: not skipping)"
	fi
	skip "$*"
}

kafka_require()
{
	command -v "${JAVA:-java}" >/dev/null 2>&1 ||
		_ks_unavailable "java not found; a real Kafka broker is needed"
	[ -x "$TXPRODUCER" ] && [ -x "$ORACLE" ] ||
		hard_error "$TXPRODUCER or $ORACLE not built (make check builds them)"
	if ! BOOTSTRAP=$("$BROKER_SH" start); then
		_ks_unavailable "cannot start a Kafka broker with $BROKER_SH (see the messages above)"
	fi
	[ -n "$BOOTSTRAP" ] || _ks_unavailable "$BROKER_SH start printed no address"
	export BOOTSTRAP
	echo "$_ks_test: Kafka broker at $BOOTSTRAP"
}

unique_topic()
{
	printf 'ksink-%s-%s-%s\n' "$1" "$$" "$(random_int 100000 999999)"
}

random_int()
{
	_ks_r=$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')
	echo $(($1 + _ks_r % ($2 - $1 + 1)))
}

sleep_ms()
{
	sleep "$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))"
}

wait_for()
{
	_ks_deadline=$(($(date +%s) + $1))
	shift
	while ! "$@"; do
		[ "$(date +%s)" -ge "$_ks_deadline" ] && return 1
		sleep 0.2
	done
	return 0
}

track_pid()
{
	_ks_pids="$_ks_pids $1"
}

untrack_pid()
{
	_ks_new=
	for _ks_p in $_ks_pids; do
		[ "$_ks_p" = "$1" ] || _ks_new="$_ks_new $_ks_p"
	done
	_ks_pids=$_ks_new
}

at_exit()
{
	_ks_exit_cmds="$_ks_exit_cmds
$1"
}

# The list of scratch directories is kept in a file because scratch_dir
# usually runs in a $(...) subshell, where $$ is still the test's pid.
_ks_scratch_list=${TMPDIR:-/tmp}/ksink-test-scratch.$$

scratch_dir()
{
	rm -rf "$1" && mkdir -p "$1" || hard_error "cannot create $1"
	SCRATCH=$(cd "$1" && pwd)
	echo "$SCRATCH" >>"$_ks_scratch_list"
	echo "$SCRATCH"
}

_ks_cleanup()
{
	_ks_rc=$1
	trap - EXIT INT TERM HUP
	for _ks_p in $_ks_pids; do
		kill -TERM "$_ks_p" 2>/dev/null
	done
	for _ks_p in $_ks_pids; do
		_ks_n=0
		while kill -0 "$_ks_p" 2>/dev/null && [ "$_ks_n" -lt 50 ]; do
			sleep 0.1
			_ks_n=$((_ks_n + 1))
		done
		kill -KILL "$_ks_p" 2>/dev/null
	done
	if [ -n "$_ks_exit_cmds" ]; then
		eval "$_ks_exit_cmds"
	fi
	if [ -f "$_ks_scratch_list" ]; then
		while IFS= read -r _ks_d; do
			if { [ "$_ks_rc" -eq 0 ] || [ "$_ks_rc" -eq 77 ]; } &&
			    [ "${KSINK_TEST_KEEP:-0}" != 1 ]; then
				rm -rf "$_ks_d"
			else
				echo "$_ks_test: files kept in $_ks_d" >&2
			fi
		done <"$_ks_scratch_list"
		rm -f "$_ks_scratch_list"
	fi
	exit "$_ks_rc"
}

trap '_ks_cleanup $?' EXIT
trap '_ks_cleanup 130' INT
trap '_ks_cleanup 143' TERM
trap '_ks_cleanup 129' HUP
