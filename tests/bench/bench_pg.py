# SPDX-License-Identifier: BSD-2-Clause
"""tests/bench/bench_pg.py - the PostgreSQL rows of `make bench`
(tests/bench/bench.py): the PostgreSQL sink, the server's own limit and
the peers a user would pick instead, on one throw-away PostgreSQL 15
server (tests/postgres/server.sh, state in WORK/postgres) beside the
broker:

  pg-copy          the limit: psql's \\copy of the same rows as the
                   default table, from a file written before timing, into
                   the same table on the same server
  pg-copy-upsert   the balance upsert's limit: the same file copied into
                   a temporary staging table, then one INSERT ... SELECT
                   ... ON CONFLICT into balances (a sum per user) and one
                   into records, in one transaction
  postgres         ksink, PostgreSQL sink, default table (ksink_records)
  postgres-upsert  ksink, PostgreSQL sink, the balance upsert and the
                   per-record table of tests/postgres/pg-common.sh
  postgres-upsert-batch
                   the same ledger as a postgres.batch.statement: each
                   batch copied into pg_temp.ksink_batch, then the
                   limit's two INSERT ... SELECT statements on it
  connect-jdbc     Kafka Connect 3.9.1 standalone with Debezium's JDBC
                   sink connector, upsert on (topic, partition, offset)
  kcat-psql        kcat | awk | psql, COPY of 5,000 lines at a time
                   (tests/bench/kcat-psql.awk)

Each contender gets a database of its own, dropped after its run.  The
server's CPU time during a run (the postmaster and its children,
tests/bench/README.md) is shown in the notes; it is not in the CPU column,
which is the contender's own.  The harness (the programs, the broker,
the timing of a run, the oracle) is bench_harness.py; a ksink run
(run_ksink) is bench_ksink.py's and the Connect worker bench_connect.py's.

Standard library only.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import bench_harness as h

DEBEZIUM_JDBC = "3.5.0.Final"

PG_CONTENDERS = ["pg-copy", "pg-copy-upsert", "postgres", "postgres-upsert",
                 "postgres-upsert-batch",
                 "connect-jdbc", "kcat-psql"]
PG_KSINK_RUNS = ("postgres", "postgres-upsert", "postgres-upsert-batch")
PG_LABELS = {
    "pg-copy": "PostgreSQL COPY from a file (the server's limit)",
    "pg-copy-upsert": "PostgreSQL COPY + staging-table upsert (its limit)",
    "postgres": "ksink, PostgreSQL sink, default table",
    "postgres-upsert": "ksink, PostgreSQL sink, balance upsert",
    "postgres-upsert-batch": "ksink, PostgreSQL sink, balance upsert as a "
                             "batch statement",
    "connect-jdbc": "Kafka Connect Debezium JDBC sink (upsert)",
    "kcat-psql": "kcat | awk | psql (COPY)",
}
PG_SHORT = {"pg-copy": "PG COPY (limit)",
            "pg-copy-upsert": "PG staged upsert (limit)",
            "postgres": "PostgreSQL",
            "postgres-upsert": "PG upsert",
            "postgres-upsert-batch": "PG upsert (batch)",
            "connect-jdbc": "Connect JDBC",
            "kcat-psql": "kcat|psql"}

# The PostgreSQL sink's default table (connectors/postgres/open.c).
DEFAULT_TABLE = (
    'CREATE TABLE IF NOT EXISTS ksink_records(topic text NOT NULL, '
    '"partition" integer NOT NULL, "offset" bigint NOT NULL, '
    '"timestamp" timestamptz, key bytea, value bytea, headers jsonb, '
    'PRIMARY KEY(topic, "partition", "offset"))')
COPY_COLUMNS = ('ksink_records(topic, "partition", "offset", "timestamp", '
                'key, value, headers)')

# The upsert's limit: the same ledger, set-based, from a staging table.
STAGED_UPSERT = """BEGIN;
CREATE TEMPORARY TABLE stage(topic text, "partition" integer,
    "offset" bigint, "timestamp" timestamptz, key bytea, value bytea,
    headers jsonb) ON COMMIT DROP;
