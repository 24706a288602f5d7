/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_file_faults.c - how the file sink classifies the
 * failures of the system calls it depends on: write(2), fsync(2),
 * fdatasync(2) and renameat(2) are wrapped (-Wl,--wrap) to inject ENOSPC,
 * EDQUOT and EIO as the knobs of tests/unit/file-fx.h say, in batches,
 * the manifest's writes and reset_offsets().
 */
#include "file-fx.h"

/* ------------------------------------------------------------------
 * Injected failures
 */

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
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
		cmocka_unit_test_setup_teardown(test_reset_offsets_failures,
		    setup, teardown),
	};

	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
