# SPDX-License-Identifier: BSD-2-Clause
"""The oracle of a topic and the comparisons every sink check makes.

tests/kafka/oracle prints one line per committed record of a topic, as a
read_committed consumer sees it, in partition then offset order:
PARTITION<TAB>OFFSET<TAB>KEY<TAB>VALUE, with "-" for a null key or value.
tests/kafka/txproducer's values are JSON objects {"id", "user", "amount"},
whose ids are unique.

The checkers (tests/e2e/check_sqlite.py, tests/e2e/check_offsets.py,
tests/http/check.py, tests/chaos/check.py) import this module from the
directory of this file:

    sys.dont_write_bytecode = True
    sys.path.insert(0, os.path.join(os.path.dirname(
        os.path.abspath(__file__)), "..", "kafka"))
    import oracle

Functions:
  read(path, strict=True)   [Record] in file order; strict: every value
                            must be a txproducer object (else SystemExit)
  by_key(records)           {(part, off): Record}
  last_offsets(records)     {part: last committed offset}
  balances(records)         {user: sum of the committed amounts}
  last_values(records)      {key: last committed value} per record key,
                            a tombstone (value "-") removing its key:
                            what a table upserted and deleted by key holds
  connect(path)             a read-only sqlite3 connection
  compare(records, applied, balances=None, repeats_in_order=True)
                            compare what a sink applied with the oracle;
                            a Result
  compare_counts(records, counts)
                            the same for a sink that only counts records
                            and bytes per partition (the null sink)
  report(prog, kind, items) the first problems of a kind, on stderr

Standard library only.
"""

import collections
import json
import os
import sqlite3
import sys
import urllib.parse

SHOW = 5

Record = collections.namedtuple(
    "Record", "part off key value id user amount nbytes")


def _parse(path, lineno, line, strict):
    fields = line.split("\t", 3)
    if len(fields) != 4:
        raise SystemExit("%s:%d: expected 4 tab-separated fields"
                         % (path, lineno))
    part, off, key, value = fields
    nbytes = (0 if key == "-" else len(key.encode())) + \
        (0 if value == "-" else len(value.encode()))
    rid = user = amount = None
    try:
        v = json.loads(value)
        rid, user, amount = str(v["id"]), str(v["user"]), int(v["amount"])
    except (ValueError, KeyError, TypeError) as e:
        if strict:
            raise SystemExit("%s:%d: unexpected record: %s (%s)"
                             % (path, lineno, value, e))
    return Record(int(part), int(off), key, value, rid, user, amount, nbytes)


def read(path, strict=True):
    """The records of an oracle file, in its order."""
    out = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line:
                out.append(_parse(path, lineno, line, strict))
    return out


def by_key(records):
    return {(r.part, r.off): r for r in records}


def last_offsets(records):
    last = {}
    for r in records:
        last[r.part] = max(last.get(r.part, -1), r.off)
    return last


def balances(records):
    out = collections.defaultdict(int)
    for r in records:
        if r.user is not None:
            out[r.user] += r.amount
    return dict(out)


def last_values(records):
    """The last committed value of every key, in partition then offset
    order (a key lives in one partition); a tombstone deletes its key.
    Records without a key are not counted."""
    out = {}
    for r in sorted(records, key=lambda r: (r.part, r.off)):
        if r.key == "-":
            continue
        if r.value == "-":
            out.pop(r.key, None)
        else:
            out[r.key] = r.value
    return out


def connect(path):
    """Read-only: a running ksink or receiver may hold a write lock."""
    uri = "file:%s?mode=ro" % urllib.parse.quote(os.path.abspath(path))
    return sqlite3.connect(uri, uri=True, timeout=30)


class Result:
    """What compare() found.  Lists hold one message per problem:
    missing, duplicated (one per record applied more than once),
    aborted (applied rows that are not a committed record: of an aborted
    transaction, or another record's content at a committed offset),
    order (a partition's row applied after a later offset of it),
    balance (users whose balance is not the sum of their committed
    amounts); applied counts the rows, duplicates the extra
    applications, distinct the committed records applied, wrong_content
    the aborted rows at a committed offset."""

    def __init__(self):
        self.applied = 0
        self.distinct = 0
        self.duplicates = 0
        self.missing = []
        self.duplicated = []
        self.aborted = []
        self.order = []
        self.balance = []
        self.wrong_content = 0

    def clean(self):
        return not (self.missing or self.duplicates or self.aborted or
                    self.order or self.balance)

    def report(self, prog):
        report(prog, "missing", self.missing)
        report(prog, "duplicated", self.duplicated)
        report(prog, "aborted_applied", self.aborted)
        report(prog, "order", self.order)
        report(prog, "balance", self.balance)


