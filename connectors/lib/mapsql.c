/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/mapsql.c - the table mapping's SQL dialects: the column
 * type of each JSON value, what a value does to an existing column, the
 * quoting of names, and the text of the DDL and DML statements.  See
 * mapping.h and ksink-mapping(7).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "json.h"
#include "mapping.h"

/*
 * The type rules, in one table: a JSON value's type (or a schema's), its
 * name in messages, and the column each dialect creates for it.  A null
 * creates no column (it fits every nullable one).  SQLite has no date,
 * time or uuid type: they are their ISO text.
 */
static const struct {
	const char *name;
	const char *sql[2];	/* by enum ks_mapping_dialect */
} types[] = {
	[KS_MAP_T_NULL] =    { "null",    { NULL, NULL } },
	[KS_MAP_T_INTEGER] = { "integer", { "INTEGER", "bigint" } },
	[KS_MAP_T_NUMBER] =  { "number",  { "REAL", "double precision" } },
	[KS_MAP_T_BOOLEAN] = { "boolean", { "BOOLEAN", "boolean" } },
	[KS_MAP_T_STRING] =  { "string",  { "TEXT", "text" } },
	[KS_MAP_T_JSON] =    { "object or array", { "TEXT", "jsonb" } },
	[KS_MAP_T_ANY] =     { "any",     { "", "" } },
	[KS_MAP_T_INT32] =   { "32-bit integer", { "INTEGER", "integer" } },
	[KS_MAP_T_FLOAT32] = { "float",   { "REAL", "real" } },
	[KS_MAP_T_DECIMAL] = { "decimal", { "NUMERIC", "numeric" } },
	[KS_MAP_T_DATE] =    { "date",    { "TEXT", "date" } },
	[KS_MAP_T_TIME] =    { "time",    { "TEXT", "time" } },
	[KS_MAP_T_TIMESTAMP] = { "timestamp", { "TEXT", "timestamptz" } },
	[KS_MAP_T_UUID] =    { "uuid",    { "TEXT", "uuid" } },
	[KS_MAP_T_BYTES] =   { "bytes",   { "BLOB", "bytea" } },
};

int
ks_mapping_field_type(const struct ksink_field *f)
{
	switch (f->type) {
	case KSINK_FIELD_BOOLEAN: return KS_MAP_T_BOOLEAN;
	case KSINK_FIELD_INT32: return KS_MAP_T_INT32;
	case KSINK_FIELD_INT64: return KS_MAP_T_INTEGER;
	case KSINK_FIELD_FLOAT32: return KS_MAP_T_FLOAT32;
	case KSINK_FIELD_FLOAT64: return KS_MAP_T_NUMBER;
	case KSINK_FIELD_STRING: return KS_MAP_T_STRING;
	case KSINK_FIELD_BYTES: return KS_MAP_T_BYTES;
	case KSINK_FIELD_DECIMAL: return KS_MAP_T_DECIMAL;
	case KSINK_FIELD_DATE: return KS_MAP_T_DATE;
	case KSINK_FIELD_TIME_MILLIS:
	case KSINK_FIELD_TIME_MICROS: return KS_MAP_T_TIME;
	case KSINK_FIELD_TIMESTAMP_MILLIS:
	case KSINK_FIELD_TIMESTAMP_MICROS: return KS_MAP_T_TIMESTAMP;
	case KSINK_FIELD_UUID: return KS_MAP_T_UUID;
	default: return KS_MAP_T_JSON;	/* record, array, map, any */
	}
}

void
ks_mapping_sql_coltype(struct ks_buf *b, int dialect,
    const struct ks_mapping_col *c)
{
	const char *t = ks_mapping_sql_type(dialect, c->decl);

	ks_buf_adds(b, t ? t : "");
	/* PostgreSQL's numeric takes a precision of 1 to 1000, and a
	 * scale of 0 to it here (Connect's decimal has no precision). */
	if (c->decl == KS_MAP_T_DECIMAL && dialect == KS_MAP_POSTGRES &&
	    c->precision >= 1 && c->precision <= 1000 && c->scale >= 0 &&
	    c->scale <= c->precision)
		ks_buf_addf(b, "(%d,%d)", (int)c->precision, (int)c->scale);
}

