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
#include <regex.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "admin.h"
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
	uint64_t records;	/* of this batch */
	uint64_t bytes;
};

/* Figures of one partition, for the admin endpoint. */
struct pstat {
	char *topic;
	int32_t partition;
	int assigned;
	uint64_t records, batches, bytes;
	int64_t sink_offset, group_offset, high_watermark;
	/* Stall detection: the consumer's position, when it last moved. */
	int64_t position, moved_ms, checked_ms;
	int stalled;
};



const double ks_worker_latency_bounds[KS_LATENCY_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10, 30
};

static const char *const state_names[KS_STATE_COUNT] = {
	"starting", "running", "paused", "retrying", "failed", "stopped"
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
	struct ks_waker *waker;
	uint64_t took_records, took_bytes;	/* for the waker */
	char *topics;

	int64_t max_records;
	int64_t max_bytes;
	int64_t max_ms;
	int64_t retry_timeout_ms;
	int64_t backoff_max_ms;
	int tolerance_all;
	int log_messages;	/* errors.log.include.messages */
	int reset;

	/* The dead letter queue, when errors.deadletterqueue.topic.name. */
	char *dlq_topic;
	int dlq_headers;
	rd_kafka_conf_t *dlq_conf;
	rd_kafka_t *dlq;
	int dlq_pending;	/* produced, not yet acknowledged */
	char dlq_error[512];	/* first delivery failure */

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
	int paused;		/* paused while retrying */
	atomic_int admin_pause;	/* asked for through the admin endpoint */
	int admin_paused;	/* ... and done */
	int consumer_paused;	/* what librdkafka was last told */
	int64_t last_wm_ms;
	int64_t last_stall_ms;
	int64_t stall_ms;	/* stall.warn.ms */
	atomic_int stop;
	int failed;
	char error[1024];

	/* Under stats_lock: read by the admin endpoint's thread. */
	struct ks_worker_stats stats;
	pthread_mutex_t stats_lock;
	int state;
	struct pstat *pstats;
	size_t npstats;
	uint64_t applied_bytes, rebalances, dlq_count;
	uint64_t latency[KS_LATENCY_BUCKETS + 1];
	double latency_sum;
	int64_t last_commit_ms;

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
ks_worker_state_name(int state)
{
	return state >= 0 && state < KS_STATE_COUNT ? state_names[state] :
	    "unknown";
}

static void
set_state(struct ks_worker *w, int state)
{
	pthread_mutex_lock(&w->stats_lock);
	/* A failure is final. */
	if (w->state != KS_STATE_FAILED)
		w->state = state;
	pthread_mutex_unlock(&w->stats_lock);
}

/* The figures of a partition; call with stats_lock held. */
static struct pstat *
pstat_get(struct ks_worker *w, const char *topic, int32_t partition)
{
	struct pstat *p;
	size_t i;

	for (i = 0; i < w->npstats; i++)
		if (w->pstats[i].partition == partition &&
		    strcmp(w->pstats[i].topic, topic) == 0)
			return &w->pstats[i];
	w->pstats = ks_util_xrealloc(w->pstats,
	    (w->npstats + 1) * sizeof(*w->pstats));
	p = &w->pstats[w->npstats++];
	memset(p, 0, sizeof(*p));
	p->topic = ks_util_strdup(topic);
	p->partition = partition;
	p->sink_offset = p->group_offset = p->high_watermark = -1;
	p->position = -1;
	return p;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Pauses or resumes the assignment so that librdkafka matches what the
 * retry loop and the admin endpoint want. */
static void
sync_pause(struct ks_worker *w)
{
	int want = w->paused || w->admin_paused;

	if (w->rk == NULL || want == w->consumer_paused)
		return;
	ks_consumer_pause(w->rk, want);
	w->consumer_paused = want;
}

void
ks_worker_set_paused(struct ks_worker *w, int paused)
{
	atomic_store(&w->admin_pause, paused);
}

void
ks_worker_snapshot(struct ks_worker *w, struct ks_worker_snapshot *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->name = w->name;
	s->type = w->desc ? w->desc->name : "?";
	pthread_mutex_lock(&w->stats_lock);
	s->state = w->state;
	snprintf(s->error, sizeof(s->error), "%s", w->failed ? w->error : "");
	s->stats = w->stats;
	s->bytes = w->applied_bytes;
	s->rebalances = w->rebalances;
	s->dlq = w->dlq_count;
	memcpy(s->latency, w->latency, sizeof(s->latency));
	s->latency_sum = w->latency_sum;
	s->latency_count = w->stats.batches;
	s->last_commit_ms = w->last_commit_ms;
	s->nparts = w->npstats;
	s->parts = ks_util_xcalloc(w->npstats, sizeof(*s->parts));
	for (i = 0; i < w->npstats; i++) {
		struct pstat *p = &w->pstats[i];

		s->parts[i].topic = ks_util_strdup(p->topic);
		s->parts[i].partition = p->partition;
		s->parts[i].assigned = p->assigned;
		s->parts[i].records = p->records;
		s->parts[i].batches = p->batches;
		s->parts[i].bytes = p->bytes;
		s->parts[i].sink_offset = p->sink_offset;
		s->parts[i].group_offset = p->group_offset;
		s->parts[i].high_watermark = p->high_watermark;
		s->parts[i].stalled = p->stalled;
	}
	pthread_mutex_unlock(&w->stats_lock);
}

void
ks_worker_snapshot_free(struct ks_worker_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nparts; i++)
		free(s->parts[i].topic);
	free(s->parts);
	s->parts = NULL;
	s->nparts = 0;
}

/*
 * Finds partitions held back by an open transaction: read_committed
 * consumers see nothing past the last stable offset (LSO) until the
 * transaction ends, so the position stops while the high watermark goes
 * on.  Reported once per stall, and again when it ends.  The LSO is asked
 * of the broker (a read_committed watermark query) only for partitions
 * that look stalled.
 */
static void
check_stalls(struct ks_worker *w, int64_t now)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	int64_t pos, lo, lso;
	struct pstat *ps;
	int i;

	if (now - w->last_stall_ms < (w->stall_ms < 5000 ? w->stall_ms / 2 :
	    5000))
		return;
	w->last_stall_ms = now;
	if (rd_kafka_assignment(w->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    list == NULL)
		return;
	rd_kafka_position(w->rk, list);
	for (i = 0; i < list->cnt; i++) {
		pthread_mutex_lock(&w->stats_lock);
		ps = pstat_get(w, list->elems[i].topic,
		    list->elems[i].partition);
		pos = list->elems[i].offset >= 0 ? list->elems[i].offset :
		    ps->sink_offset;
		if (pos != ps->position || ps->moved_ms == 0) {
			ps->position = pos;
			ps->moved_ms = now;
			if (ps->stalled)
				ks_log_msg(KSINK_LOG_INFO, w->who, "%s/%d moves "
				    "again at offset %lld", ps->topic,
				    ps->partition, (long long)pos);
			ps->stalled = 0;
			pthread_mutex_unlock(&w->stats_lock);
			continue;
		}
		if (ps->stalled || pos < 0 || now - ps->moved_ms < w->stall_ms ||
		    now - ps->checked_ms < w->stall_ms ||
		    ps->high_watermark <= pos + 1 || w->admin_paused ||
		    w->paused) {
			pthread_mutex_unlock(&w->stats_lock);
			continue;
		}
		ps->checked_ms = now;
		pthread_mutex_unlock(&w->stats_lock);
		if (ks_consumer_watermarks(w->rk, list->elems[i].topic,
		    list->elems[i].partition, &lo, &lso, 2000) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			continue;
		pthread_mutex_lock(&w->stats_lock);
		if (lso <= pos && lso < ps->high_watermark) {
			ps->stalled = 1;
			ks_log_msg(KSINK_LOG_WARN, w->who, "%s/%d is stalled "
			    "at offset %lld for %lld s: an open transaction "
			    "holds back the records up to the high watermark "
			    "%lld; they are applied once it commits or aborts "
			    "(the broker aborts it after its "
			    "transaction.timeout.ms)", ps->topic,
			    ps->partition, (long long)lso,
			    (long long)((now - ps->moved_ms) / 1000),
			    (long long)ps->high_watermark);
		}
		pthread_mutex_unlock(&w->stats_lock);
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* Refreshes the high watermarks librdkafka last heard of (no request). */
static void
refresh_watermarks(struct ks_worker *w, int64_t now)
{
	int64_t lo, hi;
	size_t i;

	if (now - w->last_wm_ms < 1000)
		return;
	w->last_wm_ms = now;
	pthread_mutex_lock(&w->stats_lock);
	for (i = 0; i < w->npstats; i++)
		if (w->pstats[i].assigned && rd_kafka_get_watermark_offsets(
		    w->rk, w->pstats[i].topic, w->pstats[i].partition, &lo,
		    &hi) == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0)
			w->pstats[i].high_watermark = hi;
	pthread_mutex_unlock(&w->stats_lock);
}

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
	set_state(w, KS_STATE_FAILED);
	ks_log_msg(KSINK_LOG_ERROR, w->who, "%s", w->error);
}

/* A connector needs brokers: bootstrap.servers in [kafka] or its own. */
static void
check_brokers(const struct ks_conf *conf, const struct ks_section *sec,
    struct ks_errors *errs)
{
	static const char *const keys[] = { "kafka.bootstrap.servers",
	    "kafka.metadata.broker.list" };
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_kv *kv;
	size_t i;

	for (i = 0; i < KS_ARRAY_SIZE(keys); i++) {
		if ((kv = ks_conf_kv(sec, keys[i])) == NULL)
			kv = ks_conf_kv(kafka, keys[i] + 6);
		if (kv == NULL)
			continue;
		if (strspn(kv->value, " \t,") != strlen(kv->value))
			return;
		ks_errors_add(errs, "%s:%d: %s is empty; list the Kafka "
		    "brokers as host:port,host:port", conf->path, kv->line,
		    kv->key);
		return;
	}
	ks_errors_add(errs, "%s:%d: [connector %s] has no Kafka brokers: set "
	    "bootstrap.servers in [kafka], or kafka.bootstrap.servers here",
	    conf->path, sec->line, sec->name);
}

/* topics: some names, or one regular expression (checked as POSIX
 * extended, as librdkafka's are close to it). */
static void
check_topics(const struct ks_conf *conf, const struct ks_section *sec,
    struct ks_errors *errs)
{
	const struct ks_kv *kv = ks_conf_kv(sec, "topics");
	char msg[256];
	regex_t re;
	int rc;

	if (kv == NULL || *kv->value == '\0')
		return;		/* reported as a missing required key */
	if (kv->value[0] == '^') {
		if ((rc = regcomp(&re, kv->value, REG_EXTENDED | REG_NOSUB)) !=
		    0) {
			regerror(rc, &re, msg, sizeof(msg));
			ks_errors_add(errs, "%s:%d: topics = %s is not a valid "
			    "regular expression: %s", conf->path, kv->line,
			    kv->value, msg);
			return;
		}
		regfree(&re);
	} else if (strspn(kv->value, " \t\n,") == strlen(kv->value))
		ks_errors_add(errs, "%s:%d: topics lists no topic; give "
		    "names separated by commas, or a regular expression "
		    "starting with ^", conf->path, kv->line);
}

/*
 * librdkafka refused to make a client out of the settings: name the line
 * of the key it complains of, when it names one, and say so plainly when
 * that key names a file that is not there.
 */
static void
client_error(const struct ks_conf *conf, const struct ks_section *sec,
    const char *err, struct ks_errors *errs)
{
	const struct ks_section *secs[2] = { sec,
	    ks_conf_section(conf, KS_SEC_KAFKA) };
	const struct ks_kv *kv;
	const char *key;
	size_t i;

	for (i = 0; i < 2; i++)
		for (kv = secs[i] ? secs[i]->kvs : NULL; kv != NULL;
		    kv = kv->next) {
			key = kv->key;
			if (i == 0 && strncmp(key, "kafka.", 6) != 0)
				continue;
			if (i == 0)
				key += 6;
			if (strstr(err, key) == NULL)
				continue;
			if ((strstr(key, ".location") != NULL ||
			    strstr(key, ".file") != NULL) &&
			    access(kv->value, R_OK) == -1)
				ks_errors_add(errs, "%s:%d: %s = %s: %s",
				    conf->path, kv->line, kv->key, kv->value,
				    strerror(errno));
			else
				ks_errors_add(errs, "%s:%d: %s is refused by "
				    "the Kafka client: %s", conf->path,
				    kv->line, kv->key, err);
			return;
		}
	ks_errors_add(errs, "%s:%d: [connector %s]: the Kafka settings "
	    "([kafka] and kafka.*) are refused: %s", conf->path, sec->line,
	    sec->name, err);
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
	check_brokers(conf, sec, errs);
	check_topics(conf, sec, errs);
	if (w->rkconf != NULL) {
		/* Some settings are only checked when a client is made (a
		 * SASL mechanism, say): make one, without brokers. */
		rd_kafka_conf_t *probe = rd_kafka_conf_dup(w->rkconf);
		rd_kafka_t *rk;

		rd_kafka_conf_set(probe, "bootstrap.servers", "", NULL, 0);
		rd_kafka_conf_set_log_cb(probe, NULL);
		if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, probe, err,
		    sizeof(err))) == NULL) {
			rd_kafka_conf_destroy(probe);
			client_error(conf, sec, err, errs);
		} else
			rd_kafka_destroy(rk);
	}

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
	kv = ks_conf_kv(sec, "errors.deadletterqueue.topic.name");
	if (kv != NULL && *kv->value != '\0') {
		const struct ks_kv *tol = ks_conf_kv(sec, "errors.tolerance");

		if (tol == NULL || strcmp(tol->value, "all") != 0)
			ks_errors_add(errs, "%s:%d: a dead letter queue takes "
			    "the records that errors.tolerance = all skips; "
			    "set errors.tolerance = all in [connector %s]",
			    conf->path, kv->line, sec->name);
		else {
			w->dlq_topic = ks_util_strdup(kv->value);
			w->dlq_conf = ks_consumer_producer_conf(conf, sec,
			    errs);
		}
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
	w->stall_ms = ks_conf_int(sec, ks_options_connector, "stall.warn.ms");
	w->retry_timeout_ms = ks_conf_int(sec, ks_options_connector,
	    "errors.retry.timeout.ms");
	w->backoff_max_ms = ks_conf_int(sec, ks_options_connector,
	    "errors.retry.backoff.max.ms");
	w->tolerance_all = strcmp(ks_conf_str(sec, ks_options_connector,
	    "errors.tolerance"), "all") == 0;
	w->log_messages = ks_conf_bool(sec, ks_options_connector,
	    "errors.log.include.messages");
	w->dlq_headers = ks_conf_bool(sec, ks_options_connector,
	    "errors.deadletterqueue.context.headers.enable");
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
	w->took_records++;
	w->took_bytes += m->len + m->key_len;
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
		ks_log_msg(KSINK_LOG_WARN, w->who, "Kafka: %s%s%s%s",
		    topic ? topic : "", topic ? ": " : "",
		    rd_kafka_message_errstr(m),
		    m->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
		    m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ?
		    "; check bootstrap.servers and that the brokers run" : "");
	if (w->suppressed > 0 && (int)m->err != w->last_err_code)
		ks_log_msg(KSINK_LOG_WARN, w->who, "(the previous Kafka error "
		    "came %u more times)", w->suppressed);
	else if (w->suppressed > 0)
		ks_log_msg(KSINK_LOG_WARN, w->who, "(it came %u more times in "
		    "the last 30 s)", w->suppressed);
	w->last_err_code = (int)m->err;
	w->last_err_ms = now;
	w->suppressed = 0;
}

/*
 * Errors of the client as a whole (brokers down, authentication):
 * librdkafka retries them itself; we say them once in a while, with what
 * to check.  A fatal one fails the connector.
 */
static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ks_worker *w = opaque;
	int64_t now = ks_util_now_ms();
	const char *hint = "";
	char buf[512];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		fail(w, "fatal Kafka client error: %s", buf);
		return;
	}
	if (err == w->last_err_code && now - w->last_err_ms < 30000) {
		w->suppressed++;
		return;
	}
	switch (err) {
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__RESOLVE:
		hint = "; check bootstrap.servers and that the brokers run; "
		    "retrying";
		break;
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
		hint = "; check sasl.username and sasl.password ([kafka] or "
		    "kafka.sasl.*); retrying";
		break;
	case RD_KAFKA_RESP_ERR__SSL:
		hint = "; check the ssl.* settings; retrying";
		break;
	default:
		break;
	}
	ks_log_msg(KSINK_LOG_WARN, w->who, "Kafka: %s%s%s", reason, hint,
	    w->suppressed > 0 ? " (said before; repeated since)" : "");
	w->last_err_code = err;
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
	pthread_mutex_lock(&w->stats_lock);
	w->rebalances++;
	for (i = 0; i < parts->cnt; i++) {
		struct pstat *ps = pstat_get(w, parts->elems[i].topic,
		    parts->elems[i].partition);

		ps->assigned = 1;
		ps->sink_offset = offs[i].next_offset;
	}
	pthread_mutex_unlock(&w->stats_lock);
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
	ks_waker_reassigned(w->waker);
	/* New partitions come unpaused. */
	if (w->consumer_paused)
		ks_consumer_pause(w->rk, 1);
	set_state(w, w->admin_paused ? KS_STATE_PAUSED : w->paused ?
	    KS_STATE_RETRYING : KS_STATE_RUNNING);
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
	/* librdkafka keeps a partition's pause across an unassignment: one
	 * revoked while we retry, and later given back to this consumer,
	 * would never be fetched again.  Resume them on the way out;
	 * on_assign pauses what it is given when the connector is paused. */
	if (w->consumer_paused && parts->cnt > 0)
		rd_kafka_resume_partitions(w->rk, parts);
	if (ks_consumer_is_cooperative(w->rk))
		error = rd_kafka_incremental_unassign(w->rk, parts);
	else
		rd_kafka_assign(w->rk, NULL);
	if (error != NULL)
		rd_kafka_error_destroy(error);
	pthread_mutex_lock(&w->stats_lock);
	for (int i = 0; i < parts->cnt; i++)
		pstat_get(w, parts->elems[i].topic,
		    parts->elems[i].partition)->assigned = 0;
	pthread_mutex_unlock(&w->stats_lock);
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
		/*
		 * A failed or stopping connector takes nothing: it is
		 * leaving.  When stopping, the assignment is one that came
		 * during the last batch and is served by the close, which
		 * has already told the group to revoke everything.  Taking
		 * it then is what librdkafka before 2.4.0 cannot always
		 * survive under the cooperative protocol: the close may
		 * finish the group's shutdown before the revocation that
		 * follows is acknowledged, and that acknowledgement waits
		 * forever (librdkafka #4527, tests/e2e/coop-close-assign.test).
		 */
		if (!w->failed && !atomic_load(&w->stop))
			on_assign(w, parts);
		else
			ks_log_msg(KSINK_LOG_DEBUG, w->who, "%s: not taking "
			    "the %d partition%s assigned", w->failed ?
			    "failed" : "stopping", parts->cnt,
			    parts->cnt == 1 ? "" : "s");
	} else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		on_revoke(w, parts);
	else {
		ks_log_msg(KSINK_LOG_WARN, w->who, "rebalance error: %s",
		    rd_kafka_err2str(err));
		pending_drop(w, NULL);
		if (w->consumer_paused)
			ks_consumer_pause(w->rk, 0);	/* as in on_revoke */
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
	w->parts[w->nparts].records = 0;
	w->parts[w->nparts].bytes = 0;
	return &w->parts[w->nparts++];
}

