/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_cjson.c - Kafka Connect's JSON with schema
 * (src/cjson.c): every Connect type and logical type rendered as the Avro
 * decoder renders it, the field list of the ABI, and the envelopes that
 * must be POISON, with the field they name.
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

#include "cjson.h"
#include "../connectors/lib/buf.h"
#include "ksink/sink.h"

static void
cj_ok(const char *schema, const char *payload, const char *want)
{
	struct ks_buf in = { 0 }, out = { 0 };
	struct ks_fields f = { 0 };
	char err[256] = "";

	ks_buf_addf(&in, "{\"schema\":%s,\"payload\":%s}", schema,
	    payload);
	ks_buf_addf(&out, "x");
	if (ks_cjson_decode(in.p, in.len, &out, &f, err, sizeof(err)) !=
	    KSINK_OK)
		fail_msg("%s refused: %s", in.p, err);
	if (strcmp(out.p + 1, want) != 0)
		fail_msg("%s: got %s, want %s", in.p, out.p + 1, want);
	ks_fields_free(&f);
	ks_buf_free(&in);
	ks_buf_free(&out);
}

static void
cj_bad(const char *text, const char *why)
{
	struct ks_buf out = { 0 };
	struct ks_fields f = { 0 };
	char err[256] = "";

	ks_buf_addf(&out, "x");
	if (ks_cjson_decode(text, strlen(text), &out, &f, err, sizeof(err)) !=
	    KSINK_POISON)
		fail_msg("%s accepted as %s", text, out.p);
	if (strstr(err, why) == NULL)
		fail_msg("%s: error \"%s\" does not say \"%s\"", text, err, why);
	assert_string_equal(out.p, "x");
	assert_int_equal(f.n, 0);
	ks_buf_free(&out);
}

#define T(t) "{\"type\":\"" t "\"}"
#define L(t, n) "{\"type\":\"" t "\",\"name\":\"org.apache.kafka.connect." \
	"data." n "\"}"
#define DECIMAL(s) "{\"type\":\"bytes\",\"name\":\"org.apache.kafka." \
	"connect.data.Decimal\",\"parameters\":{\"scale\":\"" s "\"}}"

static void
test_types(void **state)
{
	(void)state;
	cj_ok(T("int8"), "-128", "-128");
	cj_ok(T("int16"), "32767", "32767");
	cj_ok(T("int32"), "-2147483648", "-2147483648");
	cj_ok(T("int64"), "9223372036854775807", "9223372036854775807");
	cj_ok(T("float32"), "0.1", "0.1");
	cj_ok(T("float64"), "1e300", "1e+300");
	cj_ok(T("float64"), "\"NaN\"", "\"NaN\"");
	cj_ok(T("float64"), "3", "3");
	cj_ok(T("boolean"), "true", "true");
	cj_ok(T("string"), "\"a\\u0000\\\"\\u00e9\"", "\"a\\u0000\\\"\xc3\xa9\"");
	/* As every JSON ksink writes (connectors/lib/json.c): the short
	 * escapes where JSON has one. */
	cj_ok(T("string"), "\"\\u0008\\u000c\\n\\u001f\"",
	    "\"\\b\\f\\n\\u001f\"");
	cj_ok(T("bytes"), "\"AP8=\"", "\"AP8=\"");
	cj_ok(T("bytes"), "\"AA==\"", "\"AA==\"");
	cj_ok(T("bytes"), "\"3q2+7w==\"", "\"3q2+7w==\"");
	cj_ok(T("bytes"), "\"\"", "\"\"");
	cj_ok("{\"type\":\"array\",\"items\":" T("int32") "}", "[1,2]",
	    "[1,2]");
	cj_ok("{\"type\":\"map\",\"keys\":" T("string") ",\"values\":"
	    T("int64") "}", "{\"a\":1}", "{\"a\":1}");
	/* Keys that are not strings: Connect's [key, value] pairs. */
	cj_ok("{\"type\":\"map\",\"keys\":" T("int32") ",\"values\":"
	    T("string") "}", "[[1,\"a\"],[2,\"b\"]]",
	    "[[1,\"a\"],[2,\"b\"]]");
	cj_ok("{\"type\":\"int32\",\"optional\":true}", "null", "null");
	cj_ok("{\"type\":\"int32\",\"optional\":true,\"default\":7}", "null",
	    "7");
	cj_ok("{\"type\":\"struct\",\"fields\":[{\"field\":\"a\",\"type\":"
	    "\"int32\"},{\"field\":\"b\",\"type\":\"string\",\"optional\":"
	    "true},{\"field\":\"c\",\"type\":\"struct\",\"fields\":[{"
	    "\"field\":\"d\",\"type\":\"boolean\"}]}]}",
	    "{\"c\":{\"d\":false},\"a\":1}",
	    "{\"a\":1,\"b\":null,\"c\":{\"d\":false}}");
}

