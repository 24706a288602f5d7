/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/file/file.c - the file sink.
 *
 * Appends records to data files and keeps them exactly-once with a
 * manifest: the committed length of every data file and the next offset
 * of every partition, replaced atomically after the data is on disk.
 *
 *   commit:   write the buffered data, fdatasync each touched file,
 *             write MANIFEST.tmp, fsync it, rename it over MANIFEST,
 *             fsync the directory.
 *   recovery: truncate each data file to its committed length, finish an
 *             interrupted rotation, resume from the manifest's offsets.
 *
 * A data file is listed in the manifest before it is created, so that a
 * data file the manifest does not know about is never ours.  A rotation
 * commits everything written so far with a "close" line naming the final
 * name, renames, then writes a manifest in which the active file starts
 * empty; recovery can finish it from the manifest alone.
 *
 * See ksink-file(7).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include "file.h"

static const struct ksink_option options[] = {
	{
		.name = "file.path",
		.type = KSINK_OPT_PATH,
		.flags = KSINK_OPT_REQUIRED,
		.doc = "The active data file.  The file name (not the directory) "
		    "may contain {topic} and {partition}, which are replaced by "
		    "the record's topic and partition to give one file per topic "
		    "or per partition; without them all records of the connector "
		    "go to one file.  The directory must exist.  Closed files "
		    "(see file.rotate.bytes) are renamed beside it.",
	},
	{
		.name = "file.format",
		.type = KSINK_OPT_ENUM,
		.def = "value",
		.values = "value|json",
		.doc = "value writes each record's value followed by a newline "
		    "and skips tombstones (they are counted).  json writes one "
		    "record envelope per line (ksink-record(7)): the record's "
		    "topic, partition, offset, timestamp, key, value and "
		    "headers; a tombstone's value is null.",
	},
	{
		.name = "file.manifest",
		.type = KSINK_OPT_PATH,
		.doc = "The manifest: committed length of each data file and next "
		    "offset of each partition.  Default: ksink-NAME.manifest in "
		    "the directory of file.path, where NAME is the connector's "
		    "name.  The lock file is the same path with .lock appended.",
	},
	{
		.name = "file.rotate.bytes",
		.type = KSINK_OPT_INT,
		.def = "0",
		.min = 0,
		.max = INT64_MAX,
		.doc = "Close the active file and start a new one before a record "
		    "would make it larger than this many bytes (a single larger "
		    "record gets a file of its own).  0 never rotates by size.",
	},
	{
		.name = "file.rotate.ms",
		.type = KSINK_OPT_INT,
		.def = "0",
		.min = 0,
		.max = INT64_MAX,
		.doc = "Close the active file once its first record was written "
		    "this many milliseconds ago.  Checked when a batch starts "
		    "and for each record, so a connector that receives nothing "
		    "keeps its files open.  0 never rotates by age.",
	},
	{
		.name = "file.buffer.bytes",
		.type = KSINK_OPT_INT,
		.def = "131072",
		.min = 4096,
		.max = 1073741824,
		.doc = "Size of the write buffer of each data file that a batch "
		    "touches.  A record larger than the buffer grows it.",
	},
	{ .name = NULL }
};

#ifdef KSINK_TEST_HOOKS
/* The fault hook of the crash tests, compiled only into the test build
 * of the plugin (tests/file/hooks/file.so, -DKSINK_TEST_HOOKS), never into
 * the installed one: KSINK_FILE_CRASH_AT=POINT[:N] kills
 * the process the Nth time it reaches POINT. */
static const char *const crash_points[] = {
	"after_write", "after_data_fsync", "after_tmp_manifest", "after_rename",
	"before_dir_fsync", "after_commit", "after_rotate_rename", NULL
};

/* The steps of ks_atomicfile_replace() writing the manifest. */
static void
manifest_step(void *arg, const char *step)
{
	crash_point(arg, strcmp(step, "after_tmp") == 0 ?
	    "after_tmp_manifest" : step);
}

