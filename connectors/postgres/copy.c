/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/copy.c - a batch's records through COPY ... FROM STDIN
 * when postgres.statement is one plain insert or upsert (classify.c) into
 * a plain table, the default table included:
 *
 *	plain insert	COPY tbl (cols) FROM STDIN
 *	upsert		COPY pg_temp.ksink_stage (cols, ksink_seq) FROM STDIN;
 *			INSERT INTO tbl (cols) SELECT the last record of each
 *			key ... ON CONFLICT (keys) DO UPDATE SET ...
 *	DO NOTHING	the same, every record in order, ON CONFLICT DO NOTHING
 *
 * On every new connection the server confirms what the text alone cannot
 * tell: the table is a plain or partitioned table without triggers, rules
 * or row security, and every column's type is its parameter's (a cast
 * that is not to the column's own type would convert differently), and
 * the staging table is created (ON COMMIT DELETE ROWS).  Anything else
 * goes through the pipeline of prepared statements (rows.c), and so does a
 * batch holding a tombstone when postgres.delete.statement is set, and a
 * batch whose COPY fails in a way no COPY line tells: the pipeline then
 * finds the record.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/utf8.h"
#include "postgres.h"

struct copy {
	struct pg_copy_plan plan;
	char why[256];		/* why not COPY, on this connection */
	char what[192];		/* "COPY into tbl", for messages */
	const PGconn *conn;	/* the connection COPY is ready on */
	Oid *types;		/* of each column */
	char *copy_sql;		/* COPY ... FROM STDIN */
	char *stage_sql;	/* creates the staging table */
	char *apply_sql;	/* from the staging table into the table */
	int64_t seq;		/* of the next staged record */
	int logged;		/* the path last logged: -1, 0 pipeline, 1 */
	size_t *line;		/* the record of each COPY line */
	size_t cap;
};

/* Appends n bytes as a field of COPY's text format. */
static void
copy_text(struct ks_buf *b, const unsigned char *d, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (d[i] != '\\' && d[i] != '\n' && d[i] != '\r' &&
		    d[i] != '\t')
			continue;
		ks_buf_add(b, d + run, i - run);
		ks_buf_addc(b, '\\');
		ks_buf_addc(b, d[i] == '\n' ? 'n' : d[i] == '\r' ? 'r' :
		    d[i] == '\t' ? 't' : '\\');
		run = i + 1;
	}
	ks_buf_add(b, d + run, n - run);
}

/* Appends n bytes as a bytea field of COPY's text format: \\x and hex. */
static void
copy_bytea(struct ks_buf *b, const unsigned char *d, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	char *o;

	ks_buf_add(b, "\\\\x", 3);
	if (ks_buf_reserve(b, 2 * n) == -1)
		return;
	o = b->p + b->len;
	for (i = 0; i < n; i++) {
		*o++ = hex[d[i] >> 4];
		*o++ = hex[d[i] & 15];
	}
	b->len += 2 * n;
	b->p[b->len] = '\0';
}

/*
 * Appends field f of r as a COPY field for a column of type t: the text
 * the pipeline would send for a parameter of that type (rows.c), which
 * the column's input function reads the same way.  Returns 1, 0 when the
 * record is poison (errbuf says why), -1 when out of memory.
 */
int
copy_field(struct pg *pg, struct ks_buf *b, int f, Oid t,
    const struct ksink_record *r, char *errbuf, size_t errlen)
{
	char num[48];
	const void *d;
	size_t n;
	int rs;

	switch (f) {
	case PG_F_TOPIC:
		copy_text(b, (const unsigned char *)r->topic,
		    strlen(r->topic));
		return 1;
	case PG_F_PARTITION:
		ks_buf_addi64(b, r->partition);
		return 1;
	case PG_F_OFFSET:
		ks_buf_addi64(b, r->offset);
		return 1;
	case PG_F_TIMESTAMP:
		if (r->timestamp < 0)
			ks_buf_adds(b, "\\N");
		else if (t == OID_TIMESTAMPTZ || t == OID_TIMESTAMP) {
			fmt_timestamp(r->timestamp, num, sizeof(num));
			ks_buf_adds(b, num);
		} else
			ks_buf_addi64(b, r->timestamp);
		return 1;
	}
	if ((rs = field_bytes(pg, f, r, &d, &n)) != 1) {
		ks_buf_adds(b, "\\N");
		return rs == 0 ? 1 : -1;
	}
	if (n > INT32_MAX) {
		ks_err_set(errbuf, errlen, "the %s is larger than 2 GiB",
		    pg_field_names[f]);
		return 0;
	}
	if (t == OID_BYTEA) {
		copy_bytea(b, d, n);
		return 1;
	}
	if (f != PG_F_HEADERS && !ks_utf8_check(d, n, 0)) {
		ks_err_set(errbuf, errlen, "%s: the %s is not valid UTF-8 "
		    "text (or holds a NUL byte), and :%s is not a bytea "
		    "parameter", pg->main.option, pg_field_names[f],
		    pg_field_names[f]);
		return 0;
	}
	copy_text(b, d, n);
	return 1;
}

