/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_sqlite_sql.c - the SQLite sink's statements
 * (connectors/sqlite/sql.c): the default table, several statements and
 * a statement file, the named parameters (tombstones, headers, text or
 * blob), a poison record told apart from a failing statement, and the
 * SQL options refused.  Driven through the plugin's descriptor and the
 * daemon's host services; results are checked with a separate SQLite
 * connection (tests/unit/sqlite-fx.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ksink/sink.h"

#include "options.h"
#include "sink.h"
#include "testing.h"

#include "sqlite-fx.h"

static void
test_default_table(void **state)
{
	struct fx *fx = *state;
	struct ksink_header h = { "trace", "abc", 3 };
	struct ksink_record r[3];
	char buf[256];
	void *sink;

	sink = open_ok(fx, &fx->ctx);
	r[0] = rec(0, 7, "{\"a\":1}");
	r[0].key = "k1";
	r[0].key_len = 2;
	r[0].timestamp = 1700000000123;
	r[0].headers = &h;
	r[0].header_count = 1;
	r[1] = rec(0, 9, NULL);
	r[2] = rec(3, 100, "");
	apply(fx, sink, r, 3);
	fx->desc->close(sink);

	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_records"), 3);
	assert_string_equal(q_text(fx, "SELECT value || '|' || key || '|' || "
	    "timestamp || '|' || headers || '|' || typeof(value) FROM "
	    "ksink_records WHERE topic = 't' AND partition = 0 AND "
	    "\"offset\" = 7", buf, sizeof(buf)),
	    "{\"a\":1}|k1|1700000000123|"
	    "[{\"key\":\"trace\",\"value\":\"abc\",\"value_encoding\":"
	    "\"string\"}]|text");
	assert_string_equal(q_text(fx, "SELECT typeof(value) || typeof(key) "
	    "|| typeof(timestamp) || typeof(headers) FROM ksink_records "
	    "WHERE \"offset\" = 9", buf, sizeof(buf)), "nullnullnullnull");
	assert_string_equal(q_text(fx, "SELECT typeof(value) || length(value) "
	    "FROM ksink_records WHERE \"offset\" = 100", buf, sizeof(buf)),
	    "text0");
	assert_int_equal(q_int(fx, "SELECT next_offset FROM ksink_offsets "
	    "WHERE connector = 'conn' AND topic = 't' AND partition = 0"),
	    10);
	assert_int_equal(q_int(fx, "SELECT next_offset FROM ksink_offsets "
	    "WHERE connector = 'conn' AND topic = 't' AND partition = 3"),
	    101);
	assert_string_equal(q_text(fx, "PRAGMA journal_mode", buf,
	    sizeof(buf)), "wal");
}

static void
test_multi_statement(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[2];
	char buf[256];
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init",
	    "CREATE TABLE IF NOT EXISTS a(o INTEGER, v TEXT);\n"
	    "CREATE TABLE IF NOT EXISTS b(k TEXT, p INTEGER, ts INTEGER)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO a VALUES (:offset, :value);\n"
	    "  -- a comment between the statements\n"
	    "INSERT INTO b VALUES (@key, $partition, :timestamp);\n");
	sink = open_ok(fx, &fx->ctx);
	r[0] = rec(1, 5, "x");
	r[0].key = "kk";
	r[0].key_len = 2;
	r[0].timestamp = 42;
	r[1] = rec(1, 6, "y");
	apply(fx, sink, r, 2);
	fx->desc->close(sink);

	assert_string_equal(q_text(fx, "SELECT group_concat(o || v, ',') "
	    "FROM (SELECT * FROM a ORDER BY o)", buf, sizeof(buf)),
	    "5x,6y");
	assert_string_equal(q_text(fx, "SELECT group_concat(ifnull(k, '-') "
	    "|| p || ifnull(ts, '-'), ',') FROM b", buf, sizeof(buf)),
	    "kk142,-1-");
	/* The default table exists only when the default statement is
	 * used. */
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sqlite_master "
	    "WHERE name = 'ksink_records'"), 0);
}

