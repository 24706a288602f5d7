/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_avrodec.c - Avro bodies decoded into ksink's JSON
 * renderings (src/avroschema.c, src/avrodec.c, src/render.c): every type
 * and logical type with its edge values, unions, defaults, the field list
 * of the ABI, and the bodies and schemas that must be POISON.  Bodies are
 * encoded by hand (avro-fx.h) or by avro-c's own writer.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <pthread.h>

#include <cmocka.h>
#include <avro.h>

#include "avrodec.h"
#include "../connectors/lib/buf.h"
#include "ksink/sink.h"
#include "avro-fx.h"

static struct ks_avro_schema *
parse_ok(const char *json)
{
	struct ks_avro_schema *s = NULL;
	char err[256] = "";

	if (ks_avro_schema_parse(json, strlen(json), &s, err, sizeof(err)) !=
	    KSINK_OK)
		fail_msg("schema %s refused: %s", json, err);
	return s;
}

static void
dec_ok(const char *schema, const struct enc *e, const char *want)
{
	struct ks_avro_schema *s = parse_ok(schema);
	struct ks_buf out = { 0 };
	char err[256] = "";

	ks_buf_addf(&out, "x");	/* decode appends */
	if (ks_avro_decode(s, e->b, e->n, &out, err, sizeof(err)) != KSINK_OK)
		fail_msg("%s: body refused: %s", schema, err);
	if (strcmp(out.p + 1, want) != 0)
		fail_msg("%s: got %s, want %s", schema, out.p + 1, want);
	assert_int_equal(out.p[0], 'x');
	ks_buf_free(&out);
	ks_avro_schema_free(s);
}

static void
dec_bad(const char *schema, const struct enc *e, const char *why)
{
	struct ks_avro_schema *s = parse_ok(schema);
	struct ks_buf out = { 0 };
	char err[256] = "";

	ks_buf_addf(&out, "x");
	if (ks_avro_decode(s, e->b, e->n, &out, err, sizeof(err)) !=
	    KSINK_POISON)
		fail_msg("%s: body accepted as %s", schema, out.p);
	if (strstr(err, why) == NULL)
		fail_msg("%s: error \"%s\" does not say \"%s\"", schema, err,
		    why);
	/* Nothing appended. */
	assert_string_equal(out.p, "x");
	ks_buf_free(&out);
	ks_avro_schema_free(s);
}

static void
schema_bad(const char *schema, const char *why)
{
	struct ks_avro_schema *s = NULL;
	char err[256] = "";

	if (ks_avro_schema_parse(schema, strlen(schema), &s, err,
	    sizeof(err)) != KSINK_POISON)
		fail_msg("schema %s accepted", schema);
	assert_null(s);
	if (strstr(err, why) == NULL)
		fail_msg("%s: error \"%s\" does not say \"%s\"", schema, err,
		    why);
}

#define ENC(...) do { memset(&e, 0, sizeof(e)); __VA_ARGS__; } while (0)

static void
test_primitives(void **state)
{
	struct enc e;

	(void)state;
	ENC();
	dec_ok("\"null\"", &e, "null");
	ENC(e_hex(&e, "01"));
	dec_ok("\"boolean\"", &e, "true");
	ENC(e_hex(&e, "00"));
	dec_ok("\"boolean\"", &e, "false");
	ENC(e_long(&e, 0));
	dec_ok("\"int\"", &e, "0");
	ENC(e_long(&e, -64));
	dec_ok("\"int\"", &e, "-64");
	ENC(e_long(&e, INT32_MIN));
	dec_ok("\"int\"", &e, "-2147483648");
	ENC(e_long(&e, INT32_MAX));
	dec_ok("\"int\"", &e, "2147483647");
	ENC(e_long(&e, INT64_MIN));
	dec_ok("\"long\"", &e, "-9223372036854775808");
	ENC(e_long(&e, INT64_MAX));
	dec_ok("\"long\"", &e, "9223372036854775807");
	ENC(e_float(&e, 1.5f));
	dec_ok("\"float\"", &e, "1.5");
	ENC(e_float(&e, 0.1f));
	dec_ok("\"float\"", &e, "0.1");
	ENC(e_double(&e, 0.1));
	dec_ok("\"double\"", &e, "0.1");
	ENC(e_double(&e, -1e300));
	dec_ok("\"double\"", &e, "-1e+300");
	ENC(e_double(&e, NAN));
	dec_ok("\"double\"", &e, "\"NaN\"");
	ENC(e_double(&e, INFINITY));
	dec_ok("\"double\"", &e, "\"Infinity\"");
	ENC(e_float(&e, -INFINITY));
	dec_ok("\"float\"", &e, "\"-Infinity\"");
	ENC(e_str(&e, "h\xc3\xa9llo \"q\"\\\n\x01"));
	dec_ok("\"string\"", &e, "\"h\xc3\xa9llo \\\"q\\\"\\\\\\n\\u0001\"");
	ENC(e_bytes(&e, "a\0b", 3));
	dec_ok("\"string\"", &e, "\"a\\u0000b\"");
	/* The short escapes where JSON has one, as every JSON text ksink
	 * writes (connectors/lib/json.c). */
	ENC(e_str(&e, "\b\f\t\r\x1f\x7f"));
	dec_ok("\"string\"", &e, "\"\\b\\f\\t\\r\\u001f\x7f\"");
	ENC(e_bytes(&e, "\x00\xff", 2));
	dec_ok("\"bytes\"", &e, "\"AP8=\"");
	ENC(e_bytes(&e, "", 0));
	dec_ok("\"bytes\"", &e, "\"\"");
}

