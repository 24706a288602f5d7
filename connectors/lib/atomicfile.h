/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/atomicfile.h - a file a sink replaces whole at every
 * commit (a state file, a manifest), atomically and durably: the new
 * contents go to NAME.tmp, which is fsynced and renamed over NAME, and
 * then the directory is fsynced.  An exclusive flock(2) on NAME.lock,
 * which holds the pid of its owner, keeps a second process away.
 *
 * It needs nothing but the C library and <ksink/sink.h> (its return
 * codes): ksink-plugins(7) shows it, built with the null sink.
 */
#ifndef KS_ATOMICFILE_H
#define KS_ATOMICFILE_H

#include <stddef.h>

struct ks_atomicfile {
	char *dir;		/* the directory, as given */
	char *name;		/* the file, in dir */
	char *tmp;		/* NAME.tmp, in dir: the next version */
	char *lock;		/* NAME.lock, in dir */
	char *path;		/* dir/name, for messages */
	int dir_fd;		/* the directory; -1 when not open */
	int lock_fd;		/* NAME.lock; -1 while not locked */
	int nosync;		/* no fsync at all (the caller's choice) */
	/*
	 * The crash tests' hook, NULL otherwise: called with "after_tmp"
	 * (NAME.tmp written and synced), "after_rename" and then
	 * "before_dir_fsync" (NAME replaced, the directory not synced yet).
	 */
	void (*hook)(void *arg, const char *step);
	void *hook_arg;
};

/*
 * Opens the directory dir, for the file name in it.  Returns 0, or -1
 * with errbuf filled (errno kept); af is then as if closed.  Nothing is
 * created yet.
 */
int	ks_atomicfile_open(struct ks_atomicfile *af, const char *dir,
	    const char *name, char *errbuf, size_t errlen);

/*
 * Takes the exclusive lock on NAME.lock, creating it, and writes the
 * pid of this process into it.  Returns 0 when locked (errbuf is then
 * empty, or holds a warning to log: the pid could not be written); 1
 * when another open file description holds the lock, *holder set to the
 * pid it wrote (0 when unknown; this process's own pid when another
 * connector of this process holds it), errbuf filled; -1 with errbuf
 * filled on any other error.  ks_atomicfile_close() releases it.
 */
int	ks_atomicfile_lock(struct ks_atomicfile *af, long *holder,
	    char *errbuf, size_t errlen);

/*
 * Replaces the file with the len bytes of data: writes NAME.tmp, fsyncs
 * it, renames it over NAME and fsyncs the directory (no fsync when
 * af->nosync).  Returns KSINK_OK; KSINK_RETRY when NAME.tmp could not
 * be created or written for want of space or quota (NAME is unchanged);
 * KSINK_FATAL on any other failure, with errbuf filled.  A failed fsync
 * is always fatal: after one the kernel may have dropped the data, and
 * a retry could not tell.  After a failure past the rename, NAME may be
 * the old version or the new one.
 */
int	ks_atomicfile_replace(struct ks_atomicfile *af, const void *data,
	    size_t len, char *errbuf, size_t errlen);

/* Writes the len bytes of buf to fd, through short writes and EINTR.
 * Returns 0, or -1 with errno set. */
int	ks_atomicfile_write_all(int fd, const void *buf, size_t len);

/* Releases the lock, closes the directory and frees the names; af may
 * be zeroed, failed to open, or already closed. */
void	ks_atomicfile_close(struct ks_atomicfile *af);

#endif
