/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_atomicfile.c - connectors/lib/atomicfile.c: a file
 * replaced whole through NAME.tmp, and its lock.  write(2), fsync(2),
 * close(2) and renameat(2) are wrapped (-Wl,--wrap) to count calls and
 * to inject failures; a directory removed under an open file gives a
 * real one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ksink/sink.h"

#include "lib/atomicfile.h"

static int fail_write_errno;	/* fail write(2) on fds above 2 */
static int fail_fsync_errno;	/* fail fsync(2) of regular files */
static int fail_dirfsync_errno;	/* ... of directories */
static int fail_close_errno;	/* fail close(2), after closing */
static int fail_rename_errno;	/* fail renameat(2) */
static int n_fsync;

ssize_t	__real_write(int, const void *, size_t);
int	__real_fsync(int);
int	__real_close(int);
int	__real_renameat(int, const char *, int, const char *);
ssize_t	__wrap_write(int, const void *, size_t);
int	__wrap_fsync(int);
int	__wrap_close(int);
int	__wrap_renameat(int, const char *, int, const char *);

ssize_t
__wrap_write(int fd, const void *p, size_t n)
{
	if (fail_write_errno != 0 && fd > 2) {
		errno = fail_write_errno;
		return -1;
	}
	return __real_write(fd, p, n);
}

int
__wrap_fsync(int fd)
{
	struct stat sb;
	int e;

	n_fsync++;
	if (fstat(fd, &sb) == 0) {
		e = S_ISDIR(sb.st_mode) ? fail_dirfsync_errno :
		    fail_fsync_errno;
		if (e != 0) {
			errno = e;
			return -1;
		}
	}
	return __real_fsync(fd);
}

int
__wrap_close(int fd)
{
	int rc = __real_close(fd);

	if (rc == 0 && fail_close_errno != 0) {
		errno = fail_close_errno;
		fail_close_errno = 0;
		return -1;
	}
	return rc;
}

int
__wrap_renameat(int ofd, const char *o, int nfd, const char *n)
{
	if (fail_rename_errno != 0) {
		errno = fail_rename_errno;
		return -1;
	}
	return __real_renameat(ofd, o, nfd, n);
}

static char dir[64], errbuf[512];

/* What the hook saw: the step and both files at that moment. */
static char seen[512];

static int
setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/test_atomicfile.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	fail_write_errno = fail_fsync_errno = fail_dirfsync_errno = 0;
	fail_close_errno = fail_rename_errno = 0;
	n_fsync = 0;
	errbuf[0] = seen[0] = '\0';
	return 0;
}

/* Removes the names a test may leave, and then the directory, which
 * fails when anything else was left behind. */
static int
teardown(void **state)
{
	static const char *const names[] = { "state", "state.tmp",
	    "state.lock", "sub", NULL };
	char p[128];
	size_t i;

	(void)state;
	for (i = 0; names[i] != NULL; i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
	}
	return rmdir(dir);
}

