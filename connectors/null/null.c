/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/null/null.c - the null sink: counts records and bytes, and
 * discards them.
 *
 * The simplest complete sink, and the baseline of benchmarks.  Its only
 * effects are per-partition counts, kept with the next offsets in a small
 * state file that commit() replaces atomically (atomicfile.c: write a
 * temporary file, fsync it, rename it over the state file, fsync the
 * directory).  Counts and offsets therefore always change together, and
 * the counts are exact.  An exclusive lock on STATE.lock keeps a second
 * process away.
 *
 * It needs nothing but <ksink/sink.h>, atomicfile.c and offcache.c, which
 * are built with it.  See ksink-null(7), and ksink-plugins(7), which shows
 * these files.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* open_memstream(3) */
#endif

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ksink/sink.h>

#include "atomicfile.h"
#include "offcache.h"

#define STATE_MAGIC "ksink-null 1"

static const struct ksink_option options[] = {
	{
		.name = "null.state",
		.type = KSINK_OPT_PATH,
		.flags = KSINK_OPT_REQUIRED,
		.doc = "The state file: for every partition, the next offset "
		    "and the records and bytes counted so far.  It is created "
		    "when missing, and replaced atomically at every commit "
		    "through a temporary file with .tmp appended to its name.  "
		    "The same name with .lock appended is locked while the "
		    "connector runs.",
	},
	{
		.name = "null.fsync",
		.type = KSINK_OPT_BOOL,
		.def = "true",
		.doc = "Whether each commit waits for the state file and its "
		    "directory to reach the disk.  Turning it off makes the "
		    "sink cheaper for benchmarks, and keeps the counts exact "
		    "when the process crashes, but not when the machine loses "
		    "power.",
	},
	{ .name = NULL }
};

/* An entry of the partition cache (offcache.c): its head holds the topic,
 * the partition and the stored next offset (KSINK_OFFSET_NONE if
 * unknown). */
struct part {
	struct ks_offcache_entry e;
	uint64_t records, bytes;
	int64_t s_next;		/* the same, in the open step */
	uint64_t s_records, s_bytes;
};

struct sink {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;
	struct ks_atomicfile state;	/* the state file, and its lock */
	struct ks_offcache parts;	/* of struct part */
	uint64_t s_skipped;			/* in the open step */
	uint64_t run_records, run_bytes, run_skipped;	/* since open() */
};

/* The partition's entry, created when missing; NULL when out of memory. */
static struct part *
part_get(struct sink *ns, const char *topic, int32_t partition)
{
	struct part *p;

	if ((p = (struct part *)ks_offcache_find(&ns->parts, topic,
	    partition)) != NULL)
		return p;
	if ((p = (struct part *)ks_offcache_add(&ns->parts, topic, partition,
	    KSINK_OFFSET_NONE)) == NULL)
		return NULL;
	p->s_next = KSINK_OFFSET_NONE;
	return p;
}

/* The i-th partition of the cache. */
static struct part *
part_at(struct sink *ns, size_t i)
{
	return (struct part *)ns->parts.v[i];
}

static void
step_start(struct sink *ns)
{
	struct part *p;
	size_t i;

	for (i = 0; i < ns->parts.n; i++) {
		p = part_at(ns, i);
		p->s_next = p->e.next;
		p->s_records = p->records;
		p->s_bytes = p->bytes;
	}
	ns->s_skipped = 0;
}

