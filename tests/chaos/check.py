#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The fault matrix's checker: one row per sink, whatever the sink.

usage:
  check.py row --sink KIND --oracle ORACLE.tsv --topic T WHERE
  check.py count --sink KIND --topic T WHERE
  check.py maxoff --sink KIND --topic T WHERE
  check.py table RESULTS.tsv [--markdown FILE]

KIND is sqlite, postgres, file, http or null; WHERE names the sink's
output:
  sqlite  --db DB          the tables of tests/e2e/sqlite-common.sh:
                           records(seq, topic, part, off, id), one row per
                           applied record in the order applied, and
                           balances(user, amount)
  postgres --pgdb NAME     the same tables in database NAME of the
                           server of tests/postgres/server.sh (read with
                           its psql)
  http    --db RECEIVER_DB tests/http/receiver.py's database: applied(seq,
                           topic, partition, offset, id, ...) and balances
  file    --dir DIR        the file sink's data files (*.log) in json
                           format (one object per line with partition,
                           offset and value) or value format (one value per
                           line); a partition's closed files are read in
                           name order, which is offset order, then its
                           active file (the one whose name has no '+')
  null    --state FILE     the null sink's state file: per partition the
                           next offset, the records and the bytes counted

ORACLE.tsv is tests/kafka/oracle's reading of the topic (PARTITION, OFFSET,
KEY, VALUE per committed record; values are tests/kafka/txproducer's
{"id", "user", "amount"} objects, whose ids are unique), read and compared
by tests/kafka/oracle.py.

row prints one line
  oracle=N applied=N missing=N duplicated=N aborted_applied=N
  order_violations=N [note=...]
and exits 0 when the sink holds every committed record exactly once,
nothing else, and each partition in offset order; 1 otherwise.  The first
problems of each kind go to stderr.  For sqlite and http the balances per
user are compared too (a mismatch is a note and a failure).  For null only
per-partition counts exist: missing and duplicated are the sums over the
partitions of the records counted too few and too many, aborted_applied
and order_violations are "-" (not observable), and a partition whose
record count is right but whose byte count is not (a committed record
swapped for an aborted one) fails with a note.

count prints how many records the sink holds (0 before it has any);
maxoff prints "PARTITION MAX_OFFSET" for each partition the sink applied
something of.  table prints RESULTS.tsv (rows written by cell.sh) as a
table with its legend, saves it as markdown with --markdown, and exits 1
when a row is not clean.