def compare(records, applied, sink_balances=None, repeats_in_order=True):
    """Compare APPLIED, [(part, off, id)] in the order the sink applied
    them (part and off None when the sink does not say), with the oracle's
    RECORDS.  With SINK_BALANCES ({user: amount}) the balances are
    compared too (a user absent on one side has 0).  With
    repeats_in_order false, a record's second application is left out
    of the order check (for a sink expected to show duplicates)."""
    want = by_key(records)
    res = Result()
    seen = collections.Counter()
    last = {}
    for p, o, rid in applied:
        res.applied += 1
        k = (p, o)
        r = want.get(k)
        if r is not None and r.id == rid:
            seen[k] += 1
        else:
            if r is not None:
                res.wrong_content += 1
            res.aborted.append(
                "partition %s offset %s id %s is not a committed record%s"
                % (p, o, rid, "" if r is None else
                   " (committed there: %s)" % r.id))
        if p is None or o is None:
            continue
        if not repeats_in_order and seen[k] > 1:
            continue
        if p in last and o <= last[p]:
            res.order.append("partition %s offset %s applied after "
                             "offset %s" % (p, o, last[p]))
        last[p] = o
    for k, r in sorted(want.items()):
        if seen[k] == 0:
            res.missing.append("partition %s offset %s id %s"
                               % (k[0], k[1], r.id))
        elif seen[k] > 1:
            res.duplicated.append("partition %s offset %s applied %d times"
                                  % (k[0], k[1], seen[k]))
            res.duplicates += seen[k] - 1
    res.distinct = sum(1 for n in seen.values() if n)
    if sink_balances is not None:
        wb = balances(records)
        for u in sorted(set(wb) | set(sink_balances)):
            if wb.get(u, 0) != sink_balances.get(u, 0):
                res.balance.append("user %s: balance %s, committed sum %s"
                                   % (u, sink_balances.get(u),
                                      wb.get(u)))
    return res


def compare_counts(records, counts):
    """COUNTS is {part: (next_offset, records, bytes)}.  Returns (missing,
    duplicated, notes): the records counted too few and too many, summed
    over the partitions, and one note per partition whose byte count
    differs while its record count is right (a committed record swapped
    for an aborted one) or whose next offset is not past its last
    committed record."""
    want_n = collections.Counter()
    want_b = collections.Counter()
    for r in records:
        want_n[r.part] += 1
        want_b[r.part] += r.nbytes
    last = last_offsets(records)
    missing = dup = 0
    notes = []
    for p in sorted(set(want_n) | set(counts)):
        nxt, n, b = counts.get(p, (0, 0, 0))
        missing += max(0, want_n[p] - n)
        dup += max(0, n - want_n[p])
        if n == want_n[p] and b != want_b[p]:
            notes.append("partition %d: %d bytes counted, %d committed"
                         % (p, b, want_b[p]))
        if p in last and nxt <= last[p]:
            notes.append("partition %d: next offset %d not past %d"
                         % (p, nxt, last[p]))
    return missing, dup, notes


def report(prog, kind, items):
    for item in items[:SHOW]:
        print("%s: %s: %s" % (prog, kind, item), file=sys.stderr)
    if len(items) > SHOW:
        print("%s: %s: ... %d more" % (prog, kind, len(items) - SHOW),
              file=sys.stderr)


def check_ledger(prog, records, rows, sink_balances, topic=None):
    """The ledger of the e2e tests, as the SQL sinks write it: rows are
    (seq, topic, partition, offset, id) in the order applied, and
    sink_balances {user: amount}.  Compares them with records (read()),
    prints the problems and the summary line the tests show; returns
    True when all is exact."""
    other_topic = ["seq %s: topic %s" % (seq, t) for seq, t, _, _, _ in rows
                   if topic is not None and t != topic]
    applied = [(part, off, rid) for _, t, part, off, rid in rows
               if topic is None or t == topic]
    res = compare(records, applied, sink_balances)
    res.report(prog)
    report(prog, "other topic", other_topic)
    print("oracle=%d applied=%d missing=%d duplicated=%d aborted_applied=%d "
          "order_violations=%d balance_mismatches=%d" % (
              len(records), res.applied, len(res.missing), res.duplicates,
              len(res.aborted), len(res.order), len(res.balance)))
    ok = res.clean() and not other_topic
    if not records:
        print("%s: the oracle is empty: nothing was compared" % prog,
              file=sys.stderr)
        ok = False
    return ok
