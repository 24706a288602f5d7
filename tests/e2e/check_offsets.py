#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Checks for tests/e2e/offsets.test (`ksink offsets`).

usage: check_offsets.py stored ORACLE.tsv OFFSETS.json
       check_offsets.py reset OFFSETS.json TOPIC PARTITION=AFTER...
       check_offsets.py maxseq DB
       check_offsets.py applied DB SINCE_SEQ ORACLE.tsv SELECT...

ORACLE.tsv is the output of tests/kafka/oracle (PARTITION, OFFSET, KEY,
VALUE per committed record, in partition then offset order).  OFFSETS.json
is the output of `ksink offsets --json`.  DB was written by the sqlite
connector with one row per applied record in the table
records(seq, topic, part, off, id), without any uniqueness.

stored   every partition of OFFSETS.json stores the oracle's last offset
         of that partition + 1 (none when the partition has no record)
reset    OFFSETS.json (of a --reset) says AFTER for each given partition
         (a number, or "none")
maxseq   prints the highest seq of records (0 when empty)
applied  the rows with seq > SINCE_SEQ are exactly the oracle's records
         chosen by the SELECT words, each once, each partition in offset
         order.  A SELECT word is P>=X (partition P from offset X on), P
         (all of partition P), or new:OLD.tsv (every record not in
         OLD.tsv, an older oracle of the same topic)

Each prints what it compared and exits 0 when it holds, 1 otherwise.
Standard library only.
"""

import json
import os
import sqlite3
import sys
import urllib.parse
from collections import Counter, defaultdict


def read_oracle(path):
    recs = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            part, off, _key, value = line.rstrip("\n").split("\t", 3)
            rid = json.loads(value)["id"] if value != "-" else None
            recs.append((int(part), int(off), rid))
    return recs


def show(offset):
    return "none" if offset is None else str(offset)


def connect(path):
    uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path))
    return sqlite3.connect(uri, uri=True, timeout=30)


def cmd_stored(oracle, offsets):
    last = {}
    for part, off, _ in read_oracle(oracle):
        last[part] = off
    doc = json.load(open(offsets, encoding="utf-8"))
    bad = 0
    for p in doc["partitions"]:
        want = last[p["partition"]] + 1 if p["partition"] in last else None
        got = p["stored"]
        ok = got == want
        bad += not ok
        print("  %s/%d: sink stores %s, oracle's last offset + 1 is %s%s"
              % (p["topic"], p["partition"], show(got), show(want),
                 "" if ok else "   <-- differs"))
    if len(doc["partitions"]) != len(last) and last:
        print("  %d partitions listed, the oracle has records in %d"
              % (len(doc["partitions"]), len(last)))
        bad += 1
    return 1 if bad else 0


def cmd_reset(offsets, topic, wants):
    doc = json.load(open(offsets, encoding="utf-8"))
    got = {(p["topic"], p["partition"]): p for p in doc["partitions"]}
    bad = 0
    if doc.get("reset") is not True or doc.get("dry_run") is not False:
        print("  not the output of a --reset without --dry-run")
        bad += 1
    for w in wants:
        part, after = w.split("=")
        want = None if after == "none" else int(after)
        p = got.get((topic, int(part)))
        if p is None:
            print("  %s/%s is not listed" % (topic, part))
            bad += 1
            continue
        ok = p["after"] == want
        bad += not ok
        print("  %s/%s: before %s, after %s, asked %s%s"
              % (topic, part, show(p["before"]), show(p["after"]), show(want),
                 "" if ok else "   <-- differs"))
    return 1 if bad else 0


def cmd_maxseq(db):
    con = connect(db)
    print(con.execute("SELECT coalesce(max(seq), 0) FROM records")
          .fetchone()[0])
    return 0


def cmd_applied(db, since, oracle, selects):
    recs = read_oracle(oracle)
    want = []
    for sel in selects:
        if sel.startswith("new:"):
            old = {(p, o) for p, o, _ in read_oracle(sel[4:])}
            want += [r for r in recs if (r[0], r[1]) not in old]
        elif ">=" in sel:
            p, x = (int(v) for v in sel.split(">="))
            want += [r for r in recs if r[0] == p and r[1] >= x]
        else:
            want += [r for r in recs if r[0] == int(sel)]
    con = connect(db)
    rows = con.execute("SELECT part, off, id FROM records WHERE seq > ? "
                       "ORDER BY seq", (int(since),)).fetchall()
    got = [(int(p), int(o), i) for p, o, i in rows]
    bad = 0
    wc, gc = Counter(want), Counter(got)
    missing = wc - gc
    extra = gc - wc
    for part in sorted({r[0] for r in want} | {r[0] for r in got}):
        offs = [r[1] for r in got if r[0] == part]
        w = [r for r in want if r[0] == part]
        rng = "%d..%d" % (w[0][1], w[-1][1]) if w else "none"
        print("  partition %d: %d records expected (offsets %s), %d "
              "applied" % (part, len(w), rng, len(offs)))
        if offs != sorted(offs):
            print("  partition %d applied out of offset order" % part)
            bad += 1
    for what, diff in (("missing", missing), ("unexpected", extra)):
        if diff:
            bad += 1
            print("  %d %s, first: %s" % (sum(diff.values()), what,
                  sorted(diff)[:5]))
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 4 and argv[1] == "stored":
        return cmd_stored(argv[2], argv[3])
    if len(argv) >= 5 and argv[1] == "reset":
        return cmd_reset(argv[2], argv[3], argv[4:])
    if len(argv) == 3 and argv[1] == "maxseq":
        return cmd_maxseq(argv[2])
    if len(argv) >= 6 and argv[1] == "applied":
        return cmd_applied(argv[2], argv[3], argv[4], argv[5:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
