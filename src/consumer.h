/* SPDX-License-Identifier: BSD-2-Clause */
/* consumer.h - a connector's librdkafka consumer, all of it. */
#ifndef KS_CONSUMER_H
#define KS_CONSUMER_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "ksink/sink.h"

struct ks_conf;
struct ks_section;
struct ks_errors;
struct ks_stats;
struct ks_stats_part;
struct ks_consumer;

/* Where a partition the sink has never seen starts. */
enum ks_reset {
	KS_RESET_EARLIEST,
	KS_RESET_LATEST,
	KS_RESET_ERROR
};

/* The configuration of a connector's consumer: [kafka], then its kafka.*
 * keys, with what exactly-once needs forced; NULL with errors added. */
rd_kafka_conf_t *ks_consumer_conf(const struct ks_conf *conf,
	    const struct ks_section *conn, int *reset, struct ks_errors *errs);

/* Bugs of older librdkafka releases that ksink works around. */
enum ks_rdkafka_fix {
	KS_RDKAFKA_FIX_COOP_DESTROY,	/* 2.3.0: see ks_consumer_close() */
	KS_RDKAFKA_FIX_WATERMARK_TIMEOUT /* 2.3.0: ks_consumer_watermarks() */
};
/* Has the running librdkafka the fix?  The one place that compares its
 * version (tests/kafka/LIBRDKAFKA.md lists the bugs). */
int	ks_consumer_rdkafka_fixed(enum ks_rdkafka_fix fix);

/* A partition's low and high watermarks (the high one is the last stable
 * offset), asked of its leader within timeout_ms on every librdkafka. */
rd_kafka_resp_err_t ks_consumer_watermarks(rd_kafka_t *rk, const char *topic,
	    int32_t partition, int64_t *low, int64_t *high, int timeout_ms);

/* What the consumer asks of the worker that owns it.  Each is called
 * from inside ks_consumer_poll(), in the worker's thread. */
struct ks_consumer_cb {
	void *arg;
	/* The sink's stored offsets of offs[0..n): a KSINK_* status. */
	int	(*load_offsets)(void *arg, struct ksink_offset *offs,
		    size_t n, char *errbuf, size_t errlen);
	/* Partitions are taken away (NULL: all of them; lost: another
	 * member may own them already): apply or drop what is held of
	 * them before this returns. */
	void	(*revoke)(void *arg,
		    const rd_kafka_topic_partition_list_t *parts, int lost);
	/* Partitions were assigned (optional). */
	void	(*assigned)(void *arg);
	/* The connector cannot go on; msg says why. */
	void	(*fail)(void *arg, const char *msg);
};

/* Takes rkconf. */
struct ks_consumer *ks_consumer_new(rd_kafka_conf_t *rkconf, int reset,
	    const char *who, const char *topics, struct ks_stats *stats,
	    const struct ks_consumer_cb *cb);
/* Creates the client and subscribes; -1 with errbuf filled. */
int	ks_consumer_start(struct ks_consumer *c, char *errbuf, size_t errlen);
/*
 * Serves the consumer: carries out a pending assignment when the sink's
 * offsets can be read, runs the callbacks, and returns a record, or NULL
 * (nothing within timeout_ms, or an error, said or failed on).
 */
rd_kafka_message_t *ks_consumer_poll(struct ks_consumer *c, int timeout_ms);
/* How many assignments were carried out. */
uint64_t ks_consumer_assignments(const struct ks_consumer *c);
/* Pauses or resumes every assigned partition (and those assigned
 * later, while paused). */
void	ks_consumer_pause(struct ks_consumer *c, int pause);
/* Commits the group offsets of an applied batch, for lag tools. */
void	ks_consumer_commit(struct ks_consumer *c,
	    const struct ks_stats_part *parts, size_t n);
/* The client, for the statistics' queries; NULL before the start. */
rd_kafka_t *ks_consumer_handle(const struct ks_consumer *c);
/* Leaves the group and destroys the client. */
void	ks_consumer_close(struct ks_consumer *c);
void	ks_consumer_free(struct ks_consumer *c);

#endif