const char *
ks_mapping_type_name(int type)
{
	return types[type].name;
}

const char *
ks_mapping_sql_type(int dialect, int type)
{
	return types[type].sql[dialect];
}

static int
has(const char *decl, const char *word)
{
	size_t n = strlen(word);

	for (; *decl; decl++)
		if (strncasecmp(decl, word, n) == 0)
			return 1;
	return 0;
}

/*
 * The class of a declared column type.  SQLite: by its affinity rules
 * (INT, then CHAR/CLOB/TEXT, then REAL/FLOA/DOUB), with BOOL and JSON
 * told apart, and anything else taking any value.  PostgreSQL: by the
 * name format_type() gives.
 */
int
ks_mapping_class(int dialect, const char *decl)
{
	if (decl == NULL)
		return KS_MAP_T_ANY;
	if (dialect == KS_MAP_POSTGRES) {
		if (strcmp(decl, "bigint") == 0)
			return KS_MAP_T_INTEGER;
		if (strcmp(decl, "integer") == 0 ||
		    strcmp(decl, "smallint") == 0)
			return KS_MAP_T_INT32;
		if (strcmp(decl, "double precision") == 0)
			return KS_MAP_T_NUMBER;
		if (strcmp(decl, "real") == 0)
			return KS_MAP_T_FLOAT32;
		if (strncmp(decl, "numeric", 7) == 0)
			return KS_MAP_T_DECIMAL;
		/* "timestamp with time zone", "timestamptz", "time(3)
		 * without time zone", ... */
		if (strncmp(decl, "timestamp", 9) == 0)
			return KS_MAP_T_TIMESTAMP;
		if (strncmp(decl, "time", 4) == 0)
			return KS_MAP_T_TIME;
		if (strcmp(decl, "date") == 0)
			return KS_MAP_T_DATE;
		if (strcmp(decl, "uuid") == 0)
			return KS_MAP_T_UUID;
		if (strcmp(decl, "bytea") == 0)
			return KS_MAP_T_BYTES;
		if (strcmp(decl, "boolean") == 0)
			return KS_MAP_T_BOOLEAN;
		if (strcmp(decl, "text") == 0 ||
		    strncmp(decl, "character", 9) == 0)
			return KS_MAP_T_STRING;
		if (strcmp(decl, "jsonb") == 0 || strcmp(decl, "json") == 0)
			return KS_MAP_T_JSON;
		return KS_MAP_T_ANY;
	}
	if (has(decl, "INT"))
		return KS_MAP_T_INTEGER;
	if (has(decl, "BOOL"))
		return KS_MAP_T_BOOLEAN;
	if (has(decl, "JSON"))
		return KS_MAP_T_JSON;
	if (has(decl, "CHAR") || has(decl, "CLOB") || has(decl, "TEXT"))
		return KS_MAP_T_STRING;
	if (has(decl, "REAL") || has(decl, "FLOA") || has(decl, "DOUB"))
		return KS_MAP_T_NUMBER;
	if (has(decl, "NUM") || has(decl, "DEC"))
		return KS_MAP_T_DECIMAL;
	return KS_MAP_T_ANY;
}

/* What the classes after KS_MAP_T_ANY were before schemas: a JSON value
 * does to them what it did then. */
int
ks_mapping_json_class(int ct)
{
	switch (ct) {
	case KS_MAP_T_INT32: return KS_MAP_T_INTEGER;
	case KS_MAP_T_FLOAT32:
	case KS_MAP_T_DECIMAL: return KS_MAP_T_NUMBER;
	case KS_MAP_T_DATE:
	case KS_MAP_T_TIME:
	case KS_MAP_T_TIMESTAMP:
	case KS_MAP_T_UUID:
	case KS_MAP_T_BYTES: return KS_MAP_T_ANY;
	default: return ct;
	}
}

/*
 * What a value of type vt does to a column of class ct: a null, any value
 * in an untyped or JSON column, a value of the column's own type, an
 * integer in a number column and an object or array (as its JSON text)
 * in a text column fit; a number with a fraction in an integer column
 * would need the column retyped; anything else does not fit.
 */
