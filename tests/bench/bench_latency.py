# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_latency.py - the latency part of `make bench`
(tests/bench/bench.py): how long a record takes from produce to applied
when a producer writes a steady 20,000 records/s and one ksink connector,
at its default settings, keeps up with it.

For each ksink sink (null, file, sqlite, sqlite-upsert, http, postgres,
postgres-upsert, as far as --only names them), on a fresh topic of 3
partitions:

  1. ksink starts with one connector of that sink (the configuration of
     its throughput row, bench_ksink.py's or bench_pg.py's c_NAME) and
     the bench waits until its log shows the 3 partitions assigned;
  2. tests/kafka/txproducer -I writes --latency-rate records/s (20,000)
     of 100 bytes for --latency-seconds (15), paced record by record
     (it sleeps whenever it is more than 2 ms ahead: no bursts), with
     an idempotent producer and no transactions (linger.ms 5, acks all):
     a record is committed as soon as the broker has it, so the
     latency is ksink's and Kafka's, not a producer's transaction
     interval.  --latency-transactions N writes in transactions of 1..N
     records instead (none aborted): then each record also waits for
     the end of its transaction, and the synchronous commit holds the
     producer back, which catches up afterwards;
  3. the produce time of a record is its Kafka timestamp (CreateTime),
     which librdkafka sets when the producer hands the record over
     (rd_kafka_producev), in milliseconds of the same wall clock;
  4. a watcher thread polls the sink's committed state every
     --latency-poll-ms (5 ms): the null sink's state file, the file
     sink's manifest, SQLite's ksink_offsets (one open read-only
     connection), PostgreSQL's ksink_offsets (one open psql), the
     requests nginx answered (its access log: topic, partition, last
     offset).  It notes the time each partition's next offset first
     shows a new value: the end of the poll that saw it, so a latency
     is overstated by up to the poll interval plus one poll's reading
     (the resolution), and by up to 1 ms of CreateTime's truncation;
  5. after the producer ends and the sink shows every committed record,
     ksink is stopped (SIGTERM), the timestamps of the committed records
     are read from the topic (kcat -f '%p %o %T', read_committed), and
     each record's latency is the time its offset first showed as
     applied minus its CreateTime.  Records produced in the first
     --latency-warmup seconds (2) are left out; p50, p99 and max are of
     the rest.  The rate achieved is the committed records over the
     span of their CreateTimes;
  6. the run is checked against the oracle (a read_committed reading of
     the topic) by the same check as its throughput row.

When --only names kcat, a reference row runs first: the same producer
read by a plain read_committed consumer (kcat -u, no group, no sink),
each record stamped when its line reaches the bench: what Kafka's path
alone (producer, broker, fetch) takes on the machine at that moment, so
that a sink's latency can be split into Kafka's share and ksink's.

Only the sink's committed state counts as applied: a record the sink
wrote but has not committed (the file sink's data before its manifest,
rows before COMMIT) is not yet applied.  For the HTTP sink the request
nginx answered is the effect; the ledger settles it afterwards.

Results: the latency table (sink, records measured, p50, p99, max, rate
achieved) in RESULTS/latest.md and tests/bench/README.md between its
latency markers, rows of part "latency" in RESULTS/latest.tsv, and the
target "p99 ≤ 250 ms for the SQLite, PostgreSQL and file sinks at 20,000
records/s" among the targets.

