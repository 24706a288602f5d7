/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_file.c - the file sink (connectors/file/file.c,
 * streams.c, names.c): the formats written, the file.path patterns and
 * the rotation's names, check(), and the option table as the daemon's
 * host services apply it.  The fixture is tests/unit/file-fx.h.
 */
#include "file-fx.h"

/* ------------------------------------------------------------------
 * Formats
 */

static void
test_value_format(void **state)
{
	struct ksink_record r[4];
	struct sink *fs;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	fs = s;
	r[0] = rec("t", 0, 5, "first");
	r[1] = rec("t", 0, 6, NULL); /* tombstone: skipped, counted */
	r[2] = rec("t", 0, 9, "");
	r[3] = rec("t", 1, 2, "bin\001\377");
	r[3].value_len = 5;
	assert_int_equal(batch(s, r, 4), KSINK_OK);
	assert_int_equal(fs->n_tombstones, 1);
	assert_int_equal(stored(s, "t", 0), 10);
	assert_int_equal(stored(s, "t", 1), 3);
	assert_int_equal(stored(s, "t", 2), KSINK_OFFSET_NONE);
	desc->close(s);
	assert_file("out.log", "first\n\nbin\001\377\n");
}

static void
test_tombstone_only_advances(void **state)
{
	struct ksink_record r[1];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 41, NULL);
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	desc->close(s);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 42);
	desc->close(s);
}

static void
test_json_format(void **state)
{
	struct ksink_header h[3] = {
		{ "trace", "abc\"d", 5 },
		{ "empty", NULL, 0 },
		{ "sig", "\xde\xad\xbe\xef", 4 },
	};
	struct ksink_record r[6];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.jsonl", "file.format=json", NULL),
	    KSINK_OK);
	r[0] = rec("t", 0, 1, "{\"a\": [1,\n 2],\r\n \"b\":\"x\"}");
	r[0].key = "k1";
	r[0].key_len = 2;
	r[0].headers = h;
	r[0].header_count = 3;
	r[1] = rec("t", 0, 2, "plain \"text\"\n\ttab");
	r[1].timestamp = -1;
	r[1].key = "42";
	r[1].key_len = 2;
	r[2] = rec("t", 0, 3, "\x00\x01\xff");
	r[2].value_len = 3;
	r[3] = rec("t", 0, 4, NULL);
	r[4] = rec("t", 0, 5, "caf\xc3\xa9");
	r[5] = rec("t", 0, 6, "\"quoted\"");
	assert_int_equal(batch(s, r, 6), KSINK_OK);
	desc->close(s);
	assert_file("out.jsonl",
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":1,"
	    "\"timestamp\":1700000000001,\"key\":\"k1\",\"key_encoding\":"
	    "\"string\",\"value\":{\"a\":[1,2],\"b\":\"x\"},\"headers\":"
	    "[{\"key\":\"trace\",\"value\":\"abc\\\"d\",\"value_encoding\":"
	    "\"string\"},{\"key\":\"empty\",\"value\":null},{\"key\":\"sig\","
	    "\"value\":\"3q2+7w==\",\"value_encoding\":\"base64\"}]}\n"
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":2,\"timestamp\":null,"
	    "\"key\":42,\"value\":\"plain \\\"text\\\"\\n\\ttab\","
	    "\"value_encoding\":\"string\",\"headers\":[]}\n"
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":3,"
	    "\"timestamp\":1700000000003,\"key\":null,\"value\":\"AAH/\","
	    "\"value_encoding\":\"base64\",\"headers\":[]}\n"
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":4,"
	    "\"timestamp\":1700000000004,\"key\":null,\"value\":null,"
	    "\"headers\":[]}\n"
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":5,"
	    "\"timestamp\":1700000000005,\"key\":null,\"value\":\"caf\xc3\xa9\","
	    "\"value_encoding\":\"string\",\"headers\":[]}\n"
	    "{\"topic\":\"t\",\"partition\":0,\"offset\":6,"
	    "\"timestamp\":1700000000006,\"key\":null,\"value\":\"quoted\","
	    "\"headers\":[]}\n");
}

/* ------------------------------------------------------------------
 * Names
 */

