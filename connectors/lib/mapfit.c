/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/mapfit.c - a row of the table mapping fitted to its
 * table, for the SQL sinks: what the sink read of its tables' columns,
 * the table created (auto.create) and the columns added (auto.evolve) by
 * the sink's DDL, and every value checked against its column, with the
 * messages of ksink-mapping(7)'s DIAGNOSTICS.  The sink reads the
 * catalogue, locks and runs the DDL (struct ks_mapping_db).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "mapping.h"

void
ks_mapping_table_clear(struct ks_mapping_table *t)
{
	size_t i;

	for (i = 0; i < t->ncols; i++) {
		free(t->cols[i].name);
		free(t->cols[i].decl);
	}
	free(t->cols);
	t->cols = NULL;
	t->ncols = 0;
	t->exists = 0;
}

void
ks_mapping_tables_free(struct ks_mapping_tables *ts)
{
	size_t i;

	for (i = 0; i < ts->n; i++) {
		ks_mapping_table_clear(&ts->v[i]);
		free(ts->v[i].name);
	}
	free(ts->v);
	ts->v = NULL;
	ts->n = 0;
}

int
ks_mapping_tcol_add(struct ks_mapping_table *t, int dialect, const char *name,
    const char *decl)
{
	struct ks_mapping_tcol *c;

	if ((c = realloc(t->cols, (t->ncols + 1) * sizeof(*c))) == NULL)
		return -1;
	t->cols = c;
	c = &c[t->ncols];
	c->name = strdup(name);
	c->decl = strdup(decl ? decl : "");
	if (c->name == NULL || c->decl == NULL) {
		free(c->name);
		free(c->decl);
		return -1;
	}
	c->cls = ks_mapping_class(dialect, decl);
	t->ncols++;
	return 0;
}

static int
oom(char *errbuf, size_t errlen)
{
	ks_err_set(errbuf, errlen, "out of memory");
	return KSINK_FATAL;
}

int
ks_mapping_table_get(struct ks_mapping_db *db, const char *name,
    struct ks_mapping_table **tp, char *errbuf, size_t errlen)
{
	struct ks_mapping_tables *ts = db->tables;
	struct ks_mapping_table *t;
	size_t i;
	int st;

	for (i = 0; i < ts->n; i++) {
		t = &ts->v[i];
		if (!ks_mapping_same_name(db->m, t->name, name))
			continue;
		if (t->exists < 0) {
			ks_mapping_table_clear(t);
			if ((st = db->read(db->arg, t, errbuf, errlen)) !=
			    KSINK_OK) {
				t->exists = -1;
				return st;
			}
		}
		*tp = t;
		return KSINK_OK;
	}
	if ((t = realloc(ts->v, (ts->n + 1) * sizeof(*t))) == NULL)
		return oom(errbuf, errlen);
	ts->v = t;
	t = &ts->v[ts->n];
	memset(t, 0, sizeof(*t));
	if ((t->name = strdup(name)) == NULL)
		return oom(errbuf, errlen);
	if ((st = db->read(db->arg, t, errbuf, errlen)) != KSINK_OK) {
		/* Read again next time. */
		ks_mapping_table_clear(t);
		free(t->name);
		return st;
	}
	ts->n++;
	*tp = t;
	return KSINK_OK;
}

static struct ks_mapping_tcol *
tcol_find(const struct ks_mapping *m, struct ks_mapping_table *t,
    const char *name)
{
	size_t i;

	for (i = 0; i < t->ncols; i++)
		if (ks_mapping_same_name(m, t->cols[i].name, name))
			return &t->cols[i];
	return NULL;
}

const char *
ks_mapping_where(const struct ksink_record *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%d@%lld", r->topic, (int)r->partition,
	    (long long)r->offset);
	return buf;
}

/* Runs DDL text (from db->sql) under the table's lock, which is taken
 * (and the table read again) before the first. */
static int
lock(struct ks_mapping_db *db, struct ks_mapping_table *t, int *locked,
    char *errbuf, size_t errlen)
{
	int st;

	if (*locked || db->lock == NULL)
		return KSINK_OK;
	*locked = 1;
	if ((st = db->lock(db->arg, t, errbuf, errlen)) != KSINK_OK)
		return st;
	ks_mapping_table_clear(t);
	if ((st = db->read(db->arg, t, errbuf, errlen)) != KSINK_OK)
		t->exists = -1;		/* unknown: read again next time */
	return st;
}

