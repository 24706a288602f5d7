/*
 * worker.c - one connector: a consumer thread running the batch loop.
 *
 * Records are polled into a queue of pending messages.  A batch is the
 * head of that queue, cut by batch.max.records, batch.max.bytes and
 * batch.max.ms, and is applied as one atomic step of the sink:
 * begin, write, commit(next offsets).  The sink stores the offsets in that
 * step, so the sink, never Kafka, says where to start: on assignment the
 * worker asks the sink for its stored offsets and assigns explicitly from
 * them.  Kafka group offsets are committed afterwards, for lag tools only.
 *
 * A message handed out by librdkafka is never dropped while its partition
 * stays assigned: its offset is past the consumer's position, so dropping
 * it would skip it.  Messages are dropped only when their partition is
 * revoked, and then the next owner starts from the sink's offsets.
 *
 * RETRY: the step is aborted, the partitions are paused and the consumer
 * keeps being polled (so the group never times us out) while we back off,
 * then the same batch is replayed.  POISON: errors.tolerance decides.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "options.h"
#include "sink.h"
#include "util.h"
#include "worker.h"

#define POLL_MAX_MS 100
#define BACKOFF_FIRST_MS 100
/* How long a revocation may wait for a failing sink before giving up. */
#define REVOKE_TRIES 3

struct part {
	const char *topic;	/* borrowed from a pending message */
	int32_t partition;
	int64_t next;
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
	rd_kafka_conf_t *rkconf;
	rd_kafka_t *rk;
	char *topics;

	int64_t max_records;
	int64_t max_bytes;
	int64_t max_ms;
	int64_t retry_timeout_ms;
	int64_t backoff_max_ms;
	int tolerance_all;
	int reset;

	/* Pending messages, oldest first; the batch is the head. */
	rd_kafka_message_t **msgs;
	size_t n, cap;
	size_t bytes;
	int64_t first_ms;

	/* Scratch reused by every batch. */
	struct ksink_record *recs;
	size_t recs_cap;
	struct ksink_header *hdrs;
	size_t hdrs_cap;
	struct part *parts;
	size_t parts_cap, nparts;

	int in_flush;		/* a batch is being applied or retried */
	int invalidated;	/* a revocation dropped pending messages */
	int paused;
	atomic_int stop;
	int failed;
	char error[1024];

	struct ks_worker_stats stats;
	pthread_mutex_t stats_lock;

	pthread_t thread;
	int started;
	ks_worker_done_fn done;
	void *done_arg;

	/* Rate limit for repeating consumer errors. */
	int64_t last_err_ms;
	int last_err_code;
	unsigned suppressed;
};

static int flush_batch(struct ks_worker *w, int revoking);

const char *
ks_worker_name(const struct ks_worker *w)
{
	return w->name;
}

void
ks_worker_get_stats(const struct ks_worker *w, struct ks_worker_stats *st)
{
	pthread_mutex_lock((pthread_mutex_t *)&w->stats_lock);
	*st = w->stats;
	pthread_mutex_unlock((pthread_mutex_t *)&w->stats_lock);
}

static void
fail(struct ks_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct ks_worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failed)
		return;
	va_start(ap, fmt);
	vsnprintf(w->error, sizeof(w->error), fmt, ap);
	va_end(ap);
	w->failed = 1;
	atomic_store(&w->stop, 1);
	ks_log_msg(KSINK_LOG_ERROR, w->who, "%s", w->error);
}