void
crash_init(struct sink *fs)
{
	const char *env = getenv("KSINK_FILE_CRASH_AT");
	size_t i, n;

	fs->crash.point = NULL;
	fs->mf.hook = manifest_step;
	fs->mf.hook_arg = fs;
	if (env == NULL || *env == '\0')
		return;
	n = strcspn(env, ":");
	for (i = 0; crash_points[i] != NULL; i++)
		if (strlen(crash_points[i]) == n &&
		    strncmp(crash_points[i], env, n) == 0)
			fs->crash.point = crash_points[i];
	fs->crash.nth = env[n] == ':' ? strtol(env + n + 1, NULL, 10) : 1;
	fs->crash.hits = 0;
	if (fs->crash.point == NULL)
		fs->host->log(fs->ctx, KSINK_LOG_WARN, "unknown crash point "
		    "in KSINK_FILE_CRASH_AT=%s", env);
}

void
crash_point(struct sink *fs, const char *point)
{
	if (fs->crash.point == NULL || strcmp(fs->crash.point, point) != 0)
		return;
	if (++fs->crash.hits == fs->crash.nth)
		raise(SIGKILL);
}
#endif

static void
fsink_free(struct sink *fs)
{
	struct topic *t;
	struct fbuf *b;
	size_t i;

	for (i = 0; i < fs->nstreams; i++) {
		buf_put(fs, fs->streams[i]->buf);
		stream_free(fs->streams[i]);
	}
	free(fs->streams);
	for (i = 0; i < fs->nparts; i++)
		free(fs->parts[i]);
	free(fs->parts);
	while ((t = fs->topics) != NULL) {
		fs->topics = t->next;
		free(t);
	}
	while ((b = fs->pool) != NULL) {
		fs->pool = b->next;
		free(b->data);
		free(b);
	}
	ks_atomicfile_close(&fs->mf);	/* releases the lock */
	if (fs->ddir_fd >= 0)
		close(fs->ddir_fd);
	free(fs->ddir);
	free(fs->pattern);
	free(fs->closed_pattern);
	ks_buf_free(&fs->mtext);
	ks_buf_free(&fs->rec);
	free(fs);
}

static void
dir_error(const char *dir, const char *opt, int e, char *errbuf,
    size_t errlen)
{
	ks_err_set(errbuf, errlen, "%s: directory %s: %s; create it first",
	    opt, dir, strerror(e));
}

/* Whether the directory dir (of option opt) exists. */
static int
check_dir(const char *dir, const char *opt, char *errbuf, size_t errlen)
{
	struct stat sb;

	if (stat(dir, &sb) < 0) {
		dir_error(dir, opt, errno, errbuf, errlen);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		dir_error(dir, opt, ENOTDIR, errbuf, errlen);
		return -1;
	}
	return 0;
}

static int
open_dir(const char *dir, const char *opt, char *errbuf, size_t errlen)
{
	int fd;

	if (check_dir(dir, opt, errbuf, errlen) < 0)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		dir_error(dir, opt, errno, errbuf, errlen);
	return fd;
}

/* file.path: set, and a pattern of file names (fs->ddir, fs->pattern). */
static int
conf_path(struct sink *fs, const char *path, char *errbuf, size_t errlen)
{
	if (path == NULL || *path == '\0') {
		ks_err_set(errbuf, errlen, "file.path is required");
		return -1;
	}
	return parse_pattern(fs, path, errbuf, errlen);
}

static struct sink *
fsink_new(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	struct sink *fs;

	if ((fs = calloc(1, sizeof(*fs))) == NULL)
		return NULL;
	fs->host = host;
	fs->ctx = ctx;
	fs->ddir_fd = fs->mf.dir_fd = fs->mf.lock_fd = -1;
	return fs;
}

/* The manifest's directory and name, allocated. */
static int
manifest_names(struct sink *fs, const char *opt, char **dirp, char **namep,
    char *errbuf, size_t errlen)
{
	const char *cname = fs->host->connector_name(fs->ctx), *slash;
	char *safe, *dir = NULL, *name = NULL;
	size_t i;

	if (opt != NULL && *opt != '\0') {
		slash = strrchr(opt, '/');
		if (slash != NULL && slash[1] == '\0') {
			ks_err_set(errbuf, errlen, "file.manifest = %s: names a "
			    "directory, not a file", opt);
			return -1;
		}
		if (slash == NULL)
			dir = strdup(".");
		else if (slash == opt)
			dir = strdup("/");
		else
			dir = strndup(opt, (size_t)(slash - opt));
		name = strdup(slash ? slash + 1 : opt);
	} else {
		if ((safe = strdup(cname)) == NULL)
			return -1;
		for (i = 0; safe[i] != '\0'; i++)
			if (!is_topic_char((unsigned char)safe[i]))
				safe[i] = '_';
		dir = strdup(fs->ddir);
		name = xasprintf("ksink-%s.manifest", safe);
		free(safe);
	}
	if (dir == NULL || name == NULL) {
		free(dir);
		free(name);
		return -1;
	}
	*dirp = dir;
	*namep = name;
	return 0;
}

