/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/map.c - the PostgreSQL sink's table mapping mode
 * (ksink-mapping(7)): each record becomes a row of a table, by the shared
 * mapping of connectors/lib/mapping.h, with no SQL from the user.
 *
 * Everything runs inside the batch's one transaction, after the offset
 * rows are locked and the fence checked (offsets.c), with the offsets:
 * the CREATE TABLE of auto.create and the ALTER TABLE ADD COLUMN of
 * auto.evolve too, since PostgreSQL's DDL is transactional.  DDL is run
 * under a transaction-level advisory lock keyed by the table's name, and
 * the table is read again from the catalogue once the lock is held, so
 * that two workers that create or widen the same table at once do it
 * one after the other (CREATE TABLE IF NOT EXISTS alone fails with 23505
 * in the second).
 *
 * What this file knows of the tables (their columns and types, read from
 * pg_attribute) is kept per connection, and forgotten on a new
 * connection, when a transaction or savepoint that ran DDL is rolled
 * back, and when a statement finds a table or column gone (42P01,
 * 42703: the batch is retried).  Each (table, columns) statement is
 * prepared once per connection, its parameters typed by the server from
 * the columns; the values are sent as text (a boolean as true or false,
 * a number as its JSON text, an object or array as its JSON text, a
 * string as itself or, for a json or jsonb column, as a JSON string; a
 * schema's decimal, date, time, timestamp and uuid as their ISO text,
 * which numeric, date, time, timestamptz and uuid read), except bytes,
 * sent in the binary format, which for bytea is the bytes themselves.
 * The rows are sent in the pipeline, cut into chunks each ended by a
 * Sync as rows.c does; COPY is not used.
 *
 * The rows of a write() are reduced first (mapreduce.c); a reduced write
 * whose statement fails on a poison record is rolled back to a savepoint
 * and its rows sent again one by one, in order, so that the first that
 * fails names the record exactly.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/mapping.h"
#include "mapcol.h"
#include "postgres.h"

/* Prepared statements kept at most; past it, the cache starts over. */
#define MAP_STMTS_MAX 256
/* The first key of the DDL's advisory lock ("ksma"); the second is the
 * hash of the table's name. */
#define MAP_LOCK "SELECT pg_advisory_xact_lock(1802726753, hashtext($1))"
/* The columns of a table and their types; no row: no such table. */
#define MAP_INFO "SELECT a.attname, format_type(a.atttypid, a.atttypmod) " \
	"FROM (SELECT to_regclass($1) AS r) t LEFT JOIN pg_attribute a " \
	"ON a.attrelid = t.r AND a.attnum > 0 AND NOT a.attisdropped " \
	"WHERE t.r IS NOT NULL ORDER BY a.attnum"

struct map_stmt {
	char *key;		/* ks_mapping_sql_key */
	char name[32];
};

struct map_sent {
	size_t stmt;		/* index in the cache */
	int sync;		/* the last of a chunk: a Sync follows */
};

struct pgmap {
	struct ks_mapping m;
	struct ks_mapping_rows rows;
	struct ks_mapping_tables tables;	/* known on this connection */
	struct ks_mapping_db db;
	struct map_stmt *stmts;		/* prepared on this connection */
	size_t nstmts;
	unsigned long gen;		/* of the statements' names */
	int dealloc;			/* stale statements on the server */
	int ddl;			/* DDL in the open transaction */
	struct ks_buf sql, name;
	struct ks_buf text;		/* strings re-encoded as JSON */
	const char **v;			/* the parameters of a row */
	int *lens, *fmts;		/* with bytes: their lengths, formats */
	size_t nv;
	struct map_sent *sent;		/* what each row sent */
	size_t nsent;
};

/* ---------------------------------------------------------------- */
/* The caches                                                        */

static void
stmts_free(struct pgmap *mp)
{
	size_t i;

	for (i = 0; i < mp->nstmts; i++)
		free(mp->stmts[i].key);
	free(mp->stmts);
	mp->stmts = NULL;
	mp->nstmts = 0;
}

/* Forgets the tables and the statements: they may name what a rollback
 * removed.  The statements stay on the server until the next prepare,
 * which deallocates them first (an aborted transaction takes nothing). */
static void
forget(struct pgmap *mp)
{
	ks_mapping_tables_free(&mp->tables);
	if (mp->nstmts > 0)
		mp->dealloc = 1;
	stmts_free(mp);
}

