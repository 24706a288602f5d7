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
import json
import sqlite3
import sys


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

    db = sqlite3.connect(args.db, timeout=30)
    if args.progress:
        try:
            n = db.execute("SELECT count(*) FROM (SELECT DISTINCT "
                           "partition, offset FROM applied WHERE topic = ?)",
                           (args.topic,)).fetchone()[0]
        except sqlite3.Error:
            n = 0
        print(n)
        return 0

    oracle = {}
    want_balance = {}
    with open(args.oracle) as fp:
        for line in fp:
            part, off, _key, value = line.rstrip("\n").split("\t", 3)
            v = json.loads(value)
            oracle[(int(part), int(off))] = str(v["id"])
            want_balance[v["user"]] = want_balance.get(v["user"], 0) + \
                v["amount"]

    rows = db.execute("SELECT partition, offset, id FROM applied "
                      "WHERE topic = ? ORDER BY seq", (args.topic,)).fetchall()
    seen = {}
    last = {}
    out_of_order = 0
    wrong = 0
    for part, off, ident in rows:
        k = (part, off)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] > 1:
            continue
        if k in oracle and oracle[k] != ident:
            wrong += 1
        if part in last and off <= last[part]:
            out_of_order += 1
        last[part] = off
    duplicates = sum(n - 1 for n in seen.values())
    missing = sum(1 for k in oracle if k not in seen)
    extra = sum(1 for k in seen if k not in oracle)
    got_balance = dict(db.execute("SELECT user, amount FROM balances"))
    bad_balance = sum(1 for u in set(want_balance) | set(got_balance)
                      if want_balance.get(u, 0) != got_balance.get(u, 0))
    counters = dict(db.execute("SELECT name, n FROM counters"))
    faults = {f: counters.get("fault_" + f, 0)
              for f in filter(None, args.faults.split(","))}

    print("committed records %d, applied rows %d, distinct applied %d, "
          "duplicates %d, missing %d, not committed %d, wrong content %d, "
          "out of order %d, users with a wrong balance %d" %
          (len(oracle), len(rows), len(seen), duplicates, missing, extra,
           wrong, out_of_order, bad_balance))
    print("receiver: %d requests, %d idempotent replays, %d skipped by "
          "offset, faults injected: %s" %
          (counters.get("requests", 0), counters.get("replays", 0),
           counters.get("records_skipped", 0),
           ", ".join("%s=%d" % kv for kv in faults.items()) or "none"))

    failures = []
    if len(oracle) < args.min_records:
        failures.append("only %d committed records, %d wanted" %
                        (len(oracle), args.min_records))
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
