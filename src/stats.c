/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats.c - a connector's figures (counters, the commit latency
 * histogram, per-partition offsets and watermarks), the consistent
 * copies the admin endpoint reads, and stall detection.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consumer.h"
#include "log.h"
#include "stats.h"
#include "util.h"

/* How often the watermarks librdkafka knows are looked at. */
#define WATERMARKS_MS 1000
/* The longest time between two looks for stalled partitions. */
#define STALL_CHECK_MAX_MS 5000
/* How long a read_committed watermark query may take. */
#define STALL_QUERY_MS 2000

const double ks_stats_latency_bounds[KS_LATENCY_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
	10, 30
};

static const char *const state_names[KS_STATE_COUNT] = {
	"starting", "running", "paused", "retrying", "failed", "stopped"
};

/* Figures of one partition. */
struct ks_pstat {
	char *topic;
	int32_t partition;
	int assigned;
	uint64_t records, batches, bytes;
	int64_t sink_offset, group_offset, high_watermark;
	/* Stall detection: the consumer's position, when it last moved. */
	int64_t position, moved_ms, checked_ms;
	int stalled;
};

const char *
ks_stats_state_name(int state)
{
	return state >= 0 && state < KS_STATE_COUNT ? state_names[state] :
	    "unknown";
}

void
ks_stats_init(struct ks_stats *st, const char *who, int64_t stall_ms)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
	st->who = who;
	st->stall_ms = stall_ms;
}

void
ks_stats_destroy(struct ks_stats *st)
{
	size_t i;

	pthread_mutex_destroy(&st->lock);
	for (i = 0; i < st->nparts; i++)
		free(st->parts[i].topic);
	free(st->parts);
	st->parts = NULL;
	st->nparts = 0;
}

void
ks_stats_set_state(struct ks_stats *st, int state)
{
	pthread_mutex_lock(&st->lock);
	if (st->state != KS_STATE_FAILED)
		st->state = state;
	pthread_mutex_unlock(&st->lock);
}

int
ks_stats_fail(struct ks_stats *st, const char *msg)
{
	pthread_mutex_lock(&st->lock);
	if (st->state == KS_STATE_FAILED) {
		pthread_mutex_unlock(&st->lock);
		return 0;
	}
	snprintf(st->error, sizeof(st->error), "%s", msg);
	st->state = KS_STATE_FAILED;
	pthread_mutex_unlock(&st->lock);
	ks_log_msg(KSINK_LOG_ERROR, st->who, "%s", msg);
	return 1;
}

void
ks_stats_retried(struct ks_stats *st)
{
	pthread_mutex_lock(&st->lock);
	st->counters.retries++;
	pthread_mutex_unlock(&st->lock);
}

int
ks_stats_event_name_ok(const char *event)
{
	size_t i;

	if (event == NULL || !(event[0] >= 'a' && event[0] <= 'z'))
		return 0;
	for (i = 0; event[i] != '\0'; i++)
		if (i == KS_EVENT_NAME_MAX || !((event[i] >= 'a' &&
		    event[i] <= 'z') || (event[i] >= '0' && event[i] <= '9') ||
		    event[i] == '_'))
			return 0;
	return 1;
}

int
ks_stats_event(struct ks_stats *st, const char *event, uint64_t n)
{
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->nevents; i++)
		if (strcmp(st->events[i].name, event) == 0)
			break;
	if (i == st->nevents) {
		if (i == KS_EVENTS_MAX) {
			rc = -1;
			goto out;
		}
		snprintf(st->events[i].name, sizeof(st->events[i].name), "%s",
		    event);
		st->events[i].n = 0;
		st->nevents++;
	}
	st->events[i].n += n;
out:
	pthread_mutex_unlock(&st->lock);
	return rc;
}

void
ks_stats_batch_limit(struct ks_stats *st, int64_t limit)
{
	pthread_mutex_lock(&st->lock);
	st->counters.batch_limit = (uint64_t)limit;
	pthread_mutex_unlock(&st->lock);
}