/* The contents of dir/name, or "-" when it does not exist. */
static const char *
contents(const char *name, char *out, size_t outlen)
{
	char p[256];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	if ((fd = open(p, O_RDONLY)) < 0) {
		assert_int_equal(errno, ENOENT);
		snprintf(out, outlen, "-");
		return out;
	}
	n = read(fd, out, outlen - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	return out;
}

static void
open_af(struct ks_atomicfile *af)
{
	assert_int_equal(ks_atomicfile_open(af, dir, "state", errbuf,
	    sizeof(errbuf)), 0);
}

static void
replace_ok(struct ks_atomicfile *af, const char *text)
{
	assert_int_equal(ks_atomicfile_replace(af, text, strlen(text), errbuf,
	    sizeof(errbuf)), KSINK_OK);
}

static void
hook(void *arg, const char *step)
{
	char a[64], b[64];
	size_t n = strlen(seen);

	assert_ptr_equal(arg, seen);
	snprintf(seen + n, sizeof(seen) - n, "%s: state=%s tmp=%s\n", step,
	    contents("state", a, sizeof(a)), contents("state.tmp", b,
	    sizeof(b)));
}

static void
test_replace(void **state)
{
	struct ks_atomicfile af;
	char text[64], want[128];

	(void)state;
	open_af(&af);
	snprintf(want, sizeof(want), "%s/state", dir);
	assert_string_equal(af.path, want);
	assert_string_equal(contents("state", text, sizeof(text)), "-");
	replace_ok(&af, "first version\n");
	assert_string_equal(contents("state", text, sizeof(text)),
	    "first version\n");
	assert_int_equal(n_fsync, 2);	/* the file and its directory */

	/* Shorter: the old bytes are gone.  The steps in order. */
	af.hook = hook;
	af.hook_arg = seen;
	replace_ok(&af, "2\n");
	assert_string_equal(contents("state", text, sizeof(text)), "2\n");
	assert_string_equal(contents("state.tmp", text, sizeof(text)), "-");
	assert_string_equal(seen,
	    "after_tmp: state=first version\n tmp=2\n\n"
	    "after_rename: state=2\n tmp=-\n"
	    "before_dir_fsync: state=2\n tmp=-\n");
	assert_int_equal(n_fsync, 4);

	/* Empty is a version too. */
	replace_ok(&af, "");
	assert_string_equal(contents("state", text, sizeof(text)), "");
	ks_atomicfile_close(&af);
	ks_atomicfile_close(&af);	/* twice is harmless */
}

static void
test_nosync(void **state)
{
	struct ks_atomicfile af;
	char text[64];

	(void)state;
	open_af(&af);
	af.nosync = 1;
	replace_ok(&af, "x\n");
	assert_int_equal(n_fsync, 0);
	assert_string_equal(contents("state", text, sizeof(text)), "x\n");
	ks_atomicfile_close(&af);
}

static void
test_missing_directory(void **state)
{
	struct ks_atomicfile af;
	char nowhere[128];

	(void)state;
	memset(&af, 0, sizeof(af));
	ks_atomicfile_close(&af);	/* zeroed: nothing to close */
	snprintf(nowhere, sizeof(nowhere), "%s/nowhere", dir);
	assert_int_equal(ks_atomicfile_open(&af, nowhere, "state", errbuf,
	    sizeof(errbuf)), -1);
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(errbuf, "directory"));
	assert_non_null(strstr(errbuf, nowhere));
	assert_non_null(strstr(errbuf, strerror(ENOENT)));
	assert_null(af.name);
	assert_int_equal(af.dir_fd, -1);
	ks_atomicfile_close(&af);
}

/* A failure before the rename leaves the file as it was and no
 * NAME.tmp behind. */
static void
check_unchanged(struct ks_atomicfile *af, int want_rc, const char *what)
{
	char text[64];

	assert_int_equal(ks_atomicfile_replace(af, "new\n", 4, errbuf,
	    sizeof(errbuf)), want_rc);
	assert_non_null(strstr(errbuf, what));
	assert_string_equal(contents("state", text, sizeof(text)), "old\n");
	assert_string_equal(contents("state.tmp", text, sizeof(text)), "-");
}

static void
test_fsync_failure_is_fatal(void **state)
{
	struct ks_atomicfile af;

	(void)state;
	open_af(&af);
	replace_ok(&af, "old\n");
	fail_fsync_errno = EIO;
	check_unchanged(&af, KSINK_FATAL, "fsync of");
	assert_non_null(strstr(errbuf, strerror(EIO)));
	assert_non_null(strstr(errbuf, "state.tmp"));
	ks_atomicfile_close(&af);
}

static void
test_close_failure_is_fatal(void **state)
{
	struct ks_atomicfile af;

	(void)state;
	open_af(&af);
	replace_ok(&af, "old\n");
	fail_close_errno = EIO;
	check_unchanged(&af, KSINK_FATAL, "closing");
	ks_atomicfile_close(&af);
}