static int
fits_json(int vt, int ct)
{
	if (vt == KS_MAP_T_NULL || ct == KS_MAP_T_ANY || ct == KS_MAP_T_JSON ||
	    vt == ct)
		return KS_MAP_FIT;
	if (vt == KS_MAP_T_INTEGER && ct == KS_MAP_T_NUMBER)
		return KS_MAP_FIT;
	if (vt == KS_MAP_T_JSON && ct == KS_MAP_T_STRING)
		return KS_MAP_FIT;
	if (vt == KS_MAP_T_NUMBER && ct == KS_MAP_T_INTEGER)
		return KS_MAP_RETYPE;
	return KS_MAP_MISFIT;
}

/*
 * A JSON value's type (the first six, which a schema's boolean, 64-bit
 * integer, double, string and JSON are too) does to a column what it
 * did before schemas (fits_json, the newer classes as what they were).
 * A schema's other types: each fits its own class, an untyped or JSON
 * column (not bytes), a text column (not bytes, its ISO text); a 32-bit
 * integer also a column of numbers; a float a double or decimal column,
 * and an integer column would have to be retyped; a decimal needs a
 * decimal column, its type changed from an integer or float one.
 */
int
ks_mapping_fits(int vt, int ct)
{
	if (vt < KS_MAP_T_ANY)
		return fits_json(vt, ks_mapping_json_class(ct));
	if (vt == ct || ct == KS_MAP_T_ANY)
		return KS_MAP_FIT;
	if (vt == KS_MAP_T_BYTES)
		return KS_MAP_MISFIT;
	if (ct == KS_MAP_T_JSON || ct == KS_MAP_T_STRING)
		return KS_MAP_FIT;
	switch (vt) {
	case KS_MAP_T_INT32:
		if (ct == KS_MAP_T_INTEGER || ct == KS_MAP_T_NUMBER ||
		    ct == KS_MAP_T_FLOAT32 || ct == KS_MAP_T_DECIMAL)
			return KS_MAP_FIT;
		break;
	case KS_MAP_T_FLOAT32:
		if (ct == KS_MAP_T_NUMBER || ct == KS_MAP_T_DECIMAL)
			return KS_MAP_FIT;
		if (ct == KS_MAP_T_INTEGER || ct == KS_MAP_T_INT32)
			return KS_MAP_RETYPE;
		break;
	case KS_MAP_T_DECIMAL:
		if (ct == KS_MAP_T_INTEGER || ct == KS_MAP_T_INT32 ||
		    ct == KS_MAP_T_NUMBER || ct == KS_MAP_T_FLOAT32)
			return KS_MAP_RETYPE;
		break;
	}
	return KS_MAP_MISFIT;
}

/* Whether s can be written as an identifier without quotes. */
int
ks_mapping_plain(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

int
ks_mapping_ident(struct ks_buf *b, const struct ks_mapping *m,
    const char *name)
{
	const char *q;

	if (!m->quote) {
		if (!ks_mapping_plain(name))
			return -1;
		ks_buf_adds(b, name);
		return 0;
	}
	ks_buf_addc(b, '"');
	while ((q = strchr(name, '"')) != NULL) {
		ks_buf_add(b, name, (size_t)(q - name) + 1);
		ks_buf_addc(b, '"');
		name = q + 1;
	}
	ks_buf_adds(b, name);
	ks_buf_addc(b, '"');
	return 0;
}

static void
ident(struct ks_buf *b, const struct ks_mapping *m, const char *name)
{
	/* Names that cannot be written unquoted were refused as the row
	 * was made; a failure here leaves a text that does not compile. */
	if (ks_mapping_ident(b, m, name) == -1)
		ks_buf_adds(b, "\"?\"");
}

/* A table's name: for PostgreSQL, "schema.table" is the table of that
 * schema (split at the first dot, each part quoted on its own). */
void
ks_mapping_table_ident(struct ks_buf *b, const struct ks_mapping *m,
    const char *name)
{
	const char *dot;
	char *schema;

	if (m->dialect == KS_MAP_POSTGRES && (dot = strchr(name, '.')) != NULL &&
	    dot > name && dot[1] != '\0' &&
	    (schema = strndup(name, (size_t)(dot - name))) != NULL) {
		ident(b, m, schema);
		ks_buf_addc(b, '.');
		ident(b, m, dot + 1);
		free(schema);
		return;
	}
	ident(b, m, name);
}

static void
param(struct ks_buf *b, const struct ks_mapping *m, size_t k)
{
	ks_buf_addf(b, m->dialect == KS_MAP_POSTGRES ? "$%zu" : "?%zu",
	    k + 1);
}

/* Appends s as an SQL string literal. */
static void
literal(struct ks_buf *b, const char *s, size_t n)
{
	const char *q, *e = s + n;

	ks_buf_addc(b, '\'');
	while ((q = memchr(s, '\'', (size_t)(e - s))) != NULL) {
		ks_buf_add(b, s, (size_t)(q - s) + 1);
		ks_buf_addc(b, '\'');
		s = q + 1;
	}
	ks_buf_add(b, s, (size_t)(e - s));
	ks_buf_addc(b, '\'');
}

/* Whether s is a JSON number (integer: without fraction or exponent). */
static int
json_number(const char *s, int integer)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	for (; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (!integer && (*p == '.' ||
		    *p == 'e' || *p == 'E' || *p == '+' || *p == '-'))))
			return 0;
	return ks_json_valid(s, strlen(s));
}

