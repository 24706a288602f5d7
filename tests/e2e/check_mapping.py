#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The records of tests/e2e/sqlite-mapping.test, and the comparison of the
table the SQLite sink's table mapping wrote with the oracle's last value
per key.

usage: check_mapping.py gen SEED FIRST COUNT HALF
       check_mapping.py check ORACLE.tsv DB TABLE
       check_mapping.py count DB

gen prints COUNT records for tests/badinput/produce, numbered from FIRST:
keys {"user":"uN","Tx":N} over 45 keys, so that every batch repeats keys;
values {"amount":N,"select":"sN","Note":{"Level":N,"Tag":"tN"},
"score":N.25}, with "extra":N from record HALF on (a field that appears
mid-topic); about one record in eight a tombstone.

check compares TABLE of DB, written with insert.mode upsert, pk.mode
record_key, delete.enabled, flatten, auto.create and auto.evolve, with
oracle.last_values() of the topic: the same keys, and each row's columns
equal to its last value flattened (a column the value lacks is NULL); the
column types of the type rules of ksink-mapping(7); and the stored next
offset.  Prints a summary line, the problems on stderr, exits 1 on any.

count prints the stored next offset of partition 0 (0 before any).
"""

import json
import os
import random
import sqlite3
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kafka"))
import oracle  # noqa: E402

COLUMNS = [("user", "TEXT"), ("Tx", "INTEGER"), ("amount", "INTEGER"),
           ("select", "TEXT"), ("Note_Level", "INTEGER"),
           ("Note_Tag", "TEXT"), ("score", "REAL"), ("extra", "INTEGER")]


def gen(seed, first, count, half):
    rnd = random.Random(seed * 1000003 + first)
    for i in range(first, first + count):
        key = json.dumps({"user": "u%d" % rnd.randrange(15),
                          "Tx": rnd.randrange(3)}, separators=(",", ":"))
        if rnd.randrange(8) == 0:
            print("@key=%s \\N" % key)
            continue
        v = {"amount": rnd.randrange(-1000, 1000), "select": "s%d" % i,
             "Note": {"Level": rnd.randrange(5), "Tag": "t%d" % i},
             "score": rnd.randrange(100) + 0.25}
        if i >= half:
            v["extra"] = i
        print("@key=%s %s" % (key, json.dumps(v, separators=(",", ":"))))


def flat(key, value):
    k = json.loads(key)
    v = json.loads(value)
    row = {"user": k["user"], "Tx": k["Tx"]}
    for name, x in v.items():
        if isinstance(x, dict):
            for inner, y in x.items():
                row[name + "_" + inner] = y
        else:
            row[name] = x
    return tuple(row.get(c) for c, _ in COLUMNS)


def compare(want, got):
    """The problems of the rows got {key: row} against want {key: row}."""
    problems = []
    for k in sorted(set(want) | set(got), key=str):
        if k not in got:
            problems.append("missing row %s: %s" % (k, want[k]))
        elif k not in want:
            problems.append("deleted row present %s: %s" % (k, got[k]))
        elif got[k] != want[k]:
            problems.append("row %s is %s, last value %s"
                            % (k, got[k], want[k]))
    return problems


def check(tsv, db, table):
    records = oracle.read(tsv, strict=False)
    want = {flat(k, v)[:2]: flat(k, v)
            for k, v in oracle.last_values(records).items()}
    con = oracle.connect(db)
    problems = []
    info = con.execute("SELECT name, type, pk FROM pragma_table_info(?)",
                       (table,)).fetchall()
    types = {n: t for n, t, _ in info}
    for c, t in COLUMNS:
        if types.get(c) != t:
            problems.append("column %s is %s, expected %s"
                            % (c, types.get(c), t))
    pk = sorted((p, n) for n, _, p in info if p > 0)
    if [n for _, n in pk] != ["user", "Tx"]:
        problems.append("primary key %s, expected user, Tx" % pk)
    got = {}
    if not problems:
        cols = ", ".join('"%s"' % c for c, _ in COLUMNS)
        for row in con.execute('SELECT %s FROM "%s"' % (cols, table)):
            got[row[:2]] = row
    problems += compare(want, got)
    last = oracle.last_offsets(records)
    for part, off in last.items():
        r = con.execute("SELECT next_offset FROM ksink_offsets "
                        "WHERE partition = ?", (part,)).fetchone()
        if r is None or r[0] != off + 1:
            problems.append("partition %d: next offset %s, expected %d"
                            % (part, r and r[0], off + 1))
    print("oracle=%d keys=%d rows=%d tombstones=%d problems=%d"
          % (len(records), len(want), len(got),
             sum(1 for r in records if r.value == "-"), len(problems)))
    oracle.report("check_mapping", "problem", problems)
    return 1 if problems else 0


def count(db):
    if not os.path.exists(db):
        print(0)
        return 0
    try:
        r = oracle.connect(db).execute(
            "SELECT next_offset FROM ksink_offsets").fetchone()
    except sqlite3.Error:
        r = None
    print(r[0] if r else 0)
    return 0


def main(argv):
    if len(argv) == 6 and argv[1] == "gen":
        gen(*(int(a) for a in argv[2:]))
        return 0
    if len(argv) == 5 and argv[1] == "check":
        return check(*argv[2:])
    if len(argv) == 3 and argv[1] == "count":
        return count(argv[2])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