struct ks_worker *
ks_worker_new(const struct ks_conf *conf, const struct ks_section *sec,
    const char *plugin_dir, struct ks_errors *errs)
{
	const struct ksink_option *tabs[2];
	const struct ks_kv *kv;
	struct ks_worker *w;
	char path[4096], err[1024];
	size_t before = errs->count;

	w = ks_util_xcalloc(1, sizeof(*w));
	w->name = ks_util_strdup(sec->name);
	if (asprintf(&w->who, "connector %s", sec->name) == -1)
		w->who = ks_util_strdup(sec->name);
	w->conf = conf;
	w->sec = sec;
	pthread_mutex_init(&w->stats_lock, NULL);
	atomic_init(&w->stop, 0);

	kv = ks_conf_kv(sec, "type");
	if (kv != NULL && *kv->value != '\0') {
		if (ks_sink_path(kv->value, plugin_dir, path, sizeof(path),
		    err, sizeof(err)) == -1 ||
		    (w->plugin = ks_sink_load(path, err, sizeof(err))) ==
		    NULL)
			ks_errors_add(errs, "%s:%d: %s", conf->path, kv->line,
			    err);
	}
	tabs[0] = ks_options_connector;
	tabs[1] = w->plugin ? w->plugin->desc->options : NULL;
	/* Without its plugin, the plugin's keys cannot be checked: check
	 * only ours. */
	ks_conf_validate(conf, sec, tabs, 2, "kafka.", w->plugin == NULL,
	    errs);

	w->rkconf = ks_consumer_conf(conf, sec, &w->reset, errs);

	if (w->plugin != NULL) {
		w->desc = w->plugin->desc;
		if (!(w->desc->caps & KSINK_CAP_ATOMIC_OFFSETS) &&
		    strcmp(ks_conf_str(sec, ks_options_connector,
		    "delivery.guarantee"), "at_least_once") != 0)
			ks_errors_add(errs, "%s:%d: [connector %s]: sink %s "
			    "cannot store offsets atomically with its "
			    "effects, so it cannot be exactly-once; set "
			    "delivery.guarantee = at_least_once to run it "
			    "anyway", conf->path, sec->line, sec->name,
			    w->desc->name);
	}
	if (errs->count != before) {
		ks_worker_free(w);
		return NULL;
	}
	w->topics = ks_util_strdup(ks_conf_str(sec, ks_options_connector,
	    "topics"));
	w->max_records = ks_conf_int(sec, ks_options_connector,
	    "batch.max.records");
	w->max_bytes = ks_conf_int(sec, ks_options_connector,
	    "batch.max.bytes");
	w->max_ms = ks_conf_int(sec, ks_options_connector, "batch.max.ms");
	w->retry_timeout_ms = ks_conf_int(sec, ks_options_connector,
	    "errors.retry.timeout.ms");
	w->backoff_max_ms = ks_conf_int(sec, ks_options_connector,
	    "errors.retry.backoff.max.ms");
	w->tolerance_all = strcmp(ks_conf_str(sec, ks_options_connector,
	    "errors.tolerance"), "all") == 0;
	w->ctx = ks_sink_ctx_new(sec->name, sec, w->plugin);
	return w;
}

int
ks_worker_open(struct ks_worker *w, int *config_error, char *errbuf,
    size_t errlen)
{
	char err[1024] = "";
	int st;

	*config_error = 0;
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

/* ---- pending messages ---- */

static void
pending_push(struct ks_worker *w, rd_kafka_message_t *m)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 1024;
		w->msgs = ks_util_xrealloc(w->msgs, w->cap * sizeof(*w->msgs));
	}
	if (w->n == 0)
		w->first_ms = ks_util_now_ms();
	w->msgs[w->n++] = m;
	w->bytes += m->len + m->key_len;
}

/* Removes the first k messages (an applied batch). */
static void
pending_shift(struct ks_worker *w, size_t k)
{
	size_t i;

	for (i = 0; i < k; i++) {
		w->bytes -= w->msgs[i]->len + w->msgs[i]->key_len;
		rd_kafka_message_destroy(w->msgs[i]);
	}
	memmove(w->msgs, w->msgs + k, (w->n - k) * sizeof(*w->msgs));
	w->n -= k;
	if (w->n > 0)
		w->first_ms = ks_util_now_ms();
}