static int
file_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sinkp,
    char *errbuf, size_t errlen)
{
	struct sink *fs;
	struct stat sd, sm;
	const char *path, *fmt;
	char *mdir = NULL, *mname = NULL;
	int e;

	*sinkp = NULL;
	if (host->struct_size < offsetof(struct ksink_host, connector_name) +
	    sizeof(host->connector_name)) {
		ks_err_set(errbuf, errlen, "the daemon's host interface is too old "
		    "for the file sink");
		return KSINK_FATAL;
	}
	if ((fs = fsink_new(host, ctx)) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}

	path = host->conf_str(ctx, "file.path");
	fmt = host->conf_str(ctx, "file.format");
	fs->format = fmt != NULL && strcmp(fmt, "json") == 0 ? FMT_JSON :
	    FMT_VALUE;
	fs->rotate_bytes = host->conf_int(ctx, "file.rotate.bytes");
	fs->rotate_ms = host->conf_int(ctx, "file.rotate.ms");
	fs->bufsize = (size_t)host->conf_int(ctx, "file.buffer.bytes");
	if (fs->bufsize < 4096)
		fs->bufsize = 4096;
	if (conf_path(fs, path, errbuf, errlen) < 0 ||
	    manifest_names(fs, host->conf_str(ctx, "file.manifest"), &mdir,
	    &mname, errbuf, errlen) < 0) {
		if (errbuf != NULL && *errbuf == '\0')
			ks_err_set(errbuf, errlen, "out of memory");
		fsink_free(fs);
		return KSINK_CONFIG;
	}
	if ((fs->ddir_fd = open_dir(fs->ddir, "file.path", errbuf,
	    errlen)) < 0 || check_dir(mdir, "file.manifest", errbuf,
	    errlen) < 0) {
		free(mdir);
		free(mname);
		fsink_free(fs);
		return KSINK_CONFIG;
	}
	if (ks_atomicfile_open(&fs->mf, mdir, mname, errbuf, errlen) < 0) {
		e = errno;
		if (e != ENOMEM)
			ks_err_append(errbuf, errlen, " (file.manifest)");
		free(mdir);
		free(mname);
		fsink_free(fs);
		return e == ENOMEM ? KSINK_FATAL : KSINK_CONFIG;
	}
	free(mdir);
	free(mname);
	if (fstat(fs->ddir_fd, &sd) == 0 && fstat(fs->mf.dir_fd, &sm) == 0 &&
	    sd.st_dev == sm.st_dev && sd.st_ino == sm.st_ino)
		fs->same_dir = 1;
	crash_init(fs);
	if (take_lock(fs, errbuf, errlen) < 0 ||
	    recover(fs, errbuf, errlen) < 0) {
		fsink_free(fs);
		return KSINK_FATAL;
	}
	host->log(ctx, KSINK_LOG_DEBUG, "file sink open: %s/%s, manifest %s, "
	    "%zu data files, %zu partitions", fs->ddir, fs->pattern, fs->mf.path,
	    fs->nstreams, fs->nparts);
	*sinkp = fs;
	return KSINK_OK;
}

/* ---------------------------------------------------------------------
 * The atomic step
 */

/* Commits the open step: data, then the manifest.  closing/closed add a
 * "close" line for a rotation. */
