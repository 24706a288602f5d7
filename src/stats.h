/* SPDX-License-Identifier: BSD-2-Clause */
/* stats.h - a connector's figures, for the admin endpoint and the log. */
#ifndef KS_STATS_H
#define KS_STATS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

struct ks_worker_stats {
	uint64_t records;	/* records handed to the sink and committed */
	uint64_t batches;
	uint64_t poison;	/* records skipped with errors.tolerance=all */
	uint64_t retries;
	uint64_t batch_limit;	/* records the next batch may hold */
};

/* What the admin endpoint shows of a connector. */
enum ks_worker_state {
	KS_STATE_STARTING,	/* joining its group, no partitions yet */
	KS_STATE_RUNNING,
	KS_STATE_PAUSED,	/* paused through the admin endpoint */
	KS_STATE_RETRYING,	/* backing off after a transient failure */
	KS_STATE_FAILED,
	KS_STATE_STOPPED,
	KS_STATE_COUNT
};

/* Events a sink plugin counts (host->count, ABI 1.2): up to this many
 * names per connector, each [a-z][a-z0-9_]* of at most KS_EVENT_NAME_MAX
 * characters. */
#define KS_EVENTS_MAX 16
#define KS_EVENT_NAME_MAX 32

struct ks_event_count {
	char name[KS_EVENT_NAME_MAX + 1];
	uint64_t n;
};

/* Upper bounds, in seconds, of the commit latency histogram's buckets. */
#define KS_LATENCY_BUCKETS 14
extern const double ks_stats_latency_bounds[KS_LATENCY_BUCKETS];

struct ks_part_snapshot {
	char *topic;
	int32_t partition;
	int assigned;
	uint64_t records;
	uint64_t batches;
	uint64_t bytes;
	int64_t sink_offset;	/* next offset stored by the sink, -1 none */
	int64_t group_offset;	/* last committed to the group, -1 none */
	int64_t high_watermark;	/* -1 unknown */
	int stalled;		/* held back by an open transaction */
};

/* A consistent copy of a connector's figures, for the admin endpoint. */
struct ks_worker_snapshot {
	const char *name;
	const char *type;
	int state;
	char error[1024];
	struct ks_worker_stats stats;
	uint64_t bytes;
	uint64_t rebalances;
	uint64_t dlq;
	uint64_t latency[KS_LATENCY_BUCKETS + 1];	/* last: +Inf */
	double latency_sum;
	int64_t last_commit_ms;		/* wall clock, 0: never */
	struct ks_event_count events[KS_EVENTS_MAX];
	size_t nevents;
	struct ks_part_snapshot *parts;
	size_t nparts;
};

/* One partition of an applied batch. */
struct ks_stats_part {
	const char *topic;
	int32_t partition;
	int64_t next;		/* the next offset the sink stored */
	uint64_t records;
	uint64_t bytes;
};

struct ks_pstat;

/*
 * Everything under lock is also read by the admin endpoint's thread; the
 * rest (the stall detector's clocks) only by the connector's thread.
 */
struct ks_stats {
	pthread_mutex_t lock;
	int state;		/* enum ks_worker_state; FAILED is final */
	char error[1024];	/* why it failed */
	struct ks_worker_stats counters;
	struct ks_pstat *parts;
	size_t nparts;
	uint64_t bytes, rebalances, dlq;
	uint64_t latency[KS_LATENCY_BUCKETS + 1];
	double latency_sum;
	int64_t last_commit_ms;
	struct ks_event_count events[KS_EVENTS_MAX];	/* the sink's */
	size_t nevents;

	const char *who;
	int64_t stall_ms;	/* stall.warn.ms */
	int64_t last_wm_ms, last_stall_ms;
};

const char *ks_stats_state_name(int state);
void	ks_stats_init(struct ks_stats *st, const char *who, int64_t stall_ms);
void	ks_stats_destroy(struct ks_stats *st);
void	ks_stats_set_state(struct ks_stats *st, int state);
/* Records why the connector failed (first call only) and says so;
 * returns 0 when it had failed already. */
int	ks_stats_fail(struct ks_stats *st, const char *msg);
void	ks_stats_retried(struct ks_stats *st);
/* Adds n to the sink's count of event (a valid name, see
 * ks_stats_event_name_ok()); returns -1 when KS_EVENTS_MAX names are
 * counted already and event is not one of them. */
int	ks_stats_event(struct ks_stats *st, const char *event, uint64_t n);
int	ks_stats_event_name_ok(const char *event);
void	ks_stats_get(struct ks_stats *st, struct ks_worker_stats *out);
/* Partitions assigned from the sink's offsets (-1: none stored). */
void	ks_stats_assigned(struct ks_stats *st,
	    const rd_kafka_topic_partition_list_t *parts,
	    const int64_t *sink_offsets);
void	ks_stats_unassigned(struct ks_stats *st,
	    const rd_kafka_topic_partition_list_t *parts);
/* An applied batch of records, poison of them skipped (dlq of them sent
 * to the dead letter queue), whose sink step took ms. */
/* The record limit of the next batch (batch.adaptive). */
void	ks_stats_batch_limit(struct ks_stats *st, int64_t limit);
void	ks_stats_batch(struct ks_stats *st, size_t records, uint64_t poison,
	    uint64_t dlq, int64_t ms, const struct ks_stats_part *parts,
	    size_t nparts);
/* Once a second: the high watermarks librdkafka knows (no request). */
void	ks_stats_watermarks(struct ks_stats *st, rd_kafka_t *rk, int64_t now);
/* Finds partitions held back by an open transaction; paused: the
 * connector holds them back itself. */
void	ks_stats_stalls(struct ks_stats *st, rd_kafka_t *rk, int64_t now,
	    int paused);
void	ks_stats_snapshot(struct ks_stats *st, struct ks_worker_snapshot *s);
void	ks_stats_snapshot_free(struct ks_worker_snapshot *s);

#endif