void
map_rolled_back(struct pg *pg)
{
	/* The flag stays until the transaction ends: what it made before
	 * the savepoint goes with a rollback of the transaction. */
	if (pg->map != NULL && pg->map->ddl)
		forget(pg->map);
}

void
map_txn_end(struct pg *pg, int committed)
{
	if (pg->map == NULL)
		return;
	if (!committed)
		map_rolled_back(pg);
	pg->map->ddl = 0;
}

void
map_disconnected(struct pg *pg)
{
	if (pg->map == NULL)
		return;
	ks_mapping_tables_free(&pg->map->tables);
	stmts_free(pg->map);
	pg->map->dealloc = 0;
}

void
map_close(struct pg *pg)
{
	struct pgmap *mp = pg->map;

	if (mp == NULL)
		return;
	ks_mapping_tables_free(&mp->tables);
	stmts_free(mp);
	ks_mapping_rows_free(&mp->rows);
	free(mp->v);
	free(mp->lens);
	free(mp->fmts);
	free(mp->sent);
	ks_mapping_free(&mp->m);
	ks_buf_free(&mp->sql);
	ks_buf_free(&mp->name);
	ks_buf_free(&mp->text);
	free(mp);
	pg->map = NULL;
}


static int
oom(char *errbuf, size_t errlen)
{
	ks_err_set(errbuf, errlen, "out of memory");
	return KSINK_FATAL;
}

/* The table's name as SQL, in mp->name. */
static const char *
table_sql(struct pgmap *mp, const char *table)
{
	ks_buf_reset(&mp->name);
	ks_mapping_table_ident(&mp->name, &mp->m, table);
	ks_buf_addc(&mp->name, '\0');
	return mp->name.oom ? NULL : mp->name.p;
}

/* db->read: the columns of t from the catalogue. */
static int
table_read(void *arg, struct ks_mapping_table *t, char *errbuf,
    size_t errlen)
{
	struct pg *pg = arg;
	PGresult *res;
	const char *v[1];
	char what[320];
	int i, st;

	if ((v[0] = table_sql(pg->map, t->name)) == NULL)
		return oom(errbuf, errlen);
	res = PQexecParams(pg->conn, MAP_INFO, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(what, sizeof(what), "reading the columns of table "
		    "\"%s\"", t->name);
		st = result_error(pg, res, what, errbuf, errlen);
		PQclear(res);
		return st == KSINK_POISON ? KSINK_FATAL : st;
	}
	for (i = 0; i < PQntuples(res); i++) {
		t->exists = 1;
		if (!PQgetisnull(res, i, 0) && ks_mapping_tcol_add(t,
		    KS_MAP_POSTGRES, PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1)) == -1) {
			PQclear(res);
			return oom(errbuf, errlen);
		}
	}
	PQclear(res);
	return KSINK_OK;
}

/*
 * db->lock: the DDL lock of table t for the rest of the transaction;
 * ks_mapping_fit() then reads t again, since another worker may have
 * made what this one was about to (its transaction held the lock until
 * it committed).
 */
static int
ddl_lock(void *arg, struct ks_mapping_table *t, char *errbuf, size_t errlen)
{
	struct pg *pg = arg;
	PGresult *res;
	const char *v[1];
	int st;

	if ((v[0] = table_sql(pg->map, t->name)) == NULL)
		return oom(errbuf, errlen);
	res = PQexecParams(pg->conn, MAP_LOCK, 1, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		st = result_error(pg, res, "waiting for another worker's "
		    "DDL on the table (advisory lock)", errbuf, errlen);
		PQclear(res);
		return st == KSINK_POISON ? KSINK_FATAL : st;
	}
	PQclear(res);
	return KSINK_OK;
}

/* db->ddl: runs DDL text in the open transaction. */
static int
ddl(void *arg, const char *sql, char *errbuf, size_t errlen)
{
	struct pg *pg = arg;
	int st;

	pg->map->ddl = 1;
	if ((st = exec_simple(pg, sql, sql, errbuf, errlen)) != KSINK_OK)
		return st == KSINK_POISON ? KSINK_FATAL : st;
	pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s", sql);
	return KSINK_OK;
}

/* db->value: a string in a json or jsonb column is a JSON string there,
 * and so is a schema's decimal, date, time, timestamp or uuid. */
