/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker.c - one connector: a thread running the batch loop.
 *
 * Records are polled (consumer.c) into a queue of pending messages.  A
 * batch is the head of that queue, cut by batch.max.records,
 * batch.max.bytes and batch.max.ms, and is applied as one atomic step of
 * the sink: begin, write, commit(next offsets).  The sink stores the
 * offsets in that step, so the sink, never Kafka, says where to start
 * (consumer.c asks it at each assignment).  Kafka group offsets are
 * committed afterwards, for lag tools only.
 *
 * A message handed out by librdkafka is never dropped while its partition
 * stays assigned: its offset is past the consumer's position, so dropping
 * it would skip it.  Messages are dropped only when their partition is
 * revoked, and then the next owner starts from the sink's offsets.
 *
 * The loop is in one phase at a time (w->phase):
 *
 *	COLLECT  polling records into the queue
 *	         -> APPLY when a batch is due
 *	         -> DRAIN when a revocation comes (from inside a poll) or
 *	            the connector stops
 *	APPLY    applying the head batch: begin, write, commit
 *	         -> COLLECT when committed (or skipped as poison)
 *	         -> BACKOFF on RETRY
 *	         -> FAILED on FATAL, CONFIG, POISON without tolerance, or
 *	            when errors.retry.timeout.ms has passed
 *	BACKOFF  the batch's partitions are paused and the consumer served
 *	         until the next attempt -> APPLY
 *	         -> DROPPED when a revocation took queued records meanwhile
 *	         -> COLLECT when the connector stops
 *	DROPPED  the batch's records are gone: give it up -> COLLECT
 *	DRAIN    applying what is held while partitions are being revoked
 *	         or the connector stops, with REVOKE_TRIES attempts and no
 *	         polling -> COLLECT (or the loop ends)
 *	FAILED   final; the loop ends and the consumer leaves the group
 *
 * Besides the phase, the admin endpoint may pause the connector (paused):
 * no batch is cut then, and the partitions are paused; what was polled
 * is held.
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "check.h"
#include "conf.h"
#include "consumer.h"
#include "convert.h"
#include "dlq.h"
#include "log.h"
#include "options.h"
#include "retry.h"
#include "sink.h"
#include "stats.h"
#include "util.h"
#include "worker.h"

/* The longest a poll blocks, so that a stop or a pause is seen soon. */
#define POLL_MAX_MS 100
/* Attempts at a batch while draining: its partitions are being taken
 * away, and the next owner applies it when this one cannot. */
#define REVOKE_TRIES 3

enum phase {
	PHASE_COLLECT,
	PHASE_APPLY,
	PHASE_BACKOFF,
	PHASE_DROPPED,
	PHASE_DRAIN,
	PHASE_FAILED
};

struct ks_worker {
	char *name;
	char *who;
	const struct ks_conf *conf;
	const struct ks_section *sec;
	struct ks_plugin *plugin;
	const struct ksink_sink *desc;
	struct ksink_ctx *ctx;
	void *sink;
	int opened;		/* open() succeeded: close() is owed */
	struct ks_consumer *consumer;
	struct ks_dlq *dlq;	/* NULL: none */
	struct ks_convert *conv; /* NULL: key and value are bytes */

	struct ks_batch_size size;	/* records per batch */
	int64_t step_us, commit_us;	/* of the last step */
	int64_t step_start_ms;		/* of the last applied batch */
	int64_t step_end_ms;		/* 0 once polled after it */
	int64_t max_bytes;
	int64_t max_ms;
	int64_t retry_timeout_ms;
	int64_t backoff_max_ms;
	int tolerance_all;
	int log_messages;	/* errors.log.include.messages */

	enum phase phase;
	int paused;		/* by the admin endpoint, and in effect */
	atomic_int pause_req;	/* what the admin endpoint asks for */
	atomic_int stop;

	struct ks_batch q;	/* polled messages; the batch is the head */
	/* The head batch's decoding: the next record to decode, and the
	 * records the converters refused (by index, ascending), which
	 * apply() skips as it skips the sink's poison records. */
	size_t dec_next;
	struct dec_poison {
		size_t idx;
		char *why;
	} *dp;
	size_t ndp, dp_cap;

	struct ks_stats stats;	/* read by the admin endpoint too */

