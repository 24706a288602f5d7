#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/badinput/badinput.py - runs the bad-input catalogue (cases.txt).

Each case gives ksink one bad input and checks that the answer is clear:
the expected exit status, a message matching the expected pattern, every
message on one line, and no crash, sanitizer report nor hang.

usage: badinput.py [--set offline|kafka] [--only NAME...] [--list] CASES

Cases of kind "kafka" need a broker ($BOOTSTRAP, from tests/kafka/lib.sh)
and run with --set kafka; all others run with --set offline.

The format of a case is described at the top of cases.txt.

ksink is started here, not with tests/kafka/daemon.sh: the runner runs
several cases at once and polls their output and databases itself.  What
daemon.sh guarantees about stopping ksink holds here through daemon.sh
itself: SIGTERM is sent only once daemon_pid_ready says that ksink blocks
it (before that, while the dynamic loader runs, SIGTERM kills ksink with
status 143, which would be reported as a crash).
"""

import argparse
import os
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

KINDS = ("conf", "open", "live", "cli", "kafka")

# What a crash looks like on stderr, besides an exit status >= 128.
CRASH_RE = re.compile(r"AddressSanitizer|LeakSanitizer|ThreadSanitizer|"
                      r"UndefinedBehaviorSanitizer|runtime error: |"
                      r"Segmentation fault|core dumped|Aborted|"
                      r"double free|stack smashing")
# A message line of ksink: "ksink: LEVEL: ..." or a summary "ksink: FILE:
# N problems found"; under journald "<N>...".
LINE_RE = re.compile(r"^(ksink: |<[0-7]>)")

DEFAULT_TIMEOUT = {"conf": 20, "open": 20, "cli": 20, "live": 30,
                   "kafka": 90}
STOP_TIMEOUT = 20
# How long SIGTERM waits for ksink to block it, as daemon_send does.
READY_TIMEOUT = 10

DAEMON_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         os.pardir, "kafka", "daemon.sh")


def term_ready(pid):
    """Whether SIGTERM would stop ksink cleanly: daemon_pid_ready of
    tests/kafka/daemon.sh, the one test of it."""
    return subprocess.run(
        ["/bin/sh", "-c", '. "$1" && daemon_pid_ready "$2"', "sh",
         DAEMON_SH, str(pid)], stdin=subprocess.DEVNULL).returncode == 0


class Case:
    def __init__(self, lineno, name, kind, exit_, expect, inp, extra):
        self.lineno = lineno
        self.name = name
        self.kind = kind
        self.exit = exit_
        self.expect = expect
        self.input = inp
        self.extra = extra

    @property
    def category(self):
        return self.name.split("-", 1)[0]


def parse_cases(path):
    cases, names, errors = [], set(), []
    with open(path, encoding="utf-8") as fp:
        for lineno, line in enumerate(fp, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            fields = [f.strip() for f in line.split(" | ")]
            if len(fields) < 5:
                errors.append("%s:%d: expected NAME | KIND | EXIT | EXPECT "
                              "| INPUT [| FIELD=VALUE ...]" % (path, lineno))
                continue
            name, kind, exit_, expect, inp = fields[:5]
            extra = {}
            for f in fields[5:]:
                k, sep, v = f.partition("=")
                if not sep:
                    errors.append("%s:%d: extra field %r is not FIELD=VALUE"
                                  % (path, lineno, f))
                    continue
                extra.setdefault(k.strip(), []).append(v.strip())
            if kind not in KINDS:
                errors.append("%s:%d: unknown kind %r" % (path, lineno, kind))
            if name in names:
                errors.append("%s:%d: duplicate case name %s" %
                              (path, lineno, name))
            names.add(name)
            try:
                exit_ = int(exit_)
            except ValueError:
                errors.append("%s:%d: exit status %r is not a number" %
                              (path, lineno, exit_))
                continue
            cases.append(Case(lineno, name, kind, exit_, expect, inp, extra))
    return cases, errors


def unescape(s):
    """The escapes of INPUT: \\n \\t \\\\ \\xHH."""
    out, i = bytearray(), 0
    b = s.encode("utf-8")
    while i < len(b):
        c = b[i]
        if c == 0x5c and i + 1 < len(b):
            n = chr(b[i + 1])
            if n == "n":
                out.append(10)
                i += 2
                continue
            if n == "t":
                out.append(9)
                i += 2
                continue
            if n == "\\":
                out.append(0x5c)
                i += 2
                continue
            if n == "x" and i + 3 < len(b):
                out.append(int(b[i + 2:i + 4].decode(), 16))
                i += 4
                continue
        out.append(c)
        i += 1
    return bytes(out)


class Runner:
    def __init__(self, args):
        self.ksink = os.environ.get("KSINK", "./ksink")
        self.plugins = os.environ.get("KSINK_PLUGIN_DIR", "")
        self.fixtures = os.environ.get("KSINK_FIXTURE_DIR", "")
        self.src = os.path.dirname(os.path.abspath(args.cases))
        self.bootstrap = os.environ.get("BOOTSTRAP", "")
        self.oracle = os.environ.get("ORACLE", "")
        self.produce = os.environ.get("PRODUCE", "")
        self.workdir = args.workdir
        self.keep = os.environ.get("KSINK_TEST_KEEP") == "1"
        self.lock = threading.Lock()

    # ---- placeholders ----

    def values(self, case, d):
        return {
            "@DIR@": d,
            "@CONF@": os.path.join(d, "ksink.ini"),
            "@PLUGINS@": self.plugins,
            "@FIXTURES@": self.fixtures,
            "@SRC@": self.src,
            "@KSINK@": self.ksink,
            "@BOOTSTRAP@": self.bootstrap,
            "@TOPIC@": case.topic,
        }

    def subst(self, s, vals, regex=False):
        for k, v in vals.items():
            s = s.replace(k, re.escape(v) if regex else v)
        return s

    # ---- one case ----

    def run_case(self, case):
        d = os.path.join(self.workdir, case.name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        case.topic = "ksink-badinput-%s-%d-%d" % (case.name, os.getpid(),
                                                  int(time.time()))
        vals = self.values(case, d)
        problems = []
        out = err = ""
        rc = None
        try:
            rc, out, err, problems = self.execute(case, d, vals)
        except Exception as e:  # a bug of the runner is a failure too
            problems.append("runner error: %r" % (e,))
        ok = not problems
        if ok and not self.keep:
            shutil.rmtree(d, ignore_errors=True)
        return case, ok, rc, problems, out, err

    def setup(self, case, d, vals, problems):
        for cmd in case.extra.get("setup", []):
            cmd = self.subst(cmd, vals)
            p = subprocess.run(["/bin/sh", "-ec", cmd], cwd=d,
                               capture_output=True, text=True, timeout=60)
            if p.returncode != 0:
                problems.append("setup %r failed: %s" %
                                (cmd, p.stderr.strip()))
                return False
        return True

    def write_conf(self, case, d, vals):
        text = case.input
        if text.startswith("@path:"):
            # An existing file (or none) is the configuration.
            vals["@CONF@"] = self.subst(text[6:], vals)
            return vals["@CONF@"]
        if text.startswith("@file:"):
            with open(os.path.join(self.src, "fixtures", text[6:]),
                      "rb") as fp:
                data = fp.read()
            data = self.subst(data.decode("utf-8", "surrogateescape"),
                              vals).encode("utf-8", "surrogateescape")
        else:
            data = unescape(self.subst(text, vals))
        path = vals["@CONF@"]
        with open(path, "wb") as fp:
            fp.write(data)
        # Readable by its owner only, as a file holding secrets must be,
        # unless the case says otherwise.
        os.chmod(path, int(case.extra.get("mode", ["0600"])[0], 8))
        return path

    def env(self):
        e = dict(os.environ)
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        e.pop("JOURNAL_STREAM", None)
        return e

    @staticmethod
    def tool_env():
        """For the test's own tools (producer, oracle): what they leave
        allocated at exit is not ksink's concern."""
        e = dict(os.environ)
        e["ASAN_OPTIONS"] = "detect_leaks=0"
        return e

    def start_daemon(self, case, d, vals, problems):
        """Starts the daemon= command; its first line of output is
        @PORT@."""
        cmd = self.subst(case.extra["daemon"][0], vals)
        with open(os.path.join(d, "daemon.log"), "wb") as log:
            p = subprocess.Popen(["/bin/sh", "-c", "exec " + cmd], cwd=d,
                                 stdout=subprocess.PIPE, stderr=log,
                                 stdin=subprocess.DEVNULL,
                                 start_new_session=True)
        line = p.stdout.readline().decode("utf-8", "replace").strip()
        if not line:
            problems.append("daemon %r printed no port" % cmd)
            self.stop_daemon(p)
            return None
        vals["@PORT@"] = line
        return p

    @staticmethod
    def stop_daemon(p):
        if p is None:
            return
        p.stdout.close()
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()

    def execute(self, case, d, vals):
        problems = []
        if not self.setup(case, d, vals, problems):
            return None, "", "", problems
        daemon = None
        if "daemon" in case.extra:
            daemon = self.start_daemon(case, d, vals, problems)
            if daemon is None:
                return None, "", "", problems
        try:
            return self.execute_ksink(case, d, vals, problems)
        finally:
            self.stop_daemon(daemon)

    def execute_ksink(self, case, d, vals, problems):
        timeout = int(case.extra.get("timeout",
                                     [DEFAULT_TIMEOUT[case.kind]])[0])
        if case.kind == "cli":
            argv = [self.ksink] + shlex.split(self.subst(case.input, vals))
        else:
            conf = self.write_conf(case, d, vals)
            argv = [self.ksink] + (["-t"] if case.kind == "conf" else []) + \
                ["-c", conf]
        if case.kind == "kafka" and "records" in case.extra:
            if not self.produce_records(case, d, vals, problems):
                return None, "", "", problems

        errpath = os.path.join(d, "stderr")
        outpath = os.path.join(d, "stdout")
        with open(errpath, "wb") as ef, open(outpath, "wb") as of:
            p = subprocess.Popen(argv, cwd=d, stdout=of, stderr=ef,
                                 stdin=subprocess.DEVNULL, env=self.env(),
                                 start_new_session=True)
            try:
                rc = self.wait_ksink(case, p, errpath, d, vals, timeout,
                                     problems)
            finally:
                # Never leave ksink behind, whatever went wrong here.
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()
        with open(errpath, "rb") as fp:
            err = fp.read().decode("utf-8", "replace")
        with open(outpath, "rb") as fp:
            out = fp.read().decode("utf-8", "replace")
        self.judge(case, rc, err, vals, problems)
        if rc is not None and not problems:
            self.final_checks(case, d, vals, problems)
        return rc, out, err, problems

    def wait_ksink(self, case, p, errpath, d, vals, timeout, problems):
        """Lets ksink run as the case wants; returns its exit status, or
        None when it hung."""
        if case.kind in ("live", "kafka") and case.exit == 0:
            rc = self.wait_ready(case, p, errpath, d, vals, timeout,
                                 problems)
            if rc is None:
                rc = self.wait_term_ready(p)
            if rc is not None:
                problems.append("ksink exited on its own (status %d) "
                                "instead of running until SIGTERM" % rc)
                return rc
            p.send_signal(signal.SIGTERM)
            try:
                return p.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append("hang: no exit within %d s of SIGTERM" %
                                STOP_TIMEOUT)
                return None
        try:
            return p.wait(timeout)
        except subprocess.TimeoutExpired:
            problems.append("hang: no exit within %d s" % timeout)
            return None

    @staticmethod
    def wait_term_ready(p):
        """Waits until ksink blocks SIGTERM (READY_TIMEOUT at most, then
        SIGTERM goes anyway, as with daemon_send); returns its exit
        status if it ended first, else None."""
        deadline = time.time() + READY_TIMEOUT
        while not term_ready(p.pid):
            if p.poll() is not None:
                return p.returncode
            if time.time() > deadline:
                print("badinput: ksink (pid %d) still does not block "
                      "SIGTERM after %d s" % (p.pid, READY_TIMEOUT),
                      file=sys.stderr)
                break
            time.sleep(0.05)
        return p.poll()

    # ---- kafka ----

    def produce_records(self, case, d, vals, problems):
        spec = "\n".join(self.subst(r, vals) for r in
                         case.extra["records"][0].split("\\n")) + "\n"
        p = subprocess.run([self.produce, "-b", self.bootstrap, "-t",
                            case.topic], input=spec.encode("utf-8"),
                           capture_output=True, timeout=120,
                           env=self.tool_env())
        if p.returncode != 0:
            problems.append("producing the records failed: %s" %
                            p.stderr.decode("utf-8", "replace").strip())
            return False
        return True

    def oracle_offsets(self, case):
        p = subprocess.run([self.oracle, "-b", self.bootstrap, "-t",
                            case.topic, "-w", "60"], capture_output=True,
                           timeout=120, env=self.tool_env())
        if p.returncode != 0:
            raise RuntimeError("oracle failed: %s" %
                               p.stderr.decode("utf-8", "replace"))
        offs = []
        for line in p.stdout.split(b"\n"):
            if not line:
                continue
            part, off = line.split(b"\t")[:2]
            offs.append((int(part), int(off)))
        return offs

    def sql(self, d, query):
        path = os.path.join(d, "sink.db")
        if not os.path.exists(path):
            return "(no database)"
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
        try:
            rows = db.execute(query).fetchall()
        except sqlite3.Error as e:
            return "(sql error: %s)" % e
        finally:
            db.close()
        return ",".join(" ".join("NULL" if c is None else str(c)
                                 for c in r) for r in rows)

    def checks(self, case, d, vals):
        """(description, got, want) for each check= and applied=."""
        res = []
        for c in case.extra.get("check", []):
            q, sep, want = c.partition(" => ")
            q = self.subst(q, vals)
            if q.startswith("sh:"):
                p = subprocess.run(["/bin/sh", "-c", q[3:]], cwd=d,
                                   capture_output=True, text=True,
                                   timeout=60)
                got = p.stdout.strip()
            else:
                got = self.sql(d, q)
            res.append((q, got, want.strip()))
        for q in case.extra.get("applied", []):
            skip = set()
            for s in case.extra.get("skip", [""])[0].split(","):
                if s.strip():
                    skip.add(int(s))
            want = ",".join(str(o) for p, o in self.oracle_offsets(case)
                            if p == 0 and o not in skip)
            res.append(("applied: " + q + " (oracle, less " +
                        str(sorted(skip)) + ")", self.sql(d, q), want))
        return res

    def wait_ready(self, case, p, errpath, d, vals, timeout, problems):
        """Waits until the case is ready to be stopped; returns the exit
        status if ksink ended first, else None."""
        wait = [self.subst(w, vals, True) for w in
                case.extra.get("wait", [])]
        if not wait and not case.extra.get("check") and \
                not case.extra.get("applied"):
            wait = [r for r in self.regexes(case, vals) if r[0] == "+"]
            wait = [r[1] for r in wait]
        deadline = time.time() + timeout
        last = None
        while True:
            if p.poll() is not None:
                return p.returncode
            with open(errpath, "rb") as fp:
                lines = fp.read().decode("utf-8", "replace").splitlines()
            ready = all(any(re.search(w, l) for l in lines) for w in wait)
            if ready and (case.extra.get("check") or
                          case.extra.get("applied")):
                last = self.checks(case, d, vals)
                ready = all(g == w for _, g, w in last)
            if ready:
                return None
            if time.time() > deadline:
                what = "; ".join("%s: got %r, want %r" % c for c in last
                                 if c[1] != c[2]) if last else ""
                problems.append("not ready within %d s (waiting for %s)%s"
                                % (timeout, " and ".join(wait) or "checks",
                                   ": " + what if what else ""))
                return None
            time.sleep(0.5)

    # ---- verdict ----

    def regexes(self, case, vals):
        res = []
        for r in case.expect.split(" && "):
            r = r.strip()
            if not r or r == "-":
                continue
            if r.startswith("!"):
                res.append(("-", self.subst(r[1:], vals, True)))
            else:
                res.append(("+", self.subst(r, vals, True)))
        return res

    def judge(self, case, rc, err, vals, problems):
        lines = err.splitlines()
        if rc is not None:
            if rc < 0:
                problems.append("crash: killed by signal %d" % -rc)
            elif rc >= 128:
                problems.append("crash: exit status %d" % rc)
            elif rc != case.exit:
                problems.append("exit status %d, expected %d" %
                                (rc, case.exit))
        for l in lines:
            if CRASH_RE.search(l):
                problems.append("crash or sanitizer report: %s" % l)
                break
        for sign, r in self.regexes(case, vals):
            hit = any(re.search(r, l) for l in lines)
            if sign == "+" and not hit:
                problems.append("no message matches /%s/" % r)
            if sign == "-" and hit:
                problems.append("a message matches /%s/, which it must not"
                                % r)
        if case.kind != "cli":
            for l in lines:
                if not LINE_RE.search(l):
                    problems.append("not a one-line message (a line that "
                                    "is not \"ksink: ...\"): %r" % l)
                    break
        if case.exit != 0 and not any(l.startswith("ksink: error: ") or
                                      case.kind == "cli" for l in lines):
            problems.append("fails without an error message")
        if case.kind == "conf":
            conf = vals["@CONF@"]
            for l in lines:
                if l.startswith("ksink: error: ") and not (
                        l.startswith("ksink: error: %s:" % conf) or
                        l.startswith("ksink: error: %s: " % conf)):
                    problems.append("configuration error without FILE:LINE "
                                    "or FILE: %s" % l)

    def final_checks(self, case, d, vals, problems):
        for q, got, want in self.checks(case, d, vals):
            if got != want:
                problems.append("check %s: got %r, want %r" % (q, got, want))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", choices=("offline", "kafka"), default="offline")
    ap.add_argument("--only", action="append", metavar="NAME")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--workdir")
    ap.add_argument("cases")
    args = ap.parse_args()

    cases, errors = parse_cases(args.cases)
    if errors:
        for e in errors:
            print(e, file=sys.stderr)
        return 99
    if args.list:
        for c in cases:
            print("%-36s %-5s %3d" % (c.name, c.kind, c.exit))
        return 0
    if args.set == "kafka":
        cases = [c for c in cases if c.kind == "kafka"]
    else:
        cases = [c for c in cases if c.kind != "kafka"]
    if args.only:
        cases = [c for c in cases if c.name in args.only]
    if not args.workdir:
        args.workdir = tempfile.mkdtemp(prefix="badinput.")
    os.makedirs(args.workdir, exist_ok=True)
    runner = Runner(args)
    if not os.access(runner.ksink, os.X_OK):
        print("badinput: %s is not built" % runner.ksink, file=sys.stderr)
        return 99

    # Quick cases in order, slow ones (live, kafka) a few at a time.
    results = []
    quick = [c for c in cases if c.kind in ("conf", "cli")]
    slow = [c for c in cases if c.kind not in ("conf", "cli")]
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = [ex.submit(runner.run_case, c) for c in slow]
        for c in quick:
            results.append(runner.run_case(c))
        for f in futs:
            results.append(f.result())
    results.sort(key=lambda r: r[0].lineno)

    failed = [r for r in results if not r[1]]
    cats = {}
    for case, ok, *_ in results:
        n = cats.setdefault(case.category, [0, 0])
        n[0] += 1
        n[1] += ok
    for case, ok, rc, problems, out, err in results:
        print("%s: %s (%s, exit %s)" % ("PASS" if ok else "FAIL", case.name,
                                        case.kind, rc))
    print()
    for cat in sorted(cats):
        print("badinput: %-8s %3d cases, %3d passed" % (cat, cats[cat][0],
                                                        cats[cat][1]))
    for case, ok, rc, problems, out, err in failed:
        print()
        print("FAIL: %s (%s:%d, %s, exit %s)" % (
            case.name, os.path.basename(args.cases), case.lineno,
            case.kind, rc))
        for p in problems:
            print("  - " + p)
        print("  stderr:")
        for l in err.splitlines()[:40]:
            print("    | " + l)
        if len(err.splitlines()) > 40:
            print("    | ... (%d more lines)" % (len(err.splitlines()) - 40))
        print("  files kept in %s" % os.path.join(args.workdir, case.name))
    print()
    print("badinput: %d cases, %d passed, %d failed" % (
        len(results), len(results) - len(failed), len(failed)))
    if not failed and not runner.keep:
        shutil.rmtree(args.workdir, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
