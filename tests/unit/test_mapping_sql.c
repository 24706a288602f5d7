/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_mapping_sql.c - connectors/lib/mapsql.c and mapfit.c: the
 * types and classes of columns, quoting, the SQL text of each dialect,
 * and a row fitted to its table against a fake catalogue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mapping-fx.h"

/* ---- types and SQL text ---- */

static void
test_types(void **state)
{
	(void)state;
	assert_string_equal(ks_mapping_sql_type(KS_MAP_SQLITE,
	    KS_MAP_T_INTEGER), "INTEGER");
	assert_string_equal(ks_mapping_sql_type(KS_MAP_POSTGRES,
	    KS_MAP_T_JSON), "jsonb");
	assert_string_equal(ks_mapping_sql_type(KS_MAP_POSTGRES,
	    KS_MAP_T_NUMBER), "double precision");
	assert_int_equal(ks_mapping_class(KS_MAP_SQLITE, "BIGINT"),
	    KS_MAP_T_INTEGER);
	assert_int_equal(ks_mapping_class(KS_MAP_SQLITE, "varchar(20)"),
	    KS_MAP_T_STRING);
	assert_int_equal(ks_mapping_class(KS_MAP_SQLITE, "BOOLEAN"),
	    KS_MAP_T_BOOLEAN);
	assert_int_equal(ks_mapping_class(KS_MAP_SQLITE, "REAL"),
	    KS_MAP_T_NUMBER);
	assert_int_equal(ks_mapping_class(KS_MAP_SQLITE, ""), KS_MAP_T_ANY);
	assert_int_equal(ks_mapping_class(KS_MAP_SQLITE, "BLOB"),
	    KS_MAP_T_ANY);
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES, "jsonb"),
	    KS_MAP_T_JSON);
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES,
	    "character varying(10)"), KS_MAP_T_STRING);
	/* What a column of each class takes from a value of each type. */
	assert_int_equal(ks_mapping_fits(KS_MAP_T_NULL, KS_MAP_T_INTEGER),
	    KS_MAP_FIT);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_INTEGER, KS_MAP_T_NUMBER),
	    KS_MAP_FIT);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_NUMBER, KS_MAP_T_INTEGER),
	    KS_MAP_RETYPE);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_STRING, KS_MAP_T_INTEGER),
	    KS_MAP_MISFIT);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_INTEGER, KS_MAP_T_STRING),
	    KS_MAP_MISFIT);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_JSON, KS_MAP_T_STRING),
	    KS_MAP_FIT);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_BOOLEAN, KS_MAP_T_JSON),
	    KS_MAP_FIT);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_BOOLEAN, KS_MAP_T_INTEGER),
	    KS_MAP_MISFIT);
	assert_int_equal(ks_mapping_fits(KS_MAP_T_STRING, KS_MAP_T_ANY),
	    KS_MAP_FIT);
}

static void
test_quoting(void **state)
{
	struct ks_mapping m = { .quote = 1 };
	struct ks_buf b = { 0 };

	(void)state;
	assert_int_equal(ks_mapping_ident(&b, &m, "Order"), 0);
	ks_buf_addc(&b, ' ');
	assert_int_equal(ks_mapping_ident(&b, &m, "se\"lect"), 0);
	assert_string_equal(b.p, "\"Order\" \"se\"\"lect\"");
	m.quote = 0;
	ks_buf_reset(&b);
	assert_int_equal(ks_mapping_ident(&b, &m, "amount_2"), 0);
	assert_int_equal(ks_mapping_ident(&b, &m, "2x"), -1);
	assert_int_equal(ks_mapping_ident(&b, &m, "a-b"), -1);
	assert_string_equal(b.p, "amount_2");
	ks_buf_free(&b);
}

static const char *
sql(void (*fn)(struct ks_buf *, const struct ks_mapping *,
    const struct ks_mapping_row *), const struct ks_mapping *m,
    const struct ks_mapping_row *row)
{
	static struct ks_buf b;

	ks_buf_reset(&b);
	fn(&b, m, row);
	return b.p;
}

