/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_sink.c - the plugin loader (src/sink.c) on real shared
 * objects: one fixture in tests/plugins for every way a plugin must be
 * refused, each refusal checked for a message that names the file and,
 * where it is about versions, both versions.  Files that must be made at
 * test time (a world-writable copy, a text file, a directory) go to a
 * temporary directory.  Also the plugin path rules and the host services.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "sink.h"
#include "stats.h"
#include "testing.h"

static char fixdir[4096];
static char tmpdir[256];

static void
fixture(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s.so", fixdir, name);
}

/* Asserts that s contains sub, printing both when it does not. */
#define assert_contains(s, sub) do { \
	if (strstr((s), (sub)) == NULL) \
		fail_msg("\"%s\" does not contain \"%s\"", (s), (sub)); \
} while (0)

/* Loads a fixture that must be refused; returns the message in err. */
static void
refused(const char *path, char *err, size_t len)
{
	struct ks_plugin *pl;

	err[0] = '\0';
	pl = ks_sink_load(path, err, len);
	if (pl != NULL) {
		ks_sink_unload(pl);
		fail_msg("%s was loaded; it must be refused", path);
	}
	if (getenv("TEST_VERBOSE") != NULL)
		printf("refused: %s\n", err);
	assert_true(err[0] != '\0');
	assert_contains(err, path);
}

static void
version(char *buf, size_t len, unsigned major, unsigned minor)
{
	snprintf(buf, len, "%u.%u", major, minor);
}

static void
test_good_loads(void **state)
{
	char path[4200], err[1024] = "";
	struct ks_plugin *pl;

	(void)state;
	fixture(path, sizeof(path), "good");
	pl = ks_sink_load(path, err, sizeof(err));
	if (pl == NULL)
		fail_msg("good fixture refused: %s", err);
	assert_string_equal(pl->path, path);
	assert_non_null(pl->desc);
	assert_string_equal(pl->desc->name, "good");
	assert_int_equal(pl->desc->abi_major, KSINK_ABI_MAJOR);
	assert_true(pl->desc->abi_minor <= KSINK_ABI_MINOR);
	assert_string_equal(pl->desc->options[0].name, "good.path");
	/* An ABI 1.0 plugin loads, and has none of 1.1's members. */
	assert_int_equal(pl->desc->abi_minor, 0);
	assert_int_equal(pl->desc->struct_size, KSINK_SINK_SIZE_1_0);
	assert_false(KSINK_SINK_HAS(pl->desc, reset_offsets, 1));
	ks_sink_unload(pl);

	/* The scripted sink declares this ksink's own minor. */
	fixture(path, sizeof(path), "scripted");
	pl = ks_sink_load(path, err, sizeof(err));
	if (pl == NULL)
		fail_msg("scripted fixture refused: %s", err);
	assert_int_equal(pl->desc->abi_minor, KSINK_ABI_MINOR);
	ks_sink_unload(pl);
}

static void
test_wrong_major(void **state)
{
	char path[4200], err[1024], theirs[32], ours[32];

	(void)state;
	fixture(path, sizeof(path), "wrong_major");
	refused(path, err, sizeof(err));
	version(theirs, sizeof(theirs), KSINK_ABI_MAJOR + 1, 0);
	version(ours, sizeof(ours), KSINK_ABI_MAJOR, KSINK_ABI_MINOR);
	assert_contains(err, theirs);
	assert_contains(err, ours);
}

static void
test_newer_minor(void **state)
{
	char path[4200], err[1024], theirs[32], ours[32];

	(void)state;
	fixture(path, sizeof(path), "newer_minor");
	refused(path, err, sizeof(err));
	version(theirs, sizeof(theirs), KSINK_ABI_MAJOR, KSINK_ABI_MINOR + 1);
	version(ours, sizeof(ours), KSINK_ABI_MAJOR, KSINK_ABI_MINOR);
	assert_contains(err, theirs);
	assert_contains(err, ours);
}

static void
test_no_entry(void **state)
{
	char path[4200], err[1024], ours[32];

	(void)state;
	fixture(path, sizeof(path), "no_entry");
	refused(path, err, sizeof(err));
	assert_contains(err, KSINK_SINK_ENTRY);
	version(ours, sizeof(ours), KSINK_ABI_MAJOR, KSINK_ABI_MINOR);
	assert_contains(err, ours);
}

static void
test_null_entry(void **state)
{
	char path[4200], err[1024];

	(void)state;
	fixture(path, sizeof(path), "null_entry");
	refused(path, err, sizeof(err));
	assert_contains(err, "no descriptor");
}

