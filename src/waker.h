/* SPDX-License-Identifier: BSD-2-Clause */
/* waker.h - keeps librdkafka < 2.2 fetching when its queue drains. */
#ifndef KS_WAKER_H
#define KS_WAKER_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* NULL when not needed (librdkafka has fetch.queue.backoff.ms).  Start it
 * once the consumer exists, stop it before the consumer is closed. */
struct ks_waker;
struct ks_waker *ks_waker_start(rd_kafka_t *rk, const char *who);
/* The connector took records and bytes off the consumer's queue. */
void	ks_waker_took(struct ks_waker *wk, uint64_t records, uint64_t bytes);
void	ks_waker_reassigned(struct ks_waker *wk);
void	ks_waker_stop(struct ks_waker *wk);

#endif
