#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# tests/registry/registry.sh - a throw-away Apicurio Registry 2.6 for the
# tests of the Avro converter, through its Confluent-compatible API
# (/apis/ccompat/v7: POST /subjects/S/versions registers a schema and
# answers its id, GET /schemas/ids/ID answers it).
#
# Usage: registry.sh fetch|start [--tls CERT KEY]|url|status|stop|restart|
#                    kill9|pause|resume
#
#   fetch    copy io.apicurio:apicurio-registry-app:2.6.13.Final (classifier
#            all, type tar.gz: a Quarkus runner jar and its lib/) from
#            Maven Central with Maven into the cache and unpack it there,
#            once.  CI runs it before the tests (.ci/run).
#   start    make sure a registry runs and print its URL (also in
#            $STATE/url), e.g. http://127.0.0.1:40123/apis/ccompat/v7.
#            The first call fetches; the registry listens on 127.0.0.1 on
#            a free port, keeps its schemas in memory (an in-memory H2
#            database: a new registry starts empty) and answers after
#            about 2 s over HTTP and 3 s over HTTPS on an idle 2-core
#            machine, 6 to 10 s on a busy one (the JVM's start, with the
#            C1 compiler only; it says how long in its message and in
#            registry.log, "started in").  A recorded live
#            registry started with the same options is reused; another
#            is replaced.  Concurrent calls are serialised with flock(1).
#            --tls CERT KEY: HTTPS only, with the server certificate CERT
#            and its key KEY (PEM files; CERT should name 127.0.0.1 in its
#            subjectAltName), the URL then starts with https://.  A client
#            certificate cannot be required: Quarkus fixes
#            quarkus.http.ssl.client-auth when the application is built,
#            and Apicurio's build says NONE (tests/registry/authproxy.py
#            requires one instead).
#   url      print the URL of the recorded live registry; exit 1 if none.
#   status   print the URL and pid and exit 0 when the registry answers;
#            exit 1 otherwise.
#   stop     stop the registry (SIGTERM, SIGKILL after 20 s) and delete the
#            state directory's files.
#   restart  start the registry again on the same port and with the same
#            options (after kill9, or stopping it with SIGTERM first when
#            it runs), so that clients keep their URL.  Its schemas are
#            lost with the old process unless REGISTRY_DATASOURCE_URL
#            (below) keeps them in a file.
#   kill9    kill -9 the registry; its port and options stay recorded.
#   pause, resume
#            SIGSTOP and SIGCONT the registry: while paused its port
#            accepts connections (the kernel's backlog) but nothing
#            answers, as a registry that hangs; its schemas are kept.
#
# Environment:
#   KSINK_REGISTRY_CACHE   cache of the unpacked application
#                          (default ${XDG_CACHE_HOME:-$HOME/.cache}/ksink/apicurio-2.6.13)
#   KSINK_REGISTRY_STATE   state directory: pid, url, port, options, registry.log,
#                          lock (default $top_builddir/tests/registry/run,
#                          or ${TMPDIR:-/tmp}/ksink-registry-UID outside
#                          make check); a test that needs a registry of its
#                          own (TLS, one it stops) sets it to a directory
#                          of its own
#   KSINK_REGISTRY_JAVA_OPTS  JVM options (default: a 384 MB heap, C1 only)
#   KSINK_REGISTRY_START_TIMEOUT  seconds to wait for it (default 90)
#   JAVA, MVN, PYTHON3     the programs to use
#   REGISTRY_DATASOURCE_URL  read by Apicurio itself: e.g.
#                          jdbc:h2:file:DIR/registry keeps the schemas in
#                          an H2 database file across restarts (default:
#                          in memory)
#
# Inside `make check` the shared registry is started by the first test that
# needs it (tests/registry/lib.sh) and stopped by tests/registry/stop.test,
# which runs after every test listed in REGISTRY_TESTS.

set -u

APICURIO_VERSION=2.6.13.Final
ARTIFACT=io.apicurio:apicurio-registry-app:$APICURIO_VERSION:tar.gz:all
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
CACHE=${KSINK_REGISTRY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksink/apicurio-2.6.13}
if [ -n "${KSINK_REGISTRY_STATE:-}" ]; then
	STATE=$KSINK_REGISTRY_STATE
