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
       check_pgmodes.py matrix list|refused
       check_pgmodes.py matrix progress DB SQDIR
       check_pgmodes.py matrix caught ORACLE.tsv DB SQDIR
       check_pgmodes.py matrix check ORACLE.tsv TOPIC DB SQDIR SEEDED
           DLQ_PG.tsv DLQ_SQ.tsv

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

matrix: the tables of tests/postgres/mapping-matrix.test, one per
database (pg: DB; sq: a file SQDIR/MODE_PK.db each) and combination of
insert.mode and pk.mode (MATRIX), each written by connector DB_MODE_PK
into table MODE_PK; key.converter string for record_key (the key "uK"
is the column user), pk.fields user (id for insert) for record_value.
list prints the combinations the test runs ("pg insert none", ...),
refused those ksink -t must refuse; progress prints the sum of every
connector's stored next offsets, caught exits 0 once all are past the
last committed record of every partition.  check compares every table
with what its combination makes of the committed records:
  insert none, kafka, record_value: a row per committed record (kafka:
    at its TOPIC, partition and offset);
  insert record_key: the first committed record of each user; the later
    ones are poison (a repeated key), skipped to the dead letter queue,
    whose oracle reading DLQ_PG.tsv or DLQ_SQ.tsv must hold exactly them
    (copies allowed: a replayed batch writes its letters again);
  upsert: the last committed record of each user;
  update: on a table the test made with rows (id 'seed', amount 0) for
    the users SEEDED only, those rows with their user's last committed
    record, and no other row;
and the columns and primary key auto.create made.  One line per table.

caught exits 0 once every CONNECTOR stored a next offset past the last
committed record of every partition; progress prints the sum of
CONNECTOR's stored next offsets.  The others print a summary line, the
problems on stderr, and exit 1 on any.
"""

import collections
import os
import sqlite3
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


def first_last(records):
    """({user: first committed record}, {user: last committed record}); a
    user lives in one partition (txproducer -K), so offset order is its
    order."""
    first, last = {}, {}
    for r in sorted(records, key=lambda r: (r.part, r.off)):
        first.setdefault(r.user, r)
        last[r.user] = r
    return first, last


def last_amounts(records):
    """{user: amount} of each user's last committed record."""
    return {u: r.amount for u, r in first_last(records)[1].items()}


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
    problems += compare_counts(want, got)
    return finish("append", records, sum(want.values()),
                  sum(got.values()), problems)


def compare_counts(want, got):
    """The problems of the rows got against want, Counters of tuples: a
    row missing, applied twice, or of no record."""
    return ["row %s: %d in the table, expected %d" % (k, got[k], want[k])
            for k in sorted(set(want) | set(got), key=str)
            if got[k] != want[k]]


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


# insert.mode x pk.mode: what runs, and what ksink -t refuses (upsert
# and update need a key; update cannot find rows by the record's place).
MATRIX = [("insert", "none"), ("insert", "kafka"), ("insert", "record_key"),
          ("insert", "record_value"), ("upsert", "kafka"),
          ("upsert", "record_key"), ("upsert", "record_value"),
          ("update", "record_key"), ("update", "record_value")]
REFUSED = [("upsert", "none"), ("update", "none"), ("update", "kafka")]
KAFKA_PK = ["__connect_topic", "__connect_partition", "__connect_offset"]


class Matrix:
    """The tables of one test run, in PostgreSQL database db and SQLite
    files under sqdir."""

    def __init__(self, db, sqdir):
        self.db = db
        self.sqdir = sqdir

    def sq(self, table):
        return oracle.connect(os.path.join(self.sqdir, table + ".db"))

    def stored(self):
        """{connector: {partition: next offset}} of every connector."""
        out = collections.defaultdict(dict)
        try:
            r = psql(self.db, "SELECT connector, \"partition\", "
                     "next_offset FROM ksink_offsets", True)
        except subprocess.CalledProcessError:
            r = []
        for c, p, n in r:
            out[c][int(p)] = int(n)
        for mode, pk in MATRIX:
            table = "%s_%s" % (mode, pk)
            if not os.path.exists(os.path.join(self.sqdir, table + ".db")):
                continue
            try:
                for c, p, n in self.sq(table).execute(
                        "SELECT connector, partition, next_offset "
                        "FROM ksink_offsets"):
                    out[c][p] = n
            except sqlite3.Error:
                pass
        return out

    def table(self, dbname, table):
        """([column], [primary key column], [row as a dict])."""
        if dbname == "pg":
            return (info_columns(self.db, table),
                    columns(self.db, '"%s"' % table)[1],
                    rows(self.db, '"%s"' % table))
        con = self.sq(table)
        con.row_factory = sqlite3.Row
        info = con.execute("SELECT name, pk FROM pragma_table_info(?)",
                           (table,)).fetchall()
        return (sorted(r["name"] for r in info),
                [r["name"] for r in sorted(info, key=lambda r: r["pk"])
                 if r["pk"] > 0],
                [dict(r) for r in con.execute('SELECT * FROM "%s"'
                                              % table)])