static void
test_logical(void **state)
{
	(void)state;
	cj_ok(DECIMAL("2"), "\"BNI=\"", "\"12.34\"");
	cj_ok(DECIMAL("2"), "\"+y4=\"", "\"-12.34\"");
	cj_ok(DECIMAL("0"), "\"AA==\"", "\"0\"");
	cj_ok(DECIMAL("-2"), "\"BQ==\"", "\"500\"");
	cj_ok(L("int32", "Date"), "19782", "\"2024-02-29\"");
	cj_ok(L("int32", "Date"), "-1", "\"1969-12-31\"");
	cj_ok(L("int32", "Time"), "49500123", "\"13:45:00.123\"");
	cj_ok(L("int64", "Timestamp"), "-1", "\"1969-12-31T23:59:59.999Z\"");
	cj_ok(L("int64", "Timestamp"), "1709214300123",
	    "\"2024-02-29T13:45:00.123Z\"");
}

#define ENV(s, p) "{\"schema\":" s ",\"payload\":" p "}"

static void
test_poison(void **state)
{
	(void)state;
	cj_bad("{\"schema\":", "not JSON");
	cj_bad("[1]", "no \"schema\" and \"payload\"");
	cj_bad("{\"a\":1}", "no \"schema\" and \"payload\"");
	cj_bad(ENV("null", "1"), "schema is null");
	cj_bad(ENV(T("int8"), "128"), "128 out of an int8's range");
	cj_bad(ENV(T("int32"), "1.5"), "not an integer");
	cj_bad(ENV(T("int32"), "\"1\""), "not an integer");
	cj_bad(ENV(T("string"), "1"), "not a string");
	cj_bad(ENV(T("bytes"), "\"A\""), "not a base64 string");
	cj_bad(ENV(T("bytes"), "\"A*==\""), "not a base64 string");
	cj_bad(ENV(T("bytes"), "\"AB=C\""), "not a base64 string");
	cj_bad(ENV(T("bytes"), "\"A===\""), "not a base64 string");
	cj_bad(ENV(T("bytes"), "\"AA==AA==\""), "not a base64 string");
	cj_bad(ENV(T("uint8"), "1"), "unknown schema type \"uint8\"");
	cj_bad(ENV(T("int32"), "null"), "not optional");
	cj_bad(ENV("{\"type\":\"bytes\",\"name\":\"org.apache.kafka.connect."
	    "data.Decimal\"}", "\"AA==\""), "parameters.scale");
	cj_bad(ENV(L("int32", "Time"), "86400000"), "not within a day");
	cj_bad(ENV("{\"type\":\"struct\",\"fields\":[{\"field\":\"a\","
	    "\"type\":\"struct\",\"fields\":[{\"field\":\"b\",\"type\":"
	    "\"int16\"}]}]}", "{\"a\":{\"b\":\"x\"}}"),
	    "field a.b: not an integer");
	cj_bad(ENV("{\"type\":\"struct\",\"fields\":[{\"field\":\"a\","
	    "\"type\":\"int64\"}]}", "{}"), "field a: null, and the schema");
	cj_bad(ENV("{\"type\":\"array\",\"items\":" T("boolean") "}",
	    "[true,1]"), "not a boolean");
	cj_bad(ENV("{\"type\":\"map\",\"keys\":" T("int32") ",\"values\":"
	    T("int32") "}", "[[1]]"), "not a [key, value] pair");
}