\\copy stage FROM %s
INSERT INTO balances("user", amount)
    SELECT convert_from(value, 'UTF8')::jsonb->>'user',
        sum((convert_from(value, 'UTF8')::jsonb->>'amount')::bigint)
    FROM stage GROUP BY 1
    ON CONFLICT ("user") DO UPDATE SET amount = balances.amount +
        excluded.amount;
INSERT INTO records(topic, part, off, id)
    SELECT topic, "partition", "offset",
        convert_from(value, 'UTF8')::jsonb->>'id'
    FROM stage ORDER BY "partition", "offset";
COMMIT;
"""

# The ledger of tests/postgres/pg-common.sh: every record adds its amount
# to its user's balance and appends a row (topic, part, off, id).
UPSERT_INIT = (
    'CREATE TABLE IF NOT EXISTS balances("user" text PRIMARY KEY, '
    'amount bigint NOT NULL);\n'
    '    CREATE TABLE IF NOT EXISTS records(seq bigserial PRIMARY KEY, '
    'topic text, part integer, off bigint, id text)')
UPSERT_STATEMENT = (
    'INSERT INTO balances("user", amount) VALUES (:value::jsonb->>\'user\', '
    '(:value::jsonb->>\'amount\')::bigint)\n'
    '    ON CONFLICT ("user") DO UPDATE SET amount = balances.amount + '
    'excluded.amount;\n'
    '    INSERT INTO records(topic, part, off, id) VALUES (:topic, '
    ':partition, :offset, :value::jsonb->>\'id\')')

# The same ledger set-based, as postgres.batch.statement (ksink-postgres(7),
# "Batch statement"): the limit's two statements, from the sink's staging
# table pg_temp.ksink_batch.
BATCH_STATEMENT = (
    'INSERT INTO balances("user", amount)\n'
    '        SELECT convert_from(value, \'UTF8\')::jsonb->>\'user\',\n'
    '            sum((convert_from(value, \'UTF8\')::jsonb->>\'amount\')'
    '::bigint)\n'
    '        FROM pg_temp.ksink_batch GROUP BY 1\n'
    '    ON CONFLICT ("user") DO UPDATE SET amount = balances.amount +\n'
    '        excluded.amount;\n'
    '    INSERT INTO records(topic, part, off, id)\n'
    '        SELECT topic, "partition", "offset",\n'
    '            convert_from(value, \'UTF8\')::jsonb->>\'id\'\n'
    '        FROM pg_temp.ksink_batch ORDER BY seq')


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


class PgPoll:
    """One psql process kept open to look at a database while a contender
    runs: a query costs a round trip, not a psql start."""

    END = "--bench-end--"

    def __init__(self, argv, env):
        self.p = subprocess.Popen(argv + ["-At", "-F", "\t"],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env,
                                  universal_newlines=True, bufsize=1)

    def query(self, sql):
        """Rows of sql as lists of strings; none when it fails (a table
        that does not exist yet)."""
        try:
            self.p.stdin.write(sql + ";\n\\echo " + self.END + "\n")
            self.p.stdin.flush()
            rows = []
            for line in self.p.stdout:
                line = line.rstrip("\n")
                if line == self.END:
                    return rows
                rows.append(line.split("\t"))
        except (OSError, ValueError):
            pass
        return []

    def close(self):
        try:
            self.p.stdin.close()
        except OSError:
            pass
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def check_copy_rows(oracle, path):
    """A COPY text file of rows (partition, offset, value) ordered by
    partition, offset must be exactly the oracle's records."""
    n = 0
    it = oracle.records()
    with open(path, "rb") as f:
        for line in f:
            p, off, value = line.rstrip(b"\n").split(b"\t", 2)
            want = next(it, None)
            if want is None or (want[0], want[1], want[3]) != \
                    (int(p), int(off), value):
                return False, "row %d: (%s, %s) differs from the oracle's " \
                    "%s" % (n, p.decode(), off.decode(),
                            want and (want[0], want[1]))
            n += 1
    if next(it, None) is not None:
        return False, "%d rows, the oracle has %d records" % (n, oracle.total)
    return True, "%d rows = oracle (partition, offset, value)" % n


