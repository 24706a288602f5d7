# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_ksink.py - ksink's rows of `make bench`
(tests/bench/bench.py), the PostgreSQL sink's aside (bench_pg.py): ksink
run as a daemon (bench_harness.py's run_daemon) with one connector of one
sink, until the sink shows every record of the topic, then checked
against the oracle:

  null            null sink (null.fsync = false): the worker alone
  file            file sink: one file, fsync per batch
  sqlite          SQLite sink, default table (ksink_records)
  sqlite-upsert   SQLite sink, the balance upsert of the README
  http            HTTP sink (JSON, ledger) into nginx answering 204

and --profile's perf or callgrind report of each.

Standard library only.
"""

import collections
import os
import signal
import socket
import sqlite3
import subprocess
import time

from bench_harness import (check_lines, check_rows, cmd, die, free_port,
                           say, spawn, sqlite_offsets)

# ksink's contenders here; bench_pg.py has the PostgreSQL sink's.
KSINK_CONTENDERS = ("null", "file", "sqlite", "sqlite-upsert", "http")
KSINK_LABELS = {
    "null": "ksink, null sink",
    "file": "ksink, file sink (fsync per batch)",
    "sqlite": "ksink, SQLite sink, default table",
    "sqlite-upsert": "ksink, SQLite sink, balance upsert",
    "http": "ksink, HTTP sink into nginx (204)",
}
KSINK_SHORT = {"null": "null", "file": "file", "sqlite": "SQLite",
               "sqlite-upsert": "SQLite upsert", "http": "HTTP"}

UPSERT_INIT = ("CREATE TABLE IF NOT EXISTS balances(user TEXT PRIMARY KEY, "
               "amount INTEGER NOT NULL)")
UPSERT_STATEMENT = (
    "INSERT INTO balances(user, amount)\n"
    "    VALUES (json_extract(:value, '$.user'), "
    "json_extract(:value, '$.amount'))\n"
    "    ON CONFLICT(user) DO UPDATE SET amount = amount + excluded.amount")


def check_balances(oracle, db):
    """The balances table of the README's upsert in SQLite database db
    must hold every user's sum of amounts.  Returns (ok, detail)."""
    con = sqlite3.connect(db)
    got = dict(con.execute("SELECT user, amount FROM balances"))
    con.close()
    bad = sorted(u for u in set(got) | set(oracle.balances)
                 if got.get(u) != oracle.balances.get(u))
    return (not bad, "%d balances = oracle sums" % len(got) if not bad
            else "balances of %s differ" % bad[:5])


def check_sqlite(oracle, db, upsert):
    """The SQLite database of the sink or of its limit: every balance
    (upsert), or the rows of the default table.  Returns (ok, detail)."""
    if upsert:
        return check_balances(oracle, db)
    return check_rows(oracle, db, 'SELECT "partition", "offset", "value" '
                      'FROM ksink_records ORDER BY "partition", "offset"')


def check_access_log(oracle, topic, path):
    """The requests nginx logged (tests/bench/nginx.conf.in: status topic
    partition first last count content_length) against the oracle: the
    records of every partition, offset ranges without overlap, the last
    offset.  Returns (problems, requests, requests not answered 204)."""
    ranges = {}
    requests = 0
    bad_status = 0
    with open(path) as f:
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
    return problems, requests, bad_status


def null_state(path, topic):
    """The null sink's state file: {partition: (next offset, records,
    bytes)} of topic; empty while there is none."""
    st = {}
    try:
        with open(path) as f:
            for line in f.readlines()[1:]:
                t, p, nxt, recs, nbytes = line.split()
                if t == topic:
                    st[int(p)] = (int(nxt), int(recs), int(nbytes))
    except (OSError, ValueError):
        pass
    return st


def manifest_offsets(path, topic):
    """The file sink's manifest: {partition: next offset} of topic."""
    st = {}
    try:
        with open(path) as f:
            for line in f:
                w = line.split()
                if len(w) == 4 and w[0] == "offset" and w[1] == topic:
                    st[int(w[2])] = int(w[3])
    except (OSError, ValueError):
        pass
    return st


class AccessLog:
    """What nginx has answered so far (tests/bench/nginx.conf.in's log:
    status topic partition first last count content_length): follow()
    reads the lines added since and keeps the highest last offset of
    each partition of topic answered 204 in last."""

    def __init__(self, path, topic):
        self.path = path
        self.topic = topic.encode()
        self.pos = 0
        self.last = {}

    def follow(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return self.last
        end = data.rfind(b"\n") + 1
        self.pos += end
        for line in data[:end].splitlines():
            w = line.split()
            if len(w) >= 5 and w[0] == b"204" and w[1] == self.topic:
                q, last = int(w[2]), int(w[4])
                if last > self.last.get(q, -1):
                    self.last[q] = last
        return self.last


# One connector's sink in a ksink run: the lines of its [connector]
# section (body), done() once it holds every record of its topic,
# started() once it applied one, the files whose last change ends its
# elapsed time (artefacts), check(res) -> (ok, detail) against the
# oracle after ksink stopped, progress() (default: the artefacts'
# modification times), and close(res) for what it started (a receiver),
# called whatever happened.
SinkSpec = collections.namedtuple(
    "SinkSpec", "body done started artefacts check progress close",
    defaults=(None, None))


class KsinkContenders:
    """ksink's contenders, mixed into bench.py's Bench."""

    # -- a ksink run --

    def ksink_conf(self, d, topic, body, more=()):
        """ksink.ini of one connector, bench, on topic; more: further
        connectors, (name, topic, body) each, in the same process."""
        conf = os.path.join(d, "ksink.ini")
        sets = "".join("%s = %s\n" % kv for kv in self.args.set
                       if not kv[0].startswith("worker."))
        # Private: a postgres.conninfo is a secret.
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            worker = dict([("log.level", "info")] + [
                (k[7:], v) for k, v in self.args.set
                if k.startswith("worker.")])
            f.write("[worker]\nplugin.dir = %s\n%s\n"
                    "[kafka]\nbootstrap.servers = %s\n"
                    % (self.plugins,
                       "".join("%s = %s\n" % kv for kv in worker.items()),
                       self.bootstrap))
            for name, t, b in (("bench", topic, body),) + tuple(more):
                f.write("\n[connector %s]\ntopics = %s\n"
                        "kafka.group.id = ksink-%s-%s\n%s%s"
                        % (name, t, name, self.run_id, b, sets))
        rc = subprocess.call([self.ksink, "-t", "-c", conf],
                             stdout=subprocess.DEVNULL,
                             stderr=open(os.path.join(d, "check.log"),
                                         "wb"))
        if rc != 0:
            die("ksink -t refuses %s: %s" % (conf, open(os.path.join(
                d, "check.log")).read()))
        return conf

    def run_ksink(self, res, d, topic, oracle, body, done, artefacts,
                  started, progress=None, more=()):
        conf = self.ksink_conf(d, topic, body, more)
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

    # -- the contenders: each one connector of one sink (SinkSpec) --

    def run_spec(self, res, d, topic, oracle, spec):
        """One ksink run of one connector, then its check."""
        try:
            self.run_ksink(res, d, topic, oracle, spec.body, spec.done,
                           spec.artefacts, spec.started,
                           progress=spec.progress)
        finally:
            if spec.close:
                spec.close(res)
        if not res.error:
            res.ok, res.detail = spec.check(res)

    def c_null(self, res, d, topic, oracle):
        if not os.path.exists(os.path.join(self.plugins, "null.so")):
            res.error = "the null sink is not built (%s/null.so)" % (
                self.plugins)
            return
        self.run_spec(res, d, topic, oracle, self.spec_null(d, topic,
                                                            oracle))

    def c_file(self, res, d, topic, oracle):
        self.run_spec(res, d, topic, oracle, self.spec_file(d, topic,
                                                            oracle))

    def c_sqlite(self, res, d, topic, oracle):
        self.run_spec(res, d, topic, oracle, self.spec_sqlite(d, topic,
                                                              oracle))

    def c_sqlite_upsert(self, res, d, topic, oracle):
        self.run_spec(res, d, topic, oracle, self.spec_sqlite(
            d, topic, oracle, upsert=True))

    def c_http(self, res, d, topic, oracle):
        self.run_spec(res, d, topic, oracle, self.spec_http(d, topic,
                                                            oracle))

    # -- the sinks --

    def spec_null(self, d, topic, oracle):
        state = os.path.join(d, "null.state")

        def read_state():
            return null_state(state, topic)

        def done():
            st = read_state()
            return all(st.get(p, (0,))[0] >= n for p, n in
                       oracle.next.items())

        def started():
            return any(v[1] > 0 for v in read_state().values())

        def check(res):
            st = read_state()
            bad = [p for p in oracle.count if st.get(p) !=
                   (oracle.next[p], oracle.count[p], oracle.bytes[p])]
            if not bad and len(st) == len(oracle.count):
                return True, ("records, bytes and next offset of every "
                              "partition = oracle")
            return False, "partitions %s differ: %s vs oracle %s" % (
                bad, st, {p: (oracle.next[p], oracle.count[p],
                              oracle.bytes[p]) for p in bad})

        return SinkSpec("type = null\nnull.state = %s\nnull.fsync = false\n"
                        % state, done, started, [state], check)

    def spec_file(self, d, topic, oracle, connector="bench"):
        out = os.path.join(d, "out.log")
        manifest = os.path.join(d, "ksink-%s.manifest" % connector)

        def offsets():
            return manifest_offsets(manifest, topic)

        def done():
            st = offsets()
            return all(st.get(p, 0) >= n for p, n in oracle.next.items())

        def started():
            return os.path.exists(out) and os.path.getsize(out) > 0

        def check(res):
            ok, detail = check_lines(oracle, out)
            if ok and offsets() != oracle.next:
                return False, "manifest offsets %s, oracle %s" % (
                    offsets(), oracle.next)
            return ok, detail

        return SinkSpec("type = file\nfile.path = %s\nfile.format = value\n"
                        % out, done, started, [manifest], check)

    def spec_sqlite(self, d, topic, oracle, upsert=False):
        db = os.path.join(d, "bench.db")

        def done():
            st = sqlite_offsets(db, "ksink_offsets", topic)
            return all(st.get(p, 0) >= n for p, n in oracle.next.items())

        def started():
            return bool(sqlite_offsets(db, "ksink_offsets", topic))

        def check(res):
            ok, detail = check_sqlite(oracle, db, upsert)
            st = sqlite_offsets(db, "ksink_offsets", topic)
            if ok and st != oracle.next:
                return False, "ksink_offsets %s, oracle %s" % (st,
                                                               oracle.next)
            return ok, detail

        body = "type = sqlite\nsqlite.path = %s\n" % db
        if upsert:
            body += "sqlite.init = %s\nsqlite.statement = %s\n" % (
                UPSERT_INIT, UPSERT_STATEMENT)
        return SinkSpec(body, done, started, [db, db + "-wal"], check)

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

    def stop_nginx(self, res, nginx):
        nginx.signal(signal.SIGQUIT)     # graceful: flushes its log
        if not nginx.wait(20):
            nginx.stop()
        res.extra["receiver_cpu"] = nginx.cpu
        res.note = "nginx CPU %.1f s" % nginx.cpu

    def spec_http(self, d, topic, oracle):
        nginx, port, prefix = self.start_nginx(d)
        ledger = os.path.join(d, "ledger.db")
        access = os.path.join(prefix, "access.log")
        # The ledger is locked while ksink runs: follow what nginx logs,
        # then wait for the ledger to settle (run_daemon).
        log = AccessLog(access, topic)

        def done():
            last = log.follow()
            return all(last.get(p, -1) >= n - 1 for p, n in
                       oracle.next.items())

        def started():
            return bool(log.follow())

        def close(res):
            self.stop_nginx(res, nginx)

        def check(res):
            problems, requests, bad_status = check_access_log(
                oracle, topic, access)
            res.note += "; %d requests, %.0f records each" % (
                requests, oracle.total / requests if requests else 0)
            st = sqlite_offsets(ledger, "ksink_offsets", topic)
            if st != oracle.next:
                problems.append("ledger offsets %s, oracle %s" % (
                    st, oracle.next))
            res.extra["requests"] = res.extra.get("requests", 0) + requests
            detail = ("%d requests; records per partition, offset ranges "
                      "without overlap and ledger offsets = oracle"
                      % requests if not problems else
                      "; ".join(problems[:3]))
            if bad_status:
                detail += "; %d requests answered other than 204" % (
                    bad_status)
            return not problems, detail

        return SinkSpec("type = http\nhttp.url = http://127.0.0.1:%d/ingest\n"
                        "http.state.path = %s\n" % (port, ledger), done,
                        started, [ledger, ledger + "-wal"], check,
                        close=close)
