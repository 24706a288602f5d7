/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_mapping_typed.c - the table mapping with a record's
 * schema (struct ksink_field, from a converter): every type to both
 * dialects' DDL, a column for every field (null or left out), NOT NULL
 * and DEFAULT, flatten of nested records, key schemas, auto.evolve, the
 * values a schema's type refuses and the columns it cannot use.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mapping-fx.h"

#define F(n, p, t, fl) { .name = (n), .parent = (p), \
	.type = KSINK_FIELD_ ## t, .flags = (fl) }
#define OPT KSINK_FIELD_OPTIONAL

/* Every type of the ABI, a nested record (not flattened) among them. */
static const struct ksink_field every[] = {
	F("b", -1, BOOLEAN, 0),
	F("i", -1, INT32, 0),
	F("l", -1, INT64, 0),
	F("f", -1, FLOAT32, 0),
	F("d", -1, FLOAT64, 0),
	F("s", -1, STRING, 0),
	F("y", -1, BYTES, 0),
	{ .name = "dec", .parent = -1, .type = KSINK_FIELD_DECIMAL,
	  .precision = 10, .scale = 2 },
	F("dt", -1, DATE, 0),
	F("tm", -1, TIME_MILLIS, 0),
	F("tu", -1, TIME_MICROS, 0),
	F("ts", -1, TIMESTAMP_MILLIS, 0),
	F("tsu", -1, TIMESTAMP_MICROS, 0),
	F("u", -1, UUID, 0),
	F("rec", -1, RECORD, 0),
	F("x", 14, INT32, 0),
	F("arr", -1, ARRAY, 0),
	F("mp", -1, MAP, 0),
	F("any", -1, ANY, OPT),
	F("opt", -1, INT64, OPT),
};
#define NEVERY (sizeof(every) / sizeof(every[0]))

static const char every_json[] = "{\"b\":true,\"i\":-7,"
    "\"l\":9007199254740993,\"f\":1.5,\"d\":\"NaN\",\"s\":\"x\","
    "\"y\":\"aGkh\",\"dec\":\"-12.30\",\"dt\":\"2024-02-29\","
    "\"tm\":\"13:45:00.123\",\"tu\":\"13:45:00.123456\","
    "\"ts\":\"2024-02-29T13:45:00.123Z\","
    "\"tsu\":\"2024-02-29T13:45:00.123456Z\","
    "\"u\":\"0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f\",\"rec\":{\"x\":1},"
    "\"arr\":[1,2],\"mp\":{\"k\":\"v\"},\"any\":\"s\",\"opt\":null}";

/* A row of key and value with their schemas (either may be NULL). */
static int
typed_row(const struct ks_mapping *m, const char *key,
    const struct ksink_field *kf, size_t nkf, const char *value,
    const struct ksink_field *vf, size_t nvf, struct ks_mapping_row *row)
{
	struct ksink_record r = record(key, value, 7);
	struct ks_mapping_schema s = { kf, vf, nkf, nvf };

	errbuf[0] = '\0';
	return ks_mapping_row_schema(m, &r, &s, 0, row, errbuf,
	    sizeof(errbuf));
}

static const char *
create(const struct ks_mapping *m, const struct ks_mapping_row *row)
{
	static struct ks_buf b;

	ks_buf_reset(&b);
	ks_mapping_sql_create(&b, m, row);
	ks_buf_addc(&b, '\0');
	return b.p;
}

