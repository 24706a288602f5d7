#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Compares what a sink stored from an Avro topic (tests/kafka/
avroproducer.py) with the oracle (tests/kafka/avrooracle.py: the topic
read_committed and decoded with python3-avro).

usage: check_avro.py file [-s] ORACLE.jsonl FILE...
       check_avro.py http ORACLE.jsonl RECEIVER.db TOPIC
       check_avro.py sqlite ORACLE.jsonl DB TABLE
       check_avro.py pg ORACLE.jsonl DB TABLE
       check_avro.py pgall ORACLE.jsonl DB TABLE
       check_avro.py pg-cjson ORACLE.jsonl DB TABLE
       check_avro.py dlq ORACLE.jsonl BOOTSTRAP DLQ_TOPIC
       check_avro.py count-file FILE...
       check_avro.py count-http RECEIVER.db
       check_avro.py count-pg DB CONNECTOR
       check_avro.py caught-up ORACLE.jsonl sqlite|pg DB CONNECTOR
       check_avro.py good ORACLE.jsonl

file: the file sink's json format (one envelope a line, ksink-record(7));
http: the envelopes tests/http/receiver.py stored (column envelope).  Each
record whose value decodes (tombstones included) must be there exactly
once, at its partition and offset, in offset order within its partition,
its key and value embedded as JSON (no encoding member) and equal to the
oracle's renderings; the poison records must not be there (the sink runs
with errors.tolerance = all and a dead letter queue).  -s: the sink read
the keys with key.converter = string: each key is the JSON string of the
raw key's text.

sqlite, pg: TABLE was written by the table mapping (insert.mode upsert,
pk.mode record_key, delete.enabled, flatten, auto.create, auto.evolve):
one row per key of the oracle's last values, each column equal to the
rendering of its field (place flattened to place_city, place_zip; a
column the value lacks is NULL), the primary key (user), only the
optional fields nullable.  sqlite checks the declared types: NUMERIC,
INTEGER, REAL, BOOLEAN and TEXT (dates, times, timestamps, uuids).  pg also checks the column types
(information_schema): numeric, timestamp with time zone, date, time,
uuid, boolean, double precision, integer (an Avro int), bigint (a long),
text, and that the primary key is (user).  Timestamps are compared to the microsecond in UTC.

pg-cjson: as pg, for the Connect JSON topic of avroproducer.py -C
(tests/kafka/cjsonlib.py), without flatten and without deletes: the
column types (numeric(12,2) for a Decimal with connect.decimal.precision,
numeric without, date, time, timestamp with time zone, integer for int8,
int16 and int32, bigint, real, double precision, boolean, text, bytea,
jsonb for the struct, array and maps), the decimals' text exactly, the
struct, array and maps as JSON values, bytes as base64.

pgall: TABLE was written with insert.mode insert and pk.mode kafka: one
row per record that is not a tombstone, exactly once, with its id and
amount.

dlq: every poison record of the oracle is in DLQ_TOPIC exactly once with
its raw bytes (key and value), and nothing else is.

count-*: the records a sink holds (the sum of the stored next offsets
for pg), for progress waits; caught-up exits 0 once the stored next
offsets are past the oracle's last records.  good: the
number of records whose value decodes, and the last offset of each
partition ("P:O ..."), for catch-up waits.

