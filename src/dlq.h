/* SPDX-License-Identifier: BSD-2-Clause */
/* dlq.h - a connector's dead letter queue. */
#ifndef KS_DLQ_H
#define KS_DLQ_H

#include <stddef.h>

#include "ksink/sink.h"

struct ks_conf;
struct ks_section;
struct ks_errors;
struct ks_dlq;

/* The producer gives up on a dead letter after this long ... */
#define KS_DLQ_MESSAGE_TIMEOUT_MS 30000
/* ... so a batch waits for its dead letters a little longer than that,
 * and then knows the outcome of every one of them. */
#define KS_DLQ_FLUSH_MS (KS_DLQ_MESSAGE_TIMEOUT_MS + 5000)
/* What a stopping connector still waits for unacknowledged letters. */
#define KS_DLQ_CLOSE_MS 5000

/* The queue of [connector NAME] when it names a topic, else NULL;
 * problems of its settings are added to errs. */
struct ks_dlq *ks_dlq_new(const struct ks_conf *conf,
	    const struct ks_section *sec, struct ks_errors *errs);
/* Creates the producer; -1 with errbuf filled. */
int	ks_dlq_start(struct ks_dlq *d, char *errbuf, size_t errlen);
/* Sends a skipped record, without waiting; -1 with errbuf filled. */
int	ks_dlq_produce(struct ks_dlq *d, const struct ksink_record *r,
	    const char *why, char *errbuf, size_t errlen);
/* Waits until the broker acknowledged every letter sent; -1 (the batch
 * must be retried) with errbuf filled when one was not. */
int	ks_dlq_flush(struct ks_dlq *d, char *errbuf, size_t errlen);
/* Waits briefly for what is unacknowledged and destroys the producer. */
void	ks_dlq_stop(struct ks_dlq *d);
void	ks_dlq_free(struct ks_dlq *d);

#endif
