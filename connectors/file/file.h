/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/file/file.h - the file sink's private declarations, shared by
 * its files: file.c (options, open, the atomic step, the callbacks and the
 * descriptor), streams.c, names.c, manifest.c and recovery.c.  Not
 * installed; nothing here is exported from file.so (only
 * ksink_sink_entry is).
 */
#ifndef KS_FILE_H
#define KS_FILE_H

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

#include "../lib/atomicfile.h"
#include "../lib/buf.h"
#include "../lib/clock.h"
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
	struct ks_atomicfile mf; /* the manifest, its .tmp and .lock */
	int ddir_fd;
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

/* A data file as the manifest lists it. */
struct mfile {
	char *name;
	uint64_t len;
	struct meta meta;
	char *closed; /* a "close" line */
};

/* The crash hook of the tests, in the test build of the plugin only
 * (file.c). */
#ifdef KSINK_TEST_HOOKS
void	crash_init(struct sink *);
void	crash_point(struct sink *, const char *);
#else
#define crash_init(fs)		((void)(fs))
#define crash_point(fs, point)	((void)(fs))
#endif

/* streams.c */
int	fatal(struct sink *fs, char *errbuf, size_t errlen,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int	refuse_failed(struct sink *fs, char *errbuf, size_t errlen);
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int	write_failed(struct sink *fs, const char *what, char *errbuf,
	    size_t errlen);
const char	*intern(struct sink *fs, const char *name);
size_t	part_pos(struct sink *fs, const char *topic, int32_t partition,
	    int *found);
int	valid_topic(const char *topic);
struct part	*part_get(struct sink *fs, const char *topic,
	    int32_t partition);
int	part_failed(struct sink *fs, const char *topic, int32_t partition,
	    char *errbuf, size_t errlen);
struct stream	*stream_find(struct sink *fs, const char *name);
struct stream	*stream_add(struct sink *fs, const char *name);
void	stream_free(struct stream *st);
void	stream_remove(struct sink *fs, struct stream *st);
void	meta_add(struct meta *m, const char *topic, int32_t partition,
	    int64_t offset, int64_t now);
void	buf_put(struct sink *fs, struct fbuf *b);
int	stream_open_fd(struct sink *fs, struct stream *st, int flags,
	    char *errbuf, size_t errlen);
int	stream_flush(struct sink *fs, struct stream *st, char *errbuf,
	    size_t errlen);
int	stream_reserve(struct sink *fs, struct stream *st, size_t len,
	    char *errbuf, size_t errlen);

/* names.c */
int	is_topic_char(int c);
size_t	placeholder(const char *p, char *kind);
int	active_name(struct sink *fs, char *out, size_t outlen,
	    const char *topic, int32_t partition);
int	closed_name(struct sink *fs, char *out, size_t outlen,
	    const char *active, const struct meta *m);
int	name_match(const char *p, const char *s);
int	is_manifest_name(struct sink *fs, const char *name);
int	parse_pattern(struct sink *fs, const char *path, char *errbuf,
	    size_t errlen);

/* manifest.c */
uint32_t	crc32_update(uint32_t crc, const void *data, size_t n);
int	manifest_write(struct sink *fs, int which,
	    const struct stream *closing, const char *closed, char *errbuf,
	    size_t errlen);
int	manifest_read(struct sink *fs, struct mfile **filesp, size_t *nfilesp,
	    char *errbuf, size_t errlen);

/* recovery.c */
int	take_lock(struct sink *fs, char *errbuf, size_t errlen);
int	fstat_name(int dirfd, const char *name, struct stat *sb, int *exists);
int	recover(struct sink *fs, char *errbuf, size_t errlen);

/* file.c */
int	rotate(struct sink *fs, struct stream *st, char *errbuf, size_t errlen);

#endif