void
ks_stats_get(struct ks_stats *st, struct ks_worker_stats *out)
{
	pthread_mutex_lock(&st->lock);
	*out = st->counters;
	pthread_mutex_unlock(&st->lock);
}

/* The figures of a partition; call with the lock held. */
static struct ks_pstat *
part_get(struct ks_stats *st, const char *topic, int32_t partition)
{
	struct ks_pstat *p;
	size_t i;

	for (i = 0; i < st->nparts; i++)
		if (st->parts[i].partition == partition &&
		    strcmp(st->parts[i].topic, topic) == 0)
			return &st->parts[i];
	st->parts = ks_util_xrealloc(st->parts,
	    (st->nparts + 1) * sizeof(*st->parts));
	p = &st->parts[st->nparts++];
	memset(p, 0, sizeof(*p));
	p->topic = ks_util_strdup(topic);
	p->partition = partition;
	p->sink_offset = p->group_offset = p->high_watermark = -1;
	p->position = -1;
	return p;
}

void
ks_stats_assigned(struct ks_stats *st,
    const rd_kafka_topic_partition_list_t *parts, const int64_t *sink)
{
	struct ks_pstat *p;
	int i;

	pthread_mutex_lock(&st->lock);
	st->rebalances++;
	for (i = 0; i < parts->cnt; i++) {
		p = part_get(st, parts->elems[i].topic,
		    parts->elems[i].partition);
		p->assigned = 1;
		p->sink_offset = sink[i];
	}
	pthread_mutex_unlock(&st->lock);
}

void
ks_stats_unassigned(struct ks_stats *st,
    const rd_kafka_topic_partition_list_t *parts)
{
	int i;

	pthread_mutex_lock(&st->lock);
	for (i = 0; i < parts->cnt; i++)
		part_get(st, parts->elems[i].topic,
		    parts->elems[i].partition)->assigned = 0;
	pthread_mutex_unlock(&st->lock);
}

void
ks_stats_batch(struct ks_stats *st, size_t k, uint64_t poison, uint64_t dlq,
    int64_t ms, const struct ks_stats_part *parts, size_t nparts)
{
	double sec = (double)ms / 1000.0;
	struct ks_pstat *p;
	size_t i, b;

	pthread_mutex_lock(&st->lock);
	st->counters.records += k;
	st->counters.batches++;
	st->counters.poison += poison;
	st->dlq += dlq;
	for (b = 0; b < KS_LATENCY_BUCKETS &&
	    sec > ks_stats_latency_bounds[b]; b++)
		;
	st->latency[b]++;
	st->latency_sum += sec;
	st->last_commit_ms = ks_util_wall_ms();
	for (i = 0; i < nparts; i++) {
		p = part_get(st, parts[i].topic, parts[i].partition);
		p->records += parts[i].records;
		p->bytes += parts[i].bytes;
		p->batches++;
		p->sink_offset = p->group_offset = parts[i].next;
		st->bytes += parts[i].bytes;
	}
	pthread_mutex_unlock(&st->lock);
}

void
ks_stats_watermarks(struct ks_stats *st, rd_kafka_t *rk, int64_t now)
{
	int64_t lo, hi;
	size_t i;

	if (now - st->last_wm_ms < WATERMARKS_MS)
		return;
	st->last_wm_ms = now;
	pthread_mutex_lock(&st->lock);
	for (i = 0; i < st->nparts; i++)
		if (st->parts[i].assigned && rd_kafka_get_watermark_offsets(
		    rk, st->parts[i].topic, st->parts[i].partition, &lo,
		    &hi) == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0)
			st->parts[i].high_watermark = hi;
	pthread_mutex_unlock(&st->lock);
}

/*
 * Finds partitions held back by an open transaction: read_committed
 * consumers see nothing past the last stable offset (LSO) until the
 * transaction ends, so the position stops while the high watermark goes
 * on.  Reported once per stall, and again when it ends.  The LSO is asked
 * of the broker (a read_committed watermark query) only for partitions
 * that look stalled.
 */
