/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_sqlite_map.c - the SQLite sink's table mapping mode
 * (connectors/sqlite/map.c), driven through its descriptor and the
 * daemon's host services: auto.create and auto.evolve inside the batch's
 * transaction, upserts and deletes by key, a poison record found exactly
 * in a reduced batch, the stops, check(), and typed columns from the
 * schemas host->decoded() gives.
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

#include "decoded-fx.h"
#include "sqlite-fx.h"

static struct ksink_record
krec(int64_t offset, const char *key, const char *value)
{
	struct ksink_record r = {
		.topic = "alerts",
		.partition = 0,
		.offset = offset,
		.timestamp = -1,
		.key = key,
		.key_len = key ? strlen(key) : 0,
		.value = value,
		.value_len = value ? strlen(value) : 0,
	};
	return r;
}

static void
upsert_conf(struct fx *fx)
{
	ctx_set(&fx->ctx, "sqlite.insert.mode", "upsert");
	ctx_set(&fx->ctx, "sqlite.pk.mode", "record_key");
	ctx_set(&fx->ctx, "sqlite.delete.enabled", "true");
	ctx_set(&fx->ctx, "sqlite.auto.create", "true");
	ctx_set(&fx->ctx, "sqlite.auto.evolve", "true");
}

/* All rows of the table alerts, as "user,Amount,select,extra;". */
static const char *
rows(struct fx *fx)
{
	static char buf[1024];

	return q_text(fx, "SELECT group_concat(r, ';') FROM (SELECT "
	    "\"user\" || ',' || \"Amount\" || ',' || coalesce(\"select\", "
	    "'-') || ',' || coalesce(extra, '-') AS r FROM alerts ORDER BY 1)",
	    buf, sizeof(buf));
}

static void
test_create_upsert_delete_evolve(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[8];
	char buf[512];
	void *sink;

	upsert_conf(fx);
	sink = open_ok(fx, &fx->ctx);
	/* Repeated keys in one batch, a delete after an insert, a
	 * reserved word and a mixed-case name. */
	r[0] = krec(0, "{\"user\":\"a\"}", "{\"Amount\":1,\"select\":\"x\"}");
	r[1] = krec(1, "{\"user\":\"b\"}", "{\"Amount\":2,\"select\":\"y\"}");
	r[2] = krec(2, "{\"user\":\"a\"}", "{\"Amount\":3,\"select\":\"z\"}");
	r[3] = krec(3, "{\"user\":\"b\"}", NULL);
	r[4] = krec(4, "{\"user\":\"c\"}", "{\"Amount\":5,\"select\":null}");
	apply(fx, sink, r, 5);
	assert_string_equal(q_text(fx, "SELECT group_concat(r, ';') FROM "
	    "(SELECT \"user\" || ',' || \"Amount\" || ',' || "
	    "coalesce(\"select\", '-') AS r FROM alerts ORDER BY 1)", buf,
	    sizeof(buf)), "a,3,z;c,5,-");
	assert_string_equal(q_text(fx, "SELECT sql FROM sqlite_schema WHERE "
	    "name = 'alerts'", buf, sizeof(buf)), "CREATE TABLE \"alerts\" "
	    "(\"user\" TEXT NOT NULL, \"Amount\" INTEGER, \"select\" TEXT, "
	    "PRIMARY KEY (\"user\"))");
	assert_int_equal(q_int(fx, "SELECT next_offset FROM ksink_offsets"),
	    5);

	/* A field that appears: a nullable column, added in the batch. */
	r[0] = krec(5, "{\"user\":\"b\"}", "{\"Amount\":6,\"select\":\"w\","
	    "\"extra\":{\"n\":[1]}}");
	r[1] = krec(6, "{\"user\":\"a\"}", "{\"Amount\":7}");
	apply(fx, sink, r, 2);
	assert_string_equal(rows(fx), "a,7,z,-;b,6,w,{\"n\":[1]};c,5,-,-");
	fx->desc->close(sink);
}

static void
test_rollback_forgets_ddl(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[2];
	char err[512];
	size_t done;
	void *sink;

	upsert_conf(fx);
	sink = open_ok(fx, &fx->ctx);
	r[0] = krec(0, "{\"user\":\"a\"}", "{\"Amount\":1}");
	r[1] = krec(1, "{\"user\":\"a\"}", "{\"extra\":\"e\"}");
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 2, &done, err, sizeof(err)),
	    KSINK_OK);
	fx->desc->abort(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'alerts'"), 0);
	/* The table and its column come back with the batch. */
	apply(fx, sink, r, 2);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM alerts WHERE extra "
	    "= 'e' AND \"Amount\" = 1"), 1);
	fx->desc->close(sink);
}

