/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/file/streams.c - the sink's partitions (and their topics,
 * interned) and streams, the open data files, with their write buffers;
 * and the small helpers of every file (errors that stop the connector,
 * writes that retry after EINTR).
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
 * Small helpers
 */

/* Records a fatal error: the sink refuses every later call with it. */
int
fatal(struct sink *fs, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int
fatal(struct sink *fs, char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fs->failmsg, sizeof(fs->failmsg), fmt, ap);
	va_end(ap);
	fs->failed = 1;
	ks_err_set(errbuf, errlen, "%s", fs->failmsg);
	return KSINK_FATAL;
}

int
refuse_failed(struct sink *fs, char *errbuf, size_t errlen)
{
	ks_err_set(errbuf, errlen, "the connector stopped after an earlier "
	    "error: %s", fs->failmsg);
	return KSINK_FATAL;
}

char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

/* A failed write: out of space or quota is worth a retry, anything else
 * stops the connector. */
int
write_failed(struct sink *fs, const char *what, char *errbuf, size_t errlen)
{
	int e = errno;

	if (e == ENOSPC || e == EDQUOT) {
		ks_err_set(errbuf, errlen, "writing %s: %s; the batch will be "
		    "retried once space is freed", what, strerror(e));
		return KSINK_RETRY;
	}
	if (e == EFBIG)
		return fatal(fs, errbuf, errlen, "writing %s: %s; set "
		    "file.rotate.bytes below the file size limit", what,
		    strerror(e));
	return fatal(fs, errbuf, errlen, "writing %s: %s", what, strerror(e));
}


/* ---------------------------------------------------------------------
 * Partitions, topics and streams
 */

