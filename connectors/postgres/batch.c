/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/batch.c - postgres.batch.statement: SQL that applies
 * a whole batch at once, set-based.  Each batch's records are copied
 * (copy.c's COPY text writer and copy_send()) into the session's
 * temporary table
 *
 *	pg_temp.ksink_batch(topic, partition, offset, timestamp, key, value,
 *	    headers, seq)
 *
 * created on every connection with ON COMMIT DELETE ROWS, then the user's
 * statements run once on it, in the batch's transaction, before its
 * offsets are stored: the atomic step and the fence are postgres.c's and
 * offsets.c's, unchanged.
 *
 * A poison record, a data error of the statements (a SQLSTATE the sink
 * classes as poison, conn.c), is found by bisection: the batch is rolled
 * back to its savepoint and applied again in runs, each staged again
 * under a savepoint of its own; a run that fails is undone and halved, one
 * that passes is kept, until a run of one record fails.  That record goes
 * to the worker's error policy with the server's message, and the records
 * before it stay applied; the worker gives the rest to write() again.
 * The search is bisect.c's: about 2 log2(n) runs of halving sizes for a
 * poison record in a batch of n records.  A failure that no single record
 * causes (a sum that overflows only over the whole batch) ends with the
 * batch applied in smaller runs.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "bisect.h"
#include "postgres.h"

struct batch {
	char *sql;		/* the statements, as given */
	struct pg_stmt_list l;	/* and one by one, to check them */
	const char *option;	/* where the text came from */
	size_t *line;		/* the record of each staged line */
	size_t cap;
	int logged;
};

#define BATCH_TABLE "pg_temp.ksink_batch"

static const char stage_sql[] =
    "DROP TABLE IF EXISTS " BATCH_TABLE "; "
    "CREATE TEMP TABLE ksink_batch(topic text NOT NULL, "
    "\"partition\" integer NOT NULL, \"offset\" bigint NOT NULL, "
    "\"timestamp\" timestamptz, key bytea, value bytea, headers jsonb, "
    "seq bigint NOT NULL) ON COMMIT DELETE ROWS";

static const char copy_sql[] = "COPY " BATCH_TABLE " (topic, \"partition\", "
    "\"offset\", \"timestamp\", key, value, headers, seq) FROM STDIN";

/* The type each field is staged as: the column's. */
static const Oid stage_types[PG_F_COUNT] = {
	[PG_F_TOPIC] = OID_TEXT,
	[PG_F_TIMESTAMP] = OID_TIMESTAMPTZ,
	[PG_F_KEY] = OID_BYTEA,
	[PG_F_VALUE] = OID_BYTEA,
	[PG_F_HEADERS] = OID_TEXT,
};

int
batch_open(struct pg *pg, const char *sql, const char *option, char *errbuf,
    size_t errlen)
{
	struct batch *bt;
	char ebuf[512];

	if ((bt = calloc(1, sizeof(*bt))) == NULL ||
	    (bt->sql = strdup(sql)) == NULL) {
		free(bt);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	pg->bt = bt;
	bt->option = option;
	if (batch_parse(sql, &bt->l, ebuf, sizeof(ebuf)) == -1) {
		ks_err_set(errbuf, errlen, "%s: %s", option, ebuf);
		return KSINK_CONFIG;
	}
	return KSINK_OK;
}

/*
 * Parses the batch statements: several statements, none controlling the
 * transaction, and no parameter (the records are in the staging table).
 */
int
batch_parse(const char *sql, struct pg_stmt_list *l, char *errbuf,
    size_t errlen)
{
	int i;

	if (pg_stmt_parse(sql, l, errbuf, errlen) == -1)
		return -1;
	for (i = 0; i < l->n; i++)
		if (l->v[i].nparams > 0) {
			ks_err_set(errbuf, errlen, "statement %d takes the "
			    "record parameter :%s; a batch statement takes "
			    "none: it reads the batch's records from the "
			    "table " BATCH_TABLE " (topic, partition, offset, "
			    "timestamp, key, value, headers, seq; see "
			    "ksink-postgres(7))", i + 1,
			    pg_field_names[l->v[i].field[0]]);
			pg_stmt_free(l);
			return -1;
		}
	return 0;
}

void
batch_free(struct pg *pg)
{
	struct batch *bt = pg->bt;

	if (bt == NULL)
		return;
	pg_stmt_free(&bt->l);
	free(bt->sql);
	free(bt->line);
	free(bt);
	pg->bt = NULL;
}

/*
 * On every new connection: the staging table, and each statement checked
 * by the server (prepared, never run), so that a mistake in the SQL stops
 * the connector at start rather than at its first batch.
 */
int
batch_setup(struct pg *pg, char *errbuf, size_t errlen)
{
	struct batch *bt = pg->bt;
	PGresult *res;
	char what[96];
	int i, st;

	if ((st = exec_simple(pg, stage_sql, "creating the table "
	    BATCH_TABLE, errbuf, errlen)) != KSINK_OK)
		return st == KSINK_POISON ? KSINK_FATAL : st;
	for (i = 0; i < bt->l.n; i++) {
		snprintf(what, sizeof(what), "%s, statement %d", bt->option,
		    i + 1);
		res = PQprepare(pg->conn, "", bt->l.v[i].sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			st = result_error(pg, res, bt->l.n > 1 ? what :
			    bt->option, errbuf, errlen);
			PQclear(res);
			return st == KSINK_POISON ? KSINK_CONFIG : st;
		}
		PQclear(res);
	}
	if (!bt->logged)
		pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s: each batch copied "
		    "into " BATCH_TABLE ", then %d statement%s run on it",
		    bt->option, bt->l.n, bt->l.n > 1 ? "s" : "");
	bt->logged = 1;
	return KSINK_OK;
}

/*
 * Stages records[from, to) that this transaction applies and runs the
 * statements once on them.  Returns KSINK_OK with the partitions' next
 * offsets moved past them, or the failure; *exact when the record *bad
 * cannot even be staged (nothing was run).
 */
static int
run(struct pg *pg, const struct ksink_record *records, size_t from,
    size_t to, size_t *bad, int *exact, char *errbuf, size_t errlen)
{
	struct batch *bt = pg->bt;
	const struct ksink_record *r;
	struct ks_buf *b = &pg->copy;
	PGresult *res;
	size_t i, n = 0, line_no;
	int f, rs, st;

	*bad = from;
	*exact = 0;
	ks_buf_reset(b);
	for (i = from; i < to; i++) {
		r = &records[i];
		if (record_part(pg, r) == NULL)
			continue;
		if (n == bt->cap) {
			size_t *nl, cap = bt->cap ? bt->cap * 2 : 1024;

			if ((nl = realloc(bt->line, cap * sizeof(*nl))) ==
			    NULL)
				goto oom;
			bt->line = nl;
			bt->cap = cap;
		}
		bt->line[n++] = i;
		for (f = 0; f < PG_F_COUNT; f++) {
			if ((rs = copy_field(pg, b, f, stage_types[f], r,
			    errbuf, errlen)) == -1)
				goto oom;
			if (rs == 0) {
				*bad = i;
				*exact = 1;
				return KSINK_POISON;
			}
			ks_buf_addc(b, '\t');
		}
		ks_buf_addi64(b, (int64_t)n);
		ks_buf_addc(b, '\n');
		if (b->oom)
			goto oom;
	}
	if (n == 0)
		return KSINK_OK;
	/* Rows of an earlier run of this transaction: the commit would
	 * have emptied the table. */
	if (pg->staged && (st = exec_simple(pg, "DELETE FROM " BATCH_TABLE,
	    "emptying " BATCH_TABLE, errbuf, errlen)) != KSINK_OK)
		return st == KSINK_POISON ? KSINK_FATAL : st;
	pg->staged = 1;
	st = copy_send(pg, copy_sql, "COPY into " BATCH_TABLE, b, &line_no,
	    errbuf, errlen);
	if (st != KSINK_OK) {
		if (st == KSINK_POISON && line_no >= 1 && line_no <= n) {
			*bad = bt->line[line_no - 1];
			*exact = 1;
		}
		return st;
	}
	res = PQexec(pg->conn, bt->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = result_error(pg, res, bt->option, errbuf, errlen);
		if (strstr(errbuf, "(SQLSTATE 21000)") != NULL)
			ks_err_append(errbuf, errlen, "; the batch holds "
			    "several records of one key: keep one per key "
			    "(DISTINCT ON ... ORDER BY seq DESC) or aggregate "
			    "them (GROUP BY)");
	} else
		st = KSINK_OK;
	PQclear(res);
	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
		disconnect(pg);
		return KSINK_RETRY;
	}
	if (st != KSINK_OK)
		return st;
	for (i = 0; i < n; i++) {
		r = &records[bt->line[i]];
		part_find(pg, r->topic, r->partition)->txn_next =
		    r->offset + 1;
	}
	return KSINK_OK;
oom:
	ks_err_set(errbuf, errlen, "out of memory");
	return KSINK_FATAL;
}