static void
test_poison_in_reduced_batch(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[6];
	struct ksink_offset off = { "alerts", 0, 6 };
	char err[512];
	size_t done = 99;
	void *sink;

	upsert_conf(fx);
	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE IF NOT EXISTS "
	    "alerts(\"user\" TEXT PRIMARY KEY, \"Amount\" INTEGER CHECK "
	    "(\"Amount\" >= 0), \"select\" TEXT, extra TEXT)");
	sink = open_ok(fx, &fx->ctx);
	r[0] = krec(0, "{\"user\":\"a\"}", "{\"Amount\":1}");
	r[1] = krec(1, "{\"user\":\"a\"}", "{\"Amount\":2}");
	r[2] = krec(2, "{\"user\":\"b\"}", "{\"Amount\":3}");
	r[3] = krec(3, "{\"user\":\"b\"}", "{\"Amount\":-1}");	/* CHECK */
	r[4] = krec(4, "{\"user\":\"c\"}", "{\"Amount\":\"many\"}"); /* type */
	r[5] = krec(5, "{\"user\":\"c\"}", "{\"Amount\":4}");
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	/* The reduced write of b fails its CHECK: the batch is applied
	 * again record by record to find which. */
	assert_int_equal(fx->desc->write(sink, r, 6, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 3);
	assert_non_null(strstr(err, "record alerts/0@3: table \"alerts\": "
	    "CHECK constraint failed"));
	/* c's string is found although c's next record replaces it. */
	assert_int_equal(fx->desc->write(sink, r + 4, 2, &done, err,
	    sizeof(err)), KSINK_POISON);
	assert_int_equal(done, 0);
	assert_non_null(strstr(err, "record alerts/0@4: field \"Amount\" "
	    "holds a string (many), which column \"Amount\" of table "
	    "\"alerts\" (integer) cannot store"));
	assert_int_equal(fx->desc->write(sink, r + 5, 1, &done, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->commit(sink, &off, 1, err, sizeof(err)),
	    KSINK_OK);
	fx->desc->close(sink);
	assert_string_equal(rows(fx), "a,2,-,-;b,3,-,-;c,4,-,-");
}

static void
test_stops(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[2];
	char err[1024];
	size_t done;
	void *sink;

	/* A missing table without auto.create: at open, with a hint. */
	ctx_set(&fx->ctx, "sqlite.table.name.format", "Alerts");
	ctx_set(&fx->ctx, "sqlite.pk.mode", "record_key");
	ctx_set(&fx->ctx, "sqlite.pk.fields", "user");
	assert_int_equal(open_err(fx, &fx->ctx, err, sizeof(err)),
	    KSINK_CONFIG);
	assert_non_null(strstr(err, "sqlite.table.name.format: table "
	    "\"Alerts\" does not exist in "));
	assert_non_null(strstr(err, "create it, as in CREATE TABLE \"Alerts\" "
	    "(\"user\" <type> NOT NULL, "));

	/* A column that would have to change its type. */
	ctx_set(&fx->ctx, "sqlite.auto.create", "true");
	sink = open_ok(fx, &fx->ctx);
	r[0] = krec(0, "{\"user\":\"a\"}", "{\"n\":1}");
	r[1] = krec(1, "{\"user\":\"b\"}", "{\"n\":1.5}");
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 2, &done, err, sizeof(err)),
	    KSINK_FATAL);
	assert_non_null(strstr(err, "record alerts/0@1: field \"n\" holds a "
	    "number (1.5), but column \"n\" of table \"Alerts\" is integer: "
	    "the column would have to become REAL, and ksink never changes "
	    "a column's type"));
	fx->desc->abort(sink);

	/* A new field without auto.evolve. */
	r[1] = krec(1, "{\"user\":\"b\"}", "{\"m\":1}");
	apply(fx, sink, r, 1);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r + 1, 1, &done, err,
	    sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "record alerts/0@1: table \"Alerts\" has "
	    "no column \"m\"; add it with ALTER TABLE \"Alerts\" ADD COLUMN "
	    "\"m\" INTEGER; or set sqlite.auto.evolve = true"));
	fx->desc->abort(sink);
	fx->desc->close(sink);
}

