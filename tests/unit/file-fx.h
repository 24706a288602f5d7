/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/file-fx.h - the fixture of the file sink's unit tests
 * (test_file.c, test_file_recovery.c, test_file_faults.c).  The plugin's
 * sources are linked in and its private header included, so that its
 * name rules can be called directly; the rest goes through its
 * descriptor and the daemon's host services (src/sink.c), as the daemon
 * does.  The knobs of the injected failures are here, reset by setup();
 * the wrappers that obey them are in test_file_faults.c, the one program
 * linked with -Wl,--wrap.  Included once by each test program, first.
 */
#ifndef KS_TEST_FILE_FX_H
#define KS_TEST_FILE_FX_H

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

static int64_t
stored(void *s, const char *topic, int32_t partition)
{
	struct ksink_offset o = { topic, partition, KSINK_OFFSET_NONE };

	assert_int_equal(desc->load_offsets(s, &o, 1, errbuf,
	    sizeof(errbuf)), KSINK_OK);
	return o.next_offset;
}

#endif /* KS_TEST_FILE_FX_H */
