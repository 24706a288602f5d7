/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_file.c - the file sink.  The plugin's sources are
 * linked in and its private header included, so that its name rules can
 * be called directly; the rest goes through its descriptor and the
 * daemon's host services (src/sink.c), as the daemon does.
 * write(2), fsync(2), fdatasync(2) and renameat(2) are wrapped
 * (-Wl,--wrap) to inject ENOSPC, EDQUOT and EIO.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "../../connectors/file/file.h"

#include <sys/wait.h>

#include <ftw.h>
#include <setjmp.h>
#include <stddef.h>

#include <cmocka.h>

#include "sink.h"
#include "testing.h"

/* The plugin's descriptor, as the daemon gets it. */
static const struct ksink_sink *desc;

/* ------------------------------------------------------------------
 * Injected failures
 */

static int fail_write_errno;  /* fail write(2) with this errno */
static int fail_write_after;  /* ... after this many successful calls */
static int fail_datasync_errno; /* fail fdatasync(2) with this */
static int fail_fsync_errno;  /* fail fsync(2) with this */
static int fail_dirfsync_errno; /* ... of directories only */
static int fail_rename_errno; /* fail renameat(2) with this */

ssize_t __real_write(int fd, const void *buf, size_t n);
int __real_fsync(int fd);
int __real_fdatasync(int fd);
int __real_renameat(int, const char *, int, const char *);

ssize_t
__wrap_write(int fd, const void *buf, size_t n)
{
	if (fail_write_errno != 0 && fd > 2) {
		if (fail_write_after > 0)
			fail_write_after--;
		else {
			errno = fail_write_errno;
			return -1;
		}
	}
	return __real_write(fd, buf, n);
}

int
__wrap_fsync(int fd)
{
	struct stat sb;

	if (fail_fsync_errno != 0) {
		errno = fail_fsync_errno;
		return -1;
	}
	if (fail_dirfsync_errno != 0 && fstat(fd, &sb) == 0 &&
	    S_ISDIR(sb.st_mode)) {
		errno = fail_dirfsync_errno;
		return -1;
	}
	return __real_fsync(fd);
}

int
__wrap_fdatasync(int fd)
{
	if (fail_datasync_errno != 0) {
		errno = fail_datasync_errno;
		return -1;
	}
	return __real_fdatasync(fd);
}

int
__wrap_renameat(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath)
{
	if (fail_rename_errno != 0) {
		errno = fail_rename_errno;
		return -1;
	}
	return __real_renameat(olddirfd, oldpath, newdirfd, newpath);
}

/* ------------------------------------------------------------------
 * Fixture
 */

static char dir[64];
static char errbuf[1024];
static const char *connector;
/* The lines logged since the last context was made. */
static char logbuf[16384];
/* The contexts of the sinks opened by a test, freed after it. */
static struct ksink_ctx *ctxs[32];
static size_t nctx;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_file.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	connector = "unit";
	fail_write_errno = fail_write_after = 0;
	fail_datasync_errno = fail_fsync_errno = fail_rename_errno = 0;
	fail_dirfsync_errno = 0;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	fail_write_errno = fail_datasync_errno = fail_fsync_errno = 0;
	fail_rename_errno = fail_dirfsync_errno = 0;
	while (nctx > 0)
		ks_sink_ctx_free(ctxs[--nctx]);
	ks_log_capture(NULL, 0);
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The host's context for connector with settings (NULL-terminated), as
 * the daemon builds it; NULL with errbuf filled where the daemon would
 * refuse them.  The log is kept in logbuf from here on. */
static struct ksink_ctx *
new_ctx(const char *const *settings)
{
	struct ksink_ctx *ctx;

	assert_true(nctx < sizeof(ctxs) / sizeof(ctxs[0]));
	ks_log_capture(logbuf, sizeof(logbuf));
	ctx = ks_sink_ctx_test(desc, connector, settings, errbuf,
	    sizeof(errbuf));
	if (ctx != NULL)
		ctxs[nctx++] = ctx;
	return ctx;
}

/* Opens a sink on dir with "file.path=" pattern and extra options;
 * KSINK_CONFIG when the host refuses the options. */
