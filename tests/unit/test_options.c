/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_options.c - the option tables of [worker] and
 * [connector NAME] (src/options.c): the checks every value goes through,
 * the "did you mean" suggestion, the text and mdoc listings, and the
 * tables' own consistency (every default passes its own check).
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

#include "options.h"
#include "testing.h"

#define assert_contains(s, sub) do { \
	if (strstr((s), (sub)) == NULL) \
		fail_msg("\"%s\" does not contain \"%s\"", (s), (sub)); \
} while (0)

static int
check(const struct ksink_option *o, const char *v, char *err, size_t len)
{
	err[0] = '\0';
	return ks_options_check(o, v, err, len);
}

static void
test_find(void **state)
{
	const struct ksink_option *o;

	(void)state;
	o = ks_options_find(ks_options_connector, "batch.max.records");
	assert_non_null(o);
	assert_int_equal(o->type, KSINK_OPT_INT);
	assert_non_null(ks_options_find(ks_options_worker, "plugin.dir"));
	assert_null(ks_options_find(ks_options_worker, "batch.max.records"));
	assert_null(ks_options_find(ks_options_connector, "batch.max"));
	assert_null(ks_options_find(ks_options_connector, ""));
	assert_null(ks_options_find(NULL, "type"));
}

static void
test_check_int(void **state)
{
	static const struct ksink_option o = { .name = "n",
	    .type = KSINK_OPT_INT, .min = -3, .max = 10 };
	static const struct ksink_option big = { .name = "big",
	    .type = KSINK_OPT_INT, .min = -1, .max = INT64_MAX };
	char err[256];

	(void)state;
	assert_int_equal(check(&o, "-3", err, sizeof(err)), 0);
	assert_int_equal(check(&o, "10", err, sizeof(err)), 0);
	assert_int_equal(check(&o, "0", err, sizeof(err)), 0);
	assert_int_equal(check(&o, "11", err, sizeof(err)), -1);
	assert_string_equal(err, "n = 11 is out of range [-3, 10]");
	assert_int_equal(check(&o, "-4", err, sizeof(err)), -1);
	assert_int_equal(check(&o, "", err, sizeof(err)), -1);
	assert_string_equal(err, "n must be an integer, not \"\"");
	assert_int_equal(check(&o, "5 ", err, sizeof(err)), -1);
	assert_int_equal(check(&o, "5ms", err, sizeof(err)), -1);
	assert_int_equal(check(&o, "0x5", err, sizeof(err)), -1);
	assert_int_equal(check(&o, "1.5", err, sizeof(err)), -1);
	assert_int_equal(check(&big, "9223372036854775807", err,
	    sizeof(err)), 0);
	assert_int_equal(check(&big, "9223372036854775808", err,
	    sizeof(err)), -1);
	assert_contains(err, "must be an integer");
	assert_int_equal(check(&big, "-1", err, sizeof(err)), 0);
}

static void
test_check_bool_enum_path(void **state)
{
	static const struct ksink_option b = { .name = "b",
	    .type = KSINK_OPT_BOOL };
	static const struct ksink_option e = { .name = "e",
	    .type = KSINK_OPT_ENUM, .values = "none|all|a" };
	static const struct ksink_option p = { .name = "p",
	    .type = KSINK_OPT_PATH };
	static const struct ksink_option s = { .name = "s",
	    .type = KSINK_OPT_STRING };
	static const struct ksink_option r = { .name = "r",
	    .type = KSINK_OPT_STRING, .flags = KSINK_OPT_REQUIRED };
	static const char *const good_bools[] = { "true", "false", "yes",
	    "no", "on", "off", "1", "0", "TRUE", "Off" };
	static const char *const bad_bools[] = { "", "2", "y", "tru",
	    "true ", "enabled" };
	static const char *const bad_enums[] = { "", "non", "nonee", "al",
	    "none|all", "|", "NONE", "all " };
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good_bools) / sizeof(*good_bools); i++)
		if (check(&b, good_bools[i], err, sizeof(err)) != 0)
			fail_msg("bool \"%s\" refused", good_bools[i]);
	for (i = 0; i < sizeof(bad_bools) / sizeof(*bad_bools); i++)
		if (check(&b, bad_bools[i], err, sizeof(err)) != -1)
			fail_msg("bool \"%s\" accepted", bad_bools[i]);
	assert_string_equal(err, "b must be true or false, not \"enabled\"");

	assert_int_equal(check(&e, "none", err, sizeof(err)), 0);
	assert_int_equal(check(&e, "all", err, sizeof(err)), 0);
	assert_int_equal(check(&e, "a", err, sizeof(err)), 0);
	for (i = 0; i < sizeof(bad_enums) / sizeof(*bad_enums); i++)
		if (check(&e, bad_enums[i], err, sizeof(err)) != -1)
			fail_msg("enum \"%s\" accepted", bad_enums[i]);
	assert_string_equal(err, "e must be one of none|all|a, not \"all \"");

	assert_int_equal(check(&p, "/x", err, sizeof(err)), 0);
	assert_int_equal(check(&p, "", err, sizeof(err)), -1);
	assert_string_equal(err, "p must not be empty");
	assert_int_equal(check(&s, "", err, sizeof(err)), 0);
	assert_int_equal(check(&s, "anything at all\nand more", err,
	    sizeof(err)), 0);
	assert_int_equal(check(&r, "", err, sizeof(err)), -1);
	assert_string_equal(err, "r must not be empty");
	assert_int_equal(check(&r, "x", err, sizeof(err)), 0);
}