static void
test_statement_file(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r = rec(0, 0, "from-file");
	char path[160], err[512];
	FILE *fp;
	void *sink;

	snprintf(path, sizeof(path), "%s/stmt.sql", fx->dir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("INSERT INTO f VALUES (:value); ; \n", fp);
	fclose(fp);
	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE f(v)");
	ctx_set(&fx->ctx, "sqlite.statement.file", path);
	sink = open_ok(fx, &fx->ctx);
	apply(fx, sink, &r, 1);
	fx->desc->close(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM f WHERE v = "
	    "'from-file'"), 1);

	/* Both the statement and its file: refused. */
	ctx_set(&fx->ctx, "sqlite.statement", "INSERT INTO f VALUES (:value)");
	assert_int_equal(open_err(fx, &fx->ctx, err, sizeof(err)),
	    KSINK_CONFIG);
	assert_non_null(strstr(err, "sqlite.statement.file"));
}

static void
test_statement_file_missing(void **state)
{
	struct fx *fx = *state;
	char err[512];

	ctx_set(&fx->ctx, "sqlite.statement.file", "/nonexistent/x.sql");
	assert_int_equal(open_err(fx, &fx->ctx, err, sizeof(err)),
	    KSINK_CONFIG);
	assert_non_null(strstr(err, "/nonexistent/x.sql"));
}

static void
test_tombstone_without_delete(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[2];
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE kv(k, v)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO kv VALUES (:key, :value)");
	sink = open_ok(fx, &fx->ctx);
	r[0] = rec(0, 0, "v1");
	r[1] = rec(0, 1, NULL);
	r[0].key = r[1].key = "k1";
	r[0].key_len = r[1].key_len = 2;
	apply(fx, sink, r, 2);
	fx->desc->close(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM kv"), 2);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM kv WHERE k = 'k1' "
	    "AND v IS NULL"), 1);
}

static void
test_tombstone_with_delete(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[4];
	char buf[128];
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE kv(k PRIMARY KEY, v);"
	    "CREATE TABLE log(what)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO kv VALUES (:key, :value) ON CONFLICT(k) DO UPDATE "
	    "SET v = excluded.v;INSERT INTO log VALUES ('put')");
	ctx_set(&fx->ctx, "sqlite.delete.statement",
	    "DELETE FROM kv WHERE k = :key;INSERT INTO log VALUES ('del')");
	sink = open_ok(fx, &fx->ctx);
	r[0] = rec(0, 0, "v1");
	r[1] = rec(0, 1, "v2");
	r[2] = rec(0, 2, NULL);
	r[3] = rec(0, 3, "v3");
	r[0].key = r[2].key = "k1";
	r[1].key = r[3].key = "k2";
	r[0].key_len = r[1].key_len = r[2].key_len = r[3].key_len = 2;
	apply(fx, sink, r, 4);
	fx->desc->close(sink);
	assert_string_equal(q_text(fx, "SELECT group_concat(k || '=' || v) "
	    "FROM kv", buf, sizeof(buf)), "k2=v3");
	assert_string_equal(q_text(fx, "SELECT group_concat(what) FROM "
	    "(SELECT what FROM log ORDER BY rowid)", buf, sizeof(buf)),
	    "put,put,del,put");
}