static int
open_sink(void **sinkp, const char *pattern, ...)
{
	const char *settings[8];
	struct ksink_ctx *ctx;
	char path[256];
	size_t n = 0;
	va_list ap;

	snprintf(path, sizeof(path), "file.path=%s/%s", dir, pattern);
	settings[n++] = path;
	va_start(ap, pattern);
	while ((settings[n] = va_arg(ap, const char *)) != NULL)
		assert_true(++n < sizeof(settings) / sizeof(settings[0]));
	va_end(ap);
	errbuf[0] = '\0';
	if ((ctx = new_ctx(settings)) == NULL)
		return KSINK_CONFIG;
	return desc->open(&ks_sink_host, ctx, sinkp, errbuf, sizeof(errbuf));
}

static struct ksink_record
rec(const char *topic, int32_t partition, int64_t offset, const char *value)
{
	struct ksink_record r = {
		.topic = topic,
		.partition = partition,
		.offset = offset,
		.timestamp = 1700000000000LL + offset,
		.value = value,
		.value_len = value ? strlen(value) : 0,
	};
	return r;
}

/* Applies records as one batch and commits offsets of each partition. */
static int
batch(void *s, const struct ksink_record *r, size_t n)
{
	struct ksink_offset offs[16];
	size_t i, j, nofs = 0, done;
	int rc;

	for (i = 0; i < n; i++) {
		for (j = 0; j < nofs; j++)
			if (offs[j].partition == r[i].partition &&
			    strcmp(offs[j].topic, r[i].topic) == 0)
				break;
		if (j == nofs) {
			offs[nofs].topic = r[i].topic;
			offs[nofs].partition = r[i].partition;
			nofs++;
		}
		offs[j].next_offset = r[i].offset + 1;
	}
	if ((rc = desc->begin(s, errbuf, sizeof(errbuf))) != KSINK_OK)
		return rc;
	if ((rc = desc->write(s, r, n, &done, errbuf, sizeof(errbuf))) !=
	    KSINK_OK)
		return rc;
	return desc->commit(s, offs, nofs, errbuf, sizeof(errbuf));
}

/* Contents of dir/name, NUL-terminated; NULL when missing. */
static char *
slurp(const char *name, size_t *lenp)
{
	char path[512];
	struct stat sb;
	char *buf;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	fstat(fileno(f), &sb);
	buf = malloc((size_t)sb.st_size + 1);
	n = fread(buf, 1, (size_t)sb.st_size, f);
	buf[n] = '\0';
	fclose(f);
	if (lenp != NULL)
		*lenp = n;
	return buf;
}

static void
assert_file(const char *name, const char *want)
{
	char *got = slurp(name, NULL);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
spit(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "wb"));
	fputs(text, f);
	fclose(f);
}

static int64_t
stored(void *s, const char *topic, int32_t partition)
{
	struct ksink_offset o = { topic, partition, KSINK_OFFSET_NONE };

	assert_int_equal(desc->load_offsets(s, &o, 1, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	return o.next_offset;
}

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

/* ------------------------------------------------------------------
 * Exactly-once: fence, abort, recovery, refusals
 */

static void
test_fence_and_replay(void **state)
{
	struct ksink_record r[3];
	struct sink *fs;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	r[1] = rec("t", 0, 1, "b");
	assert_int_equal(batch(s, r, 2), KSINK_OK);
	desc->close(s);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	fs = s;
	/* A zombie's replay: only offset 2 is new. */
	r[2] = rec("t", 0, 2, "c");
	assert_int_equal(batch(s, r, 3), KSINK_OK);
	assert_int_equal(fs->n_fenced, 2);
	desc->close(s);
	assert_file("out.log", "a\nb\nc\n");
}

static void
test_abort_truncates(void **state)
{
	struct ksink_record r[2];
	char big[300000];
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", "file.buffer.bytes=4096",
	    NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "kept");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	r[1] = rec("t", 0, 1, big);
	/* Larger than the buffer: written before the commit. */
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r + 1, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r + 1, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	desc->abort(s);
	assert_file("out.log", "kept\n");
	assert_int_equal(stored(s, "t", 0), 1);
	desc->close(s);
}

static void
test_recovery_truncates(void **state)
{
	struct ksink_record r[1];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "committed");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	desc->close(s);
	/* What a crash between the data's write and the manifest leaves. */
	spit("out.log", "committed\ngarbage of a lost batch\n");
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_file("out.log", "committed\n");
	assert_non_null(strstr(logbuf, "out.log: discarded 24 bytes "
	    "past the committed length 10"));
	desc->close(s);
}

