/* SPDX-License-Identifier: BSD-2-Clause */
/* batch.h - the queue of polled messages and the batch at its head. */
#ifndef KS_BATCH_H
#define KS_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ksink/sink.h"
#include "stats.h"

struct ks_batch {
	/* Queued messages, oldest first; the batch is the head. */
	rd_kafka_message_t **msgs;
	size_t n, cap;
	size_t bytes;		/* of keys and values */
	int64_t first_ms;	/* when the oldest was queued */

	/* The head batch as records, and its partitions' next offsets;
	 * scratch reused by every batch. */
	struct ksink_record *recs;
	size_t recs_cap;
	struct ksink_header *hdrs;
	size_t hdrs_cap;
	struct ks_stats_part *parts;
	size_t parts_cap, nparts;
};

void	ks_batch_push(struct ks_batch *b, rd_kafka_message_t *m);
/* Removes the first k messages (an applied batch); those left have been
 * queued since `since` (ms, monotonic) at the latest. */
void	ks_batch_shift(struct ks_batch *b, size_t k, int64_t since);
size_t	ks_batch_drop(struct ks_batch *b,
	    const rd_kafka_topic_partition_list_t *parts);
size_t	ks_batch_cut(const struct ks_batch *b, int64_t max_records,
	    int64_t max_bytes);
/* Fills recs[0..k) and parts[] from the first k messages. */
void	ks_batch_build(struct ks_batch *b, size_t k);
/* "key=... value=..." of a record, escaped and cut, for a message. */
void	ks_batch_describe(const struct ksink_record *r, char *buf,
	    size_t len);
void	ks_batch_free(struct ks_batch *b);

/*
 * How many records the next batch may hold (batch.max.records and
 * batch.adaptive).  Adaptive, the limit starts at KS_BATCH_START records
 * (batch.max.records if smaller: then it is fixed) and doubles, up to
 * batch.max.records, after a batch that was full and whose commit took a
 * third or more of the sink's step: a sink whose commit costs more than
 * its records (an fsync, a round trip) then pays it for more records at
 * once.  It halves again, down to where it started, after a step whose
 * commit took less than a tenth.
 */
#define KS_BATCH_START 5000

struct ks_batch_size {
	int64_t limit;		/* records, for the next batch */
	int64_t floor, max;
	int adaptive;
};

void	ks_batch_size_init(struct ks_batch_size *, int64_t max_records,
	    int adaptive);
/* After a batch of k records applied at the first attempt, its step
 * (begin to commit) taking step_us and its commit commit_us.  Returns 1
 * when the limit changed. */
int	ks_batch_size_adapt(struct ks_batch_size *, size_t k,
	    int64_t step_us, int64_t commit_us);

#endif
