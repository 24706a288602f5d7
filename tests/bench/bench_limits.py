# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_limits.py - the limits of the systems the SQLite and
HTTP sinks write to, rows of `make bench` (tests/bench/bench.py), and
which limit each ksink sink is measured against ("× its system's limit"):

  sqlite-limit         tests/bench/sqlite_limit: the records inserted into
                       the SQLite sink's default table (ksink_records) with
                       its pragmas (WAL, synchronous = FULL), the worker's
                       batch.max.records rows per BEGIN IMMEDIATE ... COMMIT,
                       by one prepared statement in a C loop
  sqlite-upsert-limit  the same with the balance upsert of the README
                       (bench_ksink.py's UPSERT_INIT and UPSERT_STATEMENT)
  http-limit           tests/bench/http_limit: the HTTP sink's request
                       bodies and headers, built beforehand, POSTed by a
                       libcurl loop over keep-alive to the same nginx
                       (tests/bench/nginx.conf.in)

The batch sizes are ksink's defaults as `ksink --list-options` gives
them (batch.max.records; http.batch.max.records, http.batch.max.bytes),
or what --set gives every connector: the largest step the worker takes,
which its adaptive batches (batch.adaptive) grow to while the sink's
commit dominates.

The records are read from the topic once, before any limit is timed
(kcat -f into WORK/SIZE/TOPIC.kf, removed when the topic is done); each program reads that file into memory, then times
its loop alone and prints "rows N seconds S cpu C": its elapsed and CPU
time are those of the loop, measured by the program itself (clock_gettime
and getrusage), because timing the process would count reading and
parsing the file.  Peak RSS is the process's (GNU time), the records in
memory included.  Each limit is checked like its sink: the rows of the
default table, every balance, the requests nginx logged.

Standard library only.
"""

import os
import re
import subprocess

from bench_harness import RUN_TIMEOUT, die, say, spawn
from bench_ksink import (UPSERT_INIT, UPSERT_STATEMENT, check_access_log,
                         check_sqlite)

LIMIT_CONTENDERS = ["sqlite-limit", "sqlite-upsert-limit", "http-limit"]
LIMIT_LABELS = {
    "sqlite-limit": "SQLite, prepared inserts in a C loop (its limit)",
    "sqlite-upsert-limit": "SQLite, prepared upserts in a C loop "
    "(the upsert's limit)",
    "http-limit": "nginx (204) fed by a libcurl loop (the HTTP limit)",
}
LIMIT_SHORT = {"sqlite-limit": "SQLite (limit)",
               "sqlite-upsert-limit": "SQLite upsert (limit)",
               "http-limit": "HTTP (limit)"}

# Each ksink sink and the limit of the system it writes to, for the
# column "× its system's limit" and the targets.
SYSTEM_LIMIT = {
    "sqlite": "sqlite-limit",
    "sqlite-upsert": "sqlite-upsert-limit",
    "http": "http-limit",
    "postgres": "pg-copy",
    "postgres-upsert": "pg-copy-upsert",
    "postgres-upsert-batch": "pg-copy-upsert",
}

# One record of the file, as tests/bench/limit.c reads it.
LIMIT_FORMAT = "%p %o %T %K %S\\n%k%s"



def system_ratio(best, results, size, name):
    """records/s of the sink name over that of its system's limit in the
    same run, or None."""
    lim = SYSTEM_LIMIT.get(name)
    r = best(results, size, name)
    lr = best(results, size, lim) if lim else None
    if r is None or r.error or lr is None or lr.error or not lr.rate:
        return None
    return r.rate / lr.rate


def c_string(source, name):
    """The value of `static const char NAME[] = "..." "...";` in a C
    file: the sink's own SQL, never a copy of it."""
    with open(source) as f:
        text = f.read()
    m = re.search(r"\b%s\[\]\s*=\s*((?:\s*\"(?:[^\"\\]|\\.)*\")+)\s*;"
                  % re.escape(name), text)
    if m is None:
        die("%s: no string %s[] (tests/bench/bench_limits.py reads the "
            "SQLite sink's default table from it)" % (source, name))
    out = []
    for lit in re.findall(r"\"((?:[^\"\\]|\\.)*)\"", m.group(1)):
        out.append(re.sub(r"\\(.)", lambda e: {"n": "\n", "t": "\t"}.get(
            e.group(1), e.group(1)), lit))
    return "".join(out)


class LimitContenders:
    """The limit contenders, mixed into bench.py's Bench."""

    limit_files = None

    def limit_bin(self, name):
        testbin = os.environ.get("KSINK_TESTBIN") or os.path.join(
            self.builddir, "tests")
        return os.path.join(testbin, "bench", name)

    def ksink_setting(self, name, sink=None):
        """A connector setting as the runs use it: --set's value, else
        ksink's default (ksink --list-options [SINK])."""
        for k, v in self.args.set:
            if k == name:
                return v
        out = subprocess.run(
            [self.ksink, "--list-options"] + ([sink] if sink else []),
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=False,
            env=dict(os.environ, KSINK_PLUGIN_DIR=self.plugins))
        m = re.search(r"^%s \(.*\) default: (\S+)" % re.escape(name),
                      out.stdout.decode(), re.M)
        if m is None:
            die("ksink --list-options %s gives no default of %s"
                % (sink or "", name))
        return m.group(1)

    def limit_check_tools(self, wanted):
        for c, prog in (("sqlite-limit", "sqlite_limit"),
                        ("sqlite-upsert-limit", "sqlite_limit"),
                        ("http-limit", "http_limit")):
            if c in wanted and not os.access(self.limit_bin(prog), os.X_OK):
                die("%s is not built (make bench builds it)"
                    % self.limit_bin(prog))

    def limit_records(self, size, topic):
        """The topic's records in the file format of tests/bench/limit.c,
        read once per topic, before any timing."""
        if self.limit_files is None:
            self.limit_files = {}
        path = self.limit_files.get(topic)
        if path:
            return path
        path = os.path.join(self.work, str(size), topic + ".kf")
        say("reading %s once for the limits into %s" % (topic, path))
        with open(path, "wb") as out, open(os.path.join(
                self.work, str(size), "limit-records.log"), "ab") as log:
            rc = subprocess.call(self.kcat_argv(topic, LIMIT_FORMAT),
                                 stdout=out, stderr=log, env=self.kcat_env)
        if rc != 0:
            die("kcat could not read %s (see %s)" % (topic, log.name))
        self.limit_files[topic] = path
        return path

    def limit_cleanup(self):
        for path in (self.limit_files or {}).values():
            if not self.args.keep and os.path.exists(path):
                os.unlink(path)
        self.limit_files = None

    def run_limit(self, res, d, argv, oracle):
        """Runs a limit program to its end; its figures are those of its
        timed loop."""
        figures = os.path.join(d, "limit.txt")
        with open(os.path.join(d, "limit.log"), "wb") as log, \
                open(figures, "wb") as f:
            p = spawn(argv, stdout=f, stderr=log)
            if not p.wait(RUN_TIMEOUT):
                p.stop()
                res.error = "not done after %d s" % RUN_TIMEOUT
        with open(figures) as f:
            out = f.read()
        res.records = oracle.total
        res.payload = oracle.payload
        res.rss_kib = p.maxrss_kib
        m = re.search(r"rows (\d+) seconds ([0-9.]+) cpu ([0-9.]+)", out)
        if res.error is None and (p.status != 0 or m is None):
            res.error = "exit status %d (log: %s)" % (p.status, log.name)
        if res.error:
            return out
        if int(m.group(1)) != oracle.total:
            res.error = "%s rows in the records file, the oracle has %d" % (
                m.group(1), oracle.total)
        res.elapsed = float(m.group(2))
        res.cpu = float(m.group(3))
        return out

    # -- the contenders --

    def c_sqlite_limit(self, res, d, topic, oracle, upsert=False):
        data = self.limit_records(res.size, topic)
        db = os.path.join(d, "limit.db")
        if upsert:
            init, stmt = UPSERT_INIT, UPSERT_STATEMENT
        else:
            src = os.path.join(self.srcdir, "connectors", "sqlite",
                               "sqlite.c")
            init = c_string(src, "default_table")
            stmt = c_string(src, "default_statement")
        batch = self.ksink_setting("batch.max.records")
        self.run_limit(res, d, [self.limit_bin("sqlite_limit"), "-t", topic,
                                "-b", batch, "-i", init, "-s", stmt,
                                db, data], oracle)
        res.note = ("%s rows per transaction (batch.max.records); the loop "
                    "alone (the records in memory, read before)" % batch)
        if res.error:
            return
        res.ok, res.detail = check_sqlite(oracle, db, upsert)

    def c_sqlite_upsert_limit(self, res, d, topic, oracle):
        self.c_sqlite_limit(res, d, topic, oracle, upsert=True)

    def c_http_limit(self, res, d, topic, oracle):
        data = self.limit_records(res.size, topic)
        nginx, port, prefix = self.start_nginx(d)
        try:
            out = self.run_limit(res, d, [
                self.limit_bin("http_limit"), "-t", topic,
                "-b", self.ksink_setting("batch.max.records"),
                "-r", self.ksink_setting("http.batch.max.records", "http"),
                "-B", self.ksink_setting("http.batch.max.bytes", "http"),
                "-u", "http://127.0.0.1:%d/ingest" % port, data], oracle)
        finally:
            self.stop_nginx(res, nginx)
        m = re.search(r"requests (\d+) connections (\d+)", out)
        sent, conns = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        res.note = ("nginx CPU %.1f s; %d requests, %.0f records each, on "
                    "%d connection%s" % (
                        nginx.cpu, sent, oracle.total / sent if sent else 0,
                        conns, "" if conns == 1 else "s"))
        if res.error:
            return
        problems, requests, bad_status = check_access_log(
            oracle, topic, os.path.join(prefix, "access.log"))
        if requests != sent:
            problems.append("nginx logged %d requests, %d were sent"
                            % (requests, sent))
        res.ok = not problems and not bad_status
        res.detail = ("%d requests; records per partition and offset "
                      "ranges without overlap = oracle" % requests
                      if res.ok else "; ".join(problems[:3]) or
                      "%d requests answered other than 204" % bad_status)


def limit_targets(get, sl, size):
    """The targets of the performance issue on a sink's ratio to its
    system's limit, for one value size: (description, measured, met)."""
    out = []
    k = get("kcat")
    for name, want, what in (("sqlite", 0.85, "SQLite default table"),
                             ("sqlite-upsert", 0.85, "SQLite balance upsert"),
                             ("http", 0.8, "HTTP")):
        r, lim = get(name), get(SYSTEM_LIMIT[name])
        if r and lim:
            v = r.rate / lim.rate
            # A sink reads Kafka too: kcat slower than the limit bounds it.
            bound = "" if k is None or k.rate >= lim.rate else (
                " (kcat reads at %.2f× the limit)" % (k.rate / lim.rate))
            out.append(("%s: %s ≥ %.2g× its limit (%s)" % (
                sl, what, want, SYSTEM_LIMIT[name]), "%.2f×%s" % (v, bound),
                v >= want))
    r = get("http")
    if r and size == 100:
        out.append(("%s: HTTP sink ≤ 1.0 CPU-second per million records"
                    % sl, "%.2f s" % r.cpu_per_m, r.cpu_per_m <= 1.0))
    return out
