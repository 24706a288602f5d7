/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/scripted.c - a sink whose failures are scripted by its
 * options, for testing the worker's policy against a real consumer.
 *
 * Its state is one text file (scripted.state), replaced as a whole by
 * rename(2) at every commit, under an exclusive flock(2) on STATE.lock so
 * that several connectors can share it:
 *
 *	record TOPIC PARTITION OFFSET VALUE	a record applied
 *	fenced TOPIC PARTITION OFFSET		a record skipped by the fence
 *	offset TOPIC PARTITION NEXT		the stored next offset
 *
 * write() only gathers the batch.  commit() is the atomic step: under the
 * lock it reads the stored offsets, skips every record below them (the
 * zombie fence), appends the rest and raises the offsets, never lowering
 * one.  Whitespace in values is written as '_'; a tombstone as '-'; a
 * value that a converter decoded as DECODED~RAW (host->decoded()).
 *
 * Scripted behaviour: scripted.retry.commits, scripted.retry.writes and
 * scripted.retry.writes.done, scripted.retry.after.ms (a retried write
 * asks the worker to come back then, as http's Retry-After), scripted.retry.load,
 * scripted.fatal.load, scripted.poison.value (repeatable),
 * scripted.fatal.batch, scripted.sleep.ms, scripted.sleep.batches,
 * scripted.commit.sleep.ms and
 * scripted.fence (false turns the fence off, to show that a test of it
 * can fail).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "ksink/sink.h"

struct rec {
	char *topic;
	int32_t partition;
	int64_t offset;
	char *value;
};

struct off {
	char *topic;
	int32_t partition;
	int64_t next;
};

struct scripted {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;
	char *state;
	char *tmp;
	char *lock;
	char **poison;
	size_t npoison;
	int64_t retry_commits;
	int64_t retry_writes, retry_writes_done, retry_after_ms;
	int64_t retry_load;
	int fatal_load;
	int64_t fatal_batch;
	int64_t sleep_ms;
	int64_t sleep_batches;
	int64_t load_sleep_ms;
	int64_t commit_sleep_ms;
	int fence;

	int64_t commits;	/* commit() calls so far */
	int64_t writes;		/* write() calls so far */
	int64_t loads;		/* load_offsets() calls so far */
	int64_t batches;	/* begin() calls so far */
	int in_step;

	struct rec *recs;
	size_t n, cap;
};

static const struct ksink_option options[] = {
	{ .name = "scripted.state", .type = KSINK_OPT_PATH,
	  .flags = KSINK_OPT_REQUIRED,
	  .doc = "The state file: applied records and stored offsets." },
	{ .name = "scripted.retry.commits", .type = KSINK_OPT_INT, .def = "0",
	  .min = 0, .max = INT64_MAX,
	  .doc = "The first this many commits return RETRY." },
	{ .name = "scripted.retry.writes", .type = KSINK_OPT_INT, .def = "0",
	  .min = 0, .max = INT64_MAX,
	  .doc = "The first this many writes return RETRY." },
	{ .name = "scripted.retry.writes.done", .type = KSINK_OPT_INT,
	  .def = "0", .min = 0, .max = INT64_MAX,
	  .doc = "The records such a write says took effect "
	    "(KSINK_CAP_RETRY_PROGRESS): a claim only, to test the worker's "
	    "backoff; the step stays all or nothing." },
	{ .name = "scripted.retry.after.ms", .type = KSINK_OPT_INT,
	  .def = "-1", .min = -1, .max = INT64_MAX,
	  .doc = "A write that returns RETRY asks the worker to come back "
	    "after this many milliseconds (host->retry_after); -1: it does "
	    "not ask." },
	{ .name = "scripted.retry.load", .type = KSINK_OPT_INT, .def = "0",
	  .min = 0, .max = INT64_MAX,
	  .doc = "The first this many load_offsets calls return RETRY." },
	{ .name = "scripted.fatal.load", .type = KSINK_OPT_BOOL,
	  .def = "false", .doc = "load_offsets returns FATAL." },
	{ .name = "scripted.poison.value", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_MULTI,
	  .doc = "A record whose value is this text is POISON." },
	{ .name = "scripted.fatal.batch", .type = KSINK_OPT_INT, .def = "0",
	  .min = 0, .max = INT64_MAX,
	  .doc = "The write of this batch (counting from 1, retries "
	    "included) returns FATAL; 0 never." },
	{ .name = "scripted.sleep.ms", .type = KSINK_OPT_INT, .def = "0",
	  .min = 0, .max = 600000,
	  .doc = "Each write sleeps this long." },
	{ .name = "scripted.sleep.batches", .type = KSINK_OPT_INT, .def = "0",
	  .min = 0, .max = INT64_MAX,
	  .doc = "Sleep only in the writes of the first this many batches; "
	    "0 in all." },
	{ .name = "scripted.commit.sleep.ms", .type = KSINK_OPT_INT,
	  .def = "0", .min = 0, .max = 600000,
	  .doc = "Each commit sleeps this long (a costly fsync)." },
	{ .name = "scripted.load.sleep.ms", .type = KSINK_OPT_INT, .def = "0",
	  .min = 0, .max = 600000,
	  .doc = "Each load_offsets sleeps this long (a slow assignment)." },
	{ .name = "scripted.fence", .type = KSINK_OPT_BOOL, .def = "true",
	  .doc = "Skip records below the stored offsets at commit." },
	{ .name = NULL }
};

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		abort();
	return p;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
clear_batch(struct scripted *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->recs[i].topic);
		free(s->recs[i].value);
	}
	s->n = 0;
}