static void
test_headers_json(void **state)
{
	struct fx *fx = *state;
	struct ksink_header h[4] = {
		{ "plain", "v", 1 },
		{ "none", NULL, 0 },
		{ "bin", "\xde\xad\xbe\xef", 4 },
		{ "q\"\\\n\x01\xc3\xa9", "\"\t\xe2\x82\xac", 5 },
	};
	struct ksink_record r[2];
	char buf[512];
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE hd(o, h)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO hd VALUES (:offset, :headers)");
	sink = open_ok(fx, &fx->ctx);
	r[0] = rec(0, 0, "x");
	r[0].headers = h;
	r[0].header_count = 4;
	r[1] = rec(0, 1, "y");
	apply(fx, sink, r, 2);
	fx->desc->close(sink);

	assert_string_equal(q_text(fx, "SELECT h FROM hd WHERE o = 0", buf,
	    sizeof(buf)),
	    "[{\"key\":\"plain\",\"value\":\"v\",\"value_encoding\":"
	    "\"string\"},{\"key\":\"none\",\"value\":null},"
	    "{\"key\":\"bin\",\"value\":\"3q2+7w==\",\"value_encoding\":"
	    "\"base64\"},{\"key\":\"q\\\"\\\\\\n\\u0001\xc3\xa9\","
	    "\"value\":\"\\\"\\t\xe2\x82\xac\",\"value_encoding\":"
	    "\"string\"}]");
	assert_int_equal(q_int(fx, "SELECT json_valid(h) FROM hd WHERE "
	    "o = 0"), 1);
	assert_string_equal(q_text(fx, "SELECT json_extract(h, '$[3].key') "
	    "FROM hd WHERE o = 0", buf, sizeof(buf)),
	    "q\"\\\n\x01\xc3\xa9");
	/* No headers: NULL. */
	assert_string_equal(q_text(fx, "SELECT typeof(h) FROM hd WHERE o = 1",
	    buf, sizeof(buf)), "null");
}

static void
test_utf8_text_or_blob(void **state)
{
	static const struct {
		const char *v;
		size_t len;
		const char *type;
	} cases[] = {
		{ "plain ascii value, longer than eight", 36, "text" },
		{ "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", 15, "text" },
		{ "\xff\xfe", 2, "blob" },
		{ "abc\0def", 7, "blob" },          /* NUL */
		{ "abcdefghij\0", 11, "blob" },     /* NUL in the fast path */
		{ "\xc0\x80", 2, "blob" },          /* overlong NUL */
		{ "\xed\xa0\x80", 3, "blob" },      /* surrogate */
		{ "\xf4\x90\x80\x80", 4, "blob" },  /* above U+10FFFF */
		{ "abc\xe2\x82", 5, "blob" },       /* truncated */
	};
	struct fx *fx = *state;
	struct ksink_record r[sizeof(cases) / sizeof(cases[0])];
	char sql[160], want[64], got[64];
	size_t i, n = sizeof(cases) / sizeof(cases[0]);
	void *sink;

	sink = open_ok(fx, &fx->ctx);
	for (i = 0; i < n; i++) {
		r[i] = rec(0, i, NULL);
		r[i].value = cases[i].v;
		r[i].value_len = cases[i].len;
		r[i].key = cases[i].v;
		r[i].key_len = cases[i].len;
	}
	apply(fx, sink, r, n);
	fx->desc->close(sink);
	for (i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql), "SELECT typeof(value) || '/' || "
		    "typeof(key) || '/' || length(CAST(value AS BLOB)) "
		    "FROM ksink_records WHERE \"offset\" = %zu", i);
		snprintf(want, sizeof(want), "%s/%s/%zu", cases[i].type,
		    cases[i].type, cases[i].len);
		assert_string_equal(q_text(fx, sql, got, sizeof(got)), want);
	}
}