static int
checkpoint(struct sink *fs, const struct stream *closing, const char *closed,
    char *errbuf, size_t errlen)
{
	struct stream *st;
	char what[PATH_MAX];
	size_t i;
	int rc;

	for (st = fs->touched; st != NULL; st = st->tnext)
		if ((rc = stream_flush(fs, st, errbuf, errlen)) != KSINK_OK)
			return rc;
	crash_point(fs, "after_write");
	for (st = fs->touched; st != NULL; st = st->tnext) {
		if (!st->unsynced)
			continue;
		if (fdatasync(st->fd) < 0) {
			snprintf(what, sizeof(what), "%s/%s", fs->ddir, st->name);
			return fatal(fs, errbuf, errlen, "fsync of %s: %s; the "
			    "connector stops (the kernel may have dropped the "
			    "data; recovery truncates to the last commit)", what,
			    strerror(errno));
		}
		st->unsynced = 0;
	}
	if (fs->ddir_dirty) {
		if (fsync(fs->ddir_fd) < 0)
			return fatal(fs, errbuf, errlen, "fsync of directory %s:"
			    " %s; the connector stops", fs->ddir,
			    strerror(errno));
		fs->ddir_dirty = 0;
	}
	crash_point(fs, "after_data_fsync");
	if ((rc = manifest_write(fs, M_PENDING, closing, closed, errbuf,
	    errlen)) != KSINK_OK)
		return rc;
	while ((st = fs->touched) != NULL) {
		fs->touched = st->tnext;
		st->clen = st->plen;
		st->cmeta = st->pmeta;
		st->touched = st->stale = 0;
		buf_put(fs, st->buf);
		st->buf = NULL;
	}
	for (i = 0; i < fs->nparts; i++)
		fs->parts[i]->cnext = fs->parts[i]->pnext;
	crash_point(fs, "after_commit");
	return KSINK_OK;
}

/* Closes a stream's active file under its final name and starts an
 * empty one.  Commits what the open step wrote so far. */
int
rotate(struct sink *fs, struct stream *st, char *errbuf, size_t errlen)
{
	char closed[NAME_MAX + 1];
	struct stat sb;
	uint64_t len;
	int exists, rc;

	if (closed_name(fs, closed, sizeof(closed), st->name, &st->pmeta) < 0)
		return fatal(fs, errbuf, errlen, "closed file name for %s/%s "
		    "is too long", fs->ddir, st->name);
	if (fstat_name(fs->ddir_fd, closed, &sb, &exists) < 0 || exists)
		return fatal(fs, errbuf, errlen, "cannot close %s/%s as %s: %s",
		    fs->ddir, st->name, closed, exists ? "that file already "
		    "exists (created outside ksink?); move it away" :
		    strerror(errno));
	if ((rc = checkpoint(fs, st, closed, errbuf, errlen)) != KSINK_OK)
		return rc;
	len = st->clen;
	if (renameat(fs->ddir_fd, st->name, fs->ddir_fd, closed) < 0)
		return fatal(fs, errbuf, errlen, "renaming %s/%s to %s: %s",
		    fs->ddir, st->name, closed, strerror(errno));
	crash_point(fs, "after_rotate_rename");
	if (fsync(fs->ddir_fd) < 0)
		return fatal(fs, errbuf, errlen, "fsync of directory %s: %s; "
		    "the connector stops", fs->ddir, strerror(errno));
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	st->clen = st->plen = 0;
	memset(&st->cmeta, 0, sizeof(st->cmeta));
	memset(&st->pmeta, 0, sizeof(st->pmeta));
	/* Past the rename a retry could not tell the new active file from
	 * the old one: any failure stops the connector, and recovery
	 * finishes the rotation from the manifest. */
	if ((rc = manifest_write(fs, M_COMMITTED, NULL, NULL, errbuf,
	    errlen)) != KSINK_OK)
		return rc == KSINK_FATAL ? rc : fatal(fs, NULL, 0, "%s", errbuf);
	if (stream_open_fd(fs, st, O_CREAT | O_EXCL, errbuf, errlen) < 0)
		return fatal(fs, NULL, 0, "%s", errbuf);
	fs->ddir_dirty = 1;
	fs->host->log(fs->ctx, KSINK_LOG_INFO, "closed %s/%s as %s (%" PRIu64
	    " bytes)", fs->ddir, st->name, closed, len);
	return KSINK_OK;
}

static int
needs_rotation(struct sink *fs, const struct stream *st, size_t len)
{
	if (st->plen == 0)
		return 0;
	if (fs->rotate_bytes > 0 &&
	    st->plen + len > (uint64_t)fs->rotate_bytes)
		return 1;
	return fs->rotate_ms > 0 && st->pmeta.topic != NULL &&
	    fs->now_ms - st->pmeta.opened_ms >= fs->rotate_ms;
}

/* Binds a partition to its active file; a file the manifest does not
 * list yet is listed before it is created. */