static void
test_complex(void **state)
{
	struct enc e;

	(void)state;
	ENC(e_long(&e, 2));
	dec_ok("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\","
	    "\"C\"]}", &e, "\"C\"");
	ENC(e_raw(&e, "\x01\x02\x03", 3));
	dec_ok("{\"type\":\"fixed\",\"name\":\"F\",\"size\":3}", &e,
	    "\"AQID\"");
	ENC();
	dec_ok("{\"type\":\"fixed\",\"name\":\"F\",\"size\":0}", &e, "\"\"");
	/* Two blocks, the second with a negative count and its size. */
	ENC(e_long(&e, 2); e_long(&e, 1); e_long(&e, 2); e_long(&e, -1);
	    e_long(&e, 1); e_long(&e, 3); e_long(&e, 0));
	dec_ok("{\"type\":\"array\",\"items\":\"int\"}", &e, "[1,2,3]");
	ENC(e_long(&e, 0));
	dec_ok("{\"type\":\"array\",\"items\":\"int\"}", &e, "[]");
	ENC(e_long(&e, 3));
	e_long(&e, 0);	/* three nulls: no bytes each */
	dec_ok("{\"type\":\"array\",\"items\":\"null\"}", &e,
	    "[null,null,null]");
	ENC(e_long(&e, 2); e_str(&e, "a"); e_long(&e, 1); e_str(&e, "b\"");
	    e_long(&e, -1); e_long(&e, 0));
	dec_ok("{\"type\":\"map\",\"values\":\"long\"}", &e,
	    "{\"a\":1,\"b\\\"\":-1}");
	ENC(e_long(&e, -4); e_str(&e, "x"); e_long(&e, 2); e_long(&e, 0);
	    e_long(&e, 0); e_long(&e, 0); e_long(&e, 0));
	dec_ok("{\"type\":\"record\",\"name\":\"R\",\"namespace\":\"n\","
	    "\"fields\":[{\"name\":\"i\",\"type\":\"int\"},"
	    "{\"name\":\"s\",\"type\":\"string\"},"
	    "{\"name\":\"in\",\"type\":{\"type\":\"record\",\"name\":\"I\","
	    "\"fields\":[{\"name\":\"a\",\"type\":{\"type\":\"array\","
	    "\"items\":\"I\"}}]}},"
	    "{\"name\":\"again\",\"type\":\"n.I\"}]}", &e,
	    "{\"i\":-4,\"s\":\"x\",\"in\":{\"a\":[{\"a\":[]},{\"a\":[]}]},"
	    "\"again\":{\"a\":[]}}");
	ENC();
	dec_ok("{\"type\":\"record\",\"name\":\"Empty\",\"fields\":[]}", &e,
	    "{}");
}