static void
test_poison_constraint(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[5];
	struct ksink_offset off = { "t", 0, 5 };
	char err[256], buf[64];
	size_t done = 99, i;
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE c(o INTEGER, "
	    "v TEXT NOT NULL CHECK (v <> 'bad'))");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO c VALUES (:offset, :value)");
	sink = open_ok(fx, &fx->ctx);
	for (i = 0; i < 5; i++)
		r[i] = rec(0, i, i == 2 ? "bad" : "ok");

	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 5, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 2);
	assert_non_null(strstr(err, "CHECK constraint failed"));
	assert_non_null(strstr(err, "sqlite.statement"));
	/* The worker skips the record and goes on in the same step. */
	assert_int_equal(fx->desc->write(sink, r + 3, 2, &done, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(done, 2);
	assert_int_equal(fx->desc->commit(sink, &off, 1, err, sizeof(err)),
	    KSINK_OK);
	fx->desc->close(sink);
	assert_string_equal(q_text(fx, "SELECT group_concat(o, ',') FROM "
	    "(SELECT o FROM c ORDER BY o)", buf, sizeof(buf)), "0,1,3,4");
	assert_int_equal(q_int(fx, "SELECT next_offset FROM ksink_offsets"), 5);
}

static void
test_poison_multi_statement_undone(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[3] = { rec(0, 0, "1"), rec(0, 1, "1"),
		rec(0, 2, "2") };
	struct ksink_offset off = { "t", 0, 3 };
	char err[256], buf[64];
	size_t done = 99;
	void *sink;

	/* The first statement always succeeds, the second fails for a
	 * duplicate value: the first one's effect must be undone. */
	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE every(o);"
	    "CREATE TABLE uniq(v UNIQUE)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO every VALUES (:offset);"
	    "INSERT INTO uniq VALUES (:value)");
	sink = open_ok(fx, &fx->ctx);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 3, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 1);
	assert_non_null(strstr(err, "UNIQUE constraint failed"));
	assert_non_null(strstr(err, "statement 2 of 2"));
	assert_int_equal(fx->desc->write(sink, r + 2, 1, &done, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->commit(sink, &off, 1, err, sizeof(err)),
	    KSINK_OK);
	fx->desc->close(sink);
	assert_string_equal(q_text(fx, "SELECT group_concat(o, ',') FROM "
	    "(SELECT o FROM every ORDER BY o)", buf, sizeof(buf)), "0,2");
	assert_int_equal(q_int(fx, "SELECT count(*) FROM uniq"), 2);
}

/* The balance ledger of ksink-sqlite(7). */
static void
test_poison_malformed_json(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[4] = {
		rec(0, 0, "{\"user\":\"ann\",\"amount\":5}"),
		rec(0, 1, "not json"),
		rec(0, 2, "{\"amount\":3}"),
		rec(0, 3, "{\"user\":\"ann\",\"amount\":7}"),
	};
	struct ksink_offset off = { "t", 0, 4 };
	char err[256];
	size_t done = 99;
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE IF NOT EXISTS balances("
	    "user TEXT NOT NULL PRIMARY KEY, amount INTEGER NOT NULL)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO balances(user, amount) VALUES "
	    "(json_extract(:value,'$.user'), json_extract(:value,'$.amount'))\n"
	    "ON CONFLICT(user) DO UPDATE SET amount = amount + "
	    "excluded.amount");
	sink = open_ok(fx, &fx->ctx);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 4, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 1);
	assert_non_null(strstr(err, "malformed JSON"));
	assert_int_equal(fx->desc->write(sink, r + 2, 2, &done, err,
	    sizeof(err)), KSINK_POISON);
	assert_int_equal(done, 0);
	assert_non_null(strstr(err, "NOT NULL constraint failed"));
	assert_int_equal(fx->desc->write(sink, r + 3, 1, &done, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->commit(sink, &off, 1, err, sizeof(err)),
	    KSINK_OK);
	fx->desc->close(sink);
	assert_int_equal(q_int(fx, "SELECT amount FROM balances WHERE "
	    "user = 'ann'"), 12);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM balances"), 1);
}

/* A statement that rolls back the whole transaction cannot be poison:
 * the records before it are gone. */
static void
test_fatal_statement_rolled_back(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[3] = { rec(0, 0, "a"), rec(0, 1, "a"),
		rec(0, 2, "b") };
	struct ksink_offset off = { "t", 0, 3 };
	char err[512];
	size_t done = 99;
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE u(v UNIQUE)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT OR ROLLBACK INTO u VALUES (:value)");
	sink = open_ok(fx, &fx->ctx);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 3, &done, err, sizeof(err)),
	    KSINK_FATAL);
	assert_int_equal(done, 1);
	assert_non_null(strstr(err, "UNIQUE constraint failed"));
	assert_non_null(strstr(err, "rolled back the whole transaction"));
	/* Offsets are never stored outside the transaction. */
	assert_int_equal(fx->desc->commit(sink, &off, 1, err, sizeof(err)),
	    KSINK_RETRY);
	fx->desc->abort(sink);
	fx->desc->close(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM u"), 0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_offsets"), 0);
}