static void
test_nearest(void **state)
{
	const struct ksink_option *tabs[2] = { ks_options_worker,
	    ks_options_connector };
	const char *n;

	(void)state;
	n = ks_options_nearest("batch.max.record", tabs, 2);
	assert_non_null(n);
	assert_string_equal(n, "batch.max.records");
	n = ks_options_nearest("errors.tolerence", tabs, 2);
	assert_non_null(n);
	assert_string_equal(n, "errors.tolerance");
	n = ks_options_nearest("plugins.dir", tabs, 2);
	assert_non_null(n);
	assert_string_equal(n, "plugin.dir");
	n = ks_options_nearest("tpye", tabs, 2);
	assert_non_null(n);
	assert_string_equal(n, "type");
	/* Too far from anything to be a typo. */
	assert_null(ks_options_nearest("bootstrap.servers", tabs, 2));
	assert_null(ks_options_nearest("zzzzzzzzzzzzzzzzzzzz", tabs, 2));
	assert_null(ks_options_nearest("x", NULL, 0));
}

/* Every table: named, documented, and each default passes its check. */
static void
check_table(const struct ksink_option *tab)
{
	const struct ksink_option *o, *p;
	char err[256];

	for (o = tab; o->name != NULL; o++) {
		assert_non_null(o->doc);
		assert_true(strlen(o->doc) > 10);
		assert_string_not_equal(ks_options_type_name(o->type), "?");
		if (o->type == KSINK_OPT_INT)
			assert_true(o->min <= o->max);
		if (o->type == KSINK_OPT_ENUM)
			assert_non_null(o->values);
		if (o->def != NULL &&
		    ks_options_check(o, o->def, err, sizeof(err)) != 0)
			fail_msg("default of %s fails its own check: %s",
			    o->name, err);
		if ((o->flags & KSINK_OPT_REQUIRED) && o->def != NULL)
			fail_msg("%s is required but has a default", o->name);
		for (p = tab; p != o; p++)
			if (strcmp(p->name, o->name) == 0)
				fail_msg("%s is listed twice", o->name);
	}
}

static void
test_tables(void **state)
{
	(void)state;
	check_table(ks_options_worker);
	check_table(ks_options_connector);
	assert_non_null(ks_options_find(ks_options_connector, "type"));
	assert_true(ks_options_find(ks_options_connector, "type")->flags &
	    KSINK_OPT_REQUIRED);
	assert_true(ks_options_find(ks_options_connector, "topics")->flags &
	    KSINK_OPT_REQUIRED);
	assert_string_equal(ks_options_find(ks_options_connector,
	    "delivery.guarantee")->def, "exactly_once");
	assert_string_equal(ks_options_find(ks_options_connector,
	    "errors.tolerance")->def, "none");
}

static const struct ksink_option sample[] = {
	{ .name = "x.path", .type = KSINK_OPT_PATH,
	  .flags = KSINK_OPT_REQUIRED, .doc = "A path with a \\ in it." },
	{ .name = "x.n", .type = KSINK_OPT_INT, .def = "5", .min = 1,
	  .max = 9, .doc = "A number." },
	{ .name = "x.mode", .type = KSINK_OPT_ENUM, .def = "a",
	  .values = "a|b", .doc = "A mode." },
	{ .name = "x.token", .type = KSINK_OPT_STRING, .def = "",
	  .flags = KSINK_OPT_SECRET | KSINK_OPT_MULTI, .doc = "A token." },
	{ .name = "x.big", .type = KSINK_OPT_INT, .def = "0", .min = 0,
	  .max = INT64_MAX, .doc = "Unbounded." },
	{ .name = NULL }
};

static char *
print(const struct ksink_option *tab, int mdoc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp;

	assert_non_null(fp = open_memstream(&buf, &len));
	ks_options_print(fp, tab, mdoc);
	fclose(fp);
	return buf;
}

static void
test_print_text(void **state)
{
	char *out;

	(void)state;
	out = print(sample, 0);
	assert_string_equal(out,
	    "x.path (path) required\n"
	    "    A path with a \\ in it.\n"
	    "x.n (integer: 1 to 9) default: 5\n"
	    "    A number.\n"
	    "x.mode (enum: a|b) default: a\n"
	    "    A mode.\n"
	    "x.token (string) default: (empty) repeatable secret\n"
	    "    A token.\n"
	    "x.big (integer: 0 or more) default: 0\n"
	    "    Unbounded.\n");
	free(out);
}

static void
test_print_mdoc(void **state)
{
	char *out;

	(void)state;
	out = print(sample, 1);
	assert_string_equal(out,
	    ".Bl -tag -width Ds\n"
	    ".It Cm x.path Ns = Ns Ar path\n"
	    "A path with a \\e in it.\n"
	    "Required.\n"
	    ".It Cm x.n Ns = Ns Ar integer\n"
	    "A number.\n"
	    "Values: 1 to 9.\n"
	    "Default: 5.\n"
	    ".It Cm x.mode Ns = Ns Ar enum\n"
	    "A mode.\n"
	    "Values: a|b.\n"
	    "Default: a.\n"
	    ".It Cm x.token Ns = Ns Ar string\n"
	    "A token.\n"
	    "Default: (empty).\n"
	    "May be given more than once.\n"
	    "Secret: never logged nor printed.\n"
	    ".It Cm x.big Ns = Ns Ar integer\n"
	    "Unbounded.\n"
	    "Values: 0 or more.\n"
	    "Default: 0.\n"
	    ".El\n");
	free(out);

	/* plugin.dir's default depends on the build: never in a page. */
	out = print(ks_options_worker, 1);
	assert_contains(out, ".It Cm plugin.dir Ns = Ns Ar path\n");
	assert_contains(out, "Default: the plugin directory chosen when");
	assert_true(strstr(out, "Default: /") == NULL);
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_check_int),
		cmocka_unit_test(test_check_bool_enum_path),
		cmocka_unit_test(test_nearest),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_print_text),
		cmocka_unit_test(test_print_mdoc),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