static void
test_manifest_missing(void **state)
{
	void *s;

	(void)state;
	spit("out-0.log", "someone's data\n");
	assert_int_equal(open_sink(&s, "out-{partition}.log", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "out-0.log exists but its manifest"));
	assert_non_null(strstr(errbuf, "ksink-unit.manifest does not"));
	/* Closed files count too. */
	remove(strcat(strcpy(errbuf, dir), "/out-0.log"));
	spit("out-0.t+0+0000000000000000000.log", "x\n");
	assert_int_equal(open_sink(&s, "out-{partition}.log", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "exists but its manifest"));
}

static void
test_manifest_corrupt(void **state)
{
	struct ksink_record r[1];
	char *m, *p;
	size_t len;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	desc->close(s);
	m = slurp("ksink-unit.manifest", &len);

	/* One changed digit. */
	p = strstr(m, "offset t 0 1");
	p[11] = '7';
	spit("ksink-unit.manifest", m);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "is unreadable: its checksum does not "
	    "match"));
	assert_non_null(strstr(errbuf, "restore the manifest"));
	p[11] = '1';

	/* Cut short. */
	m[len - 5] = '\0';
	spit("ksink-unit.manifest", m);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "is unreadable"));

	/* Empty. */
	spit("ksink-unit.manifest", "");
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "is unreadable"));
	free(m);
}

static void
test_manifest_refusals(void **state)
{
	struct ksink_record r[1];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "abc");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	desc->close(s);

	/* Another pattern, another format. */
	assert_int_equal(open_sink(&s, "{topic}-{partition}.log", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "was written for file names "
	    "{topic}.log"));
	assert_int_equal(open_sink(&s, "{topic}.log", "file.format=json", NULL),
	    KSINK_FATAL);
	assert_non_null(strstr(errbuf, "file.format = value"));

	/* A committed data file shortened outside ksink. */
	spit("t.log", "ab");
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "has 2 bytes, but manifest"));

	/* ... or gone. */
	remove(strcat(strcpy(errbuf, dir), "/t.log"));
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "t.log is missing"));
}

static void
test_unlisted_file_refused(void **state)
{
	struct ksink_record r[1];
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_OK);
	spit("other.log", "not ours\n");
	r[0] = rec("other", 0, 0, "x");
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_int_equal(done, 0);
	assert_non_null(strstr(errbuf, "other.log exists but manifest does "
	    "not list it"));
	desc->abort(s);
	desc->close(s);
	assert_file("other.log", "not ours\n");
}

static void
test_bad_topic_refused(void **state)
{
	struct ksink_record r[1];
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "{topic}.log", NULL), KSINK_OK);
	r[0] = rec("../escape", 0, 0, "x");
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "../escape/0: not a Kafka topic name"));
	desc->abort(s);
	desc->close(s);
}

static void
test_lock_names_pid(void **state)
{
	int up[2], down[2];
	void *s, *s2;
	char pidtext[32], c;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(up), 0);
	assert_int_equal(pipe(down), 0);
	if ((pid = fork()) == 0) {
		if (open_sink(&s, "out.log", NULL) != KSINK_OK)
			_exit(1);
		(void)!__real_write(up[1], "x", 1);
		(void)!read(down[0], &c, 1);
		desc->close(s);
		_exit(0);
	}
	assert_int_equal(read(up[0], &c, 1), 1);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_FATAL);
	snprintf(pidtext, sizeof(pidtext), "locked by pid %ld", (long)pid);
	assert_non_null(strstr(errbuf, pidtext));
	(void)!__real_write(down[1], "x", 1);
	waitpid(pid, NULL, 0);

	/* Two connectors of one process. */
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(open_sink(&s2, "out.log", NULL), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "another connector of this ksink"));
	desc->close(s);
	/* Released at close. */
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	desc->close(s);
}

/* ------------------------------------------------------------------
 * Failure classification
 */

static void
check_space_error(int err)
{
	struct ksink_record r[2];
	void *s;

	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "first");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	r[1] = rec("t", 0, 1, "second");

	/* The data's write fails: retry. */
	fail_write_errno = err;
	assert_int_equal(batch(s, r + 1, 1), KSINK_RETRY);
	assert_non_null(strstr(errbuf, strerror(err)));
	desc->abort(s);

	/* The data is written but the manifest's write fails: retry. */
	fail_write_after = 1;
	assert_int_equal(batch(s, r + 1, 1), KSINK_RETRY);
	desc->abort(s);
	fail_write_errno = 0;
	assert_file("out.log", "first\n");
	assert_int_equal(stored(s, "t", 0), 1);

	/* The same batch again, once there is space. */
	assert_int_equal(batch(s, r + 1, 1), KSINK_OK);
	desc->close(s);
	assert_file("out.log", "first\nsecond\n");
}