static void
test_config_unknown_parameter(void **state)
{
	struct fx *fx = *state;
	struct conf c2 = { .name = "conn" };
	char err[512];

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE p(a, b)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO p VALUES (:value, :bogus)");
	assert_int_equal(open_err(fx, &fx->ctx, err, sizeof(err)),
	    KSINK_CONFIG);
	assert_non_null(strstr(err, ":bogus"));
	assert_non_null(strstr(err, "sqlite.statement"));

	ctx_set(&c2, "sqlite.path", fx->db);
	ctx_set(&c2, "sqlite.delete.statement",
	    "DELETE FROM ksink_records WHERE key = $keyy");
	assert_int_equal(open_err(fx, &c2, err, sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "$keyy"));
	assert_non_null(strstr(err, "sqlite.delete.statement"));

	c2.n = 1;
	ctx_set(&c2, "sqlite.statement", "INSERT INTO p VALUES (?, :value)");
	assert_int_equal(open_err(fx, &c2, err, sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "positional"));
}

static void
test_config_bad_sql(void **state)
{
	struct fx *fx = *state;
	struct conf c = { .name = "conn" };
	char err[512];

	ctx_set(&c, "sqlite.path", fx->db);
	ctx_set(&c, "sqlite.statement", "INSERT INTO nowhere VALUES (:value)");
	assert_int_equal(open_err(fx, &c, err, sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "no such table: nowhere"));
	assert_non_null(strstr(err, "sqlite.statement"));

	c.values[1] = "INSERT INTO ksink_offsets(connector) VALUES (:value);"
	    "INSRT 1";
	assert_int_equal(open_err(fx, &c, err, sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "statement 2"));
	assert_non_null(strstr(err, "syntax error"));

	c.values[1] = "  -- only a comment\n ; ";
	assert_int_equal(open_err(fx, &c, err, sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "no SQL statement"));

	c.values[1] = "INSERT INTO ksink_offsets VALUES ('', '', 0, 0);COMMIT";
	assert_int_equal(open_err(fx, &c, err, sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "COMMIT is not allowed"));

	c.n = 1;
	ctx_set(&c, "sqlite.init", "CREATE TABLEX oops");
	assert_int_equal(open_err(fx, &c, err, sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "sqlite.init"));
	assert_non_null(strstr(err, "syntax error"));
}

static void
test_fatal_schema_changed(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r = rec(0, 0, "x");
	char err[512];
	size_t done = 99;
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE gone(v)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO gone VALUES (:value)");
	sink = open_ok(fx, &fx->ctx);
	q_exec(fx, "DROP TABLE gone");
	/* Every record would fail: not a poison record but fatal. */
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, &r, 1, &done, err,
	    sizeof(err)), KSINK_FATAL);
	assert_int_equal(done, 0);
	assert_non_null(strstr(err, "no such table: gone"));
	fx->desc->abort(sink);
	fx->desc->close(sink);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default_table),
		T(test_multi_statement),
		T(test_statement_file),
		T(test_statement_file_missing),
		T(test_tombstone_without_delete),
		T(test_tombstone_with_delete),
		T(test_headers_json),
		T(test_utf8_text_or_blob),
		T(test_poison_constraint),
		T(test_poison_multi_statement_undone),
		T(test_poison_malformed_json),
		T(test_fatal_statement_rolled_back),
		T(test_config_unknown_parameter),
		T(test_config_bad_sql),
		T(test_fatal_schema_changed),
	};

	return cmocka_run_group_tests_name("sqlite_sql", tests, NULL, NULL);
}