static void
test_every_type(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ NULL }, KS_MAP_POSTGRES);
	assert_int_equal(typed_row(&m, NULL, NULL, 0, every_json, every,
	    NEVERY, &row), KSINK_OK);
	assert_string_equal(show(&row), "b:boolean=1|i:32-bit integer=-7|"
	    "l:integer=9007199254740993|f:float=1.5|d:number=NaN|"
	    "s:string=x|y:bytes=hi!|dec:decimal=-12.30|dt:date=2024-02-29|"
	    "tm:time=13:45:00.123|tu:time=13:45:00.123456|"
	    "ts:timestamp=2024-02-29T13:45:00.123Z|"
	    "tsu:timestamp=2024-02-29T13:45:00.123456Z|"
	    "u:uuid=0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f|"
	    "rec:object or array={\"x\":1}|arr:object or array=[1,2]|"
	    "mp:object or array={\"k\":\"v\"}|any:object or array=\"s\"|"
	    "opt:null=");
	assert_int_equal(row.cols[1].i, -7);
	assert_int_equal(row.cols[2].i, 9007199254740993LL);
	assert_true(isnan(row.cols[4].d));
	assert_int_equal(row.cols[6].len, 3);
	/* An empty string is a string; an empty date is no date. */
	{
		static const struct ksink_field str[] = {
			F("s", -1, STRING, 0), F("dt", -1, DATE, OPT),
		};

		assert_int_equal(typed_row(&m, NULL, NULL, 0,
		    "{\"s\":\"\",\"dt\":null}", str, 2, &row), KSINK_OK);
		assert_string_equal(show(&row), "s:string=|dt:null=");
		assert_int_equal(typed_row(&m, NULL, NULL, 0,
		    "{\"s\":\"\",\"dt\":\"\"}", str, 2, &row),
		    KSINK_POISON);
		assert_non_null(strstr(errbuf, "field \"dt\": its schema says "
		    "date, but the value is a string ()"));
		assert_int_equal(typed_row(&m, NULL, NULL, 0, every_json, every,
		    NEVERY, &row), KSINK_OK);
	}
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"b\" boolean NOT NULL, \"i\" integer NOT NULL, "
	    "\"l\" bigint NOT NULL, \"f\" real NOT NULL, "
	    "\"d\" double precision NOT NULL, \"s\" text NOT NULL, "
	    "\"y\" bytea NOT NULL, \"dec\" numeric(10,2) NOT NULL, "
	    "\"dt\" date NOT NULL, \"tm\" time NOT NULL, "
	    "\"tu\" time NOT NULL, \"ts\" timestamptz NOT NULL, "
	    "\"tsu\" timestamptz NOT NULL, \"u\" uuid NOT NULL, "
	    "\"rec\" jsonb NOT NULL, \"arr\" jsonb NOT NULL, "
	    "\"mp\" jsonb NOT NULL, \"any\" jsonb, \"opt\" bigint)");
	m.dialect = KS_MAP_SQLITE;
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"b\" BOOLEAN NOT NULL, \"i\" INTEGER NOT NULL, "
	    "\"l\" INTEGER NOT NULL, \"f\" REAL NOT NULL, "
	    "\"d\" REAL NOT NULL, \"s\" TEXT NOT NULL, "
	    "\"y\" BLOB NOT NULL, \"dec\" NUMERIC NOT NULL, "
	    "\"dt\" TEXT NOT NULL, \"tm\" TEXT NOT NULL, "
	    "\"tu\" TEXT NOT NULL, \"ts\" TEXT NOT NULL, "
	    "\"tsu\" TEXT NOT NULL, \"u\" TEXT NOT NULL, "
	    "\"rec\" TEXT NOT NULL, \"arr\" TEXT NOT NULL, "
	    "\"mp\" TEXT NOT NULL, \"any\" TEXT, \"opt\" INTEGER)");
	/* The class each dialect reads back for the type it made: what
	 * the value fits, so that the next record needs no DDL. */
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES, "numeric(10,2)"),
	    KS_MAP_T_DECIMAL);
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES,
	    "timestamp with time zone"), KS_MAP_T_TIMESTAMP);
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES,
	    "time without time zone"), KS_MAP_T_TIME);
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES, "timestamptz"),
	    KS_MAP_T_TIMESTAMP);
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES, "integer"),
	    KS_MAP_T_INT32);
	assert_int_equal(ks_mapping_class(KS_MAP_POSTGRES, "bytea"),
	    KS_MAP_T_BYTES);
	assert_int_equal(ks_mapping_class(KS_MAP_SQLITE, "NUMERIC"),
	    KS_MAP_T_DECIMAL);
	ks_mapping_free(&m);

	/* Connect's decimal has no precision: numeric as it is. */
	static const struct ksink_field dec[] = {
		{ .name = "a", .parent = -1, .type = KSINK_FIELD_DECIMAL,
		  .scale = 3 },
	};
	conf(&m, (const char *const[]){ NULL }, KS_MAP_POSTGRES);
	assert_int_equal(typed_row(&m, NULL, NULL, 0, "{\"a\":\"1.000\"}",
	    dec, 1, &row), KSINK_OK);
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"a\" numeric NOT NULL)");
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

/* Fields null in the first record, or left out of it, get their column
 * all the same; a required field's is NOT NULL, a default is DEFAULT. */