Standard library only.
"""

import glob
import json
import os
import re
import sqlite3
import sys
from collections import defaultdict

# No __pycache__ in the source tree, which may be read-only.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "kafka"))
import oracle as orc  # noqa: E402  (tests/kafka/oracle.py)

PROG = "check.py"


def die(msg):
    print("check.py: " + msg, file=sys.stderr)
    sys.exit(2)


connect = orc.connect


def read_oracle(path):
    """{(part, off): Record} in oracle order."""
    return orc.by_key(orc.read(path))


# ---------------------------------------------------------------------
# Readers: each returns [(part, off, id)] in the order the sink applied
# them (per partition at least), off None when the sink does not say.

def read_sqlite(db, topic):
    try:
        con = connect(db)
        rows = con.execute("SELECT part, off, id FROM records WHERE "
                           "topic = ? ORDER BY seq", (topic,)).fetchall()
        bal = dict(con.execute("SELECT user, amount FROM balances"))
        con.close()
    except sqlite3.Error:
        return [], {}
    return [(int(p), int(o), str(i)) for p, o, i in rows], bal


def read_postgres(db, topic):
    import subprocess
    server = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "postgres", "server.sh")

    def q(sql):
        out = subprocess.run([server, "psql", "-At", "-F", "\t", "-d", db,
                              "-c", sql], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL,
                             universal_newlines=True)
        if out.returncode != 0:
            raise OSError(out.returncode)
        return [line.split("\t") for line in out.stdout.splitlines() if line]
    try:
        rows = q("SELECT part, off, id FROM records WHERE topic = '%s' "
                 "ORDER BY seq" % topic.replace("'", "''"))
        bal = {u: int(a) for u, a in q('SELECT "user", amount FROM balances')}
    except OSError:
        return [], {}
    return [(int(p), int(o), str(i)) for p, o, i in rows], bal


def read_http(db, topic):
    try:
        con = connect(db)
        rows = con.execute("SELECT partition, offset, id FROM applied WHERE "
                           "topic = ? ORDER BY seq", (topic,)).fetchall()
        bal = dict(con.execute("SELECT user, amount FROM balances"))
        con.close()
    except sqlite3.Error:
        return [], {}
    return [(int(p), int(o), str(i)) for p, o, i in rows], bal


def file_order(d):
    """The data files of DIR in reading order: per file stem (the part of
    the name before the first '.'), closed files by name, then the
    active file."""
    names = [os.path.basename(p) for p in glob.glob(os.path.join(d, "*.log"))]
    stems = defaultdict(lambda: ([], []))
    for n in names:
        stem = n.split(".", 1)[0]
        stems[stem][0 if "+" in n else 1].append(n)
    out = []
    for stem in sorted(stems):
        closed, active = stems[stem]
        out += sorted(closed) + sorted(active)
    return [os.path.join(d, n) for n in out]


def read_file(d, topic, oracle=None):
    by_id = None
    rows = []
    for path in file_order(d):
        with open(path, "rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    continue    # a torn tail is not applied (yet)
                try:
                    obj = json.loads(raw)
                except ValueError:
                    rows.append((None, None, "unparsable line in %s" % path))
                    continue
                if isinstance(obj, dict) and "offset" in obj and \
                        "partition" in obj:
                    if obj.get("topic") not in (None, topic):
                        continue
                    v = obj.get("value")
                    if isinstance(v, str):
                        try:
                            v = json.loads(v)
                        except ValueError:
                            pass
                    rid = str(v.get("id")) if isinstance(v, dict) else str(v)
                    rows.append((int(obj["partition"]), int(obj["offset"]),
                                 rid))
                else:
                    # value format: find the record by its unique id
                    if by_id is None:
                        by_id = {} if oracle is None else \
                            {r.id: k for k, r in oracle.items()}
                    rid = str(obj.get("id")) if isinstance(obj, dict) \
                        else str(obj)
                    p, o = by_id.get(rid, (None, None))
                    rows.append((p, o, rid))
    return rows


def read_null(state, topic):
    """{part: (next_offset, records, bytes)}"""
    out = {}
    try:
        with open(state, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    if not lines or lines[0] != "ksink-null 1":
        die("%s: not a null sink state file" % state)
    for line in lines[1:]:
        f = line.split()
        if len(f) >= 5 and f[0] == topic:
            out[int(f[1])] = (int(f[2]), int(f[3]), int(f[4]))
    return out


# ---------------------------------------------------------------------

def row_records(oracle, applied, balances):
    res = orc.compare(list(oracle.values()), applied, balances)
    res.report(PROG)
    notes = []
    if res.balance:
        notes.append("%d wrong balances" % len(res.balance))
    return {"applied": res.applied, "missing": len(res.missing),
            "duplicated": res.duplicates,
            "aborted_applied": len(res.aborted),
            "order_violations": len(res.order), "notes": notes}


def row_null(oracle, counts):
    missing, dup, notes = orc.compare_counts(list(oracle.values()), counts)
    orc.report(PROG, "null", notes)
    return {"applied": sum(c[1] for c in counts.values()), "missing": missing,
            "duplicated": dup, "aborted_applied": "-",
            "order_violations": "-", "notes": notes}


def sink_args(argv):
    a = {"sink": None, "oracle": None, "topic": None, "db": None,
         "dir": None, "state": None, "pgdb": None}
    i = 0
    while i < len(argv):
        k = argv[i]
        if not k.startswith("--") or k[2:] not in a or i + 1 >= len(argv):
            die("bad argument %r\n%s" % (k, __doc__))
        a[k[2:]] = argv[i + 1]
        i += 2
    if a["sink"] not in ("sqlite", "postgres", "http", "file", "null") or \
            not a["topic"]:
        die("--sink sqlite|postgres|http|file|null and --topic are required")
    where = {"sqlite": "db", "postgres": "pgdb", "http": "db", "file": "dir",
             "null": "state"}
    if not a[where[a["sink"]]]:
        die("--%s is required for the %s sink" % (where[a["sink"]], a["sink"]))
    return a


def applied_of(a, oracle=None):
    if a["sink"] == "sqlite":
        return read_sqlite(a["db"], a["topic"])
    if a["sink"] == "postgres":
        return read_postgres(a["pgdb"], a["topic"])
    if a["sink"] == "http":
        return read_http(a["db"], a["topic"])
    return read_file(a["dir"], a["topic"], oracle), None


def cmd_row(argv):
    a = sink_args(argv)
    if not a["oracle"]:
        die("--oracle is required")
    oracle = read_oracle(a["oracle"])
    if a["sink"] == "null":
        r = row_null(oracle, read_null(a["state"], a["topic"]))
    else:
        applied, bal = applied_of(a, oracle)
        r = row_records(oracle, applied, bal if a["sink"] != "file" else None)
    line = "oracle=%d applied=%s missing=%s duplicated=%s aborted_applied=%s " \
        "order_violations=%s" % (len(oracle), r["applied"], r["missing"],
                                 r["duplicated"], r["aborted_applied"],
                                 r["order_violations"])
    if r["notes"]:
        line += " note=" + "; ".join(r["notes"]).replace(" ", "_")
    print(line)
    bad = r["notes"] or any(r[k] not in (0, "-") for k in (
        "missing", "duplicated", "aborted_applied", "order_violations"))
    if not oracle:
        print("check.py: the oracle is empty: nothing was compared",
              file=sys.stderr)
        bad = True
    return 1 if bad else 0


def cmd_count(argv):
    a = sink_args(argv)
    if a["sink"] == "null":
        print(sum(c[1] for c in read_null(a["state"], a["topic"]).values()))
    elif a["sink"] == "file":
        # Lines only: no parsing, this runs every fraction of a second.
        n = 0
        for path in glob.glob(os.path.join(a["dir"], "*.log")):
            try:
                with open(path, "rb") as f:
                    n += sum(chunk.count(b"\n") for chunk in
                             iter(lambda: f.read(1 << 20), b""))
            except OSError:
                pass
        print(n)
    else:
        print(len(applied_of(a)[0]))
    return 0


def cmd_maxoff(argv):
    a = sink_args(argv)
    mx = {}
    if a["sink"] == "null":
        for p, (nxt, n, _) in read_null(a["state"], a["topic"]).items():
            if n > 0:
                mx[p] = nxt - 1
    else:
        for p, o, _ in applied_of(a)[0]:
            if p is not None and o is not None:
                mx[p] = max(mx.get(p, -1), o)
    for p in sorted(mx):
        print(p, mx[p])
    return 0


COLS = ("fault", "sink", "oracle", "applied", "missing", "duplicated",
        "aborted-applied", "order violations", "faults injected", "result")

LEGEND = """\
Each row is one cell: a fresh topic of 3 partitions written by
tests/kafka/txproducer (about a third of its transactions aborted) while
the fault is applied to ksink, then compared with the oracle, a
read_committed reading of the topic after the run.  oracle: committed
records; applied: records the sink holds (with any duplicates and
aborted ones); missing, duplicated, aborted-applied, order violations
(a partition's record applied after a later offset of that partition;
a duplicate applied later counts here too) must all be 0.
- sinks: sqlite (one row per applied record, in a table without
  uniqueness, plus balances); file (json format, one file per partition,
  rotated by size; closed files then the active one); http (the
  reference receiver honouring Idempotency-Key, the sink's ledger);
  http/offsets (the receiver keeps the offsets: the only HTTP setup in
  which several workers share a group); null (per-partition counts of
  records and bytes only: missing and duplicated are the records
  counted too few or too many per partition, summed, aborted-applied
  and order are not observable and shown as -, and a byte count that
  differs with the right record count fails the cell).
- sigkill: SIGKILL at random moments (half while the sink applies,
  half anywhere, startup included), restart; for the file sink also
  kills inside a commit (its KSINK_FILE_CRASH_AT hook).  sigterm:
  SIGTERM at random moments once ksink has blocked the signal (before
  that any program dies of it); each stop must exit 0.  One worker with
  a static group member id, so that a restart takes its partitions back
  at once.
- broker-crash: kill -9 of the broker and a restart on the same data,
  3 times or more (the producer keeps going through it); ksink must
  keep running through every crash without a restart.
- zombie: two workers in one group sharing the sink's state; one is
  SIGSTOPped past kafka.session.timeout.ms, the other must take its
  partitions and apply, then the first gets SIGCONT (for http the
  receiver answers 300 ms late, so that the stop mostly lands while a
  request is in flight: the zombie wakes up to a timed-out request and
  a lost assignment).  For file and
  null (and http with the ledger) a second worker cannot share the
  state by design: the cell checks that the second worker is refused
  by the lock held by the stopped one, and that the first resumes after
  SIGCONT.
- partition (postgres): tests/postgres/hosts.test with more cuts --
  three workers, each in a network namespace of its own, the broker and
  the server in another; one worker's link to the broker is cut while
  its link to PostgreSQL stays up and a transaction of its is held back
  until the others claimed its partitions; the fence must refuse that
  late commit at every cut.
- churn: three workers joining and leaving (SIGTERM, restart) while
  records flow, with the default (eager) assignment strategy and with
  cooperative-sticky; n/a for sinks whose state one process holds.
- hang: a producer opens a transaction on every partition and never
  ends it (transaction.timeout.ms lets the broker abort it); meanwhile
  more transactions commit.  No record at or past the open
  transaction's first offset may be applied while it is open, ksink
  must log the stall, and it must resume after the abort.
- sqlite-busy: another process holds BEGIN IMMEDIATE on the database
  for longer than sqlite.busy.timeout.ms, several times; ksink must
  retry.  file-enospc: the file system of the output fills up (a small
  tmpfs filled by another file, or an LD_PRELOAD shim making write()
  fail with ENOSPC), then space is freed; ksink must retry.
  file-fsync: an LD_PRELOAD shim fails one fsync/fdatasync with EIO,
  of a data file, of the directory (mostly the one right after the
  manifest's rename) or any; the connector must stop (exit 1) and,
  after the operator's restart, the output must be exact.  http-500, http-429, http-slow,
  http-close: the receiver's faults (answers 500; 429 with
  Retry-After; applies, then answers after the client's timeout;
  applies, then closes without an answer); http/offsets all-faults: all
  four at once against the offset protocol.
- faults injected: what the cell did (kills, crashes, rounds, ...).
- result: ok, or what is wrong (beyond the counts: a worker that exited
  by itself or not with 0 after SIGTERM, a fault that never bit, a
  stall not reported, no resumption, ...)."""


def cmd_table(argv):
    if not argv:
        die("table needs RESULTS.tsv")
    md_path = None
    if len(argv) == 3 and argv[1] == "--markdown":
        md_path = argv[2]
    rows = []
    with open(argv[0], encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) < len(COLS):
                fields += [""] * (len(COLS) - len(fields))
            rows.append(fields[:len(COLS)])
    # Long results go below the table as numbered notes.
    notes = []
    for r in rows:
        if len(r[-1]) > 24:
            notes.append("[%d] %s x %s: %s" % (len(notes) + 1, r[0], r[1],
                                                r[-1]))
            r[-1] = ("FAIL" if r[-1].startswith("FAIL") else "ok") + \
                " [%d]" % len(notes)
    w = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c)
         for i, c in enumerate(COLS)]

    def fmt(cells):
        return "| " + " | ".join(c.ljust(w[i]) for i, c in
                                 enumerate(cells)) + " |"
    lines = [fmt(COLS), "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    lines += [fmt(r) for r in rows]
    bad = [r for r in rows if not (r[-1].startswith("ok") or r[-1] == "n/a")]
    kills = sum(int(m.group(1)) for r in rows
                for m in [re.match(r"(\d+) kills", r[-2])] if m)
    summary = "%d cells: %d clean, %d not applicable, %d not clean; " \
        "%d SIGKILLs from outside in all" % (
            len(rows), sum(1 for r in rows if r[-1].startswith("ok")),
            sum(1 for r in rows if r[-1] == "n/a"), len(bad), kills)
    text = "\n".join(lines) + "\n\n" + summary + "\n"
    if notes:
        text += "\n" + "\n".join(notes) + "\n"
    text += "\n" + LEGEND + "\n"
    sys.stdout.write(text)
    if md_path:
        with open(md_path, "w", encoding="utf-8") as f:
            f.write(text)
    return 1 if bad else 0


def main(argv):
    if len(argv) < 2:
        die(__doc__)
    cmd = {"row": cmd_row, "count": cmd_count, "maxoff": cmd_maxoff,
           "table": cmd_table}.get(argv[1])
    if cmd is None:
        die("unknown command %r\n%s" % (argv[1], __doc__))
    return cmd(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
