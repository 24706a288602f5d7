#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# tests/kafka/broker.sh - a throw-away single-node Apache Kafka broker for
# the tests that need real transactions (read_committed, aborted and open
# transactions), which librdkafka's mock cluster does not implement.
#
# Usage: broker.sh start|stop|status|kill9|restart|sasl|classpath
#
#   start    make sure a broker runs and print its bootstrap address.  The
#            first call copies the Kafka 3.9.1 jars named by
#            tests/kafka/pom.xml into a cache with Maven, picks three free
#            ports on 127.0.0.1, writes server.properties for one KRaft
#            node that is both broker and controller, formats its storage
#            and starts it in the background.  Later calls find the live
#            broker recorded in the state directory and reuse it; a
#            recorded broker that is dead is replaced by a fresh one (use
#            restart to keep its data).  Concurrent calls are serialised
#            with flock(1).
#   stop     stop the broker (SIGTERM, SIGKILL after 30 s) and delete its
#            data and the state directory's files.
#   status   print the bootstrap address and exit 0 when the broker runs
#            and answers; exit 1 otherwise.
#   kill9    kill -9 the broker; its data and ports stay recorded.
#   restart  start the broker again on the same ports and data (after
#            kill9, or stop it with SIGTERM first when it still runs).
#   sasl     print the address of the SASL_PLAINTEXT listener, the user
#            name and its password, on one line separated by spaces;
#            exit 1 when no broker is recorded or it has no such listener.
#   classpath  print the Java class path of the cached Kafka jars (fetching
#            them first), for the tests' own Java clients.
#
# Listeners: PLAINTEXT on the address that start prints (also in
# $STATE/bootstrap), which the brokers and most tests use, and
# SASL_PLAINTEXT on a second port (in $STATE/bootstrap_sasl) with the PLAIN
# mechanism and one user, "ksink-test", whose password is made up at
# random each time start writes a new server.properties (in
# $STATE/sasl_credentials, mode 600: "USER PASSWORD").  Clients of the
# SASL listener set security.protocol=SASL_PLAINTEXT,
# sasl.mechanism=PLAIN, sasl.username and sasl.password; both listeners
# serve the same topics.
#
# Environment:
#   KSINK_KAFKA_CACHE      jar cache
#                          (default ${XDG_CACHE_HOME:-$HOME/.cache}/ksink/kafka-3.9.1)
#   KSINK_KAFKA_STATE      state directory: server.properties, data/,
#                          broker.log, pid, bootstrap, bootstrap_sasl,
#                          sasl_credentials, lock
#                          (default $top_builddir/tests/kafka/run, or
#                          ${TMPDIR:-/tmp}/ksink-kafka-UID outside make check)
#   KSINK_KAFKA_JAVA_OPTS  JVM options (default: a 512 MB heap)
#   KSINK_KAFKA_START_TIMEOUT  seconds to wait for the broker (default 90)
#   KSINK_KAFKA_HOST       the address the PLAINTEXT and SASL listeners bind
#                          and advertise (default 127.0.0.1; a test of its
#                          own may use an address of a namespace it made)
#   JAVA, MVN, PYTHON3     the programs to use
#
# Inside `make check` the broker is started by the first test that needs it
# (tests/kafka/lib.sh) and stopped by tests/kafka/stop.test, which runs after
# every test listed in KAFKA_TESTS.
#
# Broker settings worth knowing when writing a test: auto.create.topics.enable
# is false (create topics explicitly, tests/kafka/txproducer does),
# num.partitions=3, group.min.session.timeout.ms=1000 (so a test can use a
# short kafka.session.timeout.ms and see quick rebalances after a kill),
# transaction.max.timeout.ms=3600000, and timed-out transactions are aborted
# within about a second of their transaction.timeout.ms.
#
# broker.log holds the JVM's own output only: the jars carry no SLF4J
# binding, so the broker's log messages are discarded.

set -u

KAFKA_VERSION=3.9.1
scriptdir=$(cd "$(dirname "$0")" && pwd)
POM=$scriptdir/pom.xml
JAVA=${JAVA:-java}
MVN=${MVN:-mvn}
PYTHON3=${PYTHON3:-python3}
[ -n "$PYTHON3" ] || PYTHON3=python3
CACHE=${KSINK_KAFKA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksink/kafka-$KAFKA_VERSION}
if [ -n "${KSINK_KAFKA_STATE:-}" ]; then
	STATE=$KSINK_KAFKA_STATE
elif [ -n "${top_builddir:-}" ]; then
	STATE=$top_builddir/tests/kafka/run
else
	STATE=${TMPDIR:-/tmp}/ksink-kafka-$(id -u)
