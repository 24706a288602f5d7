/*
 * consumer.c - librdkafka configuration and consumer helpers.
 *
 * The configuration is built from [kafka] and then the connector's own
 * kafka.* keys, each handed to librdkafka, which rejects what it does not
 * know; its message is reported with the line of the key.  The settings
 * that exactly-once rests on are forced, and asking for anything else is
 * an error rather than silently ignored.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "options.h"
#include "util.h"

struct forced {
	const char *key;
	const char *value;
	const char *why;
};

static const struct forced forced[] = {
	{ "isolation.level", "read_committed",
	  "ksink reads only committed records" },
	{ "enable.auto.commit", "false",
	  "the sink, not Kafka, stores the offsets" },
	{ "enable.auto.offset.store", "false",
	  "the sink, not Kafka, stores the offsets" },
};

static int
set_one(rd_kafka_conf_t *rkc, const struct ks_conf *conf,
    const struct ks_kv *kv, const char *key, int *reset,
    struct ks_errors *errs)
{
	char err[512];
	size_t i;
	int b;

	for (i = 0; i < KS_ARRAY_SIZE(forced); i++) {
		if (strcmp(key, forced[i].key) != 0)
			continue;
		if (strcmp(forced[i].value, "false") == 0 ?
		    ks_util_parse_bool(kv->value, &b) == 0 && !b :
		    strcmp(kv->value, forced[i].value) == 0)
			return 0;
		ks_errors_add(errs, "%s:%d: %s = %s is refused: %s; remove "
		    "the line (ksink always uses %s = %s)", conf->path,
		    kv->line, kv->key, kv->value, forced[i].why,
		    forced[i].key, forced[i].value);
		return -1;
	}
	if (strcmp(key, "auto.offset.reset") == 0) {
		if (!strcmp(kv->value, "smallest") ||
		    !strcmp(kv->value, "earliest") ||
		    !strcmp(kv->value, "beginning"))
			*reset = KS_RESET_EARLIEST;
		else if (!strcmp(kv->value, "largest") ||
		    !strcmp(kv->value, "latest") || !strcmp(kv->value, "end"))
			*reset = KS_RESET_LATEST;
		else if (!strcmp(kv->value, "error"))
			*reset = KS_RESET_ERROR;
	}
	if (rd_kafka_conf_set(rkc, key, kv->value, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		/* librdkafka may quote the value: not a secret's. */
		ks_errors_add(errs, "%s:%d: %s: %s", conf->path, kv->line,
		    kv->key, ks_options_kafka_secret(key) ?
		    "invalid value (not shown: it is a secret)" : err);
		return -1;
	}
	return 0;
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	int l;

	/* Errors of the client reach the connector's error callback too,
	 * which says what to check: keep librdkafka's own lines for
	 * debugging. */
	if (strcmp(fac, "FAIL") == 0 || strcmp(fac, "ERROR") == 0)
		l = KSINK_LOG_DEBUG;
	else if (level <= 3)
		l = KSINK_LOG_ERROR;
	else if (level == 4)
		l = KSINK_LOG_WARN;
	else if (level <= 6)
		l = KSINK_LOG_INFO;
	else
		l = KSINK_LOG_DEBUG;
	ks_log_msg(l, rd_kafka_name(rk), "librdkafka %s: %s", fac, buf);
}