void
ks_stats_stalls(struct ks_stats *st, rd_kafka_t *rk, int64_t now,
    int paused)
{
	rd_kafka_topic_partition_list_t *list = NULL;
	int64_t pos, lo, lso;
	struct ks_pstat *ps;
	int i;

	if (now - st->last_stall_ms < (st->stall_ms < STALL_CHECK_MAX_MS ?
	    st->stall_ms / 2 : STALL_CHECK_MAX_MS))
		return;
	st->last_stall_ms = now;
	if (rd_kafka_assignment(rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    list == NULL)
		return;
	rd_kafka_position(rk, list);
	for (i = 0; i < list->cnt; i++) {
		pthread_mutex_lock(&st->lock);
		ps = part_get(st, list->elems[i].topic,
		    list->elems[i].partition);
		pos = list->elems[i].offset >= 0 ? list->elems[i].offset :
		    ps->sink_offset;
		if (pos != ps->position || ps->moved_ms == 0) {
			ps->position = pos;
			ps->moved_ms = now;
			if (ps->stalled)
				ks_log_msg(KSINK_LOG_INFO, st->who, "%s/%d "
				    "moves again at offset %lld", ps->topic,
				    ps->partition, (long long)pos);
			ps->stalled = 0;
			pthread_mutex_unlock(&st->lock);
			continue;
		}
		if (ps->stalled || pos < 0 || now - ps->moved_ms < st->stall_ms ||
		    now - ps->checked_ms < st->stall_ms ||
		    ps->high_watermark <= pos + 1 || paused) {
			pthread_mutex_unlock(&st->lock);
			continue;
		}
		ps->checked_ms = now;
		pthread_mutex_unlock(&st->lock);
		if (ks_consumer_watermarks(rk, list->elems[i].topic,
		    list->elems[i].partition, &lo, &lso, STALL_QUERY_MS) !=
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			continue;
		pthread_mutex_lock(&st->lock);
		if (lso <= pos && lso < ps->high_watermark) {
			ps->stalled = 1;
			ks_log_msg(KSINK_LOG_WARN, st->who, "%s/%d is stalled "
			    "at offset %lld for %lld s: an open transaction "
			    "holds back the records up to the high watermark "
			    "%lld; they are applied once it commits or aborts "
			    "(the broker aborts it after its "
			    "transaction.timeout.ms)", ps->topic,
			    ps->partition, (long long)lso,
			    (long long)((now - ps->moved_ms) / 1000),
			    (long long)ps->high_watermark);
		}
		pthread_mutex_unlock(&st->lock);
	}
	rd_kafka_topic_partition_list_destroy(list);
}

void
ks_stats_snapshot(struct ks_stats *st, struct ks_worker_snapshot *s)
{
	size_t i;

	pthread_mutex_lock(&st->lock);
	s->state = st->state;
	snprintf(s->error, sizeof(s->error), "%s",
	    st->state == KS_STATE_FAILED ? st->error : "");
	s->stats = st->counters;
	s->bytes = st->bytes;
	s->rebalances = st->rebalances;
	s->dlq = st->dlq;
	memcpy(s->latency, st->latency, sizeof(s->latency));
	s->latency_sum = st->latency_sum;
	s->last_commit_ms = st->last_commit_ms;
	memcpy(s->events, st->events, sizeof(s->events));
	s->nevents = st->nevents;
	s->nparts = st->nparts;
	s->parts = ks_util_xcalloc(st->nparts, sizeof(*s->parts));
	for (i = 0; i < st->nparts; i++) {
		struct ks_pstat *p = &st->parts[i];

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
	pthread_mutex_unlock(&st->lock);
}

void
ks_stats_snapshot_free(struct ks_worker_snapshot *s)
{
	size_t i;

	for (i = 0; i < s->nparts; i++)
		free(s->parts[i].topic);
	free(s->parts);
	s->parts = NULL;
	s->nparts = 0;
}
