# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_connect.py - Kafka Connect in `make bench`
(tests/bench/bench.py): the Kafka Connect 3.9.1 jars (tests/bench/pom.xml,
copied from Maven Central on first use), the standalone worker both
Connect rows run (its properties and its JVM command line), and the row

  connect         Kafka Connect 3.9.1 standalone, FileStreamSinkConnector

checked like ksink's file sink.  The other Connect row, Debezium's JDBC
sink (connect-jdbc), is a PostgreSQL one: bench_pg.py.

Standard library only.
"""

import os
import shutil
import subprocess

from bench_harness import cache_dir, check_lines, die, free_port, say

CONNECT_VERSION = "3.9.1"       # also the broker's (tests/kafka/broker.sh)

CONNECT_CONTENDERS = ["connect"]
CONNECT_LABELS = {
    "connect": "Kafka Connect FileStreamSink (standalone)",
}
CONNECT_SHORT = {"connect": "Connect file"}


class ConnectContenders:
    """Kafka Connect, mixed into bench.py's Bench."""

    def connect_libs(self):
        """The Kafka Connect jars (tests/bench/pom.xml), copied from Maven
        Central on first use."""
        cache = cache_dir("KSINK_CONNECT_CACHE",
                          "connect-" + CONNECT_VERSION)
        libs = os.path.join(cache, "libs")
        if os.path.exists(os.path.join(libs, ".complete")):
            return libs
        os.makedirs(cache, exist_ok=True)
        tmp = libs + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        say("copying the Kafka Connect %s jars into %s"
            % (CONNECT_VERSION, libs))
        with open(os.path.join(cache, "mvn.log"), "wb") as log:
            rc = subprocess.call(
                [self.mvn, "-q", "-B", "-f",
                 os.path.join(self.srcdir, "tests", "bench", "pom.xml"),
                 "dependency:copy-dependencies",
                 "-DoutputDirectory=" + tmp], stdout=log, stderr=log)
        if rc != 0 or not os.path.exists(os.path.join(
                tmp, "connect-file-%s.jar" % CONNECT_VERSION)):
            die("mvn could not copy the Kafka Connect jars (see %s)"
                % os.path.join(cache, "mvn.log"))
        open(os.path.join(tmp, ".complete"), "w").close()
        shutil.rmtree(libs, ignore_errors=True)
        os.rename(tmp, libs)
        return libs

    def connect_worker(self, d, extra=""):
        """The properties file of a Kafka Connect standalone worker."""
        worker = os.path.join(d, "worker.properties")
        with open(worker, "w") as f:
            f.write("""# Kafka Connect standalone worker of `make bench`.
bootstrap.servers=%s
key.converter=org.apache.kafka.connect.storage.StringConverter
value.converter=org.apache.kafka.connect.storage.StringConverter
offset.storage.file.filename=%s
listeners=http://127.0.0.1:%d
consumer.isolation.level=read_committed
consumer.auto.offset.reset=earliest
%s""" % (self.bootstrap, os.path.join(d, "connect.offsets"), free_port(),
         extra))
        return worker

    def connect_argv(self, classpath, worker, connector, jvm=()):
        """ConnectStandalone with the JVM options of
        bin/connect-standalone.sh and bin/kafka-run-class.sh."""
        return [self.java, "-Xms256M", "-Xmx2G", "-server",
                "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-XX:InitiatingHeapOccupancyPercent=35",
                "-XX:+ExplicitGCInvokesConcurrent", "-XX:MaxInlineLevel=15",
                "-Djava.awt.headless=true"] + list(jvm) + [
                    "-cp", ":".join(os.path.join(c, "*")
                                    for c in classpath),
                    "org.apache.kafka.connect.cli.ConnectStandalone",
                    worker, connector]

    def c_connect(self, res, d, topic, oracle):
        libs = self.connect_libs()
        out = os.path.join(d, "connect.out")
        worker = self.connect_worker(d)
        connector = os.path.join(d, "file-sink.properties")
        with open(connector, "w") as f:
            f.write("""name=bench-%s
connector.class=org.apache.kafka.connect.file.FileStreamSinkConnector
tasks.max=1
file=%s
topics=%s
""" % (self.run_id, out, topic))
        want = oracle.value_bytes + oracle.total      # value + newline

        def done():
            return os.path.exists(out) and os.path.getsize(out) >= want

        def started():
            return os.path.exists(out) and os.path.getsize(out) > 0

        argv = self.connect_argv([libs], worker, connector)
        self.run_daemon(res, argv, done, [out], started,
                        os.path.join(d, "connect.log"), cwd=d)
        res.records = oracle.total
        res.payload = oracle.payload
        if res.error and res.error.startswith("exit status 143"):
            res.error = None        # the JVM's answer to SIGTERM
        if res.error:
            return
        res.ok, res.detail = check_lines(oracle, out)