static void
test_missing_write(void **state)
{
	char path[4200], err[1024];

	(void)state;
	fixture(path, sizeof(path), "no_write");
	refused(path, err, sizeof(err));
	assert_contains(err, "write()");
}

static void
test_missing_close(void **state)
{
	char path[4200], err[1024];

	(void)state;
	fixture(path, sizeof(path), "no_close");
	refused(path, err, sizeof(err));
	assert_contains(err, "close()");
}

static void
test_small_descriptor(void **state)
{
	char path[4200], err[1024], num[32];

	(void)state;
	fixture(path, sizeof(path), "small_desc");
	refused(path, err, sizeof(err));
	/* Both sizes: what the plugin has and what ABI 1.0 needs. */
	snprintf(num, sizeof(num), "%zu",
	    (size_t)offsetof(struct ksink_sink, close));
	assert_contains(err, num);
	snprintf(num, sizeof(num), "%zu", (size_t)KSINK_SINK_SIZE_1_0);
	assert_contains(err, num);
}

/* A plugin of ABI 1.1 must have the members 1.1 added. */
static void
test_small_descriptor_1_1(void **state)
{
	char path[4200], err[1024], num[32];

	(void)state;
	fixture(path, sizeof(path), "small_desc_1_1");
	refused(path, err, sizeof(err));
	snprintf(num, sizeof(num), "%zu", (size_t)KSINK_SINK_SIZE_1_0);
	assert_contains(err, num);
	snprintf(num, sizeof(num), "%zu", (size_t)KSINK_SINK_SIZE_1_1);
	assert_contains(err, num);
	assert_contains(err, "ABI 1.1");
}

static void
test_small_descriptor_1_2(void **state)
{
	char path[4200], err[1024], num[32];

	(void)state;
	fixture(path, sizeof(path), "small_desc_1_2");
	refused(path, err, sizeof(err));
	snprintf(num, sizeof(num), "%zu", (size_t)KSINK_SINK_SIZE_1_2);
	assert_contains(err, num);
	assert_contains(err, "ABI 1.2");
}

/* A plugin built against the 1.1 header, before check() existed, loads;
 * its reset_offsets is seen and no check() is looked for. */
static void
test_abi_1_1_loads(void **state)
{
	static const char ini[] = "[connector c]\ntype = abi_1_1\n";
	char path[4200], err[1024] = "";
	struct ks_errors errs = { 0 };
	struct ks_plugin *pl;
	struct ks_conf *conf;
	FILE *fp;

	(void)state;
	fixture(path, sizeof(path), "abi_1_1");
	pl = ks_sink_load(path, err, sizeof(err));
	if (pl == NULL)
		fail_msg("a plugin built for ABI 1.1 is refused: %s", err);
	assert_int_equal(pl->desc->abi_minor, 1);
	assert_true(pl->desc->struct_size < sizeof(struct ksink_sink));
	assert_true(KSINK_SINK_HAS(pl->desc, reset_offsets, 1));
	assert_non_null(pl->desc->reset_offsets);
	assert_false(KSINK_SINK_HAS(pl->desc, check, 2));
	assert_non_null(fp = fmemopen((void *)ini, sizeof(ini) - 1, "r"));
	conf = ks_conf_parse_fp(fp, "old.ini", &errs);
	fclose(fp);
	assert_int_equal(ks_sink_check("old.ini", conf->sections, pl, &errs),
	    0);
	assert_int_equal(errs.count, 0);
	ks_conf_free(conf);
	ks_sink_unload(pl);
}

/* check() runs on the connector's options and its reports carry the
 * file and the line of the option they name, or of the section. */
