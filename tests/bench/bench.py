#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench.py - `make bench`: ksink's sinks side by side with
the kcat limit and the peers a user would pick instead, on one real broker.

usage: bench.py [--records N] [--records-1k N] [--sizes 100,1024]
                [--only NAME,...] [--repeat N] [--bootstrap HOST:PORT]
                [--partitions 3,12,48|none] [--scale-records N]
                [--scale-only]
                [--librdkafka system|VERSION]
                [--results DIR] [--work DIR] [--keep] [--no-results]
                [--latency yes|no|only] [--latency-rate N]
                [--latency-seconds N] [--latency-warmup N]
                [--latency-poll-ms N] [--latency-transactions N]

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
  sqlite-limit    SQLite's limit: the same rows inserted into the same
                  table with the same pragmas, batch.max.records per
                  transaction, by a prepared statement in a C loop
                  (tests/bench/sqlite_limit)
  sqlite          ksink, SQLite sink, default table (ksink_records)
  sqlite-upsert-limit  the same loop with the balance upsert (its limit)
  sqlite-upsert   ksink, SQLite sink, the balance upsert of the README
  http-limit      the HTTP limit: the HTTP sink's requests, built before
                  timing, POSTed to the same nginx by a libcurl loop over
                  keep-alive (tests/bench/http_limit)
  http            ksink, HTTP sink (JSON, ledger) into nginx answering 204
  connect         Kafka Connect 3.9.1 standalone, FileStreamSinkConnector
  kcat-sqlite3    kcat | awk | sqlite3 (tests/bench/kcat-sqlite.awk)
  pg-copy         PostgreSQL: psql's \\copy of the same rows from a file
                  into the same table on the same server (the limit)
  postgres        ksink, PostgreSQL sink, default table (ksink_records)
  postgres-upsert ksink, PostgreSQL sink, the balance upsert of the tests
  postgres-upsert-batch  the same ledger as a postgres.batch.statement
  connect-jdbc    Kafka Connect 3.9.1 standalone, Debezium's JDBC sink
  kcat-psql       kcat | awk | psql with COPY (tests/bench/kcat-psql.awk)

Then the scale part (tests/bench/bench_scale.py): kcat and ksink's sinks
(null, file, sqlite, sqlite-upsert, http, postgres, postgres-upsert) on
topics of 3, 12 and 48 partitions (--partitions) of 500,000 committed
records of 100 bytes (--scale-records), and "four": one ksink with a
null, a file, a SQLite and an HTTP connector, each on a topic of its own
of as many partitions holding a quarter of that.  In --only, NAME runs
at every partition count, NAME@P at P only; --scale-only runs the scale
part alone.

Then the latency part (tests/bench/bench_latency.py; --latency no skips
it, --latency only runs nothing else): for each ksink sink among --only
(null, file, sqlite, sqlite-upsert, http, postgres, postgres-upsert), on
a fresh topic of 3 partitions, tests/kafka/txproducer -I writes 20,000
records/s (--latency-rate) of 100 bytes, paced record by record, for 15 s
(--latency-seconds), with an idempotent producer and no transactions
(--latency-transactions N: in transactions of 1..N records), while one
ksink connector of that sink at its default settings applies them; a
watcher polls the sink's committed offsets every 5 ms
(--latency-poll-ms) and each record's latency is the time its offset
first showed as applied minus its Kafka timestamp (CreateTime, set when
the producer handed it over).  p50, p99 and max of the records after
the first 2 s (--latency-warmup), and the rate achieved, go into the
latency table; each run is checked against the oracle like its
throughput row.  With kcat among --only, a reference row comes first:
the same producer read by kcat -u (read_committed, no sink), each record
stamped as its line arrives: Kafka's path alone.  Not run with --profile.

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

The limits (tests/bench/bench_limits.py) read the topic once with kcat
into a file before any of them runs; each C program reads
it into memory and times its loop alone (elapsed and CPU), printing its
figures itself: reading the file is not counted.  They are checked like
their sinks (the rows, the balances, the requests nginx logged).  The
column "× its system's limit" gives each ksink sink's records/s over its
limit's in the same run: sqlite over sqlite-limit, sqlite-upsert over
sqlite-upsert-limit, http over http-limit, postgres over pg-copy,
postgres-upsert and postgres-upsert-batch over pg-copy-upsert.

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
the table is also copied into tests/bench/README.md between its markers;
the scale part adds its table to latest.md and the README (between
their SCALE markers), its rows (NAME@P) to latest.tsv, and draws
RESULTS/latest-scale.png.
RESULTS defaults to tests/bench/results in the source tree.