Prints a summary line, the problems on stderr, exits 1 on any.
"""

import datetime
import decimal
import json
import os
import sqlite3
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "..", "kafka"))
import avrooracle  # noqa: E402

PROG = "check_avro"
PG_SH = os.path.join(HERE, "..", "postgres", "server.sh")

# The columns of the mapping's table and the types PostgreSQL must show.
PG_TYPES = {
    "user": ("text",),
    "id": ("text",),
    "amount": ("numeric", "numeric(12,2)"),
    "ts": ("timestamp with time zone",),
    "tsu": ("timestamp with time zone",),
    "day": ("date",),
    "at": ("time without time zone",),
    "txid": ("uuid",),
    "note": ("text",),
    "place_city": ("text",),
    "place_zip": ("integer",),
    "status": ("text",),
    "score": ("double precision",),
    "seq": ("bigint",),
    "paid": ("boolean",),
    "channel": ("text",),
}
NULLABLE = ("note", "channel")

# The same for the Connect JSON topic (tests/kafka/cjsonlib.py).
CJ_TYPES = {
    "user": "text", "id": "text", "amount": "numeric(12,2)",
    "fee": "numeric", "ts": "timestamp with time zone", "day": "date",
    "at": "time without time zone", "txid": "text", "note": "text",
    "place": "jsonb", "status": "text", "score": "double precision",
    "ratio": "real", "seq": "bigint", "tiny": "integer", "small": "integer",
    "paid": "boolean", "blob": "bytea", "tags": "jsonb", "attrs": "jsonb",
    "codes": "jsonb", "channel": "text",
}
CJ_NULLABLE = ("note", "codes", "channel")
# SQLite's declared types (ksink-mapping(7)): dates, times, timestamps
# and uuids are their ISO text.
SQLITE_TYPES = {c: "TEXT" for c in PG_TYPES}
SQLITE_TYPES.update({"amount": "NUMERIC", "place_zip": "INTEGER",
                     "score": "REAL", "seq": "INTEGER", "paid": "BOOLEAN"})


def finish(what, counts, problems):
    print("%s: %s problems=%d" % (what, " ".join(
        "%s=%s" % kv for kv in counts), len(problems)))
    avrooracle.report(PROG, "problem", problems)
    return 1 if problems else 0


def compare_envelopes(records, got):
    """GOT: [(part, off, envelope dict)] in the order stored."""
    want = {(r["part"], r["off"]): r for r in avrooracle.good(records)}
    bad = {(r["part"], r["off"]): r for r in avrooracle.poison(records)}
    problems = []
    seen = {}
    last = {}
    for p, o, env in got:
        k = (p, o)
        seen[k] = seen.get(k, 0) + 1
        if seen[k] > 1:
            problems.append("partition %d offset %d stored %d times"
                            % (p, o, seen[k]))
            continue
        if p in last and o <= last[p]:
            problems.append("partition %d offset %d stored after offset %d"
                            % (p, o, last[p]))
        last[p] = o
        if k in bad:
            problems.append("partition %d offset %d is poison (%s) but was "
                            "stored" % (p, o, bad[k]["poison"]))
            continue
        if k not in want:
            problems.append("partition %d offset %d is not a committed "
                            "record" % (p, o))
            continue
        r = want[k]
        for f in ("key", "value"):
            if env.get(f + "_encoding") is not None:
                problems.append("partition %d offset %d: %s has encoding "
                                "%s: not decoded" % (p, o, f,
                                                     env[f + "_encoding"]))
            elif env.get(f) != r[f]:
                problems.append("partition %d offset %d: %s %s, the oracle "
                                "says %s" % (p, o, f, json.dumps(env.get(f)),
                                             json.dumps(r[f])))
    missing = [k for k in sorted(want) if k not in seen]
    for p, o in missing:
        problems.append("partition %d offset %d missing" % (p, o))
    return problems, len(want), len(bad), sum(seen.values())


def file_envelopes(paths):
    got = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    e = json.loads(line)
                    got.append((e["partition"], e["offset"], e))
    return got


def cmd_file(tsv, *paths):
    if tsv == "-s":
        tsv, paths = paths[0], paths[1:]
        records = avrooracle.read(tsv)
        for r in records:
            if r["key_raw"] is not None:
                r["key"] = bytes.fromhex(r["key_raw"]).decode("utf-8")
    else:
        records = avrooracle.read(tsv)
    problems, n, nbad, stored = compare_envelopes(records,
                                                  file_envelopes(paths))
    return finish("file", [("oracle", n), ("poison", nbad),
                           ("stored", stored)], problems)


def http_envelopes(db, topic=None):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    q = "SELECT partition, offset, envelope, topic FROM applied ORDER BY seq"
    return [(p, o, json.loads(e) if e else {}) for p, o, e, t in c.execute(q)
            if topic is None or t == topic]


def cmd_http(tsv, db, topic):
    records = avrooracle.read(tsv)
    problems, n, nbad, stored = compare_envelopes(
        records, http_envelopes(db, topic))
    return finish("http", [("oracle", n), ("poison", nbad),
                           ("stored", stored)], problems)


def flat(key, value):
    row = dict(key) if isinstance(key, dict) else {"user": key}
    for name, x in value.items():
        if isinstance(x, dict):
            for inner, y in x.items():
                row[name + "_" + inner] = y
        elif name not in row:
            row[name] = x
    return row


def norm(col, x):
    """A value as the oracle renders it or as a table holds it, in one
    comparable form."""
    if x is None:
        return None
    if col == "amount":
        return decimal.Decimal(str(x))
    if col in ("ts", "tsu", "at"):
        return micro(x)
    if col == "score":
        return real(x)
    if col == "paid":
        return boolean(x)
    if col in ("place_zip", "seq"):
        return int(x)
    return str(x)


def micro(x):
    """Timestamps as YYYY-MM-DDTHH:MM:SS, times as they are, then the
    fraction to the microsecond."""
    s = str(x).replace(" ", "T").rstrip("Z")
    head, _, frac = s.partition(".")
    return head + "." + (frac + "000000")[:6]


def real(x):
    x = float(x)
    if x != x or x in (float("inf"), float("-inf")):
        return repr(x)
    return x


def boolean(x):
    return x in (True, 1, "t", "true", "1")


def norm_cjson(col, x):
    """norm for the Connect JSON table: by the column's type; decimals
    as their exact text, JSON columns as JSON values."""
    t = CJ_TYPES[col]
    if x is None or t in ("jsonb", "text", "date") or \
            t.startswith("numeric"):
        return x
    if t.startswith("time"):
        return micro(x)
    if t in ("real", "double precision"):
        return real(x)
    if t == "boolean":
        return boolean(x)
    if t in ("integer", "bigint"):
        return int(x)
    return str(x)


def row_cjson(key, value):
    """The row of the Connect JSON table: the key in user, the value's
    fields as they are (no flatten)."""
    row = {"user": key}
    row.update((k, v) for k, v in value.items() if k != "user")
    return row


def compare_rows(records, got, cols=PG_TYPES, norm=norm, flat=flat):
    want = {}
    for k, v in avrooracle.last_values(records).items():
        row = flat(json.loads(k), v)
        want[row["user"]] = row
    problems = []
    for u in sorted(set(want) | set(got)):
        if u not in got:
            problems.append("user %s: missing row %s" % (u, want[u]))
            continue
        if u not in want:
            problems.append("user %s: deleted row present" % u)
            continue
        for c in cols:
            a, b = norm(c, want[u].get(c)), norm(c, got[u].get(c))
            if a != b:
                problems.append("user %s: %s is %r, the oracle says %r"
                                % (u, c, got[u].get(c), want[u].get(c)))
    return problems, len(want)


def cmd_sqlite(tsv, db, table):
    records = avrooracle.read(tsv)
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    c.row_factory = sqlite3.Row
    q = table.replace('"', '""')
    try:
        got = {r["user"]: dict(r) for r in
               c.execute('SELECT * FROM "%s"' % q)}
        cols = {r["name"]: r for r in
                c.execute('PRAGMA table_info("%s")' % q)}
    except sqlite3.Error as e:
        return finish("sqlite", [("oracle", len(records))],
                      ["table %s: %s" % (table, e)])
    problems = []
    for col, t in SQLITE_TYPES.items():
        if col not in cols or cols[col]["type"] != t:
            problems.append("column %s is %s, expected %s" % (
                col, cols[col]["type"] if col in cols else "missing", t))
        elif (col in NULLABLE) == bool(cols[col]["notnull"]):
            problems.append("column %s is %snullable" % (
                col, "not " if col in NULLABLE else ""))
    if [c for c in cols if cols[c]["pk"]] != ["user"]:
        problems.append("primary key %s, expected (user)"
                        % [c for c in cols if cols[c]["pk"]])
    p2, n = compare_rows(records, got)
    problems += p2
    return finish("sqlite", [("oracle", len(records)), ("keys", n),
                             ("rows", len(got))], problems)


def psql(db, sql):
    out = subprocess.run([PG_SH, "psql", "-At", "-F", "\t", "-d", db,
                          "-c", sql], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def cmd_pg(tsv, db, table, spec=None):
    cols, nullable, rownorm, rowof = spec or (PG_TYPES, NULLABLE, norm,
                                              flat)
    records = avrooracle.read(tsv)
    problems = []
    # numeric(p,s) when it has them.
    types = dict(psql(db, "SELECT column_name, data_type || CASE WHEN "
                      "data_type = 'numeric' THEN coalesce('(' || "
                      "numeric_precision || ',' || numeric_scale || ')', "
                      "'') ELSE '' END FROM information_schema.columns "
                      "WHERE table_name = %s ORDER BY ordinal_position"
                      % lit(table)))
    print("pg: columns %s" % ", ".join("%s %s" % kv for kv in types.items()))
    for c, ok in cols.items():
        ok = (ok,) if isinstance(ok, str) else ok
        if types.get(c) not in ok:
            problems.append("column %s is %s, expected %s"
                            % (c, types.get(c), " or ".join(ok)))
    pk = [r[0] for r in psql(
        db, "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON "
        "a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE "
        "i.indrelid = to_regclass(%s) AND i.indisprimary"
        % lit('"%s"' % table))]
    if pk != ["user"]:
        problems.append("primary key %s, expected (user)" % pk)
    nulls = dict(psql(db, "SELECT column_name, is_nullable FROM "
                      "information_schema.columns WHERE table_name = %s"
                      % lit(table)))
    for c in cols:
        if c in nulls and (nulls[c] == "YES") != (c in nullable):
            problems.append("column %s is %snullable" % (
                c, "not " if c in nullable else ""))
    exprs = []
    for c in types:
        q = '"%s"' % c
        if types[c] == "timestamp with time zone":
            q = "to_char(%s AT TIME ZONE 'UTC', " \
                "'YYYY-MM-DD\"T\"HH24:MI:SS.US')" % q
        elif types[c] == "bytea":
            q = "translate(encode(%s, 'base64'), E'\\n', '')" % q
        elif types[c].split("(")[0] in (
                "time without time zone", "date", "numeric", "uuid",
                "real", "double precision"):
            q = "%s::text" % q
        exprs.append('%s AS "%s"' % (q, c))
    got = {}
    for (r,) in psql(db, 'SELECT row_to_json(t) FROM (SELECT %s FROM "%s") t'
                     % (", ".join(exprs), table)):
        r = json.loads(r)
        got[r["user"]] = r
    p2, n = compare_rows(records, got, cols, rownorm, rowof)
    problems += p2
    return finish("pg", [("oracle", len(records)), ("keys", n),
                         ("rows", len(got))], problems)


def cmd_pg_cjson(tsv, db, table):
    return cmd_pg(tsv, db, table, (CJ_TYPES, CJ_NULLABLE, norm_cjson,
                                   row_cjson))


def cmd_pgall(tsv, db, table):
    """TABLE written with insert.mode insert, pk.mode kafka: one row per
    record that is not a tombstone, with its id and amount."""
    records = avrooracle.read(tsv)
    want = {(r["part"], r["off"]): (r["value"]["id"],
                                    decimal.Decimal(r["value"]["amount"]))
            for r in avrooracle.good(records) if r["value"] is not None}
    got = {}
    problems = []
    for p, o, i, a in psql(db, 'SELECT __connect_partition, '
                           '__connect_offset, id, amount::text FROM "%s"'
                           % table):
        k = (int(p), int(o))
        if k in got:
            problems.append("record %d@%d twice" % k)
        got[k] = (i, decimal.Decimal(a))
    for k in sorted(set(want) | set(got)):
        if k not in got:
            problems.append("record %d@%d missing" % k)
        elif k not in want:
            problems.append("row %d@%d is no committed record" % k)
        elif got[k] != want[k]:
            problems.append("record %d@%d is %s, the oracle says %s"
                            % (k + (got[k], want[k])))
    return finish("pg-all", [("oracle", len(want)), ("rows", len(got))],
                  problems)


def cmd_dlq(tsv, bootstrap, topic):
    sys.path.insert(0, os.path.join(HERE, "..", "kafka"))
    import avrolib
    records = avrooracle.read(tsv)
    want = {}
    for r in avrooracle.poison(records):
        want.setdefault(r["raw"], []).append(r)
    got = avrolib.read_committed(bootstrap, topic, 60)
    problems = []
    seen = {}
    for p, o, key, value, headers in got:
        h = None if value is None else value.hex()
        seen[h] = seen.get(h, 0) + 1
        if h not in want:
            problems.append("dead letter %d@%d is not a poison record: %s"
                            % (p, o, h))
        elif (None if key is None else key.hex()) not in \
                [r["key_raw"] for r in want[h]]:
            problems.append("dead letter %d@%d: key %s, not the poison "
                            "record's" % (p, o, key))
        elif seen[h] > len(want[h]):
            problems.append("dead letter %s twice" % h[:40])
    for h, rs in want.items():
        if seen.get(h, 0) < len(rs):
            problems.append("poison record %d@%d (%s) not in the dead "
                            "letter queue" % (rs[0]["part"], rs[0]["off"],
                                              rs[0]["poison"]))
    kinds = sorted(set(r["poison"].split(":")[0]
                       for r in avrooracle.poison(records)))
    print("dlq: kinds: %s" % "; ".join(kinds))
    return finish("dlq", [("poison", sum(len(v) for v in want.values())),
                          ("dead_letters", len(got))], problems)


def cmd_count_file(*paths):
    n = 0
    for path in paths:
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                n += sum(1 for line in f if line.endswith("\n"))
    print(n)
    return 0


def cmd_count_http(db):
    try:
        print(len(http_envelopes(db)))
    except sqlite3.Error:
        print(0)
    return 0


def cmd_caught_up(tsv, kind, db, connector):
    """Exits 0 once CONNECTOR's stored next offset of every partition is
    past the oracle's last record of it; prints the offsets behind."""
    last = {}
    for r in avrooracle.read(tsv):
        last[r["part"]] = max(last.get(r["part"], -1), r["off"])
    q = ('SELECT "partition", next_offset FROM ksink_offsets WHERE '
         'connector = %s' % lit(connector))
    try:
        if kind == "pg":
            nxt = {int(p): int(o) for p, o in psql(db, q)}
        else:
            c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
            nxt = {int(p): int(o) for p, o in c.execute(q)}
    except (subprocess.CalledProcessError, sqlite3.Error):
        nxt = {}
    behind = sum(max(0, o + 1 - nxt.get(p, 0)) for p, o in last.items())
    print(behind)
    return 1 if behind else 0