static void
test_check_reports(void **state)
{
	static const char bad[] =
	    "[connector c]\n"			/* 1 */
	    "type = checked\n"			/* 2 */
	    "checked.url = ftp://x/\n"		/* 3 */
	    "checked.file = /etc/hosts\n"	/* 4 */
	    "checked.text = hello\n";		/* 5 */
	static const char none[] =
	    "[connector d]\n"
	    "type = checked\n";
	static const char good[] =
	    "[connector e]\n"
	    "type = checked\n"
	    "checked.text = hello\n";
	char path[4200], err[1024] = "";
	struct ks_errors errs = { 0 };
	struct ks_plugin *pl;
	struct ks_conf *conf;
	FILE *fp;

	(void)state;
	fixture(path, sizeof(path), "checked");
	pl = ks_sink_load(path, err, sizeof(err));
	if (pl == NULL)
		fail_msg("checked fixture refused: %s", err);

	assert_non_null(fp = fmemopen((void *)bad, sizeof(bad) - 1, "r"));
	conf = ks_conf_parse_fp(fp, "bad.ini", &errs);
	fclose(fp);
	assert_int_equal(errs.count, 0);
	assert_int_equal(ks_sink_check("bad.ini", conf->sections, pl, &errs),
	    -1);
	assert_int_equal(errs.count, 2);
	assert_contains(errs.msg[0], "bad.ini:5: checked.text: give "
	    "checked.file or checked.text, not both");
	assert_contains(errs.msg[1], "bad.ini:3: checked.url: \"ftp://x/\" "
	    "is not an http:// or https:// URL");
	ks_conf_free(conf);
	ks_errors_free(&errs);

	assert_non_null(fp = fmemopen((void *)none, sizeof(none) - 1, "r"));
	conf = ks_conf_parse_fp(fp, "none.ini", &errs);
	fclose(fp);
	assert_int_equal(ks_sink_check("none.ini", conf->sections, pl, &errs),
	    -1);
	assert_int_equal(errs.count, 1);
	assert_contains(errs.msg[0], "none.ini:1: [connector d]: give "
	    "checked.file or checked.text");
	ks_conf_free(conf);
	ks_errors_free(&errs);

	assert_non_null(fp = fmemopen((void *)good, sizeof(good) - 1, "r"));
	conf = ks_conf_parse_fp(fp, "good.ini", &errs);
	fclose(fp);
	assert_int_equal(ks_sink_check("good.ini", conf->sections, pl, &errs),
	    0);
	assert_int_equal(errs.count, 0);
	ks_conf_free(conf);
	ks_sink_unload(pl);
}

static void
test_option_prefix(void **state)
{
	char path[4200], err[1024];

	(void)state;
	fixture(path, sizeof(path), "bad_prefix");
	refused(path, err, sizeof(err));
	assert_contains(err, "bad_prefixpath");
	assert_contains(err, "\"bad_prefix.\"");

	fixture(path, sizeof(path), "no_prefix");
	refused(path, err, sizeof(err));
	assert_contains(err, "option path ");
	assert_contains(err, "\"no_prefix.\"");
}