static int
attach(struct sink *fs, struct part *p, char *errbuf, size_t errlen)
{
	char name[NAME_MAX + 1];
	struct stream *st;
	struct stat sb;
	int exists, rc;

	if (active_name(fs, name, sizeof(name), p->topic, p->partition) < 0)
		return fatal(fs, errbuf, errlen, "file name for %s/%" PRId32
		    " is too long", p->topic, p->partition);
	if ((st = stream_find(fs, name)) != NULL) {
		p->stream = st;
		return KSINK_OK;
	}
	if (is_manifest_name(fs, name))
		return fatal(fs, errbuf, errlen, "records of %s/%" PRId32
		    " would be written to %s/%s, the manifest's own file: "
		    "change file.path or file.manifest", p->topic, p->partition,
		    fs->ddir, name);
	if (fstat_name(fs->ddir_fd, name, &sb, &exists) < 0 || exists)
		return fatal(fs, errbuf, errlen, "data file %s/%s %s", fs->ddir,
		    name, exists ? "exists but manifest does not list it: ksink "
		    "does not append to a file it did not write; move it away" :
		    strerror(errno));
	if ((st = stream_add(fs, name)) == NULL)
		return fatal(fs, errbuf, errlen, "out of memory");
	if ((rc = manifest_write(fs, M_COMMITTED, NULL, NULL, errbuf,
	    errlen)) != KSINK_OK) {
		stream_remove(fs, st);
		return rc;
	}
	if (stream_open_fd(fs, st, O_CREAT | O_EXCL, errbuf, errlen) < 0)
		return fatal(fs, NULL, 0, "%s", errbuf);
	fs->ddir_dirty = 1;
	p->stream = st;
	fs->host->log(fs->ctx, KSINK_LOG_DEBUG, "started data file %s/%s",
	    fs->ddir, name);
	return KSINK_OK;
}

static int
file_load_offsets(void *sink, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *fs = sink;
	size_t i, pos;
	int found;

	for (i = 0; i < count; i++) {
		pos = part_pos(fs, offsets[i].topic, offsets[i].partition,
		    &found);
		offsets[i].next_offset = found ? fs->parts[pos]->cnext :
		    KSINK_OFFSET_NONE;
	}
	return KSINK_OK;
}

static void file_abort(void *sink);

static int
file_begin(void *sink, char *errbuf, size_t errlen)
{
	struct sink *fs = sink;
	struct stream *st;
	size_t i;
	int rc;

	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	if (fs->in_step)
		file_abort(fs);
	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	fs->in_step = 1;
	fs->now_ms = ks_clock_wall_ms();
	if (fs->rotate_ms <= 0)
		return KSINK_OK;
	for (i = 0; i < fs->nstreams; i++) {
		st = fs->streams[i];
		if (st->clen == 0 ||
		    fs->now_ms - st->cmeta.opened_ms < fs->rotate_ms)
			continue;
		if ((rc = rotate(fs, st, errbuf, errlen)) != KSINK_OK)
			return rc;
	}
	return KSINK_OK;
}

static int
file_write(void *sink, const struct ksink_record *records, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct sink *fs = sink;
	const struct ksink_record *r;
	struct stream *st;
	struct part *p;
	char *out;
	size_t i, len;
	int rc;

	*n_done = 0;
	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	if (!fs->in_step) {
		ks_err_set(errbuf, errlen, "write() outside begin()/commit()");
		return KSINK_FATAL;
	}
	if (fs->rotate_ms > 0)
		fs->now_ms = ks_clock_wall_ms();
	for (i = 0; i < count; i++, *n_done = i) {
		r = &records[i];
		if ((p = part_get(fs, r->topic, r->partition)) == NULL)
			return part_failed(fs, r->topic, r->partition, errbuf,
			    errlen);
		if (p->pnext != KSINK_OFFSET_NONE && r->offset < p->pnext) {
			/* Already in the file: a replay, or a zombie. */
			fs->n_fenced++;
			continue;
		}
		if (r->value == NULL && fs->format == FMT_VALUE) {
			if (fs->n_tombstones++ == 0)
				fs->host->log(fs->ctx, KSINK_LOG_INFO,
				    "tombstone at %s/%" PRId32 "@%" PRId64
				    " skipped: file.format = value cannot "
				    "represent it (later ones are counted)",
				    r->topic, r->partition, r->offset);
			p->pnext = r->offset + 1;
			continue;
		}
		if (p->stream == NULL &&
		    (rc = attach(fs, p, errbuf, errlen)) != KSINK_OK)
			return rc;
		st = p->stream;
		if (fs->format == FMT_VALUE)
			len = r->value_len + 1;
		else {
			ks_buf_reset(&fs->rec);
			ks_envelope_add(&fs->rec, r);
			ks_buf_addc(&fs->rec, '\n');
			if (fs->rec.oom)
				return fatal(fs, errbuf, errlen, "out of memory "
				    "for the envelope of %s/%" PRId32 "@%" PRId64,
				    r->topic, r->partition, r->offset);
			len = fs->rec.len;
		}
		if (needs_rotation(fs, st, len) &&
		    (rc = rotate(fs, st, errbuf, errlen)) != KSINK_OK)
			return rc;
		if ((rc = stream_reserve(fs, st, len, errbuf, errlen)) !=
		    KSINK_OK)
			return rc;
		out = st->buf->data + st->buf->len;
		if (fs->format == FMT_VALUE) {
			if (r->value_len > 0)
				memcpy(out, r->value, r->value_len);
			out[r->value_len] = '\n';
		} else
			memcpy(out, fs->rec.p, len);
		st->buf->len += len;
		st->plen += len;
		meta_add(&st->pmeta, p->topic, r->partition, r->offset,
		    fs->now_ms);
		p->pnext = r->offset + 1;
		fs->n_written++;
	}
	/* The envelope of a record far larger than the others is not
	 * kept. */
	if (fs->rec.cap > 4 * fs->bufsize)
		ks_buf_free(&fs->rec);
	return KSINK_OK;
}

