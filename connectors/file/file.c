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

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ksink/sink.h"

#include "../lib/buf.h"
#include "../lib/envelope.h"
#include "../lib/err.h"

#define FILE_VERSION "1.0.0"
#define MANIFEST_MAGIC "ksink-file-manifest"
#define MANIFEST_VERSION 1
#define MANIFEST_MAX (64 * 1024 * 1024)

enum file_format { FMT_VALUE, FMT_JSON };

/* What a manifest is written from: the committed state, or the state of
 * the open step (after its data has been synced). */
enum mstate { M_COMMITTED, M_PENDING };

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

struct fbuf {
	char *data;
	size_t len, cap;
	struct fbuf *next; /* in the pool */
};

/* What the name of a closed file is made of: the topic of the file's
 * first record, the range of that topic's partitions in the file and the
 * first offset of the lowest of them. */
struct meta {
	const char *topic; /* interned; NULL when the file holds no record */
	int32_t pmin, pmax;
	int64_t minoff;
	int64_t opened_ms; /* when its first record was written */
};

/* One active data file. */
struct stream {
	char *name;       /* in the data directory */
	int fd;           /* -1 until opened */
	uint64_t clen;    /* committed length */
	uint64_t plen;    /* length including the open step */
	struct meta cmeta, pmeta;
	struct fbuf *buf; /* while touched */
	int touched;      /* written in the open step */
	int unsynced;     /* bytes written since the last fdatasync */
	int stale;        /* bytes past clen may be on disk */
	struct stream *tnext;
};

/* One partition and its next offsets. */
struct part {
	const char *topic; /* interned */
	int32_t partition;
	int64_t cnext; /* committed next offset, KSINK_OFFSET_NONE */
	int64_t pnext; /* including the open step */
	struct stream *stream;
};

struct topic {
	struct topic *next;
	char name[];
};

#ifdef KSINK_TEST_HOOKS
struct crash {
	const char *point;
	long nth;
	long hits;
};
#endif

struct sink {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;

	/* options */
	int format;
	int64_t rotate_bytes;
	int64_t rotate_ms;
	size_t bufsize;

	char *ddir;      /* directory of the data files */
	char *pattern;   /* file name pattern */
	size_t stem_len; /* of pattern; the rest is the extension */
	char *closed_pattern;
	char *mdir;      /* directory of the manifest */
	char *mname, *mtmp, *mlock; /* names in mdir */
	char *mpath;     /* full path, for messages */
	int ddir_fd, mdir_fd, lock_fd;
	int same_dir;
	int ddir_dirty; /* a data file was created since the last dir fsync */

	struct part **parts; /* sorted by topic, partition */
	size_t nparts, partcap;
	struct part *last;
	struct stream **streams; /* sorted by name */
	size_t nstreams, streamcap;
	struct topic *topics;

	struct stream *touched;
	struct fbuf *pool;
	int in_step;
	int64_t now_ms;

	struct ks_buf mtext; /* manifest text being built */
	struct ks_buf rec;   /* the envelope of the record being written */
	uint64_t sequence;

	int failed;
	char failmsg[512];

	uint64_t n_written, n_tombstones, n_fenced;
#ifdef KSINK_TEST_HOOKS
	struct crash crash;
#endif
};

/* ---------------------------------------------------------------------
 * Small helpers
 */