/* Reads the state file; a missing file is an empty state. */
static int
load(struct sink *ns, char *errbuf, size_t errlen)
{
	char line[512], topic[256];
	struct part *p;
	int32_t partition;
	int64_t next;
	uint64_t records, bytes;
	int lineno = 1, rc = KSINK_OK;
	FILE *fp;

	if ((fp = fopen(ns->state.path, "r")) == NULL) {
		if (errno == ENOENT)
			return KSINK_OK;
		snprintf(errbuf, errlen, "null.state = %s: %s", ns->state.path,
		    strerror(errno));
		return KSINK_CONFIG;
	}
	if (fgets(line, sizeof(line), fp) == NULL ||
	    strcmp(line, STATE_MAGIC "\n") != 0) {
		snprintf(errbuf, errlen, "null.state = %s: not a state file "
		    "of the null sink; refusing to overwrite it: name another "
		    "file", ns->state.path);
		fclose(fp);
		return KSINK_CONFIG;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (sscanf(line, "%255s %" SCNd32 " %" SCNd64 " %" SCNu64
		    " %" SCNu64, topic, &partition, &next, &records,
		    &bytes) != 5) {
			snprintf(errbuf, errlen, "%s:%d: malformed line; the "
			    "state file is damaged: restore it, or remove it "
			    "and reset the connector's offsets", ns->state.path,
			    lineno);
			rc = KSINK_FATAL;
			break;
		}
		if ((p = part_get(ns, topic, partition)) == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			rc = KSINK_FATAL;
			break;
		}
		p->e.next = next;
		p->records = records;
		p->bytes = bytes;
	}
	if (rc == KSINK_OK && ferror(fp)) {
		snprintf(errbuf, errlen, "reading %s: %s", ns->state.path,
		    strerror(errno));
		rc = KSINK_FATAL;
	}
	fclose(fp);
	return rc;
}

/* Writes the open step's state to the state file, atomically, and makes
 * it the stored state.  A failed fsync is fatal (see atomicfile.h). */