static int
file_commit(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *fs = sink;
	struct part *p;
	size_t i;
	int rc;

	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	if (!fs->in_step) {
		ks_err_set(errbuf, errlen, "commit() outside begin()");
		return KSINK_FATAL;
	}
	for (i = 0; i < count; i++) {
		if (offsets[i].next_offset == KSINK_OFFSET_NONE)
			continue;
		if ((p = part_get(fs, offsets[i].topic,
		    offsets[i].partition)) == NULL)
			return part_failed(fs, offsets[i].topic,
			    offsets[i].partition, errbuf, errlen);
		if (p->pnext == KSINK_OFFSET_NONE ||
		    offsets[i].next_offset > p->pnext)
			p->pnext = offsets[i].next_offset;
	}
	if ((rc = checkpoint(fs, NULL, NULL, errbuf, errlen)) != KSINK_OK)
		return rc;
	fs->in_step = 0;
	return KSINK_OK;
}

static void
file_abort(void *sink)
{
	struct sink *fs = sink;
	struct stream *st;
	size_t i;

	while ((st = fs->touched) != NULL) {
		fs->touched = st->tnext;
		buf_put(fs, st->buf);
		st->buf = NULL;
		st->plen = st->clen;
		st->pmeta = st->cmeta;
		st->touched = st->unsynced = 0;
		/* After a fatal error the batch's data stays: the manifest
		 * may already say it was committed (a failed fsync of the
		 * directory after the rename), and the next open truncates
		 * whatever the manifest it finds does not cover. */
		if (fs->failed)
			continue;
		if (st->stale && ftruncate(st->fd, (off_t)st->clen) < 0) {
			fatal(fs, NULL, 0, "truncating %s/%s back to %" PRIu64
			    " bytes after an aborted batch: %s", fs->ddir,
			    st->name, st->clen, strerror(errno));
			continue;
		}
		st->stale = 0;
	}
	for (i = 0; i < fs->nparts; i++)
		fs->parts[i]->pnext = fs->parts[i]->cnext;
	fs->in_step = 0;
}

/*
 * `ksink offsets --reset`, while no worker runs the connector: replaces
 * the partitions' next offsets in one manifest write (temp file, fsync,
 * rename, directory fsync, as a commit), lowering them if need be;
 * KSINK_OFFSET_NONE drops a partition from the manifest.  The data files
 * are not touched: after a reset backwards the records from the new
 * offset on are appended again after what the files already hold.
 */