/* Records a fatal error: the sink refuses every later call with it. */
static int
fatal(struct sink *fs, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
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

static int
refuse_failed(struct sink *fs, char *errbuf, size_t errlen)
{
	ks_err_set(errbuf, errlen, "the connector stopped after an earlier "
	    "error: %s", fs->failmsg);
	return KSINK_FATAL;
}

static char *
xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
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

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of buf; returns 0, or -1 with errno set. */
static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A failed write: out of space or quota is worth a retry, anything else
 * stops the connector. */
static int
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

#ifdef KSINK_TEST_HOOKS
/* The fault hook of the crash tests, compiled only into the test build
 * of the plugin (tests/file/hooks/file.so, -DKSINK_TEST_HOOKS), never into
 * the installed one: KSINK_FILE_CRASH_AT=POINT[:N] kills
 * the process the Nth time it reaches POINT. */
static const char *const crash_points[] = {
	"after_write", "after_data_fsync", "after_tmp_manifest", "after_rename",
	"before_dir_fsync", "after_commit", "after_rotate_rename", NULL
};

static void
crash_init(struct sink *fs)
{
	const char *env = getenv("KSINK_FILE_CRASH_AT");
	size_t i, n;

	fs->crash.point = NULL;
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

static void
crash_point(struct sink *fs, const char *point)
{
	if (fs->crash.point == NULL || strcmp(fs->crash.point, point) != 0)
		return;
	if (++fs->crash.hits == fs->crash.nth)
		raise(SIGKILL);
}
#else
#define crash_init(fs)		((void)(fs))
#define crash_point(fs, point)	((void)(fs))
#endif

/* ---------------------------------------------------------------------
 * Names: the file name pattern, closed names, matching
 */

static int
is_topic_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Length of the placeholder at p, 0 if none; *kind gets its letter. */
static size_t
placeholder(const char *p, char *kind)
{
	static const struct {
		const char *text;
		char kind;
	} ph[] = {
		{ "{topic}", 't' }, { "{partition}", 'p' }, { "{range}", 'r' },
	};
	size_t i, n;

	for (i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
		n = strlen(ph[i].text);
		if (strncmp(p, ph[i].text, n) == 0) {
			*kind = ph[i].kind;
			return n;
		}
	}
	return 0;
}

/* The file name pattern with {topic} and {partition} replaced. */
static int
active_name(struct sink *fs, char *out, size_t outlen, const char *topic,
    int32_t partition)
{
	const char *pat = fs->pattern;
	size_t pos = 0, n;
	char kind;
	int w;

	while (*pat != '\0') {
		n = *pat == '{' ? placeholder(pat, &kind) : 0;
		if (n > 0 && kind == 't')
			w = snprintf(out + pos, outlen - pos, "%s", topic);
		else if (n > 0 && kind == 'p')
			w = snprintf(out + pos, outlen - pos, "%" PRId32,
			    partition);
		else {
			w = snprintf(out + pos, outlen - pos, "%c", *pat);
			n = 1;
		}
		if (w < 0 || (size_t)w >= outlen - pos)
			return -1;
		pos += (size_t)w;
		pat += n;
	}
	return pos > NAME_MAX ? -1 : 0;
}

/* STEM.TOPIC+RANGE+OFFSET.EXT: the active name with the topic of the
 * file's first record, the range of that topic's partitions in the file
 * and the first offset of the lowest of them inserted before the
 * extension (which has no placeholders). */
static int
closed_name(struct sink *fs, char *out, size_t outlen, const char *active,
    const struct meta *m)
{
	size_t extlen = strlen(fs->pattern) - fs->stem_len;
	size_t stemlen = strlen(active) - extlen;
	char range[32];
	int w;

	if (m->pmin == m->pmax)
		snprintf(range, sizeof(range), "%" PRId32, m->pmin);
	else
		snprintf(range, sizeof(range), "%" PRId32 "-%" PRId32, m->pmin,
		    m->pmax);
	w = snprintf(out, outlen, "%.*s.%s+%s+%019" PRId64 "%s", (int)stemlen,
	    active, m->topic, range, m->minoff, active + stemlen);
	if (w < 0 || (size_t)w >= outlen || w > NAME_MAX)
		return -1;
	return 0;
}

/* Whether name matches a pattern of literals, {topic}, {partition} and
 * {range}. */
static int
name_match(const char *p, const char *s)
{
	size_t n, k, len;
	char kind;

	while (*p != '\0') {
		len = *p == '{' ? placeholder(p, &kind) : 0;
		if (len == 0) {
			if (*p != *s)
				return 0;
			p++;
			s++;
			continue;
		}
		p += len;
		for (n = 0; s[n] != '\0'; n++) {
			if (kind == 't' && !is_topic_char((unsigned char)s[n]))
				break;
			if (kind == 'p' && !(s[n] >= '0' && s[n] <= '9'))
				break;
			if (kind == 'r' && !((s[n] >= '0' && s[n] <= '9') ||
			    s[n] == '-'))
				break;
		}
		for (k = n; k >= 1; k--)
			if (name_match(p, s + k))
				return 1;
		return 0;
	}
	return *s == '\0';
}

static int
is_manifest_name(struct sink *fs, const char *name)
{
	return fs->same_dir && (strcmp(name, fs->mname) == 0 ||
	    strcmp(name, fs->mtmp) == 0 || strcmp(name, fs->mlock) == 0);
}

/* Splits the file name pattern into stem and extension and checks its
 * placeholders. */
static int
parse_pattern(struct sink *fs, const char *path, char *errbuf, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *fname = slash ? slash + 1 : path;
	const char *p, *dot = NULL, *lastph = fname;
	size_t n;
	char kind;

	if (*fname == '\0' || strcmp(fname, ".") == 0 ||
	    strcmp(fname, "..") == 0) {
		ks_err_set(errbuf, errlen, "file.path = %s: names a directory, not "
		    "a file", path);
		return -1;
	}
	if (slash != NULL && memchr(path, '{', (size_t)(fname - path))) {
		ks_err_set(errbuf, errlen, "file.path = %s: {topic} and {partition} "
		    "may only appear in the file name, not in the directory",
		    path);
		return -1;
	}
	for (p = fname; *p != '\0'; p++) {
		if (*p == '.')
			dot = p;
		if (*p != '{')
			continue;
		n = placeholder(p, &kind);
		if (n == 0 || kind == 'r') {
			ks_err_set(errbuf, errlen, "file.path = %s: unknown "
			    "placeholder at \"%.20s\"; only {topic} and "
			    "{partition} are replaced", path, p);
			return -1;
		}
		p += n - 1;
		lastph = p + 1;
	}
	if (slash == NULL)
		fs->ddir = strdup(".");
	else if (slash == path)
		fs->ddir = strdup("/");
	else
		fs->ddir = strndup(path, (size_t)(slash - path));
	fs->pattern = strdup(fname);
	if (fs->ddir == NULL || fs->pattern == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	/* The extension is the last ".xxx" after every placeholder. */
	if (dot != NULL && dot > fname && dot >= lastph)
		fs->stem_len = (size_t)(dot - fname);
	else
		fs->stem_len = strlen(fname);
	fs->closed_pattern = xasprintf("%.*s.{topic}+{range}+{partition}%s",
	    (int)fs->stem_len, fs->pattern, fs->pattern + fs->stem_len);
	if (fs->closed_pattern == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Partitions, topics and streams
 */

static const char *
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
static size_t
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
static int
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
static struct part *
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

static int
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

static struct stream *
stream_find(struct sink *fs, const char *name)
{
	int found;
	size_t i = stream_pos(fs, name, &found);

	return found ? fs->streams[i] : NULL;
}

static struct stream *
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

static void
stream_free(struct stream *st)
{
	if (st->fd >= 0)
		close(st->fd);
	free(st->name);
	free(st);
}

static void
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

static void
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

static void
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

static int
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
static int
stream_flush(struct sink *fs, struct stream *st, char *errbuf, size_t errlen)
{
	char what[PATH_MAX];

	if (st->buf == NULL || st->buf->len == 0)
		return KSINK_OK;
	st->stale = 1;
	st->unsynced = 1;
	if (write_all(st->fd, st->buf->data, st->buf->len) < 0) {
		snprintf(what, sizeof(what), "%s/%s", fs->ddir, st->name);
		return write_failed(fs, what, errbuf, errlen);
	}
	st->buf->len = 0;
	return KSINK_OK;
}

/* Makes room for len bytes in a stream's buffer, marking it touched. */
static int
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

/* ---------------------------------------------------------------------
 * The manifest
 */

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xedb88320), the table
 * computed at compile time so that nothing is written at run time. */
static const uint32_t crc32_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau,
	0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u,
	0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u,
	0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu,
	0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
	0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u,
	0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
	0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u,
	0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u,
	0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
	0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du,
	0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au,
	0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u,
	0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
	0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u,
	0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau, 0xfcb9887cu,
	0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u,
	0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu,
	0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
	0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u,
	0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u,
	0x59b33d17u, 0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu,
	0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u,
	0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
	0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu,
	0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u,
	0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
	0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u,
	0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u,
	0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u,
	0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu,
	0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u,
	0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
	0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
	0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u,
	0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu,
	0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu,
	0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
	0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu,
	0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u,
	0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u,
	0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu,
	0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

static uint32_t
crc32_update(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *s = data;
	size_t i;

	crc = ~crc;
	for (i = 0; i < n; i++)
		crc = crc32_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int
mtext_printf(struct sink *fs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
mtext_printf(struct sink *fs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ks_buf_vaddf(&fs->mtext, fmt, ap);
	va_end(ap);
	return fs->mtext.oom ? -1 : 0;
}

/* Names are written with bytes below 0x21, 0x7f and '%' as %XX. */
static int
mtext_name(struct sink *fs, const char *s)
{
	const unsigned char *p;

	if (mtext_printf(fs, " ") < 0)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%') {
			if (mtext_printf(fs, "%%%02X", *p) < 0)
				return -1;
		} else if (mtext_printf(fs, "%c", *p) < 0)
			return -1;
	}
	return 0;
}

static int
unescape_name(char *s)
{
	char *r = s, *w = s;
	unsigned v;

	while (*r != '\0') {
		if (*r != '%') {
			*w++ = *r++;
			continue;
		}
		if (!isxdigit((unsigned char)r[1]) ||
		    !isxdigit((unsigned char)r[2]) ||
		    sscanf(r + 1, "%2x", &v) != 1 || v == 0)
			return -1;
		*w++ = (char)v;
		r += 3;
	}
	*w = '\0';
	return 0;
}

static int
build_manifest(struct sink *fs, int which, const struct stream *closing,
    const char *closed)
{
	const struct stream *st;
	const struct meta *m;
	const struct part *p;
	uint64_t len;
	int64_t next;
	size_t i;
	int rc = 0;

	ks_buf_reset(&fs->mtext);
	rc |= mtext_printf(fs, "%s %d\n", MANIFEST_MAGIC, MANIFEST_VERSION);
	rc |= mtext_printf(fs, "# ksink file sink manifest, see ksink-file(7);"
	    " replaced atomically, do not edit\n");
	rc |= mtext_printf(fs, "connector");
	rc |= mtext_name(fs, fs->host->connector_name(fs->ctx));
	rc |= mtext_printf(fs, "\npattern");
	rc |= mtext_name(fs, fs->pattern);
	rc |= mtext_printf(fs, "\nformat %s\nsequence %" PRIu64 "\n",
	    fs->format == FMT_JSON ? "json" : "value", fs->sequence + 1);
	for (i = 0; i < fs->nstreams; i++) {
		st = fs->streams[i];
		len = which == M_PENDING ? st->plen : st->clen;
		m = which == M_PENDING ? &st->pmeta : &st->cmeta;
		if (st == closing) {
			rc |= mtext_printf(fs, "close");
			rc |= mtext_name(fs, st->name);
			rc |= mtext_printf(fs, " %" PRIu64, len);
			rc |= mtext_name(fs, closed);
			rc |= mtext_printf(fs, "\n");
			continue;
		}
		rc |= mtext_printf(fs, "file");
		rc |= mtext_name(fs, st->name);
		if (m->topic == NULL || len == 0)
			rc |= mtext_printf(fs, " %" PRIu64 " - - - - -\n", len);
		else
			rc |= mtext_printf(fs, " %" PRIu64 " %s %" PRId32 " %"
			    PRId32 " %" PRId64 " %" PRId64 "\n", len, m->topic,
			    m->pmin, m->pmax, m->minoff, m->opened_ms);
	}
	for (i = 0; i < fs->nparts; i++) {
		p = fs->parts[i];
		next = which == M_PENDING ? p->pnext : p->cnext;
		if (next == KSINK_OFFSET_NONE)
			continue;
		rc |= mtext_printf(fs, "offset %s %" PRId32 " %" PRId64 "\n",
		    p->topic, p->partition, next);
	}
	if (rc != 0)
		return -1;
	return mtext_printf(fs, "crc32 %08" PRIx32 "\n",
	    crc32_update(0, fs->mtext.p, fs->mtext.len));
}

/* Replaces the manifest: temp file, fsync, rename, fsync of the
 * directory.  Any failure past the temp file's write is fatal. */
static int
manifest_write(struct sink *fs, int which, const struct stream *closing,
    const char *closed, char *errbuf, size_t errlen)
{
	char what[PATH_MAX];
	int fd, rc;

	if (build_manifest(fs, which, closing, closed) < 0)
		return fatal(fs, errbuf, errlen, "out of memory building the "
		    "manifest");
	snprintf(what, sizeof(what), "%s/%s", fs->mdir, fs->mtmp);
	fd = openat(fs->mdir_fd, fs->mtmp, O_WRONLY | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0666);
	if (fd < 0)
		return fatal(fs, errbuf, errlen, "creating %s: %s", what,
		    strerror(errno));
	if (write_all(fd, fs->mtext.p, fs->mtext.len) < 0) {
		rc = write_failed(fs, what, errbuf, errlen);
		close(fd);
		unlinkat(fs->mdir_fd, fs->mtmp, 0);
		return rc;
	}
	if (fsync(fd) < 0) {
		rc = fatal(fs, errbuf, errlen, "fsync of %s: %s; the connector "
		    "stops (data the kernel failed to write may be lost)", what,
		    strerror(errno));
		close(fd);
		return rc;
	}
	close(fd);
	crash_point(fs, "after_tmp_manifest");
	if (renameat(fs->mdir_fd, fs->mtmp, fs->mdir_fd, fs->mname) < 0)
		return fatal(fs, errbuf, errlen, "renaming %s to %s: %s", what,
		    fs->mpath, strerror(errno));
	crash_point(fs, "after_rename");
	crash_point(fs, "before_dir_fsync");
	if (fsync(fs->mdir_fd) < 0)
		return fatal(fs, errbuf, errlen, "fsync of directory %s: %s; "
		    "the connector stops", fs->mdir, strerror(errno));
	fs->sequence++;
	return KSINK_OK;
}

struct mfile {
	char *name;
	uint64_t len;
	struct meta meta;
	char *closed; /* a "close" line */
};

static int
parse_i64(const char *s, int64_t min, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return -1;
	*out = v;
	return 0;
}

/* Reads the manifest into the partition table and files[].  Returns 0,
 * 1 when it does not exist, or -1 with errbuf filled. */
static int
manifest_read(struct sink *fs, struct mfile **filesp, size_t *nfilesp,
    char *errbuf, size_t errlen)
{
	struct mfile *files = NULL, *mf;
	size_t nfiles = 0, ntok, lineno = 0;
	char *text = NULL, *line, *next, *tok[10], *crcline, *fmt = NULL;
	const char *topic, *why = NULL;
	struct stat sb;
	ssize_t n = 0;
	size_t off = 0;
	int64_t v[5];
	uint32_t crc;
	int fd, ok = 0, havepat = 0;

	*filesp = NULL;
	*nfilesp = 0;
	fd = openat(fs->mdir_fd, fs->mname, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		ks_err_set(errbuf, errlen, "cannot read manifest %s: %s", fs->mpath,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sb.st_size > MANIFEST_MAX ||
	    (text = malloc((size_t)sb.st_size + 1)) == NULL) {
		ks_err_set(errbuf, errlen, "manifest %s is too large (%jd bytes)",
		    fs->mpath, (intmax_t)sb.st_size);
		close(fd);
		return -1;
	}
	while (off < (size_t)sb.st_size) {
		n = read(fd, text + off, (size_t)sb.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	text[off] = '\0';
	if (off != (size_t)sb.st_size) {
		ks_err_set(errbuf, errlen, "cannot read manifest %s: %s", fs->mpath,
		    n < 0 ? strerror(errno) : "short read");
		goto out;
	}

	/* The last line is "crc32 X" over everything before it. */
	if (off == 0 || text[off - 1] != '\n') {
		why = "it is empty or its last line is incomplete";
		goto corrupt;
	}
	text[off - 1] = '\0';
	crcline = strrchr(text, '\n');
	crcline = crcline ? crcline + 1 : text;
	if (sscanf(crcline, "crc32 %8" SCNx32, &crc) != 1 ||
	    strlen(crcline) != 14) {
		why = "its last line is not a crc32 checksum";
		goto corrupt;
	}
	if (crc32_update(0, text, (size_t)(crcline - text)) != crc) {
		why = "its checksum does not match its contents";
		goto corrupt;
	}
	crcline[0] = '\0';

	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		lineno++;
		if (*line == '#' && lineno > 1)
			continue;
		for (ntok = 0; ntok < 10; ntok++) {
			if ((tok[ntok] = strsep(&line, " ")) == NULL)
				break;
		}
		if (lineno == 1) {
			if (ntok != 2 || strcmp(tok[0], MANIFEST_MAGIC) != 0) {
				why = "it does not start with " MANIFEST_MAGIC;
				goto corrupt;
			}
			if (strcmp(tok[1], "1") != 0) {
				ks_err_set(errbuf, errlen, "manifest %s has "
				    "version %s; this ksink reads version %d: "
				    "run the ksink that wrote it", fs->mpath,
				    tok[1], MANIFEST_VERSION);
				goto out;
			}
			continue;
		}
		if (strcmp(tok[0], "connector") == 0 && ntok == 2)
			continue;
		if (strcmp(tok[0], "sequence") == 0 && ntok == 2 &&
		    parse_i64(tok[1], 0, &v[0]) == 0) {
			fs->sequence = (uint64_t)v[0];
			continue;
		}
		if (strcmp(tok[0], "pattern") == 0 && ntok == 2 &&
		    unescape_name(tok[1]) == 0) {
			if (strcmp(tok[1], fs->pattern) != 0) {
				ks_err_set(errbuf, errlen, "manifest %s was written "
				    "for file names %s but file.path now gives "
				    "%s: restore file.path, or use a new "
				    "directory and manifest (the connector then "
				    "starts without stored offsets)", fs->mpath,
				    tok[1], fs->pattern);
				goto out;
			}
			havepat = 1;
			continue;
		}
		if (strcmp(tok[0], "format") == 0 && ntok == 2) {
			fmt = tok[1];
			if (strcmp(fmt, fs->format == FMT_JSON ? "json" :
			    "value") != 0) {
				ks_err_set(errbuf, errlen, "manifest %s was written "
				    "with file.format = %s, which is now %s: "
				    "restore file.format, or use a new directory "
				    "and manifest", fs->mpath, fmt,
				    fs->format == FMT_JSON ? "json" : "value");
				goto out;
			}
			continue;
		}
		if (strcmp(tok[0], "offset") == 0 && ntok == 4 &&
		    parse_i64(tok[2], 0, &v[0]) == 0 && v[0] <= INT32_MAX &&
		    parse_i64(tok[3], 0, &v[1]) == 0) {
			struct part *p = part_get(fs, tok[1], (int32_t)v[0]);

			if (p == NULL && errno == EINVAL)
				goto badline;
			if (p == NULL) {
				ks_err_set(errbuf, errlen, "out of memory");
				goto out;
			}
			p->cnext = p->pnext = v[1];
			continue;
		}
		if ((strcmp(tok[0], "file") == 0 && ntok == 8) ||
		    (strcmp(tok[0], "close") == 0 && ntok == 4)) {
			if (unescape_name(tok[1]) < 0 ||
			    parse_i64(tok[2], 0, &v[0]) < 0 ||
			    strchr(tok[1], '/') != NULL)
				goto badline;
			mf = realloc(files, (nfiles + 1) * sizeof(*files));
			if (mf == NULL) {
				ks_err_set(errbuf, errlen, "out of memory");
				goto out;
			}
			files = mf;
			mf = &files[nfiles++];
			memset(mf, 0, sizeof(*mf));
			mf->name = strdup(tok[1]);
			mf->len = (uint64_t)v[0];
			if (tok[0][0] == 'c') {
				if (unescape_name(tok[3]) < 0 ||
				    strchr(tok[3], '/') != NULL)
					goto badline;
				mf->closed = strdup(tok[3]);
				continue;
			}
			/* "- - - - -": no topic yet.  A topic may be named
			 * "-": the partition field tells them apart. */
			if (strcmp(tok[4], "-") == 0) {
				if (strcmp(tok[3], "-") != 0 || mf->len != 0)
					goto badline;
				continue;
			}
			if (parse_i64(tok[4], 0, &v[1]) < 0 ||
			    parse_i64(tok[5], 0, &v[2]) < 0 ||
			    parse_i64(tok[6], 0, &v[3]) < 0 ||
			    parse_i64(tok[7], INT64_MIN, &v[4]) < 0 ||
			    v[1] > INT32_MAX || v[2] > INT32_MAX ||
			    (topic = intern(fs, tok[3])) == NULL)
				goto badline;
			mf->meta.topic = topic;
			mf->meta.pmin = (int32_t)v[1];
			mf->meta.pmax = (int32_t)v[2];
			mf->meta.minoff = v[3];
			mf->meta.opened_ms = v[4];
			continue;
		}
		goto badline;
	}
	if (!havepat || fmt == NULL) {
		why = "it lacks the pattern or format line";
		goto corrupt;
	}
	ok = 1;
	goto out;

badline:
	ks_err_set(errbuf, errlen, "manifest %s line %zu is not understood; it "
	    "is corrupt or was edited.  ksink does not guess what was "
	    "committed: restore the manifest from a backup, or see RECOVERY "
	    "in ksink-file(7)", fs->mpath, lineno);
	goto out;
corrupt:
	ks_err_set(errbuf, errlen, "manifest %s is unreadable: %s.  ksink does not "
	    "guess what was committed: restore the manifest from a backup, or "
	    "see RECOVERY in ksink-file(7)", fs->mpath, why);
out:
	free(text);
	if (!ok) {
		while (nfiles > 0) {
			nfiles--;
			free(files[nfiles].name);
			free(files[nfiles].closed);
		}
		free(files);
		return -1;
	}
	*filesp = files;
	*nfilesp = nfiles;
	return 0;
}

/* ---------------------------------------------------------------------
 * Lock, recovery and open
 */

static int
take_lock(struct sink *fs, char *errbuf, size_t errlen)
{
	char text[32];
	ssize_t n;
	long pid;
	int len;

	fs->lock_fd = openat(fs->mdir_fd, fs->mlock, O_RDWR | O_CREAT |
	    O_CLOEXEC, 0666);
	if (fs->lock_fd < 0) {
		ks_err_set(errbuf, errlen, "opening lock file %s.lock: %s",
		    fs->mpath, strerror(errno));
		return -1;
	}
	if (flock(fs->lock_fd, LOCK_EX | LOCK_NB) == 0) {
		len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
		if (ftruncate(fs->lock_fd, 0) < 0 ||
		    pwrite(fs->lock_fd, text, (size_t)len, 0) != len)
			fs->host->log(fs->ctx, KSINK_LOG_WARN, "cannot write "
			    "the pid to %s.lock: %s", fs->mpath,
			    strerror(errno));
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		ks_err_set(errbuf, errlen, "locking %s.lock: %s", fs->mpath,
		    strerror(errno));
		return -1;
	}
	n = pread(fs->lock_fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	pid = strtol(text, NULL, 10);
	if (pid <= 0)
		ks_err_set(errbuf, errlen, "manifest %s is locked by another "
		    "process: another ksink connector writes these files; stop "
		    "it, or give this connector its own file.path and "
		    "file.manifest", fs->mpath);
	else if (pid == (long)getpid())
		ks_err_set(errbuf, errlen, "manifest %s is locked by another "
		    "connector of this ksink (pid %ld): two connectors cannot "
		    "share file.manifest; give each its own file.path", fs->mpath,
		    pid);
	else
		ks_err_set(errbuf, errlen, "manifest %s is locked by pid %ld: "
		    "another ksink writes these files; stop it, or give this "
		    "connector its own file.path and file.manifest", fs->mpath,
		    pid);
	close(fs->lock_fd);
	fs->lock_fd = -1;
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
			    de->d_name, fs->mpath);
			closedir(d);
			return -1;
		}
	}
	closedir(d);
	return 0;
}

static int
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
			    (intmax_t)sc.st_size, fs->mpath, mf->len);
			return -1;
		}
		return 0;
	}
	if (a && c) {
		ks_err_set(errbuf, errlen, "manifest %s records that %s/%s is being "
		    "closed as %s, but both files exist: one of them was "
		    "created outside ksink; move it away", fs->mpath, fs->ddir,
		    mf->name, mf->closed);
		return -1;
	}
	if (!a) {
		ks_err_set(errbuf, errlen, "manifest %s records that %s/%s is being "
		    "closed as %s, but neither exists: the files were moved "
		    "outside ksink; restore them", fs->mpath, fs->ddir,
		    mf->name, mf->closed);
		return -1;
	}
	if ((uint64_t)sa.st_size < mf->len) {
		ks_err_set(errbuf, errlen, "data file %s/%s has %jd bytes, manifest "
		    "%s says %" PRIu64 " were committed: it was truncated or "
		    "replaced outside ksink; restore it", fs->ddir, mf->name,
		    (intmax_t)sa.st_size, fs->mpath, mf->len);
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
			    "restore it", fs->ddir, st->name, fs->mpath,
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
		    st->name, (intmax_t)sb.st_size, fs->mpath, st->clen);
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

static int
recover(struct sink *fs, char *errbuf, size_t errlen)
{
	struct mfile *files;
	struct stream *st;
	size_t nfiles, i;
	int rc, rewrite = 0, ret = -1;

	rc = manifest_read(fs, &files, &nfiles, errbuf, errlen);
	if (rc < 0)
		return -1;
	unlinkat(fs->mdir_fd, fs->mtmp, 0);
	if (rc == 1) {
		if (check_no_data(fs, errbuf, errlen) < 0)
			return -1;
		if (manifest_write(fs, M_COMMITTED, NULL, NULL, errbuf,
		    errlen) != KSINK_OK)
			return -1;
		fs->host->log(fs->ctx, KSINK_LOG_INFO, "created manifest %s",
		    fs->mpath);
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
	if (fs->lock_fd >= 0)
		close(fs->lock_fd);
	if (fs->ddir_fd >= 0)
		close(fs->ddir_fd);
	if (fs->mdir_fd >= 0)
		close(fs->mdir_fd);
	free(fs->ddir);
	free(fs->pattern);
	free(fs->closed_pattern);
	free(fs->mdir);
	free(fs->mname);
	free(fs->mtmp);
	free(fs->mlock);
	free(fs->mpath);
	ks_buf_free(&fs->mtext);
	ks_buf_free(&fs->rec);
	free(fs);
}

static int
open_dir(const char *dir, const char *opt, char *errbuf, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		ks_err_set(errbuf, errlen, "%s: directory %s: %s; create it first",
		    opt, dir, strerror(errno));
	return fd;
}

/* The manifest's directory and names. */
static int
manifest_names(struct sink *fs, const char *opt, char *errbuf, size_t errlen)
{
	const char *cname = fs->host->connector_name(fs->ctx), *slash;
	char *safe;
	size_t i;

	if (opt != NULL && *opt != '\0') {
		slash = strrchr(opt, '/');
		if (slash != NULL && slash[1] == '\0') {
			ks_err_set(errbuf, errlen, "file.manifest = %s: names a "
			    "directory, not a file", opt);
			return -1;
		}
		if (slash == NULL)
			fs->mdir = strdup(".");
		else if (slash == opt)
			fs->mdir = strdup("/");
		else
			fs->mdir = strndup(opt, (size_t)(slash - opt));
		fs->mname = strdup(slash ? slash + 1 : opt);
	} else {
		if ((safe = strdup(cname)) == NULL)
			return -1;
		for (i = 0; safe[i] != '\0'; i++)
			if (!is_topic_char((unsigned char)safe[i]))
				safe[i] = '_';
		fs->mdir = strdup(fs->ddir);
		fs->mname = xasprintf("ksink-%s.manifest", safe);
		free(safe);
	}
	if (fs->mdir == NULL || fs->mname == NULL)
		return -1;
	fs->mtmp = xasprintf("%s.tmp", fs->mname);
	fs->mlock = xasprintf("%s.lock", fs->mname);
	fs->mpath = xasprintf("%s/%s", fs->mdir, fs->mname);
	if (fs->mtmp == NULL || fs->mlock == NULL || fs->mpath == NULL)
		return -1;
	return 0;
}

static int
file_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sinkp,
    char *errbuf, size_t errlen)
{
	struct sink *fs;
	struct stat sd, sm;
	const char *path, *fmt;

	*sinkp = NULL;
	if (host->struct_size < offsetof(struct ksink_host, connector_name) +
	    sizeof(host->connector_name)) {
		ks_err_set(errbuf, errlen, "the daemon's host interface is too old "
		    "for the file sink");
		return KSINK_FATAL;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	fs->host = host;
	fs->ctx = ctx;
	fs->ddir_fd = fs->mdir_fd = fs->lock_fd = -1;

	path = host->conf_str(ctx, "file.path");
	fmt = host->conf_str(ctx, "file.format");
	fs->format = fmt != NULL && strcmp(fmt, "json") == 0 ? FMT_JSON :
	    FMT_VALUE;
	fs->rotate_bytes = host->conf_int(ctx, "file.rotate.bytes");
	fs->rotate_ms = host->conf_int(ctx, "file.rotate.ms");
	fs->bufsize = (size_t)host->conf_int(ctx, "file.buffer.bytes");
	if (fs->bufsize < 4096)
		fs->bufsize = 4096;
	if (path == NULL || *path == '\0') {
		ks_err_set(errbuf, errlen, "file.path is required");
		fsink_free(fs);
		return KSINK_CONFIG;
	}
	if (parse_pattern(fs, path, errbuf, errlen) < 0 ||
	    manifest_names(fs, host->conf_str(ctx, "file.manifest"), errbuf,
	    errlen) < 0) {
		if (errbuf != NULL && *errbuf == '\0')
			ks_err_set(errbuf, errlen, "out of memory");
		fsink_free(fs);
		return KSINK_CONFIG;
	}
	if ((fs->ddir_fd = open_dir(fs->ddir, "file.path", errbuf,
	    errlen)) < 0 || (fs->mdir_fd = open_dir(fs->mdir, "file.manifest",
	    errbuf, errlen)) < 0) {
		fsink_free(fs);
		return KSINK_CONFIG;
	}
	if (fstat(fs->ddir_fd, &sd) == 0 && fstat(fs->mdir_fd, &sm) == 0 &&
	    sd.st_dev == sm.st_dev && sd.st_ino == sm.st_ino)
		fs->same_dir = 1;
	crash_init(fs);
	if (take_lock(fs, errbuf, errlen) < 0 ||
	    recover(fs, errbuf, errlen) < 0) {
		fsink_free(fs);
		return KSINK_FATAL;
	}
	host->log(ctx, KSINK_LOG_DEBUG, "file sink open: %s/%s, manifest %s, "
	    "%zu data files, %zu partitions", fs->ddir, fs->pattern, fs->mpath,
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
static int
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
	fs->now_ms = now_ms();
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
		fs->now_ms = now_ms();
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
	    "partition%s in %s", count, count == 1 ? "" : "s", fs->mpath);
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

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR,
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
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