fi
JAVA_OPTS=${KSINK_KAFKA_JAVA_OPTS:--Xms128m -Xmx512m -XX:+UseSerialGC -Djava.awt.headless=true}
START_TIMEOUT=${KSINK_KAFKA_START_TIMEOUT:-90}
HOST=${KSINK_KAFKA_HOST:-127.0.0.1}
STOP_TIMEOUT=30

me=broker.sh
. "$scriptdir/service.sh"

# The pid of the recorded broker when that process is still our broker.
broker_pid()
{
	recorded_pid "kafka.Kafka $STATE/server.properties"
}

# A Kafka Metadata (v0) request; succeeds once the broker answers and lists
# at least one broker.
probe()
{
	"$PYTHON3" - "$1" <<'EOF'
import socket, struct, sys
host, _, port = sys.argv[1].rpartition(':')
try:
    s = socket.create_connection((host, int(port)), timeout=3)
    s.settimeout(5)
    cid = b'ksink-broker-probe'
    body = struct.pack('>hhih', 3, 0, 1, len(cid)) + cid + struct.pack('>i', 0)
    s.sendall(struct.pack('>i', len(body)) + body)
    buf = b''
    while len(buf) < 4 or len(buf) < 4 + struct.unpack('>i', buf[:4])[0]:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(1)
        buf += chunk
    corr, nbrokers = struct.unpack('>ii', buf[4:12])
    sys.exit(0 if corr == 1 and nbrokers > 0 else 1)
except (OSError, struct.error):
    sys.exit(1)
EOF
}

fetch_jars()
{
	fill_cache "$CACHE/libs" "the Kafka $KAFKA_VERSION jars" copy_jars
}

copy_jars()
{
	mvn_logged -f "$POM" dependency:copy-dependencies -DoutputDirectory="$1"
	ls "$1"/kafka_2.13-$KAFKA_VERSION.jar >/dev/null 2>&1 ||
		die "mvn did not copy kafka_2.13-$KAFKA_VERSION.jar"
}