class PgContenders:
    """The PostgreSQL contenders, mixed into bench.py's Bench."""

    pg = None                   # (host, port) of the server, once started

    # -- the server --

    def pg_init(self):
        self.psql = h.tool("PSQL", "/usr/lib/postgresql/15/bin/psql")
        if not os.access(self.psql, os.X_OK):
            self.psql = shutil.which("psql") or self.psql
        self.pg_state = os.path.join(self.work, "postgres")
        self.server_sh = os.path.join(self.srcdir, "tests", "postgres",
                                      "server.sh")
        self.pg_version = "?"

    def pg_env(self, password=False):
        env = dict(os.environ, KSINK_PG_STATE=self.pg_state)
        if password:
            with open(os.path.join(self.pg_state, "password")) as f:
                env["PGPASSWORD"] = f.read().strip()
        return env

    def pg_check_tools(self, wanted):
        if not wanted & set(PG_CONTENDERS):
            return
        hint = "run tests/install-deps.sh --test (postgresql-15)"
        if not os.access(os.environ.get("KSINK_PG_BINDIR", "/usr/lib/"
                                        "postgresql/15/bin") + "/initdb",
                         os.X_OK):
            h.die("PostgreSQL 15 is not installed: " + hint)
        if not os.access(self.psql, os.X_OK):
            h.die("psql not found: " + hint)
        if not os.path.exists(os.path.join(self.plugins, "postgres.so")) \
                and wanted & set(PG_KSINK_RUNS):
            h.die("the postgres sink is not built (%s/postgres.so)"
                  % self.plugins)
        if "kcat-psql" in wanted or "pg-copy" in wanted:
            h.need(self.awk, "run tests/bench/install-deps.sh")

    def start_pg(self):
        if self.pg:
            return
        os.makedirs(self.pg_state, exist_ok=True)
        h.say("starting a PostgreSQL server (tests/postgres/server.sh)")
        out = subprocess.run(["sh", self.server_sh, "start"],
                             env=self.pg_env(), stdout=subprocess.PIPE,
                             check=False)
        addr = out.stdout.decode().split()
        if out.returncode != 0 or len(addr) != 2:
            h.die("the PostgreSQL server did not start (see %s)"
                  % self.pg_state)
        self.pg = (addr[0], int(addr[1]))
        self.pg_version = self.pg_sql("postgres", "SHOW server_version")[
            0][0]
        h.say("PostgreSQL %s at %s:%d" % ((self.pg_version,) + self.pg))

    def stop_pg(self):
        if self.pg and not self.args.keep:
            subprocess.run(["sh", self.server_sh, "stop"],
                           env=self.pg_env(), check=False,
                           stderr=subprocess.DEVNULL)
            self.pg = None

    def psql_argv(self, db, user="ksink_admin", stop=True):
        return [self.psql, "-X", "-q"] + (
            ["-v", "ON_ERROR_STOP=1"] if stop else []) + [
                "-h", self.pg[0], "-p", str(self.pg[1]), "-U", user, "-d",
                db]

    def pg_sql(self, db, sql, out=None):
        """Runs sql as the superuser; its rows, or into the file out."""
        p = subprocess.run(self.psql_argv(db) + ["-At", "-F", "\t", "-c",
                                                 sql],
                           stdout=out or subprocess.PIPE,
                           stderr=subprocess.PIPE, env=self.pg_env(),
                           check=False)
        if p.returncode != 0:
            raise RuntimeError("psql: %s: %s" % (sql[:60],
                                                 p.stderr.decode().strip()))
        if out:
            return None
        return [l.split("\t") for l in p.stdout.decode().splitlines() if l]

    def pg_createdb(self):
        self.start_pg()
        db = "bench_" + re.sub("[^a-z0-9_]", "_", self.run_id.lower())
        self.pg_sql("postgres", "DROP DATABASE IF EXISTS %s WITH (FORCE)"
                    % db)
        self.pg_sql("postgres", "CREATE DATABASE %s OWNER ksink" % db)
        return db

    def pg_dropdb(self, db):
        if not self.args.keep:
            try:
                self.pg_sql("postgres", "DROP DATABASE IF EXISTS %s WITH "
                            "(FORCE)" % db)
            except RuntimeError as e:
                h.say("cannot drop %s: %s" % (db, e))

    def pg_conninfo(self, db):
        return "host=%s port=%d user=ksink dbname=%s sslmode=disable" % (
            self.pg[0], self.pg[1], db)

    def server_cpu(self):
        """CPU seconds of the server so far: the postmaster, the children
        it reaped (ended backends) and its live children."""
        run = self.pg_state
        try:
            with open(os.path.join(self.pg_state, "rundir")) as f:
                run = f.read().strip()
        except OSError:
            pass
        tick = float(os.sysconf("SC_CLK_TCK"))
        try:
            with open(os.path.join(run, "data", "postmaster.pid")) as f:
                pid = int(f.readline())
            with open("/proc/%d/stat" % pid) as f:
                st = f.read().rsplit(")", 1)[1].split()
            total = sum(int(x) for x in st[11:15])
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = f.read().split()
        except (OSError, ValueError, IndexError):
            return 0.0
        for k in kids:
            try:
                with open("/proc/%s/stat" % k) as f:
                    st = f.read().rsplit(")", 1)[1].split()
                total += int(st[11]) + int(st[12])
            except (OSError, ValueError, IndexError):
                pass
        return total / tick

    def server_cpu_since(self, before):
        # Let the backend of the contender end and be reaped.
        time.sleep(0.3)
        return max(0.0, self.server_cpu() - before)

    # -- the contenders --

    def kcat_rows(self, d, topic, out):
        """The topic in COPY text (tests/bench/kcat-psql.awk -v batch=0)
        into the file out; not timed."""
        with open(out, "wb") as f, \
                open(os.path.join(d, "prepare.log"), "ab") as log:
            kcat = subprocess.Popen(
                self.kcat_argv(topic, h.KCAT_FORMAT),
                stdout=subprocess.PIPE, stderr=log, env=self.kcat_env)
            awk = subprocess.Popen(
                [self.awk, "-v", "batch=0", "-f", os.path.join(
                    self.srcdir, "tests", "bench", "kcat-psql.awk")],
                stdin=kcat.stdout, stdout=f, stderr=log)
            kcat.stdout.close()
            return awk.wait() == 0 and kcat.wait() == 0

    def check_default_table(self, res, db, oracle, d, table="ksink_records",
                            cols='"partition", "offset", '
                            'convert_from(value, \'UTF8\')'):
        rows = os.path.join(d, "rows.out")
        with open(rows, "wb") as f:
            self.pg_sql(db, "COPY (SELECT %s FROM %s ORDER BY 1, 2) TO "
                        "STDOUT" % (cols, table), out=f)
        res.ok, res.detail = check_copy_rows(oracle, rows)

    def c_pg_copy(self, res, d, topic, oracle, upsert=False):
        db = self.pg_createdb()
        try:
            data = os.path.join(d, "rows.copy")
            if not self.kcat_rows(d, topic, data):
                res.error = "kcat | awk could not write %s" % data
                return
            if upsert:
                self.pg_sql(db, "SET ROLE ksink; " + UPSERT_INIT)
                script = STAGED_UPSERT % sql_str(data)
                what = ("a file written before timing, copied into a "
                        "staging table and upserted in one transaction")
            else:
                self.pg_sql(db, "SET ROLE ksink; " + DEFAULT_TABLE)
                script = "\\copy %s FROM %s\n" % (COPY_COLUMNS,
                                                  sql_str(data))
                what = ("one psql \\copy, one transaction, of a file "
                        "written before timing")
            sql = os.path.join(d, "limit.sql")
            with open(sql, "w") as f:
                f.write(script)
            cpu0 = self.server_cpu()
            log = open(os.path.join(d, "psql.log"), "wb")
            p = h.spawn(self.psql_argv(db, "ksink") + ["-f", sql],
                        stdout=log, stderr=subprocess.STDOUT,
                        env=self.pg_env(password=True))
            if not p.wait(h.RUN_TIMEOUT):
                p.stop()
                res.error = "not done after %d s" % h.RUN_TIMEOUT
            elif p.status != 0:
                res.error = "psql exit status %d (log: %s)" % (p.status,
                                                               log.name)
            res.elapsed = p.end - p.start
            res.cpu = p.cpu
            res.rss_kib = p.maxrss_kib
            res.records = oracle.total
            res.payload = oracle.payload
            res.extra["server_cpu"] = self.server_cpu_since(cpu0)
            res.note = "%s; server CPU %.1f s" % (what,
                                                  res.extra["server_cpu"])
            if res.error:
                return
            self.check_tables(res, db, topic, oracle, d, upsert)
        finally:
            self.pg_dropdb(db)

    def c_pg_copy_upsert(self, res, d, topic, oracle):
        self.c_pg_copy(res, d, topic, oracle, upsert=True)

    def check_tables(self, res, db, topic, oracle, d, upsert):
        if upsert:
            self.check_ledger(res, db, topic, oracle)
        else:
            self.check_default_table(res, db, oracle, d)

    def check_ledger(self, res, db, topic, oracle):
        """balances and records against the oracle: check_pg.py."""
        p = subprocess.run(
            [sys.executable, os.path.join(self.srcdir, "tests", "postgres",
                                          "check_pg.py"),
             "--topic", topic, oracle.path, db],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=self.pg_env(), check=False)
        out = p.stdout.decode().strip().splitlines()
        res.ok = p.returncode == 0
        res.detail = "check_pg.py: " + (" ".join(out[-3:]) or "no output")

    def c_postgres(self, res, d, topic, oracle, upsert=False, batch=False):
        db = self.pg_createdb()
        poll = PgPoll(self.psql_argv(db, stop=False), self.pg_env())
        seen = {"st": {}}

        def offsets():
            st = {}
            for row in poll.query(
                    'SELECT "partition", next_offset FROM ksink_offsets '
                    'WHERE topic = %s' % sql_str(topic)):
                st[int(row[0])] = int(row[1])
            seen["st"] = st
            return st

        def done():
            st = offsets()
            return all(st.get(p, 0) >= n for p, n in oracle.next.items())

        def started():
            return any(v > 0 for v in offsets().values())

        body = ("type = postgres\npostgres.conninfo = %s\n"
                "postgres.password.file = %s\n" % (
                    self.pg_conninfo(db),
                    os.path.join(self.pg_state, "password")))
        if upsert and batch:
            body += ("postgres.init = %s\npostgres.batch.statement = %s\n"
                     % (UPSERT_INIT, BATCH_STATEMENT))
        elif upsert:
            body += "postgres.init = %s\npostgres.statement = %s\n" % (
                UPSERT_INIT, UPSERT_STATEMENT)
        cpu0 = self.server_cpu()
        try:
            self.run_ksink(res, d, topic, oracle, body, done, [], started,
                           progress=lambda: seen["st"])
        finally:
            poll.close()
        try:
            res.extra["server_cpu"] = self.server_cpu_since(cpu0)
            res.note = "server CPU %.1f s" % res.extra["server_cpu"]
            if res.error:
                return
            self.check_tables(res, db, topic, oracle, d, upsert)
            st = {int(p): int(n) for p, n in self.pg_sql(
                db, 'SELECT "partition", next_offset FROM ksink_offsets '
                'WHERE topic = %s' % sql_str(topic))}
            if res.ok and st != oracle.next:
                res.ok = False
                res.detail = "ksink_offsets %s, oracle %s" % (st,
                                                              oracle.next)
        finally:
            self.pg_dropdb(db)

    def c_postgres_upsert(self, res, d, topic, oracle):
        self.c_postgres(res, d, topic, oracle, upsert=True)

    def c_postgres_upsert_batch(self, res, d, topic, oracle):
        self.c_postgres(res, d, topic, oracle, upsert=True, batch=True)

    def jdbc_plugin(self):
        """The plugin folder holding Debezium's JDBC sink and the
        PostgreSQL driver (tests/bench/pom-jdbc.xml), and a folder with
        the SLF4J binding the worker needs to log at all (Kafka's
        distribution has it; tests/bench/pom.xml does not), copied from
        Maven Central on first use: (plugins, worker jars, None), or
        (None, None, why not)."""
        cache = h.cache_dir("KSINK_JDBC_CACHE",
                            "debezium-jdbc-" + DEBEZIUM_JDBC)
        plugins = os.path.join(cache, "plugins")
        worker = os.path.join(cache, "worker")
        if os.path.exists(os.path.join(cache, ".complete")):
            return plugins, worker, None
        os.makedirs(cache, exist_ok=True)
        for x in (plugins, worker):
            shutil.rmtree(x, ignore_errors=True)
        h.say("copying Debezium's JDBC sink %s and the PostgreSQL driver "
              "into %s" % (DEBEZIUM_JDBC, plugins))
        log = os.path.join(cache, "mvn.log")
        with open(log, "wb") as f:
            rc = subprocess.call(
                [self.mvn, "-q", "-B", "-f", os.path.join(
                    self.srcdir, "tests", "bench", "pom-jdbc.xml"),
                 "dependency:copy-dependencies", "-DincludeScope=runtime",
                 # What the worker has already: Kafka's classes, their
                 # compression libraries, logging and Jackson (two
                 # Jacksons break Hibernate's start: "Jdk8Module not a
                 # subtype"); and the other databases' drivers.
                 "-DexcludeGroupIds=org.apache.kafka,org.slf4j,org.lz4,"
                 "org.xerial.snappy,com.github.luben,"
                 "com.fasterxml.jackson.core,com.fasterxml.jackson.datatype",
                 "-DexcludeArtifactIds=mysql-connector-j,"
                 "mariadb-java-client,mssql-jdbc,ojdbc11",
                 "-DoutputDirectory=" + os.path.join(plugins,
                                                     "debezium-jdbc")],
                stdout=f, stderr=f)
            if rc == 0:
                rc = subprocess.call(
                    [self.mvn, "-q", "-B", "-f", os.path.join(
                        self.srcdir, "tests", "bench", "pom-jdbc.xml"),
                     "dependency:copy",
                     "-Dartifact=org.slf4j:slf4j-reload4j:1.7.36",
                     "-DoutputDirectory=" + worker], stdout=f, stderr=f)
        if rc != 0 or not os.path.exists(os.path.join(
                plugins, "debezium-jdbc", "debezium-connector-jdbc-%s.jar"
                % DEBEZIUM_JDBC)):
            return None, None, (
                "mvn could not copy io.debezium:debezium-connector-jdbc:%s "
                "and its dependencies from Maven Central (see %s)"
                % (DEBEZIUM_JDBC, log))
        open(os.path.join(cache, ".complete"), "w").close()
        return plugins, worker, None

    def c_connect_jdbc(self, res, d, topic, oracle):
        plugins, wlibs, why = self.jdbc_plugin()
        if plugins is None:
            res.error = "not available: " + why
            return
        libs = self.connect_libs()
        db = self.pg_createdb()
        # plugin.discovery=service_load, as the worker's own warning
        # advises: the default scans every jar of the plugin.
        worker = self.connect_worker(d, "plugin.path=%s\n"
                                     "plugin.discovery=service_load\n"
                                     % plugins)
        connector = os.path.join(d, "jdbc-sink.properties")
        fd = os.open(connector, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f, \
                open(os.path.join(self.pg_state, "password")) as pw:
            # The string value becomes a struct of one field, value: the
            # connector writes structs only.  Upsert on the record's
            # coordinates: the rows of the default table, idempotent.
            f.write("""name=bench-%s
connector.class=io.debezium.connector.jdbc.JdbcSinkConnector
tasks.max=1
topics=%s
connection.url=jdbc:postgresql://%s:%d/%s
connection.username=ksink
connection.password=%s
insert.mode=upsert
primary.key.mode=kafka
schema.evolution=basic
collection.name.format=jdbc_records
transforms=hoist
transforms.hoist.type=org.apache.kafka.connect.transforms.HoistField$Value
transforms.hoist.field=value
""" % (self.run_id, topic, self.pg[0], self.pg[1], db, pw.read().strip()))
        poll = PgPoll(self.psql_argv(db, stop=False), self.pg_env())
        seen = {"last": {}}
        # The last offset of each partition, through the primary key.
        last_sql = "SELECT " + ", ".join(
            "(SELECT max(__connect_offset) FROM jdbc_records WHERE "
            "__connect_topic = %s AND __connect_partition = %d)"
            % (sql_str(topic), p) for p in sorted(oracle.next))

        def done():
            rows = poll.query(last_sql)
            if rows:
                seen["last"] = dict(zip(sorted(oracle.next), (
                    int(v) if v else -1 for v in rows[0])))
            return all(seen["last"].get(p, -1) >= n - 1
                       for p, n in oracle.next.items())

        def started():
            return any(v >= 0 for v in seen["last"].values())

        # Warnings and errors on stdout (Kafka's config/connect-log4j.
        # properties logs at INFO: KSINK_BENCH_CONNECT_LOG=INFO).
        log4j = os.path.join(d, "log4j.properties")
        with open(log4j, "w") as f:
            f.write("log4j.rootLogger=%s, stdout\n"
                    "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
                    "log4j.appender.stdout.layout=org.apache.log4j."
                    "PatternLayout\n"
                    "log4j.appender.stdout.layout.ConversionPattern="
                    "[%%d] %%p %%m (%%c:%%L)%%n\n"
                    "log4j.logger.org.reflections=ERROR\n"
                    % os.environ.get("KSINK_BENCH_CONNECT_LOG", "WARN"))
        argv = self.connect_argv([libs, wlibs], worker, connector,
                                 ["-Dlog4j.configuration=file:" + log4j])
        cpu0 = self.server_cpu()
        try:
            self.run_daemon(res, argv, done, [], started,
                            os.path.join(d, "connect.log"), cwd=d,
                            progress=lambda: seen["last"])
        finally:
            poll.close()
        try:
            res.records = oracle.total
            res.payload = oracle.payload
            res.extra["server_cpu"] = self.server_cpu_since(cpu0)
            res.note = ("Debezium %s, insert.mode=upsert on (topic, "
                        "partition, offset); server CPU %.1f s"
                        % (DEBEZIUM_JDBC, res.extra["server_cpu"]))
            if res.error and res.error.startswith("exit status 143"):
                res.error = None        # the JVM's answer to SIGTERM
            if res.error:
                return
            self.check_default_table(
                res, db, oracle, d, table="jdbc_records",
                cols="__connect_partition, __connect_offset, value")
        finally:
            self.pg_dropdb(db)

    def c_kcat_psql(self, res, d, topic, oracle):
        db = self.pg_createdb()
        try:
            log = open(os.path.join(d, "pipeline.log"), "wb")
            cpu0 = self.server_cpu()
            self.run_pipeline(res, topic, oracle, "kcat-psql.awk",
                              self.psql_argv(db, "ksink") + ["-f", "-"], log,
                              env=self.pg_env(password=True))
            res.extra["server_cpu"] = self.server_cpu_since(cpu0)
            res.note = ("CPU and RSS summed over kcat, awk, psql; server "
                        "CPU %.1f s" % res.extra["server_cpu"])
            if res.error:
                return
            self.check_default_table(res, db, oracle, d)
        finally:
            self.pg_dropdb(db)


def pg_targets(get, sl):
    """The PostgreSQL targets of the performance issue, for one value
    size: (description, measured text, met)."""
    out = []
    lim, s, u = get("pg-copy"), get("postgres"), get("postgres-upsert")
    ulim = get("pg-copy-upsert")
    peer, jdbc = get("kcat-psql"), get("connect-jdbc")
    if s and lim:
        v = s.rate / lim.rate
        out.append(("%s: PostgreSQL default table ≥ 0.7× the COPY limit"
                    % sl, "%.2f×" % v, v >= 0.7))
    if u and ulim:
        v = u.rate / ulim.rate
        out.append(("%s: PostgreSQL balance upsert ≥ 0.7× its staging-table "
                    "limit" % sl, "%.2f×" % v, v >= 0.7))
    ub = get("postgres-upsert-batch")
    if ub and ulim:
        v = ub.rate / ulim.rate
        out.append(("%s: PostgreSQL balance upsert as a batch statement "
                    "≥ 0.7× its staging-table limit" % sl, "%.2f×%s" % (
                        v, "" if ub.ok else " (check failed)"),
                    v >= 0.7 and bool(ub.ok)))
    if s and peer:
        v = s.rate / peer.rate
        out.append(("%s: PostgreSQL sink ≥ 1.2× kcat | awk | psql, "
                    "exactly-once" % sl, "%.2f×%s" % (
                        v, "" if s.ok else " (check failed)"),
                    v >= 1.2 and bool(s.ok)))
    if s and jdbc:
        v = s.rate / jdbc.rate
        out.append(("%s: PostgreSQL sink ≥ 5× Connect's JDBC sink" % sl,
                    "%.1f×" % v, v >= 5))
        v = s.rss_kib / jdbc.rss_kib
        out.append(("%s: PostgreSQL sink peak RSS ≤ 1/5 of Connect's JDBC "
                    "sink" % sl, "%.1f / %.1f MiB = 1/%.1f" % (
                        s.rss_kib / 1024.0, jdbc.rss_kib / 1024.0, 1 / v),
                    v <= 0.2))
    return out
