# SPDX-License-Identifier: BSD-2-Clause
# tests/kafka/service.sh - shell functions of the scripts that run the
# tests' throw-away servers in the background (tests/kafka/broker.sh,
# tests/registry/registry.sh).  Sourced, not run; the script sets $me
# (its name, for messages) and $STATE (its state directory, where the
# server's pid is in $STATE/pid) first.
#
#   die MSG...             print "$me: MSG" and exit 1
#   recorded_pid TEXT      print the pid in $STATE/pid when that process
#                          lives and its command line holds TEXT (so that
#                          a reused pid is not taken for the server)
#   wait_gone SECS PID     wait up to SECS seconds for PID to go away
#   lock_state             create $STATE and hold its lock (fd 9) for the
#                          rest of the script: concurrent calls wait
#   stop_pid PID WHAT      SIGTERM PID (SIGCONT first: it may be stopped),
#                          SIGKILL after $STOP_TIMEOUT seconds; WHAT names
#                          it in the messages
#   fill_cache DIR WHAT FUNC
#                          unless DIR/.complete exists, run FUNC TMP under
#                          the lock of $CACHE (another process may be
#                          filling it) to fill TMP (DIR.tmp) with WHAT
#                          (with $MVN, into $CACHE/mvn.log: FUNC dies on
#                          failure), then mark it complete and move it to
#                          DIR
#   mvn_logged ARGS...     $MVN -q -B ARGS, its output in $CACHE/mvn.log;
#                          dies showing its end when it fails

die()
{
	echo "$me: $*" >&2
	exit 1
}

recorded_pid()
{
	[ -r "$STATE/pid" ] || return 1
	pid=$(cat "$STATE/pid" 2>/dev/null)
	case $pid in
	''|*[!0-9]*) return 1 ;;
	esac
	kill -0 "$pid" 2>/dev/null || return 1
	if [ -r "/proc/$pid/cmdline" ]; then
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$1" || return 1
	fi
	echo "$pid"
}

wait_gone()
{
	n=0
	while kill -0 "$2" 2>/dev/null; do
		[ "$n" -ge $(($1 * 10)) ] && return 1
		sleep 0.1
		n=$((n + 1))
	done
	return 0
}

lock_state()
{
	mkdir -p "$STATE" || die "cannot create $STATE"
	exec 9>>"$STATE/lock"
	flock -w 600 9 || die "timed out waiting for the lock on $STATE/lock"
}

stop_pid()
{
	kill -CONT "$1" 2>/dev/null
	kill -TERM "$1" 2>/dev/null
	if ! wait_gone "$STOP_TIMEOUT" "$1"; then
		echo "$me: $2 $1 ignored SIGTERM for ${STOP_TIMEOUT}s, killing it" >&2
		kill -9 "$1" 2>/dev/null
		wait_gone 10 "$1"
	fi
}

fill_cache()
{
	[ -f "$1/.complete" ] && return 0
	command -v "$MVN" >/dev/null 2>&1 ||
		die "mvn not found: install Maven, or fill $1 with $2 and touch $1/.complete"
	mkdir -p "$CACHE" || die "cannot create $CACHE"
	(
		flock -w 900 8 || die "timed out waiting for the lock on $CACHE/lock"
		[ -f "$1/.complete" ] && exit 0
		rm -rf "$1.tmp"
		mkdir -p "$1.tmp" || die "cannot create $1.tmp"
		echo "$me: copying $2 into $1" >&2
		"$3" "$1.tmp" || exit 1
		touch "$1.tmp/.complete"
		rm -rf "$1"
		mv "$1.tmp" "$1"
	) 8>"$CACHE/lock" || exit 1
}

# mvn ARGS...: Maven, quiet, its output in $CACHE/mvn.log (its end shown
# when it fails).
mvn_logged()
{
	if ! "$MVN" -q -B "$@" >"$CACHE/mvn.log" 2>&1; then
		tail -n 30 "$CACHE/mvn.log" >&2
		die "mvn $* failed (log: $CACHE/mvn.log)"
	fi
}