static int
json_string(void *arg, struct ks_mapping_col *c,
    const struct ks_mapping_tcol *tc, char *errbuf, size_t errlen)
{
	struct pgmap *mp = ((struct pg *)arg)->map;
	size_t at = mp->text.len;

	if (tc->cls != KS_MAP_T_JSON || (c->type != KS_MAP_T_STRING &&
	    c->type != KS_MAP_T_DECIMAL && c->type != KS_MAP_T_DATE &&
	    c->type != KS_MAP_T_TIME && c->type != KS_MAP_T_TIMESTAMP &&
	    c->type != KS_MAP_T_UUID))
		return KSINK_OK;
	ks_json_add_string(&mp->text, c->text, c->len);
	ks_buf_addc(&mp->text, '\0');
	if (mp->text.oom)
		return oom(errbuf, errlen);
	/* An offset (plus one) while the buffer may move, made a pointer
	 * again once every row of the batch is fitted (json_resolve). */
	c->type = KS_MAP_T_JSON;
	c->text = NULL;
	c->len = 0;
	c->i = (int64_t)at + 1;
	return KSINK_OK;
}

/* The strings json_string() re-encoded, rows[0..n): pointers into the
 * buffer, which no longer moves until the batch is sent, so that the
 * reduction and the statements read them as any other text. */
static void
json_resolve(struct pgmap *mp, struct ks_mapping_row *rows, size_t n)
{
	struct ks_mapping_col *c;
	size_t i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < rows[i].ncols; j++) {
			c = &rows[i].cols[j];
			if (c->type != KS_MAP_T_JSON || c->i <= 0)
				continue;
			c->text = mp->text.p + (c->i - 1);
			c->len = strlen(c->text);
		}
}

/* db->log */
static void __attribute__((format(printf, 2, 3)))
map_log(void *arg, const char *fmt, ...)
{
	struct pg *pg = arg;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s", msg);
}

/* ---------------------------------------------------------------- */
/* The statements                                                    */

/* Whether res failed on a table or column that is gone (42P01, 42703):
 * changed under this worker, to be read again and the batch retried. */
static int
changed(struct pgmap *mp, const PGresult *res, char *errbuf, size_t errlen)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (state == NULL || (strcmp(state, "42P01") != 0 &&
	    strcmp(state, "42703") != 0))
		return 0;
	forget(mp);
	ks_err_append(errbuf, errlen, "; the table changed under the "
	    "connector: it is read again and the batch retried");
	return 1;
}

/* The prepared DML of row, from the cache or prepared now. */
static int
stmt_get(struct pg *pg, const struct ks_mapping_row *row,
    const struct ksink_record *r, struct map_stmt **sp, char *errbuf,
    size_t errlen)
{
	struct pgmap *mp = pg->map;
	struct map_stmt *s;
	PGresult *res;
	char where[256], what[512];
	size_t i;
	int st;

	ks_buf_reset(&mp->sql);
	ks_mapping_sql_key(&mp->sql, row, row->op);
	ks_buf_addc(&mp->sql, '\0');
	if (mp->sql.oom)
		return oom(errbuf, errlen);
	for (i = 0; i < mp->nstmts; i++)
		if (strcmp(mp->stmts[i].key, mp->sql.p) == 0) {
			*sp = &mp->stmts[i];
			return KSINK_OK;
		}
	if (mp->dealloc) {
		if ((st = exec_simple(pg, "DEALLOCATE ALL", "DEALLOCATE",
		    errbuf, errlen)) != KSINK_OK)
			return st == KSINK_POISON ? KSINK_FATAL : st;
		mp->dealloc = 0;
	}
	if ((s = realloc(mp->stmts, (mp->nstmts + 1) * sizeof(*s))) == NULL)
		return oom(errbuf, errlen);
	mp->stmts = s;
	s = &mp->stmts[mp->nstmts];
	if ((s->key = strdup(mp->sql.p)) == NULL)
		return oom(errbuf, errlen);
	snprintf(s->name, sizeof(s->name), "ksink_m%lu", ++mp->gen);
	ks_buf_reset(&mp->sql);
	ks_mapping_sql_dml(&mp->sql, &mp->m, row, row->op);
	ks_buf_addc(&mp->sql, '\0');
	if (mp->sql.oom) {
		free(s->key);
		return oom(errbuf, errlen);
	}
	res = PQprepare(pg->conn, s->name, mp->sql.p, 0, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		free(s->key);
		/* Such as an upsert whose key is not the table's (42P10). */
		snprintf(what, sizeof(what), "record %s: %s",
		    ks_mapping_where(r, where, sizeof(where)), mp->sql.p);
		st = result_error(pg, res, what, errbuf, errlen);
		if (changed(mp, res, errbuf, errlen)) {
			PQclear(res);
			return KSINK_RETRY;
		}
		PQclear(res);
		ks_err_append(errbuf, errlen, "; check that the table's "
		    "primary key is the mapping's key (postgres.pk.mode, "
		    "postgres.pk.fields)");
		return st == KSINK_POISON || st == KSINK_CONFIG ? KSINK_CONFIG :
		    st;
	}
	PQclear(res);
	mp->nstmts++;
	*sp = s;
	return KSINK_OK;
}