static const char *
dml(const struct ks_mapping *m, const struct ks_mapping_row *row, int op)
{
	static struct ks_buf b;

	ks_buf_reset(&b);
	ks_mapping_sql_dml(&b, m, row, op);
	return b.p;
}

static void
test_sql_text(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };
	struct ks_buf b = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.insert.mode=upsert", "sqlite.table.name.format=Alerts",
	    NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, "{\"User\":\"u\",\"tx\":1}",
	    "{\"select\":1,\"Amount\":2.5,\"note\":null}", &row), KSINK_OK);
	assert_string_equal(sql(ks_mapping_sql_create, &m, &row),
	    "CREATE TABLE \"Alerts\" (\"User\" TEXT NOT NULL, \"tx\" INTEGER "
	    "NOT NULL, \"select\" INTEGER, \"Amount\" REAL, "
	    "PRIMARY KEY (\"User\", \"tx\"))");
	assert_string_equal(dml(&m, &row, KS_MAP_OP_WRITE),
	    "INSERT INTO \"Alerts\" (\"User\", \"tx\", \"select\", \"Amount\", "
	    "\"note\") VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (\"User\", "
	    "\"tx\") DO UPDATE SET \"select\" = excluded.\"select\", "
	    "\"Amount\" = excluded.\"Amount\", \"note\" = excluded.\"note\"");
	assert_string_equal(dml(&m, &row, KS_MAP_OP_DELETE),
	    "DELETE FROM \"Alerts\" WHERE \"User\" = ?1 AND \"tx\" = ?2");
	ks_mapping_sql_add_column(&b, &m, row.table, &row.cols[3]);
	assert_string_equal(b.p, "ALTER TABLE \"Alerts\" ADD COLUMN "
	    "\"Amount\" REAL");
	m.dialect = KS_MAP_POSTGRES;
	assert_string_equal(sql(ks_mapping_sql_create, &m, &row),
	    "CREATE TABLE \"Alerts\" (\"User\" text NOT NULL, \"tx\" bigint "
	    "NOT NULL, \"select\" bigint, \"Amount\" double precision, "
	    "PRIMARY KEY (\"User\", \"tx\"))");
	assert_string_equal(dml(&m, &row, KS_MAP_OP_DELETE),
	    "DELETE FROM \"Alerts\" WHERE \"User\" = $1 AND \"tx\" = $2");
	/* PostgreSQL: a schema-qualified table */
	free(row.table);
	row.table = strdup("Ops.Alerts");
	assert_string_equal(dml(&m, &row, KS_MAP_OP_DELETE),
	    "DELETE FROM \"Ops\".\"Alerts\" WHERE \"User\" = $1 AND "
	    "\"tx\" = $2");
	m.dialect = KS_MAP_SQLITE;
	assert_string_equal(dml(&m, &row, KS_MAP_OP_DELETE),
	    "DELETE FROM \"Ops.Alerts\" WHERE \"User\" = ?1 AND \"tx\" = ?2");
	m.dialect = KS_MAP_POSTGRES;
	free(row.table);
	row.table = strdup("Alerts");
	m.insert_mode = KS_MAP_UPDATE;
	assert_string_equal(dml(&m, &row, KS_MAP_OP_WRITE),
	    "UPDATE \"Alerts\" SET \"select\" = $3, \"Amount\" = $4, "
	    "\"note\" = $5 WHERE \"User\" = $1 AND \"tx\" = $2");
	m.insert_mode = KS_MAP_INSERT;
	assert_string_equal(dml(&m, &row, KS_MAP_OP_WRITE),
	    "INSERT INTO \"Alerts\" (\"User\", \"tx\", \"select\", \"Amount\", "
	    "\"note\") VALUES ($1, $2, $3, $4, $5)");
	/* only the key: nothing to update */
	m.insert_mode = KS_MAP_UPSERT;
	row.ncols = 2;
	assert_string_equal(dml(&m, &row, KS_MAP_OP_WRITE),
	    "INSERT INTO \"Alerts\" (\"User\", \"tx\") VALUES ($1, $2) "
	    "ON CONFLICT (\"User\", \"tx\") DO NOTHING");
	m.insert_mode = KS_MAP_UPDATE;
	assert_string_equal(dml(&m, &row, KS_MAP_OP_WRITE),
	    "UPDATE \"Alerts\" SET \"User\" = $1 WHERE \"User\" = $1 AND "
	    "\"tx\" = $2");
	ks_mapping_free(&m);

	/* unquoted, no key */
	conf(&m, (const char *const[]){ "sqlite.quote.identifiers=false",
	    NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"a\":true}", &row), KSINK_OK);
	assert_string_equal(sql(ks_mapping_sql_create, &m, &row),
	    "CREATE TABLE orders (a BOOLEAN)");
	assert_string_equal(dml(&m, &row, KS_MAP_OP_WRITE),
	    "INSERT INTO orders (a) VALUES (?1)");
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
	ks_buf_free(&b);
}