static char *
buf_take(struct ks_buf *b)
{
	char *s;

	ks_buf_addc(b, '\0');
	if (b->oom) {
		ks_buf_free(b);
		return NULL;
	}
	s = b->p;
	memset(b, 0, sizeof(*b));
	return s;
}

static void
add_list(struct ks_buf *b, char **v, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		if (i > 0)
			ks_buf_adds(b, ", ");
		ks_buf_adds(b, v[i]);
	}
}

/* The SQL of a plan, from the statement's own table and column texts. */
static int
build_sql(struct copy *c)
{
	struct pg_copy_plan *cp = &c->plan;
	struct ks_buf b = { 0 }, nulls = { 0 };
	int i;

	if (cp->kind == PG_COPY_INSERT) {
		ks_buf_addf(&b, "COPY %s (", cp->table);
		add_list(&b, cp->cols, cp->ncols);
		ks_buf_adds(&b, ") FROM STDIN");
		return (c->copy_sql = buf_take(&b)) == NULL ? -1 : 0;
	}
	ks_buf_adds(&b, "COPY pg_temp.ksink_stage (");
	add_list(&b, cp->cols, cp->ncols);
	ks_buf_adds(&b, ", ksink_seq) FROM STDIN");
	if ((c->copy_sql = buf_take(&b)) == NULL)
		return -1;
	ks_buf_adds(&b, "DROP TABLE IF EXISTS pg_temp.ksink_stage; "
	    "CREATE TEMP TABLE ksink_stage ON COMMIT DELETE ROWS AS SELECT ");
	add_list(&b, cp->cols, cp->ncols);
	ks_buf_addf(&b, ", 0::bigint AS ksink_seq FROM %s WITH NO DATA",
	    cp->table);
	if ((c->stage_sql = buf_take(&b)) == NULL)
		return -1;
	ks_buf_addf(&b, "INSERT INTO %s (", cp->table);
	add_list(&b, cp->cols, cp->ncols);
	ks_buf_adds(&b, ") SELECT ");
	add_list(&b, cp->cols, cp->ncols);
	if (cp->kind == PG_COPY_NOTHING) {
		/* Every record, in order: the first of a key wins. */
		ks_buf_addf(&b, " FROM pg_temp.ksink_stage WHERE ksink_seq >= "
		    "$1::bigint ORDER BY ksink_seq %s", cp->tail);
		return (c->apply_sql = buf_take(&b)) == NULL ? -1 : 0;
	}
	/* The last record of each key; a key with a NULL never conflicts,
	 * so each such record is kept. */
	ks_buf_adds(&nulls, "(CASE WHEN ");
	for (i = 0; i < cp->nkeys; i++)
		ks_buf_addf(&nulls, "%s%s IS NULL", i ? " OR " : "",
		    cp->keytexts[i]);
	ks_buf_adds(&nulls, " THEN ksink_seq END)");
	ks_buf_addc(&nulls, '\0');
	ks_buf_adds(&b, " FROM (SELECT DISTINCT ON (");
	add_list(&b, cp->keytexts, cp->nkeys);
	ks_buf_addf(&b, ", %s) * FROM pg_temp.ksink_stage WHERE ksink_seq >= "
	    "$1::bigint ORDER BY ", nulls.oom ? "" : nulls.p);
	add_list(&b, cp->keytexts, cp->nkeys);
	ks_buf_addf(&b, ", %s, ksink_seq DESC) AS ksink_s %s",
	    nulls.oom ? "" : nulls.p, cp->tail);
	if (nulls.oom)
		b.oom = 1;
	ks_buf_free(&nulls);
	return (c->apply_sql = buf_take(&b)) == NULL ? -1 : 0;
}

/* A text[] literal of the columns' names. */
static void
names_array(struct ks_buf *b, char **v, int n)
{
	const char *s;
	int i;

	ks_buf_addc(b, '{');
	for (i = 0; i < n; i++) {
		ks_buf_adds(b, i ? ",\"" : "\"");
		for (s = v[i]; *s; s++) {
			if (*s == '"' || *s == '\\')
				ks_buf_addc(b, '\\');
			ks_buf_addc(b, *s);
		}
		ks_buf_addc(b, '"');
	}
	ks_buf_adds(b, "}");
	ks_buf_addc(b, '\0');
}