static int
file_reset_offsets(void *sink, const struct ksink_offset *offsets,
    size_t count, char *errbuf, size_t errlen)
{
	struct sink *fs = sink;
	struct part *p;
	size_t i, pos;
	int found, rc;

	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	if (fs->in_step) {
		ks_err_set(errbuf, errlen, "reset_offsets() inside "
		    "begin()/commit()");
		return KSINK_FATAL;
	}
	for (i = 0; i < count; i++) {
		if (!valid_topic(offsets[i].topic) || offsets[i].partition < 0 ||
		    (offsets[i].next_offset < 0 &&
		    offsets[i].next_offset != KSINK_OFFSET_NONE)) {
			ks_err_set(errbuf, errlen, "%s/%" PRId32 " offset %" PRId64
			    ": not a Kafka partition and offset",
			    offsets[i].topic, offsets[i].partition,
			    offsets[i].next_offset);
			return KSINK_FATAL;
		}
	}
	for (i = 0; i < count; i++) {
		if (offsets[i].next_offset == KSINK_OFFSET_NONE) {
			pos = part_pos(fs, offsets[i].topic,
			    offsets[i].partition, &found);
			if (found)
				fs->parts[pos]->pnext = KSINK_OFFSET_NONE;
			continue;
		}
		if ((p = part_get(fs, offsets[i].topic,
		    offsets[i].partition)) == NULL) {
			for (pos = 0; pos < fs->nparts; pos++)
				fs->parts[pos]->pnext = fs->parts[pos]->cnext;
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		p->pnext = offsets[i].next_offset;
	}
	/* Nothing else is pending: the manifest of the pending state is the
	 * committed one with these offsets replaced. */
	if ((rc = manifest_write(fs, M_PENDING, NULL, NULL, errbuf,
	    errlen)) != KSINK_OK) {
		for (pos = 0; pos < fs->nparts; pos++)
			fs->parts[pos]->pnext = fs->parts[pos]->cnext;
		return rc;
	}
	for (pos = 0; pos < fs->nparts; pos++)
		fs->parts[pos]->cnext = fs->parts[pos]->pnext;
	fs->host->log(fs->ctx, KSINK_LOG_INFO, "reset the offsets of %zu "
	    "partition%s in %s", count, count == 1 ? "" : "s", fs->mf.path);
	return KSINK_OK;
}

static void
file_close(void *sink)
{
	struct sink *fs = sink;

	if (fs == NULL)
		return;
	if (fs->in_step)
		file_abort(fs);
	fs->host->log(fs->ctx, KSINK_LOG_INFO, "file sink closed: %" PRIu64
	    " records written, %" PRIu64 " tombstones skipped, %" PRIu64
	    " records already written skipped", fs->n_written,
	    fs->n_tombstones, fs->n_fenced);
	fsink_free(fs);
}

/*
 * Finds without side effects what open() would refuse in the options:
 * file.path and file.manifest as names, and whether their directories
 * exist (stat(); nothing is opened).  The manifest itself is read by
 * open(): a damaged one is not a configuration error.
 */
static int
file_check(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	const char *man = host->conf_str(ctx, "file.manifest");
	struct sink *fs;
	char err[1024], *mdir = NULL, *mname = NULL;
	int bad = 0;

	if (!KSINK_HOST_HAS(host, report) || host->report == NULL)
		return KSINK_OK;
	if ((fs = fsink_new(host, ctx)) == NULL)
		return KSINK_OK; /* out of memory: open() tells */
	err[0] = '\0';
	if (conf_path(fs, host->conf_str(ctx, "file.path"), err,
	    sizeof(err)) < 0 || check_dir(fs->ddir, "file.path", err,
	    sizeof(err)) < 0) {
		if (err[0] != '\0') {
			ks_err_report(host, ctx, "file.path", err);
			bad = 1;
		}
	}
	if (man != NULL && *man != '\0') {
		err[0] = '\0';
		if (manifest_names(fs, man, &mdir, &mname, err,
		    sizeof(err)) < 0 || check_dir(mdir, "file.manifest", err,
		    sizeof(err)) < 0) {
			if (err[0] != '\0') {
				ks_err_report(host, ctx, "file.manifest", err);
				bad = 1;
			}
		}
		free(mdir);
		free(mname);
	}
	fsink_free(fs);
	return bad ? KSINK_CONFIG : KSINK_OK;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 2,		/* the lowest with check */
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "file",
	.version = FILE_VERSION,
	.description = "exactly-once into local files, crash-consistent",
	.options = options,
	.open = file_open,
	.load_offsets = file_load_offsets,
	.begin = file_begin,
	.write = file_write,
	.commit = file_commit,
	.abort = file_abort,
	.close = file_close,
	.reset_offsets = file_reset_offsets,
	.check = file_check,
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