/* ---- ks_mapping_fit() against the fake catalogue ---- */

static void
test_fit(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_tables tables = { 0 };
	struct ks_buf sql = { 0 };
	struct ks_mapping_db db = fake_db(&m, &tables, &sql);

	(void)state;
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.pk.fields=id", "sqlite.insert.mode=upsert",
	    "sqlite.auto.create=true", "sqlite.auto.evolve=true", NULL },
	    KS_MAP_POSTGRES);

	/* Missing when read, made by another session while this one
	 * waited for the lock: read again, no CREATE. */
	fake_exists = fake_ncols = 0;
	fake_other_creates = 1;
	fake_other_adds = 0;
	ddl_run[0] = logged[0] = '\0';
	assert_int_equal(fit(&db, "\"a\"", "{\"n\":1}"), KSINK_OK);
	assert_string_equal(ddl_run, "");
	assert_non_null(strstr(logged, "table \"orders\" was created by "
	    "another session meanwhile"));

	/* A column the other session added meanwhile: no ALTER. */
	fake_other_creates = 0;
	fake_other_adds = 1;
	logged[0] = '\0';
	assert_int_equal(fit(&db, "\"a\"", "{\"late\":\"x\"}"), KSINK_OK);
	assert_string_equal(ddl_run, "");
	assert_non_null(strstr(logged, "column \"late\" of table \"orders\" "
	    "was added by another session meanwhile"));

	/* A column nobody made: added, once. */
	fake_other_adds = 0;
	assert_int_equal(fit(&db, "\"a\"", "{\"more\":true}"), KSINK_OK);
	assert_string_equal(ddl_run, "ALTER TABLE \"orders\" ADD COLUMN "
	    "\"more\" boolean;");
	assert_int_equal(fit(&db, "\"a\"", "{\"more\":false}"), KSINK_OK);
	assert_string_equal(ddl_run, "ALTER TABLE \"orders\" ADD COLUMN "
	    "\"more\" boolean;");

	/* A fraction for a bigint: a stop naming both types; a string
	 * for it: poison naming record and field. */
	assert_int_equal(fit(&db, "\"a\"", "{\"n\":1.5}"), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "record orders/2@7: field \"n\" holds "
	    "a number (1.5), but column \"n\" of table \"orders\" is bigint: "
	    "the column would have to become double precision"));
	assert_non_null(strstr(errbuf, "ALTER TABLE ... ALTER COLUMN ... TYPE "
	    "double precision"));
	assert_int_equal(fit(&db, "\"a\"", "{\"n\":\"x\"}"), KSINK_POISON);
	assert_non_null(strstr(errbuf, "record orders/2@7: field \"n\" holds "
	    "a string (x), which column \"n\" of table \"orders\" (bigint) "
	    "cannot store"));
	ks_mapping_tables_free(&tables);

	/* Missing, and nobody makes it: created by the row. */
	fake_exists = fake_ncols = 0;
	ddl_run[0] = '\0';
	assert_int_equal(fit(&db, "\"b\"", "{\"n\":2,\"s\":\"t\"}"),
	    KSINK_OK);
	assert_string_equal(ddl_run, "CREATE TABLE \"orders\" (\"id\" text "
	    "NOT NULL, \"n\" bigint, \"s\" text, PRIMARY KEY (\"id\"));");
	ks_mapping_tables_free(&tables);
	ks_mapping_free(&m);
	ks_buf_free(&sql);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_sql_text),
		cmocka_unit_test(test_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