def cmd_count_pg(db, connector):
    """The sum of CONNECTOR's stored next offsets."""
    try:
        r = psql(db, "SELECT coalesce(sum(next_offset), 0) FROM "
                 "ksink_offsets WHERE connector = %s" % lit(connector))
        print(r[0][0] if r else 0)
    except subprocess.CalledProcessError:
        print(0)
    return 0


def cmd_good(tsv):
    records = avrooracle.read(tsv)
    last = {}
    for r in records:
        last[r["part"]] = max(last.get(r["part"], -1), r["off"])
    print(len(avrooracle.good(records)),
          " ".join("%d:%d" % kv for kv in sorted(last.items())))
    return 0


def main(argv):
    cmds = {"file": cmd_file, "http": cmd_http, "sqlite": cmd_sqlite,
            "pg": cmd_pg, "pg-cjson": cmd_pg_cjson, "pgall": cmd_pgall, "dlq": cmd_dlq, "count-file": cmd_count_file,
            "count-http": cmd_count_http, "count-pg": cmd_count_pg,
            "caught-up": cmd_caught_up,
            "good": cmd_good}
    if len(argv) < 2 or argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    try:
        return cmds[argv[1]](*argv[2:])
    except TypeError as e:
        sys.stderr.write("%s: %s\n%s" % (PROG, e, __doc__))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