static void
test_nulls_not_null_default(void **state)
{
	static const struct ksink_field f[] = {
		{ .name = "id", .parent = -1, .type = KSINK_FIELD_INT64 },
		{ .name = "n", .parent = -1, .type = KSINK_FIELD_INT32,
		  .flags = OPT, .default_json = "5" },
		{ .name = "s", .parent = -1, .type = KSINK_FIELD_STRING,
		  .flags = OPT, .default_json = "\"it's\"" },
		{ .name = "ok", .parent = -1, .type = KSINK_FIELD_BOOLEAN,
		  .default_json = "true" },
		{ .name = "x", .parent = -1, .type = KSINK_FIELD_FLOAT64,
		  .flags = OPT, .default_json = "null" },
		{ .name = "m", .parent = -1, .type = KSINK_FIELD_MAP,
		  .default_json = "{}" },
		{ .name = "d", .parent = -1, .type = KSINK_FIELD_DATE,
		  .flags = OPT, .default_json = "0" },
		{ .name = "left", .parent = -1, .type = KSINK_FIELD_UUID,
		  .flags = OPT },
	};
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_value",
	    "sqlite.pk.fields=id", NULL }, KS_MAP_POSTGRES);
	assert_int_equal(typed_row(&m, NULL, NULL, 0, "{\"id\":1,\"n\":null,"
	    "\"s\":null,\"ok\":false,\"x\":null,\"m\":{},\"d\":null}", f, 8,
	    &row), KSINK_OK);
	assert_string_equal(show(&row), "id*:integer=1|n:null=|s:null=|"
	    "ok:boolean=0|x:null=|m:object or array={}|d:null=|left:null=");
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"id\" bigint NOT NULL, \"n\" integer DEFAULT 5, "
	    "\"s\" text DEFAULT 'it''s', \"ok\" boolean NOT NULL DEFAULT true, "
	    "\"x\" double precision, \"m\" jsonb NOT NULL DEFAULT '{}'::jsonb, "
	    "\"d\" date, \"left\" uuid, PRIMARY KEY (\"id\"))");
	m.dialect = KS_MAP_SQLITE;
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"id\" INTEGER NOT NULL, \"n\" INTEGER DEFAULT 5, "
	    "\"s\" TEXT DEFAULT 'it''s', \"ok\" BOOLEAN NOT NULL DEFAULT 1, "
	    "\"x\" REAL, \"m\" TEXT NOT NULL DEFAULT '{}', \"d\" TEXT, "
	    "\"left\" TEXT, PRIMARY KEY (\"id\"))");
	/* ALTER TABLE ADD COLUMN: nullable, with the default. */
	{
		struct ks_buf b = { 0 };

		ks_mapping_sql_add_column(&b, &m, row.table, &row.cols[3]);
		ks_buf_addc(&b, '\0');
		assert_string_equal(b.p, "ALTER TABLE \"orders\" ADD COLUMN "
		    "\"ok\" BOOLEAN DEFAULT 1");
		ks_buf_free(&b);
	}
	/* A required field that is null: the record, not the column. */
	assert_int_equal(typed_row(&m, NULL, NULL, 0, "{\"id\":1,"
	    "\"ok\":null,\"m\":{}}", f, 8, &row), KSINK_POISON);
	assert_string_equal(errbuf, "record orders/2@7: value field \"ok\" "
	    "is null, but its schema makes it required");
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

/* flatten walks nested records into a_b columns of their types; under an
 * optional record, required fields are nullable (the record may be
 * null), and a null record gives null columns. */
