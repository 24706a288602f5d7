/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_sqltext.c - connectors/lib: the first keyword of an SQL
 * statement, matched against a sink's own list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/sqltext.h"

static const char *const words[] = { "BEGIN", "END", "VACUUM", NULL };

static void
test_sqltext_keyword(void **state)
{
	static const char *const none[] = { NULL };

	(void)state;
	assert_string_equal(ks_sqltext_keyword("BEGIN", words), "BEGIN");
	assert_string_equal(ks_sqltext_keyword("begin;", words), "BEGIN");
	assert_string_equal(ks_sqltext_keyword(" \t\r\n\v\fEnd", words),
	    "END");
	assert_string_equal(ks_sqltext_keyword("vacuum full t", words),
	    "VACUUM");
	/* A word is matched whole, and only as the first one. */
	assert_null(ks_sqltext_keyword("BEGINS", words));
	assert_null(ks_sqltext_keyword("BEG", words));
	assert_null(ks_sqltext_keyword("ENDING(1)", words));
	assert_null(ks_sqltext_keyword("INSERT INTO t VALUES ('BEGIN')",
	    words));
	assert_null(ks_sqltext_keyword("", words));
	assert_null(ks_sqltext_keyword("   ", words));
	/* Comments are the caller's to skip. */
	assert_null(ks_sqltext_keyword("-- c\nBEGIN", words));
	assert_null(ks_sqltext_keyword("BEGIN", none));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sqltext_keyword),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
