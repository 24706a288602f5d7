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

#define FILE_VERSION "1.0.0"
#define MANIFEST_MAGIC "ksink-file-manifest"
#define MANIFEST_VERSION 1
#define MANIFEST_MAX (64 * 1024 * 1024)
#define JSON_MAX_DEPTH 512

enum file_format { FMT_VALUE, FMT_JSON };

/* What a manifest is written from: the committed state, or the state of
 * the open step (after its data has been synced). */
enum mstate { M_COMMITTED, M_PENDING };

/* How a key, value or header value is written in json format. */
enum jkind { JK_NULL, JK_JSON, JK_STRING, JK_BASE64 };

static const struct ksink_option file_options[] = {
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
		    "JSON object per line with the record's topic, partition, "
		    "offset, timestamp, key, value and headers; a tombstone's "
		    "value is null.",
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

struct crash {
	const char *point;
	long nth;
	long hits;
};

struct fsink {
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

	char *mtext; /* manifest text being built */
	size_t mlen, mcap;
	uint64_t sequence;

	int failed;
	char failmsg[512];

	uint64_t n_written, n_tombstones, n_fenced;
	struct crash crash;
};

/* ---------------------------------------------------------------------
 * Small helpers
 */

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

/* Records a fatal error: the sink refuses every later call with it. */
static int
fatal(struct fsink *fs, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
fatal(struct fsink *fs, char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(fs->failmsg, sizeof(fs->failmsg), fmt, ap);
	va_end(ap);
	fs->failed = 1;
	seterr(errbuf, errlen, "%s", fs->failmsg);
	return KSINK_FATAL;
}

static int
refuse_failed(struct fsink *fs, char *errbuf, size_t errlen)
{
	seterr(errbuf, errlen, "the connector stopped after an earlier "
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
write_failed(struct fsink *fs, const char *what, char *errbuf, size_t errlen)
{
	int e = errno;

	if (e == ENOSPC || e == EDQUOT) {
		seterr(errbuf, errlen, "writing %s: %s; the batch will be "
		    "retried once space is freed", what, strerror(e));
		return KSINK_RETRY;
	}
	if (e == EFBIG)
		return fatal(fs, errbuf, errlen, "writing %s: %s; set "
		    "file.rotate.bytes below the file size limit", what,
		    strerror(e));
	return fatal(fs, errbuf, errlen, "writing %s: %s", what, strerror(e));
}

/* The fault hook of the crash tests: KSINK_FILE_CRASH_AT=POINT[:N] kills
 * the process the Nth time it reaches POINT. */
static const char *const crash_points[] = {
	"after_write", "after_data_fsync", "after_tmp_manifest", "after_rename",
	"before_dir_fsync", "after_commit", "after_rotate_rename", NULL
};

static void
crash_init(struct fsink *fs)
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
crash_point(struct fsink *fs, const char *point)
{
	if (fs->crash.point == NULL || strcmp(fs->crash.point, point) != 0)
		return;
	if (++fs->crash.hits == fs->crash.nth)
		raise(SIGKILL);
}

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
active_name(struct fsink *fs, char *out, size_t outlen, const char *topic,
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
closed_name(struct fsink *fs, char *out, size_t outlen, const char *active,
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
is_manifest_name(struct fsink *fs, const char *name)
{
	return fs->same_dir && (strcmp(name, fs->mname) == 0 ||
	    strcmp(name, fs->mtmp) == 0 || strcmp(name, fs->mlock) == 0);
}

/* Splits the file name pattern into stem and extension and checks its
 * placeholders. */
static int
parse_pattern(struct fsink *fs, const char *path, char *errbuf, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *fname = slash ? slash + 1 : path;
	const char *p, *dot = NULL, *lastph = fname;
	size_t n;
	char kind;

	if (*fname == '\0' || strcmp(fname, ".") == 0 ||
	    strcmp(fname, "..") == 0) {
		seterr(errbuf, errlen, "file.path = %s: names a directory, not "
		    "a file", path);
		return -1;
	}
	if (slash != NULL && memchr(path, '{', (size_t)(fname - path))) {
		seterr(errbuf, errlen, "file.path = %s: {topic} and {partition} "
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
			seterr(errbuf, errlen, "file.path = %s: unknown "
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
		seterr(errbuf, errlen, "out of memory");
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
		seterr(errbuf, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------------------------
 * Partitions, topics and streams
 */

static const char *
intern(struct fsink *fs, const char *name)
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
part_pos(struct fsink *fs, const char *topic, int32_t partition, int *found)
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
part_get(struct fsink *fs, const char *topic, int32_t partition)
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
part_failed(struct fsink *fs, const char *topic, int32_t partition,
    char *errbuf, size_t errlen)
{
	if (errno == EINVAL)
		return fatal(fs, errbuf, errlen, "%s/%" PRId32 ": not a Kafka "
		    "topic name and partition, which file names and the "
		    "manifest are made of", topic, partition);
	return fatal(fs, errbuf, errlen, "out of memory");
}

static size_t
stream_pos(struct fsink *fs, const char *name, int *found)
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
stream_find(struct fsink *fs, const char *name)
{
	int found;
	size_t i = stream_pos(fs, name, &found);

	return found ? fs->streams[i] : NULL;
}

static struct stream *
stream_add(struct fsink *fs, const char *name)
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
stream_remove(struct fsink *fs, struct stream *st)
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
buf_get(struct fsink *fs)
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
buf_put(struct fsink *fs, struct fbuf *b)
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
stream_open_fd(struct fsink *fs, struct stream *st, int flags, char *errbuf,
    size_t errlen)
{
	if (st->fd >= 0)
		return 0;
	st->fd = openat(fs->ddir_fd, st->name,
	    O_WRONLY | O_APPEND | O_CLOEXEC | flags, 0666);
	if (st->fd < 0) {
		int e = errno;

		seterr(errbuf, errlen, "opening data file %s/%s: %s", fs->ddir,
		    st->name, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/* Writes a stream's buffered bytes to its file. */
static int
stream_flush(struct fsink *fs, struct stream *st, char *errbuf, size_t errlen)
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
stream_reserve(struct fsink *fs, struct stream *st, size_t len, char *errbuf,
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
 * Record encoding.  Every encoder runs twice: with e->p == NULL it only
 * counts, so that a record's exact size is known before it is placed.
 */

struct emit {
	char *p;
	size_t n;
};

static inline void
emit_mem(struct emit *e, const void *src, size_t len)
{
	if (e->p != NULL && len > 0)
		memcpy(e->p + e->n, src, len);
	e->n += len;
}

static inline void
emit_ch(struct emit *e, char c)
{
	if (e->p != NULL)
		e->p[e->n] = c;
	e->n++;
}

#define emit_lit(e, s) emit_mem((e), (s), sizeof(s) - 1)

static void
emit_i64(struct emit *e, int64_t v)
{
	char tmp[24], *q = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--q = '-';
	emit_mem(e, q, (size_t)(tmp + sizeof(tmp) - q));
}

/* Length of the valid UTF-8 sequence at s, 0 if it is not one. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_len(s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* A JSON string; invalid UTF-8 becomes U+FFFD. */
static void
emit_jstr(struct emit *e, const void *data, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = data;
	size_t i = 0, run = 0, k;
	unsigned char c;
	char esc[6];

	emit_ch(e, '"');
	while (i < n) {
		c = s[i];
		if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0x80 && (k = utf8_len(s + i, n - i)) > 0) {
			i += k;
			continue;
		}
		emit_mem(e, s + run, i - run);
		if (c >= 0x80)
			emit_lit(e, "\\ufffd");
		else if (c == '"')
			emit_lit(e, "\\\"");
		else if (c == '\\')
			emit_lit(e, "\\\\");
		else if (c == '\n')
			emit_lit(e, "\\n");
		else if (c == '\r')
			emit_lit(e, "\\r");
		else if (c == '\t')
			emit_lit(e, "\\t");
		else if (c == '\b')
			emit_lit(e, "\\b");
		else if (c == '\f')
			emit_lit(e, "\\f");
		else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			emit_mem(e, esc, 6);
		}
		i++;
		run = i;
	}
	emit_mem(e, s + run, n - run);
	emit_ch(e, '"');
}

static void
emit_base64(struct emit *e, const void *data, size_t n)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = data;
	size_t i;
	char q[4];

	emit_ch(e, '"');
	if (e->p == NULL) {
		e->n += (n + 2) / 3 * 4 + 1;
		return;
	}
	for (i = 0; i + 2 < n; i += 3) {
		q[0] = b64[s[i] >> 2];
		q[1] = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		q[2] = b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		q[3] = b64[s[i + 2] & 63];
		emit_mem(e, q, 4);
	}
	if (i < n) {
		q[0] = b64[s[i] >> 2];
		if (i + 1 < n) {
			q[1] = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			q[2] = b64[(s[i + 1] & 15) << 2];
		} else {
			q[1] = b64[(s[i] & 3) << 4];
			q[2] = '=';
		}
		q[3] = '=';
		emit_mem(e, q, 4);
	}
	emit_ch(e, '"');
}

/* Embeds valid JSON text; its line breaks (whitespace only, since JSON
 * strings cannot hold raw control characters) become spaces so that the
 * record stays on one line. */
static void
emit_json_raw(struct emit *e, const void *data, size_t n)
{
	const char *s = data, *end = s + n, *q;

	if (e->p == NULL) {
		e->n += n;
		return;
	}
	while (s < end) {
		for (q = s; q < end && *q != '\n' && *q != '\r'; q++)
			;
		emit_mem(e, s, (size_t)(q - s));
		if (q < end)
			emit_ch(e, ' ');
		s = q + 1;
	}
}

/* A strict RFC 8259 validator. */
struct jv {
	const unsigned char *p, *end;
	int depth;
};

static void
jv_ws(struct jv *v)
{
	while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' ||
	    *v->p == '\n' || *v->p == '\r'))
		v->p++;
}

static int
jv_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

static int
jv_string(struct jv *v)
{
	size_t k;
	int i;

	v->p++; /* the opening quote */
	while (v->p < v->end) {
		unsigned char c = *v->p;

		if (c == '"') {
			v->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++v->p >= v->end)
				return 0;
			c = *v->p++;
			if (c == 'u') {
				for (i = 0; i < 4; i++, v->p++)
					if (v->p >= v->end || !jv_hex(*v->p))
						return 0;
			} else if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
				return 0;
			continue;
		}
		if (c >= 0x80) {
			if ((k = utf8_len(v->p, (size_t)(v->end - v->p))) == 0)
				return 0;
			v->p += k;
			continue;
		}
		v->p++;
	}
	return 0;
}

static int
jv_digits(struct jv *v)
{
	const unsigned char *start = v->p;

	while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
		v->p++;
	return v->p > start;
}

static int
jv_number(struct jv *v)
{
	if (*v->p == '-')
		v->p++;
	if (v->p >= v->end)
		return 0;
	if (*v->p == '0')
		v->p++;
	else if (!jv_digits(v))
		return 0;
	if (v->p < v->end && *v->p == '.') {
		v->p++;
		if (!jv_digits(v))
			return 0;
	}
	if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
		v->p++;
		if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
			v->p++;
		if (!jv_digits(v))
			return 0;
	}
	return 1;
}

static int
jv_word(struct jv *v, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(v->end - v->p) < n || memcmp(v->p, w, n) != 0)
		return 0;
	v->p += n;
	return 1;
}

static int jv_value(struct jv *v);

static int
jv_container(struct jv *v, int close)
{
	int ok = 0;

	if (++v->depth > JSON_MAX_DEPTH)
		return 0;
	v->p++;
	jv_ws(v);
	if (v->p < v->end && *v->p == close) {
		v->p++;
		v->depth--;
		return 1;
	}
	for (;;) {
		if (close == '}') {
			if (v->p >= v->end || *v->p != '"' || !jv_string(v))
				break;
			jv_ws(v);
			if (v->p >= v->end || *v->p != ':')
				break;
			v->p++;
			jv_ws(v);
		}
		if (!jv_value(v))
			break;
		jv_ws(v);
		if (v->p < v->end && *v->p == ',') {
			v->p++;
			jv_ws(v);
			continue;
		}
		if (v->p < v->end && *v->p == close) {
			v->p++;
			ok = 1;
		}
		break;
	}
	v->depth--;
	return ok;
}

static int
jv_value(struct jv *v)
{
	if (v->p >= v->end)
		return 0;
	switch (*v->p) {
	case '{':
		return jv_container(v, '}');
	case '[':
		return jv_container(v, ']');
	case '"':
		return jv_string(v);
	case 't':
		return jv_word(v, "true");
	case 'f':
		return jv_word(v, "false");
	case 'n':
		return jv_word(v, "null");
	default:
		if (*v->p == '-' || (*v->p >= '0' && *v->p <= '9'))
			return jv_number(v);
		return 0;
	}
}

static int
json_valid(const void *data, size_t n)
{
	struct jv v = { data, (const unsigned char *)data + n, 0 };

	jv_ws(&v);
	if (!jv_value(&v))
		return 0;
	jv_ws(&v);
	return v.p == v.end;
}

static int
jkind(const void *data, size_t n)
{
	if (data == NULL)
		return JK_NULL;
	if (json_valid(data, n))
		return JK_JSON;
	if (utf8_valid(data, n))
		return JK_STRING;
	return JK_BASE64;
}

/* "field":X and, for text that is not JSON, "field_encoding":"...". */
static void
emit_field(struct emit *e, const char *field, size_t flen, int kind,
    const void *data, size_t n)
{
	emit_ch(e, '"');
	emit_mem(e, field, flen);
	emit_lit(e, "\":");
	switch (kind) {
	case JK_NULL:
		emit_lit(e, "null");
		return;
	case JK_JSON:
		emit_json_raw(e, data, n);
		return;
	case JK_STRING:
		emit_jstr(e, data, n);
		break;
	default:
		emit_base64(e, data, n);
		break;
	}
	emit_lit(e, ",\"");
	emit_mem(e, field, flen);
	if (kind == JK_STRING)
		emit_lit(e, "_encoding\":\"string\"");
	else
		emit_lit(e, "_encoding\":\"base64\"");
}

static void
emit_json_record(struct emit *e, const struct ksink_record *r, int kkind,
    int vkind)
{
	const struct ksink_header *h;
	size_t i;

	emit_lit(e, "{\"topic\":");
	emit_jstr(e, r->topic, strlen(r->topic));
	emit_lit(e, ",\"partition\":");
	emit_i64(e, r->partition);
	emit_lit(e, ",\"offset\":");
	emit_i64(e, r->offset);
	emit_lit(e, ",\"timestamp\":");
	if (r->timestamp < 0)
		emit_lit(e, "null");
	else
		emit_i64(e, r->timestamp);
	emit_ch(e, ',');
	emit_field(e, "key", 3, kkind, r->key, r->key_len);
	emit_ch(e, ',');
	emit_field(e, "value", 5, vkind, r->value, r->value_len);
	emit_lit(e, ",\"headers\":[");
	for (i = 0; i < r->header_count; i++) {
		h = &r->headers[i];
		if (i > 0)
			emit_ch(e, ',');
		/* As the sqlite sink's :headers: text, never embedded. */
		emit_lit(e, "{\"name\":");
		emit_jstr(e, h->name ? h->name : "", h->name ? strlen(h->name) : 0);
		if (h->value == NULL)
			emit_lit(e, ",\"value\":null}");
		else if (utf8_valid(h->value, h->value_len)) {
			emit_lit(e, ",\"value\":");
			emit_jstr(e, h->value, h->value_len);
			emit_ch(e, '}');
		} else {
			emit_lit(e, ",\"value_base64\":");
			emit_base64(e, h->value, h->value_len);
			emit_ch(e, '}');
		}
	}
	emit_lit(e, "]}\n");
}

/* ---------------------------------------------------------------------
 * The manifest
 */

static uint32_t
crc32_update(uint32_t crc, const void *data, size_t n)
{
	static uint32_t table[256];
	static int init;
	const unsigned char *s = data;
	uint32_t c;
	size_t i;
	int k;

	if (!init) {
		for (i = 0; i < 256; i++) {
			c = (uint32_t)i;
			for (k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
		init = 1;
	}
	crc = ~crc;
	for (i = 0; i < n; i++)
		crc = table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int
mtext_printf(struct fsink *fs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
mtext_printf(struct fsink *fs, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *t;
	int n;

	for (;;) {
		va_start(ap, fmt);
		/* No arithmetic on a NULL buffer (the first call). */
		n = vsnprintf(fs->mtext ? fs->mtext + fs->mlen : NULL,
		    fs->mcap - fs->mlen, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if ((size_t)n < fs->mcap - fs->mlen) {
			fs->mlen += (size_t)n;
			return 0;
		}
		cap = fs->mcap ? fs->mcap * 2 : 4096;
		while (cap - fs->mlen <= (size_t)n)
			cap *= 2;
		if ((t = realloc(fs->mtext, cap)) == NULL)
			return -1;
		fs->mtext = t;
		fs->mcap = cap;
	}
}

/* Names are written with bytes below 0x21, 0x7f and '%' as %XX. */
static int
mtext_name(struct fsink *fs, const char *s)
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
		if (!jv_hex(r[1]) || !jv_hex(r[2]) ||
		    sscanf(r + 1, "%2x", &v) != 1 || v == 0)
			return -1;
		*w++ = (char)v;
		r += 3;
	}
	*w = '\0';
	return 0;
}

static int
build_manifest(struct fsink *fs, int which, const struct stream *closing,
    const char *closed)
{
	const struct stream *st;
	const struct meta *m;
	const struct part *p;
	uint64_t len;
	int64_t next;
	size_t i;
	int rc = 0;

	fs->mlen = 0;
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
	    crc32_update(0, fs->mtext, fs->mlen));
}

/* Replaces the manifest: temp file, fsync, rename, fsync of the
 * directory.  Any failure past the temp file's write is fatal. */
static int
manifest_write(struct fsink *fs, int which, const struct stream *closing,
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
	if (write_all(fd, fs->mtext, fs->mlen) < 0) {
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
manifest_read(struct fsink *fs, struct mfile **filesp, size_t *nfilesp,
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
		seterr(errbuf, errlen, "cannot read manifest %s: %s", fs->mpath,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sb.st_size > MANIFEST_MAX ||
	    (text = malloc((size_t)sb.st_size + 1)) == NULL) {
		seterr(errbuf, errlen, "manifest %s is too large (%jd bytes)",
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
		seterr(errbuf, errlen, "cannot read manifest %s: %s", fs->mpath,
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
				seterr(errbuf, errlen, "manifest %s has "
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
				seterr(errbuf, errlen, "manifest %s was written "
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
				seterr(errbuf, errlen, "manifest %s was written "
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
				seterr(errbuf, errlen, "out of memory");
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
				seterr(errbuf, errlen, "out of memory");
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
	seterr(errbuf, errlen, "manifest %s line %zu is not understood; it "
	    "is corrupt or was edited.  ksink does not guess what was "
	    "committed: restore the manifest from a backup, or see RECOVERY "
	    "in ksink-file(7)", fs->mpath, lineno);
	goto out;
corrupt:
	seterr(errbuf, errlen, "manifest %s is unreadable: %s.  ksink does not "
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
take_lock(struct fsink *fs, char *errbuf, size_t errlen)
{
	char text[32];
	ssize_t n;
	long pid;
	int len;

	fs->lock_fd = openat(fs->mdir_fd, fs->mlock, O_RDWR | O_CREAT |
	    O_CLOEXEC, 0666);
	if (fs->lock_fd < 0) {
		seterr(errbuf, errlen, "opening lock file %s.lock: %s",
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
		seterr(errbuf, errlen, "locking %s.lock: %s", fs->mpath,
		    strerror(errno));
		return -1;
	}
	n = pread(fs->lock_fd, text, sizeof(text) - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	pid = strtol(text, NULL, 10);
	if (pid <= 0)
		seterr(errbuf, errlen, "manifest %s is locked by another "
		    "process: another ksink connector writes these files; stop "
		    "it, or give this connector its own file.path and "
		    "file.manifest", fs->mpath);
	else if (pid == (long)getpid())
		seterr(errbuf, errlen, "manifest %s is locked by another "
		    "connector of this ksink (pid %ld): two connectors cannot "
		    "share file.manifest; give each its own file.path", fs->mpath,
		    pid);
	else
		seterr(errbuf, errlen, "manifest %s is locked by pid %ld: "
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
check_no_data(struct fsink *fs, char *errbuf, size_t errlen)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(fs->ddir_fd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) < 0 || (d = fdopendir(fd)) == NULL) {
		seterr(errbuf, errlen, "listing %s: %s", fs->ddir,
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
			seterr(errbuf, errlen, "data file %s/%s exists but its "
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
finish_close(struct fsink *fs, const struct mfile *mf, char *errbuf,
    size_t errlen)
{
	struct stat sa, sc;
	int a, c, fd;

	if (fstat_name(fs->ddir_fd, mf->name, &sa, &a) < 0 ||
	    fstat_name(fs->ddir_fd, mf->closed, &sc, &c) < 0) {
		seterr(errbuf, errlen, "checking %s/%s: %s", fs->ddir, mf->name,
		    strerror(errno));
		return -1;
	}
	if (!a && c) {
		if ((uint64_t)sc.st_size != mf->len) {
			seterr(errbuf, errlen, "closed file %s/%s has %jd bytes, "
			    "manifest %s says %" PRIu64 ": it was changed "
			    "outside ksink", fs->ddir, mf->closed,
			    (intmax_t)sc.st_size, fs->mpath, mf->len);
			return -1;
		}
		return 0;
	}
	if (a && c) {
		seterr(errbuf, errlen, "manifest %s records that %s/%s is being "
		    "closed as %s, but both files exist: one of them was "
		    "created outside ksink; move it away", fs->mpath, fs->ddir,
		    mf->name, mf->closed);
		return -1;
	}
	if (!a) {
		seterr(errbuf, errlen, "manifest %s records that %s/%s is being "
		    "closed as %s, but neither exists: the files were moved "
		    "outside ksink; restore them", fs->mpath, fs->ddir,
		    mf->name, mf->closed);
		return -1;
	}
	if ((uint64_t)sa.st_size < mf->len) {
		seterr(errbuf, errlen, "data file %s/%s has %jd bytes, manifest "
		    "%s says %" PRIu64 " were committed: it was truncated or "
		    "replaced outside ksink; restore it", fs->ddir, mf->name,
		    (intmax_t)sa.st_size, fs->mpath, mf->len);
		return -1;
	}
	if ((fd = openat(fs->ddir_fd, mf->name, O_WRONLY | O_CLOEXEC)) < 0 ||
	    ftruncate(fd, (off_t)mf->len) < 0 || fdatasync(fd) < 0) {
		seterr(errbuf, errlen, "truncating %s/%s: %s", fs->ddir,
		    mf->name, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (renameat(fs->ddir_fd, mf->name, fs->ddir_fd, mf->closed) < 0 ||
	    fsync(fs->ddir_fd) < 0) {
		seterr(errbuf, errlen, "renaming %s/%s to %s: %s", fs->ddir,
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
recover_file(struct fsink *fs, struct stream *st, char *errbuf,
    size_t errlen)
{
	struct stat sb;
	int created = 0;

	if (stream_open_fd(fs, st, 0, errbuf, errlen) < 0) {
		if (errno != ENOENT)
			return -1;
		if (st->clen > 0) {
			seterr(errbuf, errlen, "data file %s/%s is missing, but "
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
		seterr(errbuf, errlen, "stat of %s/%s: %s", fs->ddir, st->name,
		    strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		seterr(errbuf, errlen, "%s/%s is not a regular file", fs->ddir,
		    st->name);
		return -1;
	}
	if ((uint64_t)sb.st_size < st->clen) {
		seterr(errbuf, errlen, "data file %s/%s has %jd bytes, but "
		    "manifest %s says %" PRIu64 " were committed: it was "
		    "truncated or replaced outside ksink; restore it", fs->ddir,
		    st->name, (intmax_t)sb.st_size, fs->mpath, st->clen);
		return -1;
	}
	if ((uint64_t)sb.st_size > st->clen) {
		if (ftruncate(st->fd, (off_t)st->clen) < 0 ||
		    fdatasync(st->fd) < 0) {
			seterr(errbuf, errlen, "truncating %s/%s to %" PRIu64
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
recover(struct fsink *fs, char *errbuf, size_t errlen)
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
			seterr(errbuf, errlen, "out of memory");
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
			seterr(errbuf, errlen, "fsync of directory %s: %s",
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
fsink_free(struct fsink *fs)
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
	free(fs->mtext);
	free(fs);
}

static int
open_dir(const char *dir, const char *opt, char *errbuf, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		seterr(errbuf, errlen, "%s: directory %s: %s; create it first",
		    opt, dir, strerror(errno));
	return fd;
}

/* The manifest's directory and names. */
static int
manifest_names(struct fsink *fs, const char *opt, char *errbuf, size_t errlen)
{
	const char *cname = fs->host->connector_name(fs->ctx), *slash;
	char *safe;
	size_t i;

	if (opt != NULL && *opt != '\0') {
		slash = strrchr(opt, '/');
		if (slash != NULL && slash[1] == '\0') {
			seterr(errbuf, errlen, "file.manifest = %s: names a "
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
	struct fsink *fs;
	struct stat sd, sm;
	const char *path, *fmt;

	*sinkp = NULL;
	if (host->struct_size < offsetof(struct ksink_host, connector_name) +
	    sizeof(host->connector_name)) {
		seterr(errbuf, errlen, "the daemon's host interface is too old "
		    "for the file sink");
		return KSINK_FATAL;
	}
	if ((fs = calloc(1, sizeof(*fs))) == NULL) {
		seterr(errbuf, errlen, "out of memory");
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
		seterr(errbuf, errlen, "file.path is required");
		fsink_free(fs);
		return KSINK_CONFIG;
	}
	if (parse_pattern(fs, path, errbuf, errlen) < 0 ||
	    manifest_names(fs, host->conf_str(ctx, "file.manifest"), errbuf,
	    errlen) < 0) {
		if (errbuf != NULL && *errbuf == '\0')
			seterr(errbuf, errlen, "out of memory");
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
checkpoint(struct fsink *fs, const struct stream *closing, const char *closed,
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
rotate(struct fsink *fs, struct stream *st, char *errbuf, size_t errlen)
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
needs_rotation(struct fsink *fs, const struct stream *st, size_t len)
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
attach(struct fsink *fs, struct part *p, char *errbuf, size_t errlen)
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
	struct fsink *fs = sink;
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
	struct fsink *fs = sink;
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
	struct fsink *fs = sink;
	const struct ksink_record *r;
	struct stream *st;
	struct part *p;
	struct emit e;
	size_t i, len;
	int kk = JK_NULL, vk = JK_NULL, rc;

	*n_done = 0;
	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	if (!fs->in_step) {
		seterr(errbuf, errlen, "write() outside begin()/commit()");
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
			kk = jkind(r->key, r->key_len);
			vk = jkind(r->value, r->value_len);
			e.p = NULL;
			e.n = 0;
			emit_json_record(&e, r, kk, vk);
			len = e.n;
		}
		if (needs_rotation(fs, st, len) &&
		    (rc = rotate(fs, st, errbuf, errlen)) != KSINK_OK)
			return rc;
		if ((rc = stream_reserve(fs, st, len, errbuf, errlen)) !=
		    KSINK_OK)
			return rc;
		e.p = st->buf->data + st->buf->len;
		e.n = 0;
		if (fs->format == FMT_VALUE) {
			emit_mem(&e, r->value, r->value_len);
			emit_ch(&e, '\n');
		} else
			emit_json_record(&e, r, kk, vk);
		st->buf->len += e.n;
		st->plen += e.n;
		meta_add(&st->pmeta, p->topic, r->partition, r->offset,
		    fs->now_ms);
		p->pnext = r->offset + 1;
		fs->n_written++;
	}
	return KSINK_OK;
}

static int
file_commit(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct fsink *fs = sink;
	struct part *p;
	size_t i;
	int rc;

	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	if (!fs->in_step) {
		seterr(errbuf, errlen, "commit() outside begin()");
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
	struct fsink *fs = sink;
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
	struct fsink *fs = sink;
	struct part *p;
	size_t i, pos;
	int found, rc;

	if (fs->failed)
		return refuse_failed(fs, errbuf, errlen);
	if (fs->in_step) {
		seterr(errbuf, errlen, "reset_offsets() inside "
		    "begin()/commit()");
		return KSINK_FATAL;
	}
	for (i = 0; i < count; i++) {
		if (!valid_topic(offsets[i].topic) || offsets[i].partition < 0 ||
		    (offsets[i].next_offset < 0 &&
		    offsets[i].next_offset != KSINK_OFFSET_NONE)) {
			seterr(errbuf, errlen, "%s/%" PRId32 " offset %" PRId64
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
			seterr(errbuf, errlen, "out of memory");
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
	struct fsink *fs = sink;

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

static const struct ksink_sink file_sink = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 1,		/* the lowest with reset_offsets */
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "file",
	.version = FILE_VERSION,
	.description = "exactly-once into local files, crash-consistent",
	.options = file_options,
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
	return &file_sink;
}