static const char check_sql[] =
    "SELECT c.relkind IN ('r', 'p') AND NOT EXISTS (SELECT 1 FROM "
    "pg_partition_tree(c.oid) t JOIN pg_class k ON k.oid = t.relid WHERE "
    "k.relhasrules OR k.relrowsecurity OR k.relkind NOT IN ('r', 'p') OR "
    "EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = k.oid AND NOT "
    "g.tgisinternal)), (SELECT string_agg(coalesce(a.atttypid, 0)::text, "
    "',' ORDER BY n.i) FROM unnest($2::text[]) WITH ORDINALITY AS "
    "n(name, i) LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND "
    "a.attname = n.name AND a.attnum > 0 AND NOT a.attisdropped) "
    "FROM pg_class c WHERE c.oid = $1::regclass";

/*
 * Asks the server whether COPY into the plan's table does what the
 * statement does, and creates the staging table.  Returns KSINK_OK with
 * c->conn set, or with c->why saying why not; KSINK_RETRY when the
 * connection was lost.
 */
static int
check_table(struct pg *pg, struct copy *c, char *errbuf, size_t errlen)
{
	struct pg_copy_plan *cp = &c->plan;
	struct pstmt *s = &pg->main.v[0];
	struct ks_buf names = { 0 };
	PGresult *res;
	const char *v[2], *p;
	char *e;
	int i, st, ok;

	names_array(&names, cp->names, cp->ncols);
	if (names.oom) {
		snprintf(c->why, sizeof(c->why), "out of memory");
		return KSINK_OK;
	}
	v[0] = cp->table;
	v[1] = names.p;
	res = PQexecParams(pg->conn, check_sql, 2, NULL, v, NULL, NULL, 0);
	ks_buf_free(&names);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		st = result_error(pg, res, "reading the table's columns",
		    c->why, sizeof(c->why));
		PQclear(res);
		if (st == KSINK_RETRY)
			return result_error(pg, NULL, "reading the table's "
			    "columns", errbuf, errlen);
		return KSINK_OK;
	}
	ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	p = PQgetvalue(res, 0, 1);
	for (i = 0; ok && i < cp->ncols; i++) {
		c->types[i] = (Oid)strtoul(p, &e, 10);
		if (c->types[i] == 0 || c->types[i] != s->types[cp->param[i]]) {
			snprintf(c->why, sizeof(c->why), "the column %s is not "
			    "of its parameter's type (cast to another type)",
			    cp->cols[i]);
			PQclear(res);
			return KSINK_OK;
		}
		p = *e == ',' ? e + 1 : e;
	}
	PQclear(res);
	if (!ok) {
		snprintf(c->why, sizeof(c->why), "%s is not a plain table, or "
		    "it has triggers, rules or row security", cp->table);
		return KSINK_OK;
	}
	if (cp->kind == PG_COPY_INSERT) {
		c->conn = pg->conn;
		return KSINK_OK;
	}
	if ((st = exec_simple(pg, c->stage_sql, "creating the staging table",
	    c->why, sizeof(c->why))) != KSINK_OK) {
		if (st == KSINK_RETRY)
			return result_error(pg, NULL, "creating the staging "
			    "table", errbuf, errlen);
		return KSINK_OK;
	}
	res = PQprepare(pg->conn, "ksink_stage_apply", c->apply_sql, 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		st = result_error(pg, res, "preparing the staging table's "
		    "INSERT", c->why, sizeof(c->why));
		PQclear(res);
		if (st == KSINK_RETRY)
			return result_error(pg, NULL, "preparing the staging "
			    "table's INSERT", errbuf, errlen);
		return KSINK_OK;
	}
	PQclear(res);
	c->conn = pg->conn;
	return KSINK_OK;
}

/* Which path the statement takes, logged at the first connection and
 * whenever it changes. */
static void
log_path(struct pg *pg, struct copy *c)
{
	static const char *const how[] = {
		"",
		"a plain insert: each batch in one COPY",
		"a plain upsert: each batch through COPY into a staging table "
		    "and one INSERT ... SELECT ... ON CONFLICT DO UPDATE; "
		    "the last record of a key in a batch wins",
		"an insert ... ON CONFLICT DO NOTHING: each batch through COPY "
		    "into a staging table and one INSERT ... SELECT; the "
		    "first record of a key wins"
	};
	int path = c->conn != NULL;

	if (c->logged == path)
		return;
	c->logged = path;
	if (path)
		pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s%s into %s: %s%s",
		    pg->main.option, pg->default_table ? " (unset)" : "",
		    c->plan.table, how[c->plan.kind], pg->del.n > 0 ? "; a "
		    "batch with a tombstone goes through the prepared "
		    "statements" : "");
	else
		pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s: each record through "
		    "its prepared statements, pipelined (not COPY: %s)",
		    pg->main.option, c->why);
}