Environment: top_srcdir, top_builddir (set by make), KSINK,
KSINK_PLUGIN_DIR, PYTHON3 as for the tests; KSINK_KAFKA_CACHE for the
broker's jars; KSINK_CONNECT_CACHE for Kafka Connect's (default
${XDG_CACHE_HOME:-~/.cache}/ksink/connect-3.9.1); KSINK_JDBC_CACHE for
Debezium's JDBC sink (default .../ksink/debezium-jdbc-3.5.0.Final);
KSINK_BENCH_CONNECT_LOG, the log level of the JDBC sink's worker (WARN);
KSINK_PG_BINDIR as for tests/postgres/server.sh; MVN, JAVA, KCAT, NGINX,
GNUPLOT, SQLITE3, AWK, PSQL to name the programs.

The code, by concern: bench.py (this file: the options, the contenders
in their order, the run), bench_harness.py (processes under GNU time, the
broker and its topics, the oracle and its checks, timing a daemon or a
pipeline), bench_kcat.py (kcat, kcat | sqlite3), bench_ksink.py (ksink's
null, file, SQLite and HTTP sinks), bench_limits.py (the SQLite and HTTP
limits, and which sink is measured against which limit), bench_scale.py
(the scale part and its report), bench_connect.py (Kafka Connect's jars
and worker, the FileStreamSink row), bench_pg.py (the PostgreSQL rows,
Debezium's JDBC sink among them), bench_latency.py (the latency part) and
bench_report.py (the table, the targets, latest.md, latest.tsv, the chart,
the README's copy).

Standard library only.
"""

import argparse
import datetime
import os
import signal
import sys

sys.dont_write_bytecode = True      # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_limits  # noqa: E402
import bench_pg  # noqa: E402
import bench_scale  # noqa: E402
from bench_connect import (CONNECT_LABELS, CONNECT_SHORT,  # noqa: E402
                           ConnectContenders)
from bench_harness import Harness, die, kill_all, need, say  # noqa: E402
from bench_kcat import KCAT_LABELS, KCAT_SHORT, KcatContenders  # noqa: E402
from bench_latency import LatencyContenders, latency_table  # noqa: E402
from bench_ksink import (KSINK_CONTENDERS, KSINK_LABELS,  # noqa: E402
                         KSINK_SHORT, KsinkContenders)
from bench_report import replot, table, write_results  # noqa: E402

# The rows of the table, in the order they run.
CONTENDERS = ["kcat", "null", "file", "sqlite-limit", "sqlite",
              "sqlite-upsert-limit", "sqlite-upsert", "http-limit", "http",
              "connect", "kcat-sqlite3"] + bench_pg.PG_CONTENDERS

LABELS = {**KCAT_LABELS, **KSINK_LABELS, **CONNECT_LABELS,
          **bench_pg.PG_LABELS, **bench_limits.LIMIT_LABELS}
SHORT = {**KCAT_SHORT, **KSINK_SHORT, **CONNECT_SHORT, **bench_pg.PG_SHORT,
         **bench_limits.LIMIT_SHORT}

# Which contenders are ksink's (oracle-checked, RSS target).
KSINK_RUNS = KSINK_CONTENDERS + bench_pg.PG_KSINK_RUNS


class Bench(Harness, LatencyContenders, KsinkContenders, KcatContenders,
            ConnectContenders, bench_pg.PgContenders,
            bench_scale.ScaleContenders, bench_limits.LimitContenders):
    """The harness with every contender (c_NAME) mixed in; the report
    (bench_report.py) takes its rows from the attributes below."""

    contenders = CONTENDERS
    labels = LABELS
    short = SHORT
    ksink_runs = KSINK_RUNS

    def __init__(self, args):
        Harness.__init__(self, args)
        self.pg_init()
        self.latency_results = []

    def check_tools(self):
        for f in (self.ksink, self.txproducer, self.oracle_bin):
            if not os.access(f, os.X_OK):
                die("%s is not built (make bench builds it)" % f)
        wanted = {c.split("@")[0] for c in self.args.only}
        hint = "run tests/bench/install-deps.sh"
        need(self.kcat, hint)
        if wanted & {"http", "four", "http-limit"}:
            need(self.nginx, hint)
        self.limit_check_tools(wanted)
        if wanted & {"connect", "connect-jdbc"} or not self.bootstrap:
            need(self.java, hint)
        if wanted & {"connect", "connect-jdbc"}:
            need(self.mvn, hint)
        self.pg_check_tools(wanted)
        if wanted & {"kcat-sqlite3"}:
            need(self.sqlite3, hint)
            need(self.awk, hint)

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
        for size in a.sizes if a.latency != "only" and not a.scale_only \
                else []:
            order = [c for c in CONTENDERS if c in a.only]
            if not order:
                continue
            topic, oracle = self.fill(size, sizes[size])
            if "kcat" in a.only:
                order.append("kcat")        # again at the end
            for rep in range(a.repeat):
                for name in order:
                    res = self.run_one(size, name, topic, oracle)
                    self.results.append(res)
            self.limit_cleanup()
            if not a.keep:
                os.unlink(oracle.path)
        if a.latency != "no" and not a.profile and not a.scale_only:
            self.run_latency()
        if a.latency != "only":
            self.run_scale()
        self.load["end"] = os.getloadavg()
        self.finished_at = datetime.datetime.now()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=2000000,
                    help="committed records of 100 bytes (2,000,000)")
    ap.add_argument("--records-1k", type=int, default=500000,
                    help="committed records of 1 KiB (500,000)")
    ap.add_argument("--sizes", default="100,1024",
                    help="value sizes, of 100 and 1024")
    ap.add_argument("--only", default=",".join(
        CONTENDERS + bench_scale.SCALE_CONTENDERS[-1:]),
                    help="contenders to run (default: all); in the scale "
                    "part NAME runs at every partition count, NAME@P at P "
                    "only; four: 4 connectors in one process")
    ap.add_argument("--partitions", default="3,12,48",
                    help="partition counts of the scale part (3,12,48; "
                    "none: no scale part)")
    ap.add_argument("--scale-records", type=int,
                    default=bench_scale.SCALE_RECORDS,
                    help="committed records of 100 bytes per topic of the "
                    "scale part (500,000)")
    ap.add_argument("--scale-only", action="store_true",
                    help="only the scale part")
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
    ap.add_argument("--latency", choices=("yes", "no", "only"),
                    default="yes", help="the latency part: after the "
                    "throughput rows (yes), not at all (no), or alone "
                    "(only)")
    ap.add_argument("--latency-rate", type=int, default=20000,
                    metavar="N", help="records/s the latency producer "
                    "writes (20,000)")
    ap.add_argument("--latency-seconds", type=int, default=15, metavar="N",
                    help="how long it writes (15)")
    ap.add_argument("--latency-warmup", type=int, default=2, metavar="N",
                    help="seconds of its records left out (2)")
    ap.add_argument("--latency-poll-ms", type=int, default=5, metavar="N",
                    help="how often the sink's committed offsets are "
                    "looked at, the resolution (5)")
    ap.add_argument("--latency-transactions", type=int, default=0,
                    metavar="N", help="write in transactions of 1..N "
                    "records rather than without transactions (0)")
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
    if a.latency_rate < 1 or a.latency_seconds < 1 or a.latency_poll_ms < 1 \
            or not 0 <= a.latency_warmup < a.latency_seconds:
        ap.error("--latency-rate, --latency-seconds and --latency-poll-ms "
                 "must be positive, --latency-warmup below "
                 "--latency-seconds")
    for s in a.sizes:
        if s not in (100, 1024):
            ap.error("--sizes: 100 and 1024 only")
    a.only = [c.strip() for c in a.only.split(",") if c.strip()]
    try:
        a.partitions = bench_scale.parse_partitions(a.partitions)
    except ValueError as e:
        ap.error("--partitions: %s" % e)
    for c in a.only:
        if c not in CONTENDERS and not bench_scale.known(c):
            ap.error("--only: unknown contender %s (known: %s)"
                     % (c, ", ".join(CONTENDERS)))
    bench = Bench(a)
    if a.replot:
        replot(bench, a.sizes)
        bench_scale.replot_scale(bench)
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
        if bench.scale_results:
            print(bench_scale.scale_table(bench))
        print("\nprofiles under %s (figures not kept: profiled runs are "
              "slower)" % bench.work)
        return 0
    tgt, mach = [], []
    if bench.results or bench.latency_results:
        tab, tgt, mach = write_results(
            bench, a.sizes if a.latency != "only" else [])
        if bench.results:
            print(tab)
            print()
        if bench.latency_results:
            print(latency_table(bench))
            print()
    if bench.scale_results:
        tab, stgt = bench_scale.write_scale(bench)
        print(tab)
        print()
        tgt = tgt + stgt
    for desc, val, ok in tgt:
        print("%-60s %-32s %s" % (desc, val, "met" if ok else "MISSED"))
    print()
    for k, v in mach:
        print("%-40s %s" % (k, v))
    print("\nresults: %s/latest.md, latest.png%s" % (
        bench.results_dir, ", latest-scale.png" if bench.scale_results
        else ""))
    failed = [r for r in bench.results + bench.latency_results +
              list(bench.scale_results)
              if r.error or r.ok is False]
    return 1 if any(r.name in KSINK_RUNS for r in failed) else 0


if __name__ == "__main__":
    sys.exit(main())
