/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_null.c - the null sink, driven through its descriptor
 * and the daemon's host services (src/sink.c) as the daemon drives it.
 * The plugin's source is linked in, and fsync(2) and renameat(2) are
 * wrapped (-Wl,--wrap) to count calls and to inject failures (in
 * connectors/lib/atomicfile.c, which writes the state file).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksink/sink.h"

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sink.h"
#include "testing.h"

static int fail_fsync_errno, fail_rename_errno;
static int n_fsync;

int __real_fsync(int fd);
int __real_renameat(int, const char *, int, const char *);

int
__wrap_fsync(int fd)
{
	n_fsync++;
	if (fail_fsync_errno != 0) {
		errno = fail_fsync_errno;
		return -1;
	}
	return __real_fsync(fd);
}

int
__wrap_renameat(int fromfd, const char *from, int tofd, const char *to)
{
	if (fail_rename_errno != 0) {
		errno = fail_rename_errno;
		return -1;
	}
	return __real_renameat(fromfd, from, tofd, to);
}

static const struct ksink_sink *d;
static char dir[64], path[128];
static char errbuf[512];
static char logbuf[16384];
/* A setting besides null.state, or NULL. */
static const char *extra;
/* The contexts of the sinks opened by a test, freed after it. */
static struct ksink_ctx *ctxs[16];
static size_t nctx;

static int
rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_null.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/counts.state", dir);
	d = ksink_sink_entry(&ks_sink_host);
	ks_log_capture(logbuf, sizeof(logbuf));
	extra = NULL;
	fail_fsync_errno = fail_rename_errno = 0;
	n_fsync = 0;
	errbuf[0] = '\0';
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	while (nctx > 0)
		ks_sink_ctx_free(ctxs[--nctx]);
	ks_log_capture(NULL, 0);
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The host's context for null.state=path (and extra), as the daemon
 * builds it. */
static struct ksink_ctx *
new_ctx(void)
{
	char opt[256];
	const char *settings[] = { opt, extra, NULL };
	struct ksink_ctx *ctx;

	snprintf(opt, sizeof(opt), "null.state=%s", path);
	assert_true(nctx < sizeof(ctxs) / sizeof(ctxs[0]));
	ctx = ks_sink_ctx_test(d, "unit", settings, errbuf, sizeof(errbuf));
	if (ctx == NULL)
		fail_msg("%s", errbuf);
	return ctxs[nctx++] = ctx;
}

static void *
open_sink(int want)
{
	void *s = NULL;

	assert_int_equal(d->open(&ks_sink_host, new_ctx(), &s, errbuf,
	    sizeof(errbuf)), want);
	if (want == KSINK_OK)
		assert_non_null(s);
	return s;
}

static struct ksink_record
rec(const char *topic, int32_t partition, int64_t offset, const char *value)
{
	struct ksink_record r = {
		.topic = topic, .partition = partition, .offset = offset,
		.timestamp = -1, .key = "k", .key_len = 1,
		.value = value, .value_len = value ? strlen(value) : 0,
	};

	return r;
}

/* One batch: begin, write, commit with each partition's next offset. */
static int
batch(void *s, const struct ksink_record *r, size_t n,
    const struct ksink_offset *off, size_t noff)
{
	size_t done = 0;
	int rc;

	if ((rc = d->begin(s, errbuf, sizeof(errbuf))) != KSINK_OK)
		return rc;
	if ((rc = d->write(s, r, n, &done, errbuf, sizeof(errbuf))) !=
	    KSINK_OK)
		return rc;
	assert_int_equal(done, n);
	return d->commit(s, off, noff, errbuf, sizeof(errbuf));
}

