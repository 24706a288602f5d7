/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_postgres_stmt.c - the SQL text parser of the postgres
 * sink (connectors/postgres/stmt.c): statements split at top-level
 * semicolons, named parameters to $n (one number per field, however often
 * it appears), and what is not a parameter: casts, strings, quoted
 * identifiers, dollar quotes, comments; and which statements are plain
 * inserts or upserts that COPY can apply (connectors/postgres/classify.c).
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

/* Classifies the single statement of sql. */
static enum pg_copy_kind
kind(const char *sql, struct pg_copy_plan *cp)
{
	struct pg_stmt_list l;
	char err[256];

	if (pg_stmt_parse(sql, &l, err, sizeof(err)) != 0)
		fail_msg("\"%s\" refused: %s", sql, err);
	assert_int_equal(l.n, 1);
	if (pg_copy_classify(&l.v[0], cp) == 0)
		assert_int_not_equal(cp->kind, PG_COPY_NONE);
	else {
		assert_int_equal(cp->kind, PG_COPY_NONE);
		assert_true(cp->reason[0] != '\0');
	}
	pg_stmt_free(&l);
	return cp->kind;
}

/* Not plain, and the reason says so. */
static void
not_plain(const char *sql, const char *why)
{
	struct pg_copy_plan cp;

	if (kind(sql, &cp) != PG_COPY_NONE)
		fail_msg("\"%s\" taken for plain", sql);
	if (strstr(cp.reason, why) == NULL)
		fail_msg("\"%s\": \"%s\" does not say \"%s\"", sql,
		    cp.reason, why);
}

static void
test_copy_insert(void **state)
{
	struct pg_copy_plan cp;

	(void)state;
	assert_int_equal(kind("INSERT INTO t (a, b, c) VALUES (:key, "
	    ":offset, :value)", &cp), PG_COPY_INSERT);
	assert_string_equal(cp.table, "t");
	assert_int_equal(cp.ncols, 3);
	assert_string_equal(cp.cols[2], "c");
	/* $1 is :key, $2 :offset, $3 :value */
	assert_int_equal(cp.param[0], 0);
	assert_int_equal(cp.param[1], 1);
	assert_int_equal(cp.param[2], 2);
	assert_null(cp.tail);
	pg_copy_plan_free(&cp);

	/* Casts to type names; the same parameter twice; case. */
	assert_int_equal(kind("insert into T(A, b,c,d) values(:value::jsonb, "
	    ":timestamp::timestamp with time zone, :key::\"char\"[], "
	    ":value::pg_catalog.text)", &cp), PG_COPY_INSERT);
	assert_string_equal(cp.names[0], "a");
	assert_string_equal(cp.cols[0], "A");
	assert_int_equal(cp.param[3], cp.param[0]);
	pg_copy_plan_free(&cp);

	/* Quoted identifiers, a schema, comments and white space. */
	assert_int_equal(kind(" -- load\n INSERT /* into */ INTO "
	    "ops.\"My \"\"T\"\"\" (\"Key\", \"v\")\n\tVALUES (:key, "
	    ":value) ", &cp), PG_COPY_INSERT);
	assert_string_equal(cp.table, "ops.\"My \"\"T\"\"\"");
	assert_string_equal(cp.names[0], "Key");
	assert_string_equal(cp.cols[0], "\"Key\"");
	pg_copy_plan_free(&cp);

	/* The default table's statement. */
	assert_int_equal(kind("INSERT INTO ksink_records(topic, \"partition\", "
	    "\"offset\", \"timestamp\", key, value, headers) VALUES (:topic, "
	    ":partition, :offset, :timestamp, :key, :value, :headers)", &cp),
	    PG_COPY_INSERT);
	assert_string_equal(cp.names[1], "partition");
	pg_copy_plan_free(&cp);
}