Standard library only.
"""

import math
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.parse

from bench_harness import PARTITIONS, Oracle, Result, say, spawn
from bench_ksink import AccessLog, manifest_offsets, null_state
from bench_pg import PgPoll, sql_str

LATENCY_SINKS = ("null", "file", "sqlite", "sqlite-upsert", "http",
                 "postgres", "postgres-upsert")
# The sinks of the target "p99 ≤ 250 ms for the SQLite, PostgreSQL and
# file sinks".
TARGET_SINKS = ("file", "sqlite", "sqlite-upsert", "postgres",
                "postgres-upsert")
TARGET_P99_MS = 250
SIZE = 100                      # value bytes
ASSIGN_TIMEOUT = 60             # seconds for the group join
CATCH_UP_TIMEOUT = 120          # seconds after the producer's end

BEGIN = "<!-- BEGIN LATEST LATENCY -->"
END = "<!-- END LATEST LATENCY -->"
TSV_COLUMNS = ("part", "p50_ms", "p99_ms", "max_ms")


class LateOracle(Oracle):
    """The oracle of a topic still being written: the contender's check
    reads it only after fill() gave it the read_committed reading."""

    def __init__(self):         # pylint: disable=super-init-not-called
        self.next = {}

    def fill(self, oracle):
        self.__dict__.update(oracle.__dict__)


def fmt_ms(v):
    return "-" if v is None else "%.0f" % v


def percentile(sorted_values, q):
    """Nearest rank: the smallest value with at least q of all at or
    below it."""
    if not sorted_values:
        return None
    # ceil(q * n), rounded first: 0.07 * 100 is 7.000000000000001.
    k = max(0, min(len(sorted_values) - 1,
                   math.ceil(round(q * len(sorted_values), 9)) - 1))
    return sorted_values[k]


# ---- what each sink shows as committed -----------------------------------

def null_reader(body, d, topic):
    path = re.search(r"^null\.state = (.*)$", body, re.M).group(1)
    return (lambda: {p: v[0] for p, v in null_state(path, topic).items()},
            None)


def file_reader(body, d, topic):
    path = os.path.join(d, "ksink-bench.manifest")
    return lambda: manifest_offsets(path, topic), None


def sqlite_reader(body, d, topic):
    db = re.search(r"^sqlite\.path = (.*)$", body, re.M).group(1)
    held = {}

    def read():
        try:
            if "con" not in held:
                if not os.path.exists(db):
                    return {}
                held["con"] = sqlite3.connect(
                    "file:%s?mode=ro" % urllib.parse.quote(db), uri=True,
                    timeout=1)
            return dict(held["con"].execute(
                'SELECT "partition", "next_offset" FROM ksink_offsets '
                'WHERE "topic" = ?', (topic,)).fetchall())
        except sqlite3.Error:
            # Not created yet: look again with a new connection.
            close()
            return {}

    def close():
        con = held.pop("con", None)
        if con is not None:
            con.close()
    return read, close


def http_reader(body, d, topic):
    log = AccessLog(os.path.join(d, "nginx", "access.log"), topic)
    return (lambda: {p: last + 1 for p, last in log.follow().items()},
            None)


class Watcher(threading.Thread):
    """Polls read() every interval seconds and notes (time, state) each
    time the state changes; the time is the end of the read that first
    showed it."""

    def __init__(self, read, close, interval):
        threading.Thread.__init__(self, daemon=True)
        self.read = read
        self.close = close
        self.interval = interval
        self.changes = []
        self.polls = 0
        self.last = {}
        self.halt = threading.Event()

    def run(self):
        try:
            while not self.halt.is_set():
                t0 = time.time()
                st = self.read()
                t = time.time()
                self.polls += 1
                if st and st != self.last:
                    self.changes.append((t, st))
                    self.last = st
                self.halt.wait(max(0.0, self.interval - (t - t0)))
        finally:
            if self.close:
                self.close()

    def stop(self):
        self.halt.set()
        self.join(10)


def applied_times(changes, partition):
    """[(time, next offset)] of one partition, next offsets increasing."""
    out = []
    for t, st in changes:
        n = st.get(partition)
        if n is not None and (not out or n > out[-1][1]):
            out.append((t, n))
    return out


def latencies(records, changes):
    """records: {partition: [(offset, create_ms)] in offset order}.
    Returns [(create_ms, latency_ms, applied_s)] of the records
    applied."""
    out = []
    for p, recs in records.items():
        steps = applied_times(changes, p)
        i = 0
        for off, ts in recs:
            while i < len(steps) and steps[i][1] <= off:
                i += 1
            if i == len(steps):
                break               # never seen applied
            out.append((ts, steps[i][0] * 1000.0 - ts, steps[i][0]))
    return out


def breakdown(lat):
    """Where a record's latency goes, per step the watcher saw: the
    step's span (its newest CreateTime minus its oldest: the time its
    records waited for one another, batch.max.ms at most when the sink
    keeps up) and its delay (the time it showed as applied minus its
    newest CreateTime: producing, fetching, the batch's cut and the
    sink's commit).  Returns the medians and maxima in ms."""
    steps = {}
    for ts, _, t in lat:
        lo, hi = steps.get(t, (ts, ts))
        steps[t] = (min(lo, ts), max(hi, ts))
    spans = sorted(hi - lo for lo, hi in steps.values())
    delays = sorted(t * 1000.0 - hi for t, (lo, hi) in steps.items())
    return {"steps": len(steps),
            "span50": percentile(spans, 0.5), "span_max": spans[-1],
            "delay50": percentile(delays, 0.5),
            "delay99": percentile(delays, 0.99),
            "delay_max": delays[-1]}


class LatencyContenders:
    """The latency part, mixed into bench.py's Bench before the sinks'
    contenders: while a latency run is on (self.latency), run_ksink
    runs the contender's ksink against the paced producer instead of a
    filled topic, and the contender's own check follows."""

    latency = None

    def run_latency(self):
        self.latency_results = getattr(self, "latency_results", [])
        if "kcat" in self.args.only:
            self.latency_results.append(self.latency_kcat())
        for name in [s for s in LATENCY_SINKS if s in self.args.only]:
            self.latency_results.append(self.latency_one(name))

    def latency_kcat(self):
        """The reference: the same producer, read by a plain
        read_committed consumer (kcat -u, no group, no sink), each
        record stamped when its line reaches the bench.  What Kafka's
        path alone takes on this machine at this moment."""
        a = self.args
        d = os.path.join(self.work, "latency", "kcat")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        self.runs += 1
        topic = "ksink-latency-kcat-%d-%d" % (os.getpid(), self.runs)
        res = Result(SIZE, "kcat")
        say("latency, kcat: %d records/s for %d s into %s" % (
            a.latency_rate, a.latency_seconds, topic))
        plog = open(os.path.join(d, "producer.log"), "ab")
        if subprocess.call(self.latency_producer(topic, 0),
                           stderr=plog) != 0:
            res.error = "txproducer could not create %s (see %s)" % (
                topic, plog.name)
            return res
        kcat = spawn([self.kcat, "-C", "-u", "-q", "-b", self.bootstrap,
                      "-t", topic, "-o", "beginning", "-X",
                      "isolation.level=read_committed", "-f",
                      "%p %o %T\\n"], stdout=subprocess.PIPE,
                     stderr=open(os.path.join(d, "kcat.log"), "ab"),
                     env=self.kcat_env)
        seen = []

        def read():
            for line in kcat.popen.stdout:
                seen.append((line, time.time()))
        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(1)               # kcat has started fetching
        t0 = time.time()
        rc = subprocess.call(self.latency_producer(
            topic, a.latency_rate * a.latency_seconds), stderr=plog)
        res.elapsed = time.time() - t0
        want = a.latency_rate * a.latency_seconds
        deadline = time.time() + CATCH_UP_TIMEOUT
        while len(seen) < want and time.time() < deadline and rc == 0:
            time.sleep(0.05)
        kcat.stop()
        reader.join(10)
        res.cpu, res.rss_kib = kcat.cpu, kcat.maxrss_kib
        if rc != 0:
            res.error = "txproducer failed (see %s)" % plog.name
            return res
        arrived = []
        for line, t in seen:
            ts = int(line.split()[2])
            arrived.append((ts, t))
        res.records = len(seen)
        res.payload = res.records * SIZE
        stamps = sorted(ts for ts, _ in arrived)
        if len(seen) < want:
            res.error = "kcat received %d of %d records" % (len(seen), want)
            return res
        first = stamps[0]
        lat = sorted(t * 1000.0 - ts for ts, t in arrived
                     if ts >= first + a.latency_warmup * 1000)
        span = (stamps[-1] - first) / 1000.0
        res.extra.update({
            "p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99),
            "max": lat[-1], "measured": len(lat),
            "rate": (len(stamps) - 1) / span if span > 0 else 0.0})
        res.extra["latency_note"] = (
            "received by a plain read_committed consumer (kcat -u, no "
            "sink), stamped as its line arrives: Kafka's path alone")
        say("latency, kcat: p50 %s, p99 %s, max %s ms over %d records" % (
            fmt_ms(res.extra["p50"]), fmt_ms(res.extra["p99"]),
            fmt_ms(res.extra["max"]), len(lat)))
        return res

    def latency_one(self, name):
        a = self.args
        d = os.path.join(self.work, "latency", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        self.runs += 1
        self.run_id = "latency-%s-%d-%d" % (name, os.getpid(), self.runs)
        topic = "ksink-" + self.run_id
        res = Result(SIZE, name)
        say("latency, %s: %d records/s for %d s into %s" % (
            name, a.latency_rate, a.latency_seconds, topic))
        # The topic, empty, before ksink subscribes to it.
        if subprocess.call(self.latency_producer(topic, 0), stderr=open(
                os.path.join(d, "producer.log"), "ab")) != 0:
            res.error = "txproducer could not create %s (see %s)" % (
                topic, os.path.join(d, "producer.log"))
            return res
        self.latency = {"name": name, "topic": topic}
        try:
            getattr(self, "c_" + name.replace("-", "_"))(
                res, d, topic, LateOracle())
        finally:
            self.latency = None
        if res.error:
            say("latency, %s: FAILED: %s" % (name, res.error))
        else:
            x = res.extra
            say("latency, %s: p50 %s, p99 %s, max %s ms over %d records, "
                "%.0f records/s; check: %s" % (
                    name, fmt_ms(x["p50"]), fmt_ms(x["p99"]),
                    fmt_ms(x["max"]), x["measured"], x["rate"],
                    "n/a" if res.ok is None else "pass" if res.ok else
                    "FAIL (%s)" % res.detail))
        if not a.keep and res.ok and not res.error:
            for f in os.listdir(d):
                if f.endswith((".db", ".db-wal", ".db-shm", ".out",
                               ".tsv")) or f == "nginx":
                    path = os.path.join(d, f)
                    if os.path.isdir(path):
                        if os.path.exists(os.path.join(path, "access.log")):
                            os.unlink(os.path.join(path, "access.log"))
                    else:
                        os.unlink(path)
        return res

    def latency_producer(self, topic, records):
        a = self.args
        argv = [self.txproducer, "-b", self.bootstrap, "-t", topic,
                "-p", str(PARTITIONS), "-n", str(records), "-z", str(SIZE),
                "-r", str(a.latency_rate), "-s", "1"]
        if a.latency_transactions > 0 and records > 0:
            return argv + ["-a", "0", "-m", str(a.latency_transactions)]
        return argv + ["-I"]

    def run_ksink(self, res, d, topic, oracle, body, done, artefacts,
                  started, progress=None, more=()):
        if self.latency is None:
            return super().run_ksink(res, d, topic, oracle, body, done,
                                     artefacts, started, progress, more)
        return self.latency_ksink(res, d, topic, oracle, body)

    def latency_reader(self, body, d, topic):
        name = self.latency["name"]
        if name == "null":
            return null_reader(body, d, topic)
        if name == "file":
            return file_reader(body, d, topic)
        if name.startswith("sqlite"):
            return sqlite_reader(body, d, topic)
        if name == "http":
            return http_reader(body, d, topic)
        db = re.search(r"dbname=(\S+)", body).group(1)
        poll = PgPoll(self.psql_argv(db, stop=False), self.pg_env())
        sql = ('SELECT "partition", next_offset FROM ksink_offsets WHERE '
               'topic = %s' % sql_str(topic))

        def read():
            return {int(r[0]): int(r[1]) for r in poll.query(sql)
                    if len(r) == 2}
        return read, poll.close

    def latency_ksink(self, res, d, topic, oracle, body):
        a = self.args
        conf = self.ksink_conf(d, topic, body)
        env = dict(os.environ, KSINK_PLUGIN_DIR=self.plugins)
        log = os.path.join(d, "ksink.log")
        p = spawn([self.ksink, "-c", conf], stdout=open(log, "ab"),
                  stderr=subprocess.STDOUT, env=env)
        read, close = self.latency_reader(body, d, topic)
        watcher = Watcher(read, close, a.latency_poll_ms / 1000.0)
        try:
            if not self.wait_assigned(res, p, log, topic):
                return
            watcher.start()
            plog = open(os.path.join(d, "producer.log"), "ab")
            t0 = time.time()
            rc = subprocess.call(self.latency_producer(
                topic, a.latency_rate * a.latency_seconds), stderr=plog)
            res.elapsed = time.time() - t0
            if rc != 0:
                res.error = "txproducer failed (see %s)" % plog.name
                return
            oracle.fill(self.read_oracle(topic, d))
            deadline = time.time() + CATCH_UP_TIMEOUT
            while not all(watcher.last.get(q, 0) >= n
                          for q, n in oracle.next.items()):
                if p.poll():
                    res.error = "ksink exited with status %d (log: %s)" % (
                        p.status, log)
                    return
                if time.time() > deadline:
                    res.error = ("not caught up %d s after the producer's "
                                 "end (log: %s)" % (CATCH_UP_TIMEOUT, log))
                    return
                time.sleep(0.05)
        finally:
            if watcher.is_alive():
                watcher.stop()
            elif close:
                close()
            status = p.stop()
            if res.error is None and status != 0:
                res.error = "exit status %d after SIGTERM (log: %s)" % (
                    status, log)
            res.cpu = p.cpu
            res.rss_kib = p.maxrss_kib
        res.records = oracle.total
        res.payload = oracle.payload
        self.latency_figures(res, d, topic, watcher)

    def wait_assigned(self, res, p, log, topic):
        """Until ksink's log shows every partition of topic assigned."""
        want = {"assigned %s/%d," % (topic, q) for q in range(PARTITIONS)}
        deadline = time.time() + ASSIGN_TIMEOUT
        while time.time() < deadline:
            if p.poll():
                res.error = "ksink exited with status %d (log: %s)" % (
                    p.status, log)
                return False
            with open(log) as f:
                text = f.read()
            if all(w in text for w in want):
                return True
            time.sleep(0.05)
        res.error = "partitions not assigned within %d s (log: %s)" % (
            ASSIGN_TIMEOUT, log)
        return False

    def latency_figures(self, res, d, topic, watcher):
        """The records' CreateTimes from the topic, read_committed, and
        their latencies against the watcher's changes."""
        a = self.args
        records = {}
        with open(os.path.join(d, "kcat.log"), "ab") as log:
            out = subprocess.run(self.kcat_argv(topic, "%p %o %T\\n"),
                                 stdout=subprocess.PIPE, stderr=log,
                                 env=self.kcat_env, check=False)
        if out.returncode != 0:
            res.error = "kcat could not read %s's timestamps" % topic
            return
        for line in out.stdout.decode().splitlines():
            q, off, ts = (int(x) for x in line.split())
            records.setdefault(q, []).append((off, ts))
        stamps = sorted(ts for recs in records.values() for _, ts in recs)
        if not stamps:
            res.error = "no committed record in %s" % topic
            return
        first = stamps[0]
        measured = [x for x in latencies(records, watcher.changes)
                    if x[0] >= first + a.latency_warmup * 1000]
        lat = sorted(x[1] for x in measured)
        with open(os.path.join(d, "applied.txt"), "w") as f:
            f.write("# time partition:next_offset... as the watcher saw "
                    "them\n")
            for t, st in watcher.changes:
                f.write("%.4f %s\n" % (t, " ".join(
                    "%d:%d" % kv for kv in sorted(st.items()))))
        span = (stamps[-1] - first) / 1000.0
        gaps = [y - x for x, y in zip(stamps, stamps[1:])]
        res.extra.update({
            "p50": percentile(lat, 0.5), "p99": percentile(lat, 0.99),
            "max": lat[-1] if lat else None, "measured": len(lat),
            "rate": (len(stamps) - 1) / span if span > 0 else 0.0,
            "commits": len(watcher.changes), "polls": watcher.polls,
            "gap": max(gaps) if gaps else 0})
        if measured:
            res.extra.update(breakdown(measured))
        if len(lat) + sum(1 for s in stamps if s < first +
                          a.latency_warmup * 1000) != len(stamps):
            res.error = "%d committed records never seen applied" % (
                len(stamps) - len(lat))
        note = ("%d commits seen in %d polls; largest gap between two "
                    "CreateTimes %d ms" % (len(watcher.changes),
                                           watcher.polls,
                                           res.extra["gap"]))
        if measured:
            note += ("; per step seen: span of its CreateTimes median "
                         "%s ms, max %s ms; applied after its newest "
                         "CreateTime median %s ms, p99 %s ms, max %s ms" % (
                             fmt_ms(res.extra["span50"]),
                             fmt_ms(res.extra["span_max"]),
                             fmt_ms(res.extra["delay50"]),
                             fmt_ms(res.extra["delay99"]),
                             fmt_ms(res.extra["delay_max"])))
        # The contender's own note (its server's CPU) is set after this.
        res.extra["latency_note"] = note


# ---- the report ----------------------------------------------------------

def latency_rows(bench):
    return getattr(bench, "latency_results", [])


def latency_table(bench):
    rows = ["| sink | records measured | p50 ms | p99 ms | max ms | "
            "records/s achieved | CPU s | peak RSS MiB | oracle check |",
            "|" + "---|" * 9]
    for r in latency_rows(bench):
        label = "kcat -u, read_committed, no sink (the reference)" if \
            r.name == "kcat" else bench.labels[r.name].replace("ksink, ", "")
        if r.error:
            rows.append("| %s | failed: %s | | | | | | | |" % (
                label, r.error.replace("|", "\\|")))
            continue
        x = r.extra
        rows.append("| %s | %s | %s | %s | %s | %s | %.2f | %.1f | %s |" % (
            label, "{:,}".format(x["measured"]), fmt_ms(x["p50"]),
            fmt_ms(x["p99"]), fmt_ms(x["max"]),
            "{:,}".format(int(round(x["rate"]))), r.cpu or 0.0,
            (r.rss_kib or 0) / 1024.0,
            "-" if r.ok is None else "pass" if r.ok else
            "**FAIL**: " + r.detail.replace("|", "\\|")))
    return "\n".join(rows)


def latency_notes(bench):
    a = bench.args
    how = ("an idempotent producer without transactions" if
           a.latency_transactions <= 0 else
           "transactions of 1 to %d records (none aborted)"
           % a.latency_transactions)
    settings = ("; ksink settings beyond its defaults: %s" % ", ".join(
        "`%s = %s`" % kv for kv in a.set)) if a.set else \
        "; ksink at its default settings (batch.max.ms 100: at this " \
        "rate batches are cut by time, not by size)"
    return ("From produce (the record's CreateTime, set when "
            "tests/kafka/txproducer hands it to librdkafka) to applied "
            "(first seen in the sink's committed offsets, polled every "
            "%d ms: the resolution).  %d-byte values, %s records/s "
            "paced record by record for %d s with %s, the first %d s "
            "left out, one fresh topic of %d partitions per sink read "
            "with read_committed%s.  CPU and RSS are ksink's over the "
            "whole run." % (a.latency_poll_ms, SIZE,
                            "{:,}".format(a.latency_rate),
                            a.latency_seconds, how, a.latency_warmup,
                            PARTITIONS, settings))


def latency_targets(bench):
    out = []
    rate = "{:,}".format(bench.args.latency_rate)
    for r in latency_rows(bench):
        if r.name not in TARGET_SINKS:
            continue
        desc = "latency at %s records/s: %s p99 ≤ %d ms" % (
            rate, bench.short[r.name], TARGET_P99_MS)
        if r.error or r.extra.get("p99") is None:
            out.append((desc, "failed", False))
            continue
        p99 = r.extra["p99"]
        out.append((desc, "%s ms%s" % (fmt_ms(p99), "" if r.ok else
                                       " (check failed)"),
                    p99 <= TARGET_P99_MS and bool(r.ok)))
    return out


def latency_md(bench):
    if not latency_rows(bench):
        return []
    return ["## Latency\n", latency_notes(bench) + "\n",
            latency_table(bench) + "\n"] + (
                ["Notes: " + "; ".join(
                    "%s: %s" % (r.name, "; ".join(
                        n for n in (r.extra.get("latency_note"), r.note)
                        if n)) for r in latency_rows(bench) if not
                    r.error) + ".\n"])


def latency_tsv(bench):
    """The latency runs as latest.tsv rows: the columns of the throughput
    rows (records_per_s the rate achieved, seconds the producer's), then
    TSV_COLUMNS."""
    lines = []
    for r in latency_rows(bench):
        x = r.extra
        rate = x.get("rate", 0.0)
        lines.append("%d\t%s\t%d\t%d\t%s\t-\t%.0f\t%.2f\t-\t%s\t%s\t%s"
                     "\tlatency\t%s\t%s\t%s\n" % (
                         r.size, r.name, r.records, r.payload,
                         "%.3f" % r.elapsed if r.elapsed else "-", rate,
                         rate * r.payload / r.records / 1e6 if r.records
                         else 0.0,
                         "%.2f" % r.cpu if r.cpu is not None else "-",
                         r.rss_kib if r.rss_kib is not None else "-",
                         "error" if r.error else "-" if r.ok is None else
                         "pass" if r.ok else "fail",
                         fmt_ms(x.get("p50")), fmt_ms(x.get("p99")),
                         fmt_ms(x.get("max"))))
    return "".join(lines)


def update_readme_latency(readme, bench, mach):
    if not latency_rows(bench):
        return
    try:
        with open(readme) as f:
            text = f.read()
    except OSError:
        return
    if BEGIN not in text or END not in text:
        return
    info = dict(mach)
    block = [BEGIN, "", "Run of %s on %s, load average %s at the start.  "
             % (info["date"], info["CPUs (nproc)"],
                info["load average (1, 5, 15 min) at start"]) +
             latency_notes(bench), "",
             latency_table(bench), "", END]
    pre, rest = text.split(BEGIN, 1)
    with open(readme, "w") as f:
        f.write(pre + "\n".join(block) + rest.split(END, 1)[1])