/* Fills recs[] and parts[] for the first k pending messages.  Each
 * message's headers are asked for once (librdkafka parses them anew at
 * every call); the header array may grow meanwhile, so the records point
 * into it only at the end. */
static void
build_batch(struct ks_worker *w, size_t k)
{
	rd_kafka_headers_t *h;
	struct ksink_record *r;
	struct part *p, *last = NULL;
	const char *name;
	const void *val;
	size_t i, j, nh = 0, sz, cnt;
	rd_kafka_message_t *m;

	if (k > w->recs_cap) {
		w->recs_cap = k;
		w->recs = ks_util_xrealloc(w->recs, k * sizeof(*w->recs));
	}
	w->nparts = 0;
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
		if (rd_kafka_message_headers(m, &h) == 0 &&
		    (cnt = rd_kafka_header_cnt(h)) > 0) {
			if (nh + cnt > w->hdrs_cap) {
				w->hdrs_cap = (nh + cnt) * 2;
				w->hdrs = ks_util_xrealloc(w->hdrs,
				    w->hdrs_cap * sizeof(*w->hdrs));
			}
			for (j = 0; j < cnt && rd_kafka_header_get_all(h, j,
			    &name, &val, &sz) == 0; j++) {
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
		p->records++;
		p->bytes += r->key_len + r->value_len;
	}
	for (i = 0, nh = 0; i < k; i++)
		if (w->recs[i].header_count > 0) {
			w->recs[i].headers = &w->hdrs[nh];
			nh += w->recs[i].header_count;
		}
}

static void
dlq_delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct ks_worker *w = opaque;

	(void)rk;
	w->dlq_pending--;
	if (m->err && w->dlq_error[0] == '\0')
		snprintf(w->dlq_error, sizeof(w->dlq_error), "%s",
		    rd_kafka_err2str(m->err));
}

