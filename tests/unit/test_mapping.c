/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_mapping.c - connectors/lib/mapping.c, mapsql.c and
 * mapreduce.c: the table mapping's options and their rules, a record as
 * a row (flatten, include/exclude, the pk modes, the types), quoting, the
 * SQL text of each dialect, and the reduction of a batch, checked against
 * applying every record in order on a real SQLite database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ksink/sink.h"

#include "lib/buf.h"
#include "lib/mapping.h"

/* ---- a host whose options are a list of "name=value" ---- */

static const char *const *opts;
static int nreports;
static char reports[4096];

static const char *
h_str(struct ksink_ctx *ctx, const char *name)
{
	size_t n = strlen(name);
	int i;

	(void)ctx;
	for (i = 0; opts && opts[i]; i++)
		if (strncmp(opts[i], name, n) == 0 && opts[i][n] == '=')
			return opts[i] + n + 1;
	return NULL;
}

static int
h_bool(struct ksink_ctx *ctx, const char *name)
{
	const char *s = h_str(ctx, name);

	return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "on") == 0);
}

static void
h_report(struct ksink_ctx *ctx, const char *option, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(reports);

	(void)ctx;
	nreports++;
	snprintf(reports + n, sizeof(reports) - n, "%s: ", option);
	n = strlen(reports);
	va_start(ap, fmt);
	vsnprintf(reports + n, sizeof(reports) - n, fmt, ap);
	va_end(ap);
	n = strlen(reports);
	snprintf(reports + n, sizeof(reports) - n, "\n");
}

static const struct ksink_host host = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR,
	.struct_size = sizeof(struct ksink_host),
	.conf_str = h_str,
	.conf_bool = h_bool,
	.report = h_report,
};

static char errbuf[1024];

static int
check(const char *const *o)
{
	opts = o;
	nreports = 0;
	reports[0] = '\0';
	return ks_mapping_check(&host, NULL, "sqlite");
}

static void
conf(struct ks_mapping *m, const char *const *o, int dialect)
{
	opts = o;
	if (ks_mapping_conf(m, &host, NULL, "sqlite", dialect, errbuf,
	    sizeof(errbuf)) != KSINK_OK)
		fail_msg("%s", errbuf);
}

/* Whether the reports hold s. */
static void
reported(const char *s)
{
	if (strstr(reports, s) == NULL)
		fail_msg("no report holds \"%s\"; reports:\n%s", s, reports);
}

static void
test_options_defaults(void **state)
{
	static const char *const none[] = { NULL };
	static const char *const one[] = { "sqlite.insert.mode=insert", NULL };
	struct ks_mapping m;

	(void)state;
	opts = none;
	assert_false(ks_mapping_wanted(&host, NULL, "sqlite"));
	opts = one;
	assert_true(ks_mapping_wanted(&host, NULL, "sqlite"));
	assert_false(ks_mapping_wanted(&host, NULL, "postgres"));
	conf(&m, none, KS_MAP_SQLITE);
	assert_string_equal(m.table_format, "${topic}");
	assert_int_equal(m.insert_mode, KS_MAP_INSERT);
	assert_int_equal(m.pk_mode, KS_MAP_PK_NONE);
	assert_string_equal(m.delimiter, "_");
	assert_true(m.quote);
	assert_false(m.flatten || m.auto_create || m.auto_evolve ||
	    m.delete_enabled);
	ks_mapping_free(&m);
}