/* The text of column c as a parameter; NULL for a null. */
static const char *
param_text(struct pgmap *mp, const struct ks_mapping_col *c)
{
	switch (c->type) {
	case KS_MAP_T_NULL:
		return NULL;
	case KS_MAP_T_BOOLEAN:
		return c->i ? "true" : "false";
	default:
		return c->text;
	}
}

/* Sends row with statement s in the pipeline; -1 when the connection
 * failed or out of memory. */
static int
send_row(struct pg *pg, const struct ks_mapping_row *row,
    const struct map_stmt *s, size_t *bytes)
{
	struct pgmap *mp = pg->map;
	const char **v;
	int *lens, *fmts, binary = 0;
	size_t i, n = row->op == KS_MAP_OP_DELETE ? row->npk : row->ncols;

	if (n > mp->nv) {
		if ((v = realloc(mp->v, n * sizeof(*v))) == NULL)
			return -1;
		mp->v = v;
		if ((lens = realloc(mp->lens, n * sizeof(*lens))) == NULL)
			return -1;
		mp->lens = lens;
		if ((fmts = realloc(mp->fmts, n * sizeof(*fmts))) == NULL)
			return -1;
		mp->fmts = fmts;
		mp->nv = n;
	}
	*bytes += 48 + strlen(s->name);
	for (i = 0; i < n; i++) {
		mp->fmts[i] = row->cols[i].type == KS_MAP_T_BYTES;
		if (mp->fmts[i]) {
			/* bytea's binary format: the bytes. */
			if (row->cols[i].len > INT32_MAX)
				return -1;
			mp->v[i] = row->cols[i].text;
			mp->lens[i] = (int)row->cols[i].len;
			binary = 1;
		} else {
			mp->v[i] = param_text(mp, &row->cols[i]);
			mp->lens[i] = 0;
		}
		*bytes += 6 + (mp->fmts[i] ? row->cols[i].len : mp->v[i] ?
		    strlen(mp->v[i]) : 0);
	}
	return PQsendQueryPrepared(pg->conn, s->name, (int)n, mp->v,
	    binary ? mp->lens : NULL, binary ? mp->fmts : NULL, 0) == 1 ?
	    0 : -1;
}

/*
 * Sends rows v[0..n) in one pipeline, cut into chunks each ended by a
 * Sync (see run_records() in rows.c for why), then reads the results.
 * Returns KSINK_OK, or the failure with *failed set to the row whose
 * statement failed first.
 */