/* The name of a column's type in a message: as the database declares it
 * (PostgreSQL's format_type()), or its class (SQLite's affinity), as a
 * JSON value (type vt) saw it before schemas. */
static const char *
decl(const struct ks_mapping *m, const struct ks_mapping_tcol *tc, int vt)
{
	return m->dialect == KS_MAP_POSTGRES && *tc->decl ? tc->decl :
	    ks_mapping_type_name(vt < KS_MAP_T_ANY ?
	    ks_mapping_json_class(tc->cls) : tc->cls);
}

/* Checks value c against column tc: a stop when the column would have
 * to be retyped, poison when the value cannot be stored there. */
static int
fit_value(struct ks_mapping_db *db, const struct ks_mapping_row *row,
    struct ks_mapping_col *c, const struct ks_mapping_tcol *tc,
    const struct ksink_record *r, char *errbuf, size_t errlen)
{
	const struct ks_mapping *m = db->m;
	struct ks_mapping_col want = *c;
	char where[256], how[160], wider[64], shown[48];
	struct ks_buf w = { 0 };

	/* Bytes are not text: their length. */
	if (c->type == KS_MAP_T_BYTES)
		snprintf(shown, sizeof(shown), "%zu bytes", c->len);
	else
		snprintf(shown, sizeof(shown), "%.40s", c->text);
	switch (ks_mapping_fits(c->type, tc->cls)) {
	case KS_MAP_RETYPE:
		want.decl = c->type;
		ks_mapping_sql_coltype(&w, m->dialect, &want);
		snprintf(wider, sizeof(wider), "%s", w.p && !w.oom ? w.p :
		    "?");
		ks_buf_free(&w);
		if (m->dialect == KS_MAP_POSTGRES)
			snprintf(how, sizeof(how), "ALTER TABLE ... ALTER "
			    "COLUMN ... TYPE %s", wider);
		else
			snprintf(how, sizeof(how), "SQLite: rebuild the table");
		ks_err_set(errbuf, errlen, "record %s: field \"%s\" holds a "
		    "%s (%s), but column \"%s\" of table \"%s\" is %s: "
		    "the column would have to become %s, and ksink never "
		    "changes a column's type; change it yourself (%s), or "
		    "leave the field out with %s.fields.exclude",
		    ks_mapping_where(r, where, sizeof(where)), c->name,
		    ks_mapping_type_name(c->type), shown, tc->name,
		    row->table, decl(m, tc, c->type), wider, how, db->prefix);
		return KSINK_FATAL;
	case KS_MAP_MISFIT:
		ks_err_set(errbuf, errlen, "record %s: field \"%s\" holds a "
		    "%s (%s), which column \"%s\" of table \"%s\" (%s) "
		    "cannot store", ks_mapping_where(r, where, sizeof(where)), c->name,
		    ks_mapping_type_name(c->type), shown, tc->name,
		    row->table, decl(m, tc, c->type));
		return KSINK_POISON;
	}
	return db->value ? db->value(db->arg, c, tc, errbuf, errlen) :
	    KSINK_OK;
}

/* A missing column that must not or cannot be added: a stop. */
static int
no_column(struct ks_mapping_db *db, const struct ks_mapping_row *row,
    const struct ks_mapping_col *c, const struct ksink_record *r,
    char *errbuf, size_t errlen)
{
	char where[256];

	if (c->pk)
		ks_err_set(errbuf, errlen, "record %s: table \"%s\" has no "
		    "column \"%s\" for the key; the key's columns must be the "
		    "table's primary key: change %s.pk.fields, or the table",
		    ks_mapping_where(r, where, sizeof(where)), row->table, c->name,
		    db->prefix);
	else
		ks_err_set(errbuf, errlen, "record %s: table \"%s\" has no "
		    "column \"%s\"; add it with %s; or set %s.auto.evolve = "
		    "true, or leave the field out with %s.fields.exclude",
		    ks_mapping_where(r, where, sizeof(where)), row->table, c->name,
		    db->sql->p, db->prefix, db->prefix);
	return KSINK_FATAL;
}

/* Adds the column made for c to what t is known to have. */
static int
tcol_made(struct ks_mapping_table *t, int dialect,
    const struct ks_mapping_col *c)
{
	struct ks_buf b = { 0 };
	int rc;

	ks_mapping_sql_coltype(&b, dialect, c);
	ks_buf_addc(&b, '\0');
	rc = b.oom ? -1 : ks_mapping_tcol_add(t, dialect, c->name, b.p);
	ks_buf_free(&b);
	return rc;
}