static void
test_options_rules(void **state)
{
	(void)state;
	assert_int_equal(check((const char *const[]){
	    "sqlite.insert.mode=upsert", "sqlite.pk.mode=record_key",
	    "sqlite.delete.enabled=true", "sqlite.pk.fields=id", NULL }),
	    KSINK_OK);
	assert_int_equal(nreports, 0);

	/* upsert and update need a key from the record */
	assert_int_equal(check((const char *const[]){
	    "sqlite.insert.mode=upsert", NULL }), KSINK_CONFIG);
	reported("sqlite.insert.mode: upsert needs the row's key");
	check((const char *const[]){ "sqlite.insert.mode=update",
	    "sqlite.pk.mode=kafka", NULL });
	reported("sqlite.insert.mode: update needs");

	/* delete.enabled needs record_key */
	check((const char *const[]){ "sqlite.delete.enabled=true",
	    "sqlite.pk.mode=record_value", "sqlite.pk.fields=id", NULL });
	assert_int_equal(nreports, 1);
	reported("sqlite.delete.enabled: a tombstone deletes the row of its "
	    "record's key, so it needs sqlite.pk.mode = record_key (it is "
	    "record_value)");

	/* pk.fields */
	check((const char *const[]){ "sqlite.pk.fields=id", NULL });
	reported("sqlite.pk.fields: is set but sqlite.pk.mode is none");
	check((const char *const[]){ "sqlite.pk.mode=kafka",
	    "sqlite.pk.fields=a,b", NULL });
	reported("names 2 columns, but pk.mode kafka takes three");
	check((const char *const[]){ "sqlite.pk.mode=record_value", NULL });
	reported("sqlite.pk.fields: is not set: pk.mode record_value");
	check((const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.pk.fields=a,a", NULL });
	reported("names \"a\" twice");
	check((const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.pk.fields=a,,b", NULL });
	reported("sqlite.pk.fields: holds an empty name");

	/* pk.fields against include/exclude (record_value only) */
	check((const char *const[]){ "sqlite.pk.mode=record_value",
	    "sqlite.pk.fields=id", "sqlite.fields.exclude=id", NULL });
	reported("names \"id\", which sqlite.fields.exclude removes");
	check((const char *const[]){ "sqlite.pk.mode=record_value",
	    "sqlite.pk.fields=id", "sqlite.fields.include=a,b", NULL });
	reported("names \"id\", which sqlite.fields.include leaves out");
	assert_int_equal(check((const char *const[]){
	    "sqlite.pk.mode=record_key", "sqlite.pk.fields=id",
	    "sqlite.fields.exclude=id", NULL }), KSINK_OK);
	check((const char *const[]){ "sqlite.fields.include=a",
	    "sqlite.fields.exclude=a", NULL });
	reported("sqlite.fields.exclude: names \"a\", which "
	    "sqlite.fields.include names too");

	/* flatten, quoting, the table */
	check((const char *const[]){ "sqlite.flatten.delimiter=.", NULL });
	reported("sqlite.flatten.delimiter: is set but sqlite.flatten is off");
	check((const char *const[]){ "sqlite.flatten=true",
	    "sqlite.flatten.delimiter=", NULL });
	reported("sqlite.flatten.delimiter: is empty");
	check((const char *const[]){ "sqlite.quote.identifiers=false",
	    "sqlite.pk.mode=record_key", "sqlite.pk.fields=User Id", NULL });
	reported("\"User Id\" is not a plain identifier");
	check((const char *const[]){ "sqlite.quote.identifiers=false",
	    "sqlite.table.name.format=my-table", NULL });
	reported("sqlite.table.name.format: \"my-table\" is not a plain");
	check((const char *const[]){ "sqlite.table.name.format=", NULL });
	reported("sqlite.table.name.format: is empty");

	/* ks_mapping_conf refuses with the first one */
	struct ks_mapping m;
	opts = (const char *const[]){ "sqlite.insert.mode=upsert", NULL };
	assert_int_equal(ks_mapping_conf(&m, &host, NULL, "sqlite",
	    KS_MAP_SQLITE, errbuf, sizeof(errbuf)), KSINK_CONFIG);
	assert_non_null(strstr(errbuf, "sqlite.insert.mode: upsert needs"));
}

/* ---- rows ---- */

static struct ksink_record
record(const char *key, const char *value, int64_t offset)
{
	struct ksink_record r = {
		.topic = "orders", .partition = 2, .offset = offset,
		.timestamp = -1, .key = key, .key_len = key ? strlen(key) : 0,
		.value = value, .value_len = value ? strlen(value) : 0,
	};
	return r;
}

/* The row as "name:type=text|..." with '*' after a key column. */
static const char *
show(const struct ks_mapping_row *row)
{
	static char s[2048];
	size_t i, n = 0;

	s[0] = '\0';
	for (i = 0; i < row->ncols; i++)
		n += snprintf(s + n, sizeof(s) - n, "%s%s%s:%s=%s", i ? "|" :
		    "", row->cols[i].name, row->cols[i].pk ? "*" : "",
		    ks_mapping_type_name(row->cols[i].type),
		    row->cols[i].type == KS_MAP_T_BOOLEAN ?
		    (row->cols[i].i ? "1" : "0") : row->cols[i].text);
	return s;
}

static int
row_of(const struct ks_mapping *m, const char *key, const char *value,
    struct ks_mapping_row *row)
{
	struct ksink_record r = record(key, value, 7);

	errbuf[0] = '\0';
	return ks_mapping_row(m, &r, 0, row, errbuf, sizeof(errbuf));
}

static void
test_row_flatten(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"a\": 1, \"b\": {\"c\": \"x\\u00e9\"},"
	    " \"d\": [1, 2], \"e\": null, \"f\": true, \"g\": 2.5e0, "
	    "\"h\": \"q\\\"\"}", &row), KSINK_OK);
	assert_string_equal(row.table, "orders");
	assert_int_equal(row.npk, 0);
	assert_string_equal(show(&row), "a:integer=1|b:object or array="
	    "{\"c\":\"x\\u00e9\"}|d:object or array=[1,2]|e:null=|"
	    "f:boolean=1|g:number=2.5e0|h:string=q\"");
	ks_mapping_free(&m);

	conf(&m, (const char *const[]){ "sqlite.flatten=true",
	    "sqlite.table.name.format=t_${topic}_${topic}", NULL },
	    KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"a\":{\"b\":{\"c\":1},\"d\":"
	    "\"\\ud83d\\ude00\"},\"e\":{}}", &row), KSINK_OK);
	assert_string_equal(row.table, "t_orders_orders");
	assert_string_equal(show(&row), "a_b_c:integer=1|a_d:string=\xf0\x9f\x98\x80");
	/* a_b from flatten and a field a_b are one column */
	assert_int_equal(row_of(&m, NULL, "{\"a\":{\"b\":1},\"a_b\":2}",
	    &row), KSINK_POISON);
	assert_non_null(strstr(errbuf, "record orders/2@7: fields \"a_b\" and "
	    "\"a_b\" both become column \"a_b\" (flatten)"));
	ks_mapping_free(&m);

	conf(&m, (const char *const[]){ "sqlite.flatten=true",
	    "sqlite.flatten.delimiter=__", NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"a\":{\"b\":[{}]}}", &row),
	    KSINK_OK);
	assert_string_equal(show(&row), "a__b:object or array=[{}]");
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

static void
test_row_include_exclude(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ "sqlite.fields.include=a,c_d,id",
	    "sqlite.flatten=true", NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"id\":1,\"a\":1,\"b\":2,"
	    "\"c\":{\"d\":3,\"e\":4}}", &row), KSINK_OK);
	assert_string_equal(show(&row), "id:integer=1|a:integer=1|"
	    "c_d:integer=3");
	ks_mapping_free(&m);
	conf(&m, (const char *const[]){ "sqlite.fields.exclude=b, secret",
	    NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"a\":1,\"b\":2,\"secret\":\"x\"}",
	    &row), KSINK_OK);
	assert_string_equal(show(&row), "a:integer=1");
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

static void
test_row_pk_modes(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	/* kafka: Connect's default names, or pk.fields' */
	conf(&m, (const char *const[]){ "sqlite.pk.mode=kafka", NULL },
	    KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"a\":1}", &row), KSINK_OK);
	assert_int_equal(row.npk, 3);
	assert_string_equal(show(&row), "__connect_topic*:string=orders|"
	    "__connect_partition*:integer=2|__connect_offset*:integer=7|"
	    "a:integer=1");
	ks_mapping_free(&m);
	conf(&m, (const char *const[]){ "sqlite.pk.mode=kafka",
	    "sqlite.pk.fields=t,p,o", NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"t\":1}", &row), KSINK_OK);
	assert_string_equal(show(&row), "t*:string=orders|p*:integer=2|"
	    "o*:integer=7");
	ks_mapping_free(&m);

	/* record_key: an object, all of it or the fields named */
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key", NULL },
	    KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, "{\"user\":\"u1\",\"tx\":5}",
	    "{\"amount\":3,\"user\":\"ignored\"}", &row), KSINK_OK);
	assert_int_equal(row.npk, 2);
	assert_string_equal(show(&row), "user*:string=u1|tx*:integer=5|"
	    "amount:integer=3");
	assert_int_equal(row_of(&m, NULL, "{}", &row), KSINK_POISON);
	assert_non_null(strstr(errbuf, "record orders/2@7: the record has no "
	    "key"));
	assert_int_equal(row_of(&m, "{\"user\":null}", "{}", &row),
	    KSINK_POISON);
	assert_non_null(strstr(errbuf, "key field \"user\" is null"));
	assert_int_equal(row_of(&m, "{}", "{}", &row), KSINK_POISON);
	assert_int_equal(row_of(&m, "7", "{}", &row), KSINK_POISON);
	assert_non_null(strstr(errbuf, "pk.fields must name exactly one"));
	/* a tombstone without delete.enabled */
	assert_int_equal(row_of(&m, "{\"user\":\"u1\"}", NULL, &row),
	    KSINK_POISON);
	assert_non_null(strstr(errbuf, "delete.enabled is off"));
	ks_mapping_free(&m);

	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.pk.fields=tx", "sqlite.delete.enabled=true", NULL },
	    KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, "{\"user\":\"u1\",\"tx\":5}", "{\"a\":1}",
	    &row), KSINK_OK);
	assert_string_equal(show(&row), "tx*:integer=5|a:integer=1");
	assert_int_equal(row_of(&m, "{\"tx\":5}", NULL, &row), KSINK_OK);
	assert_int_equal(row.op, KS_MAP_OP_DELETE);
	assert_string_equal(show(&row), "tx*:integer=5");
	/* a primitive key is the one column pk.fields names */
	assert_int_equal(row_of(&m, "\"k1\"", "{\"a\":1}", &row), KSINK_OK);
	assert_string_equal(show(&row), "tx*:string=k1|a:integer=1");
	assert_int_equal(row_of(&m, "{\"user\":\"u1\"}", "{}", &row),
	    KSINK_POISON);
	assert_non_null(strstr(errbuf, "key field \"tx\" of pk.fields is "
	    "missing"));
	assert_int_equal(row_of(&m, "[1]", "{}", &row), KSINK_POISON);
	assert_int_equal(row_of(&m, "k1", "{}", &row), KSINK_POISON);
	assert_non_null(strstr(errbuf, "the key is not JSON"));
	ks_mapping_free(&m);

	/* record_value: the fields named, moved first */
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_value",
	    "sqlite.pk.fields=b,a", NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"a\":1,\"c\":3,\"b\":\"2\"}",
	    &row), KSINK_OK);
	assert_int_equal(row.npk, 2);
	assert_string_equal(show(&row), "b*:string=2|a*:integer=1|"
	    "c:integer=3");
	assert_int_equal(row_of(&m, NULL, "{\"a\":1}", &row), KSINK_POISON);
	assert_non_null(strstr(errbuf, "value field \"b\" of pk.fields is "
	    "missing"));
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

