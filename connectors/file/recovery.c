/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/file/recovery.c - what open() does before the first batch:
 * the lock, and recovery from the manifest (data files cut back to their
 * committed length, an interrupted rotation finished).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include "file.h"

/* ---------------------------------------------------------------------
 * Lock, recovery and open
 */

int
take_lock(struct sink *fs, char *errbuf, size_t errlen)
{
	char msg[512];
	long pid;

	switch (ks_atomicfile_lock(&fs->mf, &pid, msg, sizeof(msg))) {
	case 0:
		if (msg[0] != '\0')
			fs->host->log(fs->ctx, KSINK_LOG_WARN, "%s", msg);
		return 0;
	case 1:
		break;
	default:
		ks_err_set(errbuf, errlen, "%s", msg);
		return -1;
	}
	if (pid <= 0)
		ks_err_set(errbuf, errlen, "manifest %s is locked by another "
		    "process: another ksink connector writes these files; stop "
		    "it, or give this connector its own file.path and "
		    "file.manifest", fs->mf.path);
	else if (pid == (long)getpid())
		ks_err_set(errbuf, errlen, "manifest %s is locked by another "
		    "connector of this ksink (pid %ld): two connectors cannot "
		    "share file.manifest; give each its own file.path",
		    fs->mf.path, pid);
	else
		ks_err_set(errbuf, errlen, "manifest %s is locked by pid %ld: "
		    "another ksink writes these files; stop it, or give this "
		    "connector its own file.path and file.manifest",
		    fs->mf.path, pid);
	return -1;
}

/* No manifest: refuse when data files exist, since nothing says which
 * of their records were committed. */
