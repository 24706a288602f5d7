#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Compares what the reference receiver applied with the oracle.

  check.py --db RECEIVER_DB --topic T --oracle FILE [--duplicates forbid|expect]
           [--faults 500,429,slow,close [--require-faults]] [--min-records N]
           [--kills N --min-kills N] [--progress]

The oracle file holds one line per committed record of the topic, as
tests/kafka/oracle prints them: PARTITION<TAB>OFFSET<TAB>KEY<TAB>VALUE,
with VALUE a JSON object holding "id", "user" and "amount".

Checks that every committed record was applied, that nothing else was
(records of aborted transactions in particular), that each record carries
its own content, that each partition's records were applied in offset
order, that the balances per user match, and, with --duplicates forbid,
that no record was applied twice (with expect: that some were, which proves
the check can see duplicates).  Prints the counts; exits 1 on a failure.
With --progress, prints only how many distinct records were applied and
exits 0.
"""

import argparse
import os
import sqlite3
import sys

# No __pycache__ in the source tree, which may be read-only.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kafka"))
import oracle  # noqa: E402  (tests/kafka/oracle.py)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--oracle")
    ap.add_argument("--duplicates", choices=("forbid", "expect"),
                    default="forbid")
    ap.add_argument("--faults", default="")
    ap.add_argument("--require-faults", action="store_true",
                    help="fail when a fault of --faults was never injected")
    ap.add_argument("--min-records", type=int, default=0)
    ap.add_argument("--kills", type=int, default=0)
    ap.add_argument("--min-kills", type=int, default=0)
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args()

    if args.progress:
        try:
            db = oracle.connect(args.db)
            n = db.execute("SELECT count(*) FROM (SELECT DISTINCT "
                           "partition, offset FROM applied WHERE topic = ?)",
                           (args.topic,)).fetchone()[0]
        except sqlite3.Error:
            n = 0
        print(n)
        return 0
    db = oracle.connect(args.db)

    records = oracle.read(args.oracle)
    rows = db.execute("SELECT partition, offset, id FROM applied "
                      "WHERE topic = ? ORDER BY seq", (args.topic,)).fetchall()
    got_balance = dict(db.execute("SELECT user, amount FROM balances"))
    # A record applied again (expected of a receiver ignoring the key) is
    # left out of the order check.
    res = oracle.compare(records, rows, got_balance, repeats_in_order=False)
    duplicates = res.duplicates
    missing = len(res.missing)
    wrong = res.wrong_content
    extra = len(res.aborted) - wrong
    out_of_order = len(res.order)
    bad_balance = len(res.balance)
    counters = dict(db.execute("SELECT name, n FROM counters"))
    faults = {f: counters.get("fault_" + f, 0)
              for f in filter(None, args.faults.split(","))}

    print("committed records %d, applied rows %d, distinct applied %d, "
          "duplicates %d, missing %d, not committed %d, wrong content %d, "
          "out of order %d, users with a wrong balance %d" %
          (len(records), len(rows), res.distinct, duplicates, missing, extra,
           wrong, out_of_order, bad_balance))
    print("receiver: %d requests, %d idempotent replays, %d skipped by "
          "offset, faults injected: %s" %
          (counters.get("requests", 0), counters.get("replays", 0),
           counters.get("records_skipped", 0),
           ", ".join("%s=%d" % kv for kv in faults.items()) or "none"))

    failures = []
    if len(records) < args.min_records:
        failures.append("only %d committed records, %d wanted" %
                        (len(records), args.min_records))
    if args.kills < args.min_kills:
        failures.append("only %d kills, %d wanted" %
                        (args.kills, args.min_kills))
    if missing:
        failures.append("%d committed records never applied" % missing)
    if extra:
        failures.append("%d applied records are not committed records "
                        "(aborted transactions?)" % extra)
    if wrong:
        failures.append("%d records applied with another record's content"
                        % wrong)
    if args.duplicates == "forbid":
        if duplicates:
            failures.append("%d records applied more than once" % duplicates)
        if out_of_order:
            failures.append("%d records applied out of offset order" %
                            out_of_order)
        if bad_balance:
            failures.append("%d users have a wrong balance" % bad_balance)
    elif duplicates == 0:
        failures.append("no duplicate seen: this receiver ignores the key, "
                        "the test should have seen some")
    for f, n in faults.items():
        if n == 0 and args.require_faults:
            failures.append("fault %s was never injected" % f)
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