const char *
intern(struct sink *fs, const char *name)
{
	struct topic *t;
	size_t n;

	for (t = fs->topics; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t->name;
	n = strlen(name) + 1;
	if ((t = malloc(sizeof(*t) + n)) == NULL)
		return NULL;
	memcpy(t->name, name, n);
	t->next = fs->topics;
	fs->topics = t;
	return t->name;
}

static int
part_cmp(const char *topic, int32_t partition, const struct part *p)
{
	int c = strcmp(topic, p->topic);

	if (c != 0)
		return c;
	return partition < p->partition ? -1 : partition > p->partition;
}

/* Index of a partition in parts[], or where it would go. */
size_t
part_pos(struct sink *fs, const char *topic, int32_t partition, int *found)
{
	size_t lo = 0, hi = fs->nparts, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = part_cmp(topic, partition, fs->parts[mid]);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Kafka's topic names; anything else could not be part of a file name
 * nor of the manifest. */
int
valid_topic(const char *topic)
{
	const char *p;

	if (*topic == '\0' || strcmp(topic, ".") == 0 ||
	    strcmp(topic, "..") == 0 || strlen(topic) > 249)
		return 0;
	for (p = topic; *p != '\0'; p++)
		if (!is_topic_char((unsigned char)*p))
			return 0;
	return 1;
}

/* Finds, or adds, the state of a partition.  NULL with errno ENOMEM, or
 * EINVAL for a topic name Kafka would not allow. */
struct part *
part_get(struct sink *fs, const char *topic, int32_t partition)
{
	struct part *p = fs->last, **np;
	size_t lo;
	int found;

	if (p != NULL && p->partition == partition &&
	    strcmp(p->topic, topic) == 0)
		return p;
	lo = part_pos(fs, topic, partition, &found);
	if (found)
		return fs->last = fs->parts[lo];
	if (!valid_topic(topic) || partition < 0) {
		errno = EINVAL;
		return NULL;
	}
	if (fs->nparts == fs->partcap) {
		size_t cap = fs->partcap ? fs->partcap * 2 : 64;

		if ((np = realloc(fs->parts, cap * sizeof(*np))) == NULL)
			return NULL;
		fs->parts = np;
		fs->partcap = cap;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	if ((p->topic = intern(fs, topic)) == NULL) {
		errno = ENOMEM;
		free(p);
		return NULL;
	}
	p->partition = partition;
	p->cnext = p->pnext = KSINK_OFFSET_NONE;
	memmove(fs->parts + lo + 1, fs->parts + lo,
	    (fs->nparts - lo) * sizeof(*fs->parts));
	fs->parts[lo] = p;
	fs->nparts++;
	return fs->last = p;
}

int
part_failed(struct sink *fs, const char *topic, int32_t partition,
    char *errbuf, size_t errlen)
{
	if (errno == EINVAL)
		return fatal(fs, errbuf, errlen, "%s/%" PRId32 ": not a Kafka "
		    "topic name and partition, which file names and the "
		    "manifest are made of", topic, partition);
	return fatal(fs, errbuf, errlen, "out of memory");
}

static size_t
stream_pos(struct sink *fs, const char *name, int *found)
{
	size_t lo = 0, hi = fs->nstreams, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(name, fs->streams[mid]->name);
		if (c == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

struct stream *
stream_find(struct sink *fs, const char *name)
{
	int found;
	size_t i = stream_pos(fs, name, &found);

	return found ? fs->streams[i] : NULL;
}

struct stream *
stream_add(struct sink *fs, const char *name)
{
	struct stream *st, **ns;
	int found;
	size_t i = stream_pos(fs, name, &found);

	if (found)
		return fs->streams[i];
	if (fs->nstreams == fs->streamcap) {
		size_t cap = fs->streamcap ? fs->streamcap * 2 : 16;

		if ((ns = realloc(fs->streams, cap * sizeof(*ns))) == NULL)
			return NULL;
		fs->streams = ns;
		fs->streamcap = cap;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return NULL;
	if ((st->name = strdup(name)) == NULL) {
		free(st);
		return NULL;
	}
	st->fd = -1;
	memmove(fs->streams + i + 1, fs->streams + i,
	    (fs->nstreams - i) * sizeof(*fs->streams));
	fs->streams[i] = st;
	fs->nstreams++;
	return st;
}

void
stream_free(struct stream *st)
{
	if (st->fd >= 0)
		close(st->fd);
	free(st->name);
	free(st);
}

void
stream_remove(struct sink *fs, struct stream *st)
{
	int found;
	size_t i = stream_pos(fs, st->name, &found);

	if (!found)
		return;
	memmove(fs->streams + i, fs->streams + i + 1,
	    (fs->nstreams - i - 1) * sizeof(*fs->streams));
	fs->nstreams--;
	stream_free(st);
}

void
meta_add(struct meta *m, const char *topic, int32_t partition, int64_t offset,
    int64_t now)
{
	if (m->topic == NULL) {
		m->topic = topic;
		m->pmin = m->pmax = partition;
		m->minoff = offset;
		m->opened_ms = now;
		return;
	}
	if (m->topic != topic)
		return;
	if (partition < m->pmin) {
		m->pmin = partition;
		m->minoff = offset;
	}
	if (partition > m->pmax)
		m->pmax = partition;
}

/* ---------------------------------------------------------------------
 * Write buffers
 */

static struct fbuf *
buf_get(struct sink *fs)
{
	struct fbuf *b = fs->pool;

	if (b != NULL) {
		fs->pool = b->next;
		b->len = 0;
		return b;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL)
		return NULL;
	if ((b->data = malloc(fs->bufsize)) == NULL) {
		free(b);
		return NULL;
	}
	b->cap = fs->bufsize;
	return b;
}

void
buf_put(struct sink *fs, struct fbuf *b)
{
	char *d;

	if (b == NULL)
		return;
	if (b->cap > 4 * fs->bufsize &&
	    (d = realloc(b->data, fs->bufsize)) != NULL) {
		b->data = d;
		b->cap = fs->bufsize;
	}
	b->len = 0;
	b->next = fs->pool;
	fs->pool = b;
}

int
stream_open_fd(struct sink *fs, struct stream *st, int flags, char *errbuf,
    size_t errlen)
{
	if (st->fd >= 0)
		return 0;
	st->fd = openat(fs->ddir_fd, st->name,
	    O_WRONLY | O_APPEND | O_CLOEXEC | flags, 0666);
	if (st->fd < 0) {
		int e = errno;

		ks_err_set(errbuf, errlen, "opening data file %s/%s: %s", fs->ddir,
		    st->name, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/* Writes a stream's buffered bytes to its file. */
int
stream_flush(struct sink *fs, struct stream *st, char *errbuf, size_t errlen)
{
	char what[PATH_MAX];

	if (st->buf == NULL || st->buf->len == 0)
		return KSINK_OK;
	st->stale = 1;
	st->unsynced = 1;
	if (ks_atomicfile_write_all(st->fd, st->buf->data,
	    st->buf->len) < 0) {
		snprintf(what, sizeof(what), "%s/%s", fs->ddir, st->name);
		return write_failed(fs, what, errbuf, errlen);
	}
	st->buf->len = 0;
	return KSINK_OK;
}

/* Makes room for len bytes in a stream's buffer, marking it touched. */
int
stream_reserve(struct sink *fs, struct stream *st, size_t len, char *errbuf,
    size_t errlen)
{
	char *d;
	int rc;

	if (st->fd < 0 && stream_open_fd(fs, st, 0, errbuf, errlen) < 0)
		return fatal(fs, NULL, 0, "%s", errbuf);
	if (!st->touched) {
		st->touched = 1;
		st->tnext = fs->touched;
		fs->touched = st;
	}
	if (st->buf == NULL && (st->buf = buf_get(fs)) == NULL)
		return fatal(fs, errbuf, errlen, "out of memory");
	if (st->buf->len + len <= st->buf->cap)
		return KSINK_OK;
	if ((rc = stream_flush(fs, st, errbuf, errlen)) != KSINK_OK)
		return rc;
	if (len > st->buf->cap) {
		if ((d = realloc(st->buf->data, len)) == NULL)
			return fatal(fs, errbuf, errlen, "out of memory for a "
			    "record of %zu bytes", len);
		st->buf->data = d;
		st->buf->cap = len;
	}
	return KSINK_OK;
}
