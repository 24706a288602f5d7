/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_sqloffsets.c - connectors/lib/sqloffsets.c: the one
 * offsets table, the move of an older table's rows into it, and the
 * opening of the database that holds it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ksink/sink.h"

#include "lib/sqloffsets.h"

static char errbuf[512];

static sqlite3 *
db_open(void)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	return db;
}

static void
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static int64_t
get(struct ks_sqloffsets *o, const char *topic, int32_t partition)
{
	int64_t next;

	assert_int_equal(ks_sqloffsets_get(o, topic, partition, &next),
	    SQLITE_OK);
	return next;
}

static int
table_count(sqlite3 *db, const char *name)
{
	sqlite3_stmt *st;
	int n;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM "
	    "sqlite_master WHERE type = 'table' AND name = ?1", -1, &st,
	    NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void
test_get_advance_set(void **state)
{
	struct ks_sqloffsets o, other;
	sqlite3 *db = db_open();

	(void)state;
	assert_int_equal(ks_sqloffsets_create(db, NULL, errbuf,
	    sizeof(errbuf)), SQLITE_OK);
	assert_int_equal(ks_sqloffsets_open(&o, db, "a"), SQLITE_OK);
	assert_int_equal(ks_sqloffsets_open(&other, db, "b"), SQLITE_OK);
	assert_int_equal(get(&o, "t", 0), KSINK_OFFSET_NONE);
	assert_int_equal(ks_sqloffsets_advance(&o, "t", 0, 10), SQLITE_OK);
	assert_int_equal(ks_sqloffsets_advance(&o, "t", 0, 7), SQLITE_OK);
	assert_int_equal(get(&o, "t", 0), 10);	/* never backwards */
	assert_int_equal(get(&other, "t", 0), KSINK_OFFSET_NONE);
	assert_int_equal(ks_sqloffsets_set(&o, "t", 0, 3), SQLITE_OK);
	assert_int_equal(get(&o, "t", 0), 3);	/* a reset lowers */
	assert_int_equal(ks_sqloffsets_set(&o, "t", 0, KSINK_OFFSET_NONE),
	    SQLITE_OK);
	assert_int_equal(get(&o, "t", 0), KSINK_OFFSET_NONE);
	ks_sqloffsets_close(&o);
	ks_sqloffsets_close(&other);
	sqlite3_close(db);
}

/* An older ledger's table: its rows move into ksink_offsets, the higher
 * offset wins where both hold a partition, and the old table goes. */
static void
test_migration(void **state)
{
	struct ks_sqloffsets o;
	sqlite3 *db = db_open();

	(void)state;
	exec(db, "CREATE TABLE ksink_http_offsets (connector TEXT NOT NULL, "
	    "topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset "
	    "INTEGER NOT NULL, PRIMARY KEY (connector, topic, partition));"
	    "INSERT INTO ksink_http_offsets VALUES ('c', 'orders', 0, 1200),"
	    "('c', 'orders', 1, 7), ('d', 'orders', 0, 5);"
	    "CREATE TABLE ksink_offsets(connector TEXT NOT NULL, topic TEXT "
	    "NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT "
	    "NULL, PRIMARY KEY(connector, topic, partition));"
	    "INSERT INTO ksink_offsets VALUES ('c', 'orders', 1, 9);");
	assert_int_equal(ks_sqloffsets_create(db, "ksink_http_offsets", errbuf,
	    sizeof(errbuf)), SQLITE_OK);
	assert_int_equal(table_count(db, "ksink_http_offsets"), 0);
	assert_int_equal(ks_sqloffsets_open(&o, db, "c"), SQLITE_OK);
	assert_int_equal(get(&o, "orders", 0), 1200);
	assert_int_equal(get(&o, "orders", 1), 9);
	ks_sqloffsets_close(&o);
	assert_int_equal(ks_sqloffsets_open(&o, db, "d"), SQLITE_OK);
	assert_int_equal(get(&o, "orders", 0), 5);
	ks_sqloffsets_close(&o);
	/* Again: nothing left to move, nothing changes. */
	assert_int_equal(ks_sqloffsets_create(db, "ksink_http_offsets", errbuf,
	    sizeof(errbuf)), SQLITE_OK);
	assert_int_equal(ks_sqloffsets_open(&o, db, "c"), SQLITE_OK);
	assert_int_equal(get(&o, "orders", 0), 1200);
	ks_sqloffsets_close(&o);
	sqlite3_close(db);
}

/* A move that fails leaves everything where it was: the old table and
 * its rows, and no new table. */
static void
test_migration_atomic(void **state)
{
	sqlite3 *db = db_open();
	sqlite3_stmt *st;

	(void)state;
	/* A NULL next_offset cannot go into ksink_offsets. */
	exec(db, "CREATE TABLE ksink_http_offsets (connector TEXT, topic "
	    "TEXT, partition INTEGER, next_offset INTEGER);"
	    "INSERT INTO ksink_http_offsets VALUES ('c', 't', 0, 4),"
	    "('c', 't', 1, NULL);");
	assert_int_not_equal(ks_sqloffsets_create(db, "ksink_http_offsets",
	    errbuf, sizeof(errbuf)), SQLITE_OK);
	assert_non_null(strstr(errbuf, "moving the offsets"));
	assert_int_equal(table_count(db, "ksink_http_offsets"), 1);
	assert_int_equal(table_count(db, "ksink_offsets"), 0);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM "
	    "ksink_http_offsets", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 2);
	sqlite3_finalize(st);
	assert_true(sqlite3_get_autocommit(db));
	sqlite3_close(db);
}

/* Created when missing, read-write; a failure names the option, the
 * path and what to check. */
static void
test_opendb(void **state)
{
	char dir[] = "/tmp/ksink-sqloffsets-XXXXXX", path[64], bad[80];
	sqlite3 *db = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/db", dir);
	assert_int_equal(ks_sqloffsets_opendb(&db, "sqlite.path", path,
	    errbuf, sizeof(errbuf)), SQLITE_OK);
	assert_int_equal(sqlite3_db_readonly(db, "main"), 0);
	assert_int_equal(ks_sqloffsets_create(db, NULL, errbuf,
	    sizeof(errbuf)), SQLITE_OK);
	assert_int_equal(table_count(db, KS_SQLOFFSETS_TABLE), 1);
	sqlite3_close(db);
	assert_int_equal(access(path, F_OK), 0);

	snprintf(bad, sizeof(bad), "%s/missing/db", dir);
	errbuf[0] = '\0';
	db = NULL;
	assert_int_not_equal(ks_sqloffsets_opendb(&db, "http.state.path",
	    bad, errbuf, sizeof(errbuf)), SQLITE_OK);
	sqlite3_close(db);
	if (strncmp(errbuf, "http.state.path ", 16) != 0 ||
	    strstr(errbuf, bad) == NULL ||
	    strstr(errbuf, "check that its directory exists") == NULL)
		fail_msg("unclear error: %s", errbuf);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_advance_set),
		cmocka_unit_test(test_migration),
		cmocka_unit_test(test_migration_atomic),
		cmocka_unit_test(test_opendb),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
