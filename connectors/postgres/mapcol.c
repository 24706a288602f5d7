/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/mapcol.c - the column of a row that the server
 * refused, for the table mapping's poison messages (map.c): a record is
 * named with its field, not only with the server's words.
 *
 * The server says which column in three ways, tried in this order:
 *   - the error's column field (PG_DIAG_COLUMN_NAME), set by constraint
 *     errors such as 23502 (a null in a NOT NULL column);
 *   - the error's context "... parameter $N ..." of a parameter whose
 *     text does not convert to its type (22P02 invalid input syntax,
 *     22003 out of range, 22007 and 22008 for dates): parameter N is
 *     always column N-1 of the row (mapping.h);
 *   - for the coercions to a declared length or precision, which run
 *     after the parameters are converted and name no column (22001 value
 *     too long for character varying(N), 22003 numeric field overflow),
 *     the row's values are checked again against the declared types of
 *     the table's columns: the first value too long or too large is the
 *     one.
 * Nothing here talks to the server.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/err.h"
#include "../lib/mapping.h"
#include "mapcol.h"

/* "parameter $N" in context: N (1-based), or 0. */
static size_t
context_param(const char *context)
{
	const char *p;
	char *end;
	unsigned long n;

	for (p = context; p != NULL && (p = strstr(p, "parameter $")) != NULL;
	    p++) {
		n = strtoul(p + strlen("parameter $"), &end, 10);
		if (end != p + strlen("parameter $") && n > 0)
			return (size_t)n;
	}
	return 0;
}

/* The N of decl "PREFIX(N" or "PREFIX(N,S)", and S; 0 when not such. */
static int
decl_args(const char *decl, const char *prefix, long *n, long *s)
{
	size_t len = strlen(prefix);
	char *end;

	if (strncmp(decl, prefix, len) != 0 || decl[len] != '(')
		return 0;
	*n = strtol(decl + len + 1, &end, 10);
	*s = 0;
	if (*end == ',')
		*s = strtol(end + 1, &end, 10);
	return *end == ')' && *n > 0;
}

/* The characters of UTF-8 text p[0..len). */
static size_t
chars(const char *p, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)p[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Whether value c cannot be coerced to the declared length or precision
 * of decl (format_type's spelling). */
static int
too_big(const struct ks_mapping_col *c, const char *decl)
{
	long n, s;
	double max, half;

	if ((decl_args(decl, "character varying", &n, &s) ||
	    decl_args(decl, "character", &n, &s) ||
	    decl_args(decl, "bit varying", &n, &s)) &&
	    c->type == KS_MAP_T_STRING && c->text != NULL)
		return chars(c->text, c->len) > (size_t)n;
	if (decl_args(decl, "numeric", &n, &s) &&
	    (c->type == KS_MAP_T_INTEGER || c->type == KS_MAP_T_NUMBER ||
	    c->type == KS_MAP_T_INT32 || c->type == KS_MAP_T_FLOAT32)) {
		/* A value overflows when it rounds, at s decimals, to
		 * 10^(n-s) or more. */
		for (max = 1; n > s; n--)
			max *= 10;
		for (half = 0.5; s > 0; s--)
			half /= 10;
		return c->d >= max - half || c->d <= half - max;
	}
	return 0;
}

const char *
map_error_column(const char *state, const char *column, const char *context,
    const struct ks_mapping_row *row, const struct ks_mapping_table *t,
    const struct ks_mapping *m, const char **how)
{
	size_t k, i;

	*how = "";
	if (column != NULL && *column != '\0') {
		*how = "named by the server";
		return column;
	}
	if (state == NULL || strncmp(state, "22", 2) != 0)
		return NULL;
	k = context_param(context);
	if (k > 0 && k <= row->ncols) {
		*how = "whose parameter the server refused";
		return row->cols[k - 1].name;
	}
	if (t == NULL)
		return NULL;
	for (k = 0; k < row->ncols; k++)
		for (i = 0; i < t->ncols; i++)
			if (ks_mapping_same_name(m, row->cols[k].name,
			    t->cols[i].name) && too_big(&row->cols[k],
			    t->cols[i].decl)) {
				*how = "too long or too large for the "
				    "column's declared type";
				return row->cols[k].name;
			}
	return NULL;
}

void
map_error_append(const PGresult *res, const struct ks_mapping_row *row,
    const struct ks_mapping_tables *tables, const struct ks_mapping *m,
    char *errbuf, size_t errlen)
{
	const struct ks_mapping_table *t = NULL;
	const char *col, *how;
	size_t i;

	for (i = 0; tables != NULL && i < tables->n; i++)
		if (strcmp(tables->v[i].name, row->table) == 0)
			t = &tables->v[i];
	col = map_error_column(PQresultErrorField(res, PG_DIAG_SQLSTATE),
	    PQresultErrorField(res, PG_DIAG_COLUMN_NAME),
	    PQresultErrorField(res, PG_DIAG_CONTEXT), row, t, m, &how);
	if (col != NULL)
		ks_err_append(errbuf, errlen, "; column \"%s\" (%s): fix "
		    "that field of the record, or the column's type", col,
		    how);
	else
		ks_err_append(errbuf, errlen, "; the server names no column "
		    "of the row");
}
