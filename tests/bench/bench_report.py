# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_report.py - the report of `make bench`
(tests/bench/bench.py): the table of the fastest run of each contender,
the targets, the machine, RESULTS/latest.md, latest.tsv and latest.png
(gnuplot), and the copy of the table in tests/bench/README.md between its
markers.  The rows, their order and their labels are bench.py's Bench's
(contenders, labels, short, ksink_runs).

Standard library only.
"""

import os
import platform
import re
import shutil
import subprocess

import bench_latency
import bench_limits
import bench_pg
from bench_connect import CONNECT_VERSION
from bench_harness import Result, cmd, say


def best(results, size, name):
    """The fastest successful run of a contender, or the failed one."""
    runs = [r for r in results if r.size == size and r.name == name]
    good = [r for r in runs if not r.error]
    if good:
        return max(good, key=lambda r: r.rate)
    return runs[0] if runs else None


def fmt_int(n):
    return "{:,}".format(int(round(n)))


def md_cell(text):
    return text.replace("|", "\\|")


def size_label(size):
    return "1 KiB" if size == 1024 else "%d B" % size


def table(bench, sizes):
    rows = []
    head = ("| values | contender | records/s | MB/s | × kcat "
            "| × its system's limit | seconds "
            "| start-up s | CPU s / M records | peak RSS MiB | oracle check |")
    rows.append(head)
    rows.append("|" + "---|" * 11)
    for size in sizes:
        limit = best(bench.results, size, "kcat")
        for name in bench.contenders:
            r = best(bench.results, size, name)
            if r is None:
                continue
            if r.error:
                rows.append("| %s | %s | %s%s | | | | | | | | |" % (
                    size_label(size), md_cell(bench.labels[name]),
                    "" if r.error.startswith("not available") else
                    "failed: ", md_cell(r.error)))
                continue
            ratio = r.rate / limit.rate if limit and not limit.error \
                else None
            sys_ratio = bench_limits.system_ratio(best, bench.results, size,
                                                  name)
            rows.append(
                "| %s | %s | %s | %.1f | %s | %s | %.2f | %s | %.2f | %.1f "
                "| %s |"
                % (size_label(size), md_cell(bench.labels[name]),
                   fmt_int(r.rate), r.mbps,
                   "%.2f" % ratio if ratio is not None else "-",
                   "%.2f" % sys_ratio if sys_ratio is not None else "-",
                   r.elapsed,
                   "%.2f" % r.startup if r.startup is not None else "-",
                   r.cpu_per_m, r.rss_kib / 1024.0,
                   "-" if r.ok is None else "pass" if r.ok else
                   "**FAIL**: " + md_cell(r.detail)))
    return "\n".join(rows)


def targets(bench, sizes):
    """(description, measured text, met) per target and size."""
    out = []
    for size in sizes:
        def get(n):
            r = best(bench.results, size, n)
            return None if r is None or r.error else r

        k = get("kcat")
        sl = size_label(size)

        def ratio_target(name, want, what):
            r = get(name)
            if r is None or k is None:
                return
            v = r.rate / k.rate
            out.append(("%s: %s ≥ %.1f× kcat" % (sl, what, want),
                        "%.2f×" % v, v >= want))

        ratio_target("null", 0.9, "null sink")
        ratio_target("file", 0.8, "file sink")
        ratio_target("sqlite", 0.5, "SQLite default table")
        ratio_target("http", 0.5, "HTTP")
        f, c = get("file"), get("connect")
        if f and c:
            v = f.rate / c.rate
            out.append(("%s: file sink ≥ 3× Connect FileStreamSink" % sl,
                        "%.1f×" % v, v >= 3))
            v = f.rss_kib / c.rss_kib
            out.append(("%s: file sink peak RSS ≤ 1/10 of Connect's" % sl,
                        "%.1f / %.1f MiB = 1/%.1f" % (
                            f.rss_kib / 1024.0, c.rss_kib / 1024.0, 1 / v),
                        v <= 0.1))
        s, p = get("sqlite"), get("kcat-sqlite3")
        if s and p:
            v = s.rate / p.rate
            out.append(("%s: SQLite sink ≥ 2× kcat | sqlite3, exactly-once"
                        % sl, "%.1f×%s" % (v, "" if s.ok else
                                           " (check failed)"),
                        v >= 2 and bool(s.ok)))
        out += bench_limits.limit_targets(get, sl, size)
        out += bench_pg.pg_targets(get, sl)
        rss = [r for r in (get(n) for n in bench.ksink_runs) if r]
        if rss:
            top = max(rss, key=lambda r: r.rss_kib)
            out.append(("%s: ksink peak RSS ≤ 64 MiB" % sl,
                        "%.1f MiB (%s)" % (top.rss_kib / 1024.0, top.name),
                        top.rss_kib <= 64 * 1024))
        bad = [r.name for r in (get(n) for n in bench.ksink_runs) if r and
               r.ok is False]
        out.append(("%s: every ksink sink passes the oracle check" % sl,
                    "failed: " + ", ".join(bad) if bad else "all pass",
                    not bad))
    return out + bench_latency.latency_targets(bench)


def linked_librdkafka(bench):
    """The librdkafka ksink runs with: the version it reports at run
    time (ksink --version) and the file the dynamic loader picks."""
    m = re.search(r"librdkafka ([^)\s]+)\)", cmd([bench.ksink,
                                                   "--version"]))
    path = "?"
    for line in cmd(["ldd", bench.ksink]).splitlines():
        f = line.split()
        if f and f[0] == "librdkafka.so.1" and len(f) >= 3:
            path = f[2]
    return "%s (%s)" % (m.group(1) if m else "?", path)


def machine(bench):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = "%.1f GiB" % (kb / 1024.0 / 1024.0)
    except (OSError, ValueError, IndexError):
        pass
    java = cmd([bench.java, "-version"]).splitlines()
    lines = [
        ("date", "%s to %s" % (bench.started_at.strftime("%Y-%m-%d %H:%M"),
                               bench.finished_at.strftime("%H:%M"))),
        ("CPUs (nproc)", "%d × %s" % (os.cpu_count(), cpu)),
        ("memory", mem),
        ("kernel", platform.release()),
        ("load average (1, 5, 15 min) at start",
         "%.2f %.2f %.2f" % bench.load["start"]),
        ("load average at end", "%.2f %.2f %.2f" % bench.load["end"]),
        ("librdkafka", linked_librdkafka(bench)),
        ("SQLite", cmd([bench.sqlite3, "--version"]).split(" ")[0]),
        ("kcat", ([v for v in cmd([bench.kcat, "-V"], env=bench.kcat_env
                                  ).splitlines()
                   if v.startswith("Version")] or ["?"])[0]),
        ("nginx", cmd([bench.nginx, "-v"]).replace("nginx version: ", "")),
        ("Java", java[0] if java else "?"),
        ("broker", "Apache Kafka %s, one KRaft node on the same machine "
         "(tests/kafka/broker.sh)" % CONNECT_VERSION),
    ]
    if any(r.name in bench_pg.PG_CONTENDERS for r in bench.results +
           bench_latency.latency_rows(bench)):
        lines.append(("PostgreSQL", "%s, one server on the same machine "
                      "(tests/postgres/server.sh: fsync on, shared_buffers "
                      "32MB)" % bench.pg_version))
    if any(r.name == "connect-jdbc" for r in bench.results):
        lines.append(("Kafka Connect JDBC sink", "Debezium %s"
                      % bench_pg.DEBEZIUM_JDBC))
    return lines


def write_results(bench, sizes):
    res_dir = bench.results_dir
    os.makedirs(res_dir, exist_ok=True)
    tsv = os.path.join(res_dir, "latest.tsv")
    with open(tsv, "w") as f:
        f.write("size\tcontender\trecords\tpayload_bytes\tseconds\t"
                "startup_seconds\trecords_per_s\tmb_per_s\tratio_kcat\t"
                "cpu_seconds\tpeak_rss_kib\tcheck\t%s\tratio_limit\n"
                % "\t".join(bench_latency.TSV_COLUMNS))
        for r in bench.results:
            limit = best(bench.results, r.size, "kcat")
            sys_ratio = bench_limits.system_ratio(
                lambda res, s, n: r if n == r.name else best(res, s, n),
                bench.results, r.size, r.name)
            f.write("%d\t%s\t%d\t%d\t%s\t%s\t%.0f\t%.2f\t%s\t%s\t%s\t%s"
                    "\tthroughput\t-\t-\t-\t%s\n" % (
                r.size, r.name, r.records, r.payload,
                "%.3f" % r.elapsed if r.elapsed else "-",
                "%.3f" % r.startup if r.startup else "-",
                r.rate, r.mbps,
                "%.3f" % (r.rate / limit.rate) if limit and limit.rate and
                not r.error else "-",
                "%.2f" % r.cpu if r.cpu is not None else "-",
                r.rss_kib if r.rss_kib is not None else "-",
                "error" if r.error else "-" if r.ok is None else
                "pass" if r.ok else "fail",
                "%.3f" % sys_ratio if sys_ratio is not None else "-"))
        # The latency rows have no limit: ratio_limit "-".
        f.write("".join(line + "\t-\n" for line in
                        bench_latency.latency_tsv(bench).splitlines()))
    tab = table(bench, sizes)
    tgt = targets(bench, sizes)
    mach = machine(bench)
    counts = ", ".join("%s values: %s records" % (
        size_label(s), fmt_int(best(bench.results, s, "kcat").records
                               if best(bench.results, s, "kcat") else 0))
        for s in sizes)
    md = []
    md.append("# Latest `make bench` results\n")
    md.append("Written by tests/bench/bench.py; see tests/bench/README.md "
              "for what each contender is and how it is measured.  Topic: "
              "3 partitions, %s committed (written in transactions, about "
              "10 %% of them aborted), read from offset zero with "
              "read_committed.  Elapsed time runs from the start of the "
              "process to the last record applied, start-up included.\n"
              % counts)
    if bench.args.set:
        md.append("ksink settings beyond its defaults: %s.\n" % ", ".join(
            "`%s = %s`" % kv for kv in bench.args.set))
    md.append(tab + "\n")
    md.append("![records/s per contender](latest.png)\n")
    md += bench_latency.latency_md(bench)
    rel = os.path.relpath(os.path.join(bench.srcdir, "tests", "bench",
                                       "README.md"), res_dir)
    md.append("Why a target is missed, where the time goes and what would "
              "close each gap: the closing note in "
              "[%s](%s#closing-note-where-the-time-goes).\n" % (rel, rel))
    md.append("## Targets\n")
    md.append("| target | measured | met |")
    md.append("|---|---|---|")
    for desc, val, ok in tgt:
        md.append("| %s | %s | %s |" % (md_cell(desc), val, "yes" if ok
                                         else "**no**"))
    md.append("")
    # The notes of the runs in the table: the fastest of each contender.
    notes = [r for r in (best(bench.results, s, n) for s in sizes
                         for n in bench.contenders)
             if r and r.note and not r.error]
    if notes:
        md.append("Notes: " + "; ".join(
            "%s %s: %s" % (size_label(r.size), r.name, r.note)
            for r in notes) + ".\n")
    md.append("## Machine\n")
    md.append("| | |")
    md.append("|---|---|")
    for k, v in mach:
        md.append("| %s | %s |" % (k, v))
    md.append("")
    with open(os.path.join(res_dir, "latest.md"), "w") as f:
        f.write("\n".join(md))
    if bench.results:
        chart(bench, sizes, res_dir)
    readme = os.path.join(bench.srcdir, "tests", "bench", "README.md")
    if os.path.abspath(res_dir) == os.path.join(bench.srcdir, "tests",
                                                "bench", "results"):
        if bench.results:
            update_readme(readme, tab, tgt, mach)
        bench_latency.update_readme_latency(readme, bench, mach)
    return tab, tgt, mach


def update_readme(readme, tab, tgt, mach):
    try:
        with open(readme) as f:
            text = f.read()
    except OSError:
        return
    begin, end = "<!-- BEGIN LATEST RESULTS -->", "<!-- END LATEST RESULTS -->"
    if begin not in text or end not in text:
        return
    info = dict(mach)
    block = [begin, "",
             "Run of %s on %s, %s RAM, kernel %s, load average %s at the "
             "start; librdkafka %s.  Full table with the targets: "
             "[results/latest.md](results/latest.md)." % (
                 info["date"], info["CPUs (nproc)"], info["memory"],
                 info["kernel"],
                 info["load average (1, 5, 15 min) at start"],
                 info["librdkafka"]), "", tab, "",
             "| target | measured | met |", "|---|---|---|"]
    for desc, val, ok in tgt:
        block.append("| %s | %s | %s |" % (md_cell(desc), val, "yes" if ok
                                            else "**no**"))
    block += ["", end]
    pre, rest = text.split(begin, 1)
    post = rest.split(end, 1)[1]
    with open(readme, "w") as f:
        f.write(pre + "\n".join(block) + post)


def chart(bench, sizes, res_dir):
    gp = shutil.which(bench.gnuplot)
    if not sizes:
        return                  # no main table (a run of the scale part)
    if gp is None:
        say("gnuplot not found: no chart")
        return
    data = os.path.join(bench.work, "chart.dat")
    names = [n for n in bench.contenders if any(
        best(bench.results, s, n) for s in sizes)]
    with open(data, "w") as f:
        for i, s in enumerate(sizes):
            limit = best(bench.results, s, "kcat")
            f.write("# %s\n" % size_label(s))
            for j, n in enumerate(names):
                r = best(bench.results, s, n)
                rate = 0 if r is None or r.error else r.rate
                ratio = rate / limit.rate if limit and limit.rate else 0
                sys_ratio = bench_limits.system_ratio(best, bench.results,
                                                      s, n)
                f.write('%d "%s" %.0f %.2f "%s" %d\n' % (
                    j, bench.short[n], rate, ratio,
                    "-" if sys_ratio is None else "%.2fx lim" % sys_ratio,
                    # the limits of the systems in their own colour
                    0xcc6677 if n in bench_limits.SYSTEM_LIMIT.values()
                    else 0x4477aa))
            f.write("\n\n")
    png = os.path.join(res_dir, "latest.png")
    script = ["set terminal pngcairo size 1100,%d font 'sans,10'"
              % (380 * len(sizes)),
              "set output '%s'" % png,
              "set multiplot layout %d,1" % len(sizes),
              "set style fill solid 0.8 border -1",
              "set boxwidth 0.6",
              "set grid ytics",
              "set yrange [0:*]",
              "set offsets 0, 0, graph 0.18, 0",
              "set ylabel 'thousand records/s'",
              "set xtics rotate by -20 noenhanced"]
    for i, s in enumerate(sizes):
        script += [
            "set title '%s values, 3 partitions, read_committed from offset "
            "0: records/s, ratio to kcat and (lim) to the limit of the "
            "system a sink writes to (red bars)' noenhanced" % size_label(s),
            "plot '%s' index %d using 1:($3/1000):($6):xtic(2) with boxes "
            "lc rgb variable notitle, '' index %d using 1:($3/1000):("
            "sprintf('%%.2fx', $4)) with labels offset 0,0.8 notitle, "
            "'' index %d using 1:($3/1000):(strcol(5) eq '-' ? '' : "
            "strcol(5)) with labels offset 0,1.8 noenhanced notitle"
            % (data, i, i, i)]
    script.append("unset multiplot")
    p = subprocess.run([gp], input="\n".join(script).encode(),
                       stderr=subprocess.PIPE, check=False)
    if p.returncode != 0:
        say("gnuplot failed: %s" % p.stderr.decode())


def replot(bench, sizes):
    """The chart again, from the figures of the last run."""
    with open(os.path.join(bench.results_dir, "latest.tsv")) as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            row = dict(zip(head, line.rstrip("\n").split("\t")))
            if row.get("part", "throughput") != "throughput":
                continue
            r = Result(int(row["size"]), row["contender"])
            r.records = int(row["records"])
            r.payload = int(row["payload_bytes"])
            if row["check"] == "error" or row["seconds"] == "-":
                r.error = "failed"
            else:
                r.elapsed = float(row["seconds"])
            bench.results.append(r)
    os.makedirs(bench.work, exist_ok=True)
    chart(bench, [s for s in sizes if any(r.size == s for r in
                                          bench.results)],
          bench.results_dir)

