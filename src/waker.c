/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * waker.c - the fetch waker, for librdkafka before 2.2.
 *
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
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consumer.h"
#include "log.h"
#include "util.h"
#include "waker.h"

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