static void
test_enospc_is_retry(void **state)
{
	(void)state;
	check_space_error(ENOSPC);
}

static void
test_edquot_is_retry(void **state)
{
	(void)state;
	check_space_error(EDQUOT);
}

static void
test_eio_write_is_fatal(void **state)
{
	struct ksink_record r[1];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "x");
	fail_write_errno = EIO;
	assert_int_equal(batch(s, r, 1), KSINK_FATAL);
	fail_write_errno = 0;
	desc->abort(s);
	desc->close(s);
}

static void
test_fsync_failure_is_fatal(void **state)
{
	struct ksink_record r[2];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "committed");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	r[1] = rec("t", 0, 1, "lost");
	fail_datasync_errno = EIO;
	assert_int_equal(batch(s, r + 1, 1), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "fsync of"));
	assert_non_null(strstr(errbuf, "out.log"));
	fail_datasync_errno = 0;
	desc->abort(s);
	/* Never retried, even once the disk recovers. */
	assert_int_equal(batch(s, r + 1, 1), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "stopped after an earlier error"));
	desc->abort(s);
	desc->close(s);

	/* A restart goes back to the last commit. */
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(batch(s, r + 1, 1), KSINK_OK);
	desc->close(s);
	assert_file("out.log", "committed\nlost\n");
}

/* The manifest's fsync, then its rename: fatal, never retried, and a
 * restart resumes from what is on disk. */
static void
check_manifest_failure(int *knob, const char *what)
{
	struct ksink_record r[2];
	void *s;

	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	r[1] = rec("t", 0, 1, "b");
	*knob = EIO;
	assert_int_equal(batch(s, r + 1, 1), KSINK_FATAL);
	assert_non_null(strstr(errbuf, what));
	*knob = 0;
	desc->abort(s);
	assert_int_equal(batch(s, r + 1, 1), KSINK_FATAL);
	desc->abort(s);
	desc->close(s);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(batch(s, r, 2), KSINK_OK);
	desc->close(s);
	assert_file("out.log", "a\nb\n");
}

static void
test_manifest_fsync_failure_is_fatal(void **state)
{
	(void)state;
	check_manifest_failure(&fail_fsync_errno, "fsync of");
	assert_non_null(strstr(logbuf, "file sink closed"));
}

static void
test_rename_failure_is_fatal(void **state)
{
	(void)state;
	check_manifest_failure(&fail_rename_errno, "renaming");
}

/* The directory's fsync fails after the new manifest was renamed into
 * place: fatal, and the batch's data must stay, since the manifest the
 * next start finds may be the new one.  A restart finds the data and the
 * manifest consistent, and applies nothing twice. */
static void
test_dir_fsync_failure_after_rename(void **state)
{
	struct ksink_record r[2];
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	r[1] = rec("t", 0, 1, "b");
	fail_dirfsync_errno = EIO;
	assert_int_equal(batch(s, r + 1, 1), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "fsync of directory"));
	fail_dirfsync_errno = 0;
	desc->abort(s);
	desc->close(s);
	assert_file("out.log", "a\nb\n");

	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 2);
	assert_int_equal(batch(s, r, 2), KSINK_OK);
	desc->close(s);
	assert_file("out.log", "a\nb\n");
}

/* ------------------------------------------------------------------
 * reset_offsets() (ABI 1.1)
 */

/* Lowers, forgets and sets offsets in one manifest write; the data files
 * are untouched and what is applied next follows the new offsets. */