/* Writes a poison record to the dead letter queue, without waiting. */
static int
dlq_produce(struct ks_worker *w, const struct ksink_record *r,
    const char *why, char *ebuf, size_t elen)
{
	rd_kafka_headers_t *h;
	rd_kafka_resp_err_t err;
	char num[32];
	size_t i;

	h = rd_kafka_headers_new(r->header_count + 6);
	for (i = 0; i < r->header_count; i++)
		rd_kafka_header_add(h, r->headers[i].name, -1,
		    r->headers[i].value, (ssize_t)r->headers[i].value_len);
	if (w->dlq_headers) {
		rd_kafka_header_add(h, "__connect.errors.topic", -1, r->topic,
		    -1);
		snprintf(num, sizeof(num), "%d", r->partition);
		rd_kafka_header_add(h, "__connect.errors.partition", -1, num,
		    -1);
		snprintf(num, sizeof(num), "%lld", (long long)r->offset);
		rd_kafka_header_add(h, "__connect.errors.offset", -1, num, -1);
		rd_kafka_header_add(h, "__connect.errors.connector.name", -1,
		    w->name, -1);
		rd_kafka_header_add(h, "__connect.errors.exception.class.name",
		    -1, "ksink.PoisonRecord", -1);
		rd_kafka_header_add(h, "__connect.errors.exception.message", -1,
		    why, -1);
	}
	do {
		err = rd_kafka_producev(w->dlq,
		    RD_KAFKA_V_TOPIC(w->dlq_topic),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_KEY(r->key, r->key ? r->key_len : 0),
		    RD_KAFKA_V_VALUE((void *)r->value,
		    r->value ? r->value_len : 0),
		    RD_KAFKA_V_TIMESTAMP(r->timestamp > 0 ? r->timestamp : 0),
		    RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(w->dlq, 100);
	} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
	if (err) {
		rd_kafka_headers_destroy(h);
		ks_util_errf(ebuf, elen, "dead letter queue %s: %s",
		    w->dlq_topic, rd_kafka_err2str(err));
		return -1;
	}
	w->dlq_pending++;
	return 0;
}

/* Waits until the broker acknowledged every dead letter of the batch. */
static int
dlq_flush(struct ks_worker *w, char *ebuf, size_t elen)
{
	rd_kafka_flush(w->dlq, 35000);
	if (w->dlq_pending > 0 || w->dlq_error[0] != '\0') {
		ks_util_errf(ebuf, elen, "dead letter queue %s: %s; the "
		    "batch is retried", w->dlq_topic, w->dlq_error[0] ?
		    w->dlq_error : "not acknowledged in time");
		w->dlq_error[0] = '\0';
		return -1;
	}
	return 0;
}

/* "key=... value=..." of a record, escaped and cut, for a message. */
static void
describe_record(const struct ksink_record *r, char *buf, size_t len)
{
	const void *parts[2] = { r->key, r->value };
	size_t lens[2] = { r->key_len, r->value_len }, i, j, o = 0;
	const unsigned char *p;

	for (i = 0; i < 2 && o + 16 < len; i++) {
		o += (size_t)snprintf(buf + o, len - o, "%s%s=", i ? " " : "",
		    i ? "value" : "key");
		if (parts[i] == NULL) {
			o += (size_t)snprintf(buf + o, len - o, "null");
			continue;
		}
		p = parts[i];
		for (j = 0; j < lens[i] && j < 256 && o + 8 < len; j++)
			o += (size_t)snprintf(buf + o, len - o,
			    p[j] >= 0x20 && p[j] < 0x7f && p[j] != '\\' ?
			    "%c" : "\\x%02x", p[j]);
		if (j < lens[i] && o + 4 < len)
			o += (size_t)snprintf(buf + o, len - o, "...");
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
	char what[1200];
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
		what[0] = '\0';
		if (w->log_messages) {
			what[0] = ' ';
			describe_record(&w->recs[idx], what + 1,
			    sizeof(what) - 1);
		}
		if (!w->tolerance_all) {
			if (w->desc->abort)
				w->desc->abort(w->sink);
			fail(w, "record %s/%d@%lld cannot be applied: %s;%s fix "
			    "the record or the sink's settings, or set "
			    "errors.tolerance = all to skip such records",
			    w->recs[idx].topic, w->recs[idx].partition,
			    (long long)w->recs[idx].offset, ebuf, what);
			return KSINK_POISON;
		}
		ks_log_msg(KSINK_LOG_WARN, w->who, "skipping record "
		    "%s/%d@%lld (errors.tolerance = all%s): %s;%s",
		    w->recs[idx].topic, w->recs[idx].partition,
		    (long long)w->recs[idx].offset, w->dlq ?
		    ", sent to the dead letter queue" : "", ebuf, what);
		if (w->dlq != NULL && dlq_produce(w, &w->recs[idx], ebuf, ebuf,
		    elen) == -1) {
			st = KSINK_RETRY;
			break;
		}
		(*poison)++;
		i = idx + 1;
		st = KSINK_OK;
	}
	/* A skipped record's offset is stored only once its dead letter
	 * is safe with the broker. */
	if (st == KSINK_OK && w->dlq != NULL && *poison > 0 &&
	    dlq_flush(w, ebuf, elen) == -1)
		st = KSINK_RETRY;
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

/* Waits ms while serving the consumer; 0 when the wait ran out, -1 when
 * the connector stops or a rebalance dropped pending messages (the batch
 * is gone: its records were freed), even if that happened in the last
 * poll of the wait. */
static int
backoff_wait(struct ks_worker *w, int64_t ms)
{
	int64_t deadline = ks_util_now_ms() + ms, left;
	rd_kafka_message_t *m;

	while (!atomic_load(&w->stop) && !w->invalidated &&
	    (left = deadline - ks_util_now_ms()) > 0) {
		m = rd_kafka_consumer_poll(w->rk,
		    (int)(left < POLL_MAX_MS ? left : POLL_MAX_MS));
		if (m != NULL)
			handle_message(w, m);
	}
	return atomic_load(&w->stop) || w->invalidated ? -1 : 0;
}

/* Counts an applied batch of k records whose commit took ms. */
static void
record_batch(struct ks_worker *w, size_t k, uint64_t poison, int64_t ms)
{
	double sec = (double)ms / 1000.0;
	struct pstat *ps;
	size_t i, b;

	pthread_mutex_lock(&w->stats_lock);
	w->stats.records += k;
	w->stats.batches++;
	w->stats.poison += poison;
	if (w->dlq != NULL)
		w->dlq_count += poison;
	for (b = 0; b < KS_LATENCY_BUCKETS &&
	    sec > ks_worker_latency_bounds[b]; b++)
		;
	w->latency[b]++;
	w->latency_sum += sec;
	w->last_commit_ms = wall_ms();
	for (i = 0; i < w->nparts; i++) {
		ps = pstat_get(w, w->parts[i].topic, w->parts[i].partition);
		ps->records += w->parts[i].records;
		ps->bytes += w->parts[i].bytes;
		ps->batches++;
		ps->sink_offset = ps->group_offset = w->parts[i].next;
		w->applied_bytes += w->parts[i].bytes;
	}
	pthread_mutex_unlock(&w->stats_lock);
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
	int64_t start = ks_util_now_ms(), delay = BACKOFF_FIRST_MS, wait, t0;
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
		t0 = ks_util_now_ms();
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
				w->paused = 1;
				sync_pause(w);
				set_state(w, KS_STATE_RETRYING);
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
	record_batch(w, k, poison, ks_util_now_ms() - t0);
	pending_shift(w, k);
	ret = 1;
out:
	w->in_flush = 0;
	/* Applied, failed, or given up: either way nothing is retried any
	 * more, and paused partitions with nothing pending would never be
	 * resumed. */
	if (w->paused) {
		w->paused = 0;
		sync_pause(w);
		set_state(w, w->admin_paused ? KS_STATE_PAUSED :
		    KS_STATE_RUNNING);
	}
	return ret;
}

static int
batch_full(const struct ks_worker *w)
{
	return (int64_t)w->n >= w->max_records ||
	    (int64_t)w->bytes >= w->max_bytes;
}

static int
batch_due(const struct ks_worker *w, int64_t now)
{
	/* Paused by the admin endpoint: hold what was polled. */
	return w->n > 0 && !w->admin_paused &&
	    (batch_full(w) || now - w->first_ms >= w->max_ms);
}

/* ---- the thread ---- */

int
ks_worker_run(struct ks_worker *w)
{
	rd_kafka_message_t *m;
	char err[512];
	int64_t left, now;
	int timeout;

	rd_kafka_conf_set_opaque(w->rkconf, w);
	rd_kafka_conf_set_rebalance_cb(w->rkconf, rebalance_cb);
	rd_kafka_conf_set_error_cb(w->rkconf, error_cb);
	w->rk = rd_kafka_new(RD_KAFKA_CONSUMER, w->rkconf, err, sizeof(err));
	if (w->rk == NULL) {
		rd_kafka_conf_destroy(w->rkconf);
		w->rkconf = NULL;
		fail(w, "cannot create the Kafka consumer: %s", err);
		return -1;
	}
	w->rkconf = NULL;	/* owned by rk now */
	rd_kafka_poll_set_consumer(w->rk);
	if (w->dlq_conf != NULL) {
		rd_kafka_conf_set_opaque(w->dlq_conf, w);
		rd_kafka_conf_set_dr_msg_cb(w->dlq_conf, dlq_delivered);
		w->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, w->dlq_conf, err,
		    sizeof(err));
		if (w->dlq == NULL) {
			rd_kafka_conf_destroy(w->dlq_conf);
			w->dlq_conf = NULL;
			fail(w, "cannot create the dead letter queue "
			    "producer: %s", err);
			goto close;
		}
		w->dlq_conf = NULL;
	}
	if (ks_consumer_subscribe(w->rk, w->topics, err, sizeof(err)) == -1) {
		fail(w, "%s", err);
		goto close;
	}
	ks_log_msg(KSINK_LOG_INFO, w->who, "running: topics %s, sink %s",
	    w->topics, w->desc->name);
	w->waker = ks_waker_start(w->rk, w->who);
	while (!atomic_load(&w->stop)) {
		if (atomic_load(&w->admin_pause) != w->admin_paused) {
			w->admin_paused = !w->admin_paused;
			sync_pause(w);
			set_state(w, w->admin_paused ? KS_STATE_PAUSED :
			    KS_STATE_RUNNING);
			ks_log_msg(KSINK_LOG_INFO, w->who, "%s",
			    w->admin_paused ? "paused" : "resumed");
		}
		now = ks_util_now_ms();
		refresh_watermarks(w, now);
		check_stalls(w, now);
		timeout = POLL_MAX_MS;
		if (w->n > 0) {
			left = w->first_ms + w->max_ms - now;
			timeout = left < 0 ? 0 : left < POLL_MAX_MS ?
			    (int)left : POLL_MAX_MS;
		}
		if (!batch_due(w, now)) {
			m = rd_kafka_consumer_poll(w->rk, timeout);
			/* Take what else is ready, up to the batch's limits,
			 * without looking at the clock for each record. */
			while (m != NULL) {
				handle_message(w, m);
				m = batch_full(w) || atomic_load(&w->stop) ?
				    NULL : rd_kafka_consumer_poll(w->rk, 0);
			}
			ks_waker_took(w->waker, w->took_records,
			    w->took_bytes);
			w->took_records = w->took_bytes = 0;
			now = ks_util_now_ms();
		}
		if (batch_due(w, now) && flush_batch(w, 0) == -1)
			break;
	}
	/* Stopping: apply what we hold, once, then leave the group. */
	if (!w->failed)
		while (w->n > 0 && flush_batch(w, 1) == 1)
			;
close:
	ks_waker_stop(w->waker);
	w->waker = NULL;
	pending_drop(w, NULL);
	rd_kafka_consumer_close(w->rk);
	pending_drop(w, NULL);
	rd_kafka_destroy(w->rk);
	w->rk = NULL;
	if (w->dlq != NULL) {
		rd_kafka_flush(w->dlq, 5000);
		rd_kafka_destroy(w->dlq);
		w->dlq = NULL;
	}
	set_state(w, KS_STATE_STOPPED);
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
	if (w->dlq_conf != NULL)
		rd_kafka_conf_destroy(w->dlq_conf);
	free(w->dlq_topic);
	ks_sink_ctx_free(w->ctx);
	ks_sink_unload(w->plugin);
	pthread_mutex_destroy(&w->stats_lock);
	for (size_t i = 0; i < w->npstats; i++)
		free(w->pstats[i].topic);
	free(w->pstats);
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

/* The first key holding a secret in sec, or NULL. */
static const struct ks_kv *
find_secret(const struct ks_section *sec, const struct ksink_option *opts)
{
	const struct ksink_option *o;
	const struct ks_kv *kv;

	for (kv = sec ? sec->kvs : NULL; kv != NULL; kv = kv->next) {
		if (*kv->value == '\0')
			continue;
		if ((sec->kind == KS_SEC_KAFKA ||
		    strncmp(kv->key, "kafka.", 6) == 0) &&
		    ks_options_kafka_secret(kv->key))
			return kv;
		if ((o = ks_options_find(opts, kv->key)) != NULL &&
		    (o->flags & KSINK_OPT_SECRET))
			return kv;
	}
	return NULL;
}

/*
 * A file that every user may read must not hold secrets, unless the
 * operator says so ([worker] secrets.allow.world.readable).
 */
static void
check_secrets(const struct ks_conf *conf, struct ks_worker **ws, size_t n,
    struct ks_errors *errs)
{
	const struct ks_section *wsec = ks_conf_section(conf, KS_SEC_WORKER);
	const struct ks_kv *kv;
	struct stat st;
	size_t i;

	if (stat(conf->path, &st) == -1 || !(st.st_mode & S_IROTH) ||
	    ks_conf_bool(wsec, ks_options_worker,
	    "secrets.allow.world.readable"))
		return;
	kv = find_secret(ks_conf_section(conf, KS_SEC_KAFKA), NULL);
	for (i = 0; kv == NULL && i < n; i++)
		kv = find_secret(ws[i]->sec, ws[i]->desc->options);
	if (kv != NULL)
		ks_errors_add(errs, "%s:%d: %s holds a secret, and the file "
		    "is readable by every user (mode %04o); run chmod o-r %s, "
		    "or set secrets.allow.world.readable = true in [worker] to "
		    "accept that", conf->path, kv->line, kv->key,
		    (unsigned)(st.st_mode & 07777), conf->path);
}

int
ks_worker_load_all(const struct ks_conf *conf, struct ks_errors *errs,
    struct ks_worker ***workers, size_t *count)
{
	const struct ksink_option *tabs[1] = { ks_options_worker };
	const struct ks_section *wsec, *s;
	struct ks_worker *w, **ws = NULL;
	const struct ks_kv *kv;
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[512];
	const char *dir;
	size_t n = 0;

	wsec = ks_conf_section(conf, KS_SEC_WORKER);
	if (wsec != NULL)
		ks_conf_validate(conf, wsec, tabs, 1, NULL, 0, errs);
	ks_log_set_level(ks_log_level_parse(ks_conf_str(wsec,
	    ks_options_worker, "log.level")) < 0 ? KSINK_LOG_INFO :
	    ks_log_level_parse(ks_conf_str(wsec, ks_options_worker,
	    "log.level")));
	if (wsec != NULL && (kv = ks_conf_kv(wsec, "admin.listen")) != NULL &&
	    *kv->value != '\0' && ks_admin_parse_listen(kv->value, &ss, &sl,
	    err, sizeof(err)) == -1)
		ks_errors_add(errs, "%s:%d: %s", conf->path, kv->line, err);
	dir = ks_sink_plugin_dir(wsec);
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
	check_secrets(conf, ws, n, errs);
	*workers = ws;
	*count = n;
	return errs->count == 0 ? 0 : -1;
}
