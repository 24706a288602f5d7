/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/open.c - the PostgreSQL sink's configuration: the
 * SQL options and their .file forms, the rules check() finds without a
 * server (the conninfo's syntax, never echoing a password; the
 * statements' parameters), and open(): the connection, postgres.init,
 * the offsets table and the statements.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/mapping.h"
#include "../lib/sqltext.h"
#include "postgres.h"

static const char default_table[] =
    "CREATE TABLE IF NOT EXISTS ksink_records(\n"
    "  topic text NOT NULL,\n"
    "  \"partition\" integer NOT NULL,\n"
    "  \"offset\" bigint NOT NULL,\n"
    "  \"timestamp\" timestamptz,\n"
    "  key bytea,\n"
    "  value bytea,\n"
    "  headers jsonb,\n"
    "  PRIMARY KEY(topic, \"partition\", \"offset\"))";

static const char mapping_conflict[] = "is set together with options of "
    "the table mapping (ksink-mapping(7)), which writes rows without SQL: "
    "keep one or the other";

static const char default_statement[] =
    "INSERT INTO ksink_records(topic, \"partition\", \"offset\", "
    "\"timestamp\", key, value, headers) VALUES (:topic, :partition, "
    ":offset, :timestamp, :key, :value, :headers)";

/* ---------------------------------------------------------------- */
/* Options                                                           */

/* Whether a libpq host is this machine: a loopback address, localhost,
 * or a Unix-domain socket directory. */
static int
loopback(const char *h, size_t n)
{
	if (n == 0 || h[0] == '/' || h[0] == '@')
		return 1;
	if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
	    (n == 3 && strncmp(h, "::1", 3) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", 5) == 0) ||
	    (n >= 4 && strncmp(h, "127.", 4) == 0))
		return 1;
	return 0;
}

/* Whether libpq may quote s (n bytes) in a message about a conninfo: a
 * keyword of libpq, or punctuation such as "=". */
static int
quotable(const char *s, size_t n)
{
	PQconninfoOption *d, *o;
	size_t i;
	int ok = 1;

	for (i = 0; i < n; i++)
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))
			ok = 0;
	if (ok)
		return 1;
	if ((d = PQconndefaults()) == NULL)
		return 0;
	for (o = d; o->keyword; o++)
		if (strlen(o->keyword) == n && strncmp(o->keyword, s, n) == 0)
			ok = 1;
	PQconninfoFree(d);
	return ok;
}

/* Hides what libpq quoted from the conninfo in its message, but for
 * keywords and punctuation: it may be a piece of a password. */
static void
redact(char *msg)
{
	static const char hidden[] = "(hidden)";
	char *p, *q;
	size_t n;

	for (p = msg; (p = strchr(p, '"')) != NULL; ) {
		if ((q = strchr(p + 1, '"')) == NULL) {
			*p = '\0';
			break;
		}
		n = (size_t)(q - p - 1);
		if (!quotable(p + 1, n)) {
			if (n >= sizeof(hidden) - 1) {
				memcpy(p + 1, hidden, sizeof(hidden) - 1);
				memmove(p + sizeof(hidden), q, strlen(q) + 1);
				q = p + sizeof(hidden);
			} else {
				memmove(p + 1, q, strlen(q) + 1);
				q = p + 1;
			}
		}
		p = q + 1;
	}
	for (p = msg; *p; p++)
		if (*p == '\n')
			*p = *(p + 1) ? ' ' : '\0';
}

/* Says which path postgres.statement would take, as far as the text
 * tells: the server confirms COPY at start (copy.c). */
static void
check_path(const struct ksink_host *host, struct ksink_ctx *ctx,
    const struct pg_stmt_list *l)
{
	struct pg_copy_plan cp;

	if (l->n != 1)
		host->log(ctx, KSINK_LOG_INFO, "postgres.statement: %d "
		    "statements, pipelined record by record", l->n);
	else if (pg_copy_classify(&l->v[0], &cp) == -1)
		host->log(ctx, KSINK_LOG_INFO, "postgres.statement: pipelined "
		    "record by record, not COPY: %s", cp.reason);
	else {
		host->log(ctx, KSINK_LOG_INFO, "postgres.statement: a plain "
		    "%s into %s: COPY%s, if the table allows it (checked at "
		    "start)", cp.kind == PG_COPY_INSERT ? "insert" : "upsert",
		    cp.table, cp.kind == PG_COPY_INSERT ? "" : " through a "
		    "staging table");
		pg_copy_plan_free(&cp);
	}
}