int
copy_setup(struct pg *pg, char *errbuf, size_t errlen)
{
	struct copy *c = pg->cp;
	int st;

	if (c == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL) {
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		pg->cp = c;
		c->logged = -1;
		c->seq = 1;
		if (pg->main.n != 1)
			snprintf(c->why, sizeof(c->why), "%d statements",
			    pg->main.n);
		else if (pg_copy_classify(&pg->main.v[0].t, &c->plan) == -1)
			snprintf(c->why, sizeof(c->why), "%s",
			    c->plan.reason);
		else if ((c->types = calloc((size_t)c->plan.ncols,
		    sizeof(*c->types))) == NULL || build_sql(c) == -1) {
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		} else
			snprintf(c->what, sizeof(c->what), "%s: COPY into %s%s",
			    pg->main.option, c->plan.kind == PG_COPY_INSERT ?
			    "" : "the staging table of ", c->plan.table);
	}
	c->conn = NULL;
	if (c->plan.kind != PG_COPY_NONE &&
	    (st = check_table(pg, c, errbuf, errlen)) != KSINK_OK)
		return st;
	log_path(pg, c);
	return KSINK_OK;
}

void
copy_free(struct pg *pg)
{
	struct copy *c = pg->cp;

	if (c == NULL)
		return;
	pg_copy_plan_free(&c->plan);
	free(c->types);
	free(c->copy_sql);
	free(c->stage_sql);
	free(c->apply_sql);
	free(c->line);
	free(c);
	pg->cp = NULL;
}

/*
 * The line of COPY's data that failed, from the error's context: its line
 * "COPY tbl, line N[, column c: ...]", which may follow lines of the type's
 * own ("JSON data, line 1: ...").  0 when none says.
 */
static size_t
copy_line(const char *ctx)
{
	const char *l, *e, *s;

	for (l = ctx; l != NULL && *l; l = e ? e + 1 : NULL) {
		e = strchr(l, '\n');
		if (strncmp(l, "COPY ", 5) == 0 &&
		    (s = strstr(l, ", line ")) != NULL && (e == NULL || s < e))
			return strtoul(s + 7, NULL, 10);
	}
	return 0;
}

/*
 * Sends b, lines of COPY's text format, through sql (a COPY ... FROM
 * STDIN) on the open transaction.  Returns KSINK_OK or the failure, with
 * *line_no the line (from 1) the server's error names, 0 when none does;
 * a lost connection is KSINK_RETRY, disconnected.  copy_batch() and the
 * batch statement's staging (batch.c) send their data through it.
 */
int
copy_send(struct pg *pg, const char *sql, const char *what, struct ks_buf *b,
    size_t *line_no, char *errbuf, size_t errlen)
{
	PGresult *res, *extra;
	const char *ctx;
	size_t off, n;
	int st = KSINK_OK;

	*line_no = 0;
	res = PQexec(pg->conn, sql);
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		st = result_error(pg, res, what, errbuf, errlen);
		PQclear(res);
		if (pg->conn && PQstatus(pg->conn) != CONNECTION_OK)
			disconnect(pg);
		return st;
	}
	PQclear(res);
	for (off = 0; off < b->len && st == KSINK_OK; off += n) {
		n = b->len - off < (1 << 20) ? b->len - off : 1 << 20;
		if (PQputCopyData(pg->conn, b->p + off, (int)n) != 1)
			st = KSINK_RETRY;
	}
	if (st != KSINK_OK || PQputCopyEnd(pg->conn, NULL) != 1)
		goto lost;
	res = PQgetResult(pg->conn);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		st = result_error(pg, res, what, errbuf, errlen);
		ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
		if (st == KSINK_POISON && ctx)
			*line_no = copy_line(ctx);
	}
	PQclear(res);
	while ((extra = PQgetResult(pg->conn)) != NULL)
		PQclear(extra);
	if (PQstatus(pg->conn) != CONNECTION_OK)
		goto lost;
	return st;
lost:
	result_error(pg, NULL, what, errbuf, errlen);
	disconnect(pg);
	return KSINK_RETRY;
}

/*
 * records[from, to) through COPY.  Returns as run_records(); *exact says
 * that a failure is the record *bad's own (a COPY line, or data that
 * cannot be sent), not one only the pipeline can trace.
 */