static void
test_flatten_records(void **state)
{
	static const struct ksink_field f[] = {
		F("id", -1, INT64, 0),
		F("addr", -1, RECORD, OPT),
		F("street", 1, STRING, 0),
		F("geo", 1, RECORD, 0),
		F("lat", 3, FLOAT64, 0),
		F("lon", 3, FLOAT64, OPT),
		F("tags", -1, MAP, 0),
	};
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ "sqlite.flatten=true", NULL },
	    KS_MAP_POSTGRES);
	assert_int_equal(typed_row(&m, NULL, NULL, 0, "{\"id\":1,\"addr\":"
	    "null,\"tags\":{\"a\":\"b\"}}", f, 7, &row), KSINK_OK);
	assert_string_equal(show(&row), "id:integer=1|addr_street:null=|"
	    "addr_geo_lat:null=|addr_geo_lon:null=|"
	    "tags:object or array={\"a\":\"b\"}");
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"id\" bigint NOT NULL, \"addr_street\" text, "
	    "\"addr_geo_lat\" double precision, \"addr_geo_lon\" double "
	    "precision, \"tags\" jsonb NOT NULL)");
	assert_int_equal(typed_row(&m, NULL, NULL, 0, "{\"id\":1,\"addr\":"
	    "{\"street\":\"Main\",\"geo\":{\"lat\":1.5}},\"tags\":{}}", f, 7,
	    &row), KSINK_OK);
	assert_string_equal(show(&row), "id:integer=1|addr_street:string=Main|"
	    "addr_geo_lat:number=1.5|addr_geo_lon:null=|"
	    "tags:object or array={}");
	ks_mapping_free(&m);

	/* Without flatten, a record is one column of JSON. */
	conf(&m, (const char *const[]){ NULL }, KS_MAP_POSTGRES);
	assert_int_equal(typed_row(&m, NULL, NULL, 0, "{\"id\":1,\"addr\":"
	    "null,\"tags\":{}}", f, 7, &row), KSINK_OK);
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"id\" bigint NOT NULL, \"addr\" jsonb, \"tags\" jsonb NOT NULL)");
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

/* A primitive key with a schema is pk.fields' column, of its type; a
 * record key's fields are the key's columns. */
static void
test_key_schemas(void **state)
{
	static const struct ksink_field prim[] = { F("", -1, UUID, 0) };
	static const struct ksink_field i32[] = { F("", -1, INT32, 0) };
	static const struct ksink_field rec[] = {
		F("user", -1, STRING, 0), F("tx", -1, INT64, 0),
	};
	static const struct ksink_field val[] = {
		F("a", -1, FLOAT32, OPT),
	};
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.pk.fields=id", "sqlite.insert.mode=upsert", NULL },
	    KS_MAP_POSTGRES);
	assert_int_equal(typed_row(&m, "\"0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f\"",
	    prim, 1, "{\"a\":null}", val, 1, &row), KSINK_OK);
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"id\" uuid NOT NULL, \"a\" real, PRIMARY KEY (\"id\"))");
	assert_int_equal(typed_row(&m, "42", i32, 1, "{\"a\":2}", val, 1,
	    &row), KSINK_OK);
	assert_string_equal(show(&row), "id*:32-bit integer=42|a:float=2");
	assert_int_equal(typed_row(&m, "\"42\"", i32, 1, "{\"a\":2}", val, 1,
	    &row), KSINK_POISON);
	assert_string_equal(errbuf, "record orders/2@7: key field \"id\": its "
	    "schema says 32-bit integer, but the value is a string (42)");
	ks_mapping_free(&m);

	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key", NULL },
	    KS_MAP_SQLITE);
	assert_int_equal(typed_row(&m, "{\"user\":\"u\",\"tx\":5}", rec, 2,
	    "{\"a\":1.5}", val, 1, &row), KSINK_OK);
	assert_string_equal(create(&m, &row), "CREATE TABLE \"orders\" ("
	    "\"user\" TEXT NOT NULL, \"tx\" INTEGER NOT NULL, \"a\" REAL, "
	    "PRIMARY KEY (\"user\", \"tx\"))");
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

/* Values that do not have the type their schema gives: poison naming
 * the record and the field. */
static void
test_value_misfits(void **state)
{
	static const struct {
		struct ksink_field f;
		const char *value, *msg;
	} bad[] = {
		{ F("a", -1, INT32, 0), "{\"a\":3000000000}",
		  "value field \"a\": 3000000000 does not fit in the 32-bit "
		  "integer of its schema" },
		{ F("a", -1, INT64, 0), "{\"a\":1.5}",
		  "value field \"a\": its schema says integer, but the value "
		  "is a number (1.5)" },
		{ F("a", -1, DECIMAL, 0), "{\"a\":\"1.2.3\"}",
		  "value field \"a\": its schema says decimal, but the value "
		  "is a string (1.2.3)" },
		{ F("a", -1, DECIMAL, 0), "{\"a\":12.5}",
		  "its schema says decimal, but the value is a number" },
		{ F("a", -1, BYTES, 0), "{\"a\":\"a!==\"}",
		  "its schema says bytes, but the value is a string" },
		{ F("a", -1, DATE, 0), "{\"a\":19000}",
		  "its schema says date, but the value is an integer" },
		{ F("a", -1, BOOLEAN, 0), "{\"a\":\"true\"}",
		  "its schema says boolean, but the value is a string" },
		{ F("a", -1, FLOAT64, 0), "{\"a\":\"nan\"}",
		  "its schema says number, but the value is a string" },
		{ F("a", -1, STRING, 0), "{\"a\":false}",
		  "its schema says string, but the value is a boolean "
		  "(false)" },
	};
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };
	size_t i;

	(void)state;
	conf(&m, (const char *const[]){ NULL }, KS_MAP_POSTGRES);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (typed_row(&m, NULL, NULL, 0, bad[i].value, &bad[i].f, 1,
		    &row) != KSINK_POISON)
			fail_msg("%s: not poison", bad[i].value);
		if (strncmp(errbuf, "record orders/2@7: ", 19) != 0 ||
		    strstr(errbuf, bad[i].msg) == NULL)
			fail_msg("%s: %s", bad[i].value, errbuf);
	}
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