static void
test_path_patterns(void **state)
{
	struct sink fs;
	char name[NAME_MAX + 1];
	struct meta m = { "orders", 3, 3, 1200, 0 };

	(void)state;
	memset(&fs, 0, sizeof(fs));
	assert_int_equal(parse_pattern(&fs, "/d/{topic}-{partition}.log",
	    errbuf, sizeof(errbuf)), 0);
	assert_string_equal(fs.ddir, "/d");
	assert_int_equal(active_name(&fs, name, sizeof(name), "orders", 3), 0);
	assert_string_equal(name, "orders-3.log");
	assert_int_equal(closed_name(&fs, name, sizeof(name), "orders-3.log",
	    &m), 0);
	assert_string_equal(name, "orders-3.orders+3+0000000000000001200.log");
	assert_true(name_match(fs.pattern, "orders-3.log"));
	assert_true(name_match(fs.pattern, "a.b_c-d-0.log"));
	assert_false(name_match(fs.pattern, "orders-x.log"));
	assert_false(name_match(fs.pattern, name));
	assert_true(name_match(fs.closed_pattern, name));
	free(fs.ddir);
	free(fs.pattern);
	free(fs.closed_pattern);

	/* One file for everything, no extension; a partition range. */
	memset(&fs, 0, sizeof(fs));
	assert_int_equal(parse_pattern(&fs, "all", errbuf, sizeof(errbuf)), 0);
	assert_string_equal(fs.ddir, ".");
	m.pmin = 0;
	m.pmax = 11;
	m.minoff = 7;
	assert_int_equal(closed_name(&fs, name, sizeof(name), "all", &m), 0);
	assert_string_equal(name, "all.orders+0-11+0000000000000000007");
	assert_true(name_match(fs.closed_pattern, name));
	free(fs.ddir);
	free(fs.pattern);
	free(fs.closed_pattern);

	/* A dot before a placeholder is not an extension. */
	memset(&fs, 0, sizeof(fs));
	assert_int_equal(parse_pattern(&fs, "/d/x.{topic}", errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(active_name(&fs, name, sizeof(name), "t.v", 0), 0);
	assert_string_equal(name, "x.t.v");
	m.pmin = m.pmax = 0;
	assert_int_equal(closed_name(&fs, name, sizeof(name), "x.t.v", &m), 0);
	assert_string_equal(name, "x.t.v.orders+0+0000000000000000007");
	free(fs.ddir);
	free(fs.pattern);
	free(fs.closed_pattern);

	memset(&fs, 0, sizeof(fs));
	assert_int_equal(parse_pattern(&fs, "/d/{topic}/x.log", errbuf,
	    sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "only appear in the file name"));
	assert_int_equal(parse_pattern(&fs, "/d/x-{date}.log", errbuf,
	    sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "unknown placeholder"));
	assert_int_equal(parse_pattern(&fs, "/d/", errbuf, sizeof(errbuf)),
	    -1);
	assert_non_null(strstr(errbuf, "names a directory"));
}

static void
test_per_partition_files(void **state)
{
	struct ksink_record r[4];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "{topic}-{partition}.txt", NULL),
	    KSINK_OK);
	r[0] = rec("a", 0, 0, "a0");
	r[1] = rec("b", 1, 0, "b1");
	r[2] = rec("a", 1, 0, "a1");
	r[3] = rec("a", 0, 1, "a0'");
	assert_int_equal(batch(s, r, 4), KSINK_OK);
	desc->close(s);
	assert_file("a-0.txt", "a0\na0'\n");
	assert_file("a-1.txt", "a1\n");
	assert_file("b-1.txt", "b1\n");
}

static void
test_rotation_naming(void **state)
{
	struct ksink_record r[6];
	char *m;
	void *s;

	(void)state;
	/* 6-byte records, at most 13 bytes a file: two records each. */
	assert_int_equal(open_sink(&s, "{topic}-{partition}.log",
	    "file.rotate.bytes=13", NULL), KSINK_OK);
	r[0] = rec("t", 0, 10, "r0010");
	r[1] = rec("t", 0, 11, "r0011");
	r[2] = rec("t", 0, 14, "r0014");
	r[3] = rec("t", 0, 15, "r0015");
	r[4] = rec("t", 0, 16, "r0016");
	r[5] = rec("t", 1, 3, "a value larger than the limit");
	assert_int_equal(batch(s, r, 6), KSINK_OK);
	desc->close(s);
	assert_file("t-0.t+0+0000000000000000010.log", "r0010\nr0011\n");
	assert_file("t-0.t+0+0000000000000000014.log", "r0014\nr0015\n");
	assert_file("t-0.log", "r0016\n");
	assert_file("t-1.log", "a value larger than the limit\n");
	m = slurp("ksink-unit.manifest", NULL);
	assert_non_null(strstr(m, "\nfile t-0.log 6 t 0 0 16 "));
	assert_non_null(strstr(m, "\noffset t 0 17\n"));
	free(m);

	/* One file for several partitions: the range and the first offset
	 * of the lowest partition. */
	connector = "unit2";
	assert_int_equal(open_sink(&s, "all.log", "file.rotate.bytes=20",
	    NULL), KSINK_OK);
	r[0] = rec("u", 2, 7, "aaaa");
	r[1] = rec("u", 1, 9, "bbbb");
	r[2] = rec("u", 2, 8, "cccc");
	r[3] = rec("u", 0, 4, "dddd");
	r[4] = rec("u", 0, 5, "eeee");
	assert_int_equal(batch(s, r, 5), KSINK_OK);
	desc->close(s);
	assert_file("all.u+0-2+0000000000000000004.log",
	    "aaaa\nbbbb\ncccc\ndddd\n");
	assert_file("all.log", "eeee\n");
}

