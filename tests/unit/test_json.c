/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_json.c - connectors/lib: the strict JSON checker and
 * compactor, JSON strings, base64, UTF-8 and buffers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/base64.h"
#include "lib/buf.h"
#include "lib/json.h"
#include "lib/utf8.h"

static void
test_json_valid(void **state)
{
	static const char *const valid[] = {
		"0", "-0", "1.5e-3", "true", "null", "\"\"", "\"\\u00e9\\n\"",
		" {\"a\" : [ ] , \"b\":{}} ", "[1,[2,[3]]]", "\"caf\xc3\xa9\"",
		"-12.0E+2", "\"\\/\"",
	};
	static const char *const invalid[] = {
		"", " ", "01", "1.", ".5", "+1", "tru", "nul", "[1,]", "{\"a\"}",
		"{a:1}", "[1 2]", "\"\t\"", "\"\\x\"", "\"\\u12\"", "1 2", "NaN",
		"\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xc0\xaf\"", "[", "{\"a\":1,}",
		"'a'", "\"abc", "{\"a\":1}}", "[]]",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		if (!ks_json_valid(valid[i], strlen(valid[i])))
			fail_msg("should be valid JSON: %s", valid[i]);
	for (i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++)
		if (ks_json_valid(invalid[i], strlen(invalid[i])))
			fail_msg("should be invalid JSON: %s", invalid[i]);
	assert_false(ks_json_valid("1\0", 2));
	assert_false(ks_json_valid(NULL, 0));
}

/* Arrays or objects nested KS_JSON_MAX_DEPTH deep are JSON, one more
 * level is not. */
static void
test_json_depth(void **state)
{
	static char t[8 * (KS_JSON_MAX_DEPTH + 1) + 8];
	size_t d = KS_JSON_MAX_DEPTH, i;
	char *p;

	(void)state;
	memset(t, '[', d);
	memset(t + d, ']', d);
	assert_true(ks_json_valid(t, 2 * d));
	memset(t, '[', d + 1);
	memset(t + d + 1, ']', d + 1);
	assert_false(ks_json_valid(t, 2 * (d + 1)));
	/* Objects count the same. */
	for (p = t, i = 0; i <= d; i++)
		p += sprintf(p, "{\"a\":");
	*p++ = '1';
	memset(p, '}', d + 1);
	assert_false(ks_json_valid(t, (size_t)(p - t) + d + 1));
	assert_true(ks_json_valid(t + 5, (size_t)(p - t) - 5 + d));
}

static void
test_json_compact(void **state)
{
	struct ks_buf b = { 0 };
	const char in[] = " {\"a\" :\n [1 , 2,\r\n\t\"x y\"] , \"b\":{ } } ";

	(void)state;
	ks_buf_adds(&b, "<");
	assert_int_equal(ks_json_compact(&b, in, sizeof(in) - 1), 0);
	assert_string_equal(b.p, "<{\"a\":[1,2,\"x y\"],\"b\":{}}");
	/* Not JSON: the buffer is left as it was. */
	assert_int_equal(ks_json_compact(&b, "[1,", 3), -1);
	assert_string_equal(b.p, "<{\"a\":[1,2,\"x y\"],\"b\":{}}");
	assert_false(b.oom);
	ks_buf_free(&b);
}

static void
test_json_string(void **state)
{
	struct ks_buf b = { 0 };
	const char in[] = "a\x01\x1f\"\\/\b\f\n\r\t\xe2\x82\xac\xff\xc3";

	(void)state;
	ks_json_add_string(&b, in, sizeof(in) - 1);
	assert_string_equal(b.p, "\"a\\u0001\\u001f\\\"\\\\/\\b\\f\\n\\r\\t"
	    "\xe2\x82\xac\\ufffd\\ufffd\"");
	assert_true(ks_json_valid(b.p, b.len));
	ks_buf_reset(&b);
	ks_json_add_string(&b, "n\0ul", 4);
	assert_string_equal(b.p, "\"n\\u0000ul\"");
	ks_buf_free(&b);
}

/* A string is scanned eight bytes at a time while no byte needs a look:
 * each byte that does, at every place of a word and past its end, still
 * decides. */
static void
test_json_string_words(void **state)
{
	static const struct {
		const char *c;
		size_t n;
		int ok;
	} probes[] = {
		{ "\x1f", 1, 0 }, { "\n", 1, 0 }, { "\x7f", 1, 1 },
		{ " ", 1, 1 }, { "\\n", 2, 1 }, { "\\q", 2, 0 },
		{ "\\\"", 2, 1 }, { "\xc3\xa9", 2, 1 }, { "\xc3", 1, 0 },
		{ "\x80", 1, 0 }, { "\"", 1, 0 }, { "\0", 1, 0 },
	};
	char text[64];
	size_t i, at, len;

	(void)state;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		for (len = 1; len < 40; len++)
			for (at = 0; at < len; at++) {
				text[0] = '"';
				memset(text + 1, 'a', len);
				memcpy(text + 1 + at, probes[i].c, probes[i].n);
				if (at + probes[i].n > len)
					continue;
				text[1 + len] = '"';
				if (ks_json_valid(text, len + 2) != probes[i].ok)
					fail_msg("probe %zu at %zu of %zu", i, at,
					    len);
			}
	/* Unterminated, whatever the length. */
	for (len = 0; len < 40; len++) {
		text[0] = '"';
		memset(text + 1, 'a', len);
		assert_false(ks_json_valid(text, len + 1));
	}
}

static void
test_base64(void **state)
{
	struct ks_buf b = { 0 };

	(void)state;
	ks_base64_add(&b, "", 0);
	assert_int_equal(b.len, 0);
	ks_base64_add(&b, "a", 1);
	ks_base64_add(&b, "ab", 2);
	ks_base64_add(&b, "abc", 3);
	ks_base64_add(&b, "\xde\xad\xbe\xef", 4);
	assert_string_equal(b.p, "YQ==YWI=YWJj3q2+7w==");
	assert_int_equal(KS_BASE64_LEN(4), 8);
	ks_buf_free(&b);
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(ks_utf8_valid("", 0));
	assert_true(ks_utf8_valid("plain ascii, long enough", 24));
	assert_true(ks_utf8_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	assert_false(ks_utf8_valid("\xc0\xaf", 2));		/* overlong */
	assert_false(ks_utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	assert_false(ks_utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	assert_false(ks_utf8_valid("abcdefgh\xe2\x82", 10));	/* cut */
	assert_true(ks_utf8_check("abcdefgh\0ij", 11, 1));
	assert_false(ks_utf8_check("abcdefgh\0ij", 11, 0));
	assert_false(ks_utf8_check("ab\0", 3, 0));
}

static void
test_buf(void **state)
{
	struct ks_buf b = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		ks_buf_addc(&b, 'x');
	ks_buf_addf(&b, "%d-%s", 42, "y");
	ks_buf_addi64(&b, INT64_MIN);
	assert_int_equal(b.len, 1000 + 4 + 20);
	assert_string_equal(b.p + 1000, "42-y-9223372036854775808");
	ks_buf_truncate(&b, 3);
	assert_string_equal(b.p, "xxx");
	ks_buf_free(&b);
	assert_null(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_valid),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_json_compact),
		cmocka_unit_test(test_json_string),
		cmocka_unit_test(test_json_string_words),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
