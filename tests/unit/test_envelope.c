/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_envelope.c - connectors/lib/envelope.c: the one JSON
 * shape of a record (ksink-record(7)), case by case.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ksink/sink.h"

#include "lib/buf.h"
#include "lib/envelope.h"
#include "lib/json.h"

static struct ksink_record
rec(const char *key, size_t klen, const char *value, size_t vlen)
{
	struct ksink_record r;

	memset(&r, 0, sizeof(r));
	r.topic = "orders";
	r.partition = 3;
	r.offset = 42;
	r.timestamp = 1700000000000;
	r.key = key;
	r.key_len = klen;
	r.value = value;
	r.value_len = vlen;
	return r;
}

static struct ks_buf b;

static char *
env_unchecked(const struct ksink_record *r)
{
	ks_buf_reset(&b);
	ks_envelope_add(&b, r);
	assert_false(b.oom);
	assert_null(memchr(b.p, '\n', b.len));
	return b.p;
}

/* Whatever the record, the envelope is one JSON text on one line. */
static char *
env(const struct ksink_record *r)
{
	env_unchecked(r);
	assert_true(ks_json_valid(b.p, b.len));
	return b.p;
}

#define HEAD "{\"topic\":\"orders\",\"partition\":3,\"offset\":42," \
	"\"timestamp\":1700000000000,"

/* Valid JSON is embedded, compacted, without an encoding member. */
static void
test_json_embedded(void **state)
{
	struct ksink_record r = rec("7", 1, "{ \"id\" : 1,\n\"v\": [true, null] }",
	    31);

	(void)state;
	assert_string_equal(env(&r), HEAD "\"key\":7,"
	    "\"value\":{\"id\":1,\"v\":[true,null]},\"headers\":[]}");
	r = rec("\"k\"", 3, "\"text\"", 6);
	assert_string_equal(env(&r), HEAD "\"key\":\"k\","
	    "\"value\":\"text\",\"headers\":[]}");
}

/* UTF-8 text that is not JSON is a string, marked "string". */
static void
test_string(void **state)
{
	struct ksink_record r = rec("user-7", 6, "say \"hi\"\n\x01 caf\xc3\xa9",
	    16);

	(void)state;
	assert_string_equal(env(&r), HEAD "\"key\":\"user-7\","
	    "\"key_encoding\":\"string\",\"value\":\"say \\\"hi\\\"\\n\\u0001 "
	    "caf\xc3\xa9\",\"value_encoding\":\"string\",\"headers\":[]}");
	/* Empty is not JSON: an empty string. */
	r = rec("", 0, "", 0);
	assert_string_equal(env(&r), HEAD "\"key\":\"\",\"key_encoding\":"
	    "\"string\",\"value\":\"\",\"value_encoding\":\"string\","
	    "\"headers\":[]}");
}

/* Other bytes are base64, marked "base64". */
static void
test_base64(void **state)
{
	struct ksink_record r = rec("\xde\xad\xbe\xef", 4, "\x00\x01\xff", 3);

	(void)state;
	assert_string_equal(env(&r), HEAD "\"key\":\"3q2+7w==\","
	    "\"key_encoding\":\"base64\",\"value\":\"AAH/\","
	    "\"value_encoding\":\"base64\",\"headers\":[]}");
	/* UTF-8 with a NUL byte is not a string: SQLite's json_extract()
	 * would cut it at the NUL. */
	r = rec(NULL, 0, "a\0b", 3);
	assert_string_equal(env(&r), HEAD "\"key\":null,\"value\":\"YQBi\","
	    "\"value_encoding\":\"base64\",\"headers\":[]}");
}

/* No key, a tombstone, no timestamp: null, without encoding members. */
static void
test_null(void **state)
{
	struct ksink_record r = rec(NULL, 0, NULL, 0);

	(void)state;
	r.timestamp = -1;
	assert_string_equal(env(&r), "{\"topic\":\"orders\",\"partition\":3,"
	    "\"offset\":42,\"timestamp\":null,\"key\":null,\"value\":null,"
	    "\"headers\":[]}");
}

/* Headers: in order, duplicates kept, values by the same rule. */
static void
test_headers(void **state)
{
	const struct ksink_header h[] = {
		{ "trace", "abc", 3 },
		{ "n", "17", 2 },
		{ "trace", "{\"a\": 1}", 8 },
		{ "none", NULL, 0 },
		{ "sig", "\xde\xad\xbe\xef", 4 },
		{ "bad\xff", "", 0 },
	};
	struct ksink_record r = rec(NULL, 0, "1", 1);
	struct ks_buf hb = { 0 };

	(void)state;
	r.headers = h;
	r.header_count = 6;
	assert_string_equal(env(&r), HEAD "\"key\":null,\"value\":1,"
	    "\"headers\":[{\"key\":\"trace\",\"value\":\"abc\","
	    "\"value_encoding\":\"string\"},{\"key\":\"n\",\"value\":17},"
	    "{\"key\":\"trace\",\"value\":{\"a\":1}},{\"key\":\"none\","
	    "\"value\":null},{\"key\":\"sig\",\"value\":\"3q2+7w==\","
	    "\"value_encoding\":\"base64\"},{\"key\":\"bad\\ufffd\","
	    "\"value\":\"\",\"value_encoding\":\"string\"}]}");
	/* The headers alone (the SQLite sink's :headers). */
	ks_envelope_add_headers(&hb, &r);
	assert_int_equal(hb.p[0], '[');
	assert_non_null(strstr(env(&r), hb.p));
	ks_buf_free(&hb);
}

/* A value nested deeper than KS_JSON_MAX_DEPTH is not embedded: it is a
 * string; at the limit it is embedded. */
static void
test_nesting_limit(void **state)
{
	size_t d = KS_JSON_MAX_DEPTH;
	char *v = malloc(2 * d + 2);
	struct ksink_record r;
	const char *e, *val;

	(void)state;
	assert_non_null(v);
	memset(v, '[', d);
	memset(v + d, ']', d);
	r = rec(NULL, 0, v, 2 * d);
	e = env_unchecked(&r);
	val = strstr(e, "\"value\":");
	assert_non_null(val);
	assert_int_equal(val[8], '[');
	assert_null(strstr(e, "value_encoding"));

	memset(v, '[', d + 1);
	memset(v + d + 1, ']', d + 1);
	r = rec(NULL, 0, v, 2 * d + 2);
	e = env(&r);
	assert_non_null(strstr(e, "\"value\":\"[[["));
	val = strstr(e, "\"value\":");
	assert_int_equal(val[8], '"');
	assert_non_null(strstr(e, ",\"value_encoding\":\"string\","));
	free(v);
	ks_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_embedded),
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_null),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_nesting_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