static void
test_rename_failure_is_fatal(void **state)
{
	struct ks_atomicfile af;

	(void)state;
	open_af(&af);
	replace_ok(&af, "old\n");
	fail_rename_errno = EXDEV;
	check_unchanged(&af, KSINK_FATAL, "renaming");
	assert_non_null(strstr(errbuf, strerror(EXDEV)));
	ks_atomicfile_close(&af);
}

/* Out of space or quota: a retry; any other write error: fatal. */
static void
test_write_failures(void **state)
{
	struct ks_atomicfile af;

	(void)state;
	open_af(&af);
	replace_ok(&af, "old\n");
	fail_write_errno = ENOSPC;
	check_unchanged(&af, KSINK_RETRY, strerror(ENOSPC));
	fail_write_errno = EDQUOT;
	check_unchanged(&af, KSINK_RETRY, strerror(EDQUOT));
	fail_write_errno = EIO;
	check_unchanged(&af, KSINK_FATAL, strerror(EIO));
	fail_write_errno = 0;
	replace_ok(&af, "new\n");
	ks_atomicfile_close(&af);
}

/* The directory's fsync fails after the rename: fatal, and the file is
 * already the new version. */
static void
test_dir_fsync_failure_is_fatal(void **state)
{
	struct ks_atomicfile af;
	char text[64];

	(void)state;
	open_af(&af);
	replace_ok(&af, "old\n");
	fail_dirfsync_errno = EIO;
	assert_int_equal(ks_atomicfile_replace(&af, "new\n", 4, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "fsync of directory"));
	assert_string_equal(contents("state", text, sizeof(text)), "new\n");
	ks_atomicfile_close(&af);
}

/* A real failure: the directory removed under the open handle. */
static void
test_directory_gone(void **state)
{
	struct ks_atomicfile af;
	char sub[128];

	(void)state;
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(ks_atomicfile_open(&af, sub, "state", errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(ks_atomicfile_replace(&af, "x", 1, errbuf,
	    sizeof(errbuf)), KSINK_FATAL);
	assert_non_null(strstr(errbuf, "creating"));
	assert_non_null(strstr(errbuf, "sub/state.tmp"));
	ks_atomicfile_close(&af);
}

static void
test_lock(void **state)
{
	struct ks_atomicfile a, b;
	char text[64], want[64];
	long holder = -1;

	(void)state;
	open_af(&a);
	open_af(&b);
	assert_int_equal(ks_atomicfile_lock(&a, &holder, errbuf,
	    sizeof(errbuf)), 0);
	assert_string_equal(errbuf, "");
	assert_int_equal(holder, 0);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(contents("state.lock", text, sizeof(text)), want);

	/* Another open file description of this process. */
	assert_int_equal(ks_atomicfile_lock(&b, &holder, errbuf,
	    sizeof(errbuf)), 1);
	assert_int_equal(holder, (long)getpid());
	snprintf(want, sizeof(want), "locked by pid %ld", (long)getpid());
	assert_non_null(strstr(errbuf, want));
	assert_int_equal(b.lock_fd, -1);

	/* Released when closed. */
	ks_atomicfile_close(&a);
	assert_int_equal(ks_atomicfile_lock(&b, &holder, errbuf,
	    sizeof(errbuf)), 0);
	ks_atomicfile_close(&b);
}

/* A lock file that cannot be opened: an error, not "locked". */
static void
test_lock_error(void **state)
{
	struct ks_atomicfile af;
	char p[128];
	long holder;

	(void)state;
	snprintf(p, sizeof(p), "%s/state.lock", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	open_af(&af);
	assert_int_equal(ks_atomicfile_lock(&af, &holder, errbuf,
	    sizeof(errbuf)), -1);
	assert_non_null(strstr(errbuf, "opening lock file"));
	assert_non_null(strstr(errbuf, strerror(EISDIR)));
	ks_atomicfile_close(&af);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nosync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fsync_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failures, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dir_fsync_failure_is_fatal,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_gone, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_error, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