static int
check_no_data(struct sink *fs, char *errbuf, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(fs->ddir_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (d = fdopendir(fd)) == NULL) {
		ks_err_set(errbuf, errlen, "listing %s: %s", fs->ddir,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' && (de->d_name[1] == '\0' ||
		    (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		if (is_manifest_name(fs, de->d_name))
			continue;
		if (name_match(fs->pattern, de->d_name) ||
		    name_match(fs->closed_pattern, de->d_name)) {
			ks_err_set(errbuf, errlen, "data file %s/%s exists but its "
			    "manifest %s does not, so nothing tells which "
			    "records it holds.  If file.manifest or the "
			    "connector's name changed, restore it; otherwise "
			    "move the data files away (the connector then "
			    "starts without stored offsets)", fs->ddir,
			    de->d_name, fs->mf.path);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

int
fstat_name(int dirfd, const char *name, struct stat *sb, int *exists)
{
	if (fstatat(dirfd, name, sb, AT_SYMLINK_NOFOLLOW) == 0) {
		*exists = 1;
		return 0;
	}
	*exists = 0;
	return errno == ENOENT ? 0 : -1;
}

/* Finishes a rotation the manifest records as started: the active file
 * holds len committed bytes and becomes closed. */
static int
finish_close(struct sink *fs, const struct mfile *mf, char *errbuf,
    size_t errlen)
{
	struct stat sa, sc;
	int a, c, fd;

	if (fstat_name(fs->ddir_fd, mf->name, &sa, &a) < 0 ||
	    fstat_name(fs->ddir_fd, mf->closed, &sc, &c) < 0) {
		ks_err_set(errbuf, errlen, "checking %s/%s: %s", fs->ddir, mf->name,
		    strerror(errno));
		return -1;
	}
	if (!a && c) {
		if ((uint64_t)sc.st_size != mf->len) {
			ks_err_set(errbuf, errlen, "closed file %s/%s has %jd bytes, "
			    "manifest %s says %" PRIu64 ": it was changed "
			    "outside ksink", fs->ddir, mf->closed,
			    (intmax_t)sc.st_size, fs->mf.path, mf->len);
			return -1;
		}
		return 0;
	}
	if (a && c) {
		ks_err_set(errbuf, errlen, "manifest %s records that %s/%s is being "
		    "closed as %s, but both files exist: one of them was "
		    "created outside ksink; move it away", fs->mf.path, fs->ddir,
		    mf->name, mf->closed);
		return -1;
	}
	if (!a) {
		ks_err_set(errbuf, errlen, "manifest %s records that %s/%s is being "
		    "closed as %s, but neither exists: the files were moved "
		    "outside ksink; restore them", fs->mf.path, fs->ddir,
		    mf->name, mf->closed);
		return -1;
	}
	if ((uint64_t)sa.st_size < mf->len) {
		ks_err_set(errbuf, errlen, "data file %s/%s has %jd bytes, manifest "
		    "%s says %" PRIu64 " were committed: it was truncated or "
		    "replaced outside ksink; restore it", fs->ddir, mf->name,
		    (intmax_t)sa.st_size, fs->mf.path, mf->len);
		return -1;
	}
	if ((fd = openat(fs->ddir_fd, mf->name, O_WRONLY | O_CLOEXEC)) < 0 ||
	    ftruncate(fd, (off_t)mf->len) < 0 || fdatasync(fd) < 0) {
		ks_err_set(errbuf, errlen, "truncating %s/%s: %s", fs->ddir,
		    mf->name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (renameat(fs->ddir_fd, mf->name, fs->ddir_fd, mf->closed) < 0 ||
	    fsync(fs->ddir_fd) < 0) {
		ks_err_set(errbuf, errlen, "renaming %s/%s to %s: %s", fs->ddir,
		    mf->name, mf->closed, strerror(errno));
		return -1;
	}
	fs->host->log(fs->ctx, KSINK_LOG_INFO, "finished the interrupted "
	    "rotation of %s/%s to %s (%" PRIu64 " bytes)", fs->ddir, mf->name,
	    mf->closed, mf->len);
	return 0;
}

/* Truncates an active file to its committed length. */
static int
recover_file(struct sink *fs, struct stream *st, char *errbuf,
    size_t errlen)
{
	struct stat sb;
	int created = 0;

	if (stream_open_fd(fs, st, 0, errbuf, errlen) < 0) {
		if (errno != ENOENT)
			return -1;
		if (st->clen > 0) {
			ks_err_set(errbuf, errlen, "data file %s/%s is missing, but "
			    "manifest %s says %" PRIu64 " bytes were committed "
			    "to it: it was moved or deleted outside ksink; "
			    "restore it", fs->ddir, st->name, fs->mf.path,
			    st->clen);
			return -1;
		}
		if (stream_open_fd(fs, st, O_CREAT | O_EXCL, errbuf,
		    errlen) < 0)
			return -1;
		created = 1;
	}
	if (fstat(st->fd, &sb) < 0) {
		ks_err_set(errbuf, errlen, "stat of %s/%s: %s", fs->ddir, st->name,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		ks_err_set(errbuf, errlen, "%s/%s is not a regular file", fs->ddir,
		    st->name);
		return -1;
	}
	if ((uint64_t)sb.st_size < st->clen) {
		ks_err_set(errbuf, errlen, "data file %s/%s has %jd bytes, but "
		    "manifest %s says %" PRIu64 " were committed: it was "
		    "truncated or replaced outside ksink; restore it", fs->ddir,
		    st->name, (intmax_t)sb.st_size, fs->mf.path, st->clen);
		return -1;
	}
	if ((uint64_t)sb.st_size > st->clen) {
		if (ftruncate(st->fd, (off_t)st->clen) < 0 ||
		    fdatasync(st->fd) < 0) {
			ks_err_set(errbuf, errlen, "truncating %s/%s to %" PRIu64
			    " bytes: %s", fs->ddir, st->name, st->clen,
			    strerror(errno));
			return -1;
		}
		fs->host->log(fs->ctx, KSINK_LOG_INFO, "%s/%s: discarded %jd "
		    "bytes past the committed length %" PRIu64 " (an "
		    "interrupted batch; its records are read again)", fs->ddir,
		    st->name, (intmax_t)(sb.st_size - (off_t)st->clen),
		    st->clen);
	}
	if (created)
		fs->ddir_dirty = 1;
	return 0;
}

int
recover(struct sink *fs, char *errbuf, size_t errlen)
{
	struct mfile *files;
	struct stream *st;
	size_t nfiles, i;
	int rc, rewrite = 0, ret = -1;

	rc = manifest_read(fs, &files, &nfiles, errbuf, errlen);
	if (rc < 0)
		return -1;
	unlinkat(fs->mf.dir_fd, fs->mf.tmp, 0);
	if (rc == 1) {
		if (check_no_data(fs, errbuf, errlen) < 0)
			return -1;
		if (manifest_write(fs, M_COMMITTED, NULL, NULL, errbuf,
		    errlen) != KSINK_OK)
			return -1;
		fs->host->log(fs->ctx, KSINK_LOG_INFO, "created manifest %s",
		    fs->mf.path);
		return 0;
	}
	for (i = 0; i < nfiles; i++) {
		if ((st = stream_add(fs, files[i].name)) == NULL) {
			ks_err_set(errbuf, errlen, "out of memory");
			goto out;
		}
		if (files[i].closed != NULL) {
			if (finish_close(fs, &files[i], errbuf, errlen) < 0)
				goto out;
			rewrite = 1;
			continue;
		}
		st->clen = st->plen = files[i].len;
		st->cmeta = st->pmeta = files[i].meta;
	}
	for (i = 0; i < fs->nstreams; i++)
		if (recover_file(fs, fs->streams[i], errbuf, errlen) < 0)
			goto out;
	if (fs->ddir_dirty) {
		if (fsync(fs->ddir_fd) < 0) {
			ks_err_set(errbuf, errlen, "fsync of directory %s: %s",
			    fs->ddir, strerror(errno));
			goto out;
		}
		fs->ddir_dirty = 0;
	}
	if (rewrite && manifest_write(fs, M_COMMITTED, NULL, NULL, errbuf,
	    errlen) != KSINK_OK)
		goto out;
	ret = 0;
out:
	for (i = 0; i < nfiles; i++) {
		free(files[i].name);
		free(files[i].closed);
	}
	free(files);
	return ret;
}