static int
in_list(const rd_kafka_topic_partition_list_t *l, const char *topic,
    int32_t partition)
{
	int i;

	for (i = 0; i < l->cnt; i++)
		if (l->elems[i].partition == partition &&
		    strcmp(l->elems[i].topic, topic) == 0)
			return 1;
	return 0;
}

/* Drops pending messages of the given partitions (all when NULL). */
static void
pending_drop(struct ks_worker *w, const rd_kafka_topic_partition_list_t *l)
{
	size_t i, j = 0, dropped = 0;
	rd_kafka_message_t *m;

	for (i = 0; i < w->n; i++) {
		m = w->msgs[i];
		if (l == NULL || in_list(l, rd_kafka_topic_name(m->rkt),
		    m->partition)) {
			w->bytes -= m->len + m->key_len;
			rd_kafka_message_destroy(m);
			dropped++;
		} else
			w->msgs[j++] = m;
	}
	w->n = j;
	if (dropped > 0) {
		w->invalidated = 1;
		ks_log_msg(KSINK_LOG_DEBUG, w->who, "dropped %zu unapplied "
		    "records of revoked partitions", dropped);
	}
}

/* ---- consumer events ---- */

static void
consumer_error(struct ks_worker *w, rd_kafka_message_t *m)
{
	int64_t now = ks_util_now_ms();
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;

	if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
		char buf[512];

		rd_kafka_fatal_error(w->rk, buf, sizeof(buf));
		fail(w, "fatal Kafka client error: %s", buf);
		return;
	}
	/* The same error again within 30 s: count it, say it later. */
	if ((int)m->err == w->last_err_code && now - w->last_err_ms < 30000) {
		w->suppressed++;
		return;
	}
	if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	    m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
		ks_log_msg(KSINK_LOG_WARN, w->who, "topic %s does not exist "
		    "(yet): check topics; waiting for it", topic ? topic :
		    w->topics);
	else
		ks_log_msg(KSINK_LOG_WARN, w->who, "Kafka: %s%s%s%s "
		    "(repeated %u times since last said)",
		    topic ? topic : "", topic ? ": " : "",
		    rd_kafka_message_errstr(m),
		    m->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
		    m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ?
		    "; check bootstrap.servers and that the brokers run" : "",
		    w->suppressed);
	w->last_err_code = (int)m->err;
	w->last_err_ms = now;
	w->suppressed = 0;
}

static void
handle_message(struct ks_worker *w, rd_kafka_message_t *m)
{
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		pending_push(w, m);
		return;
	}
	if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
		consumer_error(w, m);
	rd_kafka_message_destroy(m);
}

static int64_t
reset_offset(int reset)
{
	return reset == KS_RESET_LATEST ? RD_KAFKA_OFFSET_END :
	    RD_KAFKA_OFFSET_BEGINNING;
}

static void
on_assign(struct ks_worker *w, rd_kafka_topic_partition_list_t *parts)
{
	struct ksink_offset *offs;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t err = 0;
	char ebuf[1024] = "";
	int i, st = KSINK_OK, tries;

	if (parts->cnt == 0)
		goto assign;
	offs = ks_util_xcalloc(parts->cnt, sizeof(*offs));
	for (i = 0; i < parts->cnt; i++) {
		offs[i].topic = parts->elems[i].topic;
		offs[i].partition = parts->elems[i].partition;
		offs[i].next_offset = KSINK_OFFSET_NONE;
	}
	for (tries = 0; tries < 10; tries++) {
		st = w->desc->load_offsets(w->sink, offs, parts->cnt, ebuf,
		    sizeof(ebuf));
		if (st != KSINK_RETRY || atomic_load(&w->stop))
			break;
		ks_log_msg(KSINK_LOG_WARN, w->who, "sink cannot read its "
		    "offsets yet: %s; retrying", ebuf);
		ks_util_sleep_ms(200 << (tries < 5 ? tries : 5));
	}
	if (st != KSINK_OK) {
		free(offs);
		fail(w, "sink cannot read its stored offsets: %s",
		    *ebuf ? ebuf : ksink_status_name(st));
		return;
	}
	for (i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];

		if (offs[i].next_offset >= 0) {
			p->offset = offs[i].next_offset;
			ks_log_msg(KSINK_LOG_INFO, w->who, "assigned %s/%d, "
			    "resuming at offset %lld stored by the sink",
			    p->topic, p->partition,
			    (long long)p->offset);
		} else if (w->reset == KS_RESET_ERROR) {
			free(offs);
			fail(w, "the sink has no stored offset for %s/%d and "
			    "auto.offset.reset = error; set "
			    "kafka.auto.offset.reset to earliest or latest",
			    p->topic, p->partition);
			return;
		} else {
			p->offset = reset_offset(w->reset);
			ks_log_msg(KSINK_LOG_INFO, w->who, "assigned %s/%d, new "
			    "to the sink: starting at the %s offset",
			    p->topic, p->partition,
			    w->reset == KS_RESET_LATEST ? "latest" :
			    "earliest");
		}
	}
	free(offs);