/*
 * The checks of ksink -t that span options: reported with host->report().
 * Side-effect free: no file read, no connection.
 */
int
pg_check(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	static const char *const sqlopts[] = {
		"postgres.statement", "postgres.delete.statement",
		"postgres.batch.statement", "postgres.init", NULL
	};
	int given[4] = { 0 };
	PQconninfoOption *opts, *o;
	struct pg_stmt_list l;
	const char *conninfo, *sql, *hosts = NULL, *addrs = NULL;
	const char *sslmode = NULL, *h, *e;
	char *err = NULL, *buf, ebuf[512];
	int bad = 0, i, remote = 0, mapping, ff;

	if ((mapping = ks_mapping_wanted(host, ctx, "postgres")) &&
	    ks_mapping_check(host, ctx, "postgres") != KSINK_OK)
		bad = 1;
	if (mapping && map_check_names(host, ctx))
		bad = 1;
	for (i = 0; sqlopts[i]; i++) {
		if (ks_sqltext_option(host, ctx, sqlopts[i], 0, &sql, &buf,
		    &ff, ebuf, sizeof(ebuf)) != KSINK_OK) {
			host->report(ctx, sqlopts[i], "%s", ebuf);
			bad = 1;
			continue;
		}
		given[i] = sql != NULL ? 1 : ff ? 2 : 0;
		/* postgres.init is plain SQL, run as it is. */
		if (strcmp(sqlopts[i], "postgres.init") == 0)
			continue;
		if (mapping && (sql != NULL || ff)) {
			snprintf(ebuf, sizeof(ebuf), "%s.file", sqlopts[i]);
			host->report(ctx, ff ? ebuf : sqlopts[i], "%s",
			    mapping_conflict);
			bad = 1;
			continue;
		}
		if (sql == NULL)
			continue;
		if ((i == 2 ? batch_parse : pg_stmt_parse)(sql, &l, ebuf,
		    sizeof(ebuf)) == -1) {
			host->report(ctx, sqlopts[i], "%s", ebuf);
			bad = 1;
			continue;
		}
		if (i == 0)
			check_path(host, ctx, &l);
		pg_stmt_free(&l);
	}
	for (i = 0; i < 2; i++)
		if (given[2] && given[i]) {
			host->report(ctx, given[2] == 2 ?
			    "postgres.batch.statement.file" :
			    "postgres.batch.statement", "is set together with "
			    "%s%s: a batch statement applies every record of "
			    "a batch, tombstones included, at once; keep one "
			    "or the other", sqlopts[i], given[i] == 2 ?
			    ".file" : "");
			bad = 1;
		}
	if ((sql = host->conf_str(ctx, "postgres.offsets.table")) != NULL &&
	    !pg_stmt_valid_table(sql)) {
		host->report(ctx, "postgres.offsets.table", "not a table name: "
		    "use an identifier, optionally schema-qualified "
		    "(ops.ksink_offsets)");
		bad = 1;
	}

	conninfo = host->conf_str(ctx, "postgres.conninfo");
	if (conninfo != NULL) {
		if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
			if (err)
				redact(err);
			host->report(ctx, "postgres.conninfo", "not a valid "
			    "libpq connection string or URI%s%s; the value "
			    "is not shown as it may hold a password",
			    err ? ": " : "", err ? err : "");
			PQfreemem(err);
			return KSINK_CONFIG;
		}
		for (o = opts; o->keyword; o++) {
			if (o->val == NULL)
				continue;
			if (strcmp(o->keyword, "host") == 0)
				hosts = o->val;
			else if (strcmp(o->keyword, "hostaddr") == 0)
				addrs = o->val;
			else if (strcmp(o->keyword, "sslmode") == 0)
				sslmode = o->val;
		}
		for (i = 0; i < 2; i++) {
			h = i == 0 ? hosts : addrs;
			while (h && *h) {
				e = h + strcspn(h, ",");
				if (!loopback(h, (size_t)(e - h)))
					remote = 1;
				h = *e ? e + 1 : e;
			}
		}
		if (hosts == NULL && addrs == NULL && getenv("PGHOST") &&
		    !loopback(getenv("PGHOST"), strlen(getenv("PGHOST"))))
			remote = 1;
		if (sslmode == NULL)
			sslmode = getenv("PGSSLMODE");
		if (remote && (sslmode == NULL ||
		    strcmp(sslmode, "verify-full") != 0))
			host->log(ctx, KSINK_LOG_WARN, "postgres.conninfo names "
			    "a host that is not a loopback address without "
			    "sslmode=verify-full: the connection %s; add "
			    "sslmode=verify-full and sslrootcert",
			    sslmode && strcmp(sslmode, "verify-ca") == 0 ?
			    "does not check the server's name" :
			    "may be neither encrypted nor authenticated");
		PQconninfoFree(opts);
	}
	return bad ? KSINK_CONFIG : KSINK_OK;
}