/*
 * " DEFAULT x" for column c's default, where the dialect can say it: a
 * boolean, a number, a string (or uuid), JSON for a column of JSON.  A
 * decimal's, a date's, a time's, a timestamp's and bytes' defaults are
 * left out: a schema writes them in the underlying Avro type (bytes as
 * code points, days or milliseconds as numbers).
 */
static void
sql_default(struct ks_buf *b, int dialect, const struct ks_mapping_col *c)
{
	const char *d = c->def;
	struct ks_buf s = { 0 };

	if (d == NULL || strcmp(d, "null") == 0)
		return;
	switch (c->decl) {
	case KS_MAP_T_BOOLEAN:
		if (strcmp(d, "true") == 0 || strcmp(d, "false") == 0)
			ks_buf_addf(b, " DEFAULT %s", dialect == KS_MAP_SQLITE ?
			    (*d == 't' ? "1" : "0") : d);
		break;
	case KS_MAP_T_INTEGER:
	case KS_MAP_T_INT32:
	case KS_MAP_T_NUMBER:
	case KS_MAP_T_FLOAT32:
		if (json_number(d, c->decl == KS_MAP_T_INTEGER ||
		    c->decl == KS_MAP_T_INT32))
			ks_buf_addf(b, " DEFAULT %s", d);
		break;
	case KS_MAP_T_STRING:
	case KS_MAP_T_UUID:
		if (ks_mapping_json_string(&s, d, strlen(d)) == 0 && !s.oom) {
			ks_buf_adds(b, " DEFAULT ");
			literal(b, s.p ? s.p : "", s.len);
		}
		break;
	case KS_MAP_T_JSON:
		if (ks_json_valid(d, strlen(d))) {
			ks_buf_adds(b, " DEFAULT ");
			literal(b, d, strlen(d));
			if (dialect == KS_MAP_POSTGRES)
				ks_buf_adds(b, "::jsonb");
		}
		break;
	}
	if (s.oom)
		b->oom = 1;
	ks_buf_free(&s);
}

void
ks_mapping_sql_create(struct ks_buf *b, const struct ks_mapping *m,
    const struct ks_mapping_row *row)
{
	const struct ks_mapping_col *c;
	const char *sep = "";
	size_t i;

	ks_buf_adds(b, "CREATE TABLE ");
	ks_mapping_table_ident(b, m, row->table);
	ks_buf_adds(b, " (");
	for (i = 0; i < row->ncols; i++) {
		c = &row->cols[i];
		if (c->decl == KS_MAP_T_NULL)
			continue;
		ks_buf_adds(b, sep);
		ident(b, m, c->name);
		ks_buf_addc(b, ' ');
		ks_mapping_sql_coltype(b, m->dialect, c);
		if (c->pk || c->notnull)
			ks_buf_adds(b, " NOT NULL");
		sql_default(b, m->dialect, c);
		sep = ", ";
	}
	if (row->npk > 0) {
		ks_buf_adds(b, ", PRIMARY KEY (");
		for (i = 0; i < row->npk; i++) {
			if (i > 0)
				ks_buf_adds(b, ", ");
			ident(b, m, row->cols[i].name);
		}
		ks_buf_addc(b, ')');
	}
	ks_buf_addc(b, ')');
}