static void
test_unions(void **state)
{
	struct enc e;

	(void)state;
	ENC(e_long(&e, 0));
	dec_ok("[\"null\",\"int\"]", &e, "null");
	ENC(e_long(&e, 1); e_long(&e, 5));
	dec_ok("[\"null\",\"int\"]", &e, "5");
	ENC(e_long(&e, 0); e_str(&e, "s"));
	dec_ok("[\"string\",\"null\"]", &e, "\"s\"");
	ENC(e_long(&e, 1));
	dec_ok("[\"string\",\"null\"]", &e, "null");
	/* Several types: the branch's value, with no wrapper. */
	ENC(e_long(&e, 2); e_double(&e, 2.5));
	dec_ok("[\"null\",\"long\",\"double\",\"string\"]", &e, "2.5");
	ENC(e_long(&e, 3); e_str(&e, "t"));
	dec_ok("[\"null\",\"long\",\"double\",\"string\"]", &e, "\"t\"");
	/* A recursive list through a union. */
	ENC(e_long(&e, -1); e_long(&e, 1); e_long(&e, 1); e_long(&e, 0));
	dec_ok("{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":"
	    "\"v\",\"type\":\"int\"},{\"name\":\"next\",\"type\":[\"null\","
	    "\"L\"]}]}", &e, "{\"v\":-1,\"next\":{\"v\":1,\"next\":null}}");
}

#define DEC(p, s) "{\"type\":\"bytes\",\"logicalType\":\"decimal\"," \
	"\"precision\":" #p ",\"scale\":" #s "}"
#define FDEC(n, p, s) "{\"type\":\"fixed\",\"name\":\"D\",\"size\":" #n \
	",\"logicalType\":\"decimal\",\"precision\":" #p ",\"scale\":" #s "}"

static void
test_decimal(void **state)
{
	struct enc e;

	(void)state;
	ENC(e_long(&e, 2); e_hex(&e, "fb32"));		/* -1230 */
	dec_ok(DEC(6, 2), &e, "\"-12.30\"");
	ENC(e_long(&e, 1); e_hex(&e, "00"));
	dec_ok(DEC(6, 2), &e, "\"0.00\"");
	ENC(e_long(&e, 0));				/* no bytes: 0 */
	dec_ok(DEC(6, 2), &e, "\"0.00\"");
	ENC(e_long(&e, 2); e_hex(&e, "3039"));		/* 12345 */
	dec_ok(DEC(5, 0), &e, "\"12345\"");
	dec_ok(DEC(9, 5), &e, "\"0.12345\"");
	dec_ok(DEC(9, 7), &e, "\"0.0012345\"");
	ENC(e_long(&e, 1); e_hex(&e, "ff"));		/* -1 */
	dec_ok(DEC(3, 3), &e, "\"-0.001\"");
	ENC(e_long(&e, 1); e_hex(&e, "80"));		/* -128 */
	dec_ok(DEC(3, 1), &e, "\"-12.8\"");
	/* Sign bytes before the value are no digits. */
	ENC(e_long(&e, 4); e_hex(&e, "ffffff80"));
	dec_ok(DEC(3, 1), &e, "\"-12.8\"");
	/* Precision 38: the largest values, both signs, in 17 bytes. */
	ENC(e_long(&e, 17); e_hex(&e, "004b3b4ca85a86c47a098a223fffffffff"));
	dec_ok(DEC(38, 2), &e,
	    "\"999999999999999999999999999999999999.99\"");
	ENC(e_long(&e, 17); e_hex(&e, "ffb4c4b357a5793b85f675ddc000000001"));
	dec_ok(DEC(38, 0), &e,
	    "\"-99999999999999999999999999999999999999\"");
	/* One more digit than the precision. */
	ENC(e_long(&e, 2); e_hex(&e, "3039"));
	dec_bad(DEC(4, 0), &e, "more than 4");
	/* Fixed-size decimals. */
	ENC(e_hex(&e, "00000000000000000000000000003039"));
	dec_ok(FDEC(16, 38, 2), &e, "\"123.45\"");
	ENC(e_hex(&e, "fffffffffffffffffffffffffffffffb"));
	dec_ok(FDEC(16, 38, 2), &e, "\"-0.05\"");
	/* An invalid decimal is its bytes, as the specification says. */
	ENC(e_long(&e, 1); e_hex(&e, "ff"));
	dec_ok(DEC(2, 3), &e, "\"/w==\"");
	schema_bad(DEC(1001, 0), "precision 1001");
}

