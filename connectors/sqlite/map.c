/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/sqlite/map.c - the SQLite sink's table mapping mode
 * (ksink-mapping(7)): each record becomes a row of a table, by the
 * shared mapping of connectors/lib/mapping.h, with no SQL from the user.
 *
 * Everything runs inside the batch's one transaction (BEGIN IMMEDIATE,
 * sqlite.c), with the offsets: the CREATE TABLE of auto.create and the
 * ALTER TABLE ADD COLUMN of auto.evolve too, since SQLite's DDL is
 * transactional.  A crash at any point leaves either the whole batch,
 * tables and columns included, or nothing of it.  What this file knows
 * of the tables is read again in each transaction (map_forget), so a
 * rolled back CREATE or ALTER is never believed.
 *
 * The rows of a write() are reduced first (mapreduce.c); a reduced write
 * that hits a poison record is rolled back to its savepoint and the rows
 * applied one by one, to name the record exactly.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../lib/err.h"
#include "../lib/mapping.h"
#include "sqlite.h"

/* Prepared statements kept at most; past it, the cache starts over. */
#define MAP_STMTS_MAX 256

static int
prepare(struct sink *sq, sqlite3_stmt **st, const char *sql, char *errbuf,
    size_t errlen)
{
	if (sqlite3_prepare_v3(sq->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st,
	    NULL) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

void
map_forget(struct sink *sq)
{
	if (sq->map != NULL)
		ks_mapping_tables_free(&sq->map->tables);
}

static void
stmts_free(struct map *mp)
{
	size_t i;

	for (i = 0; i < mp->nstmts; i++) {
		sqlite3_finalize(mp->stmts[i].st);
		free(mp->stmts[i].key);
	}
	free(mp->stmts);
	mp->stmts = NULL;
	mp->nstmts = 0;
}

void
map_close(struct sink *sq)
{
	struct map *mp = sq->map;

	if (mp == NULL)
		return;
	ks_mapping_tables_free(&mp->tables);
	stmts_free(mp);
	ks_mapping_rows_free(&mp->rows);
	sqlite3_finalize(mp->info);
	sqlite3_finalize(mp->sp);
	sqlite3_finalize(mp->sp_release);
	sqlite3_finalize(mp->sp_rollback);
	ks_mapping_free(&mp->m);
	ks_buf_free(&mp->sql);
	free(mp);
	sq->map = NULL;
}


static int
db_error(struct sink *sq, int rc, const char *what, char *errbuf,
    size_t errlen)
{
	ks_err_set(errbuf, errlen, "%s on %s: %s", what, sq->path,
	    rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(sq->db));
	return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
}

/* db->read: the columns of t, read once per transaction. */
static int
table_read(void *arg, struct ks_mapping_table *t, char *errbuf,
    size_t errlen)
{
	struct sink *sq = arg;
	struct map *mp = sq->map;
	int rc;

	sqlite3_bind_text(mp->info, 1, t->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(mp->info)) == SQLITE_ROW) {
		t->exists = 1;
		if (ks_mapping_tcol_add(t, KS_MAP_SQLITE, (const char *)
		    sqlite3_column_text(mp->info, 0), (const char *)
		    sqlite3_column_text(mp->info, 1)) == -1) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	sqlite3_reset(mp->info);
	sqlite3_clear_bindings(mp->info);
	if (rc != SQLITE_DONE)
		return db_error(sq, rc, "reading the columns of a table",
		    errbuf, errlen);
	return KSINK_OK;
}

/* db->ddl: runs DDL text in the open transaction. */
static int
ddl(void *arg, const char *sql, char *errbuf, size_t errlen)
{
	struct sink *sq = arg;
	int rc;

	if ((rc = sqlite3_exec(sq->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s on %s: %s", sql, sq->path,
		    sqlite3_errmsg(sq->db));
		return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY :
		    KSINK_FATAL;
	}
	sq->host->log(sq->ctx, KSINK_LOG_INFO, "%s: %s", sq->path, sql);
	return KSINK_OK;
}

/* The prepared DML of row, from the cache or prepared now. */
static int
stmt_get(struct sink *sq, const struct ks_mapping_row *row,
    const struct ksink_record *r, sqlite3_stmt **stp, char *errbuf,
    size_t errlen)
{
	struct map *mp = sq->map;
	struct map_stmt *s;
	char where[256];
	size_t i;

	ks_buf_reset(&mp->sql);
	ks_mapping_sql_key(&mp->sql, row, row->op);
	if (mp->sql.oom)
		return db_error(sq, SQLITE_NOMEM, "a statement", errbuf, errlen);
	for (i = 0; i < mp->nstmts; i++)
		if (strcmp(mp->stmts[i].key, mp->sql.p) == 0) {
			*stp = mp->stmts[i].st;
			return KSINK_OK;
		}
	if (mp->nstmts >= MAP_STMTS_MAX)
		stmts_free(mp);
	if ((s = realloc(mp->stmts, (mp->nstmts + 1) * sizeof(*s))) == NULL)
		return db_error(sq, SQLITE_NOMEM, "a statement", errbuf, errlen);
	mp->stmts = s;
	s = &mp->stmts[mp->nstmts];
	if ((s->key = strdup(mp->sql.p)) == NULL)
		return db_error(sq, SQLITE_NOMEM, "a statement", errbuf, errlen);
	ks_buf_reset(&mp->sql);
	ks_mapping_sql_dml(&mp->sql, &mp->m, row, row->op);
	if (mp->sql.oom ||
	    sqlite3_prepare_v3(sq->db, mp->sql.p, -1,
	    SQLITE_PREPARE_PERSISTENT, &s->st, NULL) != SQLITE_OK) {
		free(s->key);
		/* Such as an upsert whose key is not the table's. */
		ks_err_set(errbuf, errlen, "record %s: %s on %s: %s; check that "
		    "the table's primary key is the mapping's key "
		    "(sqlite.pk.mode, sqlite.pk.fields)",
		    ks_mapping_where(r, where, sizeof(where)), mp->sql.p, sq->path,
		    mp->sql.oom ? "out of memory" : sqlite3_errmsg(sq->db));
		return KSINK_FATAL;
	}
	mp->nstmts++;
	*stp = s->st;
	return KSINK_OK;
}

static int
apply_row(struct sink *sq, struct ks_mapping_row *row,
    const struct ksink_record *r, char *errbuf, size_t errlen)
{
	const struct ks_mapping_col *c;
	sqlite3_stmt *st;
	char where[256];
	size_t i;
	int rc = SQLITE_OK, status;

	int skip;

	/* Nothing to delete from a table that does not exist. */
	if ((status = ks_mapping_fit(&sq->map->db, row, r, &skip, errbuf,
	    errlen)) != KSINK_OK || skip)
		return status;
	if ((status = stmt_get(sq, row, r, &st, errbuf, errlen)) != KSINK_OK)
		return status;
	for (i = 0; i < row->ncols && i < (size_t)sqlite3_bind_parameter_count(st) &&
	    rc == SQLITE_OK; i++) {
		c = &row->cols[i];
		switch (c->type) {
		case KS_MAP_T_NULL:
			rc = sqlite3_bind_null(st, (int)i + 1);
			break;
		case KS_MAP_T_INTEGER:
		case KS_MAP_T_INT32:
		case KS_MAP_T_BOOLEAN:
			rc = sqlite3_bind_int64(st, (int)i + 1, c->i);
			break;
		case KS_MAP_T_NUMBER:
		case KS_MAP_T_FLOAT32:
			rc = sqlite3_bind_double(st, (int)i + 1, c->d);
			break;
		case KS_MAP_T_BYTES:
			rc = sqlite3_bind_blob64(st, (int)i + 1, c->text, c->len,
			    SQLITE_STATIC);
			break;
		default:
			rc = sqlite3_bind_text64(st, (int)i + 1, c->text, c->len,
			    SQLITE_STATIC, SQLITE_UTF8);
			break;
		}
	}
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	if (rc == SQLITE_OK)
		return KSINK_OK;
	ks_err_set(errbuf, errlen, "record %s: table \"%s\": %s",
	    ks_mapping_where(r, where, sizeof(where)), row->table, sqlite3_errmsg(sq->db));
	return sql_classify(rc);
}

/*
 * Applies rows[0..n), reduced.  First every row is fitted to its table in
 * order (tables and columns made, each value checked against its column),
 * so that a value that cannot be stored is found in the record that holds
 * it even when a later record of the same key replaces it.  On a poison
 * record, sets *bad to its index in rows, the rows before it applied.
 */
static int
apply_rows(struct sink *sq, const struct ksink_record *records,
    struct ks_mapping_row *rows, size_t n, size_t *bad, char *errbuf,
    size_t errlen)
{
	struct map *mp = sq->map;
	struct ks_mapping_reduced red;
	size_t i, nfit;
	int rc, status = KSINK_OK, fitted = KSINK_OK, reduced, skip;
	char msg[1024] = "";

	for (nfit = 0; nfit < n; nfit++)
		if ((fitted = ks_mapping_fit(&mp->db, &rows[nfit],
		    &records[rows[nfit].index], &skip, msg, sizeof(msg))) !=
		    KSINK_OK)
			break;
	if (fitted != KSINK_OK && fitted != KSINK_POISON) {
		ks_err_set(errbuf, errlen, "%s", msg);
		return fitted;
	}
	if (ks_mapping_reduce(&mp->m, rows, nfit, &red) != KSINK_OK) {
		ks_err_set(errbuf, errlen, "reducing a batch: out of memory");
		return KSINK_FATAL;
	}
	for (reduced = red.n != nfit, i = 0; i < red.n && !reduced; i++)
		reduced = red.v[i] != &rows[i];
	if (reduced && (rc = sql_step_once(mp->sp)) != SQLITE_OK) {
		ks_mapping_reduce_free(&red);
		return db_error(sq, rc, "SAVEPOINT", errbuf, errlen);
	}
	for (i = 0; i < red.n; i++)
		if ((status = apply_row(sq, red.v[i], &records[red.v[i]->index],
		    errbuf, errlen)) != KSINK_OK)
			break;
	ks_mapping_reduce_free(&red);
	if (status == KSINK_POISON && reduced) {
		/* Which record?  Undo, and apply them one by one. */
		if ((rc = sql_step_once(mp->sp_rollback)) != SQLITE_OK)
			return db_error(sq, rc, "ROLLBACK TO", errbuf, errlen);
		map_forget(sq);
		for (i = 0; i < nfit; i++)
			if ((status = apply_row(sq, &rows[i],
			    &records[rows[i].index], errbuf, errlen)) !=
			    KSINK_OK)
				break;
	}
	if (reduced && (status == KSINK_OK || status == KSINK_POISON) &&
	    (rc = sql_step_once(mp->sp_release)) != SQLITE_OK)
		return db_error(sq, rc, "RELEASE", errbuf, errlen);
	if (status == KSINK_POISON) {
		*bad = i;
		return status;
	}
	if (status == KSINK_OK && fitted == KSINK_POISON) {
		*bad = nfit;
		ks_err_set(errbuf, errlen, "%s", msg);
		return KSINK_POISON;
	}
	return status;
}

int
map_write(struct sink *sq, const struct ksink_record *records, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct map *mp = sq->map;
	struct ks_offcache_entry *f;
	struct ks_mapping_schema sch;
	struct ks_mapping_row *rows;
	const struct ksink_record *r;
	char msg[1024] = "";
	size_t i, nr = 0, stop = count, bad;
	int rc, status = KSINK_OK;

	*n_done = 0;
	if (ks_mapping_rows_grow(&mp->rows, count) == -1) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	rows = mp->rows.v;
	for (i = 0; i < count; i++) {
		r = &records[i];
		if ((f = fence_get(sq, r, &rc)) == NULL)
			return db_error(sq, rc, "reading ksink_offsets", errbuf,
			    errlen);
		/* The zombie fence: already applied. */
		if (r->offset < f->next)
			continue;
		ks_mapping_schema_get(sq->host, sq->ctx, r, &sch);
		if ((status = ks_mapping_row_schema(&mp->m, r, &sch, i,
		    &rows[nr], msg, sizeof(msg))) == KSINK_POISON) {
			stop = i;
			break;
		}
		if (status != KSINK_OK) {
			ks_err_set(errbuf, errlen, "%s", msg);
			return status;
		}
		nr++;
	}
	bad = nr;
	if ((rc = apply_rows(sq, records, rows, nr, &bad, errbuf,
	    errlen)) != KSINK_OK && rc != KSINK_POISON)
		return rc;
	for (i = 0; i < bad; i++) {
		r = &records[rows[i].index];
		if ((f = ks_offcache_find(&sq->fence, r->topic,
		    r->partition)) != NULL && f->next <= r->offset)
			f->next = r->offset + 1;
	}
	if (rc == KSINK_POISON) {
		*n_done = rows[bad].index;
		return KSINK_POISON;
	}
	if (stop < count) {
		*n_done = stop;
		ks_err_set(errbuf, errlen, "%s", msg);
		return KSINK_POISON;
	}
	*n_done = count;
	return KSINK_OK;
}

int
map_open(struct sink *sq, char *errbuf, size_t errlen)
{
	struct map *mp;
	int status;

	if ((mp = calloc(1, sizeof(*mp))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	sq->map = mp;
	mp->db.m = &mp->m;
	mp->db.prefix = "sqlite";
	mp->db.where = sq->path;
	mp->db.tables = &mp->tables;
	mp->db.sql = &mp->sql;
	mp->db.arg = sq;
	mp->db.read = table_read;
	mp->db.ddl = ddl;
	if ((status = ks_mapping_conf(&mp->m, sq->host, sq->ctx, "sqlite",
	    KS_MAP_SQLITE, errbuf, errlen)) != KSINK_OK)
		return status;
	if ((status = prepare(sq, &mp->info, "SELECT name, type FROM "
	    "pragma_table_info(?1)", errbuf, errlen)) != KSINK_OK ||
	    (status = prepare(sq, &mp->sp, "SAVEPOINT ksink_map", errbuf,
	    errlen)) != KSINK_OK ||
	    (status = prepare(sq, &mp->sp_release, "RELEASE ksink_map",
	    errbuf, errlen)) != KSINK_OK ||
	    (status = prepare(sq, &mp->sp_rollback, "ROLLBACK TO ksink_map",
	    errbuf, errlen)) != KSINK_OK)
		return status;
	/* At open, without auto.create: the tables must exist. */
	status = ks_mapping_tables_exist(&mp->db, sq->host, sq->ctx, errbuf,
	    errlen);
	map_forget(sq);
	return status;
}
