/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_mapping.c - connectors/lib/mapping.c and maprow.c: the
 * table mapping's options and their rules, and a record as a row
 * (flatten, include/exclude, the pk modes, the errors).  The SQL text is
 * test_mapping_sql.c's, the reduction test_mapping_reduce.c's, the
 * columns from a schema test_mapping_typed.c's.
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

	/* upsert and update need a key; upsert may take the record's
	 * place (as Kafka Connect's JDBC sink does), update may not */
	assert_int_equal(check((const char *const[]){
	    "sqlite.insert.mode=upsert", NULL }), KSINK_CONFIG);
	reported("sqlite.insert.mode: upsert needs the row's key");
	assert_int_equal(check((const char *const[]){
	    "sqlite.insert.mode=upsert", "sqlite.pk.mode=kafka", NULL }),
	    KSINK_OK);
	assert_int_equal(nreports, 0);
	check((const char *const[]){ "sqlite.insert.mode=update",
	    "sqlite.pk.mode=kafka", NULL });
	reported("sqlite.insert.mode: update with sqlite.pk.mode kafka "
	    "finds rows by the record's own topic");

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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
