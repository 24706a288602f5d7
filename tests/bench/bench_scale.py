# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_scale.py - the scale part of `make bench`
(tests/bench/bench.py): ksink's sinks and kcat on topics of 3, 12 and 48
partitions (--partitions), and four connectors in one ksink process,
each on a topic of its own:

  kcat, null, file, sqlite, sqlite-upsert, http, postgres,
  postgres-upsert   as in the main table (bench_kcat.py, bench_ksink.py,
                    bench_pg.py), on a topic of P partitions holding
                    --scale-records committed records of 100 bytes
                    (500,000 unless told otherwise)
  four              one ksink with four [connector] sections, a null, a
                    file, a SQLite (default table) and an HTTP sink, each
                    on a topic of its own of P partitions holding a
                    quarter of --scale-records; elapsed until the last of
                    the four holds every record; each checked against its
                    topic's oracle

Why that mix for "four": one connector of each sink that needs no server
but nginx, so that the process holds four different plugins with their
own buffers (the file sink's, SQLite's page cache and WAL, libcurl and
the HTTP ledger) beside four librdkafka consumers, as a deployment
sinking a few topics to different places would; its peak RSS is the
figure the "four connectors ≤ 128 MiB" target is about.  Its throughput
is that of the slowest of the four (HTTP or SQLite here), which the
table says.

A contender is named NAME (every partition count of --partitions) or
NAME@P (that partition count only) in --only; its row in latest.tsv is
NAME@P, with a partitions column.  Results: a second table (records/s
and peak RSS per partition count, the ratio of the largest count to the
smallest) and the scale targets in latest.md and between the SCALE
markers of tests/bench/README.md, and latest-scale.png (gnuplot):
records/s and peak RSS against partitions, one line per contender.