	pthread_t thread;
	int started;
	ks_worker_done_fn done;
	void *done_arg;
};

static int flush_batch(struct ks_worker *w);
static int on_load_offsets(void *, struct ksink_offset *, size_t, char *,
    size_t);
static void on_revoke(void *, const rd_kafka_topic_partition_list_t *, int);
static void on_assigned(void *);
static void on_fail(void *, const char *);

const char *
ks_worker_state_name(int state)
{
	return ks_stats_state_name(state);
}

const char *
ks_worker_name(const struct ks_worker *w)
{
	return w->name;
}

/* What the admin endpoint shows, from the phase and the pause. */
static void
show_state(struct ks_worker *w)
{
	int s;

	if (w->phase == PHASE_FAILED)
		s = KS_STATE_FAILED;
	else if (w->paused)
		s = KS_STATE_PAUSED;
	else if (w->phase == PHASE_BACKOFF)
		s = KS_STATE_RETRYING;
	else if (w->consumer == NULL ||
	    ks_consumer_assignments(w->consumer) == 0)
		s = KS_STATE_STARTING;
	else
		s = KS_STATE_RUNNING;
	ks_stats_set_state(&w->stats, s);
}

/* Pauses or resumes the assignment as the phase and the admin want. */
static void
sync_pause(struct ks_worker *w)
{
	if (w->consumer != NULL)
		ks_consumer_pause(w->consumer,
		    w->paused || w->phase == PHASE_BACKOFF);
	show_state(w);
}

void
ks_worker_set_paused(struct ks_worker *w, int paused)
{
	atomic_store(&w->pause_req, paused);
}

void
ks_worker_snapshot(struct ks_worker *w, struct ks_worker_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->name = w->name;
	s->type = w->desc ? w->desc->name : "?";
	ks_stats_snapshot(&w->stats, s);
}

void
ks_worker_snapshot_free(struct ks_worker_snapshot *s)
{
	ks_stats_snapshot_free(s);
}

void
ks_worker_get_stats(struct ks_worker *w, struct ks_worker_stats *st)
{
	ks_stats_get(&w->stats, st);
}

