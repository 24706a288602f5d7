# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/test_bench_latency.py - the arithmetic of the latency part
of `make bench` (tests/bench/bench_latency.py): which step of the sink's
committed offsets applied each record, the percentiles, the split of a
step into span and delay.  Run by tests/bench/latency-math.test; no
broker, no sink.  Exits 1 on the first wrong figure."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_latency as bl  # noqa: E402


def want(what, got, expected):
    if got != expected:
        sys.stderr.write("test_bench_latency: %s: got %r, expected %r\n"
                         % (what, got, expected))
        sys.exit(1)


# Nearest rank: p50 of 1..10 is 5, p99 is 10, one value is itself.
v = list(range(1, 11))
want("p50 of 1..10", bl.percentile(v, 0.5), 5)
want("p99 of 1..10", bl.percentile(v, 0.99), 10)
want("p10 of 1..10", bl.percentile(v, 0.1), 1)
want("p99 of 1..200", bl.percentile(list(range(1, 201)), 0.99), 198)
want("p7 of 1..100", bl.percentile(list(range(1, 101)), 0.07), 7)
want("p50 of one", bl.percentile([7], 0.5), 7)
want("p50 of none", bl.percentile([], 0.5), None)

# Offsets are not contiguous (offset 2 of partition 0 is a transaction
# marker): a record is applied by the first step whose next offset is
# above it; a step that does not move a partition leaves it alone.
records = {0: [(0, 1000), (1, 1010), (3, 1020)],
           1: [(0, 1005), (1, 1050)]}
changes = [(1.100, {0: 2}),             # 0/0 and 0/1
           (1.150, {0: 2, 1: 1}),       # 1/0
           (1.300, {0: 4, 1: 1}),       # 0/3 (next 4: after the marker)
           (1.400, {0: 4, 1: 2})]       # 1/1
got = sorted(bl.latencies(records, changes))
want("latencies", [(ts, round(l), t) for ts, l, t in got],
     [(1000, 100, 1.100), (1005, 145, 1.150), (1010, 90, 1.100),
      (1020, 280, 1.300), (1050, 350, 1.400)])

# A record never seen applied is left out, not given a latency.
got = bl.latencies({0: [(0, 1000), (5, 1100)]}, [(1.2, {0: 1})])
want("never applied", [(ts, round(l)) for ts, l, _ in got], [(1000, 200)])

# A next offset that goes back (a stale read) does not apply anything.
want("applied_times", bl.applied_times(
    [(1.0, {0: 5}), (1.1, {0: 3}), (1.2, {0: 5}), (1.3, {0: 9})], 0),
    [(1.0, 5), (1.3, 9)])

# Per step: span = newest - oldest CreateTime, delay = step - newest.
b = bl.breakdown([(1000, 100.0, 1.100), (1010, 90.0, 1.100),
                  (1020, 280.0, 1.300)])
want("steps", b["steps"], 2)
want("span max", b["span_max"], 10)
want("delay max", round(b["delay_max"]), 280)
want("delay p50", round(b["delay50"]), 90)
print("test_bench_latency: ok")