elif [ -n "${top_builddir:-}" ]; then
	STATE=$top_builddir/tests/registry/run
else
	STATE=${TMPDIR:-/tmp}/ksink-registry-$(id -u)
fi
JAVA_OPTS=${KSINK_REGISTRY_JAVA_OPTS:--Xms64m -Xmx384m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.awt.headless=true}
START_TIMEOUT=${KSINK_REGISTRY_START_TIMEOUT:-90}
STOP_TIMEOUT=20
RUNNER=$CACHE/app/apicurio-registry-app-$APICURIO_VERSION-runner.jar

me=registry.sh
scriptdir=$(cd "$(dirname "$0")" && pwd)
. "$scriptdir/../kafka/service.sh"

# The pid of the recorded registry when that process is still ours.
registry_pid()
{
	recorded_pid "-Dksink.registry.state=$STATE "
}

# Succeeds once GET $1/subjects answers 200 (any certificate accepted: the
# probe only asks whether the registry is up).
probe()
{
	"$PYTHON3" - "$1" <<'EOF'
import ssl, sys, urllib.request
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    with urllib.request.urlopen(sys.argv[1] + '/subjects', timeout=3,
                                context=ctx) as r:
        sys.exit(0 if r.status == 200 else 1)
except Exception:
    sys.exit(1)
EOF
}

cmd_fetch()
{
	fill_cache "$CACHE/app" "$ARTIFACT, unpacked," copy_app
}

copy_app()
{
	rm -rf "$CACHE/dl"
	# From the cache directory: no project's pom.xml around.
	(cd "$CACHE" && mvn_logged dependency:copy -Dartifact="$ARTIFACT" \
	    -DoutputDirectory="$CACHE/dl") || exit 1
	tgz=$CACHE/dl/apicurio-registry-app-$APICURIO_VERSION-all.tar.gz
	[ -s "$tgz" ] || die "mvn did not copy $tgz"
	tar -xzf "$tgz" -C "$1" || die "cannot unpack $tgz into $1"
	[ -f "$1/${RUNNER##*/}" ] || die "$tgz holds no ${RUNNER##*/}"
	rm -rf "$CACHE/dl"
}

free_port()
{
	"$PYTHON3" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])' || die "cannot pick a free port with $PYTHON3"
}

