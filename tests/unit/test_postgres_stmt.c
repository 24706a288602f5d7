/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_postgres_stmt.c - the SQL text parser of the postgres
 * sink (connectors/postgres/stmt.c): statements split at top-level
 * semicolons, named parameters to $n (one number per field, however often
 * it appears), and what is not a parameter: casts, strings, quoted
 * identifiers, dollar quotes, comments.
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

#include "postgres/stmt.h"

/* Parses sql into exactly one statement and checks its text. */
static void
one(const char *sql, const char *want, int nparams)
{
	struct pg_stmt_list l;
	char err[256];

	if (pg_stmt_parse(sql, &l, err, sizeof(err)) != 0)
		fail_msg("\"%s\" refused: %s", sql, err);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].sql, want);
	assert_int_equal(l.v[0].nparams, nparams);
	pg_stmt_free(&l);
}

static void
bad(const char *sql, const char *msg)
{
	struct pg_stmt_list l;
	char err[256] = "";

	if (pg_stmt_parse(sql, &l, err, sizeof(err)) != -1)
		fail_msg("\"%s\" accepted", sql);
	if (strstr(err, msg) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", sql, err, msg);
}

static void
test_params(void **state)
{
	struct pg_stmt_list l;
	char err[256];

	(void)state;
	one("INSERT INTO t VALUES (:topic, :partition, :offset)",
	    "INSERT INTO t VALUES ($1, $2, $3)", 3);
	/* The same field twice is one parameter; @name too. */
	one("SELECT :value, @value, :key", "SELECT $1, $1, $2", 2);
	assert_int_equal(pg_stmt_parse("SELECT :key, :value::jsonb->>'x', "
	    ":headers", &l, err, sizeof(err)), 0);
	assert_int_equal(l.v[0].field[0], PG_F_KEY);
	assert_int_equal(l.v[0].field[1], PG_F_VALUE);
	assert_int_equal(l.v[0].field[2], PG_F_HEADERS);
	pg_stmt_free(&l);
}

static void
test_not_params(void **state)
{
	(void)state;
	one("SELECT x::text, ':value', \":value\", E'\\':value', "
	    "$$ :value $$, $a$ :value $a$ -- :value\n FROM t /* :v /* n */ */",
	    "SELECT x::text, ':value', \":value\", E'\\':value', "
	    "$$ :value $$, $a$ :value $a$ \n FROM t  ", 0);
	/* PostgreSQL's @ operators and array slices stay. */
	one("SELECT @ -5, a @> b", "SELECT @ -5, a @> b", 0);
	one("SELECT 'it''s :key'", "SELECT 'it''s :key'", 0);
}

static void
test_split(void **state)
{
	struct pg_stmt_list l;
	char err[256];

	(void)state;
	assert_int_equal(pg_stmt_parse("INSERT INTO a VALUES (:value); "
	    "SELECT ';'; ; -- last\n", &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].sql, "INSERT INTO a VALUES ($1)");
	assert_int_equal(l.v[0].nparams, 1);
	assert_string_equal(l.v[1].sql, " SELECT ';'");
	assert_int_equal(l.v[1].nparams, 0);
	pg_stmt_free(&l);
}

static void
test_refused(void **state)
{
	(void)state;
	bad("SELECT :nope", "unknown parameter :nope");
	bad("SELECT $1", "positional parameter");
	bad("SELECT 'open", "unterminated string");
	bad("SELECT \"open", "unterminated quoted identifier");
	bad("SELECT $x$ open", "unterminated $x$ string");
	bad("  -- only\n /* comments */ ;", "no SQL statement");
	bad("INSERT INTO a VALUES (1); commit", "COMMIT is not allowed");
	bad("begin; INSERT INTO a VALUES (1)", "BEGIN is not allowed");
	bad("SAVEPOINT x", "SAVEPOINT is not allowed");
}

static void
test_table(void **state)
{
	(void)state;
	assert_true(pg_stmt_valid_table("ksink_offsets"));
	assert_true(pg_stmt_valid_table("ops.ksink_offsets"));
	assert_true(pg_stmt_valid_table("db.ops.\"Offsets Table\""));
	assert_false(pg_stmt_valid_table(""));
	assert_false(pg_stmt_valid_table("a;b"));
	assert_false(pg_stmt_valid_table("a.b.c.d"));
	assert_false(pg_stmt_valid_table("\"a\"\";drop"));
	assert_false(pg_stmt_valid_table("a."));
	assert_false(pg_stmt_valid_table("1abc"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_not_params),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