/* Creates table t for row (auto.create), or stops. */
static int
create(struct ks_mapping_db *db, struct ks_mapping_table *t,
    const struct ks_mapping_row *row, const struct ksink_record *r,
    int *locked, char *errbuf, size_t errlen)
{
	const struct ks_mapping *m = db->m;
	char where[256];
	size_t i;
	int st;

	ks_buf_reset(db->sql);
	ks_mapping_sql_create(db->sql, m, row);
	ks_buf_addc(db->sql, '\0');
	if (db->sql->oom)
		return oom(errbuf, errlen);
	if (!m->auto_create) {
		ks_err_set(errbuf, errlen, "record %s: table \"%s\" does not "
		    "exist in %s and %s.auto.create is off; create it, for "
		    "instance with: %s; or set %s.auto.create = true",
		    ks_mapping_where(r, where, sizeof(where)), row->table, db->where,
		    db->prefix, db->sql->p, db->prefix);
		return KSINK_FATAL;
	}
	if ((st = lock(db, t, locked, errbuf, errlen)) != KSINK_OK)
		return st;
	if (t->exists) {
		if (db->log != NULL)
			db->log(db->arg, "table \"%s\" was created by another "
		    "session meanwhile", row->table);
		return KSINK_OK;
	}
	if ((st = db->ddl(db->arg, db->sql->p, errbuf, errlen)) != KSINK_OK)
		return st;
	t->exists = 1;
	for (i = 0; i < row->ncols; i++)
		if (row->cols[i].decl != KS_MAP_T_NULL &&
		    tcol_made(t, m->dialect, &row->cols[i]) == -1)
			return oom(errbuf, errlen);
	return KSINK_OK;
}

int
ks_mapping_fit(struct ks_mapping_db *db, struct ks_mapping_row *row,
    const struct ksink_record *r, int *skip, char *errbuf, size_t errlen)
{
	const struct ks_mapping *m = db->m;
	struct ks_mapping_col *c;
	struct ks_mapping_table *t;
	struct ks_mapping_tcol *tc;
	size_t i, k;
	int st, locked = 0;

	*skip = 0;
	if ((st = ks_mapping_table_get(db, row->table, &t, errbuf, errlen)) !=
	    KSINK_OK)
		return st;
	/* Nothing to delete from a table that does not exist. */
	if (!t->exists && row->op == KS_MAP_OP_DELETE) {
		*skip = 1;
		return KSINK_OK;
	}
	if (!t->exists && (st = create(db, t, row, r, &locked, errbuf,
	    errlen)) != KSINK_OK)
		return st;
	for (i = k = 0; i < row->ncols; i++) {
		c = &row->cols[i];
		if ((tc = tcol_find(m, t, c->name)) == NULL) {
			/* Nothing to store, and NULL is what the row would
			 * hold anyway; but a schema's field gets its column
			 * with auto.evolve, null or not. */
			if (c->type == KS_MAP_T_NULL && !c->pk &&
			    (c->decl == KS_MAP_T_NULL || !m->auto_evolve))
				continue;
			ks_buf_reset(db->sql);
			ks_mapping_sql_add_column(db->sql, m, row->table, c);
			ks_buf_addc(db->sql, '\0');
			if (db->sql->oom)
				return oom(errbuf, errlen);
			if (!m->auto_evolve || c->pk)
				return no_column(db, row, c, r, errbuf, errlen);
			if ((st = lock(db, t, &locked, errbuf, errlen)) !=
			    KSINK_OK)
				return st;
			if ((tc = tcol_find(m, t, c->name)) != NULL &&
			    db->log != NULL)
				db->log(db->arg, "column \"%s\" of table \"%s\" "
				    "was added by another session meanwhile",
				    c->name, row->table);
			else if (tc == NULL) {
				if ((st = db->ddl(db->arg, db->sql->p, errbuf,
				    errlen)) != KSINK_OK)
					return st;
				if (tcol_made(t, m->dialect, c) == -1)
					return oom(errbuf, errlen);
				tc = &t->cols[t->ncols - 1];
			}
		}
		if ((st = fit_value(db, row, c, tc, r, errbuf, errlen)) !=
		    KSINK_OK)
			return st;
		if (k != i)
			row->cols[k] = *c;
		k++;
	}
	row->ncols = k;
	return KSINK_OK;
}