static void
test_check_and_default(void **state)
{
	struct fx *fx = *state;
	struct conf c = fx->ctx;
	int n;

	/* Mapping and statement together. */
	ctx_set(&c, "sqlite.statement", "INSERT INTO x VALUES (:value)");
	ctx_set(&c, "sqlite.insert.mode", "upsert");
	assert_int_equal(check(fx, &c, &n), KSINK_CONFIG);
	assert_int_equal(n, 2);
	assert_non_null(strstr(logbuf, "sqlite.statement: is set together "
	    "with options of the table mapping"));
	assert_non_null(strstr(logbuf, "sqlite.insert.mode: upsert needs"));

	/* Without statement nor mapping: ksink_records, as before. */
	void *sink = open_ok(fx, &fx->ctx);
	fx->desc->close(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM sqlite_schema WHERE "
	    "name = 'ksink_records'"), 1);
}

/* ---- records with a schema (host->decoded, ABI 1.3) ---- */

#define OPT KSINK_FIELD_OPTIONAL

static const struct ksink_field key_schema[] = {
	{ .name = "", .parent = -1, .type = KSINK_FIELD_STRING },
};
static const struct ksink_field v1[] = {
	{ .name = "i", .parent = -1, .type = KSINK_FIELD_INT32 },
	{ .name = "f", .parent = -1, .type = KSINK_FIELD_FLOAT32 },
	{ .name = "y", .parent = -1, .type = KSINK_FIELD_BYTES },
	{ .name = "dec", .parent = -1, .type = KSINK_FIELD_DECIMAL,
	  .precision = 10, .scale = 2 },
	{ .name = "dt", .parent = -1, .type = KSINK_FIELD_DATE },
	{ .name = "ts", .parent = -1, .type = KSINK_FIELD_TIMESTAMP_MICROS },
	{ .name = "u", .parent = -1, .type = KSINK_FIELD_UUID },
	{ .name = "m", .parent = -1, .type = KSINK_FIELD_MAP },
	{ .name = "n", .parent = -1, .type = KSINK_FIELD_INT64, .flags = OPT },
	{ .name = "ok", .parent = -1, .type = KSINK_FIELD_BOOLEAN,
	  .default_json = "true" },
	/* v2 adds: */
	{ .name = "late", .parent = -1, .type = KSINK_FIELD_STRING,
	  .flags = OPT },
};

/* What the converters made of each record, by offset: v1's first ten
 * fields below offset 2, all of them from 2 on. */
static const struct ksink_decoded *
fake_decoded(struct ksink_ctx *ctx, const struct ksink_record *r)
{
	(void)ctx;
	return fx_decoded(key_schema, 1, v1, r->offset < 2 ? 10 : 11,
	    r->offset >= 2);
}

static const struct ksink_decoded *
never_decoded(struct ksink_ctx *ctx, const struct ksink_record *r)
{
	(void)ctx;
	(void)r;
	fail_msg("decoded() called beyond the host's struct_size");
	return NULL;
}

static void *
open_host(struct fx *fx, const struct ksink_host *host)
{
	char err[512] = "";
	void *sink = NULL;

	if (fx->desc->open(host, make_ctx(fx, &fx->ctx), &sink, err,
	    sizeof(err)) != KSINK_OK)
		fail_msg("open: %s", err);
	return sink;
}