/* Runs sql, which controls a savepoint: its failure is not a record's. */
static int
savepoint(struct pg *pg, const char *sql, char *errbuf, size_t errlen)
{
	int st;

	st = exec_simple(pg, sql, "SAVEPOINT", errbuf, errlen);
	if (st == KSINK_RETRY && pg->conn && PQstatus(pg->conn) !=
	    CONNECTION_OK)
		disconnect(pg);
	return st == KSINK_POISON ? KSINK_FATAL : st;
}

/* What pg_bisect()'s runs share. */
struct search {
	struct pg *pg;
	const struct ksink_record *records;
	char *errbuf;
	size_t errlen;
	char exact[512];	/* why the record that cannot be staged */
	char one[512];		/* why the last run of one record failed */
};

/* A run of the search, under a savepoint of its own (bisect.h). */
static int
attempt(void *arg, size_t lo, size_t hi, size_t *exact)
{
	struct search *s = arg;
	size_t b;
	int st, ex;

	if ((st = savepoint(s->pg, "SAVEPOINT ksink_bisect", s->errbuf,
	    s->errlen)) != KSINK_OK)
		return st;
	st = run(s->pg, s->records, lo, hi, &b, &ex, s->errbuf, s->errlen);
	if (st == KSINK_OK)
		return savepoint(s->pg, "RELEASE ksink_bisect", s->errbuf,
		    s->errlen);
	if (st != KSINK_POISON)
		return st;
	if (ex) {
		*exact = b;
		snprintf(s->exact, sizeof(s->exact), "%s", s->errbuf);
	} else if (hi - lo == 1)
		snprintf(s->one, sizeof(s->one), "%s", s->errbuf);
	if ((st = savepoint(s->pg, "ROLLBACK TO SAVEPOINT ksink_bisect; "
	    "RELEASE ksink_bisect", s->errbuf, s->errlen)) != KSINK_OK)
		return st;
	return KSINK_POISON;
}