static void
test_fields(void **state)
{
	static const char text[] = ENV("{\"type\":\"struct\",\"name\":\"v\","
	    "\"fields\":[{\"field\":\"id\",\"type\":\"int64\"},"
	    "{\"field\":\"n\",\"type\":\"int8\",\"optional\":true,"
	    "\"default\":3},"
	    "{\"field\":\"amount\",\"type\":\"bytes\",\"name\":"
	    "\"org.apache.kafka.connect.data.Decimal\",\"parameters\":"
	    "{\"scale\":\"2\",\"connect.decimal.precision\":\"10\"}},"
	    "{\"field\":\"day\",\"type\":\"int32\",\"name\":"
	    "\"org.apache.kafka.connect.data.Date\"},"
	    "{\"field\":\"at\",\"type\":\"int64\",\"name\":"
	    "\"org.apache.kafka.connect.data.Timestamp\",\"optional\":true},"
	    "{\"field\":\"sub\",\"type\":\"struct\",\"fields\":["
	    "{\"field\":\"f\",\"type\":\"float32\"}]},"
	    "{\"field\":\"tags\",\"type\":\"array\",\"items\":{\"type\":"
	    "\"string\"}}]}",
	    "{\"id\":1,\"amount\":\"AQ==\",\"day\":0,\"sub\":{\"f\":1.5},"
	    "\"tags\":[\"x\"]}");
	struct ks_buf out = { 0 };
	struct ks_fields f = { 0 };
	char err[256] = "";

	(void)state;
	assert_int_equal(ks_cjson_decode(text, strlen(text), &out, &f, err,
	    sizeof(err)), KSINK_OK);
	assert_string_equal(out.p, "{\"id\":1,\"n\":3,\"amount\":\"0.01\","
	    "\"day\":\"1970-01-01\",\"at\":null,\"sub\":{\"f\":1.5},"
	    "\"tags\":[\"x\"]}");
	assert_int_equal(f.n, 8);
	assert_string_equal(f.v[0].name, "id");
	assert_int_equal(f.v[0].parent, -1);
	assert_int_equal(f.v[0].type, KSINK_FIELD_INT64);
	assert_int_equal(f.v[1].type, KSINK_FIELD_INT32);
	assert_int_equal(f.v[1].flags, KSINK_FIELD_OPTIONAL);
	assert_string_equal(f.v[1].default_json, "3");
	assert_int_equal(f.v[2].type, KSINK_FIELD_DECIMAL);
	assert_int_equal(f.v[2].precision, 10);
	assert_int_equal(f.v[2].scale, 2);
	assert_int_equal(f.v[3].type, KSINK_FIELD_DATE);
	assert_int_equal(f.v[4].type, KSINK_FIELD_TIMESTAMP_MILLIS);
	assert_int_equal(f.v[4].flags, KSINK_FIELD_OPTIONAL);
	assert_string_equal(f.v[5].name, "sub");
	assert_int_equal(f.v[5].type, KSINK_FIELD_RECORD);
	assert_string_equal(f.v[6].name, "f");
	assert_int_equal(f.v[6].parent, 5);
	assert_int_equal(f.v[6].type, KSINK_FIELD_FLOAT32);
	assert_int_equal(f.v[7].type, KSINK_FIELD_ARRAY);
	assert_int_equal(f.v[7].parent, -1);
	ks_fields_free(&f);
	ks_buf_free(&out);

	/* Not a struct: one entry named "". */
	assert_int_equal(ks_cjson_decode(ENV(T("string"), "\"s\""),
	    strlen(ENV(T("string"), "\"s\"")), &out, &f, err, sizeof(err)),
	    KSINK_OK);
	assert_string_equal(out.p, "\"s\"");
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0].name, "");
	assert_int_equal(f.v[0].type, KSINK_FIELD_STRING);
	ks_fields_free(&f);
	ks_buf_free(&out);
}

/* A buffer that ran out of memory makes the decode FATAL, not POISON:
 * the record is fine, the worker is not. */
static void
test_out_of_memory(void **state)
{
	const char *text = ENV(T("string"), "\"s\"");
	struct ks_buf out = { 0 };
	struct ks_fields f = { 0 };
	char err[256] = "";

	(void)state;
	ks_buf_addf(&out, "x");
	out.oom = 1;
	assert_int_equal(ks_cjson_decode(text, strlen(text), &out, &f, err,
	    sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "out of memory"));
	assert_string_equal(out.p, "x");
	assert_int_equal(f.n, 0);
	ks_buf_reset(&out);
	assert_int_equal(ks_cjson_decode(text, strlen(text), &out, &f, err,
	    sizeof(err)), KSINK_OK);
	assert_string_equal(out.p, "\"s\"");
	ks_fields_free(&f);
	ks_buf_free(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_logical),
		cmocka_unit_test(test_poison),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