static void
test_row_errors(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_row row = { 0 };

	(void)state;
	conf(&m, (const char *const[]){ NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "[1]", &row), KSINK_POISON);
	assert_string_equal(errbuf, "record orders/2@7: the value is not a "
	    "JSON object: the table mapping makes a column of each of its "
	    "fields");
	assert_int_equal(row_of(&m, NULL, "{\"a\":1,}", &row), KSINK_POISON);
	assert_non_null(strstr(errbuf, "the value is not JSON"));
	assert_int_equal(row_of(&m, NULL, "{\"a\":123456789012345678901}",
	    &row), KSINK_POISON);
	assert_non_null(strstr(errbuf, "field \"a\": the integer "
	    "123456789012345678901 does not fit in 64 bits"));
	assert_int_equal(row_of(&m, NULL, "{\"a\":\"x\\u0000\"}", &row),
	    KSINK_POISON);
	assert_int_equal(row_of(&m, NULL, "{\"\":1}", &row), KSINK_POISON);
	/* SQLite's names are one whatever their case */
	assert_int_equal(row_of(&m, NULL, "{\"Amount\":1,\"amount\":2}", &row),
	    KSINK_POISON);
	ks_mapping_free(&m);
	conf(&m, (const char *const[]){ NULL }, KS_MAP_POSTGRES);
	assert_int_equal(row_of(&m, NULL, "{\"Amount\":1,\"amount\":2}", &row),
	    KSINK_OK);
	ks_mapping_free(&m);
	conf(&m, (const char *const[]){ "sqlite.quote.identifiers=false",
	    NULL }, KS_MAP_SQLITE);
	assert_int_equal(row_of(&m, NULL, "{\"ok_1\":1,\"not ok\":2}", &row),
	    KSINK_POISON);
	assert_non_null(strstr(errbuf, "value field \"not ok\" is not a plain "
	    "identifier"));
	ks_mapping_free(&m);
	ks_mapping_row_free(&row);
}

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

