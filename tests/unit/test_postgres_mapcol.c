/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_postgres_mapcol.c - the column of a mapped row that
 * PostgreSQL refused (connectors/postgres/mapcol.c), from the error's
 * fields as a PostgreSQL 15 server sends them: the column field of a
 * constraint error, the "parameter $N" of the context of a parameter
 * that does not convert, and the row's values checked again against the
 * declared types for the errors that name neither.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/mapping.h"
#include "postgres/mapcol.h"

static struct ks_mapping m = { .dialect = KS_MAP_POSTGRES, .quote = 1 };

/* A row of table "t": "user" (key), "amount", "note", "price". */
static struct ks_mapping_col cols[] = {
	{ .name = "user", .type = KS_MAP_T_STRING, .text = "u1", .len = 2,
	  .pk = 1 },
	{ .name = "amount", .type = KS_MAP_T_INTEGER, .text = "99999999999",
	  .len = 11, .i = 99999999999LL, .d = 99999999999.0 },
	{ .name = "note", .type = KS_MAP_T_STRING, .text = "h\xc3\xa9llo",
	  .len = 6 },
	{ .name = "price", .type = KS_MAP_T_NUMBER, .text = "999.96",
	  .len = 6, .d = 999.96 },
};
static struct ks_mapping_row row = { .table = "t", .cols = cols,
	.ncols = 4, .npk = 1 };

static struct ks_mapping_tcol tcols[] = {
	{ .name = "user", .decl = "text", .cls = KS_MAP_T_STRING },
	{ .name = "amount", .decl = "integer", .cls = KS_MAP_T_INTEGER },
	{ .name = "note", .decl = "character varying(5)",
	  .cls = KS_MAP_T_STRING },
	{ .name = "price", .decl = "numeric(5,1)", .cls = KS_MAP_T_NUMBER },
};
static struct ks_mapping_table table = { .name = "t", .exists = 1,
	.cols = tcols, .ncols = 4 };

static const char *
col(const char *state, const char *column, const char *context,
    const struct ks_mapping_table *t)
{
	const char *how;

	return map_error_column(state, column, context, &row, t, &m, &how);
}

static void
test_column_field(void **state)
{
	(void)state;
	/* 23502: null value in column "c" violates not-null constraint. */
	assert_string_equal(col("23502", "c", NULL, &table), "c");
	/* A constraint error without a column: none. */
	assert_null(col("23514", NULL, NULL, &table));
}

static void
test_parameter(void **state)
{
	(void)state;
	/* 22003 value "99999999999" is out of range for type integer. */
	assert_string_equal(col("22003", NULL,
	    "unnamed portal parameter $2 = '...'", &table), "amount");
	assert_string_equal(col("22P02", NULL,
	    "portal \"p\" parameter $3", NULL), "note");
	assert_string_equal(col("22P02", NULL,
	    "unnamed portal parameter $1 = 'x'", NULL), "user");
	/* A parameter the row does not have, or no number. */
	assert_null(col("22P02", NULL, "unnamed portal parameter $9", NULL));
	assert_null(col("22P02", NULL, "unnamed portal parameter $", NULL));
	/* Not a data error: the context is not trusted. */
	assert_null(col("42804", NULL, "unnamed portal parameter $2", NULL));
}

static void
test_declared(void **state)
{
	(void)state;
	/* 22001 value too long for type character varying(5): "héllo"
	 * is 5 characters (6 bytes), so it fits; the price of 999.96
	 * rounds to 1000.0, past numeric(5,1)... which holds 9999.9. */
	assert_null(col("22001", NULL, NULL, &table));
	tcols[2].decl = "character varying(4)";
	assert_string_equal(col("22001", NULL, NULL, &table), "note");
	tcols[2].decl = "character varying(5)";
	tcols[3].decl = "numeric(4,1)";
	/* 22003 numeric field overflow: 999.96 rounds to 1000.0. */
	assert_string_equal(col("22003", NULL, NULL, &table), "price");
	tcols[3].decl = "numeric(4,2)";
	assert_string_equal(col("22003", NULL, NULL, &table), "price");
	tcols[3].decl = "numeric(5,1)";
	assert_null(col("22003", NULL, NULL, &table));
	/* Without the table, nothing to check against. */
	assert_null(col("22001", NULL, NULL, NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_column_field),
		cmocka_unit_test(test_parameter),
		cmocka_unit_test(test_declared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