abspath()
{
	case $1 in
	/*) echo "$1" ;;
	*) echo "$(pwd)/$1" ;;
	esac
}

kill_recorded()
{
	if pid=$(registry_pid); then
		stop_pid "$pid" registry
		echo "$me: stopped registry $pid" >&2
	fi
	rm -f "$STATE/pid"
}

# Start the JVM on $port with the options in $tls_cert and $tls_key, and
# wait until it answers.
launch()
{
	command -v "$JAVA" >/dev/null 2>&1 || die "java not found"
	command -v "$PYTHON3" >/dev/null 2>&1 || die "python3 not found"
	cmd_fetch
	if [ -n "$tls_cert" ]; then
		url=https://127.0.0.1:$port/apis/ccompat/v7
		set -- -Dquarkus.http.insecure-requests=disabled \
		    -Dquarkus.http.port=0 -Dquarkus.http.ssl-port="$port" \
		    -Dquarkus.http.ssl.certificate.files="$tls_cert" \
		    -Dquarkus.http.ssl.certificate.key-files="$tls_key"
	else
		url=http://127.0.0.1:$port/apis/ccompat/v7
		set -- -Dquarkus.http.port="$port"
	fi
	printf '%s\n%s\n' "$tls_cert" "$tls_key" >"$STATE/options"
	echo "$port" >"$STATE/port"
	rm -f "$STATE/url"
	echo "=== $(date '+%Y-%m-%d %H:%M:%S') starting the registry on $url" >>"$STATE/registry.log"
	# setsid: the registry outlives the test that started it and does not
	# get the signals sent to that test's process group.
	# shellcheck disable=SC2086
	(cd "$STATE" && setsid sh -c 'echo $$ >"$1/pid"; shift; exec "$@"' sh "$STATE" \
	    "$JAVA" $JAVA_OPTS -Dksink.registry.state="$STATE" \
	    -Dquarkus.http.host=127.0.0.1 "$@" \
	    -Dquarkus.log.console.color=false \
	    -jar "$RUNNER" </dev/null >>"$STATE/registry.log" 2>&1 9>&- &)
	t0=$(date +%s)
	waited=0
	while :; do
		sleep 0.5
		waited=$(($(date +%s) - t0))
		if registry_pid >/dev/null && probe "$url"; then
			echo "$url" >"$STATE/url"
			echo "$me: registry $(registry_pid) answers on $url after ${waited}s" >&2
			echo "$url"
			return 0
		fi
		if [ "$waited" -ge 3 ] && ! registry_pid >/dev/null; then
			tail -n 40 "$STATE/registry.log" >&2
			die "the registry exited during startup (log: $STATE/registry.log)"
		fi
		if [ "$waited" -ge "$START_TIMEOUT" ]; then
			tail -n 40 "$STATE/registry.log" >&2
			kill_recorded
			die "the registry did not answer on $url within ${START_TIMEOUT}s (log: $STATE/registry.log)"
		fi
	done
}

cmd_start()
{
	tls_cert= tls_key=
	while [ $# -gt 0 ]; do
		case $1 in
		--tls)
			[ $# -ge 3 ] || die "usage: $me start [--tls CERT KEY]"
			[ -r "$2" ] || die "cannot read the certificate $2"
			[ -r "$3" ] || die "cannot read the key $3"
			tls_cert=$(abspath "$2")
			tls_key=$(abspath "$3")
			shift 3
			;;
		*) die "usage: $me start [--tls CERT KEY]" ;;
		esac
	done
	lock_state
	if pid=$(registry_pid) && [ -r "$STATE/url" ] &&
	    [ "$(cat "$STATE/options" 2>/dev/null)" = "$(printf '%s\n%s' "$tls_cert" "$tls_key")" ] &&
	    probe "$(cat "$STATE/url")"; then
		cat "$STATE/url"
		return 0
	fi
	kill_recorded
	port=$(free_port) || exit 1
	launch
}

cmd_restart()
{
	[ -d "$STATE" ] || die "no registry recorded in $STATE: run '$me start' first"
	lock_state
	[ -r "$STATE/port" ] && [ -r "$STATE/options" ] ||
		die "no registry recorded in $STATE: run '$me start' first"
	kill_recorded
	port=$(cat "$STATE/port")
	tls_cert=$(sed -n 1p "$STATE/options")
	tls_key=$(sed -n 2p "$STATE/options")
	launch
}

cmd_url()
{
	registry_pid >/dev/null && [ -r "$STATE/url" ] ||
		die "no live registry recorded in $STATE"
	cat "$STATE/url"
}

cmd_status()
{
	if pid=$(registry_pid) && [ -r "$STATE/url" ] &&
	    probe "$(cat "$STATE/url")"; then
		echo "$(cat "$STATE/url") pid $pid state $STATE"
		return 0
	fi
	echo "no registry answers (state $STATE)"
	return 1
}

cmd_stop()
{
	[ -d "$STATE" ] || return 0
	lock_state
	kill_recorded
	rm -f "$STATE/registry.log" "$STATE/lock" "$STATE/url" \
	    "$STATE/options" "$STATE/port"
	rmdir "$STATE" 2>/dev/null
	return 0
}

cmd_signal()
{
	[ -d "$STATE" ] || die "no registry recorded in $STATE"
	pid=$(registry_pid) || die "no live registry recorded in $STATE"
	kill "-$1" "$pid" || die "cannot send SIG$1 to $pid"
	if [ "$1" = 9 ]; then
		wait_gone 10 "$pid" || die "registry $pid survived SIGKILL"
		rm -f "$STATE/pid"
	fi
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case $cmd in
fetch) cmd_fetch ;;
start) cmd_start "$@" ;;
url) cmd_url ;;
status) cmd_status ;;
stop) cmd_stop ;;
restart) cmd_restart ;;
kill9) cmd_signal 9 ;;
pause) cmd_signal STOP ;;
resume) cmd_signal CONT ;;
*)
	echo "usage: $me fetch|start [--tls CERT KEY]|url|status|stop|restart|kill9|pause|resume" >&2
	exit 2
	;;
esac