/* ---- reduction ---- */

/* Rows of a batch from "key|value" texts (value "-" for a tombstone). */
static struct ks_mapping_row *
batch(const struct ks_mapping *m, const char *const *spec, size_t n)
{
	struct ks_mapping_row *rows = calloc(n, sizeof(*rows));
	struct ksink_record r;
	char key[256];
	const char *bar;
	size_t i;

	for (i = 0; i < n; i++) {
		bar = strchr(spec[i], '|');
		snprintf(key, sizeof(key), "%.*s", (int)(bar - spec[i]),
		    spec[i]);
		r = record(key, strcmp(bar + 1, "-") == 0 ? NULL : bar + 1,
		    (int64_t)i);
		if (ks_mapping_row(m, &r, i, &rows[i], errbuf, sizeof(errbuf)) !=
		    KSINK_OK)
			fail_msg("%s: %s", spec[i], errbuf);
	}
	return rows;
}

static void
rows_free(struct ks_mapping_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ks_mapping_row_free(&rows[i]);
	free(rows);
}

static const char *
reduced(const struct ks_mapping_reduced *red)
{
	static char s[4096];
	size_t i, n = 0;

	s[0] = '\0';
	for (i = 0; i < red->n; i++)
		n += snprintf(s + n, sizeof(s) - n, "%s%s %s", i ? " ; " : "",
		    red->v[i]->op == KS_MAP_OP_DELETE ? "D" : "W",
		    show(red->v[i]));
	return s;
}

