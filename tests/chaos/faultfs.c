/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/chaos/faultfs.c - file system faults for the fault matrix, loaded
 * into ksink with LD_PRELOAD.  Only files and directories whose path starts
 * with FAULTFS_DIR are touched; every other call goes straight through.
 *
 *   FAULTFS_DIR=/abs/dir        the files concerned (required)
 *   FAULTFS_ENOSPC=/abs/file    while this file exists, write(), pwrite()
 *                               and writev() on a regular file under
 *                               FAULTFS_DIR fail with ENOSPC
 *   FAULTFS_FSYNC_EIO=N         the Nth fsync() or fdatasync() of a file or
 *                               directory under FAULTFS_DIR fails with EIO
 *                               (once; the data is left as it is)
 *   FAULTFS_FSYNC_KIND=file|dir count only the syncs of regular files, or
 *                               only those of directories (default: both)
 *
 * Each injected fault is reported on stderr with "faultfs:" in front.
 * Used where a file system cannot be filled for real (no tmpfs can be
 * mounted) and for fsync failures, which no real file system makes on
 * demand.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*real_writev)(int, const struct iovec *, int);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);

static const char *dir;
static size_t dirlen;
static const char *enospc_file;
static long eio_nth;
static int eio_kind;		/* 0 both, 1 files, 2 directories */
static atomic_long syncs;
static atomic_long enospc_reported;

static void __attribute__((constructor))
faultfs_init(void)
{
	const char *s;

	real_write = (ssize_t (*)(int, const void *, size_t))
	    dlsym(RTLD_NEXT, "write");
	real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))
	    dlsym(RTLD_NEXT, "pwrite");
	real_writev = (ssize_t (*)(int, const struct iovec *, int))
	    dlsym(RTLD_NEXT, "writev");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	dir = getenv("FAULTFS_DIR");
	dirlen = dir != NULL ? strlen(dir) : 0;
	enospc_file = getenv("FAULTFS_ENOSPC");
	if ((s = getenv("FAULTFS_FSYNC_EIO")) != NULL)
		eio_nth = strtol(s, NULL, 10);
	if ((s = getenv("FAULTFS_FSYNC_KIND")) != NULL)
		eio_kind = strcmp(s, "file") == 0 ? 1 : strcmp(s, "dir") == 0 ?
		    2 : 0;
}

/* Whether fd is under dir and of a kind wanted (bit 1: regular files,
 * bit 2: directories); its path goes to path. */
static int
concerned(int fd, int kinds, char *path, size_t len)
{
	char link[64];
	struct stat st;
	ssize_t n;

	if (dirlen == 0 || fstat(fd, &st) != 0)
		return 0;
	if (!((kinds & 1) && S_ISREG(st.st_mode)) &&
	    !((kinds & 2) && S_ISDIR(st.st_mode)))
		return 0;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, len - 1);
	if (n < 0)
		return 0;
	path[n] = '\0';
	return strncmp(path, dir, dirlen) == 0 &&
	    (path[dirlen] == '/' || path[dirlen] == '\0');
}

static void
say(const char *op, const char *path, const char *err)
{
	char msg[PATH_MAX + 128];
	int n;

	n = snprintf(msg, sizeof(msg), "faultfs: %s %s: injected %s\n", op,
	    path, err);
	if (n > 0 && real_write != NULL)
		(void)!real_write(2, msg, (size_t)n < sizeof(msg) ? (size_t)n :
		    sizeof(msg) - 1);
}

static int
no_space(int fd)
{
	char path[PATH_MAX];

	if (enospc_file == NULL || access(enospc_file, F_OK) != 0 ||
	    !concerned(fd, 1, path, sizeof(path)))
		return 0;
	if (atomic_fetch_add(&enospc_reported, 1) % 100 == 0)
		say("write to", path, "ENOSPC");
	errno = ENOSPC;
	return 1;
}

ssize_t
write(int fd, const void *buf, size_t count)
{
	if (no_space(fd))
		return -1;
	return real_write(fd, buf, count);
}

ssize_t
pwrite(int fd, const void *buf, size_t count, off_t off)
{
	if (no_space(fd))
		return -1;
	return real_pwrite(fd, buf, count, off);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
	if (no_space(fd))
		return -1;
	return real_writev(fd, iov, cnt);
}

static int
sync_fails(int fd)
{
	char path[PATH_MAX];

	if (eio_nth <= 0 || !concerned(fd, eio_kind == 0 ? 3 : eio_kind, path,
	    sizeof(path)))
		return 0;
	if (atomic_fetch_add(&syncs, 1) + 1 != eio_nth)
		return 0;
	say("fsync of", path, "EIO");
	errno = EIO;
	return 1;
}

int
fsync(int fd)
{
	if (sync_fails(fd))
		return -1;
	return real_fsync(fd);
}

int
fdatasync(int fd)
{
	if (sync_fails(fd))
		return -1;
	return real_fdatasync(fd);
}
