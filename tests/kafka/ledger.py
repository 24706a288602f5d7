# SPDX-License-Identifier: BSD-2-Clause
"""The read_committed oracle of the ledger tests, and the comparison of a
sink's ledger with it: shared by tests/e2e/check_sqlite.py and
tests/postgres/check_pg.py.

The ledger: every record appends a row (topic, part, off, id) to a table
without uniqueness, in the order applied, and adds its amount to its
user's balance.  compare() says whether the ledger holds every committed
record exactly once, nothing else, each partition in offset order, and
the right balances.

Standard library only.
"""

import json
import sys
from collections import Counter, defaultdict

SHOW = 5
PROG = "check"


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
        print("%s: %s: %s" % (PROG, kind, item), file=sys.stderr)
    if len(items) > SHOW:
        print("%s: %s: ... %d more" % (PROG, kind, len(items) - SHOW),
              file=sys.stderr)


def compare(oracle, rows, db_balances, topic=None, prog="check"):
    """oracle: read_oracle()'s list; rows: [(seq, topic, part, off, id)]
    in the order applied; db_balances: {user: amount}.  Prints the
    problems and the summary line; returns True when all is exact."""
    global PROG
    PROG = prog
    expected = {}  # (part, off) -> id
    balances = defaultdict(int)
    for part, off, rid, user, amount in oracle:
        expected[(part, off)] = rid
        balances[user] += amount


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
        print("%s: the oracle is empty: nothing was compared" % prog,
              file=sys.stderr)
        ok = False
    return ok