static const char *const upsert_key[] = { "sqlite.pk.mode=record_key",
    "sqlite.insert.mode=upsert", "sqlite.delete.enabled=true", NULL };

static void
test_reduce_cases(void **state)
{
	static const char *const spec[] = {
		"{\"k\":1}|{\"a\":1,\"b\":1}",
		"{\"k\":2}|{\"a\":20}",
		"{\"k\":1}|{\"a\":2}",		/* merged: a=2, b=1 */
		"{\"k\":2}|-",			/* delete after insert */
		"{\"k\":3}|-",
		"{\"k\":3}|{\"c\":3}",		/* insert after delete */
	};
	struct ks_mapping m;
	struct ks_mapping_row *rows;
	struct ks_mapping_reduced red;

	(void)state;
	conf(&m, upsert_key, KS_MAP_SQLITE);
	rows = batch(&m, spec, 6);
	assert_int_equal(ks_mapping_reduce(&m, rows, 6, &red), KSINK_OK);
	assert_string_equal(reduced(&red),
	    "W k*:integer=1|a:integer=2|b:integer=1 ; "
	    "D k*:integer=2 ; "
	    "D k*:integer=3 ; W k*:integer=3|c:integer=3");
	ks_mapping_reduce_free(&red);
	rows_free(rows, 6);
	ks_mapping_free(&m);

	/* insert mode: every row, in order */
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.delete.enabled=true", NULL }, KS_MAP_SQLITE);
	rows = batch(&m, spec, 6);
	assert_int_equal(ks_mapping_reduce(&m, rows, 6, &red), KSINK_OK);
	assert_int_equal(red.n, 6);
	assert_ptr_equal(red.v[5], &rows[5]);
	ks_mapping_reduce_free(&red);
	rows_free(rows, 6);
	ks_mapping_free(&m);

	/* the same text as two types: not reduced */
	static const char *const mixed[] = {
		"{\"k\":1}|{\"a\":1}", "{\"k\":\"1\"}|{\"a\":2}",
		"{\"k\":1}|{\"a\":3}",
	};
	conf(&m, upsert_key, KS_MAP_SQLITE);
	rows = batch(&m, mixed, 3);
	assert_int_equal(ks_mapping_reduce(&m, rows, 3, &red), KSINK_OK);
	assert_int_equal(red.n, 3);
	ks_mapping_reduce_free(&red);
	rows_free(rows, 3);
	ks_mapping_free(&m);
}

