#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench.py - `make bench`: ksink's sinks side by side with
the kcat limit and the peers a user would pick instead, on one real broker.

usage: bench.py [--records N] [--records-1k N] [--sizes 100,1024]
                [--only NAME,...] [--repeat N] [--bootstrap HOST:PORT]
                [--librdkafka system|VERSION]
                [--results DIR] [--work DIR] [--keep] [--no-results]

For each value size (100 bytes and 1 KiB) a topic of 3 partitions is
filled by tests/kafka/txproducer in transactions, about one in ten of
them aborted, until a read_committed reading (tests/kafka/oracle) holds
at least N committed records (2,000,000 for 100 bytes and 500,000 for
1 KiB unless told otherwise).  Then, one after the other, each contender
reads the whole topic from offset zero with isolation.level=read_committed:

  kcat            kcat -C -e -q to /dev/null: what librdkafka delivers here,
                  the limit every ratio is taken against (run first and
                  last; the faster run counts)
  null            ksink, null sink (null.fsync = false): the worker alone
  file            ksink, file sink: one file, fsync per batch
  sqlite          ksink, SQLite sink, default table (ksink_records)
  sqlite-upsert   ksink, SQLite sink, the balance upsert of the README
  http            ksink, HTTP sink (JSON, ledger) into nginx answering 204
  connect         Kafka Connect 3.9.1 standalone, FileStreamSinkConnector
  kcat-sqlite3    kcat | awk | sqlite3 (tests/bench/kcat-sqlite.awk)
  pg-copy         PostgreSQL: psql's \\copy of the same rows from a file
                  into the same table on the same server (the limit)
  postgres        ksink, PostgreSQL sink, default table (ksink_records)
  postgres-upsert ksink, PostgreSQL sink, the balance upsert of the tests
  connect-jdbc    Kafka Connect 3.9.1 standalone, Debezium's JDBC sink
  kcat-psql       kcat | awk | psql with COPY (tests/bench/kcat-psql.awk)

The PostgreSQL contenders (tests/bench/bench_pg.py) share one throw-away
PostgreSQL 15 server (tests/postgres/server.sh, state in WORK/postgres),
each in a database of its own; the server is stopped at the end.

