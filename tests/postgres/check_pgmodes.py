#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The tables of tests/postgres/mapping-modes.test, compared with the
oracle (a read_committed reading of the topic that tests/kafka/txproducer
-K wrote: values {"id","user","amount"}, every record of a user in one
partition, about a third of the transactions aborted).

usage: check_pgmodes.py upsert ORACLE.tsv DB TABLE
       check_pgmodes.py update ORACLE.tsv DB TABLE SEEDED
       check_pgmodes.py append ORACLE.tsv DB TABLE
       check_pgmodes.py caught ORACLE.tsv DB CONNECTOR...
       check_pgmodes.py progress DB CONNECTOR

upsert: insert.mode upsert, pk.mode record_value, pk.fields user,
fields.exclude id, auto.create: the columns are exactly user and amount
(information_schema), the primary key user, and each user's row holds the
amount of the user's last committed record.

update: insert.mode update, pk.mode record_value, pk.fields user,
fields.include user,amount, on a table the test made with the columns
user, amount, id and rows for the users SEEDED (comma-separated) only,
amount 0 and id 'seed': the rows stay those of SEEDED (update never
inserts), each one's amount is that of its user's last committed record
(0 when the user has none), and id stays 'seed' (not included).

append: insert.mode insert, pk.mode none, fields.include id,amount,
auto.create: the columns are exactly id and amount, no primary key, and
one row per committed record: the multiset of (id, amount) is the
oracle's (an aborted record or a record applied twice shows).

caught exits 0 once every CONNECTOR stored a next offset past the last
committed record of every partition; progress prints the sum of
CONNECTOR's stored next offsets.  The others print a summary line, the
problems on stderr, and exit 1 on any.
"""

import collections
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "kafka"))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)
import oracle  # noqa: E402
import check_mapping  # noqa: E402
from check_pg import psql  # noqa: E402
from check_pgmap import columns, lit, rows  # noqa: E402


def last_amounts(records):
    """{user: amount} of each user's last committed record; a user lives
    in one partition (txproducer -K), so offset order is its order."""
    out = {}
    for r in sorted(records, key=lambda r: (r.part, r.off)):
        out[r.user] = r.amount
    return out


def info_columns(db, table):
    """The column names information_schema lists for table."""
    schema, _, name = table.rpartition(".")
    return sorted(r[0] for r in psql(
        db, "SELECT column_name FROM information_schema.columns WHERE "
        "table_schema = %s AND table_name = %s"
        % (lit(schema or "public"), lit(name))))


def shape(db, table, want_cols, want_pk, problems):
    cols = info_columns(db, table)
    if cols != sorted(want_cols):
        problems.append("information_schema lists the columns %s, "
                        "expected %s" % (cols, sorted(want_cols)))
    _, pk = columns(db, '"%s"' % table)
    if pk != want_pk:
        problems.append("primary key %s, expected %s" % (pk, want_pk))


def finish(what, records, want, got, problems):
    print("%s: committed=%d want=%d rows=%d problems=%d"
          % (what, len(records), want, got, len(problems)))
    oracle.report("check_pgmodes", "problem", problems)
    return 1 if problems else 0


def upsert(tsv, db, table):
    records = oracle.read(tsv)
    problems = []
    shape(db, table, ["user", "amount"], ["user"], problems)
    want = last_amounts(records)
    got = {r["user"]: r["amount"] for r in rows(db, '"%s"' % table)}
    problems += check_mapping.compare(want, got)
    return finish("upsert", records, len(want), len(got), problems)


def update(tsv, db, table, seeded):
    records = oracle.read(tsv)
    problems = []
    last = last_amounts(records)
    want = {u: (last.get(u, 0), "seed") for u in seeded.split(",")}
    got = {r["user"]: (r["amount"], r["id"])
           for r in rows(db, '"%s"' % table)}
    problems += check_mapping.compare(want, got)
    touched = sum(1 for u in want if u in last)
    print("update: %d seeded rows, %d of them updated, %d users of the "
          "topic without a row" % (len(want), touched,
                                   len(set(last) - set(want))))
    return finish("update", records, len(want), len(got), problems)


def append(tsv, db, table):
    records = oracle.read(tsv)
    problems = []
    shape(db, table, ["id", "amount"], [], problems)
    want = collections.Counter((r.id, r.amount) for r in records)
    got = collections.Counter((r["id"], r["amount"])
                              for r in rows(db, '"%s"' % table))
    for k in sorted(set(want) | set(got)):
        if got[k] != want[k]:
            problems.append("record id %s amount %s: %d rows, expected %d"
                            % (k[0], k[1], got[k], want[k]))
    return finish("append", records, sum(want.values()),
                  sum(got.values()), problems)


def stored(db, connector):
    try:
        r = psql(db, "SELECT \"partition\", next_offset FROM ksink_offsets "
                 "WHERE connector = %s" % lit(connector), True)
    except subprocess.CalledProcessError:
        r = []
    return {int(p): int(n) for p, n in r}


def caught(tsv, db, *connectors):
    last = oracle.last_offsets(oracle.read(tsv))
    for c in connectors:
        got = stored(db, c)
        if any(got.get(p, 0) <= off for p, off in last.items()):
            return 1
    return 0


def progress(db, connector):
    print(sum(max(n, 0) for n in stored(db, connector).values()))
    return 0


def main(argv):
    cmds = {"upsert": 5, "update": 6, "append": 5, "progress": 4}
    if argv[1:2] == ["caught"] and len(argv) >= 5:
        return caught(*argv[2:])
    if len(argv) > 1 and cmds.get(argv[1]) == len(argv):
        return globals()[argv[1]](*argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