static void
test_reset_offsets(void **state)
{
	struct ksink_record r[4];
	struct ksink_offset set[3] = {
		{ "t", 0, 1 },
		{ "t", 1, KSINK_OFFSET_NONE },
		{ "t", 2, 5 },
	};
	char *m;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_true(KSINK_SINK_HAS(desc, reset_offsets, 1));
	r[0] = rec("t", 0, 0, "a");
	r[1] = rec("t", 0, 1, "b");
	r[2] = rec("t", 0, 2, "c");
	r[3] = rec("t", 1, 0, "p");
	assert_int_equal(batch(s, r, 4), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, set, 3, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(stored(s, "t", 1), KSINK_OFFSET_NONE);
	assert_int_equal(stored(s, "t", 2), 5);
	assert_file("out.log", "a\nb\nc\np\n");
	m = slurp("ksink-unit.manifest", NULL);
	assert_non_null(strstr(m, "\noffset t 0 1\noffset t 2 5\n"));
	assert_null(strstr(m, "offset t 1"));
	free(m);
	desc->close(s);

	/* Durable: a restart starts from the new offsets, and appends. */
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(stored(s, "t", 1), KSINK_OFFSET_NONE);
	r[0] = rec("t", 0, 1, "b");
	r[1] = rec("t", 0, 2, "c");
	r[2] = rec("t", 1, 0, "p");
	r[3] = rec("t", 2, 4, "skipped");
	assert_int_equal(batch(s, r, 4), KSINK_OK);
	r[0] = rec("t", 2, 5, "f");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	assert_file("out.log", "a\nb\nc\np\nb\nc\np\nf\n");
	assert_int_equal(stored(s, "t", 0), 3);
	assert_int_equal(stored(s, "t", 1), 1);
	assert_int_equal(stored(s, "t", 2), 6);

	/* Forgetting a partition never seen, and an empty reset. */
	set[0].topic = "never";
	set[0].next_offset = KSINK_OFFSET_NONE;
	assert_int_equal(desc->reset_offsets(s, set, 1, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, set, 0, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(stored(s, "never", 0), KSINK_OFFSET_NONE);
	desc->close(s);
}

/* Refusals that leave the sink as it was, and usable. */
static void
test_reset_offsets_refused(void **state)
{
	struct ksink_record r[1];
	struct ksink_offset bad[2] = {
		{ "t", 0, 0 },
		{ "../escape", 0, 3 },
	};
	struct ksink_offset neg = { "t", 0, -5 };
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, bad, 2, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "../escape/0"));
	assert_int_equal(desc->reset_offsets(s, &neg, 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_int_equal(stored(s, "t", 0), 1);

	/* Not inside a batch. */
	assert_int_equal(desc->begin(s, errbuf, sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->write(s, r, 1, &done, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(desc->reset_offsets(s, bad, 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "inside begin()/commit()"));
	desc->abort(s);

	assert_int_equal(desc->reset_offsets(s, bad, 1, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 0);
	desc->close(s);
}

/* No space for the manifest: a retry, nothing changed.  A failed fsync
 * or rename: fatal, and a restart finds the old offsets. */
static void
test_reset_offsets_failures(void **state)
{
	struct ksink_record r[1];
	struct ksink_offset set = { "t", 0, 0 };
	void *s;

	(void)state;
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	r[0] = rec("t", 0, 0, "a");
	assert_int_equal(batch(s, r, 1), KSINK_OK);
	fail_write_errno = ENOSPC;
	assert_int_equal(desc->reset_offsets(s, &set, 1, errbuf,
	    sizeof(errbuf)), KSINK_RETRY);
	fail_write_errno = 0;
	assert_int_equal(stored(s, "t", 0), 1);

	fail_rename_errno = EIO;
	assert_int_equal(desc->reset_offsets(s, &set, 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "renaming"));
	fail_rename_errno = 0;
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(desc->reset_offsets(s, &set, 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "stopped after an earlier error"));
	desc->close(s);

	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	fail_fsync_errno = EIO;
	assert_int_equal(desc->reset_offsets(s, &set, 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "fsync of"));
	fail_fsync_errno = 0;
	desc->close(s);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 1);
	assert_int_equal(desc->reset_offsets(s, &set, 1, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	desc->close(s);
	assert_int_equal(open_sink(&s, "out.log", NULL), KSINK_OK);
	assert_int_equal(stored(s, "t", 0), 0);
	desc->close(s);
	assert_file("out.log", "a\n");
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
		cmocka_unit_test_setup_teardown(test_fence_and_replay, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_abort_truncates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recovery_truncates, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_manifest_missing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_manifest_corrupt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_manifest_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unlisted_file_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_topic_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock_names_pid, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_enospc_is_retry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_edquot_is_retry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eio_write_is_fatal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fsync_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_manifest_fsync_failure_is_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_dir_fsync_failure_after_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets_refused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets_failures,
		    setup, teardown),
		cmocka_unit_test(test_options_table),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_refuses_options,
		    setup, teardown),
	};

	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