rd_kafka_conf_t *
ks_consumer_conf(const struct ks_conf *conf, const struct ks_section *conn,
    int *reset, struct ks_errors *errs)
{
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_kv *kv;
	rd_kafka_conf_t *rkc;
	char err[512], buf[256];
	size_t before = errs->count, i;

	rkc = rd_kafka_conf_new();
	*reset = KS_RESET_EARLIEST;
	snprintf(buf, sizeof(buf), "ksink-%s", conn->name);
#define SET(k, v) \
	if (rd_kafka_conf_set(rkc, k, v, err, sizeof(err)) != \
	    RD_KAFKA_CONF_OK) \
		ks_errors_add(errs, "internal: %s: %s", k, err)
	SET("group.id", buf);
	SET("client.id", buf);
	SET("auto.offset.reset", "earliest");
	SET("enable.partition.eof", "false");
	/* Bound the memory of the prefetch queue (per connector): about
	 * 0.4 KiB of librdkafka's own per queued record, the records, and
	 * one fetch response in flight.  A sink is slower than the fetcher,
	 * so a larger queue only costs memory; ks_waker keeps it fed. */
	SET("queued.min.messages", "30000");
	SET("queued.max.messages.kbytes", "8192");
	SET("fetch.max.bytes", "4194304");
	/* librdkafka >= 2.2: look at a full queue again after 10 ms rather
	 * than 1 s (older versions do not know the property: ks_waker). */
	(void)rd_kafka_conf_set(rkc, "fetch.queue.backoff.ms", "10", err,
	    sizeof(err));
	for (i = 0; i < KS_ARRAY_SIZE(forced); i++)
		SET(forced[i].key, forced[i].value);
#undef SET
	rd_kafka_conf_set_log_cb(rkc, log_cb);

	for (kv = kafka ? kafka->kvs : NULL; kv != NULL; kv = kv->next) {
		if (ks_conf_kv(kafka, kv->key) != kv) {
			ks_errors_add(errs, "%s:%d: key \"%s\" given again "
			    "(first at line %d)", conf->path, kv->line,
			    kv->key, ks_conf_kv(kafka, kv->key)->line);
			continue;
		}
		if (strcmp(kv->key, "group.id") == 0) {
			ks_errors_add(errs, "%s:%d: group.id in [kafka] would "
			    "put every connector in one consumer group; set "
			    "kafka.group.id in a [connector NAME] section "
			    "instead (the default is ksink-NAME)", conf->path,
			    kv->line);
			continue;
		}
		set_one(rkc, conf, kv, kv->key, reset, errs);
	}
	for (kv = conn->kvs; kv != NULL; kv = kv->next)
		if (strncmp(kv->key, "kafka.", 6) == 0) {
			if (ks_conf_kv(conn, kv->key) != kv) {
				ks_errors_add(errs, "%s:%d: key \"%s\" given "
				    "again (first at line %d)", conf->path,
				    kv->line, kv->key,
				    ks_conf_kv(conn, kv->key)->line);
				continue;
			}
			set_one(rkc, conf, kv, kv->key + 6, reset, errs);
		}
	if (errs->count != before) {
		rd_kafka_conf_destroy(rkc);
		return NULL;
	}
	return rkc;
}