assign:
	if (ks_consumer_is_cooperative(w->rk))
		error = rd_kafka_incremental_assign(w->rk, parts);
	else
		err = rd_kafka_assign(w->rk, parts);
	if (error != NULL) {
		fail(w, "cannot assign partitions: %s",
		    rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	} else if (err)
		fail(w, "cannot assign partitions: %s", rd_kafka_err2str(err));
	if (w->paused)
		ks_consumer_pause(w->rk, 1);
}

static void
on_revoke(struct ks_worker *w, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_error_t *error = NULL;
	int lost = rd_kafka_assignment_lost(w->rk);

	/* Finish the open batch while we still own its partitions; if that
	 * fails, or the partitions are already lost, drop it: nothing of it
	 * was stored, so the next owner applies it. */
	if (!lost && !w->in_flush && w->n > 0 && !w->failed)
		while (w->n > 0 && flush_batch(w, 1) == 1)
			;
	pending_drop(w, ks_consumer_is_cooperative(w->rk) ? parts : NULL);
	if (ks_consumer_is_cooperative(w->rk))
		error = rd_kafka_incremental_unassign(w->rk, parts);
	else
		rd_kafka_assign(w->rk, NULL);
	if (error != NULL)
		rd_kafka_error_destroy(error);
	ks_log_msg(KSINK_LOG_INFO, w->who, "%s %d partition%s",
	    lost ? "lost" : "released", parts->cnt, parts->cnt == 1 ? "" : "s");
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ks_worker *w = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* A failed connector takes nothing: it is leaving. */
		if (!w->failed)
			on_assign(w, parts);
	} else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		on_revoke(w, parts);
	else {
		ks_log_msg(KSINK_LOG_WARN, w->who, "rebalance error: %s",
		    rd_kafka_err2str(err));
		pending_drop(w, NULL);
		rd_kafka_assign(w->rk, NULL);
	}
}

/* ---- one batch ---- */

static struct part *
part_find(struct ks_worker *w, const char *topic, int32_t partition)
{
	size_t i;

	for (i = w->nparts; i-- > 0;)
		if (w->parts[i].partition == partition &&
		    (w->parts[i].topic == topic ||
		    strcmp(w->parts[i].topic, topic) == 0))
			return &w->parts[i];
	if (w->nparts == w->parts_cap) {
		w->parts_cap = w->parts_cap ? w->parts_cap * 2 : 16;
		w->parts = ks_util_xrealloc(w->parts,
		    w->parts_cap * sizeof(*w->parts));
	}
	w->parts[w->nparts].topic = topic;
	w->parts[w->nparts].partition = partition;
	w->parts[w->nparts].next = -1;
	return &w->parts[w->nparts++];
}

