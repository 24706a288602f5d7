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

The oracle is read and compared by tests/kafka/oracle.py.  Standard
library only.
"""

import os
import sqlite3
import sys

# No __pycache__ in the source tree, which may be read-only.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kafka"))
import oracle  # noqa: E402  (tests/kafka/oracle.py)

PROG = "check_sqlite"


def count(path):
    try:
        con = oracle.connect(path)
        n = con.execute("SELECT count(*) FROM records").fetchone()[0]
    except sqlite3.Error:
        n = 0
    print(n)
    return 0


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

    records = oracle.read(oracle_path)
    con = oracle.connect(db_path)
    rows = con.execute(
        "SELECT seq, topic, part, off, id FROM records ORDER BY seq").fetchall()
    db_balances = dict(con.execute("SELECT user, amount FROM balances"))
    con.close()

    ok = oracle.check_ledger(PROG, records, rows, db_balances, topic)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