Each contender runs as its own process (a pipeline: its processes) under
GNU time(1), which reports its CPU time (user + system) and peak RSS; for
the pipeline both are summed over its three processes.  A daemon (ksink, Kafka Connect) runs until its sink shows
every record of the topic, and its elapsed time ends at the last change
of the sink's files (the modification time of the null sink's state
file, the file sink's manifest, the SQLite database and its WAL, the HTTP
sink's ledger, Connect's output file); it is then stopped with SIGTERM.
Nothing is subtracted: start-up (connecting, joining the consumer group,
a JVM's start) counts, and is also shown on its own as the time to the
first applied record.  Every ksink sink is then checked against the
oracle: null (records and bytes per partition), file (every committed
value exactly once, in offset order per partition, nothing else),
SQLite default table (the exact (partition, offset, value) rows), SQLite
upsert (every balance), HTTP (the Ksink-* headers nginx logged: record
counts and offset ranges per partition, without overlap); the peers are
checked the same way, and a run that fails its check is marked in the
table.

With --librdkafka VERSION (2.8.0, Debian 13's), ksink, its plugins and
the test helpers are built again against that librdkafka, which
tests/kafka/librdkafka.sh builds from Debian's source package and keeps
in ~/.cache/ksink/librdkafka-VERSION (a private root, never installed):
the build is a copy of the source tree in WORK/../librdkafka-VERSION,
checked to load that library; kcat (and the kcat | sqlite3 pipeline)
then run with it too (LD_LIBRARY_PATH), so that the ratios compare ksink
with kcat on the same librdkafka.  The results then go to
RESULTS/librdkafka-VERSION unless --results says otherwise.  The
machine table names the librdkafka that ksink and kcat run with, as
they report it at run time.

Results: a table on stdout; RESULTS/latest.md (the table, ratios against
the targets, the machine), RESULTS/latest.tsv, RESULTS/latest.png (gnuplot);
the table is also copied into tests/bench/README.md between its markers.
RESULTS defaults to tests/bench/results in the source tree.

Environment: top_srcdir, top_builddir (set by make), KSINK,
KSINK_PLUGIN_DIR, PYTHON3 as for the tests; KSINK_KAFKA_CACHE for the
broker's jars; KSINK_CONNECT_CACHE for Kafka Connect's (default
${XDG_CACHE_HOME:-~/.cache}/ksink/connect-3.9.1); KSINK_JDBC_CACHE for
Debezium's JDBC sink (default .../ksink/debezium-jdbc-3.5.0.Final);
KSINK_BENCH_CONNECT_LOG, the log level of the JDBC sink's worker (WARN);
KSINK_PG_BINDIR as for tests/postgres/server.sh; MVN, JAVA, KCAT, NGINX,
GNUPLOT, SQLITE3, AWK, PSQL to name the programs.

Standard library only.
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_pg  # noqa: E402  (tests/bench/bench_pg.py)
bench_pg.h = sys.modules[__name__]  # its helpers: say, spawn, ...

CONNECT_VERSION = "3.9.1"
PARTITIONS = 3
POLL = 0.05                     # seconds between two looks at a sink
RUN_TIMEOUT = 900               # seconds one contender may take
STALL = 120                     # seconds without a change of the sink
MIB = 1024.0 * 1024.0

CONTENDERS = ["kcat", "null", "file", "sqlite", "sqlite-upsert", "http",
              "connect", "kcat-sqlite3"] + bench_pg.PG_CONTENDERS

LABELS = {
    "kcat": "kcat -C -e -q > /dev/null (the limit)",
    "null": "ksink, null sink",
    "file": "ksink, file sink (fsync per batch)",
    "sqlite": "ksink, SQLite sink, default table",
    "sqlite-upsert": "ksink, SQLite sink, balance upsert",
    "http": "ksink, HTTP sink into nginx (204)",
    "connect": "Kafka Connect FileStreamSink (standalone)",
    "kcat-sqlite3": "kcat | awk | sqlite3",
}
LABELS.update(bench_pg.PG_LABELS)

# Which contenders are ksink's (oracle-checked, RSS target).
KSINK_RUNS = ("null", "file", "sqlite", "sqlite-upsert", "http") + \
    bench_pg.PG_KSINK_RUNS

UPSERT_INIT = ("CREATE TABLE IF NOT EXISTS balances(user TEXT PRIMARY KEY, "
               "amount INTEGER NOT NULL)")
UPSERT_STATEMENT = (
    "INSERT INTO balances(user, amount)\n"
    "    VALUES (json_extract(:value, '$.user'), "
    "json_extract(:value, '$.amount'))\n"
    "    ON CONFLICT(user) DO UPDATE SET amount = amount + excluded.amount")

T0 = time.time()


def say(msg):
    sys.stderr.write("bench: [%6.1fs] %s\n" % (time.time() - T0, msg))
    sys.stderr.flush()


def die(msg):
    say("error: " + msg)
    raise SystemExit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tool(env, default):
    return os.environ.get(env) or default


def need(prog, hint):
    path = shutil.which(prog)
    if path is None:
        die("%s not found: %s" % (prog, hint))
    return path


# ---- processes -----------------------------------------------------------

class Proc:
    """A child process run under GNU time(1), which reports its CPU time
    and peak RSS as wait4(2) gives them.  (Taking them from wait4 here
    would count this script's own memory: a child's peak RSS starts at
    its parent's at fork.)  Signals go to the command, not to time."""

    TIME = "/usr/bin/time"

    def __init__(self, argv, wrappers=0, **kw):
        self.argv = argv
        self.wrappers = wrappers      # programs between time and command
        fd, self.tfile = tempfile.mkstemp(prefix="bench-time-")
        os.close(fd)
        self.start = time.time()
        self.popen = subprocess.Popen(
            [self.TIME, "-f", "%U %S %M", "-o", self.tfile] + argv, **kw)
        self.pid = self.popen.pid
        self.child = None
        self.status = None
        self.end = None
        self.cpu = None
        self.maxrss_kib = None

    def poll(self):
        if self.status is not None:
            return True
        pid, status, _ = os.wait4(self.pid, os.WNOHANG)
        if pid == 0:
            return False
        self._reaped(status)
        return True

    def wait(self, timeout=None):
        deadline = None if timeout is None else time.time() + timeout
        while not self.poll():
            if deadline is not None and time.time() > deadline:
                return False
            time.sleep(0.02)
        return True

    def _reaped(self, status):
        self.end = time.time()
        self.status = os.waitstatus_to_exitcode(status)
        self.popen.returncode = self.status
        try:
            with open(self.tfile) as f:
                last = f.read().strip().splitlines()[-1].split()
            self.cpu = float(last[0]) + float(last[1])
            self.maxrss_kib = int(last[2])
        except (OSError, IndexError, ValueError):
            self.cpu, self.maxrss_kib = 0.0, 0
        os.unlink(self.tfile)

    def command_pid(self):
        """The pid of the command: time's only child, or that child's
        child and so on through the wrappers (perf)."""
        deadline = time.time() + 5
        while self.child is None and time.time() < deadline:
            pid = self.pid
            for _ in range(self.wrappers + 1):
                try:
                    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                        kids = f.read().split()
                except OSError:
                    return None
                if not kids:
                    pid = None
                    break
                pid = int(kids[0])
            if pid is not None:
                self.child = pid
                break
            if self.poll():
                return None
            time.sleep(0.01)
        return self.child

    def signal(self, sig):
        if self.status is None:
            pid = self.command_pid()
            try:
                os.kill(pid if pid else self.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout=60):
        """SIGTERM, SIGKILL when it lingers; returns the exit status."""
        self.signal(signal.SIGTERM)
        if not self.wait(timeout):
            say("%s ignored SIGTERM for %d s, killing it"
                % (os.path.basename(self.argv[0]), timeout))
            self.signal(signal.SIGKILL)
            self.wait()
        return self.status


LIVE = []


def spawn(argv, wrappers=0, **kw):
    p = Proc(argv, wrappers, **kw)
    LIVE.append(p)
    return p


def kill_all():
    for p in LIVE:
        if p.status is None:
            p.signal(signal.SIGTERM)
    for p in LIVE:
        if p.status is None and not p.wait(10):
            p.signal(signal.SIGKILL)
            p.wait(5)


# ---- the oracle ----------------------------------------------------------

class Oracle:
    """What a read_committed reading of the topic holds, from
    tests/kafka/oracle's TSV (PARTITION, OFFSET, KEY, VALUE)."""

    AMOUNT = re.compile(r'"amount":(-?[0-9]+)')

    def __init__(self, path, topic):
        self.path = path
        self.topic = topic
        self.count = {}         # partition -> records
        self.last = {}          # partition -> last offset
        self.bytes = {}         # partition -> key + value bytes
        self.value_bytes = 0    # sum of value lengths (no newline)
        self.balances = {}      # user -> sum of amounts
        self.total = 0
        with open(path, "rb") as f:
            for line in f:
                p, off, key, value = line.rstrip(b"\n").split(b"\t", 3)
                p = int(p)
                key = b"" if key == b"-" else key
                value = b"" if value == b"-" else value
                self.count[p] = self.count.get(p, 0) + 1
                self.last[p] = int(off)
                self.bytes[p] = self.bytes.get(p, 0) + len(key) + len(value)
                self.value_bytes += len(value)
                m = self.AMOUNT.search(value.decode())
                user = key.decode()
                self.balances[user] = (self.balances.get(user, 0)
                                       + int(m.group(1)))
                self.total += 1
        self.next = {p: o + 1 for p, o in self.last.items()}
        self.payload = sum(self.bytes.values())
        self._id2p = None

    def records(self):
        """(partition, offset, key, value) in partition, offset order."""
        with open(self.path, "rb") as f:
            for line in f:
                p, off, key, value = line.rstrip(b"\n").split(b"\t", 3)
                yield (int(p), int(off), None if key == b"-" else key,
                       None if value == b"-" else value)

    def id2p(self):
        # txproducer's values start {"id":"SEED-SEQ", unique per record.
        if self._id2p is None:
            self._id2p = {}
            for p, off, key, value in self.records():
                self._id2p[value[7:value.index(b'"', 7)]] = p
        return self._id2p

    def values_of(self, partition):
        for p, off, key, value in self.records():
            if p == partition:
                yield value

    def per_partition(self):
        """One iterator of values per partition, in offset order."""
        return {p: self.values_of(p) for p in self.count}


def check_lines(oracle, path):
    """A file of values, one per line: every committed value once, each
    partition in offset order, nothing else.  Returns (ok, detail)."""
    id2p = oracle.id2p()
    its = oracle.per_partition()
    seen = 0
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip(b"\n")
            try:
                p = id2p[line[7:line.index(b'"', 7)]]
            except (KeyError, ValueError):
                return False, "%s:%d: not a committed record: %.60r" % (
                    path, lineno, line)
            want = next(its[p], None)
            if want != line:
                return False, ("%s:%d: partition %d out of order or "
                               "duplicated: %.60r" % (path, lineno, p, line))
            seen += 1
    if seen != oracle.total:
        return False, "%d lines, the oracle has %d records" % (
            seen, oracle.total)
    return True, "%d lines = oracle, per-partition order" % seen


def check_rows(oracle, db, query):
    """Rows (partition, offset, value) ordered by partition, offset must be
    exactly the oracle's records."""
    con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(db),
                          uri=True)
    n = 0
    try:
        it = oracle.records()
        for row in con.execute(query):
            want = next(it, None)
            value = row[2]
            if isinstance(value, str):
                value = value.encode()
            if want is None or (want[0], want[1], want[3]) != \
                    (row[0], row[1], value):
                return False, "row %d: (%s, %s) differs from the " \
                    "oracle's %s" % (n, row[0], row[1],
                                     want and (want[0], want[1]))
            n += 1
        if next(it, None) is not None:
            return False, "%d rows, the oracle has %d records" % (
                n, oracle.total)
    finally:
        con.close()
    return True, "%d rows = oracle (partition, offset, value)" % n


def sqlite_offsets(db, table, topic):
    try:
        con = sqlite3.connect("file:%s?mode=ro" % urllib.parse.quote(db),
                              uri=True, timeout=1)
        try:
            rows = con.execute(
                'SELECT "partition", "next_offset" FROM %s WHERE '
                '"topic" = ?' % table, (topic,)).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return {}
    return dict(rows)


# ---- contenders ----------------------------------------------------------

class Result:
    def __init__(self, size, name):
        self.size = size
        self.name = name
        self.records = 0
        self.payload = 0
        self.elapsed = None
        self.startup = None
        self.cpu = None
        self.rss_kib = None
        self.ok = None          # oracle check: True, False, None (none)
        self.detail = ""
        self.note = ""
        self.error = None
        self.extra = {}

    @property
    def rate(self):
        return self.records / self.elapsed if self.elapsed else 0.0

    @property
    def mbps(self):
        return self.payload / self.elapsed / 1e6 if self.elapsed else 0.0

    @property
    def cpu_per_m(self):
        return self.cpu / self.records * 1e6 if self.records else 0.0


class Bench(bench_pg.PgContenders):
    def __init__(self, args):
        self.args = args
        self.srcdir = os.path.abspath(os.environ.get("top_srcdir") or
                                      os.path.join(os.path.dirname(
                                          __file__), "..", ".."))
        self.builddir = os.path.abspath(os.environ.get("top_builddir") or
                                        ".")
        self.ksink = os.environ.get("KSINK") or os.path.join(
            self.builddir, "ksink")
        self.plugins = os.environ.get("KSINK_PLUGIN_DIR") or os.path.join(
            self.builddir, "connectors", ".libs")
        testbin = os.environ.get("KSINK_TESTBIN") or os.path.join(
            self.builddir, "tests")
        self.txproducer = os.path.join(testbin, "kafka", "txproducer")
        self.oracle_bin = os.path.join(testbin, "kafka", "oracle")
        self.broker_sh = os.path.join(self.srcdir, "tests", "kafka",
                                      "broker.sh")
        self.work = os.path.abspath(args.work or os.path.join(
            self.builddir, "tests", "bench", "run"))
        self.results_dir = os.path.abspath(args.results or os.path.join(
            self.srcdir, "tests", "bench", "results", *(
                [] if args.librdkafka == "system" else
                ["librdkafka-" + args.librdkafka])))
        self.kcat = tool("KCAT", "kcat")
        self.kcat_env = None
        self.nginx = tool("NGINX", "nginx")
        self.gnuplot = tool("GNUPLOT", "gnuplot")
        self.sqlite3 = tool("SQLITE3", "sqlite3")
        self.awk = tool("AWK", "awk")
        self.java = tool("JAVA", "java")
        self.mvn = tool("MVN", "mvn")
        self.bootstrap = args.bootstrap
        self.own_broker = False
        self.results = []
        self.load = {}
        self.runs = 0
        self.run_id = None
        self.pg_init()

    # -- set-up --

    def use_librdkafka(self, version):
        """ksink, its plugins and the test helpers built against the
        librdkafka of tests/kafka/librdkafka.sh, in a copy of the source
        tree; kcat run with that library."""
        script = os.path.join(self.srcdir, "tests", "kafka",
                              "librdkafka.sh")
        env = dict(os.environ, KSINK_LIBRDKAFKA_DEB=version if "-" in
                   version else version + "-1")
        say("librdkafka %s (tests/kafka/librdkafka.sh)" % version)
        out = subprocess.run(["bash", script, "configure"], env=env,
                             stdout=subprocess.PIPE, check=False)
        if out.returncode != 0:
            die("tests/kafka/librdkafka.sh could not provide librdkafka %s"
                % version)
        conf_args = out.stdout.decode().splitlines()
        libdir = None
        for a in conf_args:
            if a.startswith("PKG_CONFIG_PATH="):
                libdir = os.path.dirname(a.split("=", 1)[1])
        if libdir is None:
            die("no PKG_CONFIG_PATH from tests/kafka/librdkafka.sh")
        build = os.path.join(os.path.dirname(self.work),
                             "librdkafka-" + version)
        ls = subprocess.run(["git", "-C", self.srcdir, "ls-files", "-z"],
                            stdout=subprocess.PIPE, check=False)
        if ls.returncode != 0:
            die("--librdkafka copies the source tree with git ls-files: "
                "%s is not a git checkout" % self.srcdir)
        os.makedirs(build, exist_ok=True)
        # Only the files that changed, so that make rebuilds little.
        subprocess.run(["xargs", "-0", "cp", "-p", "-u", "--parents", "-t",
                        build], input=ls.stdout, cwd=self.srcdir,
                       check=True)
        log = open(os.path.join(build, "bench-build.log"), "ab")
        steps = []
        if not os.path.exists(os.path.join(build, "Makefile")):
            steps += [["autoreconf", "-fi"],
                      ["./configure", "-q", "--enable-werror"] + conf_args]
        steps.append(["make", "-j2", "all", "tests/kafka/txproducer",
                      "tests/kafka/oracle"])
        say("building ksink against librdkafka %s in %s" % (version, build))
        for step in steps:
            if subprocess.call(step, cwd=build, stdout=log,
                               stderr=subprocess.STDOUT) != 0:
                die("%s failed in %s (log: %s)" % (" ".join(step[:2]),
                                                   build, log.name))
        chk = subprocess.run(["bash", script, "check", build], env=env,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, check=False)
        if chk.returncode != 0:
            die("the build in %s does not run with librdkafka %s: %s" % (
                build, version, chk.stdout.decode().strip()))
        self.ksink = os.path.join(build, "ksink")
        self.plugins = os.path.join(build, "connectors", ".libs")
        self.txproducer = os.path.join(build, "tests", "kafka",
                                       "txproducer")
        self.oracle_bin = os.path.join(build, "tests", "kafka", "oracle")
        ld = os.environ.get("LD_LIBRARY_PATH")
        self.kcat_env = dict(os.environ, LD_LIBRARY_PATH=libdir + (
            ":" + ld if ld else ""))

    def check_tools(self):
        for f in (self.ksink, self.txproducer, self.oracle_bin):
            if not os.access(f, os.X_OK):
                die("%s is not built (make bench builds it)" % f)
        wanted = set(self.args.only)
        hint = "run tests/bench/install-deps.sh"
        need(self.kcat, hint)
        if wanted & {"http"}:
            need(self.nginx, hint)
        if wanted & {"connect", "connect-jdbc"} or not self.bootstrap:
            need(self.java, hint)
        if wanted & {"connect", "connect-jdbc"}:
            need(self.mvn, hint)
        self.pg_check_tools(wanted)
        if wanted & {"kcat-sqlite3"}:
            need(self.sqlite3, hint)
            need(self.awk, hint)

    def start_broker(self):
        if self.bootstrap:
            return
        env = dict(os.environ, KSINK_KAFKA_STATE=os.path.join(
            self.work, "kafka"))
        say("starting a Kafka broker (tests/kafka/broker.sh)")
        out = subprocess.run(["sh", self.broker_sh, "start"], env=env,
                             stdout=subprocess.PIPE, check=False)
        if out.returncode != 0:
            die("the broker did not start")
        self.bootstrap = out.stdout.decode().strip()
        self.own_broker = True
        self.broker_env = env
        say("broker at %s" % self.bootstrap)

    def stop_broker(self):
        if self.own_broker and not self.args.keep:
            subprocess.run(["sh", self.broker_sh, "stop"],
                           env=self.broker_env, check=False,
                           stderr=subprocess.DEVNULL)

    def connect_libs(self):
        cache = os.environ.get("KSINK_CONNECT_CACHE") or os.path.join(
            os.environ.get("XDG_CACHE_HOME") or
            os.path.expanduser("~/.cache"), "ksink",
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

    def fill(self, size, want):
        """A topic holding at least want committed records of size bytes;
        returns (topic, Oracle)."""
        topic = "ksink-bench-%d-%d" % (size, want)
        d = os.path.join(self.work, str(size))
        os.makedirs(d, exist_ok=True)
        plog = open(os.path.join(d, "producer.log"), "ab")
        # A broker given with --bootstrap may hold the topic already.
        listed = subprocess.run([self.oracle_bin, "-b", self.bootstrap,
                                 "-L"], stdout=subprocess.PIPE,
                                stderr=plog, check=False)
        if topic in listed.stdout.decode().split():
            oracle = self.read_oracle(topic, d)
            if oracle.total >= want:
                say("%s: %d committed records (%.1f MB of keys and "
                    "values), filled before" % (topic, oracle.total,
                                                oracle.payload / 1e6))
                return topic, oracle
        # About 10 % of the transactions (of up to 10,000 records) are
        # aborted; produce a little more than asked, then top it up.
        n = int(want * 1.12) + 1
        say("filling %s: %d records of %d bytes, in transactions, some "
            "aborted" % (topic, n, size))
        seed = 1
        t = time.time()
        while True:
            rc = subprocess.call(
                [self.txproducer, "-b", self.bootstrap, "-t", topic,
                 "-p", str(PARTITIONS), "-n", str(n), "-m", "10000",
                 "-a", "10" if seed == 1 else "0", "-z", str(size),
                 "-s", str(seed)], stderr=plog)
            if rc != 0:
                die("txproducer failed (see %s)" % plog.name)
            oracle = self.read_oracle(topic, d)
            if oracle.total >= want:
                break
            n = want - oracle.total
            seed += 1
        say("%s: %d committed records (%.1f MB of keys and values) in "
            "%.0f s" % (topic, oracle.total, oracle.payload / 1e6,
                        time.time() - t))
        return topic, oracle

    def read_oracle(self, topic, d):
        path = os.path.join(d, "oracle.tsv")
        with open(path, "wb") as out, \
                open(os.path.join(d, "oracle.log"), "ab") as log:
            rc = subprocess.call([self.oracle_bin, "-b", self.bootstrap,
                                  "-t", topic, "-w", "300"], stdout=out,
                                 stderr=log)
        if rc != 0:
            die("oracle failed on %s" % topic)
        return Oracle(path, topic)

    # -- running a daemon until its sink has everything --

    def run_daemon(self, res, argv, done, artefacts, started, log, env=None,
                   cwd=None, wrappers=0, progress=None):
        """Runs argv until done() is true, then SIGTERM.  The elapsed
        time ends at the newest modification time of the artefacts, or
        when done() was seen true when there are none (a database
        server's tables); started() tells when the first record was
        applied.  progress() (default: the artefacts' modification
        times) changes while the sink makes progress."""
        logf = open(log, "ab")
        p = spawn(argv, wrappers, stdout=logf, stderr=subprocess.STDOUT,
                  env=env, cwd=cwd)
        first = None
        deadline = p.start + RUN_TIMEOUT
        finished = False
        last_change, last_seen = time.time(), None
        while time.time() < deadline:
            if p.poll():
                break
            if first is None and started():
                first = time.time()
            if done():
                finished = True
                break
            seen = progress() if progress else [
                os.stat(a).st_mtime for a in artefacts if os.path.exists(a)]
            if seen != last_seen:
                last_change, last_seen = time.time(), seen
            elif time.time() - last_change > STALL:
                res.error = "no progress for %d s (log: %s)" % (STALL, log)
                break
            time.sleep(POLL)
        t_done = time.time()
        # The sink may still be finishing its step (the HTTP sink's ledger
        # commits after the receiver answered): wait until its files
        # stay unchanged for half a second.
        mtimes = []
        while finished and p.status is None:
            now = [os.stat(a).st_mtime for a in artefacts if
                   os.path.exists(a)]
            if now == mtimes and time.time() - max(now or [0]) > 0.5:
                break
            if time.time() - t_done > 10:
                break
            mtimes = now
            time.sleep(0.1)
            p.poll()
        t_done = time.time()
        mtimes = [os.stat(a).st_mtime for a in artefacts if
                  os.path.exists(a)]
        if res.error:
            pass
        elif p.status is not None:
            res.error = "exited by itself with status %d (log: %s)" % (
                p.status, log)
        elif not finished:
            res.error = "not done after %d s (log: %s)" % (RUN_TIMEOUT,
                                                          log)
        status = p.stop()
        if res.error is None and status != 0:
            res.error = "exit status %d after SIGTERM (log: %s)" % (
                status, log)
        end = max(mtimes) if mtimes else t_done
        if end < p.start or end > t_done:
            end = t_done
        res.elapsed = end - p.start
        res.startup = (first - p.start) if first else None
        res.cpu = p.cpu
        res.rss_kib = p.maxrss_kib
        return p

    def ksink_conf(self, d, topic, body):
        conf = os.path.join(d, "ksink.ini")
        # Private: a postgres.conninfo is a secret.
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            worker = dict([("log.level", "info")] + [
                (k[7:], v) for k, v in self.args.set
                if k.startswith("worker.")])
            f.write("[worker]\nplugin.dir = %s\n%s\n"
                    "[kafka]\nbootstrap.servers = %s\n\n"
                    "[connector bench]\ntopics = %s\n"
                    "kafka.group.id = ksink-bench-%s\n%s%s"
                    % (self.plugins,
                       "".join("%s = %s\n" % kv for kv in worker.items()),
                       self.bootstrap, topic, self.run_id, body,
                       "".join("%s = %s\n" % kv for kv in self.args.set
                               if not kv[0].startswith("worker."))))
        rc = subprocess.call([self.ksink, "-t", "-c", conf],
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(d, "check.log"),
                                         "wb"))
        if rc != 0:
            die("ksink -t refuses %s: %s" % (conf, open(os.path.join(
                d, "check.log")).read()))
        return conf

    def run_ksink(self, res, d, topic, oracle, body, done, artefacts,
                  started, progress=None):
        conf = self.ksink_conf(d, topic, body)
        env = dict(os.environ, KSINK_PLUGIN_DIR=self.plugins)
        argv = [self.ksink, "-c", conf]
        wrappers = 0
        prof = self.args.profile
        if prof == "callgrind":
            # valgrind runs the program in its own process.
            argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file="
                    + os.path.join(d, "callgrind.out")] + argv
        elif prof == "perf":
            argv = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "999",
                    "--call-graph", "dwarf,16384", "-o",
                    os.path.join(d, "perf.data"), "--"] + argv
            wrappers = 1
        self.run_daemon(res, argv, done, artefacts, started,
                        os.path.join(d, "ksink.log"), env=env,
                        wrappers=wrappers, progress=progress)
        res.records = oracle.total
        res.payload = oracle.payload
        if prof:
            self.profile_report(d, prof)

    def profile_report(self, d, prof):
        out = os.path.join(d, prof + ".txt")
        with open(out, "w") as f:
            if prof == "callgrind":
                for inclusive in ("yes", "no"):
                    f.write("==== callgrind_annotate --inclusive=%s\n"
                            % inclusive)
                    f.flush()
                    text = cmd(["callgrind_annotate", "--inclusive="
                                + inclusive, os.path.join(
                                    d, "callgrind.out")])
                    f.write("\n".join(text.splitlines()[:90]) + "\n")
            else:
                for children in ("--no-children", "--children"):
                    f.write("==== perf report %s\n" % children)
                    text = cmd(["perf", "report", "-i",
                                os.path.join(d, "perf.data"), children,
                                "--sort", "dso,sym", "--stdio", "-g",
                                "none"])
                    f.write("\n".join(l for l in text.splitlines()
                                      if l and not l.startswith("#"))[:8000]
                            + "\n")
        say("profile: %s" % out)

    # -- the contenders --

    def c_kcat(self, res, d, topic, oracle):
        argv = [self.kcat, "-C", "-b", self.bootstrap, "-t", topic,
                "-o", "beginning", "-e", "-q",
                "-X", "isolation.level=read_committed"]
        with open(os.devnull, "wb") as null, \
                open(os.path.join(d, "kcat.log"), "wb") as log:
            p = spawn(argv, stdout=null, stderr=log, env=self.kcat_env)
            if not p.wait(RUN_TIMEOUT):
                p.stop()
                res.error = "not done after %d s" % RUN_TIMEOUT
        if p.status != 0 and res.error is None:
            res.error = "exit status %d" % p.status
        res.elapsed = p.end - p.start
        res.cpu = p.cpu
        res.rss_kib = p.maxrss_kib
        res.records = oracle.total
        res.payload = oracle.payload
        res.detail = "no check (output to /dev/null)"

    def c_null(self, res, d, topic, oracle):
        if not os.path.exists(os.path.join(self.plugins, "null.so")):
            res.error = "the null sink is not built (%s/null.so)" % (
                self.plugins)
            return
        state = os.path.join(d, "null.state")

        def read_state():
            st = {}
            try:
                with open(state) as f:
                    for line in f.readlines()[1:]:
                        t, p, nxt, recs, nbytes = line.split()
                        if t == topic:
                            st[int(p)] = (int(nxt), int(recs), int(nbytes))
            except OSError:
                pass
            return st

        def done():
            st = read_state()
            return all(st.get(p, (0,))[0] >= n for p, n in
                       oracle.next.items())

        def started():
            return any(v[1] > 0 for v in read_state().values())

        self.run_ksink(res, d, topic, oracle,
                       "type = null\nnull.state = %s\nnull.fsync = false\n"
                       % state, done, [state], started)
        if res.error:
            return
        st = read_state()
        bad = [p for p in oracle.count if st.get(p) !=
               (oracle.next[p], oracle.count[p], oracle.bytes[p])]
        res.ok = not bad and len(st) == len(oracle.count)
        res.detail = ("records, bytes and next offset of every partition "
                      "= oracle" if res.ok else
                      "partitions %s differ: %s vs oracle %s" % (
                          bad, st, {p: (oracle.next[p], oracle.count[p],
                                        oracle.bytes[p]) for p in bad}))

    def c_file(self, res, d, topic, oracle):
        out = os.path.join(d, "out.log")
        manifest = os.path.join(d, "ksink-bench.manifest")

        def offsets():
            st = {}
            try:
                with open(manifest) as f:
                    for line in f:
                        w = line.split()
                        if len(w) == 4 and w[0] == "offset" and \
                                w[1] == topic:
                            st[int(w[2])] = int(w[3])
            except OSError:
                pass
            return st

        def done():
            st = offsets()
            return all(st.get(p, 0) >= n for p, n in oracle.next.items())

        def started():
            return os.path.exists(out) and os.path.getsize(out) > 0

        self.run_ksink(res, d, topic, oracle,
                       "type = file\nfile.path = %s\nfile.format = value\n"
                       % out, done, [manifest], started)
        if res.error:
            return
        res.ok, res.detail = check_lines(oracle, out)
        if res.ok and offsets() != oracle.next:
            res.ok = False
            res.detail = "manifest offsets %s, oracle %s" % (
                offsets(), oracle.next)

    def c_sqlite(self, res, d, topic, oracle, upsert=False):
        db = os.path.join(d, "bench.db")

        def done():
            st = sqlite_offsets(db, "ksink_offsets", topic)
            return all(st.get(p, 0) >= n for p, n in oracle.next.items())

        def started():
            return bool(sqlite_offsets(db, "ksink_offsets", topic))

        body = "type = sqlite\nsqlite.path = %s\n" % db
        if upsert:
            body += "sqlite.init = %s\nsqlite.statement = %s\n" % (
                UPSERT_INIT, UPSERT_STATEMENT)
        self.run_ksink(res, d, topic, oracle, body, done,
                       [db, db + "-wal"], started)
        if res.error:
            return
        if upsert:
            con = sqlite3.connect(db)
            got = dict(con.execute("SELECT user, amount FROM balances"))
            con.close()
            bad = sorted(u for u in set(got) | set(oracle.balances)
                         if got.get(u) != oracle.balances.get(u))
            res.ok = not bad
            res.detail = ("%d balances = oracle sums" % len(got)
                          if res.ok else "balances of %s differ" % bad[:5])
        else:
            res.ok, res.detail = check_rows(
                oracle, db, 'SELECT "partition", "offset", "value" FROM '
                'ksink_records ORDER BY "partition", "offset"')
        st = sqlite_offsets(db, "ksink_offsets", topic)
        if res.ok and st != oracle.next:
            res.ok = False
            res.detail = "ksink_offsets %s, oracle %s" % (st, oracle.next)

    def c_sqlite_upsert(self, res, d, topic, oracle):
        self.c_sqlite(res, d, topic, oracle, upsert=True)

    def start_nginx(self, d):
        port = free_port()
        prefix = os.path.join(d, "nginx")
        os.makedirs(prefix, exist_ok=True)
        with open(os.path.join(self.srcdir, "tests", "bench",
                               "nginx.conf.in")) as f:
            text = f.read()
        text = text.replace("@PREFIX@", prefix).replace("@PORT@", str(port))
        conf = os.path.join(prefix, "nginx.conf")
        with open(conf, "w") as f:
            f.write(text)
        p = spawn([self.nginx, "-p", prefix, "-e",
                   os.path.join(prefix, "error.log"), "-c", conf],
                  stdout=subprocess.DEVNULL,
                  stderr=open(os.path.join(prefix, "stderr.log"), "wb"))
        deadline = time.time() + 20
        while time.time() < deadline:
            if p.poll():
                die("nginx exited with status %d (see %s)" % (
                    p.status, prefix))
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return p, port, prefix
            except OSError:
                time.sleep(0.1)
        die("nginx does not answer on port %d" % port)

    def c_http(self, res, d, topic, oracle):
        nginx, port, prefix = self.start_nginx(d)
        ledger = os.path.join(d, "ledger.db")
        access = os.path.join(prefix, "access.log")
        # The ledger is locked while ksink runs: follow what nginx logs,
        # then wait for the ledger to settle (run_daemon).
        seen = {"pos": 0, "last": {}}

        def follow():
            try:
                with open(access, "rb") as f:
                    f.seek(seen["pos"])
                    data = f.read()
            except OSError:
                return
            end = data.rfind(b"\n") + 1
            seen["pos"] += end
            for line in data[:end].splitlines():
                w = line.split()
                if len(w) >= 5 and w[0] == b"204":
                    q, last = int(w[2]), int(w[4])
                    if last > seen["last"].get(q, -1):
                        seen["last"][q] = last

        def done():
            follow()
            return all(seen["last"].get(p, -1) >= n - 1 for p, n in
                       oracle.next.items())

        def started():
            follow()
            return bool(seen["last"])

        try:
            self.run_ksink(res, d, topic, oracle,
                           "type = http\nhttp.url = http://127.0.0.1:%d/"
                           "ingest\nhttp.state.path = %s\n" % (port, ledger),
                           done, [ledger, ledger + "-wal"], started)
        finally:
            nginx.signal(signal.SIGQUIT)     # graceful: flushes its log
            if not nginx.wait(20):
                nginx.stop()
        res.extra["receiver_cpu"] = nginx.cpu
        if res.error:
            return
        # status topic partition first last count content_length
        ranges = {}
        requests = 0
        bad_status = 0
        with open(os.path.join(prefix, "access.log")) as f:
            for line in f:
                w = line.split()
                requests += 1
                if w[0] != "204":
                    bad_status += 1
                    continue
                if w[1] != topic:
                    continue
                ranges.setdefault(int(w[2]), []).append(
                    (int(w[3]), int(w[4]), int(w[5])))
        problems = []
        for p in oracle.count:
            rs = sorted(ranges.get(p, []))
            n = sum(r[2] for r in rs)
            if n != oracle.count[p]:
                problems.append("partition %d: %d records received, "
                                "oracle %d" % (p, n, oracle.count[p]))
            for a, b in zip(rs, rs[1:]):
                if b[0] <= a[1]:
                    problems.append("partition %d: ranges %s and %s "
                                    "overlap" % (p, a, b))
                    break
            if rs and rs[-1][1] != oracle.last[p]:
                problems.append("partition %d: last offset %d, oracle %d"
                                % (p, rs[-1][1], oracle.last[p]))
        st = sqlite_offsets(ledger, "ksink_offsets", topic)
        if st != oracle.next:
            problems.append("ledger offsets %s, oracle %s" % (st,
                                                              oracle.next))
        res.ok = not problems
        res.extra["requests"] = requests
        res.detail = ("%d requests; records per partition, offset ranges "
                      "without overlap and ledger offsets = oracle"
                      % requests if res.ok else "; ".join(problems[:3]))
        if bad_status:
            res.detail += "; %d requests answered other than 204" % (
                bad_status)
        res.note = "nginx CPU %.1f s" % nginx.cpu

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

    def c_kcat_sqlite3(self, res, d, topic, oracle):
        db = os.path.join(d, "peer.db")
        log = open(os.path.join(d, "pipeline.log"), "wb")
        kcat = spawn([self.kcat, "-C", "-b", self.bootstrap, "-t", topic,
                      "-o", "beginning", "-e", "-q",
                      "-X", "isolation.level=read_committed",
                      "-f", "%t\\t%p\\t%o\\t%T\\t%k\\t%s\\n"],
                     stdout=subprocess.PIPE, stderr=log, env=self.kcat_env)
        awk = spawn([self.awk, "-v", "batch=5000", "-f",
                     os.path.join(self.srcdir, "tests", "bench",
                                  "kcat-sqlite.awk")],
                    stdin=kcat.popen.stdout, stdout=subprocess.PIPE,
                    stderr=log)
        kcat.popen.stdout.close()
        sq = spawn([self.sqlite3, "-batch", "-bail", db],
                   stdin=awk.popen.stdout, stdout=subprocess.DEVNULL,
                   stderr=log)
        awk.popen.stdout.close()
        start = kcat.start
        procs = (kcat, awk, sq)
        deadline = start + RUN_TIMEOUT
        while not all(p.poll() for p in procs):
            if time.time() > deadline:
                for p in procs:
                    p.stop()
                res.error = "not done after %d s" % RUN_TIMEOUT
                break
            time.sleep(0.02)
        if res.error is None and any(p.status != 0 for p in procs):
            res.error = "exit statuses %s (log: %s)" % (
                [p.status for p in procs], log.name)
        res.elapsed = max(p.end for p in procs) - start
        res.cpu = sum(p.cpu for p in procs)
        # The three run side by side all along: their peaks add up.
        res.rss_kib = sum(p.maxrss_kib for p in procs)
        res.records = oracle.total
        res.payload = oracle.payload
        res.note = "CPU and RSS summed over kcat, awk, sqlite3"
        if res.error:
            return
        res.ok, res.detail = check_rows(
            oracle, db, "SELECT partition, offset, value FROM records "
            "ORDER BY partition, offset")

    # -- the run --

    def run_one(self, size, name, topic, oracle):
        d = os.path.join(self.work, str(size), name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        res = Result(size, name)
        # A group of its own for every run: Kafka Connect starts from its
        # group's committed offsets.
        self.runs += 1
        self.run_id = "%s-%d-%d-%d" % (name, size, os.getpid(), self.runs)
        say("%s, %d-byte values: running" % (name, size))
        getattr(self, "c_" + name.replace("-", "_"))(res, d, topic, oracle)
        if res.error:
            say("%s: FAILED: %s" % (name, res.error))
        else:
            say("%s: %.0f records/s, %.2f s (start-up %s), CPU %.2f s, "
                "peak RSS %.1f MiB; check: %s" % (
                    name, res.rate, res.elapsed, "-" if res.startup is None
                    else "%.2f s" % res.startup, res.cpu,
                    res.rss_kib / 1024.0,
                                    "n/a" if res.ok is None else
                                    "pass" if res.ok else "FAIL") +
                (" (%s)" % res.detail if res.ok is False else ""))
        if not self.args.keep and res.ok is not False and not res.error:
            # Keep the logs and configurations, drop the bulky data.
            for f in os.listdir(d):
                if f.endswith((".db", ".db-wal", ".db-shm", ".out",
                               ".log", ".copy")) and not f.endswith(
                                   ("ksink.log", "connect.log",
                                    "pipeline.log", "kcat.log",
                                    "check.log", "callgrind.out")):
                    os.unlink(os.path.join(d, f))
        return res

    def run(self):
        a = self.args
        os.makedirs(self.work, exist_ok=True)
        if a.librdkafka != "system":
            self.use_librdkafka(a.librdkafka)
        self.check_tools()
        if "connect" in a.only or "connect-jdbc" in a.only:
            self.connect_libs()
        if "connect-jdbc" in a.only:
            self.jdbc_plugin()
        self.load["start"] = os.getloadavg()
        self.started_at = datetime.datetime.now()
        self.start_broker()
        sizes = {100: a.records, 1024: a.records_1k}
        for size in a.sizes:
            topic, oracle = self.fill(size, sizes[size])
            order = [c for c in CONTENDERS if c in a.only]
            if "kcat" in a.only:
                order.append("kcat")        # again at the end
            for rep in range(a.repeat):
                for name in order:
                    res = self.run_one(size, name, topic, oracle)
                    self.results.append(res)
            if not a.keep:
                os.unlink(oracle.path)
        self.load["end"] = os.getloadavg()
        self.finished_at = datetime.datetime.now()


# ---- results -------------------------------------------------------------

def best(results, size, name):
    """The fastest successful run of a contender, or the failed one."""
    runs = [r for r in results if r.size == size and r.name == name]
    good = [r for r in runs if not r.error]
    if good:
        return max(good, key=lambda r: r.rate)
    return runs[0] if runs else None


def fmt_int(n):
    return "{:,}".format(int(round(n)))


def md_cell(text):
    return text.replace("|", "\\|")


def size_label(size):
    return "1 KiB" if size == 1024 else "%d B" % size


def table(bench, sizes):
    rows = []
    head = ("| values | contender | records/s | MB/s | × kcat | seconds "
            "| start-up s | CPU s / M records | peak RSS MiB | oracle check |")
    rows.append(head)
    rows.append("|" + "---|" * 10)
    for size in sizes:
        limit = best(bench.results, size, "kcat")
        for name in CONTENDERS:
            r = best(bench.results, size, name)
            if r is None:
                continue
            if r.error:
                rows.append("| %s | %s | %s%s | | | | | | | |" % (
                    size_label(size), md_cell(LABELS[name]),
                    "" if r.error.startswith("not available") else
                    "failed: ", md_cell(r.error)))
                continue
            ratio = r.rate / limit.rate if limit and not limit.error \
                else None
            rows.append(
                "| %s | %s | %s | %.1f | %s | %.2f | %s | %.2f | %.1f | %s |"
                % (size_label(size), md_cell(LABELS[name]),
                   fmt_int(r.rate), r.mbps,
                   "%.2f" % ratio if ratio is not None else "-",
                   r.elapsed,
                   "%.2f" % r.startup if r.startup is not None else "-",
                   r.cpu_per_m, r.rss_kib / 1024.0,
                   "-" if r.ok is None else "pass" if r.ok else
                   "**FAIL**: " + md_cell(r.detail)))
    return "\n".join(rows)


def targets(bench, sizes):
    """(description, measured text, met) per target and size."""
    out = []
    for size in sizes:
        def get(n):
            r = best(bench.results, size, n)
            return None if r is None or r.error else r

        k = get("kcat")
        sl = size_label(size)

        def ratio_target(name, want, what):
            r = get(name)
            if r is None or k is None:
                return
            v = r.rate / k.rate
            out.append(("%s: %s ≥ %.1f× kcat" % (sl, what, want),
                        "%.2f×" % v, v >= want))

        ratio_target("null", 0.9, "null sink")
        ratio_target("file", 0.8, "file sink")
        ratio_target("sqlite", 0.5, "SQLite default table")
        ratio_target("http", 0.5, "HTTP")
        f, c = get("file"), get("connect")
        if f and c:
            v = f.rate / c.rate
            out.append(("%s: file sink ≥ 3× Connect FileStreamSink" % sl,
                        "%.1f×" % v, v >= 3))
            v = f.rss_kib / c.rss_kib
            out.append(("%s: file sink peak RSS ≤ 1/10 of Connect's" % sl,
                        "%.1f / %.1f MiB = 1/%.1f" % (
                            f.rss_kib / 1024.0, c.rss_kib / 1024.0, 1 / v),
                        v <= 0.1))
        s, p = get("sqlite"), get("kcat-sqlite3")
        if s and p:
            v = s.rate / p.rate
            out.append(("%s: SQLite sink ≥ 2× kcat | sqlite3, exactly-once"
                        % sl, "%.1f×%s" % (v, "" if s.ok else
                                           " (check failed)"),
                        v >= 2 and bool(s.ok)))
        out += bench_pg.pg_targets(get, sl)
        rss = [r for r in (get(n) for n in KSINK_RUNS) if r]
        if rss:
            top = max(rss, key=lambda r: r.rss_kib)
            out.append(("%s: ksink peak RSS ≤ 64 MiB" % sl,
                        "%.1f MiB (%s)" % (top.rss_kib / 1024.0, top.name),
                        top.rss_kib <= 64 * 1024))
        bad = [r.name for r in (get(n) for n in KSINK_RUNS) if r and
               r.ok is False]
        out.append(("%s: every ksink sink passes the oracle check" % sl,
                    "failed: " + ", ".join(bad) if bad else "all pass",
                    not bad))
    return out


def cmd(argv, env=None):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False,
                              env=env).stdout.decode().strip()
    except OSError:
        return "?"