/* Fills recs[] and parts[] for the first k pending messages. */
static void
build_batch(struct ks_worker *w, size_t k)
{
	rd_kafka_headers_t *h;
	struct ksink_record *r;
	struct part *p, *last = NULL;
	const char *name;
	const void *val;
	size_t i, j, nh = 0, sz;
	rd_kafka_message_t *m;

	if (k > w->recs_cap) {
		w->recs_cap = k;
		w->recs = ks_util_xrealloc(w->recs, k * sizeof(*w->recs));
	}
	for (i = 0; i < k; i++)
		if (rd_kafka_message_headers(w->msgs[i], &h) == 0)
			nh += rd_kafka_header_cnt(h);
	if (nh > w->hdrs_cap) {
		w->hdrs_cap = nh;
		w->hdrs = ks_util_xrealloc(w->hdrs, nh * sizeof(*w->hdrs));
	}
	w->nparts = 0;
	nh = 0;
	for (i = 0; i < k; i++) {
		m = w->msgs[i];
		r = &w->recs[i];
		r->topic = rd_kafka_topic_name(m->rkt);
		r->partition = m->partition;
		r->offset = m->offset;
		r->timestamp = rd_kafka_message_timestamp(m, NULL);
		r->key = m->key;
		r->key_len = m->key_len;
		r->value = m->payload;
		r->value_len = m->len;
		r->headers = NULL;
		r->header_count = 0;
		if (rd_kafka_message_headers(m, &h) == 0) {
			r->headers = &w->hdrs[nh];
			for (j = 0; rd_kafka_header_get_all(h, j, &name, &val,
			    &sz) == 0; j++) {
				w->hdrs[nh].name = name;
				w->hdrs[nh].value = val;
				w->hdrs[nh].value_len = sz;
				nh++;
			}
			r->header_count = j;
		}
		if (last == NULL || last->partition != r->partition ||
		    strcmp(last->topic, r->topic) != 0)
			last = p = part_find(w, r->topic, r->partition);
		else
			p = last;
		p->next = r->offset + 1;
	}
}

/*
 * One attempt at applying recs[0..k) as one atomic step.  Returns a
 * KSINK_* status; *poison counts the records skipped under
 * errors.tolerance = all.
 */
static int
apply(struct ks_worker *w, size_t k, uint64_t *poison, char *ebuf,
    size_t elen)
{
	struct ksink_offset *offs;
	size_t i = 0, done, idx;
	int st;

	*poison = 0;
	*ebuf = '\0';
	st = w->desc->begin(w->sink, ebuf, elen);
	while (st == KSINK_OK && i < k) {
		done = 0;
		st = w->desc->write(w->sink, w->recs + i, k - i, &done, ebuf,
		    elen);
		if (st == KSINK_OK)
			break;
		if (st != KSINK_POISON)
			break;
		idx = i + done;
		if (idx >= k) {
			ks_util_errf(ebuf, elen, "sink reported a poison "
			    "record past the end of the batch");
			st = KSINK_FATAL;
			break;
		}
		if (!w->tolerance_all) {
			if (w->desc->abort)
				w->desc->abort(w->sink);
			fail(w, "record %s/%d@%lld cannot be applied: %s; fix "
			    "the record or the sink's settings, or set "
			    "errors.tolerance = all to skip such records",
			    w->recs[idx].topic, w->recs[idx].partition,
			    (long long)w->recs[idx].offset, ebuf);
			return KSINK_POISON;
		}
		ks_log_msg(KSINK_LOG_WARN, w->who, "skipping record "
		    "%s/%d@%lld (errors.tolerance = all): %s",
		    w->recs[idx].topic, w->recs[idx].partition,
		    (long long)w->recs[idx].offset, ebuf);
		(*poison)++;
		i = idx + 1;
		st = KSINK_OK;
	}
	if (st == KSINK_OK) {
		offs = ks_util_xcalloc(w->nparts, sizeof(*offs));
		for (i = 0; i < w->nparts; i++) {
			offs[i].topic = w->parts[i].topic;
			offs[i].partition = w->parts[i].partition;
			offs[i].next_offset = w->parts[i].next;
		}
		st = w->desc->commit(w->sink, offs, w->nparts, ebuf, elen);
		free(offs);
	}
	if (st != KSINK_OK && w->desc->abort)
		w->desc->abort(w->sink);
	return st;
}

