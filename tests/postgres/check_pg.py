#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Compare the ledger the postgres sink wrote with the oracle of its topic.

usage: check_pg.py ORACLE.tsv DBNAME [--topic TOPIC]
       check_pg.py --count DBNAME

The tables are those of tests/postgres/pg-common.sh:
  records(seq bigserial, topic, part, off, id)   no uniqueness
  balances("user" text PRIMARY KEY, amount bigint)
read through tests/postgres/server.sh psql as the superuser.  Prints the
summary line of tests/kafka/oracle.py's check_ledger() and exits 0 only when exact.
--count prints the number of rows in records (0 before the table exists).

Standard library only.
"""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# No __pycache__ in the source tree, which may be read-only.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "kafka"))
import oracle  # noqa: E402  (tests/kafka/oracle.py)

SERVER = os.path.join(HERE, "server.sh")


def psql(db, sql, quiet=False):
    out = subprocess.run([SERVER, "psql", "-At", "-F", "\t", "-d", db,
                          "-c", sql], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL if quiet else None,
                         universal_newlines=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def main(argv):
    args = list(argv[1:])
    if len(args) == 2 and args[0] == "--count":
        try:
            print(psql(args[1], "SELECT count(*) FROM records", True)[0][0])
        except subprocess.CalledProcessError:
            print(0)
        return 0
    topic = None
    if "--topic" in args:
        i = args.index("--topic")
        topic = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    records = oracle.read(args[0])
    rows = [(int(s), t, int(p), int(o), i) for s, t, p, o, i in
            psql(args[1], "SELECT seq, topic, part, off, id FROM records "
                 "ORDER BY seq")]
    balances = {u: int(a) for u, a in
                psql(args[1], 'SELECT "user", amount FROM balances')}
    ok = oracle.check_ledger("check_pg", records, rows, balances, topic)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
