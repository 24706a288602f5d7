/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/mapcol.h - the column of a mapped row that the
 * server refused (mapcol.c).
 */
#ifndef KS_PG_MAPCOL_H
#define KS_PG_MAPCOL_H

#include <libpq-fe.h>

#include "../lib/mapping.h"

/*
 * The name of the column of row that the server's error is about, or
 * NULL when none can be told.  state, column and context are the error's
 * SQLSTATE, column name and context fields (each may be NULL); t is what
 * is known of the row's table (NULL for nothing).  *how says how the
 * column was found, for the message.
 */
const char *map_error_column(const char *state, const char *column,
	    const char *context, const struct ks_mapping_row *row,
	    const struct ks_mapping_table *t, const struct ks_mapping *m,
	    const char **how);

/* Appends to errbuf the column of row that res, the server's refusal of
 * it, is about (its table looked up in tables). */
void	map_error_append(const PGresult *res, const struct ks_mapping_row *row,
	    const struct ks_mapping_tables *tables, const struct ks_mapping *m,
	    char *errbuf, size_t errlen);

#endif