static void
commit_group_offsets(struct ks_worker *w)
{
	const char **topics;
	int32_t *parts;
	int64_t *next;
	size_t i;

	topics = ks_util_xcalloc(w->nparts, sizeof(*topics));
	parts = ks_util_xcalloc(w->nparts, sizeof(*parts));
	next = ks_util_xcalloc(w->nparts, sizeof(*next));
	for (i = 0; i < w->nparts; i++) {
		topics[i] = w->parts[i].topic;
		parts[i] = w->parts[i].partition;
		next[i] = w->parts[i].next;
	}
	ks_consumer_commit(w->rk, topics, parts, next, w->nparts);
	free(topics);
	free(parts);
	free(next);
}

/* Waits ms while serving the consumer; 0 when the wait ran out. */
static int
backoff_wait(struct ks_worker *w, int64_t ms)
{
	int64_t deadline = ks_util_now_ms() + ms, left;
	rd_kafka_message_t *m;

	while ((left = deadline - ks_util_now_ms()) > 0) {
		if (atomic_load(&w->stop) || w->invalidated)
			return -1;
		m = rd_kafka_consumer_poll(w->rk,
		    (int)(left < POLL_MAX_MS ? left : POLL_MAX_MS));
		if (m != NULL) {
			handle_message(w, m);
			/* A new assignment comes unpaused. */
			ks_consumer_pause(w->rk, 1);
		}
	}
	return 0;
}

/*
 * Applies the batch at the head of the pending queue.  Returns 1 when it
 * was applied, 0 when it was given up without harm (stop requested, or a
 * revocation took its partitions), -1 when the connector failed.  While
 * revoking, the consumer is not polled and the retries are few.
 */
static int
flush_batch(struct ks_worker *w, int revoking)
{
	int64_t start = ks_util_now_ms(), delay = BACKOFF_FIRST_MS, wait;
	size_t k = 0, i;
	uint64_t poison;
	size_t bytes = 0;
	char ebuf[1024];
	int st, attempt = 0, ret;

	for (i = 0; i < w->n && (int64_t)i < w->max_records; i++) {
		bytes += w->msgs[i]->len + w->msgs[i]->key_len;
		if (i > 0 && (int64_t)bytes > w->max_bytes)
			break;
		k = i + 1;
	}
	if (k == 0)
		return 1;
	build_batch(w, k);
	w->in_flush = 1;
	w->invalidated = 0;
	for (;;) {
		attempt++;
		st = apply(w, k, &poison, ebuf, sizeof(ebuf));
		if (st == KSINK_OK)
			break;
		if (st == KSINK_POISON && w->failed) {
			ret = -1;	/* apply() said why */
			goto out;
		}
		if (st != KSINK_RETRY) {
			fail(w, "sink failed (%s): %s", ksink_status_name(st),
			    *ebuf ? ebuf : "no detail");
			ret = -1;
			goto out;
		}
		pthread_mutex_lock(&w->stats_lock);
		w->stats.retries++;
		pthread_mutex_unlock(&w->stats_lock);
		if (w->retry_timeout_ms >= 0 &&
		    ks_util_now_ms() - start >= w->retry_timeout_ms) {
			fail(w, "sink kept failing for %lld ms "
			    "(errors.retry.timeout.ms): %s",
			    (long long)(ks_util_now_ms() - start), ebuf);
			ret = -1;
			goto out;
		}
		if (revoking && attempt >= REVOKE_TRIES) {
			ks_log_msg(KSINK_LOG_WARN, w->who, "giving up a batch "
			    "of %zu records at revocation, the next owner "
			    "applies it: %s", k, ebuf);
			ret = 0;
			goto out;
		}
		wait = delay / 2 + (int64_t)(ks_util_rand64() %
		    (uint64_t)(delay / 2 + 1));
		ks_log_msg(attempt == 1 ? KSINK_LOG_WARN : KSINK_LOG_DEBUG,
		    w->who, "sink failed transiently (attempt %d): %s; "
		    "retrying in %lld ms", attempt, ebuf, (long long)wait);
		if (revoking)
			ks_util_sleep_ms(wait);
		else {
			if (!w->paused) {
				ks_consumer_pause(w->rk, 1);
				w->paused = 1;
			}
			if (backoff_wait(w, wait) == -1) {
				ret = 0;
				goto out;
			}
		}
		delay = delay * 2 > w->backoff_max_ms ? w->backoff_max_ms :
		    delay * 2;
	}
	if (attempt > 1)
		ks_log_msg(KSINK_LOG_INFO, w->who, "sink recovered after %d "
		    "attempts", attempt);
	commit_group_offsets(w);
	pthread_mutex_lock(&w->stats_lock);
	w->stats.records += k;
	w->stats.batches++;
	w->stats.poison += poison;
	pthread_mutex_unlock(&w->stats_lock);
	pending_shift(w, k);
	ret = 1;
out:
	w->in_flush = 0;
	/* Applied, failed, or given up: either way nothing is retried any
	 * more, and paused partitions with nothing pending would never be
	 * resumed. */
	if (w->paused) {
		ks_consumer_pause(w->rk, 0);
		w->paused = 0;
	}
	return ret;
}