static int
store(struct sink *ns, char *errbuf, size_t errlen)
{
	struct part *p;
	char *text = NULL;
	size_t i, len = 0;
	FILE *fp;
	int rc;

	if ((fp = open_memstream(&text, &len)) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	fprintf(fp, "%s\n", STATE_MAGIC);
	for (i = 0; i < ns->parts.n; i++) {
		p = part_at(ns, i);
		fprintf(fp, "%s %" PRId32 " %" PRId64 " %" PRIu64 " %" PRIu64
		    "\n", p->e.topic, p->e.partition, p->s_next, p->s_records,
		    p->s_bytes);
	}
	rc = ferror(fp);
	if (fclose(fp) != 0 || rc != 0) {
		free(text);
		snprintf(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	rc = ks_atomicfile_replace(&ns->state, text, len, errbuf, errlen);
	free(text);
	if (rc != KSINK_OK)
		return rc;
	for (i = 0; i < ns->parts.n; i++) {
		p = part_at(ns, i);
		ns->run_records += p->s_records - p->records;
		ns->run_bytes += p->s_bytes - p->bytes;
		p->e.next = p->s_next;
		p->records = p->s_records;
		p->bytes = p->s_bytes;
	}
	ns->run_skipped += ns->s_skipped;
	return KSINK_OK;
}

static void
null_free(struct sink *ns)
{
	ks_offcache_free(&ns->parts);
	ks_atomicfile_close(&ns->state);	/* releases the lock */
	free(ns);
}

static int
null_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sink,
    char *errbuf, size_t errlen)
{
	struct sink *ns;
	const char *path = host->conf_str(ctx, "null.state");
	char *dir = NULL, *base = NULL, msg[512];
	long holder;
	int e, rc = KSINK_FATAL;

	if ((ns = calloc(1, sizeof(*ns))) == NULL ||
	    (dir = strdup(path)) == NULL || (base = strdup(path)) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto fail;
	}
	ns->host = host;
	ns->ctx = ctx;
	ks_offcache_init(&ns->parts, sizeof(struct part));

	/* The directory, to fsync the renames. */
	if (ks_atomicfile_open(&ns->state, dirname(dir), basename(base), msg,
	    sizeof(msg)) != 0) {
		e = errno;
		snprintf(errbuf, errlen, "null.state = %s: %s%s", path,
		    e == ENOMEM ? "" : "its ", msg);
		rc = e == ENOMEM ? KSINK_FATAL : KSINK_CONFIG;
		goto fail;
	}
	ns->state.nosync = !host->conf_bool(ctx, "null.fsync");

	switch (ks_atomicfile_lock(&ns->state, &holder, msg, sizeof(msg))) {
	case 0:
		if (msg[0] != '\0')
			host->log(ctx, KSINK_LOG_WARN, "%s", msg);
		break;
	case 1:
		snprintf(errbuf, errlen, "null.state = %s: %s: another "
		    "connector uses this null.state; give each connector its "
		    "own", path, msg);
		goto fail;
	default:
		snprintf(errbuf, errlen, "%s", msg);
		goto fail;
	}
	if ((rc = load(ns, errbuf, errlen)) != KSINK_OK)
		goto fail;
	free(dir);
	free(base);
	host->log(ctx, KSINK_LOG_DEBUG, "state %s: %zu partitions", path,
	    ns->parts.n);
	*sink = ns;
	return KSINK_OK;
fail:
	free(dir);
	free(base);
	if (ns != NULL)
		null_free(ns);
	return rc;
}

static int
null_load_offsets(void *sink, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *ns = sink;
	struct part *p;
	size_t i;

	for (i = 0; i < count; i++) {
		if ((p = part_get(ns, offsets[i].topic,
		    offsets[i].partition)) == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		offsets[i].next_offset = p->e.next;
	}
	return KSINK_OK;
}

static int
null_begin(void *sink, char *errbuf, size_t errlen)
{
	(void)errbuf;
	(void)errlen;
	step_start(sink);
	return KSINK_OK;
}

static int
null_write(void *sink, const struct ksink_record *records, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct sink *ns = sink;
	const struct ksink_record *r;
	struct part *p;
	size_t i;

	for (i = 0; i < count; i++) {
		r = &records[i];
		if ((p = part_get(ns, r->topic, r->partition)) == NULL) {
			*n_done = i;
			snprintf(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		/* The fence: a record below the stored offset was counted
		 * before, by this process or another. */
		if (p->s_next != KSINK_OFFSET_NONE && r->offset < p->s_next) {
			ns->s_skipped++;
			continue;
		}
		p->s_records++;
		p->s_bytes += r->key_len + r->value_len;
		p->s_next = r->offset + 1;
	}
	*n_done = count;
	return KSINK_OK;
}

static int
null_commit(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *ns = sink;
	struct part *p;
	size_t i;

	for (i = 0; i < count; i++) {
		if ((p = part_get(ns, offsets[i].topic,
		    offsets[i].partition)) == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		if (offsets[i].next_offset > p->s_next)
			p->s_next = offsets[i].next_offset;
	}
	return store(ns, errbuf, errlen);
}

static int
null_reset_offsets(void *sink, const struct ksink_offset *offsets,
    size_t count, char *errbuf, size_t errlen)
{
	struct sink *ns = sink;
	struct part *p;
	size_t i;

	step_start(ns);
	for (i = 0; i < count; i++) {
		if ((p = part_get(ns, offsets[i].topic,
		    offsets[i].partition)) == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		p->s_next = offsets[i].next_offset;
	}
	return store(ns, errbuf, errlen);
}

static void
null_close(void *sink)
{
	struct sink *ns = sink;

	ns->host->log(ns->ctx, KSINK_LOG_INFO, "null sink closed: %" PRIu64
	    " records (%" PRIu64 " bytes) counted, %" PRIu64 " records "
	    "counted before skipped", ns->run_records, ns->run_bytes,
	    ns->run_skipped);
	null_free(ns);
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 1,		/* for reset_offsets */
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "null",
	.version = "1.0.0",
	.description = "counts records and bytes per partition, exactly "
	    "once, and discards them",
	.options = options,
	.open = null_open,
	.load_offsets = null_load_offsets,
	.begin = null_begin,
	.write = null_write,
	.commit = null_commit,
	.close = null_close,
	.reset_offsets = null_reset_offsets,
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