static void
test_datetime(void **state)
{
	struct enc e;

	(void)state;
#define DATE "{\"type\":\"int\",\"logicalType\":\"date\"}"
	ENC(e_long(&e, 0));
	dec_ok(DATE, &e, "\"1970-01-01\"");
	ENC(e_long(&e, -1));
	dec_ok(DATE, &e, "\"1969-12-31\"");
	ENC(e_long(&e, 19782));
	dec_ok(DATE, &e, "\"2024-02-29\"");
	ENC(e_long(&e, -25508));
	dec_ok(DATE, &e, "\"1900-03-01\"");
	ENC(e_long(&e, -719162));
	dec_ok(DATE, &e, "\"0001-01-01\"");
	ENC(e_long(&e, 2932896));
	dec_ok(DATE, &e, "\"9999-12-31\"");
	ENC(e_long(&e, 49500123));
	dec_ok("{\"type\":\"int\",\"logicalType\":\"time-millis\"}", &e,
	    "\"13:45:00.123\"");
	ENC(e_long(&e, 86399999999LL));
	dec_ok("{\"type\":\"long\",\"logicalType\":\"time-micros\"}", &e,
	    "\"23:59:59.999999\"");
	ENC(e_long(&e, 86400000));
	dec_bad("{\"type\":\"int\",\"logicalType\":\"time-millis\"}", &e,
	    "not within a day");
	ENC(e_long(&e, -1));
	dec_bad("{\"type\":\"long\",\"logicalType\":\"time-micros\"}", &e,
	    "not within a day");
#define TSM "{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}"
#define TSU "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}"
	ENC(e_long(&e, 0));
	dec_ok(TSM, &e, "\"1970-01-01T00:00:00.000Z\"");
	ENC(e_long(&e, -1));
	dec_ok(TSM, &e, "\"1969-12-31T23:59:59.999Z\"");
	ENC(e_long(&e, -14182940000LL));
	dec_ok(TSM, &e, "\"1969-07-20T20:17:40.000Z\"");
	ENC(e_long(&e, 1709214300123456LL));
	dec_ok(TSU, &e, "\"2024-02-29T13:45:00.123456Z\"");
	ENC(e_long(&e, -2208988799999999LL));
	dec_ok(TSU, &e, "\"1900-01-01T00:00:00.000001Z\"");
	ENC(e_long(&e, INT64_MIN));		/* renders, does not crash */
	dec_ok(TSU, &e, "\"-290308-12-21T19:59:05.224192Z\"");
	ENC(e_long(&e, 1709214300123LL));
	dec_ok("{\"type\":\"long\",\"logicalType\":"
	    "\"local-timestamp-millis\"}", &e, "\"2024-02-29T13:45:00.123\"");
	ENC(e_long(&e, 1709214300123456LL));
	dec_ok("{\"type\":\"long\",\"logicalType\":"
	    "\"local-timestamp-micros\"}", &e,
	    "\"2024-02-29T13:45:00.123456\"");
	/* A logical type on the wrong type is ignored. */
	ENC(e_long(&e, 5));
	dec_ok("{\"type\":\"long\",\"logicalType\":\"date\"}", &e, "5");
}

static void
test_uuid(void **state)
{
	struct enc e;

	(void)state;
	ENC(e_str(&e, "0b0e9c2a-4f6e-4d3b-9a1c-2f3e4d5c6b7a"));
	dec_ok("{\"type\":\"string\",\"logicalType\":\"uuid\"}", &e,
	    "\"0b0e9c2a-4f6e-4d3b-9a1c-2f3e4d5c6b7a\"");
	ENC(e_hex(&e, "0b0e9c2a4f6e4d3b9a1c2f3e4d5c6b7a"));
	dec_ok("{\"type\":\"fixed\",\"name\":\"U\",\"size\":16,"
	    "\"logicalType\":\"uuid\"}", &e,
	    "\"0b0e9c2a-4f6e-4d3b-9a1c-2f3e4d5c6b7a\"");
}

/* An array of records Rk of two fields of type Rk-1; R0 has two nulls. */
static const char *
doubling(int levels)
{
	static char js[4096];
	char rec[4000], inner[4000];
	int k, n;

	n = snprintf(rec, sizeof(rec), "{\"type\":\"record\",\"name\":\"R0\","
	    "\"fields\":[{\"name\":\"a\",\"type\":\"null\"},{\"name\":"
	    "\"b\",\"type\":\"null\"}]}");
	for (k = 1; k <= levels; k++) {
		memcpy(inner, rec, (size_t)n + 1);
		n = snprintf(rec, sizeof(rec), "{\"type\":\"record\",\"name\":"
		    "\"R%d\",\"fields\":[{\"name\":\"a\",\"type\":%s},"
		    "{\"name\":\"b\",\"type\":\"R%d\"}]}", k, inner, k - 1);
		assert_true(n < (int)sizeof(rec));
	}
	snprintf(js, sizeof(js), "{\"type\":\"array\",\"items\":%s}", rec);
	return js;
}