static void
test_copy_upsert(void **state)
{
	struct pg_copy_plan cp;

	(void)state;
	assert_int_equal(kind("INSERT INTO t(k, a, b) VALUES (:key, :value, "
	    ":offset) ON CONFLICT (k) DO UPDATE SET a = EXCLUDED.a, "
	    "b = excluded.b", &cp), PG_COPY_UPSERT);
	assert_int_equal(cp.nkeys, 1);
	assert_string_equal(cp.keys[0], "k");
	assert_string_equal(cp.tail, "ON CONFLICT (k) DO UPDATE SET a = "
	    "EXCLUDED.a, b = excluded.b");
	pg_copy_plan_free(&cp);
	/* Composite and quoted keys; a key updated too. */
	assert_int_equal(kind("INSERT INTO t(\"P\", k, a) VALUES "
	    "(:partition, :key, :value::jsonb) ON CONFLICT (\"P\", k) DO UPDATE "
	    "SET a = EXCLUDED.a, k = EXCLUDED.\"k\"", &cp), PG_COPY_UPSERT);
	assert_string_equal(cp.keytexts[0], "\"P\"");
	pg_copy_plan_free(&cp);

	assert_int_equal(kind("INSERT INTO t(k, a) VALUES (:key, :value) "
	    "ON CONFLICT (k) DO NOTHING", &cp), PG_COPY_NOTHING);
	pg_copy_plan_free(&cp);
	assert_int_equal(kind("INSERT INTO t(k, a) VALUES (:key, :value) "
	    "on conflict do nothing", &cp), PG_COPY_NOTHING);
	assert_int_equal(cp.nkeys, 0);
	pg_copy_plan_free(&cp);
}

static void
test_copy_refused(void **state)
{
	(void)state;
	/* An accumulating upsert depends on the row's old value. */
	not_plain("INSERT INTO balances(\"user\", amount) VALUES (:key, "
	    ":offset) ON CONFLICT (\"user\") DO UPDATE SET amount = "
	    "balances.amount + excluded.amount", "EXCLUDED");
	not_plain("INSERT INTO t(k, a) VALUES (:key, :value) ON CONFLICT (k) "
	    "DO UPDATE SET a = EXCLUDED.b", "EXCLUDED");
	not_plain("INSERT INTO t(k, a, b) VALUES (:key, :value, :offset) "
	    "ON CONFLICT (k) DO UPDATE SET a = EXCLUDED.a", "not updated");
	not_plain("INSERT INTO t(k, a) VALUES (:key, :value) ON CONFLICT (k) "
	    "DO UPDATE SET a = EXCLUDED.a WHERE t.a < EXCLUDED.a", "WHERE");
	not_plain("INSERT INTO t(k, a) VALUES (:key, :value) ON CONFLICT ON "
	    "CONSTRAINT t_pkey DO NOTHING", "ON CONSTRAINT");
	not_plain("INSERT INTO t(k, a) VALUES (:key, :value) ON CONFLICT (a) "
	    "WHERE a > 0 DO NOTHING", "predicate");
	not_plain("INSERT INTO t(a) VALUES (:key) ON CONFLICT (k) DO NOTHING",
	    "not inserted");
	not_plain("INSERT INTO t(a) VALUES (:key) RETURNING a", "RETURNING");
	not_plain("INSERT INTO t(a, b) VALUES (:key, 1)", "one parameter");
	not_plain("INSERT INTO t(a, b) VALUES (:key, DEFAULT)",
	    "one parameter");
	not_plain("INSERT INTO t(a) VALUES (convert_from(:key, 'UTF8'))",
	    "one parameter");
	not_plain("INSERT INTO t(a) VALUES (:value::jsonb->>'id')",
	    "more than a cast");
	not_plain("INSERT INTO t(a) VALUES (:key::varchar(5))",
	    "modifier");
	not_plain("INSERT INTO t(a) VALUES (:key), (:value)", "several rows");
	not_plain("INSERT INTO t(a, b) VALUES (:key)", "fewer values");
	not_plain("INSERT INTO t(a) VALUES (:key, :value)", "more values");
	not_plain("INSERT INTO t VALUES (:key)", "no list of columns");
	not_plain("INSERT INTO t AS x (a) VALUES (:key)", "alias");
	not_plain("INSERT INTO t(a) SELECT :key", "VALUES");
	not_plain("INSERT INTO t(a) OVERRIDING SYSTEM VALUE VALUES (:key)",
	    "VALUES");
	not_plain("WITH x AS (SELECT 1) INSERT INTO t(a) VALUES (:key)",
	    "not an INSERT");
	not_plain("UPDATE t SET a = :value", "not an INSERT");
	not_plain("INSERT INTO t(ksink_seq) VALUES (:key)", "ksink_seq");
	not_plain("INSERT INTO t(a) VALUES (:key) ON CONFLICT (a) DO UPDATE "
	    "SET (a) = (EXCLUDED.a)", "EXCLUDED");
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
		cmocka_unit_test(test_copy_insert),
		cmocka_unit_test(test_copy_upsert),
		cmocka_unit_test(test_copy_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
