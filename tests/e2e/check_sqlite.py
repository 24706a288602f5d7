#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Compare a SQLite database written by ksink with the oracle of its topic.

usage: check_sqlite.py ORACLE.tsv DB [--topic TOPIC]
       check_sqlite.py --count DB

ORACLE.tsv is the output of tests/kafka/oracle (PARTITION, OFFSET, KEY,
VALUE per committed record; the values are tests/kafka/txproducer's JSON
objects {"id", "user", "amount"}).  DB was filled by the sqlite connector
with the statements of the end-to-end tests:

  records(seq INTEGER PRIMARY KEY AUTOINCREMENT, topic, part, off, id)
      one row per applied record, in the order applied; no uniqueness, so
      a record applied twice shows as two rows
  balances(user TEXT PRIMARY KEY, amount INTEGER)
      the sum of the applied amounts per user

Prints one summary line
  oracle=N applied=N missing=0 duplicated=0 aborted_applied=0
  order_violations=0 balance_mismatches=0
(on one line) and exits 0 only when the database holds every committed
record exactly once, nothing else, each partition applied in offset order,
and every balance equals the sum of the user's committed amounts.  The
first few problems of each kind are printed to stderr.  With --topic, only
rows of that topic are considered (rows of other topics are reported).

--count prints the number of rows in records (0 when the table does not
exist yet) and exits 0; tests use it to wait for the sink to catch up.

Standard library only.
"""

import json
import os
import sqlite3
import urllib.parse
import sys
from collections import Counter, defaultdict

SHOW = 5


def connect(path):
    # Read-only; a concurrent ksink may hold a write lock for a moment.
    uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path))
    con = sqlite3.connect(uri, uri=True, timeout=30)
    return con


def count(path):
    try:
        con = connect(path)
        n = con.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.Error:
        n = 0
    print(n)
    return 0


def read_oracle(path):
    """Return [(part, off, id, user, amount)] from an oracle file."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t", 3)
            if len(fields) != 4:
                raise SystemExit("%s:%d: expected 4 tab-separated fields"
                                 % (path, lineno))
            part, off, _key, value = fields
            try:
                v = json.loads(value)
                out.append((int(part), int(off), str(v["id"]),
                            str(v["user"]), int(v["amount"])))
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit("%s:%d: unexpected record: %s (%s)"
                                 % (path, lineno, value, e))
    return out


def report(kind, items):
    for item in items[:SHOW]:
        print("check_sqlite: %s: %s" % (kind, item), file=sys.stderr)
    if len(items) > SHOW:
        print("check_sqlite: %s: ... %d more" % (kind, len(items) - SHOW),
              file=sys.stderr)


def main(argv):
    args = list(argv[1:])
    if len(args) == 2 and args[0] == "--count":
        return count(args[1])
    topic = None
    if "--topic" in args:
        i = args.index("--topic")
        if i + 1 >= len(args):
            raise SystemExit(__doc__)
        topic = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    oracle_path, db_path = args

    oracle = read_oracle(oracle_path)
    expected = {}  # (part, off) -> id
    balances = defaultdict(int)
    for part, off, rid, user, amount in oracle:
        expected[(part, off)] = rid
        balances[user] += amount

    con = connect(db_path)
    rows = con.execute(
        "SELECT seq, topic, part, off, id FROM records ORDER BY seq").fetchall()
    db_balances = dict(con.execute("SELECT user, amount FROM balances"))
    con.close()

    other_topic = []
    seen = Counter()
    aborted = []
    last_off = {}
    order = []
    for seq, rtopic, part, off, rid in rows:
        if topic is not None and rtopic != topic:
            other_topic.append("seq %s: topic %s" % (seq, rtopic))
            continue
        key = (part, off)
        if expected.get(key) != rid:
            aborted.append("seq %s: partition %s offset %s id %s is not a "
                           "committed record%s" % (
                               seq, part, off, rid,
                               "" if key not in expected else
                               " (committed there: %s)" % expected[key]))
        else:
            seen[key] += 1
        if part in last_off and off <= last_off[part]:
            order.append("seq %s: partition %s offset %s applied after "
                         "offset %s" % (seq, part, off, last_off[part]))
        last_off[part] = off

    missing = sorted(k for k in expected if seen[k] == 0)
    dups = sorted((k, n) for k, n in seen.items() if n > 1)
    duplicated = sum(n - 1 for _, n in dups)
    mism = []
    for user in sorted(set(balances) | set(db_balances)):
        want = balances.get(user)
        got = db_balances.get(user)
        if want != got:
            mism.append("user %s: balance %s, committed sum %s"
                        % (user, got, want))
    applied = sum(seen.values()) + len(aborted)

    report("missing", ["partition %s offset %s id %s" % (p, o, expected[(p, o)])
                       for p, o in missing])
    report("duplicated", ["partition %s offset %s applied %d times" % (p, o, n)
                          for (p, o), n in dups])
    report("aborted_applied", aborted)
    report("order", order)
    report("balance", mism)
    report("other topic", other_topic)
    print("oracle=%d applied=%d missing=%d duplicated=%d aborted_applied=%d "
          "order_violations=%d balance_mismatches=%d" % (
              len(oracle), applied, len(missing), duplicated, len(aborted),
              len(order), len(mism)))
    ok = not (missing or duplicated or aborted or order or mism or other_topic)
    if not oracle:
        print("check_sqlite: the oracle is empty: nothing was compared",
              file=sys.stderr)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