void
ks_mapping_sql_add_column(struct ks_buf *b, const struct ks_mapping *m,
    const char *table, const struct ks_mapping_col *c)
{
	ks_buf_adds(b, "ALTER TABLE ");
	ks_mapping_table_ident(b, m, table);
	ks_buf_adds(b, " ADD COLUMN ");
	ident(b, m, c->name);
	ks_buf_addc(b, ' ');
	ks_mapping_sql_coltype(b, m->dialect, c);
	sql_default(b, m->dialect, c);
}

/* "k1 = $1 AND k2 = $2" */
static void
where_key(struct ks_buf *b, const struct ks_mapping *m,
    const struct ks_mapping_row *row)
{
	size_t i;

	ks_buf_adds(b, " WHERE ");
	for (i = 0; i < row->npk; i++) {
		if (i > 0)
			ks_buf_adds(b, " AND ");
		ident(b, m, row->cols[i].name);
		ks_buf_adds(b, " = ");
		param(b, m, i);
	}
}

void
ks_mapping_sql_dml(struct ks_buf *b, const struct ks_mapping *m,
    const struct ks_mapping_row *row, int op)
{
	size_t i;

	if (op == KS_MAP_OP_DELETE) {
		ks_buf_adds(b, "DELETE FROM ");
		ks_mapping_table_ident(b, m, row->table);
		where_key(b, m, row);
		return;
	}
	if (m->insert_mode == KS_MAP_UPDATE) {
		ks_buf_adds(b, "UPDATE ");
		ks_mapping_table_ident(b, m, row->table);
		ks_buf_adds(b, " SET ");
		/* With no other column, the key is set to itself: the
		 * statement matches the row and changes nothing. */
		for (i = row->npk < row->ncols ? row->npk : 0; i < row->ncols;
		    i++) {
			if (i > row->npk && i > 0)
				ks_buf_adds(b, ", ");
			ident(b, m, row->cols[i].name);
			ks_buf_adds(b, " = ");
			param(b, m, i);
			if (row->npk == row->ncols)
				break;
		}
		where_key(b, m, row);
		return;
	}
	ks_buf_adds(b, "INSERT INTO ");
	ks_mapping_table_ident(b, m, row->table);
	ks_buf_adds(b, " (");
	for (i = 0; i < row->ncols; i++) {
		if (i > 0)
			ks_buf_adds(b, ", ");
		ident(b, m, row->cols[i].name);
	}
	ks_buf_adds(b, ") VALUES (");
	for (i = 0; i < row->ncols; i++) {
		if (i > 0)
			ks_buf_adds(b, ", ");
		param(b, m, i);
	}
	ks_buf_addc(b, ')');
	if (m->insert_mode != KS_MAP_UPSERT)
		return;
	ks_buf_adds(b, " ON CONFLICT (");
	for (i = 0; i < row->npk; i++) {
		if (i > 0)
			ks_buf_adds(b, ", ");
		ident(b, m, row->cols[i].name);
	}
	if (row->npk == row->ncols) {
		ks_buf_adds(b, ") DO NOTHING");
		return;
	}
	ks_buf_adds(b, ") DO UPDATE SET ");
	for (i = row->npk; i < row->ncols; i++) {
		if (i > row->npk)
			ks_buf_adds(b, ", ");
		ident(b, m, row->cols[i].name);
		ks_buf_adds(b, " = excluded.");
		ident(b, m, row->cols[i].name);
	}
}

void
ks_mapping_sql_key(struct ks_buf *b, const struct ks_mapping_row *row,
    int op)
{
	size_t i;

	ks_buf_addc(b, op == KS_MAP_OP_DELETE ? 'D' : 'W');
	ks_buf_addf(b, "%zu", row->npk);
	ks_buf_addc(b, '\x1f');
	ks_buf_adds(b, row->table);
	for (i = 0; i < (op == KS_MAP_OP_DELETE ? row->npk : row->ncols);
	    i++) {
		ks_buf_addc(b, '\x1f');
		ks_buf_adds(b, row->cols[i].name);
	}
}