static int
batch_due(const struct ks_worker *w)
{
	return w->n > 0 && ((int64_t)w->n >= w->max_records ||
	    (int64_t)w->bytes >= w->max_bytes ||
	    ks_util_now_ms() - w->first_ms >= w->max_ms);
}

/* ---- the thread ---- */

int
ks_worker_run(struct ks_worker *w)
{
	rd_kafka_message_t *m;
	char err[512];
	int64_t left;
	int timeout;

	rd_kafka_conf_set_opaque(w->rkconf, w);
	rd_kafka_conf_set_rebalance_cb(w->rkconf, rebalance_cb);
	w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, w->rkconf, err, sizeof(err));
	if (w->rk == NULL) {
		rd_kafka_conf_destroy(w->rkconf);
		w->rkconf = NULL;
		fail(w, "cannot create the Kafka consumer: %s", err);
		return -1;
	}
	w->rkconf = NULL;	/* owned by rk now */
	rd_kafka_poll_set_consumer(w->rk);
	if (ks_consumer_subscribe(w->rk, w->topics, err, sizeof(err)) == -1) {
		fail(w, "%s", err);
		goto close;
	}
	ks_log_msg(KSINK_LOG_INFO, w->who, "running: topics %s, sink %s",
	    w->topics, w->desc->name);
	while (!atomic_load(&w->stop)) {
		timeout = POLL_MAX_MS;
		if (w->n > 0) {
			left = w->first_ms + w->max_ms - ks_util_now_ms();
			timeout = left < 0 ? 0 : left < POLL_MAX_MS ?
			    (int)left : POLL_MAX_MS;
		}
		if (!batch_due(w)) {
			m = rd_kafka_consumer_poll(w->rk, timeout);
			if (m != NULL)
				handle_message(w, m);
		}
		if (batch_due(w) && flush_batch(w, 0) == -1)
			break;
	}
	/* Stopping: apply what we hold, once, then leave the group. */
	if (!w->failed)
		while (w->n > 0 && flush_batch(w, 1) == 1)
			;
close:
	pending_drop(w, NULL);
	rd_kafka_consumer_close(w->rk);
	pending_drop(w, NULL);
	rd_kafka_destroy(w->rk);
	w->rk = NULL;
	return w->failed ? -1 : 0;
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
	rc = ks_worker_run(w);
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
	return w->failed ? -1 : 0;
}