static int
copy_batch(struct pg *pg, struct copy *c, const struct ksink_record *records,
    size_t from, size_t to, size_t *bad, int *exact, char *errbuf,
    size_t errlen)
{
	const struct ksink_record *r;
	struct ks_buf *b = &pg->copy;
	struct part *p;
	PGresult *res;
	size_t i, nlines = 0, line_no;
	const char *v[1];
	char lo[24];
	int k, rs, st = KSINK_OK, staged = c->plan.kind != PG_COPY_INSERT;

	*bad = from;
	*exact = 0;
	snprintf(lo, sizeof(lo), "%" PRId64, c->seq);
	ks_buf_reset(b);
	for (i = from; i < to; i++) {
		r = &records[i];
		if ((p = record_part(pg, r)) == NULL)
			continue;
		if (nlines == c->cap) {
			size_t *nl, cap = c->cap ? c->cap * 2 : 1024;

			if ((nl = realloc(c->line, cap * sizeof(*nl))) == NULL)
				goto oom;
			c->line = nl;
			c->cap = cap;
		}
		c->line[nlines++] = i;
		for (k = 0; k < c->plan.ncols; k++) {
			if (k > 0)
				ks_buf_addc(b, '\t');
			if ((rs = copy_field(pg, b, pg->main.v[0].t.field[
			    c->plan.param[k]], c->types[k], r, errbuf,
			    errlen)) == -1)
				goto oom;
			if (rs == 0) {
				/* Nothing was sent: the worker skips it and
				 * the records before it go again. */
				*bad = i;
				*exact = 1;
				return KSINK_POISON;
			}
		}
		if (staged) {
			ks_buf_addc(b, '\t');
			ks_buf_addi64(b, c->seq++);
		}
		ks_buf_addc(b, '\n');
		if (b->oom)
			goto oom;
		p->txn_next = r->offset + 1;
	}
	if (nlines == 0)
		return KSINK_OK;
	st = copy_send(pg, c->copy_sql, c->what, b, &line_no, errbuf, errlen);
	if (st == KSINK_POISON && !staged && line_no >= 1 &&
	    line_no <= nlines) {
		*bad = c->line[line_no - 1];
		*exact = 1;
	}
	if (st != KSINK_OK || !staged)
		return st;
	v[0] = lo;
	res = PQexecPrepared(pg->conn, "ksink_stage_apply", 1, v, NULL, NULL,
	    0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		char what[256];

		/* No line tells which record: the pipeline will. */
		snprintf(what, sizeof(what), "%s: INSERT INTO %s ... SELECT "
		    "from the staging table", pg->main.option, c->plan.table);
		st = result_error(pg, res, what, errbuf, errlen);
	}
	PQclear(res);
	if (PQstatus(pg->conn) != CONNECTION_OK)
		goto lost;
	return st;
oom:
	ks_err_set(errbuf, errlen, "out of memory");
	*exact = 1;
	return KSINK_FATAL;
lost:
	result_error(pg, NULL, c->what, errbuf, errlen);
	disconnect(pg);
	return KSINK_RETRY;
}

/*
 * Applies records[from, to) inside the open transaction, after its
 * savepoint: through COPY where the statement allows it, else (or when
 * COPY fails in a way that no line of it tells) through the pipeline,
 * which finds the record that fails.  Returns as run_records().
 */
int
apply_records(struct pg *pg, const struct ksink_record *records,
    size_t from, size_t to, size_t *bad, char *errbuf, size_t errlen)
{
	struct copy *c = pg->cp;
	size_t i;
	int st, exact;

	if (c == NULL || c->conn == NULL || c->conn != pg->conn)
		return run_records(pg, records, from, to, bad, errbuf, errlen);
	if (pg->del.n > 0)
		for (i = from; i < to; i++)
			if (records[i].value == NULL)
				return run_records(pg, records, from, to, bad,
				    errbuf, errlen);
	st = copy_batch(pg, c, records, from, to, bad, &exact, errbuf,
	    errlen);
	if (st == KSINK_OK || st == KSINK_RETRY || exact)
		return st;
	pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s; the batch is applied "
	    "again through the prepared statements, which find the record",
	    errbuf);
	if ((st = exec_simple(pg, "ROLLBACK TO SAVEPOINT ksink_records",
	    "ROLLBACK TO SAVEPOINT", errbuf, errlen)) != KSINK_OK)
		return st == KSINK_POISON ? KSINK_FATAL : st;
	for (i = 0; i < pg->parts.n; i++)
		part_at(pg, i)->txn_next = part_at(pg, i)->sp_next;
	return run_records(pg, records, from, to, bad, errbuf, errlen);
}