static void
test_poison(void **state)
{
	struct enc e;
	int i;

	(void)state;
	ENC(e_long(&e, 5); e_raw(&e, "ab", 2));
	dec_bad("\"string\"", &e, "length 5 beyond the 2 bytes left");
	ENC(e_long(&e, -3));
	dec_bad("\"bytes\"", &e, "negative length -3");
	ENC(e_long(&e, INT64_MAX); e_raw(&e, "a", 1));
	dec_bad("\"bytes\"", &e, "beyond the 1 bytes left");
	ENC(e_long(&e, 1); e_long(&e, 2));
	dec_bad("\"int\"", &e, "1 bytes left over");
	ENC();
	dec_bad("\"int\"", &e, "truncated");
	ENC(e_raw(&e, "\x80\x80", 2));
	dec_bad("\"long\"", &e, "truncated");
	ENC(e_raw(&e, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 11));
	dec_bad("\"long\"", &e, "varint over");
	ENC(e_long(&e, (int64_t)INT32_MAX + 1));
	dec_bad("\"int\"", &e, "out of an int's range");
	ENC(e_raw(&e, "\x00\x00", 2));
	dec_bad("\"double\"", &e, "truncated body: double needs 8 bytes");
	ENC(e_long(&e, 2); e_long(&e, 1));
	dec_bad("[\"null\",\"int\"]", &e, "union branch 2 of 2");
	ENC(e_long(&e, -1));
	dec_bad("[\"null\",\"int\"]", &e, "union branch -1 of 2");
	ENC(e_long(&e, 3));
	dec_bad("{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\"]}", &e,
	    "enum index 3 of 1");
	ENC(e_hex(&e, "02"));
	dec_bad("\"boolean\"", &e, "boolean byte 0x02");
	/* Avro strings are UTF-8: anything else is POISON. */
	ENC(e_bytes(&e, "a\xff", 2));
	dec_bad("\"string\"", &e, "not UTF-8");
	ENC(e_long(&e, 1); e_bytes(&e, "\xc0\xaf", 2); e_long(&e, 1);
	    e_long(&e, 0));
	dec_bad("{\"type\":\"map\",\"values\":\"int\"}", &e,
	    "map key is not UTF-8");
	/* A count no body of that size can hold, refused before reading:
	 * avro-c would allocate and loop over it. */
	ENC(e_long(&e, INT64_MAX / 2); e_long(&e, 0));
	dec_bad("{\"type\":\"array\",\"items\":\"null\"}", &e,
	    "values of no bytes");
	ENC(e_long(&e, 1000); e_long(&e, 1); e_long(&e, 0));
	dec_bad("{\"type\":\"array\",\"items\":\"long\"}", &e,
	    "block of 1000 items beyond the 2 bytes left");
	ENC(e_long(&e, 100); e_long(&e, 0));
	dec_bad("{\"type\":\"map\",\"values\":\"null\"}", &e,
	    "block of 100 items beyond");
	ENC(e_long(&e, -1); e_long(&e, 99); e_long(&e, 1));
	dec_bad("{\"type\":\"array\",\"items\":\"int\"}", &e,
	    "block size 99 beyond");
	/* Records of records of nulls, each level twice the one below
	 * (within an array, so that the field list stays short): 2^20
	 * nulls from three bytes. */
	ENC(e_long(&e, 1); e_long(&e, 0));
	dec_bad(doubling(20), &e, "values of no bytes");
	/* Nesting beyond the limit, through a recursive union. */
	ENC(for (i = 0; i < 200; i++) e_long(&e, 1); e_long(&e, 0));
	dec_bad("{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":"
	    "\"next\",\"type\":[\"null\",\"L\"]}]}", &e, "nested deeper");
	/* The error names the field. */
	ENC(e_long(&e, 1); e_long(&e, 9));
	dec_bad("{\"type\":\"record\",\"name\":\"R\",\"fields\":[{\"name\":"
	    "\"a\",\"type\":{\"type\":\"record\",\"name\":\"S\",\"fields\":"
	    "[{\"name\":\"i\",\"type\":\"int\"},{\"name\":\"e\",\"type\":"
	    "{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"X\"]}}]}}]}",
	    &e, "field a.e: enum index");
}

static void
test_bad_schemas(void **state)
{
	(void)state;
	schema_bad("{\"type\":\"nope\"}", "not an Avro schema");
	schema_bad("{\"type\":\"record\",\"name\":\"R\"", "not an Avro schema");
	schema_bad("\"Undefined\"", "not an Avro schema");
	schema_bad("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
	    "{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"a\",\"type\":"
	    "\"long\"}]}", "two fields named a");
	schema_bad("[\"null\",\"int\",\"int\"]", "same type twice");
	schema_bad("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
	    "{\"name\":\"a\",\"type\":\"int\",\"default\":\"x\"}]}",
	    "field a: its default");
}