void
ks_worker_free(struct ks_worker *w)
{
	if (w == NULL)
		return;
	if (w->opened)
		w->desc->close(w->sink);
	if (w->rkconf != NULL)
		rd_kafka_conf_destroy(w->rkconf);
	ks_sink_ctx_free(w->ctx);
	ks_sink_unload(w->plugin);
	pthread_mutex_destroy(&w->stats_lock);
	free(w->msgs);
	free(w->recs);
	free(w->hdrs);
	free(w->parts);
	free(w->topics);
	free(w->who);
	free(w->name);
	free(w);
}

/* The consumer group of a connector: kafka.group.id, or ksink-NAME. */
static void
group_of(const struct ks_section *s, char *buf, size_t len)
{
	const struct ks_kv *kv = ks_conf_kv(s, "kafka.group.id");

	if (kv != NULL)
		snprintf(buf, len, "%s", kv->value);
	else
		snprintf(buf, len, "ksink-%s", s->name);
}

/*
 * Each connector needs a consumer group of its own: two connectors in one
 * group would split the partitions of a topic they share between them, and
 * each sink would silently see only part of it.
 */
static void
check_group(const struct ks_conf *conf, const struct ks_section *s,
    struct ks_errors *errs)
{
	const struct ks_section *o;
	char a[256], b[256];

	group_of(s, a, sizeof(a));
	for (o = conf->sections; o != s; o = o->next) {
		if (o->kind != KS_SEC_CONNECTOR)
			continue;
		group_of(o, b, sizeof(b));
		if (strcmp(a, b) == 0)
			ks_errors_add(errs, "%s:%d: [connector %s] uses "
			    "consumer group %s, as [connector %s] at line %d "
			    "does; each connector needs its own "
			    "kafka.group.id", conf->path, s->line, s->name,
			    a, o->name, o->line);
	}
}

int
ks_worker_load_all(const struct ks_conf *conf, struct ks_errors *errs,
    struct ks_worker ***workers, size_t *count)
{
	const struct ksink_option *tabs[1] = { ks_options_worker };
	const struct ks_section *wsec, *s;
	struct ks_worker *w, **ws = NULL;
	const char *dir, *env;
	size_t n = 0;

	wsec = ks_conf_section(conf, KS_SEC_WORKER);
	if (wsec != NULL)
		ks_conf_validate(conf, wsec, tabs, 1, NULL, 0, errs);
	ks_log_set_level(ks_log_level_parse(ks_conf_str(wsec,
	    ks_options_worker, "log.level")) < 0 ? KSINK_LOG_INFO :
	    ks_log_level_parse(ks_conf_str(wsec, ks_options_worker,
	    "log.level")));
	if (ks_conf_kv(wsec, "plugin.dir") != NULL ||
	    (env = getenv("KSINK_PLUGIN_DIR")) == NULL || *env == '\0')
		dir = ks_conf_str(wsec, ks_options_worker, "plugin.dir");
	else
		dir = env;
	/* [kafka] on its own, so that its problems are found even when no
	 * connector can be set up; each is said once (ks_errors_add). */
	{
		struct ks_section none = { .kind = KS_SEC_CONNECTOR,
		    .name = (char *)"check" };
		int reset;
		rd_kafka_conf_t *rkc = ks_consumer_conf(conf, &none, &reset,
		    errs);

		if (rkc != NULL)
			rd_kafka_conf_destroy(rkc);
	}
	for (s = conf->sections; s != NULL; s = s->next) {
		if (s->kind != KS_SEC_CONNECTOR)
			continue;
		check_group(conf, s, errs);
		if ((w = ks_worker_new(conf, s, dir, errs)) == NULL)
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
	*workers = ws;
	*count = n;
	return errs->count == 0 ? 0 : -1;
}