def linked_librdkafka(bench):
    """The librdkafka ksink runs with: the version it reports at run
    time (ksink --version) and the file the dynamic loader picks."""
    m = re.search(r"librdkafka ([^)\s]+)\)", cmd([bench.ksink,
                                                   "--version"]))
    path = "?"
    for line in cmd(["ldd", bench.ksink]).splitlines():
        f = line.split()
        if f and f[0] == "librdkafka.so.1" and len(f) >= 3:
            path = f[2]
    return "%s (%s)" % (m.group(1) if m else "?", path)


def machine(bench):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024.0 / 1024.0)
    except (OSError, ValueError, IndexError):
        pass
    java = cmd([bench.java, "-version"]).splitlines()
    lines = [
        ("date", "%s to %s" % (bench.started_at.strftime("%Y-%m-%d %H:%M"),
                               bench.finished_at.strftime("%H:%M"))),
        ("CPUs (nproc)", "%d × %s" % (os.cpu_count(), cpu)),
        ("memory", mem),
        ("kernel", platform.release()),
        ("load average (1, 5, 15 min) at start",
         "%.2f %.2f %.2f" % bench.load["start"]),
        ("load average at end", "%.2f %.2f %.2f" % bench.load["end"]),
        ("librdkafka", linked_librdkafka(bench)),
        ("SQLite", cmd([bench.sqlite3, "--version"]).split(" ")[0]),
        ("kcat", ([v for v in cmd([bench.kcat, "-V"], env=bench.kcat_env
                                  ).splitlines()
                   if v.startswith("Version")] or ["?"])[0]),
        ("nginx", cmd([bench.nginx, "-v"]).replace("nginx version: ", "")),
        ("Java", java[0] if java else "?"),
        ("broker", "Apache Kafka %s, one KRaft node on the same machine "
         "(tests/kafka/broker.sh)" % CONNECT_VERSION),
    ]
    if any(r.name in bench_pg.PG_CONTENDERS for r in bench.results):
        lines.append(("PostgreSQL", "%s, one server on the same machine "
                      "(tests/postgres/server.sh: fsync on, shared_buffers "
                      "32MB)" % bench.pg_version))
    if any(r.name == "connect-jdbc" for r in bench.results):
        lines.append(("Kafka Connect JDBC sink", "Debezium %s"
                      % bench_pg.DEBEZIUM_JDBC))
    return lines