static void
fail(struct ks_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The connector stops: the error is kept (under the statistics' lock:
 * the admin endpoint shows it) and said once. */
static void
fail(struct ks_worker *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (w->phase == PHASE_FAILED)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	w->phase = PHASE_FAILED;
	atomic_store(&w->stop, 1);
	ks_stats_fail(&w->stats, msg);
}

/* ---- set up ---- */

static struct ks_worker *
worker_new(const struct ks_conf *conf, const struct ks_section *sec,
    const char *plugin_dir, struct ks_errors *errs)
{
	struct ks_consumer_cb cb = { .load_offsets = on_load_offsets,
	    .revoke = on_revoke, .assigned = on_assigned, .fail = on_fail };
	const struct ks_kv *kv;
	rd_kafka_conf_t *rkconf;
	struct ks_worker *w;
	char path[4096], err[1024];
	size_t before = errs->count;
	int reset;

	w = ks_util_xcalloc(1, sizeof(*w));
	w->name = ks_util_strdup(sec->name);
	if (asprintf(&w->who, "connector %s", sec->name) == -1)
		w->who = ks_util_strdup(sec->name);
	w->conf = conf;
	w->sec = sec;
	atomic_init(&w->stop, 0);
	atomic_init(&w->pause_req, 0);
	ks_stats_init(&w->stats, w->who, ks_conf_int(sec,
	    ks_options_connector, "stall.warn.ms"));

	kv = ks_conf_kv(sec, "type");
	if (kv != NULL && *kv->value != '\0') {
		if (ks_sink_path(kv->value, plugin_dir, path, sizeof(path),
		    err, sizeof(err)) == -1 ||
		    (w->plugin = ks_sink_load(path, err, sizeof(err))) ==
		    NULL)
			ks_errors_add(errs, "%s:%d: %s", conf->path, kv->line,
			    err);
	}
	w->desc = w->plugin ? w->plugin->desc : NULL;
	ks_sink_validate(conf, sec, w->desc, errs);
	/* The plugin's own rules, on values its table accepted. */
	if (w->plugin != NULL && errs->count == before)
		(void)ks_sink_check(conf->path, sec, w->plugin, errs);
	rkconf = ks_consumer_conf(conf, sec, &reset, errs);
	ks_check_connector(conf, sec, rkconf, w->desc, errs);
	w->tolerance_all = strcmp(ks_conf_str(sec, ks_options_connector,
	    "errors.tolerance"), "all") == 0;
	if (w->tolerance_all)
		w->dlq = ks_dlq_new(conf, sec, errs);
	if (errs->count != before) {
		if (rkconf != NULL)
			rd_kafka_conf_destroy(rkconf);
		ks_worker_free(w);
		return NULL;
	}
	ks_batch_size_init(&w->size, ks_conf_int(sec, ks_options_connector,
	    "batch.max.records"), ks_conf_bool(sec, ks_options_connector,
	    "batch.adaptive"));
	ks_stats_batch_limit(&w->stats, w->size.limit);
	w->max_bytes = ks_conf_int(sec, ks_options_connector,
	    "batch.max.bytes");
	w->max_ms = ks_conf_int(sec, ks_options_connector, "batch.max.ms");
	w->retry_timeout_ms = ks_conf_int(sec, ks_options_connector,
	    "errors.retry.timeout.ms");
	w->backoff_max_ms = ks_conf_int(sec, ks_options_connector,
	    "errors.retry.backoff.max.ms");
	w->log_messages = ks_conf_bool(sec, ks_options_connector,
	    "errors.log.include.messages");
	w->ctx = ks_sink_ctx_new(sec->name, sec, w->plugin);
	ks_sink_ctx_set_stats(w->ctx, &w->stats);
	cb.arg = w;
	w->consumer = ks_consumer_new(rkconf, reset, w->who,
	    ks_conf_str(sec, ks_options_connector, "topics"), &w->stats, &cb);
	return w;
}

int
ks_worker_open(struct ks_worker *w, int *config_error, char *errbuf,
    size_t errlen)
{
	char err[1024] = "";
	int st;

	*config_error = 0;
	if ((st = ks_convert_new(w->sec, &w->conv, err, sizeof(err))) !=
	    KSINK_OK) {
		*config_error = st == KSINK_CONFIG;
		ks_util_errf(errbuf, errlen, "%s: %s", w->who, err);
		return -1;
	}
	ks_sink_ctx_set_convert(w->ctx, w->conv);
	st = w->desc->open(&ks_sink_host, w->ctx, &w->sink, err, sizeof(err));
	if (st != KSINK_OK) {
		*config_error = st == KSINK_CONFIG;
		ks_util_errf(errbuf, errlen, "%s: sink %s cannot open: %s",
		    w->who, w->desc->name, *err ? err : ksink_status_name(st));
		w->sink = NULL;
		return -1;
	}
	w->opened = 1;
	return 0;
}

const struct ksink_sink *
ks_worker_sink(const struct ks_worker *w, void **sink)
{
	if (sink != NULL)
		*sink = w->sink;
	return w->desc;
}

const char *
ks_worker_plugin_path(const struct ks_worker *w)
{
	return w->plugin->path;
}

void
ks_worker_close(struct ks_worker *w)
{
	if (w->opened)
		w->desc->close(w->sink);
	w->opened = 0;
	w->sink = NULL;
}

struct load_args {
	struct ks_worker *w;
	struct ksink_offset *offs;
	size_t n;
};

static int
load_once(void *arg, char *errbuf, size_t errlen)
{
	struct load_args *a = arg;
	size_t i;

	for (i = 0; i < a->n; i++)
		a->offs[i].next_offset = KSINK_OFFSET_NONE;
	return a->w->desc->load_offsets(a->w->sink, a->offs, a->n, errbuf,
	    errlen);
}

int
ks_worker_load_offsets(struct ks_worker *w, struct ksink_offset *offs,
    size_t n, char *errbuf, size_t errlen)
{
	struct load_args a = { w, offs, n };

	return ks_retry_call(load_once, &a, w->who, "read its offsets", errbuf,
	    errlen);
}

/* Drops queued messages of the given partitions (all when NULL); a
 * batch waiting for its retry loses its records then. */
static void
pending_drop(struct ks_worker *w, const rd_kafka_topic_partition_list_t *l)
{
	size_t dropped = ks_batch_drop(&w->q, l);

	if (dropped == 0)
		return;
	if (w->phase == PHASE_BACKOFF)
		w->phase = PHASE_DROPPED;
	ks_log_msg(KSINK_LOG_DEBUG, w->who, "dropped %zu unapplied records of "
	    "revoked partitions", dropped);
}

/* ---- what the consumer asks ---- */

static int
on_load_offsets(void *arg, struct ksink_offset *offs, size_t n, char *errbuf,
    size_t errlen)
{
	struct ks_worker *w = arg;

	return w->desc->load_offsets(w->sink, offs, n, errbuf, errlen);
}

static void
on_revoke(void *arg, const rd_kafka_topic_partition_list_t *parts, int lost)
{
	struct ks_worker *w = arg;

	/* Finish the open batch while we still own its partitions; if that
	 * fails, or the partitions are already lost, drop it: nothing of it
	 * was stored, so the next owner applies it.  A batch waiting for
	 * its retry (BACKOFF) is given up instead. */
	if (!lost && w->phase == PHASE_COLLECT && w->q.n > 0) {
		w->phase = PHASE_DRAIN;
		while (w->q.n > 0 && flush_batch(w) == 1)
			;
		if (w->phase == PHASE_DRAIN)
			w->phase = PHASE_COLLECT;
	}
	pending_drop(w, parts);
}

static void
on_assigned(void *arg)
{
	show_state(arg);
}

static void
on_fail(void *arg, const char *msg)
{
	fail(arg, "%s", msg);
}

/* ---- one batch ---- */

/*
 * A record that can never be applied, refused by the sink or by the
 * converters (why): errors.tolerance = none stops the connector
 * (KSINK_POISON, the step aborted); all skips it, after sending it as read
 * from Kafka to the dead letter queue (KSINK_OK; KSINK_RETRY when it
 * cannot be sent).
 */
static int
skip_poison(struct ks_worker *w, size_t idx, const char *why, char *ebuf,
    size_t elen)
{
	const struct ksink_record *r = &w->q.recs[idx];
	struct ksink_record raw;
	char what[1200], msg[1024];

	snprintf(msg, sizeof(msg), "%s", why);
	what[0] = '\0';
	if (w->log_messages) {
		what[0] = ' ';
		ks_batch_describe(r, what + 1, sizeof(what) - 1);
	}
	if (!w->tolerance_all) {
		if (w->desc->abort)
			w->desc->abort(w->sink);
		fail(w, "record %s/%d@%lld cannot be applied: %s;%s fix "
		    "the record or the sink's settings, or set "
		    "errors.tolerance = all to skip such records",
		    r->topic, r->partition, (long long)r->offset, msg, what);
		return KSINK_POISON;
	}
	ks_log_msg(KSINK_LOG_WARN, w->who, "skipping record "
	    "%s/%d@%lld (errors.tolerance = all%s): %s;%s",
	    r->topic, r->partition, (long long)r->offset, w->dlq ?
	    ", sent to the dead letter queue" : "", msg, what);
	ks_convert_raw(w->conv, r, &raw);
	if (w->dlq != NULL && ks_dlq_produce(w->dlq, &raw, msg, ebuf,
	    elen) == -1)
		return KSINK_RETRY;
	return KSINK_OK;
}

/* Microseconds of the monotonic clock: a step of the null sink takes a
 * few milliseconds. */
static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * One attempt at applying recs[0..k) as one atomic step.  Returns a
 * KSINK_* status; *poison counts the records skipped under
 * errors.tolerance = all; after KSINK_RETRY, *moved counts the records
 * that took effect for good all the same (KSINK_CAP_RETRY_PROGRESS).
 */
static int
apply(struct ks_worker *w, size_t k, uint64_t *poison, size_t *moved,
    char *ebuf, size_t elen)
{
	struct ksink_offset *offs;
	size_t i = 0, done, idx, end, dp = 0;
	const char *why;
	int st;

	*poison = 0;
	*moved = 0;
	*ebuf = '\0';
	w->step_us = now_us();
	w->commit_us = -1;
	st = w->desc->begin(w->sink, ebuf, elen);
	while (st == KSINK_OK && i < k) {
		/* The records up to the next one the converters refused. */
		while (dp < w->ndp && w->dp[dp].idx < i)
			dp++;
		end = dp < w->ndp ? w->dp[dp].idx : k;
		if (i < end) {
			done = 0;
			st = w->desc->write(w->sink, w->q.recs + i, end - i,
			    &done, ebuf, elen);
			if (st == KSINK_RETRY &&
			    (w->desc->caps & KSINK_CAP_RETRY_PROGRESS))
				*moved = i + (done < end - i ? done : end - i);
			if (st == KSINK_OK) {
				i = end;
				continue;
			}
			if (st != KSINK_POISON)
				break;
			idx = i + done;
			if (idx >= end) {
				ks_util_errf(ebuf, elen, "sink reported a "
				    "poison record past the end of the batch");
				st = KSINK_FATAL;
				break;
			}
			why = ebuf;
		} else {
			idx = i;
			why = w->dp[dp].why;
		}
		if ((st = skip_poison(w, idx, why, ebuf, elen)) != KSINK_OK)
			break;
		(*poison)++;
		i = idx + 1;
	}
	if (st == KSINK_POISON)
		return st;	/* skip_poison() failed the connector */
	/* A skipped record's offset is stored only once its dead letter
	 * is safe with the broker. */
	if (st == KSINK_OK && w->dlq != NULL && *poison > 0 &&
	    ks_dlq_flush(w->dlq, ebuf, elen) == -1)
		st = KSINK_RETRY;
	if (st == KSINK_OK) {
		offs = ks_util_xcalloc(w->q.nparts, sizeof(*offs));
		for (i = 0; i < w->q.nparts; i++) {
			offs[i].topic = w->q.parts[i].topic;
			offs[i].partition = w->q.parts[i].partition;
			offs[i].next_offset = w->q.parts[i].next;
		}
		w->commit_us = now_us();
		st = w->desc->commit(w->sink, offs, w->q.nparts, ebuf, elen);
		w->commit_us = now_us() - w->commit_us;
		free(offs);
	}
	w->step_us = now_us() - w->step_us;
	if (st != KSINK_OK && w->desc->abort)
		w->desc->abort(w->sink);
	return st;
}

/* The head batch of k records is new: nothing of it decoded yet. */
static void
decode_begin(struct ks_worker *w, size_t k)
{
	size_t i;

	for (i = 0; i < w->ndp; i++)
		free(w->dp[i].why);
	w->ndp = 0;
	w->dec_next = 0;
	if (w->conv != NULL)
		ks_convert_begin(w->conv, w->q.recs, k);
}

/*
 * Decodes what the converters have not done yet of the head batch of k
 * records, once for all the attempts at it.  KSINK_OK when every record
 * is decoded or refused (kept in w->dp for apply()); KSINK_RETRY or
 * KSINK_FATAL with ebuf filled, the next attempt going on from there.
 */
static int
decode(struct ks_worker *w, size_t k, char *ebuf, size_t elen)
{
	size_t at;
	int st;

	while (w->conv != NULL && w->dec_next < k) {
		st = ks_convert_decode(w->conv, w->dec_next, &at, ebuf, elen);
		w->dec_next = at;
		if (st == KSINK_OK)
			break;
		if (st != KSINK_POISON)
			return st;
		if (w->ndp == w->dp_cap) {
			w->dp_cap = w->dp_cap ? 2 * w->dp_cap : 16;
			w->dp = ks_util_xrealloc(w->dp,
			    w->dp_cap * sizeof(*w->dp));
		}
		w->dp[w->ndp].idx = at;
		w->dp[w->ndp++].why = ks_util_strdup(ebuf);
		w->dec_next = at + 1;
	}
	*ebuf = '\0';
	return KSINK_OK;
}

/* BACKOFF: waits ms while serving the consumer.  0 when the wait ran
 * out; -1 when the connector stops or a revocation dropped queued
 * records (DROPPED: the batch's records may be freed), even if that
 * happened in the last poll of the wait. */
static int
backoff_wait(struct ks_worker *w, int64_t ms)
{
	int64_t deadline = ks_util_now_ms() + ms, left;
	rd_kafka_message_t *m;

	while (!atomic_load(&w->stop) && w->phase == PHASE_BACKOFF &&
	    (left = deadline - ks_util_now_ms()) > 0) {
		m = ks_consumer_poll(w->consumer,
		    (int)(left < POLL_MAX_MS ? left : POLL_MAX_MS));
		if (m != NULL)
			ks_batch_push(&w->q, m);
	}
	return atomic_load(&w->stop) || w->phase != PHASE_BACKOFF ? -1 : 0;
}

/*
 * APPLY (or DRAIN): applies the batch at the head of the pending queue.
 * Returns 1 when it was applied, 0 when it was given up without harm
 * (stop requested, or a revocation took its records), -1 when the
 * connector failed.  While draining, the consumer is not polled and the
 * attempts are few.
 */
static int
flush_batch(struct ks_worker *w)
{
	int draining = w->phase == PHASE_DRAIN, st, ret;
	const char *what = "sink";
	int64_t wait, t0 = 0, start = ks_util_now_ms();
	struct ks_retry r;
	size_t k, moved, moved_all = 0;
	uint64_t poison;
	char ebuf[1024];

	if (w->phase == PHASE_FAILED)
		return -1;
	k = ks_batch_cut(&w->q, w->size.limit, w->max_bytes);
	if (k == 0)
		return 1;
	ks_batch_build(&w->q, k);
	decode_begin(w, k);
	ks_retry_init(&r, w->backoff_max_ms, w->retry_timeout_ms);
	for (;;) {
		if (!draining)
			w->phase = PHASE_APPLY;
		t0 = ks_util_now_ms();
		(void)ks_sink_ctx_retry_after(w->ctx);
		moved = 0;
		/* what: whose failure this is, or the last one was. */
		if ((st = decode(w, k, ebuf, sizeof(ebuf))) != KSINK_OK)
			what = "converter";
		else if ((st = apply(w, k, &poison, &moved, ebuf,
		    sizeof(ebuf))) != KSINK_OK)
			what = "sink";
		if (st == KSINK_OK)
			break;
		if (w->phase == PHASE_FAILED) {
			ret = -1;	/* apply() said why */
			goto out;
		}
		if (st != KSINK_RETRY) {
			fail(w, "%s failed (%s): %s", what, ksink_status_name(st),
			    *ebuf ? ebuf : "no detail");
			ret = -1;
			goto out;
		}
		ks_stats_retried(&w->stats);
		/* Records that took effect are skipped by the next attempt:
		 * the batch moves, and its backoff starts again.  They add
		 * up to k at most, so a failing batch still times out. */
		if (moved > 0 && moved_all < k) {
			moved_all += moved;
			ks_retry_progress(&r);
		}
		/* A wait the sink was told (Retry-After) is not a failure
		 * of its own: it does not lengthen the backoff. */
		if ((wait = ks_sink_ctx_retry_after(w->ctx)) >= 0)
			wait = ks_retry_asked(&r, wait);
		else
			wait = ks_retry_next(&r);
		if (wait < 0) {
			fail(w, "%s kept failing for %lld ms "
			    "(errors.retry.timeout.ms): %s", what,
			    (long long)ks_retry_elapsed(&r), ebuf);
			ret = -1;
			goto out;
		}
		if (draining && r.attempt >= REVOKE_TRIES) {
			ks_log_msg(KSINK_LOG_WARN, w->who, "giving up a batch "
			    "of %zu records at revocation, the next owner "
			    "applies it: %s", k, ebuf);
			ret = 0;
			goto out;
		}
		ks_log_msg(r.attempt == 1 ? KSINK_LOG_WARN : KSINK_LOG_DEBUG,
		    w->who, "%s failed transiently (attempt %d): %s; "
		    "retrying in %lld ms", what, r.attempt, ebuf,
		    (long long)wait);
		if (draining) {
			ks_util_sleep_ms(wait);
			continue;
		}
		if (w->phase != PHASE_BACKOFF) {
			w->phase = PHASE_BACKOFF;
			sync_pause(w);
		}
		if (backoff_wait(w, wait) == -1) {
			ret = 0;
			goto out;
		}
	}
	if (r.attempt > 0)
		ks_log_msg(KSINK_LOG_INFO, w->who, "%s recovered after %d "
		    "attempts", what, r.attempt + 1);
	if (r.attempt == 0 && !draining && ks_batch_size_adapt(&w->size, k,
	    w->step_us, w->commit_us)) {
		ks_stats_batch_limit(&w->stats, w->size.limit);
		ks_log_msg(KSINK_LOG_DEBUG, w->who, "batches of up to %lld "
		    "records: the last commit took %lld of %lld us",
		    (long long)w->size.limit, (long long)w->commit_us,
		    (long long)w->step_us);
	}
	ks_consumer_commit(w->consumer, w->q.parts, w->q.nparts);
	ks_stats_batch(&w->stats, k, poison, w->dlq != NULL ? poison : 0,
	    ks_util_now_ms() - t0, w->q.parts, w->q.nparts);
	ks_batch_shift(&w->q, k, start);
	/* What arrived during the step waits from its start, not from its
	 * end: batch.max.ms counts from when a record could first be
	 * polled. */
	w->step_start_ms = start;
	w->step_end_ms = ks_util_now_ms();
	ret = 1;
out:
	/* Applied, failed, or given up: either way nothing is retried any
	 * more, and paused partitions with nothing pending would never be
	 * resumed. */
	if (w->phase == PHASE_APPLY || w->phase == PHASE_BACKOFF ||
	    w->phase == PHASE_DROPPED) {
		w->phase = PHASE_COLLECT;
		sync_pause(w);
	}
	return ret;
}

static int
batch_full(const struct ks_worker *w)
{
	return (int64_t)w->q.n >= w->size.limit ||
	    (int64_t)w->q.bytes >= w->max_bytes;
}

static int
batch_due(const struct ks_worker *w, int64_t now)
{
	/* Paused by the admin endpoint: hold what was polled. */
	return w->q.n > 0 && !w->paused && w->phase != PHASE_FAILED &&
	    (batch_full(w) || now - w->q.first_ms >= w->max_ms);
}

/* ---- the thread ---- */

/* Applies a pause or resume the admin endpoint asked for. */
static void
admin_pause(struct ks_worker *w)
{
	if (atomic_load(&w->pause_req) == w->paused)
		return;
	w->paused = !w->paused;
	sync_pause(w);
	ks_log_msg(KSINK_LOG_INFO, w->who, "%s", w->paused ? "paused" :
	    "resumed");
}

static int
run(struct ks_worker *w)
{
	rd_kafka_message_t *m;
	char err[512];
	int64_t left, now, since;
	rd_kafka_t *rk;
	int timeout, fresh;

	if (ks_consumer_start(w->consumer, err, sizeof(err)) == -1 ||
	    (w->dlq != NULL && ks_dlq_start(w->dlq, err, sizeof(err)) == -1)) {
		fail(w, "%s", err);
		goto close;
	}
	rk = ks_consumer_handle(w->consumer);
	ks_log_msg(KSINK_LOG_INFO, w->who, "running: topics %s, sink %s",
	    ks_conf_str(w->sec, ks_options_connector, "topics"),
	    w->desc->name);
	while (!atomic_load(&w->stop)) {
		admin_pause(w);
		now = ks_util_now_ms();
		ks_stats_watermarks(&w->stats, rk, now);
		ks_stats_stalls(&w->stats, rk, now, w->paused);
		timeout = POLL_MAX_MS;
		if (w->q.n > 0) {
			left = w->q.first_ms + w->max_ms - now;
			timeout = left < 0 ? 0 : left < POLL_MAX_MS ?
			    (int)left : POLL_MAX_MS;
		}
		if (!batch_due(w, now)) {
			fresh = w->q.n == 0;
			m = ks_consumer_poll(w->consumer, timeout);
			/* The first poll after a step found a record
			 * waiting: it arrived during the step. */
			since = m != NULL && fresh && w->step_end_ms > 0 &&
			    ks_util_now_ms() - w->step_end_ms <= 1 ?
			    w->step_start_ms : -1;
			w->step_end_ms = 0;
			/* Take what else is ready, up to the batch's limits,
			 * without looking at the clock for each record. */
			while (m != NULL) {
				ks_batch_push(&w->q, m);
				m = batch_full(w) || atomic_load(&w->stop) ?
				    NULL : ks_consumer_poll(w->consumer, 0);
			}
			if (since >= 0 && w->q.n > 0 && since < w->q.first_ms)
				w->q.first_ms = since;
			now = ks_util_now_ms();
		}
		if (batch_due(w, now) && flush_batch(w) == -1)
			break;
	}
	/* Stopping: apply what we hold, once, then leave the group. */
	if (w->phase != PHASE_FAILED) {
		w->phase = PHASE_DRAIN;
		while (w->q.n > 0 && flush_batch(w) == 1)
			;
		if (w->phase == PHASE_DRAIN)
			w->phase = PHASE_COLLECT;
	}
close:
	pending_drop(w, NULL);
	ks_consumer_close(w->consumer);
	pending_drop(w, NULL);
	ks_dlq_stop(w->dlq);
	ks_stats_set_state(&w->stats, KS_STATE_STOPPED);
	return w->phase == PHASE_FAILED ? -1 : 0;
}

static void *
thread_main(void *arg)
{
	struct ks_worker *w = arg;
	sigset_t set;
	int rc;

	/* Signals are the main thread's. */
	sigfillset(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	rc = run(w);
	if (w->done != NULL)
		w->done(w, rc != 0, w->done_arg);
	return NULL;
}

int
ks_worker_start(struct ks_worker *w, ks_worker_done_fn done, void *arg)
{
	w->done = done;
	w->done_arg = arg;
	if (pthread_create(&w->thread, NULL, thread_main, w) != 0)
		return -1;
	w->started = 1;
	return 0;
}

void
ks_worker_stop(struct ks_worker *w)
{
	atomic_store(&w->stop, 1);
}

int
ks_worker_join(struct ks_worker *w)
{
	if (w->started) {
		pthread_join(w->thread, NULL);
		w->started = 0;
	}
	return w->phase == PHASE_FAILED ? -1 : 0;
}

void
ks_worker_free(struct ks_worker *w)
{
	if (w == NULL)
		return;
	ks_consumer_free(w->consumer);
	ks_worker_close(w);
	ks_dlq_free(w->dlq);
	decode_begin(w, 0);
	free(w->dp);
	ks_convert_free(w->conv);
	ks_sink_ctx_free(w->ctx);
	ks_sink_unload(w->plugin);
	ks_stats_destroy(&w->stats);
	ks_batch_free(&w->q);
	free(w->who);
	free(w->name);
	free(w);
}

int
ks_worker_load_all(const struct ks_conf *conf, struct ks_errors *errs,
    struct ks_worker ***workers, size_t *count)
{
	const struct ks_section *wsec, **secs;
	const struct ksink_option **opts;
	const struct ks_section *s;
	struct ks_worker *w, **ws = NULL;
	const char *dir;
	size_t n = 0, i;
	int level;

	wsec = ks_conf_section(conf, KS_SEC_WORKER);
	ks_check_worker(conf, errs);
	level = ks_log_level_parse(ks_conf_str(wsec, ks_options_worker,
	    "log.level"));
	ks_log_set_level(level < 0 ? KSINK_LOG_INFO : level);
	dir = ks_sink_plugin_dir(wsec);
	for (s = conf->sections; s != NULL; s = s->next) {
		if (s->kind != KS_SEC_CONNECTOR)
			continue;
		ks_check_group(conf, s, errs);
		if ((w = worker_new(conf, s, dir, errs)) == NULL)
			continue;
		ws = ks_util_xrealloc(ws, (n + 1) * sizeof(*ws));
		ws[n++] = w;
	}
	if (n == 0 && errs->count == 0) {
		for (s = conf->sections; s != NULL; s = s->next)
			if (s->kind == KS_SEC_CONNECTOR)
				break;
		if (s == NULL)
			ks_errors_add(errs, "%s: no [connector NAME] section: "
			    "nothing to run", conf->path);
	}
	secs = ks_util_xcalloc(n + 1, sizeof(*secs));
	opts = ks_util_xcalloc(n + 1, sizeof(*opts));
	for (i = 0; i < n; i++) {
		secs[i] = ws[i]->sec;
		opts[i] = ws[i]->desc->options;
	}
	ks_check_secrets(conf, secs, opts, n, errs);
	free(secs);
	free(opts);
	*workers = ws;
	*count = n;
	return errs->count == 0 ? 0 : -1;
}