/* What a schema's value does to an existing column; a JSON value does
 * what it did before schemas. */
static void
test_fits(void **state)
{
#define FITS(v, d, decl) ks_mapping_fits(KS_MAP_T_ ## v, \
	ks_mapping_class(KS_MAP_ ## d, decl))
	(void)state;
	/* JSON values, as before, on the classes schemas added */
	assert_int_equal(FITS(INTEGER, POSTGRES, "integer"), KS_MAP_FIT);
	assert_int_equal(FITS(NUMBER, POSTGRES, "integer"), KS_MAP_RETYPE);
	assert_int_equal(FITS(NUMBER, POSTGRES, "real"), KS_MAP_FIT);
	assert_int_equal(FITS(NUMBER, POSTGRES, "numeric(10,2)"), KS_MAP_FIT);
	assert_int_equal(FITS(STRING, POSTGRES, "numeric(10,2)"),
	    KS_MAP_MISFIT);
	assert_int_equal(FITS(STRING, POSTGRES, "date"), KS_MAP_FIT);
	assert_int_equal(FITS(INTEGER, POSTGRES, "uuid"), KS_MAP_FIT);
	assert_int_equal(FITS(STRING, SQLITE, "DECIMAL(10,2)"), KS_MAP_MISFIT);
	/* a schema's values */
	assert_int_equal(FITS(INT32, POSTGRES, "bigint"), KS_MAP_FIT);
	assert_int_equal(FITS(INT32, POSTGRES, "numeric"), KS_MAP_FIT);
	assert_int_equal(FITS(INT32, POSTGRES, "text"), KS_MAP_FIT);
	assert_int_equal(FITS(INT32, POSTGRES, "date"), KS_MAP_MISFIT);
	assert_int_equal(FITS(FLOAT32, POSTGRES, "integer"), KS_MAP_RETYPE);
	assert_int_equal(FITS(FLOAT32, POSTGRES, "double precision"),
	    KS_MAP_FIT);
	assert_int_equal(FITS(DECIMAL, POSTGRES, "double precision"),
	    KS_MAP_RETYPE);
	assert_int_equal(FITS(DECIMAL, SQLITE, "NUMERIC"), KS_MAP_FIT);
	assert_int_equal(FITS(DECIMAL, SQLITE, "REAL"), KS_MAP_RETYPE);
	assert_int_equal(FITS(DATE, POSTGRES, "date"), KS_MAP_FIT);
	assert_int_equal(FITS(DATE, POSTGRES, "text"), KS_MAP_FIT);
	assert_int_equal(FITS(DATE, SQLITE, "TEXT"), KS_MAP_FIT);
	assert_int_equal(FITS(DATE, POSTGRES, "bigint"), KS_MAP_MISFIT);
	assert_int_equal(FITS(TIMESTAMP, POSTGRES, "date"), KS_MAP_MISFIT);
	assert_int_equal(FITS(UUID, POSTGRES, "jsonb"), KS_MAP_FIT);
	assert_int_equal(FITS(BYTES, POSTGRES, "bytea"), KS_MAP_FIT);
	assert_int_equal(FITS(BYTES, SQLITE, "BLOB"), KS_MAP_FIT);
	assert_int_equal(FITS(BYTES, POSTGRES, "text"), KS_MAP_MISFIT);
	assert_int_equal(FITS(BYTES, POSTGRES, "jsonb"), KS_MAP_MISFIT);
#undef FITS
}

static int
typed_fit(struct ks_mapping_db *db, const char *value,
    const struct ksink_field *vf, size_t nvf)
{
	struct ks_mapping_schema s = { NULL, vf, 0, nvf };

	return fit_schema(db, "\"a\"", value, &s);
}

/* auto.evolve adds the columns of a grown schema, nullable, null or not;
 * without it a null field is left out as before; a column of the wrong
 * type is a stop or poison. */
static void
test_evolve_and_columns(void **state)
{
	static const struct ksink_field v1[] = {
		{ .name = "n", .parent = -1, .type = KSINK_FIELD_INT64 },
		{ .name = "late", .parent = -1, .type = KSINK_FIELD_TIMESTAMP_MICROS,
		  .flags = OPT },
		{ .name = "req", .parent = -1, .type = KSINK_FIELD_INT32,
		  .default_json = "7" },
	};
	static const struct ksink_field dec[] = {
		{ .name = "n", .parent = -1, .type = KSINK_FIELD_DECIMAL,
		  .precision = 12, .scale = 2 },
	};
	static const struct ksink_field date[] = { F("n", -1, DATE, 0) };
	struct ks_mapping m;
	struct ks_mapping_tables tables = { 0 };
	struct ks_buf sql = { 0 };
	struct ks_mapping_db db = fake_db(&m, &tables, &sql);

	(void)state;
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.pk.fields=id", "sqlite.insert.mode=upsert",
	    "sqlite.auto.evolve=true", NULL }, KS_MAP_POSTGRES);
	fake_other_creates = fake_other_adds = 0;
	fake_exists = 1;
	fake_ncols = 0;
	fake_col("id", "text");
	fake_col("n", "double precision");
	ddl_run[0] = '\0';
	assert_int_equal(typed_fit(&db, "{\"n\":1,\"late\":null,\"req\":3}",
	    v1, 3), KSINK_OK);
	assert_string_equal(ddl_run, "ALTER TABLE \"orders\" ADD COLUMN "
	    "\"late\" timestamptz;ALTER TABLE \"orders\" ADD COLUMN \"req\" "
	    "integer DEFAULT 7;");
	ks_mapping_tables_free(&tables);

	/* A decimal for a double precision column: a stop. */
	assert_int_equal(typed_fit(&db, "{\"n\":\"12.30\"}", dec, 1),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "record orders/2@7: field \"n\" holds "
	    "a decimal (12.30), but column \"n\" of table \"orders\" is "
	    "double precision: the column would have to become "
	    "numeric(12,2)"));
	assert_non_null(strstr(errbuf, "ALTER TABLE ... ALTER COLUMN ... TYPE "
	    "numeric(12,2)"));
	/* A date for it: poison. */
	assert_int_equal(typed_fit(&db, "{\"n\":\"2024-02-29\"}", date, 1),
	    KSINK_POISON);
	assert_non_null(strstr(errbuf, "record orders/2@7: field \"n\" holds "
	    "a date (2024-02-29), which column \"n\" of table \"orders\" "
	    "(double precision) cannot store"));
	ks_mapping_tables_free(&tables);
	ks_mapping_free(&m);

	/* Without auto.evolve, a null field without a column is left out,
	 * as without a schema; one with a value is a stop. */
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.pk.fields=id", NULL }, KS_MAP_POSTGRES);
	fake_ncols = 0;
	fake_col("id", "text");
	fake_col("n", "bigint");
	ddl_run[0] = '\0';
	assert_int_equal(typed_fit(&db, "{\"n\":1,\"late\":null}", v1, 2),
	    KSINK_OK);
	assert_int_equal(typed_fit(&db, "{\"n\":1,\"late\":null,\"req\":3}",
	    v1, 3), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "table \"orders\" has no column "
	    "\"req\"; add it with ALTER TABLE \"orders\" ADD COLUMN \"req\" "
	    "integer DEFAULT 7"));
	assert_string_equal(ddl_run, "");
	ks_mapping_tables_free(&tables);
	ks_mapping_free(&m);
	ks_buf_free(&sql);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type),
		cmocka_unit_test(test_nulls_not_null_default),
		cmocka_unit_test(test_flatten_records),
		cmocka_unit_test(test_key_schemas),
		cmocka_unit_test(test_value_misfits),
		cmocka_unit_test(test_fits),
		cmocka_unit_test(test_evolve_and_columns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