/*
 * The session advisory lock that setup runs under ("ksinkset" in ASCII):
 * two workers starting at the same moment would otherwise run the same
 * CREATE TABLE IF NOT EXISTS side by side, and the second fails with a
 * duplicate key in the catalogue (23505) once the first commits.  The
 * lock ends with the session if the worker dies during setup.
 */
#define SETUP_LOCK	"SELECT pg_advisory_lock(7742648107350058356)"
#define SETUP_UNLOCK	"SELECT pg_advisory_unlock(7742648107350058356)"

/*
 * What the connector sets up on the server once, on its first connection:
 * postgres.init, the offsets table and the default table, one worker at
 * a time.
 */
int
pg_setup(struct pg *pg, char *errbuf, size_t errlen)
{
	char ubuf[256];
	int st;

	if ((st = exec_simple(pg, SETUP_LOCK, "waiting for another worker's "
	    "setup (advisory lock)", errbuf, errlen)) != KSINK_OK)
		return st == KSINK_POISON ? KSINK_CONFIG : st;
	if ((pg->init == NULL || (st = exec_simple(pg, pg->init,
	    pg->init_what, errbuf, errlen)) == KSINK_OK) &&
	    (st = create_offsets(pg, errbuf, errlen)) == KSINK_OK &&
	    (!pg->default_table || (st = exec_simple(pg, default_table,
	    "creating ksink_records", errbuf, errlen)) == KSINK_OK))
		pg->need_setup = 0;
	/* A failed unlock means a lost session, which released it. */
	(void)exec_simple(pg, SETUP_UNLOCK, "setup", ubuf, sizeof(ubuf));
	if (st == KSINK_OK)
		return KSINK_OK;
	return st == KSINK_POISON ? KSINK_CONFIG : st;
}