Standard library only.
"""

import os
import shutil
import subprocess

from bench_harness import Result, say

SCALE_PARTITIONS = (3, 12, 48)
SCALE_RECORDS = 500000
SCALE_SIZE = 100                # bytes per value
SCALE_CONTENDERS = ["kcat", "null", "file", "sqlite", "sqlite-upsert",
                    "http", "postgres", "postgres-upsert", "four"]
FOUR_SINKS = ("null", "file", "sqlite", "http")
SCALE_LABELS = {
    "four": "ksink, 4 connectors in one process (null, file, SQLite, "
            "HTTP), 4 topics",
}
SCALE_SHORT = {"four": "4 connectors"}
# The targets of the performance issue.
KEEP_RATIO = 0.8                # at the most partitions, × the fewest
RSS_ONE_MIB = 64
RSS_FOUR_MIB = 128

BEGIN_MD, END_MD = "<!-- BEGIN SCALE -->", "<!-- END SCALE -->"
BEGIN_README = "<!-- BEGIN SCALE RESULTS -->"
END_README = "<!-- END SCALE RESULTS -->"


def parse_partitions(text):
    """--partitions: "3,12,48"; "none" or "0" for no scale part."""
    if text.strip() in ("", "0", "none"):
        return []
    out = sorted({int(x) for x in text.split(",") if x.strip()})
    if any(p < 1 or p > 1000 for p in out):
        raise ValueError("partition counts from 1 to 1000")
    return out


def known(name):
    """Whether --only may name this (NAME or NAME@P)."""
    base, _, p = name.partition("@")
    return base in SCALE_CONTENDERS and (not p or p.isdigit())


def picked(only, p):
    """The scale contenders to run at p partitions, in their order."""
    return [c for c in SCALE_CONTENDERS
            if c in only or "%s@%d" % (c, p) in only]


def scale_name(r):
    return "%s@%d" % (r.name, r.partitions)


class ScaleContenders:
    """The scale part, mixed into bench.py's Bench after the other
    contenders (it runs theirs on other topics)."""

    scale_results = ()

    def run_scale(self):
        a = self.args
        self.scale_results = []
        for p in a.partitions:
            names = picked(a.only, p)
            if not names:
                continue
            where = "scale-%d" % p
            topic, oracle = self.fill(
                SCALE_SIZE, a.scale_records, p, where=where,
                topic="ksink-bench-scale-%d-%d" % (p, a.scale_records))
            if "four" in names:
                each = max(1, a.scale_records // 4)
                self.four_topics = [self.fill(
                    SCALE_SIZE, each, p, where="%s/topic-%d" % (where, i),
                    topic="ksink-bench-scale-%d-%d-%d" % (p, each, i))
                    for i in range(4)]
            order = names + (["kcat"] if "kcat" in names else [])
            for rep in range(a.repeat):
                for name in order:
                    res = self.run_one(SCALE_SIZE, name, topic, oracle,
                                       where=where)
                    res.partitions = p
                    self.scale_results.append(res)
            if not a.keep:
                os.unlink(oracle.path)

    def c_four(self, res, d, topic, oracle):
        """Four connectors in one ksink: FOUR_SINKS, each on one of
        self.four_topics, each in a folder of its own."""
        specs = []
        try:
            for sink, (t, o) in zip(FOUR_SINKS, self.four_topics):
                sub = os.path.join(d, sink)
                os.makedirs(sub, exist_ok=True)
                if sink == "file":
                    specs.append(self.spec_file(sub, t, o, connector=sink))
                else:
                    specs.append(getattr(self, "spec_" + sink)(sub, t, o))
            first = specs[0]
            self.run_ksink(
                res, d, self.four_topics[0][0], self.four_topics[0][1],
                first.body, lambda: all(s.done() for s in specs),
                [f for s in specs for f in s.artefacts],
                lambda: any(s.started() for s in specs),
                more=[(sink, t, s.body) for sink, (t, o), s in zip(
                    FOUR_SINKS[1:], self.four_topics[1:], specs[1:])])
        finally:
            for s in specs:
                if s.close:
                    s.close(res)
        res.records = sum(o.total for t, o in self.four_topics)
        res.payload = sum(o.payload for t, o in self.four_topics)
        if res.error:
            return
        checks = [(sink, s.check(res)) for sink, s in zip(FOUR_SINKS,
                                                           specs)]
        res.ok = all(ok for sink, (ok, detail) in checks)
        res.detail = "; ".join("%s: %s" % (sink, detail) for sink, (
            ok, detail) in checks if ok is not res.ok) or "all four pass"


# ---- the report ----------------------------------------------------------

def best_scale(bench, name, p):
    runs = [r for r in bench.scale_results
            if r.name == name and r.partitions == p]
    good = [r for r in runs if not r.error]
    if good:
        return max(good, key=lambda r: r.rate)
    return runs[0] if runs else None


def label(bench, name):
    return SCALE_LABELS.get(name) or bench.labels[name]


def short(bench, name):
    return SCALE_SHORT.get(name) or bench.short[name]


def scale_table(bench):
    from bench_report import fmt_int, md_cell
    parts = sorted({r.partitions for r in bench.scale_results})
    lo, hi = parts[0], parts[-1]
    head = ["contender"] + ["records/s, %d p." % p for p in parts]
    if hi != lo:
        head.append("%d/%d" % (hi, lo))
    head += ["peak RSS MiB, %d p." % p for p in parts] + ["oracle check"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in SCALE_CONTENDERS:
        rs = [best_scale(bench, name, p) for p in parts]
        if not any(rs):
            continue
        cells = [label(bench, name)]
        for r in rs:
            cells.append("" if r is None else "failed" if r.error else
                         fmt_int(r.rate))
        if hi != lo:
            a, b = rs[0], rs[-1]
            cells.append("%.2f" % (b.rate / a.rate) if a and b and not
                         a.error and not b.error and a.rate else "-")
        for r in rs:
            cells.append("" if r is None or r.error or not r.rss_kib else
                         "%.1f" % (r.rss_kib / 1024.0))
        bad = [r for r in rs if r and (r.error or r.ok is False)]
        cells.append("; ".join(
            "%d p.: %s" % (r.partitions, "failed: " + r.error if r.error
                           else "**FAIL**: " + r.detail)
            for r in bad) if bad else "-" if all(
                r is None or r.ok is None for r in rs) else "pass")
        rows.append("| " + " | ".join(md_cell(c) for c in cells) + " |")
    return "\n".join(rows)


def scale_targets(bench):
    """(description, measured text, met) of the scale targets."""
    parts = sorted({r.partitions for r in bench.scale_results})
    lo, hi = parts[0], parts[-1]
    ksink = [n for n in SCALE_CONTENDERS if n != "kcat"]

    def get(n, p):
        r = best_scale(bench, n, p)
        return None if r is None or r.error else r

    out = []
    if hi != lo:
        for n in ksink:
            a, b = get(n, lo), get(n, hi)
            if a and b:
                v = b.rate / a.rate
                out.append(("%s at %d partitions ≥ %.1f× its %d-partition "
                            "throughput" % (label(bench, n), hi, KEEP_RATIO,
                                            lo), "%.2f×" % v,
                            v >= KEEP_RATIO))
    for names, cap, what in (([n for n in ksink if n != "four"],
                              RSS_ONE_MIB, "one connector"),
                             (["four"], RSS_FOUR_MIB, "four connectors")):
        rs = [r for r in (get(n, p) for n in names for p in parts) if r]
        if rs:
            top = max(rs, key=lambda r: r.rss_kib)
            out.append(("ksink peak RSS ≤ %d MiB, %s, every partition "
                        "count" % (cap, what), "%.1f MiB (%s)" % (
                            top.rss_kib / 1024.0, scale_name(top)),
                        top.rss_kib <= cap * 1024))
    bad = [scale_name(r) for r in bench.scale_results
           if r.name != "kcat" and (r.error or r.ok is False)]
    out.append(("every ksink run of the scale part passes the oracle check",
                "failed: " + ", ".join(bad) if bad else "all pass",
                not bad))
    return out


def scale_section(bench, tab, tgt):
    from bench_report import fmt_int, md_cell
    parts = sorted({r.partitions for r in bench.scale_results})
    recs = sorted({r.records for r in bench.scale_results
                   if r.name != "four"})
    lines = [BEGIN_MD, "", "## Scale: 3 to 48 partitions, four connectors",
             "",
             "Topics of %s partitions, each holding %s committed records "
             "of %d bytes (written in transactions, about 10 %% of them "
             "aborted); the four connectors read four topics of as many "
             "partitions holding about a quarter of that each.  records/s "
             "and peak RSS as in the main table (elapsed from the start "
             "of the process to the last record applied, start-up "
             "included); the ratio is the records/s at the most "
             "partitions to that at the fewest." % (
                 " and ".join(", ".join(str(p) for p in parts).rsplit(
                     ", ", 1)), " to ".join(fmt_int(n) for n in recs[::max(
                         1, len(recs) - 1)]), SCALE_SIZE), "",
             tab, "", "![records/s and peak RSS against partitions]"
             "(latest-scale.png)", "",
             "| target | measured | met |", "|---|---|---|"]
    for desc, val, ok in tgt:
        lines.append("| %s | %s | %s |" % (md_cell(desc), val,
                                           "yes" if ok else "**no**"))
    if bench.args.set:
        lines += ["", "ksink settings beyond its defaults: %s." % ", ".join(
            "`%s = %s`" % kv for kv in bench.args.set)]
    lines += ["", END_MD, ""]
    return "\n".join(lines)


def replace_between(text, begin, end, block):
    """text with block in place of what lies between begin and end (the
    markers included in block), or block appended."""
    if begin in text and end in text:
        pre, rest = text.split(begin, 1)
        return pre + block.rstrip("\n") + rest.split(end, 1)[1]
    return text.rstrip("\n") + "\n\n" + block


def write_tsv(bench, path):
    """The scale rows into latest.tsv: NAME@P, part "scale", with a
    partitions column (3 for the other parts' rows); rows of an earlier
    scale part go."""
    head, rows = [], []
    try:
        with open(path) as f:
            head = f.readline().rstrip("\n").split("\t")
            rows = [l.rstrip("\n").split("\t") for l in f if l.strip()]
    except OSError:
        pass
    if not head or head == [""]:
        head = ["size", "contender", "records", "payload_bytes", "seconds",
                "startup_seconds", "records_per_s", "mb_per_s",
                "ratio_kcat", "cpu_seconds", "peak_rss_kib", "check"]
    if "partitions" not in head:
        head.append("partitions")
        rows = [r + ["3"] for r in rows]
    ci = head.index("contender")
    rows = [r for r in rows if "@" not in r[ci]]
    if "part" not in head:
        head.append("part")
        rows = [r + ["throughput"] for r in rows]
    for r in bench.scale_results:
        k = best_scale(bench, "kcat", r.partitions)
        v = {"size": "%d" % r.size, "contender": scale_name(r),
             "records": "%d" % r.records, "payload_bytes": "%d" % r.payload,
             "seconds": "%.3f" % r.elapsed if r.elapsed else "-",
             "startup_seconds": "%.3f" % r.startup if r.startup else "-",
             "records_per_s": "%.0f" % r.rate, "mb_per_s": "%.2f" % r.mbps,
             "ratio_kcat": "%.3f" % (r.rate / k.rate) if k and k.rate and
             not r.error else "-",
             "cpu_seconds": "%.2f" % r.cpu if r.cpu is not None else "-",
             "peak_rss_kib": "%d" % r.rss_kib if r.rss_kib is not None
             else "-",
             "check": "error" if r.error else "-" if r.ok is None else
             "pass" if r.ok else "fail",
             "partitions": "%d" % r.partitions, "part": "scale"}
        rows.append([v.get(h, "-") for h in head])
    with open(path, "w") as f:
        f.write("\t".join(head) + "\n")
        for r in rows:
            f.write("\t".join(r) + "\n")


def write_scale(bench):
    """The scale part's table, targets, chart and rows; returns (table,
    targets)."""
    res_dir = bench.results_dir
    os.makedirs(res_dir, exist_ok=True)
    tab, tgt = scale_table(bench), scale_targets(bench)
    block = scale_section(bench, tab, tgt)
    md = os.path.join(res_dir, "latest.md")
    try:
        with open(md) as f:
            text = f.read()
    except OSError:
        text = "# Latest `make bench` results\n"
    with open(md, "w") as f:
        f.write(replace_between(text, BEGIN_MD, END_MD, block))
    write_tsv(bench, os.path.join(res_dir, "latest.tsv"))
    scale_chart(bench, res_dir)
    if os.path.abspath(res_dir) == os.path.join(bench.srcdir, "tests",
                                                "bench", "results"):
        readme = os.path.join(bench.srcdir, "tests", "bench", "README.md")
        with open(readme) as f:
            text = f.read()
        if BEGIN_README in text and END_README in text:
            body = block.replace(BEGIN_MD, BEGIN_README).replace(
                END_MD, END_README).replace("](latest-scale.png)",
                                            "](results/latest-scale.png)")
            body = body.replace("## Scale: 3 to 48 partitions, four "
                                "connectors\n\n", "")
            with open(readme, "w") as f:
                f.write(replace_between(text, BEGIN_README, END_README,
                                        body))
    return tab, tgt


def scale_chart(bench, res_dir):
    gp = shutil.which(bench.gnuplot)
    if gp is None:
        say("gnuplot not found: no scale chart")
        return
    parts = sorted({r.partitions for r in bench.scale_results})
    data = os.path.join(bench.work, "chart-scale.dat")
    names = []
    with open(data, "w") as f:
        for n in SCALE_CONTENDERS:
            rs = [best_scale(bench, n, p) for p in parts]
            if not any(r and not r.error for r in rs):
                continue
            names.append(n)
            f.write("# %s\n" % n)
            for p, r in zip(parts, rs):
                if r and not r.error:
                    f.write("%d %.0f %.1f\n" % (p, r.rate,
                                                r.rss_kib / 1024.0))
            f.write("\n\n")
    if not names:
        return
    png = os.path.join(res_dir, "latest-scale.png")
    # One colour each (gnuplot's own cycle has 8); kcat dashed.
    colours = ["#000000", "#4477aa", "#66ccee", "#228833", "#ccbb44",
               "#ee6677", "#aa3377", "#ee7733", "#777777"]
    curves = ", ".join(
        "'%s' index %d using 1:%s with linespoints lw 2 pt 7 lc rgb '%s' "
        "dt %d title '%s'" % (data, i, "%s", colours[SCALE_CONTENDERS.index(
            n) % len(colours)], 2 if n == "kcat" else 1, short(bench, n))
        for i, n in enumerate(names))
    script = ["set terminal pngcairo size 1100,900 font 'sans,10'",
              "set output '%s'" % png,
              "set multiplot layout 2,1",
              "set logscale x 2",
              "set xtics (%s)" % ", ".join("'%d' %d" % (p, p)
                                           for p in parts),
              "set xrange [%g:%g]" % (parts[0] / 1.3, parts[-1] * 1.3),
              "set grid",
              "set key outside right noenhanced",
              "set xlabel 'partitions per topic'",
              "set yrange [0:*]",
              "set ylabel 'thousand records/s'",
              "set title '%d-byte values, read_committed from offset 0: "
              "records/s against partitions' noenhanced" % SCALE_SIZE,
              "plot " + curves % tuple(["($2/1000)"] * len(names)),
              "set ylabel 'peak RSS, MiB'",
              "set title 'peak RSS against partitions (targets: %d MiB "
              "one connector, %d MiB four)' noenhanced" % (RSS_ONE_MIB,
                                                          RSS_FOUR_MIB),
              "plot " + curves % tuple(["3"] * len(names)),
              "unset multiplot"]
    p = subprocess.run([gp], input="\n".join(script).encode(),
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        say("gnuplot failed: %s" % p.stderr.decode())


def replot_scale(bench):
    """latest-scale.png again from the NAME@P rows of latest.tsv."""
    bench.scale_results = []
    try:
        f = open(os.path.join(bench.results_dir, "latest.tsv"))
    except OSError:
        return
    with f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(head, line.rstrip("\n").split("\t")))
            if "@" not in row.get("contender", "") or \
                    row["seconds"] == "-" or row["check"] == "error":
                continue
            name, p = row["contender"].split("@")
            r = Result(int(row["size"]), name)
            r.partitions = int(p)
            r.records = int(row["records"])
            r.elapsed = float(row["seconds"])
            r.rss_kib = int(row["peak_rss_kib"])
            bench.scale_results.append(r)
    if bench.scale_results:
        os.makedirs(bench.work, exist_ok=True)
        scale_chart(bench, bench.results_dir)