static const struct ksink_field *
field(const struct ks_fields *f, size_t i)
{
	assert_true(i < f->n);
	return &f->v[i];
}

#define F(i, nm, par, ty, fl) do { \
	const struct ksink_field *x_ = field(f, i); \
	assert_string_equal(x_->name, nm); \
	assert_int_equal(x_->parent, par); \
	assert_int_equal(x_->type, ty); \
	assert_int_equal(x_->flags, fl); \
} while (0)

static void
test_fields(void **state)
{
	struct ks_avro_schema *s;
	const struct ks_fields *f;

	(void)state;
	s = parse_ok("{\"type\":\"record\",\"name\":\"R\",\"fields\":["
	    "{\"name\":\"b\",\"type\":\"boolean\"},"
	    "{\"name\":\"i\",\"type\":\"int\",\"default\":5},"
	    "{\"name\":\"l\",\"type\":[\"null\",\"long\"],\"default\":null},"
	    "{\"name\":\"f\",\"type\":\"float\"},"
	    "{\"name\":\"d\",\"type\":[\"double\",\"null\"]},"
	    "{\"name\":\"s\",\"type\":\"string\",\"default\":\"x\\\"\"},"
	    "{\"name\":\"by\",\"type\":\"bytes\",\"default\":\"\\u00ff\"},"
	    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
	    "\"symbols\":[\"A\"]},\"default\":\"A\"},"
	    "{\"name\":\"nest\",\"type\":[\"null\",{\"type\":\"record\","
	    "\"name\":\"N\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"},"
	    "{\"name\":\"self\",\"type\":[\"null\",\"N\"]}]}]},"
	    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"N\"}},"
	    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"int\"}},"
	    "{\"name\":\"any\",\"type\":[\"null\",\"int\",\"string\"]},"
	    "{\"name\":\"dec\",\"type\":" DEC(10, 3) ",\"default\":"
	    "\"\\u0004\\u00d2\"},"
	    "{\"name\":\"date\",\"type\":" DATE ",\"default\":-1},"
	    "{\"name\":\"tm\",\"type\":{\"type\":\"int\",\"logicalType\":"
	    "\"time-millis\"}},"
	    "{\"name\":\"tu\",\"type\":{\"type\":\"long\",\"logicalType\":"
	    "\"time-micros\"}},"
	    "{\"name\":\"tsm\",\"type\":" TSM ",\"default\":0},"
	    "{\"name\":\"tsu\",\"type\":" TSU "},"
	    "{\"name\":\"lts\",\"type\":{\"type\":\"long\",\"logicalType\":"
	    "\"local-timestamp-millis\"}},"
	    "{\"name\":\"u\",\"type\":{\"type\":\"string\",\"logicalType\":"
	    "\"uuid\"}},"
	    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"FX\","
	    "\"size\":2},\"default\":\"ab\"},"
	    "{\"name\":\"rd\",\"type\":{\"type\":\"record\",\"name\":\"RD\","
	    "\"fields\":[{\"name\":\"p\",\"type\":\"int\"},{\"name\":\"q\","
	    "\"type\":\"string\",\"default\":\"z\"}]},\"default\":{\"p\":1}}"
	    "]}");
	f = ks_avro_schema_fields(s);
	assert_int_equal(f->n, 26);
	F(0, "b", -1, KSINK_FIELD_BOOLEAN, 0);
	assert_null(field(f, 0)->default_json);
	F(1, "i", -1, KSINK_FIELD_INT32, 0);
	assert_string_equal(field(f, 1)->default_json, "5");
	F(2, "l", -1, KSINK_FIELD_INT64, KSINK_FIELD_OPTIONAL);
	assert_string_equal(field(f, 2)->default_json, "null");
	F(3, "f", -1, KSINK_FIELD_FLOAT32, 0);
	F(4, "d", -1, KSINK_FIELD_FLOAT64, KSINK_FIELD_OPTIONAL);
	F(5, "s", -1, KSINK_FIELD_STRING, 0);
	assert_string_equal(field(f, 5)->default_json, "\"x\\\"\"");
	F(6, "by", -1, KSINK_FIELD_BYTES, 0);
	assert_string_equal(field(f, 6)->default_json, "\"/w==\"");
	F(7, "e", -1, KSINK_FIELD_STRING, 0);
	assert_string_equal(field(f, 7)->default_json, "\"A\"");
	F(8, "nest", -1, KSINK_FIELD_RECORD, KSINK_FIELD_OPTIONAL);
	F(9, "x", 8, KSINK_FIELD_INT32, 0);
	/* A record within itself: any JSON, not fields without end. */
	F(10, "self", 8, KSINK_FIELD_ANY, KSINK_FIELD_OPTIONAL);
	F(11, "a", -1, KSINK_FIELD_ARRAY, 0);
	F(12, "m", -1, KSINK_FIELD_MAP, 0);
	F(13, "any", -1, KSINK_FIELD_ANY, KSINK_FIELD_OPTIONAL);
	F(14, "dec", -1, KSINK_FIELD_DECIMAL, 0);
	assert_int_equal(field(f, 14)->precision, 10);
	assert_int_equal(field(f, 14)->scale, 3);
	assert_string_equal(field(f, 14)->default_json, "\"1.234\"");
	F(15, "date", -1, KSINK_FIELD_DATE, 0);
	assert_string_equal(field(f, 15)->default_json, "\"1969-12-31\"");
	F(16, "tm", -1, KSINK_FIELD_TIME_MILLIS, 0);
	F(17, "tu", -1, KSINK_FIELD_TIME_MICROS, 0);
	F(18, "tsm", -1, KSINK_FIELD_TIMESTAMP_MILLIS, 0);
	assert_string_equal(field(f, 18)->default_json,
	    "\"1970-01-01T00:00:00.000Z\"");
	F(19, "tsu", -1, KSINK_FIELD_TIMESTAMP_MICROS, 0);
	F(20, "lts", -1, KSINK_FIELD_STRING, 0);
	F(21, "u", -1, KSINK_FIELD_UUID, 0);
	F(22, "fx", -1, KSINK_FIELD_BYTES, 0);
	assert_string_equal(field(f, 22)->default_json, "\"YWI=\"");
	F(23, "rd", -1, KSINK_FIELD_RECORD, 0);
	assert_string_equal(field(f, 23)->default_json,
	    "{\"p\":1,\"q\":\"z\"}");
	F(24, "p", 23, KSINK_FIELD_INT32, 0);
	F(25, "q", 23, KSINK_FIELD_STRING, 0);
	assert_string_equal(field(f, 25)->default_json, "\"z\"");
	ks_avro_schema_free(s);

	/* Not a record: one entry named "". */
	s = parse_ok("[\"null\"," DEC(4, 1) "]");
	f = ks_avro_schema_fields(s);
	assert_int_equal(f->n, 1);
	F(0, "", -1, KSINK_FIELD_DECIMAL, KSINK_FIELD_OPTIONAL);
	assert_int_equal(field(f, 0)->precision, 4);
	assert_int_equal(field(f, 0)->scale, 1);
	ks_avro_schema_free(s);
}