static int
load_set(struct pg *pg, struct pset *set, const char *option,
    const char *sql, const char *prefix, char *errbuf, size_t errlen)
{
	struct pg_stmt_list l;
	char ebuf[512];
	int i;

	set->option = option;
	if (pg_stmt_parse(sql, &l, ebuf, sizeof(ebuf)) == -1) {
		ks_err_set(errbuf, errlen, "%s: %s", option, ebuf);
		return KSINK_CONFIG;
	}
	if ((set->v = calloc((size_t)l.n, sizeof(*set->v))) == NULL) {
		pg_stmt_free(&l);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	for (i = 0; i < l.n; i++) {
		set->v[i].t = l.v[i];
		snprintf(set->v[i].name, sizeof(set->v[i].name), "ksink_%s%d",
		    prefix, i);
	}
	set->n = l.n;
	free(l.v);
	return KSINK_OK;
}

int
pg_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sink,
    char *errbuf, size_t errlen)
{
	struct pg *pg;
	char *init_buf = NULL, *stmt_buf = NULL, *del_buf = NULL;
	char *batch_buf = NULL;
	const char *init, *stmt, *del, *batch, *s, *u_init, *u_stmt, *u_del;
	const char *u_batch;
	int f_init, f_stmt, f_del, f_batch;
	int st;

	*sink = NULL;
	if (!KSINK_HOST_HAS(host, connector_name)) {
		ks_err_set(errbuf, errlen, "the daemon's host table is too "
		    "old for the postgres sink");
		return KSINK_FATAL;
	}
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	pg->host = host;
	pg->ctx = ctx;
	ks_offcache_init(&pg->parts, sizeof(struct part));
	s = host->connector_name(ctx);
	pg->connector = strdup(s ? s : "");
	s = host->conf_str(ctx, "postgres.offsets.table");
	pg->offtab = strdup(s ? s : "ksink_offsets");
	if ((s = host->conf_str(ctx, "postgres.conninfo")) != NULL)
		pg->conninfo = strdup(s);
	if (pg->connector == NULL || pg->offtab == NULL ||
	    (s != NULL && pg->conninfo == NULL)) {
		ks_err_set(errbuf, errlen, "out of memory");
		st = KSINK_FATAL;
		goto fail;
	}
	if (!pg_stmt_valid_table(pg->offtab)) {
		ks_err_set(errbuf, errlen, "postgres.offsets.table: not a "
		    "table name");
		st = KSINK_CONFIG;
		goto fail;
	}
	pg->connect_ms = host->conf_int(ctx, "postgres.connect.timeout.ms");
	pg->stmt_ms = host->conf_int(ctx, "postgres.statement.timeout.ms");
	pg->idle_ms = host->conf_int(ctx, "postgres.idle.timeout.ms");
	pg->lock_ms = host->conf_int(ctx, "postgres.lock.timeout.ms");
	if (offsets_sql(pg) == -1) {
		ks_err_set(errbuf, errlen, "out of memory");
		st = KSINK_FATAL;
		goto fail;
	}

	if ((st = ks_sqltext_option(host, ctx, "postgres.init", 1, &init,
	    &init_buf, &f_init, errbuf, errlen)) != KSINK_OK ||
	    (st = ks_sqltext_option(host, ctx, "postgres.statement", 1, &stmt,
	    &stmt_buf, &f_stmt, errbuf, errlen)) != KSINK_OK ||
	    (st = ks_sqltext_option(host, ctx, "postgres.delete.statement", 1,
	    &del, &del_buf, &f_del, errbuf, errlen)) != KSINK_OK ||
	    (st = ks_sqltext_option(host, ctx, "postgres.batch.statement", 1,
	    &batch, &batch_buf, &f_batch, errbuf, errlen)) != KSINK_OK)
		goto fail;
	/* Where each text came from, for messages for as long as the sink
	 * lives (the statement sets keep the name). */
	u_init = f_init ? "postgres.init.file" : "postgres.init";
	u_stmt = f_stmt ? "postgres.statement.file" : "postgres.statement";
	u_del = f_del ? "postgres.delete.statement.file" :
	    "postgres.delete.statement";
	u_batch = f_batch ? "postgres.batch.statement.file" :
	    "postgres.batch.statement";
	if (ks_mapping_wanted(host, ctx, "postgres")) {
		if (stmt != NULL || del != NULL || batch != NULL) {
			ks_err_set(errbuf, errlen, "%s: %s", stmt ? u_stmt :
			    del ? u_del : u_batch, mapping_conflict);
			st = KSINK_CONFIG;
			goto fail;
		}
		if ((st = map_open(pg, errbuf, errlen)) != KSINK_OK)
			goto fail;
	} else if (batch != NULL) {
		if (stmt != NULL || del != NULL) {
			ks_err_set(errbuf, errlen, "%s is set together with "
			    "%s: keep one or the other", u_batch, stmt ?
			    u_stmt : u_del);
			st = KSINK_CONFIG;
			goto fail;
		}
		if ((st = batch_open(pg, batch, u_batch, errbuf, errlen)) !=
		    KSINK_OK)
			goto fail;
	} else if ((st = load_set(pg, &pg->main, u_stmt, stmt ? stmt :
	    default_statement, "s", errbuf, errlen)) != KSINK_OK)
		goto fail;
	if (del && (st = load_set(pg, &pg->del, u_del, del, "d", errbuf,
	    errlen)) != KSINK_OK)
		goto fail;

	/* Connect: ensure_conn() runs pg_setup() on the first connection,
	 * then prepares the statements, as on every new connection.  A
	 * server that cannot be reached yet is not an error at start: the
	 * worker connects when it needs the server, retrying with back-off
	 * (load_offsets() and begin() are RETRY until then); a refused login
	 * or a missing database is (CONFIG). */
	if (init && (pg->init = strdup(init)) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		st = KSINK_FATAL;
		goto fail;
	}
	pg->init_what = u_init;
	pg->default_table = stmt == NULL && pg->map == NULL && pg->bt == NULL;
	pg->need_setup = 1;
	if ((st = ensure_conn(pg, errbuf, errlen)) == KSINK_RETRY) {
		host->log(ctx, KSINK_LOG_WARN, "PostgreSQL cannot be reached "
		    "yet (%s); the connector connects when it needs it, "
		    "retrying with back-off", errbuf);
		st = KSINK_OK;
	}
	else if (st == KSINK_OK && pg->map != NULL)
		st = map_tables_exist(pg, errbuf, errlen);
	if (st != KSINK_OK)
		goto fail;
	free(init_buf);
	free(stmt_buf);
	free(del_buf);
	free(batch_buf);
	*sink = pg;
	return KSINK_OK;
fail:
	free(init_buf);
	free(stmt_buf);
	free(del_buf);
	free(batch_buf);
	pg_close(pg);
	return st;
}