static char *
slurp(const char *p)
{
	static char buf[4096];
	size_t n;
	FILE *fp;

	if ((fp = fopen(p, "r")) == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
write_file(const char *p, const char *text)
{
	FILE *fp = fopen(p, "w");

	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
}

static int64_t
stored(void *s, const char *topic, int32_t partition)
{
	struct ksink_offset o = { topic, partition, KSINK_OFFSET_NONE };

	assert_int_equal(d->load_offsets(s, &o, 1, errbuf, sizeof(errbuf)),
	    KSINK_OK);
	return o.next_offset;
}

static void
test_descriptor(void **state)
{
	(void)state;
	assert_int_equal(d->abi_major, KSINK_ABI_MAJOR);
	assert_int_equal(d->abi_minor, 1);
	assert_true(d->struct_size >= KSINK_SINK_SIZE_1_1);
	assert_true(d->caps & KSINK_CAP_ATOMIC_OFFSETS);
	assert_string_equal(d->name, "null");
	assert_string_equal(d->options[0].name, "null.state");
	assert_true(d->options[0].flags & KSINK_OPT_REQUIRED);
	assert_non_null(d->reset_offsets);
}

static void
test_counts_and_state_file(void **state)
{
	struct ksink_record r[4];
	struct ksink_offset off[2] = { { "a", 0, 3 }, { "b", 7, 11 } };
	void *s;

	(void)state;
	s = open_sink(KSINK_OK);
	assert_int_equal(stored(s, "a", 0), KSINK_OFFSET_NONE);
	r[0] = rec("a", 0, 0, "xx");
	r[1] = rec("a", 0, 2, "yyy");	/* offsets need not be contiguous */
	r[2] = rec("b", 7, 10, NULL);	/* a tombstone counts its key */
	r[3] = rec("b", 7, 5, "zz");	/* below 10 in this step: skipped */
	assert_int_equal(batch(s, r, 4, off, 2), KSINK_OK);
	assert_string_equal(slurp(path), "ksink-null 1\n"
	    "a 0 3 2 7\n"
	    "b 7 11 1 1\n");
	assert_int_equal(n_fsync, 2);	/* the file and its directory */
	d->close(s);
	assert_non_null(strstr(logbuf, "3 records (8 bytes) "
	    "counted, 1 records counted before skipped"));

	/* Reopened, it starts from the file. */
	s = open_sink(KSINK_OK);
	assert_int_equal(stored(s, "a", 0), 3);
	assert_int_equal(stored(s, "b", 7), 11);
	assert_int_equal(stored(s, "b", 8), KSINK_OFFSET_NONE);
	d->close(s);
}

static void
test_fence(void **state)
{
	struct ksink_record r[3];
	struct ksink_offset off = { "t", 1, 0 };
	void *s;

	(void)state;
	s = open_sink(KSINK_OK);
	r[0] = rec("t", 1, 0, "a");
	r[1] = rec("t", 1, 1, "b");
	off.next_offset = 2;
	assert_int_equal(batch(s, r, 2, &off, 1), KSINK_OK);

	/* A replay overlapping what was committed counts only the new. */
	r[0] = rec("t", 1, 1, "b");
	r[1] = rec("t", 1, 2, "c");
	r[2] = rec("t", 1, 3, "d");
	off.next_offset = 4;
	assert_int_equal(batch(s, r, 3, &off, 1), KSINK_OK);
	assert_string_equal(slurp(path), "ksink-null 1\nt 1 4 4 8\n");

	/* A commit never lowers a stored offset. */
	off.next_offset = 1;
	assert_int_equal(batch(s, r, 0, &off, 1), KSINK_OK);
	assert_int_equal(stored(s, "t", 1), 4);
	d->close(s);
}

static void
test_abandoned_step(void **state)
{
	struct ksink_record r = rec("t", 0, 0, "abc");
	struct ksink_offset off = { "t", 0, 1 };
	size_t done;
	void *s;

	(void)state;
	s = open_sink(KSINK_OK);
	assert_int_equal(d->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(d->write(s, &r, 1, &done, errbuf, sizeof(errbuf)),
	    KSINK_OK);
	/* No abort(): the next begin() starts over. */
	assert_null(d->abort);
	assert_int_equal(batch(s, &r, 1, &off, 1), KSINK_OK);
	assert_string_equal(slurp(path), "ksink-null 1\nt 0 1 1 4\n");
	d->close(s);
}

static void
test_fsync_failure_is_fatal(void **state)
{
	struct ksink_record r = rec("t", 0, 0, "abc");
	struct ksink_offset off = { "t", 0, 1 };
	void *s;

	(void)state;
	s = open_sink(KSINK_OK);
	assert_int_equal(batch(s, &r, 1, &off, 1), KSINK_OK);
	fail_fsync_errno = EIO;
	r = rec("t", 0, 1, "abc");
	off.next_offset = 2;
	assert_int_equal(batch(s, &r, 1, &off, 1), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "fsync"));
	assert_non_null(strstr(errbuf, "Input/output error"));
	/* Nothing of the failed step was published. */
	assert_int_equal(stored(s, "t", 0), 1);
	assert_string_equal(slurp(path), "ksink-null 1\nt 0 1 1 4\n");
	d->close(s);
}

static void
test_rename_failure_is_fatal(void **state)
{
	struct ksink_record r = rec("t", 0, 0, "abc");
	struct ksink_offset off = { "t", 0, 1 };
	void *s;

	(void)state;
	s = open_sink(KSINK_OK);
	fail_rename_errno = EXDEV;
	assert_int_equal(batch(s, &r, 1, &off, 1), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "renaming"));
	assert_int_equal(stored(s, "t", 0), KSINK_OFFSET_NONE);
	assert_null(slurp(path));
	d->close(s);
}

static void
test_no_fsync(void **state)
{
	struct ksink_record r = rec("t", 0, 0, "abc");
	struct ksink_offset off = { "t", 0, 1 };
	void *s;

	(void)state;
	extra = "null.fsync=false";
	s = open_sink(KSINK_OK);
	assert_int_equal(batch(s, &r, 1, &off, 1), KSINK_OK);
	assert_int_equal(n_fsync, 0);
	assert_string_equal(slurp(path), "ksink-null 1\nt 0 1 1 4\n");
	d->close(s);
}

static void
test_foreign_file_is_kept(void **state)
{
	(void)state;
	write_file(path, "precious data\n");
	open_sink(KSINK_CONFIG);
	assert_non_null(strstr(errbuf, "not a state file"));
	assert_string_equal(slurp(path), "precious data\n");

	write_file(path, "");
	open_sink(KSINK_CONFIG);
}

static void
test_damaged_file(void **state)
{
	(void)state;
	write_file(path, "ksink-null 1\nt 0 1 1 4\nt zero\n");
	open_sink(KSINK_FATAL);
	assert_non_null(strstr(errbuf, ":3: malformed line"));
}

static void
test_missing_directory(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "%s/nowhere/counts.state", dir);
	open_sink(KSINK_CONFIG);
	assert_non_null(strstr(errbuf, "its directory"));
}