/* A record written by avro-c's own writer reads back the same. */
static void
test_avro_c_writer(void **state)
{
	static const char js[] = "{\"type\":\"record\",\"name\":\"W\","
	    "\"fields\":[{\"name\":\"i\",\"type\":\"int\"},"
	    "{\"name\":\"l\",\"type\":\"long\"},"
	    "{\"name\":\"s\",\"type\":\"string\"},"
	    "{\"name\":\"d\",\"type\":\"double\"},"
	    "{\"name\":\"o\",\"type\":[\"null\",\"string\"]},"
	    "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"
	    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":"
	    "\"boolean\"}}]}";
	avro_schema_t as;
	avro_value_iface_t *iface;
	avro_value_t v, x, y;
	avro_writer_t w;
	struct enc e;
	size_t idx;

	(void)state;
	assert_int_equal(avro_schema_from_json_length(js, strlen(js), &as), 0);
	iface = avro_generic_class_from_schema(as);
	assert_int_equal(avro_generic_value_new(iface, &v), 0);
	avro_value_get_by_name(&v, "i", &x, NULL);
	avro_value_set_int(&x, -300);
	avro_value_get_by_name(&v, "l", &x, NULL);
	avro_value_set_long(&x, 1LL << 40);
	avro_value_get_by_name(&v, "s", &x, NULL);
	avro_value_set_string(&x, "z\xc3\xbcrich");
	avro_value_get_by_name(&v, "d", &x, NULL);
	avro_value_set_double(&x, -0.25);
	avro_value_get_by_name(&v, "o", &x, NULL);
	avro_value_set_branch(&x, 1, &y);
	avro_value_set_string(&y, "here");
	avro_value_get_by_name(&v, "a", &x, NULL);
	avro_value_append(&x, &y, &idx);
	avro_value_set_long(&y, -7);
	avro_value_append(&x, &y, &idx);
	avro_value_set_long(&y, 8);
	avro_value_get_by_name(&v, "m", &x, NULL);
	avro_value_add(&x, "k", &y, &idx, NULL);
	avro_value_set_boolean(&y, 1);
	memset(&e, 0, sizeof(e));
	w = avro_writer_memory((char *)e.b, sizeof(e.b));
	assert_int_equal(avro_value_write(w, &v), 0);
	e.n = (size_t)avro_writer_tell(w);
	dec_ok(js, &e, "{\"i\":-300,\"l\":1099511627776,\"s\":\"z\xc3\xbcrich\","
	    "\"d\":-0.25,\"o\":\"here\",\"a\":[-7,8],\"m\":{\"k\":true}}");
	avro_writer_free(w);
	avro_value_decref(&v);
	avro_value_iface_decref(iface);
	avro_schema_decref(as);
}

