#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The PostgreSQL half of tests/e2e/check_mapping.py: compares the tables
the postgres sink's table mapping wrote (tests/postgres/mapping.test) with
the oracle, through tests/postgres/server.sh psql as the superuser.

TABLE is an SQL name, quoted as needed ('"Map_t"', 'raw."K_t"').

usage: check_pgmap.py upsert ORACLE.tsv DB TABLE
       check_pgmap.py kafka ORACLE.tsv DB TABLE
       check_pgmap.py alerts ORACLE.tsv DB TABLE
       check_pgmap.py count DB CONNECTOR

upsert: TABLE was written from check_mapping.py gen's records with
insert.mode upsert, pk.mode record_key, delete.enabled, flatten,
auto.create and auto.evolve: the same keys as oracle.last_values(), each
row's columns equal to its last value flattened (a column the value lacks
is NULL), the column types of ksink-mapping(7) (bigint, text, double
precision) and the primary key (user, Tx).

kafka: TABLE was written with insert.mode insert, pk.mode kafka, without
flatten: one row per record that is not a tombstone (those are poison
without delete.enabled, and skipped), keyed by __connect_topic,
__connect_partition, __connect_offset, with Note as jsonb.

alerts: TABLE holds the alert pipeline's rows (user, txid) -> value: the
oracle's last value per key, where an upsert keeps the columns a record
does not name; prints every row it compared.

count prints the stored next offset of CONNECTOR's partition 0 (0 before
any).  Prints a summary line, the problems on stderr, exits 1 on any.
"""

import json
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
TYPES = {"INTEGER": "bigint", "TEXT": "text", "REAL": "double precision"}


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def columns(db, table):
    """[(name, type)] of table, and its primary key's columns."""
    cols = psql(db, "SELECT attname, format_type(atttypid, atttypmod) "
                "FROM pg_attribute WHERE attrelid = to_regclass(%s) "
                "AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
                % lit(table))
    pk = psql(db, "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
              "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
              "WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
              "ORDER BY array_position(i.indkey, a.attnum)"
              % lit(table))
    return [(n, t) for n, t in cols], [r[0] for r in pk]


def rows(db, table):
    return [json.loads(r[0]) for r in
            psql(db, 'SELECT row_to_json(t) FROM %s t' % table)]


def finish(what, records, want, got, problems):
    print("%s: oracle=%d keys=%d rows=%d tombstones=%d problems=%d"
          % (what, len(records), want, got,
             sum(1 for r in records if r.value == "-"), len(problems)))
    oracle.report("check_pgmap", "problem", problems)
    return 1 if problems else 0


def upsert(tsv, db, table):
    records = oracle.read(tsv, strict=False)
    names = [c for c, _ in check_mapping.COLUMNS]
    want = {}
    for k, v in oracle.last_values(records).items():
        row = check_mapping.flat(k, v)
        want[row[:2]] = row
    problems = []
    cols, pk = columns(db, table)
    types = dict(cols)
    for c, t in check_mapping.COLUMNS:
        if types.get(c) != TYPES[t]:
            problems.append("column %s is %s, expected %s"
                            % (c, types.get(c), TYPES[t]))
    if pk != ["user", "Tx"]:
        problems.append("primary key %s, expected user, Tx" % pk)
    got = {}
    if not problems:
        for r in rows(db, table):
            row = tuple(r.get(c) for c in names)
            got[row[:2]] = row
    problems += check_mapping.compare(want, got)
    return finish("upsert", records, len(want), len(got), problems)


def kafka(tsv, db, table):
    records = oracle.read(tsv, strict=False)
    want = {}
    for r in records:
        if r.value != "-":
            v = json.loads(r.value)
            want[(r.part, r.off)] = (v["amount"], v["select"], v["Note"],
                                     v["score"], v.get("extra"))
    problems = []
    cols, pk = columns(db, table)
    types = dict(cols)
    for c, t in (("__connect_topic", "text"),
                 ("__connect_partition", "bigint"),
                 ("__connect_offset", "bigint"), ("Note", "jsonb"),
                 ("extra", "bigint")):
        if types.get(c) != t:
            problems.append("column %s is %s, expected %s"
                            % (c, types.get(c), t))
    if pk != ["__connect_topic", "__connect_partition", "__connect_offset"]:
        problems.append("primary key %s" % pk)
    got = {}
    if not problems:
        for r in rows(db, table):
            k = (r["__connect_partition"], r["__connect_offset"])
            if k in got:
                problems.append("record %s twice" % (k,))
            got[k] = (r["amount"], r["select"], r["Note"], r["score"],
                      r.get("extra"))
    for k in sorted(set(want) | set(got)):
        if k not in got:
            problems.append("missing record %s: %s" % (k, want[k]))
        elif k not in want:
            problems.append("row of no record %s: %s" % (k, got[k]))
        elif got[k] != want[k]:
            problems.append("record %s is %s, expected %s"
                            % (k, got[k], want[k]))
    return finish("kafka", records, len(want), len(got), problems)


def alerts(tsv, db, table):
    records = oracle.read(tsv, strict=False)
    # The last value of each key, in record order; an upsert keeps the
    # columns a record does not name, so each write is merged into the
    # row of its key, and a tombstone deletes it.
    want = {}
    for r in sorted(records, key=lambda r: (r.part, r.off)):
        key = json.loads(r.key)
        k = (key["user"], key["txid"])
        if r.value == "-":
            want.pop(k, None)
        else:
            want.setdefault(k, {}).update(json.loads(r.value))
    for k in want:
        want[k] = {c: x for c, x in want[k].items() if x is not None}
    problems = []
    got = {}
    for r in rows(db, table):
        k = (r.pop("user"), r.pop("txid"))
        got[k] = {c: x for c, x in r.items() if x is not None}
    for k in sorted(set(want) | set(got)):
        state = ("ok" if got.get(k) == want.get(k) else
                 "MISSING" if k not in got else
                 "DELETED-BUT-PRESENT" if k not in want else "DIFFERS")
        print("  %-22s table=%s oracle=%s %s"
              % ("%s/%s" % k, json.dumps(got.get(k), sort_keys=True),
                 json.dumps(want.get(k), sort_keys=True), state))
        if state != "ok":
            problems.append("alert %s: %s" % (k, state))
    return finish("alerts", records, len(want), len(got), problems)


def count(db, connector):
    try:
        r = psql(db, "SELECT next_offset FROM ksink_offsets WHERE "
                 "connector = %s AND \"partition\" = 0" % lit(connector),
                 True)
    except subprocess.CalledProcessError:
        r = []
    print(max(int(r[0][0]), 0) if r else 0)
    return 0


def main(argv):
    if len(argv) == 5 and argv[1] in ("upsert", "kafka", "alerts"):
        return globals()[argv[1]](*argv[2:])
    if len(argv) == 4 and argv[1] == "count":
        return count(*argv[2:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