def write_results(bench, sizes):
    res_dir = bench.results_dir
    os.makedirs(res_dir, exist_ok=True)
    tsv = os.path.join(res_dir, "latest.tsv")
    with open(tsv, "w") as f:
        f.write("size\tcontender\trecords\tpayload_bytes\tseconds\t"
                "startup_seconds\trecords_per_s\tmb_per_s\tratio_kcat\t"
                "cpu_seconds\tpeak_rss_kib\tcheck\n")
        for r in bench.results:
            limit = best(bench.results, r.size, "kcat")
            f.write("%d\t%s\t%d\t%d\t%s\t%s\t%.0f\t%.2f\t%s\t%s\t%s\t%s\n" % (
                r.size, r.name, r.records, r.payload,
                "%.3f" % r.elapsed if r.elapsed else "-",
                "%.3f" % r.startup if r.startup else "-",
                r.rate, r.mbps,
                "%.3f" % (r.rate / limit.rate) if limit and limit.rate and
                not r.error else "-",
                "%.2f" % r.cpu if r.cpu is not None else "-",
                r.rss_kib if r.rss_kib is not None else "-",
                "error" if r.error else "-" if r.ok is None else
                "pass" if r.ok else "fail"))
    tab = table(bench, sizes)
    tgt = targets(bench, sizes)
    mach = machine(bench)
    counts = ", ".join("%s values: %s records" % (
        size_label(s), fmt_int(best(bench.results, s, "kcat").records
                               if best(bench.results, s, "kcat") else 0))
        for s in sizes)
    md = []
    md.append("# Latest `make bench` results\n")
    md.append("Written by tests/bench/bench.py; see tests/bench/README.md "
              "for what each contender is and how it is measured.  Topic: "
              "3 partitions, %s committed (written in transactions, about "
              "10 %% of them aborted), read from offset zero with "
              "read_committed.  Elapsed time runs from the start of the "
              "process to the last record applied, start-up included.\n"
              % counts)
    if bench.args.set:
        md.append("ksink settings beyond its defaults: %s.\n" % ", ".join(
            "`%s = %s`" % kv for kv in bench.args.set))
    md.append(tab + "\n")
    md.append("![records/s per contender](latest.png)\n")
    rel = os.path.relpath(os.path.join(bench.srcdir, "tests", "bench",
                                       "README.md"), res_dir)
    md.append("Why a target is missed, where the time goes and what would "
              "close each gap: the closing note in "
              "[%s](%s#closing-note-where-the-time-goes).\n" % (rel, rel))
    md.append("## Targets\n")
    md.append("| target | measured | met |")
    md.append("|---|---|---|")
    for desc, val, ok in tgt:
        md.append("| %s | %s | %s |" % (md_cell(desc), val, "yes" if ok
                                         else "**no**"))
    md.append("")
    # The notes of the runs in the table: the fastest of each contender.
    notes = [r for r in (best(bench.results, s, n) for s in sizes
                         for n in CONTENDERS) if r and r.note and not r.error]
    if notes:
        md.append("Notes: " + "; ".join(
            "%s %s: %s" % (size_label(r.size), r.name, r.note)
            for r in notes) + ".\n")
    md.append("## Machine\n")
    md.append("| | |")
    md.append("|---|---|")
    for k, v in mach:
        md.append("| %s | %s |" % (k, v))
    md.append("")
    with open(os.path.join(res_dir, "latest.md"), "w") as f:
        f.write("\n".join(md))
    chart(bench, sizes, res_dir)
    readme = os.path.join(bench.srcdir, "tests", "bench", "README.md")
    if os.path.abspath(res_dir) == os.path.join(bench.srcdir, "tests",
                                                "bench", "results"):
        update_readme(readme, tab, tgt, mach)
    return tab, tgt, mach