static int
send_rows(struct pg *pg, const struct ksink_record *records,
    struct ks_mapping_row **v, size_t n, size_t *failed, char *errbuf,
    size_t errlen)
{
	struct pgmap *mp = pg->map;
	struct map_sent *sent;
	struct map_stmt *s = NULL;
	PGresult *res;
	char what[320], where[256];
	size_t i, k, c0, bytes;
	int rs, st = KSINK_OK;

	*failed = 0;
	if (n == 0)
		return KSINK_OK;
	if (n > mp->nsent) {
		if ((sent = realloc(mp->sent, n * sizeof(*sent))) == NULL)
			return oom(errbuf, errlen);
		mp->sent = sent;
		mp->nsent = n;
	}
	/* The cache starts over only here, so that the statements of the
	 * batch, prepared first, outside the pipeline, stay. */
	if (mp->nstmts >= MAP_STMTS_MAX) {
		stmts_free(mp);
		mp->dealloc = 1;
	}
	for (i = 0; i < n; i++) {
		if ((st = stmt_get(pg, v[i], &records[v[i]->index], &s,
		    errbuf, errlen)) != KSINK_OK) {
			*failed = i;
			return st;
		}
		mp->sent[i].stmt = (size_t)(s - mp->stmts);
		mp->sent[i].sync = 0;
	}
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	for (i = 0; i < n; ) {
		c0 = i;
		bytes = 0;
		for (; i < n && i - c0 < PIPE_CHUNK && bytes < PIPE_CHUNK_BYTES;
		    i++)
			if (send_row(pg, v[i], &mp->stmts[mp->sent[i].stmt],
			    &bytes) == -1)
				goto lost;
		if (PQpipelineSync(pg->conn) != 1)
			goto lost;
		mp->sent[i - 1].sync = 1;
	}
	for (k = 0; k < n; k++) {
		if ((res = next_result(pg)) == NULL)
			goto lost;
		rs = PQresultStatus(res);
		if (rs != PGRES_COMMAND_OK && st == KSINK_OK) {
			snprintf(what, sizeof(what), "record %s: table \"%s\"",
			    ks_mapping_where(&records[v[k]->index], where, sizeof(where)),
			    v[k]->table);
			st = result_error(pg, res, what, errbuf, errlen);
			*failed = k;
			if (changed(mp, res, errbuf, errlen))
				st = KSINK_RETRY;
			else if (st == KSINK_POISON)
				map_error_append(res, v[k], &mp->tables,
				    &mp->m, errbuf, errlen);
		}
		PQclear(res);
		if (mp->sent[k].sync)
			drain_sync(pg);
	}
	PQexitPipelineMode(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK)
		goto lost;
	return st;
lost:
	st = result_error(pg, NULL, "sending the batch", errbuf, errlen);
	disconnect(pg);
	return KSINK_RETRY;
}

/* ---------------------------------------------------------------- */
/* A write                                                           */

/*
 * Applies rows[0..n), reduced.  First every row is fitted to its table in
 * order (tables and columns made, each value checked against its column),
 * so that a value that cannot be stored is found in the record that holds
 * it even when a later record of the same key replaces it.  On a poison
 * record, sets *bad to its index in rows.
 */
static int
apply_rows(struct pg *pg, const struct ksink_record *records,
    struct ks_mapping_row *rows, size_t n, size_t *bad, char *errbuf,
    size_t errlen)
{
	struct pgmap *mp = pg->map;
	struct ks_mapping_reduced red;
	struct ks_mapping_row **all = NULL;
	size_t i, k, nfit, failed = 0;
	int st = KSINK_OK, fitted = KSINK_OK, reduced, skip, st2;
	char msg[1024] = "";

	/* Only what is not skipped (a delete on a missing table) is sent:
	 * rows[0..k), in order; the skipped ones move behind. */
	for (nfit = k = 0; nfit < n; nfit++) {
		if ((fitted = ks_mapping_fit(&mp->db, &rows[nfit],
		    &records[rows[nfit].index], &skip, msg, sizeof(msg))) !=
		    KSINK_OK)
			break;
		if (skip)
			continue;
		if (k != nfit) {
			struct ks_mapping_row tmp = rows[k];

			rows[k] = rows[nfit];
			rows[nfit] = tmp;
		}
		k++;
	}
	if (fitted != KSINK_OK && fitted != KSINK_POISON) {
		ks_err_set(errbuf, errlen, "%s", msg);
		*bad = nfit;
		return fitted;
	}
	json_resolve(mp, rows, k);
	if (ks_mapping_reduce(&mp->m, rows, k, &red) != KSINK_OK)
		return oom(errbuf, errlen);
	for (reduced = red.n != k, i = 0; i < red.n && !reduced; i++)
		reduced = red.v[i] != &rows[i];
	if (reduced && (st = exec_simple(pg, "SAVEPOINT ksink_map",
	    "SAVEPOINT", errbuf, errlen)) != KSINK_OK) {
		ks_mapping_reduce_free(&red);
		return st == KSINK_POISON ? KSINK_FATAL : st;
	}
	st = send_rows(pg, records, red.v, red.n, &failed, errbuf, errlen);
	if (st != KSINK_OK && !reduced)
		failed = (size_t)(red.v[failed] - rows);
	ks_mapping_reduce_free(&red);
	if (st == KSINK_POISON && reduced) {
		/* Which record?  Undo, and send them one by one, in order:
		 * the first that fails is the one. */
		pg->host->log(pg->ctx, KSINK_LOG_INFO, "%s; the batch's rows "
		    "are applied again one by one to find the record",
		    errbuf);
		if ((st2 = exec_simple(pg, "ROLLBACK TO SAVEPOINT ksink_map",
		    "ROLLBACK TO SAVEPOINT", errbuf, errlen)) != KSINK_OK)
			return st2 == KSINK_POISON ? KSINK_FATAL : st2;
		if ((all = calloc(k ? k : 1, sizeof(*all))) == NULL)
			return oom(errbuf, errlen);
		for (i = 0; i < k; i++)
			all[i] = &rows[i];
		st = send_rows(pg, records, all, k, &failed, errbuf,
		    errlen);
		free(all);
	}
	if (st == KSINK_POISON) {
		*bad = failed;
		return st;
	}
	if (st != KSINK_OK) {
		*bad = reduced ? 0 : failed;
		return st;
	}
	if (reduced && (st = exec_simple(pg, "RELEASE SAVEPOINT ksink_map",
	    "RELEASE SAVEPOINT", errbuf, errlen)) != KSINK_OK)
		return st == KSINK_POISON ? KSINK_FATAL : st;
	if (fitted == KSINK_POISON) {
		*bad = nfit;
		ks_err_set(errbuf, errlen, "%s", msg);
		return KSINK_POISON;
	}
	return KSINK_OK;
}

