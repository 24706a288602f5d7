/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/atomicfile.c - a file replaced whole, atomically and
 * durably, and the lock that keeps a second process away from it; see
 * atomicfile.h.  The file sink's manifest and the null sink's state
 * file are written here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* flock(2) */
#endif

#include <sys/file.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ksink/sink.h>

#include "atomicfile.h"

static char *
joined(const char *a, const char *sep, const char *b)
{
	size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
	char *r;

	if ((r = malloc(na + ns + nb + 1)) != NULL) {
		memcpy(r, a, na);
		memcpy(r + na, sep, ns);
		memcpy(r + na + ns, b, nb + 1);
	}
	return r;
}

static void
step(struct ks_atomicfile *af, const char *what)
{
	if (af->hook != NULL)
		af->hook(af->hook_arg, what);
}

static void
release(struct ks_atomicfile *af)
{
	if (af->lock_fd >= 0)
		close(af->lock_fd);	/* releases the lock */
	if (af->dir_fd >= 0)
		close(af->dir_fd);
	free(af->dir);
	free(af->name);
	free(af->tmp);
	free(af->lock);
	free(af->path);
	af->dir = af->name = af->tmp = af->lock = af->path = NULL;
	af->dir_fd = af->lock_fd = -1;
}

int
ks_atomicfile_open(struct ks_atomicfile *af, const char *dir,
    const char *name, char *errbuf, size_t errlen)
{
	int e;

	memset(af, 0, sizeof(*af));
	af->dir_fd = af->lock_fd = -1;
	if ((af->dir = strdup(dir)) == NULL ||
	    (af->tmp = joined(name, "", ".tmp")) == NULL ||
	    (af->lock = joined(name, "", ".lock")) == NULL ||
	    (af->path = joined(dir, "/", name)) == NULL ||
	    (af->name = strdup(name)) == NULL) {
		release(af);
		snprintf(errbuf, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	af->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (af->dir_fd < 0) {
		e = errno;
		snprintf(errbuf, errlen, "directory %s: %s", dir, strerror(e));
		release(af);
		errno = e;
		return -1;
	}
	return 0;
}

int
ks_atomicfile_lock(struct ks_atomicfile *af, long *holder, char *errbuf,
    size_t errlen)
{
	char text[32];
	ssize_t n;
	int len;

	*holder = 0;
	if (errlen > 0)
		errbuf[0] = '\0';
	af->lock_fd = openat(af->dir_fd, af->lock, O_RDWR | O_CREAT |
	    O_CLOEXEC, 0666);
	if (af->lock_fd < 0) {
		snprintf(errbuf, errlen, "opening lock file %s/%s: %s",
		    af->dir, af->lock, strerror(errno));
		return -1;
	}
	if (flock(af->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
		if (ftruncate(af->lock_fd, 0) < 0 ||
		    pwrite(af->lock_fd, text, (size_t)len, 0) != len)
			snprintf(errbuf, errlen, "cannot write the pid to "
			    "%s/%s: %s", af->dir, af->lock, strerror(errno));
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		snprintf(errbuf, errlen, "locking %s/%s: %s", af->dir,
		    af->lock, strerror(errno));
		close(af->lock_fd);
		af->lock_fd = -1;
		return -1;
	}
	n = pread(af->lock_fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	*holder = strtol(text, NULL, 10);
	if (*holder < 0)
		*holder = 0;
	if (*holder > 0)
		snprintf(errbuf, errlen, "%s/%s is locked by pid %ld", af->dir,
		    af->lock, *holder);
	else
		snprintf(errbuf, errlen, "%s/%s is locked by another process",
		    af->dir, af->lock);
	close(af->lock_fd);
	af->lock_fd = -1;
	return 1;
}

int
ks_atomicfile_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* NAME.tmp could not be made: removed; out of space or quota is worth a
 * retry, since nothing changed. */
static int
tmp_failed(struct ks_atomicfile *af, const char *doing, int e,
    char *errbuf, size_t errlen)
{
	unlinkat(af->dir_fd, af->tmp, 0);
	if (e == ENOSPC || e == EDQUOT) {
		snprintf(errbuf, errlen, "%s %s/%s: %s; retried once space is "
		    "freed", doing, af->dir, af->tmp, strerror(e));
		return KSINK_RETRY;
	}
	snprintf(errbuf, errlen, "%s %s/%s: %s", doing, af->dir, af->tmp,
	    strerror(e));
	return KSINK_FATAL;
}

int
ks_atomicfile_replace(struct ks_atomicfile *af, const void *data,
    size_t len, char *errbuf, size_t errlen)
{
	int fd, e;

	fd = openat(af->dir_fd, af->tmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0666);
	if (fd < 0)
		return tmp_failed(af, "creating", errno, errbuf, errlen);
	if (ks_atomicfile_write_all(fd, data, len) < 0) {
		e = errno;
		close(fd);
		return tmp_failed(af, "writing", e, errbuf, errlen);
	}
	/* After a failed fsync the kernel may have dropped the data and
	 * marked the pages clean: a second fsync could succeed and lie. */
	if (!af->nosync && fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlinkat(af->dir_fd, af->tmp, 0);
		snprintf(errbuf, errlen, "fsync of %s/%s: %s; the connector "
		    "stops (data the kernel failed to write may be lost)",
		    af->dir, af->tmp, strerror(e));
		return KSINK_FATAL;
	}
	if (close(fd) < 0) {
		e = errno;
		unlinkat(af->dir_fd, af->tmp, 0);
		snprintf(errbuf, errlen, "closing %s/%s: %s; the connector "
		    "stops", af->dir, af->tmp, strerror(e));
		return KSINK_FATAL;
	}
	step(af, "after_tmp");
	if (renameat(af->dir_fd, af->tmp, af->dir_fd, af->name) < 0) {
		e = errno;
		unlinkat(af->dir_fd, af->tmp, 0);
		snprintf(errbuf, errlen, "renaming %s/%s to %s: %s", af->dir,
		    af->tmp, af->path, strerror(e));
		return KSINK_FATAL;
	}
	step(af, "after_rename");
	step(af, "before_dir_fsync");
	if (!af->nosync && fsync(af->dir_fd) < 0) {
		snprintf(errbuf, errlen, "fsync of directory %s: %s; the "
		    "connector stops", af->dir, strerror(errno));
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

void
ks_atomicfile_close(struct ks_atomicfile *af)
{
	if (af->name == NULL)
		return;		/* zeroed, failed to open, or closed */
	release(af);
}
