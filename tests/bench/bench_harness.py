# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_harness.py - the harness of `make bench`
(tests/bench/bench.py): the broker and its topics, the oracle and its
checks, and the timing of one contender's run (GNU time(1) for its CPU
time and peak RSS; a daemon until its sink has every record; a kcat |
awk | client pipeline), on which the contenders of bench_ksink.py,
bench_kcat.py, bench_connect.py and bench_pg.py are built.

Standard library only.
"""

import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

PARTITIONS = 3
POLL = 0.05                     # seconds between two looks at a sink
RUN_TIMEOUT = 900               # seconds one contender may take
STALL = 120                     # seconds without a change of the sink

# kcat -f: one line a record, what tests/bench/kcat-*.awk read.
KCAT_FORMAT = "%t\\t%p\\t%o\\t%T\\t%k\\t%s\\n"

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


def cache_dir(env, name):
    """A folder of downloaded jars: $env, or ~/.cache/ksink/name."""
    return os.environ.get(env) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or
        os.path.expanduser("~/.cache"), "ksink", name)


def cmd(argv, env=None):
    try:
        return subprocess.run(argv, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, check=False,
                              env=env).stdout.decode().strip()
    except OSError:
        return "?"


# ---- one run's figures ---------------------------------------------------

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


# ---- the broker, the topics, the runs ------------------------------------

class Harness:
    """The programs, the broker, the topics and the timing of a run;
    bench.py's Bench adds the contenders (c_NAME) to it."""

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

    def fill(self, size, want, partitions=PARTITIONS, topic=None,
             where=None):
        """A topic (of partitions partitions) holding at least want
        committed records of size bytes, its oracle in WORK/where
        (default: WORK/SIZE); returns (topic, Oracle)."""
        topic = topic or "ksink-bench-%d-%d" % (size, want)
        d = os.path.join(self.work, where or str(size))
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
                 "-p", str(partitions), "-n", str(n), "-m", "10000",
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

    # -- running a pipeline until its last process ends --

    def kcat_argv(self, topic, fmt=None):
        """kcat reading the whole topic once, read_committed."""
        return [self.kcat, "-C", "-b", self.bootstrap, "-t", topic,
                "-o", "beginning", "-e", "-q",
                "-X", "isolation.level=read_committed"] + (
                    ["-f", fmt] if fmt else [])

    def run_pipeline(self, res, topic, oracle, awk_script, argv, log,
                     env=None):
        """kcat | awk -f tests/bench/AWK_SCRIPT | argv, timed from kcat's
        start to the end of the last process; CPU time and peak RSS
        summed over the three."""
        kcat = spawn(self.kcat_argv(topic, KCAT_FORMAT),
                     stdout=subprocess.PIPE, stderr=log, env=self.kcat_env)
        awk = spawn([self.awk, "-v", "batch=5000", "-f",
                     os.path.join(self.srcdir, "tests", "bench",
                                  awk_script)],
                    stdin=kcat.popen.stdout, stdout=subprocess.PIPE,
                    stderr=log)
        kcat.popen.stdout.close()
        sink = spawn(argv, stdin=awk.popen.stdout,
                     stdout=subprocess.DEVNULL, stderr=log, env=env)
        awk.popen.stdout.close()
        start = kcat.start
        procs = (kcat, awk, sink)
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

    # -- one run of one contender --

    def run_one(self, size, name, topic, oracle, where=None):
        """One run of contender name (c_NAME) in WORK/SIZE/NAME, or
        WORK/where/NAME."""
        d = os.path.join(self.work, where or str(size), name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        res = Result(size, name)
        # A group of its own for every run: Kafka Connect starts from its
        # group's committed offsets.
        self.runs += 1
        self.run_id = "%s-%d-%d-%d" % (name, size, os.getpid(), self.runs)
        say("%s, %s: running" % (name, where or "%d-byte values" % size))
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