static void
test_schema_typed_columns(void **state)
{
	struct fx *fx = *state;
	struct ksink_host host = ks_sink_host;
	struct ksink_record r[2];
	char buf[1024], err[512];
	size_t done;
	void *sink;

	host.decoded = fake_decoded;
	upsert_conf(fx);
	ctx_set(&fx->ctx, "sqlite.pk.fields", "id");
	sink = open_host(fx, &host);
	/* n is null in the first record: its column is made all the same. */
	r[0] = krec(0, "\"k1\"", "{\"i\":-7,\"f\":1.5,\"y\":\"AAH/\","
	    "\"dec\":\"-12.30\",\"dt\":\"2024-02-29\","
	    "\"ts\":\"2024-02-29T13:45:00.123456Z\","
	    "\"u\":\"0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f\","
	    "\"m\":{\"a\":1},\"n\":null,\"ok\":false}");
	r[1] = krec(1, "\"k2\"", "{\"i\":2147483647,\"f\":\"-Infinity\","
	    "\"y\":\"\",\"dec\":\"100.00\",\"dt\":\"1970-01-01\","
	    "\"ts\":\"1970-01-01T00:00:00.000000Z\","
	    "\"u\":\"00000000-0000-0000-0000-000000000000\",\"m\":{},"
	    "\"n\":9007199254740993,\"ok\":true}");
	apply(fx, sink, r, 2);
	assert_string_equal(q_text(fx, "SELECT sql FROM sqlite_schema WHERE "
	    "name = 'alerts'", buf, sizeof(buf)), "CREATE TABLE \"alerts\" ("
	    "\"id\" TEXT NOT NULL, \"i\" INTEGER NOT NULL, \"f\" REAL NOT NULL, "
	    "\"y\" BLOB NOT NULL, \"dec\" NUMERIC NOT NULL, "
	    "\"dt\" TEXT NOT NULL, \"ts\" TEXT NOT NULL, \"u\" TEXT NOT NULL, "
	    "\"m\" TEXT NOT NULL, \"n\" INTEGER, "
	    "\"ok\" BOOLEAN NOT NULL DEFAULT 1, PRIMARY KEY (\"id\"))");
	/* Stored as their types: bytes as a blob, numbers as numbers. */
	assert_string_equal(q_text(fx, "SELECT group_concat(r, ';') FROM "
	    "(SELECT id||','||typeof(i)||','||i||','||typeof(f)||','||f||','||"
	    "typeof(y)||','||hex(y)||','||typeof(dec)||','||dec||','||dt||','||"
	    "ts||','||u||','||m||','||typeof(n)||','||coalesce(n, '-')||','||"
	    "ok AS r FROM alerts ORDER BY id)", buf, sizeof(buf)),
	    "k1,integer,-7,real,1.5,blob,0001FF,real,-12.3,2024-02-29,"
	    "2024-02-29T13:45:00.123456Z,0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f,"
	    "{\"a\":1},null,-,0;"
	    "k2,integer,2147483647,real,-Inf,blob,,integer,100,1970-01-01,"
	    "1970-01-01T00:00:00.000000Z,00000000-0000-0000-0000-000000000000,"
	    "{},integer,9007199254740993,1");

	/* The schema grows: the new field's column, nullable, though its
	 * value is null. */
	r[0] = krec(2, "\"k1\"", "{\"i\":1,\"f\":0,\"y\":\"AA==\","
	    "\"dec\":\"0.00\",\"dt\":\"2024-03-01\","
	    "\"ts\":\"2024-03-01T00:00:00.000000Z\","
	    "\"u\":\"0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f\",\"m\":{},"
	    "\"n\":null,\"ok\":true,\"late\":null}");
	apply(fx, sink, r, 1);
	assert_string_equal(q_text(fx, "SELECT type||','||\"notnull\"||','||"
	    "coalesce(dflt_value, '-') FROM "
	    "pragma_table_info('alerts') WHERE name = 'late'", buf,
	    sizeof(buf)), "TEXT,0,-");
	assert_int_equal(q_int(fx, "SELECT i FROM alerts WHERE id = 'k1'"), 1);

	/* A value its schema refuses: poison naming record and field. */
	r[0] = krec(3, "\"k3\"", "{\"i\":\"seven\",\"f\":0,\"y\":\"AA==\","
	    "\"dec\":\"0.00\",\"dt\":\"2024-03-01\","
	    "\"ts\":\"2024-03-01T00:00:00.000000Z\","
	    "\"u\":\"0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f\",\"m\":{},"
	    "\"n\":null,\"ok\":true,\"late\":null}");
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 1, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 0);
	assert_string_equal(err, "record alerts/0@3: value field \"i\": its "
	    "schema says 32-bit integer, but the value is a string (seven)");
	fx->desc->abort(sink);
	fx->desc->close(sink);

	/* A host of ABI 1.2 has no decoded(): the JSON's types, as before. */
	host.struct_size = KSINK_SIZE_THROUGH(struct ksink_host, count);
	host.decoded = never_decoded;
	sink = open_host(fx, &host);
	r[0] = krec(4, "\"k4\"", "{\"i\":1,\"f\":0,\"y\":\"AA==\","
	    "\"dec\":0,\"dt\":\"2024-03-01\","
	    "\"ts\":\"2024-03-01T00:00:00.000000Z\","
	    "\"u\":\"0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f\",\"m\":{},"
	    "\"ok\":true}");
	apply(fx, sink, r, 1);
	assert_string_equal(q_text(fx, "SELECT typeof(y) || ',' || y FROM "
	    "alerts WHERE id = 'k4'", buf, sizeof(buf)), "text,AA==");
	fx->desc->close(sink);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_upsert_delete_evolve,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rollback_forgets_ddl,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison_in_reduced_batch,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_stops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_typed_columns,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_and_default, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