static int
lock_state(struct scripted *s, int how, char *errbuf, size_t errlen)
{
	int fd;

	if ((fd = open(s->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		snprintf(errbuf, errlen, "%s: %s", s->lock, strerror(errno));
		return -1;
	}
	while (flock(fd, how) == -1) {
		if (errno == EINTR)
			continue;
		snprintf(errbuf, errlen, "flock %s: %s", s->lock,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
unlock_state(int fd)
{
	flock(fd, LOCK_UN);
	close(fd);
}

/*
 * Reads the state file: its offsets into *offs, and, when out is not
 * NULL, copies its record lines to out.  A missing file is empty.
 */
static int
read_state(struct scripted *s, struct off **offs, size_t *noffs, FILE *out,
    char *errbuf, size_t errlen)
{
	char *line = NULL, topic[256];
	size_t sz = 0, i;
	int32_t part;
	long long next;
	FILE *fp;

	*offs = NULL;
	*noffs = 0;
	if ((fp = fopen(s->state, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(errbuf, errlen, "%s: %s", s->state, strerror(errno));
		return -1;
	}
	while (getline(&line, &sz, fp) != -1) {
		if (sscanf(line, "offset %255s %d %lld", topic, &part,
		    &next) == 3) {
			for (i = 0; i < *noffs; i++)
				if ((*offs)[i].partition == part &&
				    strcmp((*offs)[i].topic, topic) == 0)
					break;
			if (i == *noffs) {
				*offs = realloc(*offs, (*noffs + 1) *
				    sizeof(**offs));
				if (*offs == NULL)
					abort();
				(*offs)[i].topic = xstrdup(topic);
				(*offs)[i].partition = part;
				(*offs)[i].next = -1;
				(*noffs)++;
			}
			if (next > (*offs)[i].next)
				(*offs)[i].next = next;
		} else if (out != NULL)
			fputs(line, out);
	}
	free(line);
	fclose(fp);
	return 0;
}

static void
free_offs(struct off *offs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(offs[i].topic);
	free(offs);
}

static int64_t
stored(const struct off *offs, size_t n, const char *topic, int32_t part)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (offs[i].partition == part &&
		    strcmp(offs[i].topic, topic) == 0)
			return offs[i].next;
	return KSINK_OFFSET_NONE;
}

static int
s_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sinkp,
    char *errbuf, size_t errlen)
{
	struct scripted *s;
	const char *p;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	s->host = host;
	s->ctx = ctx;
	s->state = xstrdup(host->conf_str(ctx, "scripted.state"));
	if (asprintf(&s->tmp, "%s.tmp", s->state) == -1 ||
	    asprintf(&s->lock, "%s.lock", s->state) == -1)
		abort();
	s->npoison = host->conf_count(ctx, "scripted.poison.value");
	if ((s->poison = calloc(s->npoison + 1, sizeof(*s->poison))) == NULL)
		abort();
	for (i = 0; i < s->npoison; i++) {
		p = host->conf_str_at(ctx, "scripted.poison.value", i);
		s->poison[i] = xstrdup(p);
	}
	s->retry_commits = host->conf_int(ctx, "scripted.retry.commits");
	s->retry_writes = host->conf_int(ctx, "scripted.retry.writes");
	s->retry_writes_done = host->conf_int(ctx,
	    "scripted.retry.writes.done");
	s->retry_after_ms = host->conf_int(ctx, "scripted.retry.after.ms");
	s->retry_load = host->conf_int(ctx, "scripted.retry.load");
	s->fatal_load = host->conf_bool(ctx, "scripted.fatal.load");
	s->fatal_batch = host->conf_int(ctx, "scripted.fatal.batch");
	s->sleep_ms = host->conf_int(ctx, "scripted.sleep.ms");
	s->load_sleep_ms = host->conf_int(ctx, "scripted.load.sleep.ms");
	s->commit_sleep_ms = host->conf_int(ctx, "scripted.commit.sleep.ms");
	s->sleep_batches = host->conf_int(ctx, "scripted.sleep.batches");
	s->fence = host->conf_bool(ctx, "scripted.fence");
	*sinkp = s;
	return KSINK_OK;
}

static int
s_load_offsets(void *sink, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct scripted *s = sink;
	struct off *offs;
	size_t n, i;
	int fd;

	if (s->loads++ < s->retry_load) {
		snprintf(errbuf, errlen, "scripted: load_offsets retry %lld "
		    "of %lld", (long long)s->loads, (long long)s->retry_load);
		return KSINK_RETRY;
	}
	if (s->fatal_load) {
		snprintf(errbuf, errlen, "scripted: load_offsets fatal");
		return KSINK_FATAL;
	}
	if (s->load_sleep_ms > 0)
		sleep_ms(s->load_sleep_ms);
	if ((fd = lock_state(s, LOCK_SH, errbuf, errlen)) == -1)
		return KSINK_FATAL;
	if (read_state(s, &offs, &n, NULL, errbuf, errlen) == -1) {
		unlock_state(fd);
		return KSINK_FATAL;
	}
	unlock_state(fd);
	for (i = 0; i < count; i++)
		offsets[i].next_offset = stored(offs, n, offsets[i].topic,
		    offsets[i].partition);
	free_offs(offs, n);
	return KSINK_OK;
}

static int
s_begin(void *sink, char *errbuf, size_t errlen)
{
	struct scripted *s = sink;

	if (s->in_step) {
		snprintf(errbuf, errlen, "scripted: begin() inside an open "
		    "step");
		return KSINK_FATAL;
	}
	s->in_step = 1;
	s->batches++;
	clear_batch(s);
	return KSINK_OK;
}

/* A value as the state file holds it: whitespace and NUL as '_', a
 * tombstone as '-', an empty value as '_'. */
static char *
text(const void *p, size_t len)
{
	char *t;
	size_t j;

	if (p == NULL)
		return xstrdup("-");
	if (len == 0)
		return xstrdup("_");
	if ((t = malloc(len + 1)) == NULL)
		abort();
	for (j = 0; j < len; j++) {
		char c = ((const char *)p)[j];

		t[j] = (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		    c == '\0') ? '_' : c;
	}
	t[len] = '\0';
	return t;
}

static int
s_write(void *sink, const struct ksink_record *records, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct scripted *s = sink;
	const struct ksink_decoded *dec;
	const struct ksink_record *r;
	char *raw, *both;
	struct rec *d;
	size_t i, j;

	*n_done = 0;
	if (!s->in_step) {
		snprintf(errbuf, errlen, "scripted: write() outside a step");
		return KSINK_FATAL;
	}
	if (s->sleep_ms > 0 && (s->sleep_batches == 0 ||
	    s->batches <= s->sleep_batches))
		sleep_ms(s->sleep_ms);
	if (s->fatal_batch > 0 && s->batches == s->fatal_batch) {
		snprintf(errbuf, errlen, "scripted: fatal at batch %lld",
		    (long long)s->batches);
		return KSINK_FATAL;
	}
	if (s->writes++ < s->retry_writes) {
		*n_done = (size_t)s->retry_writes_done;
		if (s->retry_after_ms >= 0 &&
		    KSINK_HOST_HAS(s->host, retry_after))
			s->host->retry_after(s->ctx, s->retry_after_ms);
		snprintf(errbuf, errlen, "scripted: write retry %lld of %lld",
		    (long long)s->writes, (long long)s->retry_writes);
		return KSINK_RETRY;
	}
	for (i = 0; i < count; i++) {
		r = &records[i];
		for (j = 0; j < s->npoison && r->value != NULL; j++)
			if (r->value_len == strlen(s->poison[j]) &&
			    memcmp(r->value, s->poison[j], r->value_len) == 0) {
				*n_done = i;
				snprintf(errbuf, errlen, "scripted: poison "
				    "value \"%s\"", s->poison[j]);
				return KSINK_POISON;
			}
		if (s->n == s->cap) {
			s->cap = s->cap ? s->cap * 2 : 256;
			s->recs = realloc(s->recs, s->cap * sizeof(*s->recs));
			if (s->recs == NULL)
				abort();
		}
		d = &s->recs[s->n++];
		d->topic = xstrdup(r->topic);
		d->partition = r->partition;
		d->offset = r->offset;
		d->value = text(r->value, r->value_len);
		/* A converter decoded it: VALUE~RAW, RAW as read from
		 * Kafka (ABI 1.3). */
		if (KSINK_HOST_HAS(s->host, decoded) &&
		    (dec = s->host->decoded(s->ctx, r)) != NULL) {
			raw = text(dec->value_raw, dec->value_raw_len);
			if (asprintf(&both, "%s~%s", d->value, raw) == -1)
				abort();
			free(d->value);
			free(raw);
			d->value = both;
		}
	}
	*n_done = count;
	return KSINK_OK;
}

static int
s_commit(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct scripted *s = sink;
	struct off *offs;
	size_t n, i, j;
	int64_t next;
	FILE *out;
	int fd, outfd;

	if (!s->in_step) {
		snprintf(errbuf, errlen, "scripted: commit() outside a step");
		return KSINK_FATAL;
	}
	if (s->commit_sleep_ms > 0)
		sleep_ms(s->commit_sleep_ms);
	if (s->commits++ < s->retry_commits) {
		snprintf(errbuf, errlen, "scripted: commit retry %lld of %lld",
		    (long long)s->commits, (long long)s->retry_commits);
		return KSINK_RETRY;
	}
	if ((fd = lock_state(s, LOCK_EX, errbuf, errlen)) == -1)
		return KSINK_FATAL;
	if ((out = fopen(s->tmp, "w")) == NULL) {
		snprintf(errbuf, errlen, "%s: %s", s->tmp, strerror(errno));
		unlock_state(fd);
		return KSINK_FATAL;
	}
	if (read_state(s, &offs, &n, out, errbuf, errlen) == -1) {
		fclose(out);
		unlock_state(fd);
		return KSINK_FATAL;
	}
	for (i = 0; i < s->n; i++) {
		const struct rec *r = &s->recs[i];

		next = stored(offs, n, r->topic, r->partition);
		if (s->fence && r->offset < next)
			fprintf(out, "fenced %s %d %lld\n", r->topic,
			    (int)r->partition, (long long)r->offset);
		else
			fprintf(out, "record %s %d %lld %s\n", r->topic,
			    (int)r->partition, (long long)r->offset, r->value);
	}
	/* The stored offsets, raised by this step's, never lowered. */
	for (i = 0; i < count; i++) {
		for (j = 0; j < n; j++)
			if (offs[j].partition == offsets[i].partition &&
			    strcmp(offs[j].topic, offsets[i].topic) == 0)
				break;
		if (j == n) {
			offs = realloc(offs, (n + 1) * sizeof(*offs));
			if (offs == NULL)
				abort();
			offs[j].topic = xstrdup(offsets[i].topic);
			offs[j].partition = offsets[i].partition;
			offs[j].next = -1;
			n++;
		}
		if (offsets[i].next_offset > offs[j].next)
			offs[j].next = offsets[i].next_offset;
	}
	for (j = 0; j < n; j++)
		fprintf(out, "offset %s %d %lld\n", offs[j].topic,
		    (int)offs[j].partition, (long long)offs[j].next);
	free_offs(offs, n);
	outfd = fileno(out);
	if (fflush(out) == EOF || fsync(outfd) == -1) {
		snprintf(errbuf, errlen, "%s: %s", s->tmp, strerror(errno));
		fclose(out);
		unlock_state(fd);
		return KSINK_FATAL;
	}
	if (fclose(out) == EOF || rename(s->tmp, s->state) == -1) {
		snprintf(errbuf, errlen, "%s: %s", s->state, strerror(errno));
		unlock_state(fd);
		return KSINK_FATAL;
	}
	unlock_state(fd);
	clear_batch(s);
	s->in_step = 0;
	return KSINK_OK;
}

static void
s_abort(void *sink)
{
	struct scripted *s = sink;

	clear_batch(s);
	s->in_step = 0;
}

static void
s_close(void *sink)
{
	struct scripted *s = sink;
	size_t i;

	if (s == NULL)
		return;
	clear_batch(s);
	free(s->recs);
	free(s->state);
	free(s->tmp);
	free(s->lock);
	for (i = 0; i < s->npoison; i++)
		free(s->poison[i]);
	free(s->poison);
	free(s);
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS | KSINK_CAP_RETRY_PROGRESS,
	.name = "scripted",
	.version = "1",
	.description = "test sink with scripted failures",
	.options = options,
	.open = s_open,
	.load_offsets = s_load_offsets,
	.begin = s_begin,
	.write = s_write,
	.commit = s_commit,
	.abort = s_abort,
	.close = s_close
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	if (host == NULL || host->abi_major != KSINK_ABI_MAJOR)
		return NULL;
	return &desc;
}