static void
test_unresolved_symbol(void **state)
{
	char path[4200], err[1024];

	(void)state;
	fixture(path, sizeof(path), "unresolved");
	refused(path, err, sizeof(err));
	assert_contains(err, "ksink_fixture_no_such_function");
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	if ((in = open(from, O_RDONLY)) == -1)
		return -1;
	if ((out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	if (close(out) == -1 || n < 0)
		return -1;
	return chmod(to, mode);
}

static void
test_world_writable(void **state)
{
	char good[4200], path[512], err[1024] = "";
	struct ks_plugin *pl;

	(void)state;
	fixture(good, sizeof(good), "good");
	snprintf(path, sizeof(path), "%s/writable.so", tmpdir);
	assert_int_equal(copy_file(good, path, 0755), 0);
	/* The copy itself loads ... */
	pl = ks_sink_load(path, err, sizeof(err));
	if (pl == NULL)
		fail_msg("copy of the good fixture refused: %s", err);
	ks_sink_unload(pl);
	/* ... but not once everyone may write it. */
	assert_int_equal(chmod(path, 0757), 0);
	refused(path, err, sizeof(err));
	assert_contains(err, "writable");
	assert_contains(err, "0757");
	unlink(path);
}

static void
test_not_a_shared_object(void **state)
{
	char path[512], err[1024];
	FILE *fp;

	(void)state;
	snprintf(path, sizeof(path), "%s/text.so", tmpdir);
	assert_non_null(fp = fopen(path, "w"));
	fputs("this is a text file, not a plugin\n", fp);
	assert_int_equal(fclose(fp), 0);
	refused(path, err, sizeof(err));
	assert_contains(err, "cannot be loaded");
	unlink(path);
}

static void
test_missing_file(void **state)
{
	char path[512], err[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/absent.so", tmpdir);
	refused(path, err, sizeof(err));
	assert_contains(err, "not found");
	assert_contains(err, "plugin.dir");
}

static void
test_directory(void **state)
{
	char path[512], err[1024];

	(void)state;
	snprintf(path, sizeof(path), "%s/dir.so", tmpdir);
	assert_int_equal(mkdir(path, 0755), 0);
	refused(path, err, sizeof(err));
	assert_contains(err, "not a regular file");
	rmdir(path);
}

static void
test_sink_path(void **state)
{
	char buf[256], err[256];

	(void)state;
	assert_int_equal(ks_sink_path("sqlite", "/usr/lib/ksink", buf,
	    sizeof(buf), err, sizeof(err)), 0);
	assert_string_equal(buf, "/usr/lib/ksink/sqlite.so");
	assert_int_equal(ks_sink_path("my-sink_2", "/d", buf, sizeof(buf),
	    err, sizeof(err)), 0);
	assert_string_equal(buf, "/d/my-sink_2.so");
	assert_int_equal(ks_sink_path("/opt/x/y.so", "/d", buf, sizeof(buf),
	    err, sizeof(err)), 0);
	assert_string_equal(buf, "/opt/x/y.so");

	/* A relative path, a name with dots, an empty name, too long. */
	err[0] = '\0';
	assert_int_equal(ks_sink_path("lib/y.so", "/d", buf, sizeof(buf),
	    err, sizeof(err)), -1);
	assert_contains(err, "absolute");
	err[0] = '\0';
	assert_int_equal(ks_sink_path("../x", "/d", buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_contains(err, "../x");
	err[0] = '\0';
	assert_int_equal(ks_sink_path("sq.lite", "/d", buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_contains(err, "sq.lite");
	err[0] = '\0';
	assert_int_equal(ks_sink_path("", "/d", buf, sizeof(buf), err,
	    sizeof(err)), -1);
	assert_contains(err, "empty");
	err[0] = '\0';
	assert_int_equal(ks_sink_path("sqlite", "/a/very/long/dir", buf, 16,
	    err, sizeof(err)), -1);
	assert_contains(err, "too long");
}

/* Runs fn with stderr going to a file; returns what was written. */
static char *
capture_stderr(void (*fn)(void *), void *arg)
{
	char path[512], *out;
	int fd, saved;
	long n;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn(arg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	assert_non_null(fp = fopen(path, "r"));
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	out = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(out, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	unlink(path);
	return out;
}

static void
log_hello(void *arg)
{
	struct ksink_ctx *ctx = arg;

	ks_sink_host.log(ctx, KSINK_LOG_WARN, "hello %d", 42);
	ks_sink_host.log(ctx, KSINK_LOG_DEBUG, "not shown");
}

static void
test_host_services(void **state)
{
	static const char ini[] =
	    "[connector c1]\n"
	    "type = good\n"
	    "good.path = /tmp/x\n"
	    "good.tag = a\n"
	    "good.tag = b\n";
	char path[4200], err[1024] = "";
	struct ks_errors errs = { 0 };
	const struct ksink_host *h = &ks_sink_host;
	struct ks_plugin *pl;
	struct ks_conf *conf;
	struct ksink_ctx *ctx;
	char *out;
	FILE *fp;

	(void)state;
	fixture(path, sizeof(path), "good");
	pl = ks_sink_load(path, err, sizeof(err));
	if (pl == NULL)
		fail_msg("%s", err);
	assert_non_null(fp = fmemopen((void *)ini, sizeof(ini) - 1, "r"));
	conf = ks_conf_parse_fp(fp, "host.ini", &errs);
	fclose(fp);
	assert_int_equal(errs.count, 0);
	ctx = ks_sink_ctx_new("c1", conf->sections, pl);

	assert_int_equal(h->abi_major, KSINK_ABI_MAJOR);
	assert_int_equal(h->abi_minor, KSINK_ABI_MINOR);
	assert_int_equal(h->struct_size, sizeof(struct ksink_host));
	assert_string_equal(h->connector_name(ctx), "c1");
	assert_string_equal(h->conf_str(ctx, "good.path"), "/tmp/x");
	/* Not set: the table's default. */
	assert_int_equal(h->conf_int(ctx, "good.level"), 3);
	assert_null(h->conf_str(ctx, "good.nothing"));
	assert_int_equal(h->conf_count(ctx, "good.tag"), 2);
	assert_string_equal(h->conf_str_at(ctx, "good.tag", 0), "a");
	assert_string_equal(h->conf_str_at(ctx, "good.tag", 1), "b");
	assert_null(h->conf_str_at(ctx, "good.tag", 2));
	assert_string_equal(ks_sink_ctx_who(ctx), "connector c1");

	ks_log_set_level(KSINK_LOG_INFO);
	out = capture_stderr(log_hello, ctx);
	assert_string_equal(out, "ksink: warn: connector c1: hello 42\n");
	free(out);

	ks_sink_ctx_free(ctx);
	ks_conf_free(conf);
	ks_errors_free(&errs);
	ks_sink_unload(pl);
}

static void
count_bad(void *arg)
{
	struct ksink_ctx *ctx = arg;

	ks_sink_host.count(ctx, "Fenced", 1);
	ks_sink_host.count(ctx, "also-bad", 1);	/* warned once only */
}

/* host->count(): per connector and event, into the connector's figures,
 * bad names refused with one error. */
static void
test_host_count(void **state)
{
	static const char ini[] = "[connector c1]\ntype = good\n"
	    "good.path = /tmp/x\n";
	char path[4200], err[1024] = "", name[16];
	struct ks_errors errs = { 0 };
	const struct ksink_host *h = &ks_sink_host;
	struct ks_worker_snapshot snap;
	struct ks_stats stats;
	struct ks_plugin *pl;
	struct ks_conf *conf;
	struct ksink_ctx *ctx;
	char *out;
	FILE *fp;
	int i;

	(void)state;
	fixture(path, sizeof(path), "good");
	if ((pl = ks_sink_load(path, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	assert_non_null(fp = fmemopen((void *)ini, sizeof(ini) - 1, "r"));
	conf = ks_conf_parse_fp(fp, "host.ini", &errs);
	fclose(fp);
	ctx = ks_sink_ctx_new("c1", conf->sections, pl);
	assert_true(KSINK_HOST_HAS(h, count));

	/* No figures to add to (ksink offsets): nothing happens. */
	h->count(ctx, "fenced", 1);

	ks_stats_init(&stats, "connector c1", 0);
	ks_sink_ctx_set_stats(ctx, &stats);
	h->count(ctx, "fenced", 1);
	h->count(ctx, "fenced", 2);
	h->count(ctx, "retried_batch_9", 5);
	ks_log_set_level(KSINK_LOG_INFO);
	out = capture_stderr(count_bad, ctx);
	assert_non_null(strstr(out, "connector c1: the sink counts an "
	    "event whose name is not"));
	assert_null(strchr(strchr(out, '\n') + 1, '\n'));
	free(out);
	h->count(ctx, "", 1);
	h->count(ctx, NULL, 1);
	h->count(ctx, "a23456789012345678901234567890123", 1);	/* 33 */

	memset(&snap, 0, sizeof(snap));
	ks_stats_snapshot(&stats, &snap);
	assert_int_equal(snap.nevents, 2);
	assert_string_equal(snap.events[0].name, "fenced");
	assert_int_equal(snap.events[0].n, 3);
	assert_string_equal(snap.events[1].name, "retried_batch_9");
	assert_int_equal(snap.events[1].n, 5);
	ks_stats_snapshot_free(&snap);

	/* At most KS_EVENTS_MAX names; the known ones still count. */
	for (i = 0; i < KS_EVENTS_MAX + 4; i++) {
		snprintf(name, sizeof(name), "e%d", i);
		assert_int_equal(ks_stats_event(&stats, name, 1),
		    i < KS_EVENTS_MAX - 2 ? 0 : -1);
	}
	assert_int_equal(ks_stats_event(&stats, "fenced", 1), 0);
	ks_stats_snapshot(&stats, &snap);
	assert_int_equal(snap.nevents, KS_EVENTS_MAX);
	assert_int_equal(snap.events[0].n, 4);
	ks_stats_snapshot_free(&snap);

	ks_stats_destroy(&stats);
	ks_sink_ctx_free(ctx);
	ks_conf_free(conf);
	ks_errors_free(&errs);
	ks_sink_unload(pl);
}

static int
setup(void **state)
{
	const char *d = getenv("KSINK_FIXTURE_DIR");
	const char *t = getenv("TMPDIR");

	(void)state;
	if (d == NULL || *d == '\0') {
		fprintf(stderr, "test_sink: KSINK_FIXTURE_DIR is not set; "
		    "run through make check\n");
		return -1;
	}
	snprintf(fixdir, sizeof(fixdir), "%s", d);
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_sink.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "test_sink: mkdtemp: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	rmdir(tmpdir);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_loads),
		cmocka_unit_test(test_wrong_major),
		cmocka_unit_test(test_newer_minor),
		cmocka_unit_test(test_no_entry),
		cmocka_unit_test(test_null_entry),
		cmocka_unit_test(test_missing_write),
		cmocka_unit_test(test_missing_close),
		cmocka_unit_test(test_small_descriptor),
		cmocka_unit_test(test_small_descriptor_1_1),
		cmocka_unit_test(test_small_descriptor_1_2),
		cmocka_unit_test(test_abi_1_1_loads),
		cmocka_unit_test(test_check_reports),
		cmocka_unit_test(test_option_prefix),
		cmocka_unit_test(test_unresolved_symbol),
		cmocka_unit_test(test_world_writable),
		cmocka_unit_test(test_not_a_shared_object),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_directory),
		cmocka_unit_test(test_sink_path),
		cmocka_unit_test(test_host_services),
		cmocka_unit_test(test_host_count),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