/* Applies rows on db: what the SQLite sink does, without its checks. */
static void
apply(sqlite3 *db, const struct ks_mapping *m, struct ks_mapping_row **v,
    size_t n)
{
	struct ks_buf b = { 0 };
	sqlite3_stmt *st;
	size_t i, k;

	for (i = 0; i < n; i++) {
		ks_buf_reset(&b);
		ks_mapping_sql_dml(&b, m, v[i], v[i]->op);
		if (sqlite3_prepare_v2(db, b.p, -1, &st, NULL) != SQLITE_OK)
			fail_msg("%s: %s", b.p, sqlite3_errmsg(db));
		for (k = 0; k < (size_t)sqlite3_bind_parameter_count(st); k++)
			if (v[i]->cols[k].type == KS_MAP_T_NULL)
				sqlite3_bind_null(st, (int)k + 1);
			else
				sqlite3_bind_int64(st, (int)k + 1,
				    v[i]->cols[k].i);
		if (sqlite3_step(st) != SQLITE_DONE)
			fail_msg("%s: %s", b.p, sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	ks_buf_free(&b);
}

static void
dump(sqlite3 *db, char *out, size_t len)
{
	sqlite3_stmt *st;
	size_t n = 0;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT k, a, b, c FROM "
	    "orders ORDER BY k", -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW)
		n += snprintf(out + n, len - n, "%s,%s,%s,%s;",
		    sqlite3_column_text(st, 0), sqlite3_column_text(st, 1) ?
		    (const char *)sqlite3_column_text(st, 1) : "-",
		    sqlite3_column_text(st, 2) ?
		    (const char *)sqlite3_column_text(st, 2) : "-",
		    sqlite3_column_text(st, 3) ?
		    (const char *)sqlite3_column_text(st, 3) : "-");
	sqlite3_finalize(st);
}

/*
 * Random batches over a few keys of writes naming random columns and
 * deletes: the reduced batch leaves the same table as every row applied
 * in order, in upsert and in update modes, from the same start.
 */
static void
test_reduce_same_result(void **state)
{
	static const char *const modes[] = { "sqlite.insert.mode=upsert",
	    "sqlite.insert.mode=update" };
	const char *o[] = { "sqlite.pk.mode=record_key",
	    "sqlite.delete.enabled=true", NULL, NULL };
	char spec[64][64], a[8192], b[8192];
	const char *sp[64];
	struct ks_mapping m;
	struct ks_mapping_row *rows, *inorder[64];
	struct ks_mapping_reduced red;
	sqlite3 *db1, *db2;
	unsigned seed = 12345;
	int round, mode, i, n, c, len;

	(void)state;
	for (mode = 0; mode < 2; mode++) {
		o[2] = modes[mode];
		conf(&m, o, KS_MAP_SQLITE);
		for (round = 0; round < 300; round++) {
			n = 1 + (int)(rand_r(&seed) % 40);
			for (i = 0; i < n; i++) {
				len = snprintf(spec[i], sizeof(spec[i]),
				    "{\"k\":%d}|", (int)(rand_r(&seed) % 4));
				if (rand_r(&seed) % 4 == 0) {
					snprintf(spec[i] + len, sizeof(spec[i]) -
					    len, "-");
				} else {
					len += snprintf(spec[i] + len,
					    sizeof(spec[i]) - len, "{");
					for (c = 0; c < 3; c++)
						if (rand_r(&seed) % 2)
							len += snprintf(spec[i] +
							    len, sizeof(spec[i]) -
							    len, "%s\"%c\":%d",
							    spec[i][len - 1] ==
							    '{' ? "" : ",",
							    'a' + c, (int)(
							    rand_r(&seed) % 100));
					snprintf(spec[i] + len, sizeof(spec[i]) -
					    len, "}");
				}
				sp[i] = spec[i];
			}
			rows = batch(&m, sp, (size_t)n);
			assert_int_equal(sqlite3_open(":memory:", &db1),
			    SQLITE_OK);
			assert_int_equal(sqlite3_open(":memory:", &db2),
			    SQLITE_OK);
			/* Rows 0 and 2 exist before the batch. */
			static const char init[] = "CREATE TABLE orders(k "
			    "INTEGER PRIMARY KEY, a, b, c); INSERT INTO orders "
			    "VALUES (0, 1, 1, 1), (2, 5, NULL, 5)";
			assert_int_equal(sqlite3_exec(db1, init, 0, 0, 0),
			    SQLITE_OK);
			assert_int_equal(sqlite3_exec(db2, init, 0, 0, 0),
			    SQLITE_OK);
			for (i = 0; i < n; i++)
				inorder[i] = &rows[i];
			apply(db1, &m, inorder, (size_t)n);
			assert_int_equal(ks_mapping_reduce(&m, rows, (size_t)n,
			    &red), KSINK_OK);
			apply(db2, &m, red.v, red.n);
			dump(db1, a, sizeof(a));
			dump(db2, b, sizeof(b));
			if (strcmp(a, b) != 0)
				fail_msg("mode %s round %d: in order %s, "
				    "reduced %s", modes[mode], round, a, b);
			assert_true(red.n <= (size_t)n);
			ks_mapping_reduce_free(&red);
			sqlite3_close(db1);
			sqlite3_close(db2);
			rows_free(rows, (size_t)n);
		}
		ks_mapping_free(&m);
	}
}

/* ---- ks_mapping_fit() against a fake catalogue ---- */

/* The table as the database has it, and what another session makes
 * while this one waits for the DDL lock. */
static int fake_exists, fake_other_creates, fake_other_adds;
static char fake_cols[8][2][32];	/* name, type */
static int fake_ncols;
static char ddl_run[1024], logged[512];

static void
fake_col(const char *name, const char *type)
{
	snprintf(fake_cols[fake_ncols][0], 32, "%s", name);
	snprintf(fake_cols[fake_ncols][1], 32, "%s", type);
	fake_ncols++;
}

static int
f_read(void *arg, struct ks_mapping_table *t, char *eb, size_t el)
{
	int i;

	(void)arg; (void)eb; (void)el;
	t->exists = fake_exists;
	for (i = 0; fake_exists && i < fake_ncols; i++)
		if (ks_mapping_tcol_add(t, KS_MAP_POSTGRES, fake_cols[i][0],
		    fake_cols[i][1]) == -1)
			return KSINK_FATAL;
	return KSINK_OK;
}

static int
f_lock(void *arg, struct ks_mapping_table *t, char *eb, size_t el)
{
	(void)arg; (void)t; (void)eb; (void)el;
	if (fake_other_creates) {
		fake_exists = 1;
		fake_col("id", "text");
		fake_col("n", "bigint");
	}
	if (fake_other_adds)
		fake_col("late", "text");
	return KSINK_OK;
}

static int
f_ddl(void *arg, const char *sql, char *eb, size_t el)
{
	size_t n = strlen(ddl_run);

	(void)arg; (void)eb; (void)el;
	snprintf(ddl_run + n, sizeof(ddl_run) - n, "%s;", sql);
	return KSINK_OK;
}

static void
f_log(void *arg, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(logged);

	(void)arg;
	va_start(ap, fmt);
	vsnprintf(logged + n, sizeof(logged) - n, fmt, ap);
	va_end(ap);
}

static int
fit(struct ks_mapping_db *db, const char *key, const char *value)
{
	struct ks_mapping_row row = { 0 };
	struct ksink_record r = record(key, value, 7);
	int st, skip;

	errbuf[0] = '\0';
	if ((st = ks_mapping_row(db->m, &r, 0, &row, errbuf,
	    sizeof(errbuf))) == KSINK_OK)
		st = ks_mapping_fit(db, &row, &r, &skip, errbuf,
		    sizeof(errbuf));
	ks_mapping_row_free(&row);
	return st;
}

static void
test_fit(void **state)
{
	struct ks_mapping m;
	struct ks_mapping_tables tables = { 0 };
	struct ks_buf sql = { 0 };
	struct ks_mapping_db db = {
		.m = &m, .prefix = "postgres", .where = "the database",
		.tables = &tables, .sql = &sql, .read = f_read,
		.lock = f_lock, .ddl = f_ddl, .log = f_log,
	};

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
		cmocka_unit_test(test_options_defaults),
		cmocka_unit_test(test_options_rules),
		cmocka_unit_test(test_row_flatten),
		cmocka_unit_test(test_row_include_exclude),
		cmocka_unit_test(test_row_pk_modes),
		cmocka_unit_test(test_row_errors),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_sql_text),
		cmocka_unit_test(test_reduce_cases),
		cmocka_unit_test(test_reduce_same_result),
		cmocka_unit_test(test_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