/* Properties of a consumer that a producer would only warn about. */
static int
consumer_only(const char *key)
{
	static const char *const prefixes[] = { "group.", "fetch.",
	    "queued.", "auto.", "enable.auto.", "partition.assignment",
	    "session.", "heartbeat.", "max.poll.", "isolation.",
	    "enable.partition.eof", "check.crcs", "coordinator.",
	    "consume." };
	size_t i;

	for (i = 0; i < KS_ARRAY_SIZE(prefixes); i++)
		if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

/*
 * The configuration of a connector's dead letter queue producer: the same
 * [kafka] and kafka.* settings (brokers, security) without the consumer's
 * own.  The settings were checked by ks_consumer_conf already.  A replayed
 * batch writes its dead letters again, byte for byte: the queue is
 * at-least-once with deterministic content.
 */
rd_kafka_conf_t *
ks_consumer_producer_conf(const struct ks_conf *conf,
    const struct ks_section *conn, struct ks_errors *errs)
{
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_section *secs[2] = { kafka, conn };
	const struct ks_kv *kv;
	rd_kafka_conf_t *rkc;
	const char *key;
	char err[512], buf[256];
	size_t i;

	rkc = rd_kafka_conf_new();
	snprintf(buf, sizeof(buf), "ksink-%s-dlq", conn->name);
	rd_kafka_conf_set(rkc, "client.id", buf, NULL, 0);
	rd_kafka_conf_set_log_cb(rkc, log_cb);
	for (i = 0; i < 2; i++)
		for (kv = secs[i] ? secs[i]->kvs : NULL; kv != NULL;
		    kv = kv->next) {
			key = kv->key;
			if (i == 1 && strncmp(key, "kafka.", 6) != 0)
				continue;
			if (i == 1)
				key += 6;
			if (consumer_only(key))
				continue;
			if (rd_kafka_conf_set(rkc, key, kv->value, err,
			    sizeof(err)) != RD_KAFKA_CONF_OK)
				ks_errors_add(errs, "%s:%d: %s: %s", conf->path,
				    kv->line, kv->key, err);
		}
	rd_kafka_conf_set(rkc, "linger.ms", "5", NULL, 0);
	rd_kafka_conf_set(rkc, "message.timeout.ms", "30000", NULL, 0);
	return rkc;
}

int
ks_consumer_subscribe(rd_kafka_t *rk, const char *topics, char *errbuf,
    size_t errlen)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;
	char *copy, *tok, *save, *t, *e;

	list = rd_kafka_topic_partition_list_new(4);
	copy = ks_util_strdup(topics);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		t = tok;
		while (*t == ' ' || *t == '\t' || *t == '\n')
			t++;
		e = t + strlen(t);
		while (e > t && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\n'))
			*--e = '\0';
		if (*t != '\0')
			rd_kafka_topic_partition_list_add(list, t,
			    RD_KAFKA_PARTITION_UA);
	}
	free(copy);
	if (list->cnt == 0) {
		ks_util_errf(errbuf, errlen, "topics lists no topic");
		rd_kafka_topic_partition_list_destroy(list);
		return -1;
	}
	err = rd_kafka_subscribe(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err) {
		ks_util_errf(errbuf, errlen, "cannot subscribe to %s: %s",
		    topics, rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

int
ks_consumer_is_cooperative(rd_kafka_t *rk)
{
	const char *p = rd_kafka_rebalance_protocol(rk);

	return p != NULL && strcmp(p, "COOPERATIVE") == 0;
}

void
ks_consumer_pause(rd_kafka_t *rk, int pause)
{
	rd_kafka_topic_partition_list_t *list = NULL;

	if (rd_kafka_assignment(rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    list == NULL)
		return;
	if (list->cnt > 0) {
		if (pause)
			rd_kafka_pause_partitions(rk, list);
		else
			rd_kafka_resume_partitions(rk, list);
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* Whether ksink runs with librdkafka version_hex (as rd_kafka_version()
 * gives it: 0xMMmmrrpp) or a later one.  The one place where ksink asks. */
int
ks_consumer_rdkafka_at_least(int version_hex)
{
	return rd_kafka_version() >= version_hex;
}

/*
 * A partition's low and high watermarks, asked of its leader; the high one
 * is the last stable offset, since the client reads read_committed.
 *
 * librdkafka before 2.3.0 does not keep rd_kafka_query_watermark_offsets()
 * to its timeout: it waits for the ListOffsets responses however long the
 * leader takes, up to socket.timeout.ms (60 s) and more (librdkafka PR
 * #4460; tests/kafka/mock-watermarks.test, mock-waker-stop.test).  There
 * the same requests are sent through rd_kafka_offsets_for_times(), which
 * keeps to its timeout.  From 2.3.0 on, the watermark query also follows
 * a leader change, which rd_kafka_offsets_for_times() does only from
 * 2.10.0.
 */
rd_kafka_resp_err_t
ks_consumer_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition,
    int64_t *low, int64_t *high, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	int64_t deadline, left, got[2];
	int i;

	if (ks_consumer_rdkafka_at_least(0x02030000))
		return rd_kafka_query_watermark_offsets(rk, topic, partition,
		    low, high, timeout_ms);
	deadline = ks_util_now_ms() + timeout_ms;
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition);
	/* One at a time: a request naming a partition twice is invalid. */
	for (i = 0; i < 2 && !err; i++) {
		if ((left = deadline - ks_util_now_ms()) <= 0) {
			err = RD_KAFKA_RESP_ERR__TIMED_OUT;
			break;
		}
		list->elems[0].offset = i == 0 ? RD_KAFKA_OFFSET_BEGINNING :
		    RD_KAFKA_OFFSET_END;
		list->elems[0].err = RD_KAFKA_RESP_ERR_NO_ERROR;
		if ((err = rd_kafka_offsets_for_times(rk, list, (int)left)) ==
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			err = list->elems[0].err;
		got[i] = list->elems[0].offset;
	}
	rd_kafka_topic_partition_list_destroy(list);
	if (err)
		return err;
	*low = got[0];
	*high = got[1];
	/* As rd_kafka_query_watermark_offsets() says an empty partition. */
	if (*low < 0 && *high >= 0)
		*low = *high;
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Group offsets are committed for lag tools only: ignore failures. */
void
ks_consumer_commit(rd_kafka_t *rk, const char *const *topics,
    const int32_t *partitions, const int64_t *next, size_t n)
{
	rd_kafka_topic_partition_list_t *list;
	size_t i;

	if (n == 0)
		return;
	list = rd_kafka_topic_partition_list_new((int)n);
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(list, topics[i],
		    partitions[i])->offset = next[i];
	(void)rd_kafka_commit(rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/*
 * The fetch waker.
 *
 * librdkafka before 2.2 stops fetching a partition while the consumer's
 * prefetch queue holds queued.min.messages records or
 * queued.max.messages.kbytes, and looks at it again only when the broker's
 * thread wakes up, which, with nothing else to do, is once a second
 * (librdkafka issue #2879; 2.2.0 added fetch.queue.backoff.ms for it).  A
 * sink slower than the fetcher, that is every sink, would then alternate
 * between draining the queue and waiting up to a second for more.
 *
 * The waker is a thread that watches how much the connector took from
 * the queue.  Once it has taken a quarter of a queue's worth (a quarter
 * of queued.min.messages records or of queued.max.messages.kbytes) and
 * the queue is below both bounds again (its bytes estimated from the
 * mean size of the records taken), it sends the leader of each assigned
 * partition a ListOffsets request (a watermark query), whose handling
 * wakes that broker's thread: it then finds the partitions fetchable and
 * fetches.  At most one round every KS_WAKER_TICK_MS; none while the
 * connector is caught up and quiet, since then it takes little.  The
 * requests do not touch positions or offsets.
 */
#define KS_WAKER_TICK_MS 5
#define KS_WAKER_METADATA_MS 30000
#define KS_WAKER_TIMEOUT_MS 1000

struct ks_waker {
	rd_kafka_t *rk;
	rd_kafka_queue_t *queue;
	char *who;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int stop;
	atomic_uint_fast64_t records, bytes;	/* taken by the connector */
	atomic_int reassigned;
	uint64_t min_records, max_bytes;	/* the queue's bounds */
	uint64_t step_records, step_bytes;	/* a quarter of them */
	uint64_t rounds;
	/* One assigned partition per leader, refreshed on reassignment and
	 * every KS_WAKER_METADATA_MS. */
	struct { char *topic; int32_t partition; } *targets;
	size_t ntargets;
	int64_t targets_ms;
};

static void
waker_clear_targets(struct ks_waker *wk)
{
	size_t i;

	for (i = 0; i < wk->ntargets; i++)
		free(wk->targets[i].topic);
	free(wk->targets);
	wk->targets = NULL;
	wk->ntargets = 0;
}

static int32_t
waker_leader(const struct rd_kafka_metadata *md, const char *topic,
    int32_t partition)
{
	int i, j;

	for (i = 0; md != NULL && i < md->topic_cnt; i++) {
		if (strcmp(md->topics[i].topic, topic) != 0)
			continue;
		for (j = 0; j < md->topics[i].partition_cnt; j++)
			if (md->topics[i].partitions[j].id == partition)
				return md->topics[i].partitions[j].leader;
	}
	return -1;
}

/* One assigned partition per leader broker; every assigned partition when
 * the leaders are unknown. */
static void
waker_refresh_targets(struct ks_waker *wk)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	const struct rd_kafka_metadata *md = NULL;
	int32_t *leaders, leader;
	size_t nleaders = 0, k;
	int i;

	waker_clear_targets(wk);
	wk->targets_ms = ks_util_now_ms();
	if (rd_kafka_assignment(wk->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    list == NULL)
		return;
	if (list->cnt > 0 && rd_kafka_metadata(wk->rk, 0, NULL, &md,
	    KS_WAKER_TIMEOUT_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
		md = NULL;
	wk->targets = ks_util_xcalloc(list->cnt + 1, sizeof(*wk->targets));
	leaders = ks_util_xcalloc(list->cnt + 1, sizeof(*leaders));
	for (i = 0; i < list->cnt; i++) {
		leader = waker_leader(md, list->elems[i].topic,
		    list->elems[i].partition);
		if (leader >= 0) {
			for (k = 0; k < nleaders && leaders[k] != leader; k++)
				;
			if (k < nleaders)
				continue;
			leaders[nleaders++] = leader;
		}
		wk->targets[wk->ntargets].topic =
		    ks_util_strdup(list->elems[i].topic);
		wk->targets[wk->ntargets].partition = list->elems[i].partition;
		wk->ntargets++;
	}
	free(leaders);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_partition_list_destroy(list);
}

static void *
waker_main(void *arg)
{
	struct ks_waker *wk = arg;
	uint64_t mark_records = 0, mark_bytes = 0, r, b;
	struct timespec until;
	size_t len;
	int64_t lo, hi;
	size_t i;

	pthread_mutex_lock(&wk->lock);
	while (!wk->stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += KS_WAKER_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&wk->cond, &wk->lock, &until);
		if (wk->stop)
			break;
		r = atomic_load_explicit(&wk->records, memory_order_relaxed);
		b = atomic_load_explicit(&wk->bytes, memory_order_relaxed);
		if (r - mark_records < wk->step_records &&
		    b - mark_bytes < wk->step_bytes)
			continue;
		len = rd_kafka_queue_length(wk->queue);
		if (len >= wk->min_records || (r > 0 &&
		    (double)len * ((double)b / (double)r) >=
		    (double)wk->max_bytes))
			continue;
		mark_records = r;
		mark_bytes = b;
		pthread_mutex_unlock(&wk->lock);
		if (atomic_exchange(&wk->reassigned, 0) ||
		    ks_util_now_ms() - wk->targets_ms >= KS_WAKER_METADATA_MS)
			waker_refresh_targets(wk);
		for (i = 0; i < wk->ntargets; i++)
			(void)ks_consumer_watermarks(wk->rk,
			    wk->targets[i].topic, wk->targets[i].partition,
			    &lo, &hi, KS_WAKER_TIMEOUT_MS);
		pthread_mutex_lock(&wk->lock);
		wk->rounds++;
	}
	pthread_mutex_unlock(&wk->lock);
	return NULL;
}

static uint64_t
conf_number(const rd_kafka_conf_t *rkc, const char *key, uint64_t dflt)
{
	char buf[64];
	size_t len = sizeof(buf);
	char *end;
	unsigned long long v;

	if (rd_kafka_conf_get(rkc, key, buf, &len) != RD_KAFKA_CONF_OK)
		return dflt;
	v = strtoull(buf, &end, 10);
	return *end == '\0' && end != buf ? (uint64_t)v : dflt;
}

struct ks_waker *
ks_waker_start(rd_kafka_t *rk, const char *who)
{
	const rd_kafka_conf_t *rkc = rd_kafka_conf(rk);
	struct ks_waker *wk;
	char buf[64];
	size_t len = sizeof(buf);

	/* librdkafka 2.2 and later retry a full queue by themselves. */
	if (rd_kafka_conf_get(rkc, "fetch.queue.backoff.ms", buf, &len) ==
	    RD_KAFKA_CONF_OK)
		return NULL;
	wk = ks_util_xcalloc(1, sizeof(*wk));
	wk->rk = rk;
	wk->who = ks_util_strdup(who);
	wk->queue = rd_kafka_queue_get_consumer(rk);
	wk->min_records = conf_number(rkc, "queued.min.messages", 100000);
	wk->max_bytes = conf_number(rkc, "queued.max.messages.kbytes",
	    65536) * 1024;
	wk->step_records = wk->min_records / 4 ? wk->min_records / 4 : 1;
	wk->step_bytes = wk->max_bytes / 4 ? wk->max_bytes / 4 : 1;
	atomic_init(&wk->records, 0);
	atomic_init(&wk->bytes, 0);
	atomic_init(&wk->reassigned, 1);
	pthread_mutex_init(&wk->lock, NULL);
	pthread_cond_init(&wk->cond, NULL);
	if (wk->queue == NULL ||
	    pthread_create(&wk->thread, NULL, waker_main, wk) != 0) {
		ks_log_msg(KSINK_LOG_WARN, who, "cannot start the fetch "
		    "waker: fetching may pause up to a second whenever the "
		    "prefetch queue fills");
		if (wk->queue != NULL)
			rd_kafka_queue_destroy(wk->queue);
		pthread_mutex_destroy(&wk->lock);
		pthread_cond_destroy(&wk->cond);
		free(wk->who);
		free(wk);
		return NULL;
	}
	ks_log_msg(KSINK_LOG_DEBUG, who, "fetch waker started (librdkafka %s "
	    "has no fetch.queue.backoff.ms): every %llu records or %llu "
	    "bytes taken", rd_kafka_version_str(),
	    (unsigned long long)wk->step_records,
	    (unsigned long long)wk->step_bytes);
	return wk;
}

void
ks_waker_took(struct ks_waker *wk, uint64_t records, uint64_t bytes)
{
	if (wk == NULL)
		return;
	atomic_fetch_add_explicit(&wk->records, records, memory_order_relaxed);
	atomic_fetch_add_explicit(&wk->bytes, bytes, memory_order_relaxed);
}

void
ks_waker_reassigned(struct ks_waker *wk)
{
	if (wk != NULL)
		atomic_store(&wk->reassigned, 1);
}

void
ks_waker_stop(struct ks_waker *wk)
{
	if (wk == NULL)
		return;
	pthread_mutex_lock(&wk->lock);
	wk->stop = 1;
	pthread_cond_signal(&wk->cond);
	pthread_mutex_unlock(&wk->lock);
	pthread_join(wk->thread, NULL);
	ks_log_msg(KSINK_LOG_DEBUG, wk->who, "fetch waker: %llu rounds",
	    (unsigned long long)wk->rounds);
	rd_kafka_queue_destroy(wk->queue);
	waker_clear_targets(wk);
	pthread_mutex_destroy(&wk->lock);
	pthread_cond_destroy(&wk->cond);
	free(wk->who);
	free(wk);
}