write_properties()
{
	ports=$("$PYTHON3" -c '
import socket
socks = [socket.socket() for _ in range(3)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
') || die "cannot pick free ports with $PYTHON3"
	set -- $ports
	bport=$1
	cport=$2
	sport=$3
	sasl_user=ksink-test
	sasl_password=$("$PYTHON3" -c 'import secrets; print(secrets.token_hex(16))') ||
		die "cannot make up a password with $PYTHON3"
	(umask 077 && echo "$sasl_user $sasl_password" >"$STATE/sasl_credentials") ||
		die "cannot write $STATE/sasl_credentials"
	(umask 077 && : >"$STATE/server.properties") ||
		die "cannot write $STATE/server.properties"
	cat >"$STATE/server.properties" <<EOF
# Written by tests/kafka/broker.sh: one KRaft node, broker and controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://$HOST:$bport,CONTROLLER://127.0.0.1:$cport,SASL_PLAINTEXT://$HOST:$sport
advertised.listeners=PLAINTEXT://$HOST:$bport,SASL_PLAINTEXT://$HOST:$sport
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT
listener.name.sasl_plaintext.sasl.enabled.mechanisms=PLAIN
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$sasl_user="$sasl_password";
log.dirs=$STATE/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=3
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=500
group.initial.rebalance.delay.ms=0
group.min.session.timeout.ms=1000
transaction.max.timeout.ms=3600000
transaction.abort.timed.out.transaction.cleanup.interval.ms=1000
transaction.remove.expired.transaction.cleanup.interval.ms=60000
log.segment.bytes=16777216
log.retention.check.interval.ms=600000
log.cleaner.dedupe.buffer.size=4194304
log.cleaner.threads=1
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
background.threads=4
socket.send.buffer.bytes=1048576
socket.receive.buffer.bytes=1048576
EOF
	echo "$HOST:$bport" >"$STATE/bootstrap"
	echo "$HOST:$sport" >"$STATE/bootstrap_sasl"
}

# Start the java process on the properties and data already in $STATE and
# wait until it answers.
launch()
{
	command -v "$JAVA" >/dev/null 2>&1 || die "java not found"
	bootstrap=$(cat "$STATE/bootstrap")
	echo "=== $(date '+%Y-%m-%d %H:%M:%S') starting broker on $bootstrap" >>"$STATE/broker.log"
	# setsid: the broker must outlive the test that started it and not get
	# the signals sent to that test's process group.
	# shellcheck disable=SC2086
	setsid sh -c 'echo $$ >"$1/pid"; shift; exec "$@"' sh "$STATE" \
	    "$JAVA" $JAVA_OPTS -cp "$CACHE/libs/*" \
	    kafka.Kafka "$STATE/server.properties" \
	    </dev/null >>"$STATE/broker.log" 2>&1 9>&- &
	waited=0
	while :; do
		sleep 1
		waited=$((waited + 1))
		if pid=$(broker_pid) && probe "$bootstrap"; then
			echo "$me: broker $pid answers on $bootstrap after ${waited}s" >&2
			return 0
		fi
		if [ "$waited" -ge 3 ] && ! broker_pid >/dev/null; then
			tail -n 40 "$STATE/broker.log" >&2
			die "the broker exited during startup (log: $STATE/broker.log)"
		fi
		if [ "$waited" -ge "$START_TIMEOUT" ]; then
			tail -n 40 "$STATE/broker.log" >&2
			if pid=$(broker_pid); then
				kill -9 "$pid" 2>/dev/null
			fi
			die "the broker did not answer on $bootstrap within ${START_TIMEOUT}s (log: $STATE/broker.log)"
		fi
	done
}

cmd_start()
{
	lock_state
	if pid=$(broker_pid) && [ -r "$STATE/bootstrap" ] &&
	    probe "$(cat "$STATE/bootstrap")"; then
		cat "$STATE/bootstrap"
		return 0
	fi
	if pid=$(broker_pid); then
		# Recorded and alive but not answering: replace it.
		kill -9 "$pid" 2>/dev/null
		wait_gone 10 "$pid"
	fi
	command -v "$JAVA" >/dev/null 2>&1 || die "java not found"
	command -v "$PYTHON3" >/dev/null 2>&1 || die "python3 not found"
	fetch_jars
	rm -rf "$STATE/data" "$STATE/pid" "$STATE/bootstrap" "$STATE/broker.log" \
	    "$STATE/bootstrap_sasl" "$STATE/sasl_credentials"
	write_properties
	# Not starting with '-', which StorageTool would take for an option.
	cluster_id=$("$PYTHON3" -c 'import base64, uuid
while True:
    c = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not c.startswith("-"):
        break
print(c)')
	# shellcheck disable=SC2086
	if ! "$JAVA" $JAVA_OPTS -cp "$CACHE/libs/*" kafka.tools.StorageTool format \
	    -t "$cluster_id" -c "$STATE/server.properties" \
	    >>"$STATE/broker.log" 2>&1; then
		tail -n 40 "$STATE/broker.log" >&2
		die "kafka.tools.StorageTool format failed (log: $STATE/broker.log)"
	fi
	launch
	cat "$STATE/bootstrap"
}

cmd_restart()
{
	[ -d "$STATE" ] || die "no broker recorded in $STATE: run '$me start' first"
	lock_state
	[ -r "$STATE/server.properties" ] && [ -d "$STATE/data" ] ||
		die "no broker recorded in $STATE: run '$me start' first"
	if pid=$(broker_pid); then
		stop_pid "$pid" broker
	fi
	launch
	cat "$STATE/bootstrap"
}

cmd_kill9()
{
	[ -d "$STATE" ] || die "no broker recorded in $STATE"
	lock_state
	pid=$(broker_pid) || die "no live broker recorded in $STATE"
	kill -9 "$pid"
	wait_gone 10 "$pid" || die "broker $pid survived SIGKILL"
	echo "$me: killed broker $pid" >&2
}

cmd_stop()
{
	[ -d "$STATE" ] || return 0
	lock_state
	if pid=$(broker_pid); then
		stop_pid "$pid" broker
		echo "$me: stopped broker $pid" >&2
	fi
	rm -rf "$STATE/data" "$STATE/pid" "$STATE/bootstrap" \
	    "$STATE/broker.log" "$STATE/server.properties" "$STATE/lock" \
	    "$STATE/bootstrap_sasl" "$STATE/sasl_credentials"
	rmdir "$STATE" 2>/dev/null
	return 0
}

cmd_status()
{
	if pid=$(broker_pid) && [ -r "$STATE/bootstrap" ] &&
	    probe "$(cat "$STATE/bootstrap")"; then
		echo "$(cat "$STATE/bootstrap") pid $pid state $STATE"
		return 0
	fi
	echo "no broker answers (state $STATE)"
	return 1
}

cmd_classpath()
{
	fetch_jars
	ls "$CACHE"/libs/*.jar | tr '\n' ':' | sed 's/:$//'
	echo
}

cmd_sasl()
{
	broker_pid >/dev/null || die "no live broker recorded in $STATE"
	[ -r "$STATE/bootstrap_sasl" ] && [ -r "$STATE/sasl_credentials" ] ||
		die "the broker recorded in $STATE has no SASL_PLAINTEXT listener (started by an older broker.sh?): run '$me stop', then '$me start'"
	echo "$(cat "$STATE/bootstrap_sasl") $(cat "$STATE/sasl_credentials")"
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill9) cmd_kill9 ;;
restart) cmd_restart ;;
sasl) cmd_sasl ;;
classpath) cmd_classpath ;;
*)
	echo "usage: $me start|stop|status|kill9|restart|sasl|classpath" >&2
	exit 2
	;;
esac