static void
test_rotation_by_age(void **state)
{
	struct ksink_record r[2];
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "x.log", "file.rotate.ms=10", NULL),
	    KSINK_OK);
	r[0] = rec("t", 0, 0, "old");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	nanosleep(&ts, NULL);
	/* The next batch closes the file even with no record for it. */
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	desc->abort(s);
	assert_file("x.t+0+0000000000000000000.log", "old\n");
	assert_file("x.log", "");
	r[1] = rec("t", 0, 1, "new");
	assert_int_equal(batch(s, r + 1, 1), KSINK_OK);
	desc->close(s);
	assert_file("x.log", "new\n");
}

/*
 * check() finds what open() would refuse in file.path and file.manifest,
 * with open()'s words, and creates nothing: no manifest, no lock.
 */
static void
test_check(void **state)
{
	char opt[256], opt2[256], want[512];
	struct ksink_ctx *ctx;
	DIR *d;
	struct dirent *e;
	int n = 0;

	(void)state;
	assert_int_equal(desc->abi_minor, 2);
	assert_non_null(desc->check);

	snprintf(opt, sizeof(opt), "file.path=%s/{foo}.txt", dir);
	snprintf(opt2, sizeof(opt2), "file.manifest=%s/nodir/m", dir);
	assert_non_null(ctx = new_ctx((const char *[]){ opt, opt2, NULL }));
	assert_int_equal(desc->check(&ks_sink_host, ctx), KSINK_CONFIG);
	snprintf(want, sizeof(want), "ksink: error: connector unit: "
	    "file.path: file.path = %s/{foo}.txt: unknown placeholder at "
	    "\"{foo}.txt\"; only {topic} and {partition} are replaced\n"
	    "ksink: error: connector unit: file.manifest: directory "
	    "%s/nodir: No such file or directory; create it first\n", dir,
	    dir);
	assert_string_equal(logbuf, want);

	snprintf(opt, sizeof(opt), "file.path=%s/nodir/out.txt", dir);
	assert_non_null(ctx = new_ctx((const char *[]){ opt, NULL }));
	assert_int_equal(desc->check(&ks_sink_host, ctx), KSINK_CONFIG);
	snprintf(want, sizeof(want), "ksink: error: connector unit: "
	    "file.path: directory %s/nodir: No such file or directory; "
	    "create it first\n", dir);
	assert_string_equal(logbuf, want);

	snprintf(opt, sizeof(opt), "file.path=%s/{topic}.txt", dir);
	assert_non_null(ctx = new_ctx((const char *[]){ opt, NULL }));
	assert_int_equal(desc->check(&ks_sink_host, ctx), KSINK_OK);
	assert_string_equal(logbuf, "");
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	assert_int_equal(n, 0);
}

/*
 * The options reach the plugin through the daemon's host services, which
 * refuse what the option table refuses before the plugin runs: nothing
 * is created.
 */
static void
test_host_refuses_options(void **state)
{
	static const char *const bad[][2] = {
		{ "file.rotate.bytes=20k", "settings:2: file.rotate.bytes "
		    "must be an integer" },
		{ "file.buffer.bytes=1024", "settings:2: file.buffer.bytes = "
		    "1024 is out of range [4096, 1073741824]" },
		{ "file.format=xml", "settings:2: file.format must be one of "
		    "value|json" },
		{ "file.rotate.byte=20", "settings:2: unknown key "
		    "\"file.rotate.byte\" in [connector unit]; did you mean "
		    "\"file.rotate.bytes\"?" },
	};
	struct dirent *e;
	size_t i;
	void *s;
	DIR *d;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s = NULL;
		assert_int_equal(open_sink(&s, "out.log", bad[i][0], NULL),
		    KSINK_CONFIG);
		if (strstr(errbuf, bad[i][1]) == NULL)
			fail_msg("%s: \"%s\", not \"%s\"", bad[i][0], errbuf,
			    bad[i][1]);
		assert_null(s);
	}
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		assert_true(strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0);
	closedir(d);
}

static void
test_options_table(void **state)
{
	const struct ksink_sink *d = ksink_sink_entry(&ks_sink_host);
	const struct ksink_option *o;
	size_t n = 0;

	(void)state;
	assert_int_equal(d->abi_major, KSINK_ABI_MAJOR);
	assert_true(d->caps & KSINK_CAP_ATOMIC_OFFSETS);
	assert_string_equal(d->name, "file");
	assert_non_null(d->abort);
	for (o = d->options; o->name != NULL; o++, n++) {
		assert_memory_equal(o->name, "file.", 5);
		assert_non_null(o->doc);
	}
	assert_int_equal(n, 6);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_value_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tombstone_only_advances,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_format, setup,
		    teardown),
		cmocka_unit_test(test_path_patterns),
		cmocka_unit_test_setup_teardown(test_per_partition_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rotation_naming, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rotation_by_age, setup,
		    teardown),
		cmocka_unit_test(test_options_table),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_refuses_options,
		    setup, teardown),
	};

	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