def update_readme(readme, tab, tgt, mach):
    try:
        with open(readme) as f:
            text = f.read()
    except OSError:
        return
    begin, end = "<!-- BEGIN LATEST RESULTS -->", "<!-- END LATEST RESULTS -->"
    if begin not in text or end not in text:
        return
    info = dict(mach)
    block = [begin, "",
             "Run of %s on %s, %s RAM, kernel %s, load average %s at the "
             "start; librdkafka %s.  Full table with the targets: "
             "[results/latest.md](results/latest.md)." % (
                 info["date"], info["CPUs (nproc)"], info["memory"],
                 info["kernel"],
                 info["load average (1, 5, 15 min) at start"],
                 info["librdkafka"]), "", tab, "",
             "| target | measured | met |", "|---|---|---|"]
    for desc, val, ok in tgt:
        block.append("| %s | %s | %s |" % (md_cell(desc), val, "yes" if ok
                                            else "**no**"))
    block += ["", end]
    pre, rest = text.split(begin, 1)
    post = rest.split(end, 1)[1]
    with open(readme, "w") as f:
        f.write(pre + "\n".join(block) + post)


def chart(bench, sizes, res_dir):
    gp = shutil.which(bench.gnuplot)
    if gp is None:
        say("gnuplot not found: no chart")
        return
    data = os.path.join(bench.work, "chart.dat")
    names = [n for n in CONTENDERS if any(best(bench.results, s, n)
                                          for s in sizes)]
    short = {"kcat": "kcat (limit)", "null": "null", "file": "file",
             "sqlite": "SQLite", "sqlite-upsert": "SQLite upsert",
             "http": "HTTP", "connect": "Connect file",
             "kcat-sqlite3": "kcat|sqlite3"}
    short.update(bench_pg.PG_SHORT)
    with open(data, "w") as f:
        for i, s in enumerate(sizes):
            limit = best(bench.results, s, "kcat")
            f.write("# %s\n" % size_label(s))
            for j, n in enumerate(names):
                r = best(bench.results, s, n)
                rate = 0 if r is None or r.error else r.rate
                ratio = rate / limit.rate if limit and limit.rate else 0
                f.write('%d "%s" %.0f %.2f\n' % (j, short[n], rate, ratio))
            f.write("\n\n")
    png = os.path.join(res_dir, "latest.png")
    script = ["set terminal pngcairo size 1100,%d font 'sans,10'"
              % (380 * len(sizes)),
              "set output '%s'" % png,
              "set multiplot layout %d,1" % len(sizes),
              "set style fill solid 0.8 border -1",
              "set boxwidth 0.6",
              "set grid ytics",
              "set yrange [0:*]",
              "set offsets 0, 0, graph 0.12, 0",
              "set ylabel 'thousand records/s'",
              "set xtics rotate by -20 noenhanced"]
    for i, s in enumerate(sizes):
        script += [
            "set title '%s values, 3 partitions, read_committed from offset "
            "0: records/s and ratio to kcat' noenhanced" % size_label(s),
            "plot '%s' index %d using 1:($3/1000):xtic(2) with boxes lc "
            "rgb '#4477aa' notitle, '' index %d using 1:($3/1000):(sprintf("
            "'%%.2fx', $4)) with labels offset 0,0.8 notitle" % (data, i, i)]
    script.append("unset multiplot")
    p = subprocess.run([gp], input="\n".join(script).encode(),
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        say("gnuplot failed: %s" % p.stderr.decode())


def replot(bench, sizes):
    """The chart again, from the figures of the last run."""
    with open(os.path.join(bench.results_dir, "latest.tsv")) as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(head, line.rstrip("\n").split("\t")))
            r = Result(int(row["size"]), row["contender"])
            r.records = int(row["records"])
            r.payload = int(row["payload_bytes"])
            if row["check"] == "error" or row["seconds"] == "-":
                r.error = "failed"
            else:
                r.elapsed = float(row["seconds"])
            bench.results.append(r)
    os.makedirs(bench.work, exist_ok=True)
    chart(bench, [s for s in sizes if any(r.size == s for r in
                                          bench.results)],
          bench.results_dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=2000000,
                    help="committed records of 100 bytes (2,000,000)")
    ap.add_argument("--records-1k", type=int, default=500000,
                    help="committed records of 1 KiB (500,000)")
    ap.add_argument("--sizes", default="100,1024",
                    help="value sizes, of 100 and 1024")
    ap.add_argument("--only", default=",".join(CONTENDERS),
                    help="contenders to run (default: all)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each contender; the fastest counts")
    ap.add_argument("--bootstrap", help="use this broker instead of "
                    "starting one")
    ap.add_argument("--results", help="results folder "
                    "(default: tests/bench/results in the source tree)")
    ap.add_argument("--work", help="scratch folder (default: "
                    "tests/bench/run in the build tree)")
    ap.add_argument("--set", action="append", default=[],
                    metavar="KEY=VALUE", help="add this setting to every "
                    "ksink connector (e.g. batch.max.records=20000 or "
                    "kafka.queued.min.messages=20000; worker.KEY for "
                    "the [worker] section); repeatable")
    ap.add_argument("--profile", choices=("perf", "callgrind"),
                    help="run ksink under perf record or valgrind "
                    "--tool=callgrind and write RUN/SIZE/NAME/perf.txt or "
                    "callgrind.txt; the figures are then not written to "
                    "the results folder")
    ap.add_argument("--librdkafka", default="system", metavar="VERSION",
                    help="the librdkafka ksink and kcat run with: system "
                    "(the one this build links), or 2.8.0: built with "
                    "tests/kafka/librdkafka.sh, ksink built against it in "
                    "a copy of the tree; results then in "
                    "RESULTS/librdkafka-VERSION")
    ap.add_argument("--replot", action="store_true", help="only draw "
                    "RESULTS/latest.png again from RESULTS/latest.tsv")
    ap.add_argument("--keep", action="store_true", help="keep the broker, "
                    "the data and the sinks' files")
    a = ap.parse_args()
    a.sizes = [int(s) for s in a.sizes.split(",")]
    try:
        a.set = [tuple(x.strip() for x in kv.split("=", 1)) for kv in a.set]
    except ValueError:
        ap.error("--set: KEY=VALUE")
    if any(len(kv) != 2 for kv in a.set):
        ap.error("--set: KEY=VALUE")
    for s in a.sizes:
        if s not in (100, 1024):
            ap.error("--sizes: 100 and 1024 only")
    a.only = [c.strip() for c in a.only.split(",") if c.strip()]
    for c in a.only:
        if c not in CONTENDERS:
            ap.error("--only: unknown contender %s (known: %s)"
                     % (c, ", ".join(CONTENDERS)))
    bench = Bench(a)
    if a.replot:
        replot(bench, a.sizes)
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        bench.run()
    except KeyboardInterrupt:
        say("interrupted")
        raise SystemExit(130)
    finally:
        kill_all()
        bench.stop_broker()
        bench.stop_pg()
    if a.profile:
        print(table(bench, a.sizes))
        print("\nprofiles under %s (figures not kept: profiled runs are "
              "slower)" % bench.work)
        return 0
    tab, tgt, mach = write_results(bench, a.sizes)
    print(tab)
    print()
    for desc, val, ok in tgt:
        print("%-60s %-32s %s" % (desc, val, "met" if ok else "MISSED"))
    print()
    for k, v in mach:
        print("%-40s %s" % (k, v))
    print("\nresults: %s/latest.md, latest.png" % bench.results_dir)
    failed = [r for r in bench.results if r.error or r.ok is False]
    return 1 if any(r.name in KSINK_RUNS for r in failed) else 0


if __name__ == "__main__":
    sys.exit(main())