def matrix_want(mode, pk, topic, records, seeded):
    """What the table of mode and pk holds after the committed records:
    its rows (a Counter of tuples), columns and primary key, and the
    function that makes a row (a dict) the tuple compared."""
    cols = ["amount", "id", "user"]
    key = {"none": [], "kafka": KAFKA_PK, "record_key": ["user"],
           "record_value": ["id" if mode == "insert" else "user"]}[pk]
    if pk == "kafka":
        cols += KAFKA_PK
        want = collections.Counter((topic, r.part, r.off, r.id, r.user,
                                    r.amount) for r in records)
        return want, cols, key, lambda w: tuple(
            w[c] for c in KAFKA_PK + ["id", "user", "amount"])
    first, last = first_last(records)
    order = (first.values() if (mode, pk) == ("insert", "record_key") else
             records if mode == "insert" else last.values())
    want = collections.Counter((r.id, r.user, r.amount) for r in order
                               if mode != "update" or r.user in seeded)
    if mode == "update":
        want.update(("seed", u, 0) for u in seeded if u not in last)
    return want, cols, key, lambda w: (w["id"], w["user"], w["amount"])


def matrix_check(tsv, topic, db, sqdir, seeded, dlq_pg, dlq_sq):
    records = oracle.read(tsv)
    seeded = seeded.split(",")
    mx = Matrix(db, sqdir)
    stored = mx.stored()
    last = oracle.last_offsets(records)
    bad = 0
    for dbname, dlq in (("pg", dlq_pg), ("sq", dlq_sq)):
        for mode, pk in MATRIX:
            table = "%s_%s" % (mode, pk)
            conn = "%s_%s" % (dbname, table)
            want, cols, key, tup = matrix_want(mode, pk, topic, records,
                                               seeded)
            problems = []
            got_cols, got_key, got_rows = mx.table(dbname, table)
            if sorted(got_cols) != sorted(cols):
                problems.append("columns %s, expected %s"
                                % (got_cols, sorted(cols)))
            if got_key != key:
                problems.append("primary key %s, expected %s"
                                % (got_key, key))
            got = collections.Counter(tup(w) for w in got_rows)
            problems += compare_counts(want, got)
            for p, off in sorted(last.items()):
                n = stored[conn].get(p)
                if n is None or n <= off:
                    problems.append("partition %d: next offset %s, not "
                                    "past %d" % (p, n, off))
            extra = ""
            if mode == "insert" and pk == "record_key":
                kept = {t[0] for t in want}
                later = {r.id for r in records if r.id not in kept}
                letters = [r.id for r in oracle.read(dlq)]
                if set(letters) != later:
                    problems.append(
                        "dead letters: %d not sent, %d not of a later "
                        "record of a user" % (len(later - set(letters)),
                                              len(set(letters) - later)))
                extra = " dead_letters=%d (%d distinct)" % (
                    len(letters), len(set(letters)))
            print("%s %-6s x %-12s committed=%d want=%d rows=%d%s "
                  "problems=%d" % (dbname, mode, pk, len(records),
                                   sum(want.values()), sum(got.values()),
                                   extra, len(problems)))
            oracle.report("check_pgmodes: %s" % conn, "problem", problems)
            bad += len(problems)
    return 1 if bad else 0


def matrix(args):
    if args == ["list"] or args == ["refused"]:
        for dbname in ("pg", "sq"):
            for mode, pk in MATRIX if args[0] == "list" else REFUSED:
                print(dbname, mode, pk)
        return 0
    if len(args) == 3 and args[0] == "progress":
        print(sum(max(n, 0) for offs in Matrix(*args[1:]).stored().values()
                  for n in offs.values()))
        return 0
    if len(args) == 4 and args[0] == "caught":
        last = oracle.last_offsets(oracle.read(args[1]))
        stored = Matrix(*args[2:]).stored()
        return 0 if all(stored["%s_%s_%s" % (d, m, k)].get(p, 0) > off
                        for d in ("pg", "sq") for m, k in MATRIX
                        for p, off in last.items()) else 1
    if len(args) == 8 and args[0] == "check":
        return matrix_check(*args[1:])
    sys.stderr.write(__doc__)
    return 2


def main(argv):
    if argv[1:2] == ["matrix"]:
        return matrix(argv[2:])
    cmds = {"upsert": 5, "update": 6, "append": 5, "progress": 4}
    if argv[1:2] == ["caught"] and len(argv) >= 5:
        return caught(*argv[2:])
    if len(argv) > 1 and cmds.get(argv[1]) == len(argv):
        return globals()[argv[1]](*argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