/*
 * Applies records[from, to) inside the open transaction, after its
 * savepoint, as apply_records() does with statements: the records of
 * partitions this transaction does not own, or below the stored next
 * offset, are skipped.  Returns as run_records(): on a poison record,
 * *bad is its index; pg_write() rolls back to the savepoint and applies
 * the records before it again.
 */
int
map_apply(struct pg *pg, const struct ksink_record *records, size_t from,
    size_t to, size_t *bad, char *errbuf, size_t errlen)
{
	struct pgmap *mp = pg->map;
	struct ks_mapping_schema sch;
	struct ks_mapping_row *rows;
	struct part *p;
	char msg[1024] = "";
	size_t i, nr = 0, stop = to, b;
	int st;

	*bad = from;
	if (ks_mapping_rows_grow(&mp->rows, to - from) == -1)
		return oom(errbuf, errlen);
	rows = mp->rows.v;
	ks_buf_reset(&mp->text);
	for (i = from; i < to; i++) {
		if (record_part(pg, &records[i]) == NULL)
			continue;
		ks_mapping_schema_get(pg->host, pg->ctx, &records[i], &sch);
		if ((st = ks_mapping_row_schema(&mp->m, &records[i], &sch, i,
		    &rows[nr], msg, sizeof(msg))) == KSINK_POISON) {
			stop = i;
			break;
		}
		if (st != KSINK_OK) {
			ks_err_set(errbuf, errlen, "%s", msg);
			*bad = i;
			return st;
		}
		nr++;
	}
	b = nr;
	if ((st = apply_rows(pg, records, rows, nr, &b, errbuf, errlen)) !=
	    KSINK_OK) {
		*bad = b < nr ? rows[b].index : from;
		return st;
	}
	/* Applied: the offsets that the COMMIT stores. */
	for (i = from; i < stop; i++)
		if ((p = record_part(pg, &records[i])) != NULL)
			p->txn_next = records[i].offset + 1;
	if (stop < to) {
		*bad = stop;
		ks_err_set(errbuf, errlen, "%s", msg);
		return KSINK_POISON;
	}
	return KSINK_OK;
}

/* ---------------------------------------------------------------- */
/* Open                                                              */

int
map_open(struct pg *pg, char *errbuf, size_t errlen)
{
	struct pgmap *mp;

	if ((mp = pg->map = calloc(1, sizeof(*pg->map))) == NULL)
		return oom(errbuf, errlen);
	mp->db.m = &mp->m;
	mp->db.prefix = "postgres";
	mp->db.where = "the database";
	mp->db.tables = &mp->tables;
	mp->db.sql = &mp->sql;
	mp->db.arg = pg;
	mp->db.read = table_read;
	mp->db.lock = ddl_lock;
	mp->db.ddl = ddl;
	mp->db.value = json_string;
	mp->db.log = map_log;
	return ks_mapping_conf(&pg->map->m, pg->host, pg->ctx, "postgres",
	    KS_MAP_POSTGRES, errbuf, errlen);
}

/* At open, once connected: without auto.create, the tables must exist. */
int
map_tables_exist(struct pg *pg, char *errbuf, size_t errlen)
{
	int st;

	st = ks_mapping_tables_exist(&pg->map->db, pg->host, pg->ctx, errbuf,
	    errlen);
	ks_mapping_tables_free(&pg->map->tables);
	return st;
}