/* A buffer that ran out of memory (its appends then do nothing) makes a
 * decode FATAL, not a short text taken for the value, nor POISON. */
static void
test_out_of_memory(void **state)
{
	struct ks_avro_schema *s = parse_ok("{\"type\":\"record\",\"name\":"
	    "\"R\",\"fields\":[{\"name\":\"s\",\"type\":\"string\"}]}");
	struct ks_buf out = { 0 };
	struct enc e;
	char err[256] = "";

	(void)state;
	ENC(e_str(&e, "hello"));
	ks_buf_addf(&out, "x");
	out.oom = 1;
	assert_int_equal(ks_avro_decode(s, e.b, e.n, &out, err, sizeof(err)),
	    KSINK_FATAL);
	assert_non_null(strstr(err, "out of memory"));
	assert_int_equal(out.len, 1);
	assert_string_equal(out.p, "x");
	/* Memory is checked before the body: a bad body is FATAL too. */
	e.n--;
	assert_int_equal(ks_avro_decode(s, e.b, e.n, &out, err, sizeof(err)),
	    KSINK_FATAL);
	ks_buf_reset(&out);
	e.n++;
	assert_int_equal(ks_avro_decode(s, e.b, e.n, &out, err, sizeof(err)),
	    KSINK_OK);
	assert_string_equal(out.p, "{\"s\":\"hello\"}");
	ks_buf_free(&out);
	ks_avro_schema_free(s);
}

/* Several threads decode with one schema at once. */
struct th {
	const struct ks_avro_schema *s;
	const struct enc *e;
	int bad;
};

static void *
decode_many(void *arg)
{
	struct th *t = arg;
	struct ks_buf out = { 0 };
	char err[128];
	int i;

	for (i = 0; i < 2000; i++) {
		ks_buf_reset(&out);
		if (ks_avro_decode(t->s, t->e->b, t->e->n, &out, err,
		    sizeof(err)) != KSINK_OK || strcmp(out.p,
		    "{\"v\":\"-0.05\",\"t\":\"1970-01-01T00:00:00.001Z\"}") != 0)
			t->bad++;
	}
	ks_buf_free(&out);
	return NULL;
}

static void
test_threads(void **state)
{
	struct ks_avro_schema *s;
	struct th t[4];
	pthread_t id[4];
	struct enc e;
	int i;

	(void)state;
	s = parse_ok("{\"type\":\"record\",\"name\":\"T\",\"fields\":["
	    "{\"name\":\"v\",\"type\":" DEC(4, 2) "},"
	    "{\"name\":\"t\",\"type\":" TSM "}]}");
	ENC(e_long(&e, 1); e_hex(&e, "fb"); e_long(&e, 1));
	for (i = 0; i < 4; i++) {
		t[i].s = s;
		t[i].e = &e;
		t[i].bad = 0;
		assert_int_equal(pthread_create(&id[i], NULL, decode_many,
		    &t[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(id[i], NULL);
		assert_int_equal(t[i].bad, 0);
	}
	ks_avro_schema_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_primitives),
		cmocka_unit_test(test_complex),
		cmocka_unit_test(test_unions),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_datetime),
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_poison),
		cmocka_unit_test(test_bad_schemas),
		cmocka_unit_test(test_fields),
		cmocka_unit_test(test_avro_c_writer),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