/*
 * Applies records[0, count) inside the open transaction, after the
 * records' savepoint (pg_write()).  Returns KSINK_OK; KSINK_POISON with
 * records[0, *bad) applied, record *bad the one that fails and the
 * transaction usable; or another failure, the transaction to roll back.
 */
int
batch_apply(struct pg *pg, const struct ksink_record *records, size_t count,
    size_t *bad, char *errbuf, size_t errlen)
{
	struct search s = { pg, records, errbuf, errlen, "", "" };
	size_t i, known = SIZE_MAX;
	int st, exact;

	st = run(pg, records, 0, count, bad, &exact, errbuf, errlen);
	if (st != KSINK_POISON)
		return st;
	pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s; looking for the record "
	    "by bisecting the batch of %zu records", errbuf, count);
	if (exact) {
		known = *bad;
		snprintf(s.exact, sizeof(s.exact), "%s", errbuf);
	}
	if ((st = savepoint(pg, "ROLLBACK TO SAVEPOINT ksink_records",
	    errbuf, errlen)) != KSINK_OK)
		return st;
	for (i = 0; i < pg->parts.n; i++)
		part_at(pg, i)->txn_next = part_at(pg, i)->sp_next;
	st = pg_bisect(count, known, attempt, &s, bad, &exact);
	if (st == KSINK_POISON)
		ks_err_set(errbuf, errlen, "%s", exact ? s.exact : s.one);
	return st;
}
