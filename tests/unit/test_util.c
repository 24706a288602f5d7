/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_util.c - the small helpers of src/util.c: integer and
 * boolean parsing, edit distance, error buffers, clocks and the backoff
 * jitter source.
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

#include "util.h"

static void
int_ok(const char *s, int64_t want)
{
	int64_t v = 12345;

	if (ks_util_parse_int(s, &v) != 0)
		fail_msg("\"%s\" refused", s);
	if (v != want)
		fail_msg("\"%s\" gave %lld, not %lld", s, (long long)v,
		    (long long)want);
}

static void
int_bad(const char *s)
{
	int64_t v = 12345;

	if (ks_util_parse_int(s, &v) != -1)
		fail_msg("\"%s\" accepted as %lld", s ? s : "(null)",
		    (long long)v);
	/* A refused text leaves the output alone. */
	assert_int_equal(v, 12345);
}

static void
test_parse_int(void **state)
{
	(void)state;
	int_ok("0", 0);
	int_ok("-0", 0);
	int_ok("42", 42);
	int_ok("+42", 42);
	int_ok("-1", -1);
	int_ok("007", 7);
	int_ok("9223372036854775807", INT64_MAX);
	int_ok("-9223372036854775808", INT64_MIN);
	int_bad(NULL);
	int_bad("");
	int_bad(" 1");
	int_bad("\t1");
	int_bad("1 ");
	int_bad("1\n");
	int_bad("12abc");
	int_bad("abc");
	int_bad("0x10");
	int_bad("1e3");
	int_bad("1.0");
	int_bad("-");
	int_bad("+");
	int_bad("9223372036854775808");
	int_bad("-9223372036854775809");
	int_bad("99999999999999999999999");
}

static void
test_parse_bool(void **state)
{
	static const char *const yes[] = { "true", "TRUE", "True", "yes",
	    "YES", "on", "On", "1" };
	static const char *const no[] = { "false", "FALSE", "no", "No",
	    "off", "OFF", "0" };
	static const char *const bad[] = { "", " true", "true ", "2", "-1",
	    "t", "f", "y", "n", "yess", "nope", "enable", "00" };
	size_t i;
	int v;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		v = -1;
		assert_int_equal(ks_util_parse_bool(yes[i], &v), 0);
		assert_int_equal(v, 1);
	}
	for (i = 0; i < sizeof(no) / sizeof(*no); i++) {
		v = -1;
		assert_int_equal(ks_util_parse_bool(no[i], &v), 0);
		assert_int_equal(v, 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		v = -1;
		if (ks_util_parse_bool(bad[i], &v) != -1)
			fail_msg("\"%s\" accepted", bad[i]);
		assert_int_equal(v, -1);
	}
}

static void
test_edit_distance(void **state)
{
	static const struct {
		const char *a, *b;
		size_t d;
	} cases[] = {
		{ "", "", 0 },
		{ "abc", "", 3 },
		{ "", "abcd", 4 },
		{ "same", "same", 0 },
		{ "kitten", "sitting", 3 },
		{ "flaw", "lawn", 2 },
		{ "ab", "ba", 2 },	/* no transpositions: Levenshtein */
		{ "batch.max.record", "batch.max.records", 1 },
		{ "plugins.dir", "plugin.dir", 1 },
		{ "tpye", "type", 2 },
		{ "abc", "xyz", 3 },
		{ "intention", "execution", 5 },
	};
	size_t i, d;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		d = ks_util_edit_distance(cases[i].a, cases[i].b);
		if (d != cases[i].d)
			fail_msg("distance(\"%s\", \"%s\") = %zu, not %zu",
			    cases[i].a, cases[i].b, d, cases[i].d);
		/* Symmetric. */
		assert_int_equal(ks_util_edit_distance(cases[i].b, cases[i].a),
		    d);
	}
}

static void
test_errf(void **state)
{
	char buf[8];

	(void)state;
	ks_util_errf(buf, sizeof(buf), "%s %d", "abc", 12345);
	/* Cut, never overrun, always terminated. */
	assert_string_equal(buf, "abc 123");
	ks_util_errf(NULL, 0, "ignored %d", 1);
	buf[0] = 'x';
	ks_util_errf(buf, 0, "ignored");
	assert_int_equal(buf[0], 'x');
}

static void
test_clock_and_rand(void **state)
{
	int64_t t0, t1;
	uint64_t a, b;
	int i, same = 0;

	(void)state;
	t0 = ks_util_now_ms();
	ks_util_sleep_ms(30);
	t1 = ks_util_now_ms();
	assert_true(t1 - t0 >= 30);
	assert_true(t1 - t0 < 5000);
	ks_util_sleep_ms(0);
	ks_util_sleep_ms(-5);

	a = ks_util_rand64();
	for (i = 0; i < 1000; i++) {
		b = ks_util_rand64();
		same += a == b;
		a = b;
	}
	assert_int_equal(same, 0);
}

static void
test_alloc(void **state)
{
	char *s;
	void *p;

	(void)state;
	assert_null(ks_util_strdup(NULL));
	s = ks_util_strdup("abc");
	assert_string_equal(s, "abc");
	free(s);
	/* Zero sizes still give a pointer that can be freed. */
	p = ks_util_xmalloc(0);
	assert_non_null(p);
	p = ks_util_xrealloc(p, 0);
	assert_non_null(p);
	free(p);
	p = ks_util_xcalloc(0, 0);
	assert_non_null(p);
	free(p);
	assert_int_equal(KS_ARRAY_SIZE("abcd"), 5);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_edit_distance),
		cmocka_unit_test(test_errf),
		cmocka_unit_test(test_clock_and_rand),
		cmocka_unit_test(test_alloc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
