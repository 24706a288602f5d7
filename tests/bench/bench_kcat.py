# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_kcat.py - the kcat rows of `make bench`
(tests/bench/bench.py):

  kcat            kcat -C -e -q to /dev/null: what librdkafka delivers here,
                  the limit every ratio is taken against (run first and
                  last; the faster run counts)
  kcat-sqlite3    kcat | awk | sqlite3 (tests/bench/kcat-sqlite.awk),
                  checked like ksink's SQLite sink

The kcat | awk | psql row is a PostgreSQL one: bench_pg.py.

Standard library only.
"""

import os

from bench_harness import RUN_TIMEOUT, check_rows, spawn

KCAT_CONTENDERS = ["kcat", "kcat-sqlite3"]
KCAT_LABELS = {
    "kcat": "kcat -C -e -q > /dev/null (the limit)",
    "kcat-sqlite3": "kcat | awk | sqlite3",
}
KCAT_SHORT = {"kcat": "kcat (limit)", "kcat-sqlite3": "kcat|sqlite3"}


class KcatContenders:
    """The kcat contenders, mixed into bench.py's Bench."""

    def c_kcat(self, res, d, topic, oracle):
        argv = self.kcat_argv(topic)
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

    def c_kcat_sqlite3(self, res, d, topic, oracle):
        db = os.path.join(d, "peer.db")
        log = open(os.path.join(d, "pipeline.log"), "wb")
        self.run_pipeline(res, topic, oracle, "kcat-sqlite.awk",
                          [self.sqlite3, "-batch", "-bail", db], log)
        res.note = "CPU and RSS summed over kcat, awk, sqlite3"
        if res.error:
            return
        res.ok, res.detail = check_rows(
            oracle, db, "SELECT partition, offset, value FROM records "
            "ORDER BY partition, offset")