static void
test_lock(void **state)
{
	void *s, *s2 = NULL;

	(void)state;
	s = open_sink(KSINK_OK);
	assert_int_equal(d->open(&ks_sink_host, new_ctx(), &s2, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "locked"));
	d->close(s);
	/* Released with the sink. */
	s = open_sink(KSINK_OK);
	d->close(s);
}

static void
test_reset_offsets(void **state)
{
	struct ksink_record r[2];
	struct ksink_offset off[2] = { { "t", 0, 2 }, { "t", 1, 9 } };
	struct ksink_offset reset[2] = { { "t", 0, 1 },
	    { "t", 1, KSINK_OFFSET_NONE } };
	void *s;

	(void)state;
	s = open_sink(KSINK_OK);
	r[0] = rec("t", 0, 1, "ab");
	r[1] = rec("t", 1, 8, "cd");
	assert_int_equal(batch(s, r, 2, off, 2), KSINK_OK);
	assert_int_equal(d->reset_offsets(s, reset, 2, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	/* Lowered, and forgotten; the counts stay. */
	assert_string_equal(slurp(path), "ksink-null 1\n"
	    "t 0 1 1 3\nt 1 -1 1 3\n");
	d->close(s);
	s = open_sink(KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(stored(s, "t", 1), KSINK_OFFSET_NONE);
	/* Applied again after the reset: counted again. */
	off[0].next_offset = 2;
	off[1].next_offset = 9;
	assert_int_equal(batch(s, r, 2, off, 2), KSINK_OK);
	assert_string_equal(slurp(path), "ksink-null 1\n"
	    "t 0 2 2 6\nt 1 9 2 6\n");
	d->close(s);
}

static void
test_many_partitions(void **state)
{
	struct ksink_record r[300];
	struct ksink_offset off[300];
	void *s;
	int i;

	(void)state;
	s = open_sink(KSINK_OK);
	for (i = 0; i < 300; i++) {
		r[i] = rec(i % 2 ? "odd" : "even", i, 100, "v");
		off[i].topic = r[i].topic;
		off[i].partition = i;
		off[i].next_offset = 101;
	}
	assert_int_equal(batch(s, r, 300, off, 300), KSINK_OK);
	d->close(s);
	s = open_sink(KSINK_OK);
	for (i = 0; i < 300; i++)
		assert_int_equal(stored(s, r[i].topic, i), 101);
	d->close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_descriptor, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_counts_and_state_file,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_fence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abandoned_step, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fsync_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_fsync, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_foreign_file_is_kept,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_partitions, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
