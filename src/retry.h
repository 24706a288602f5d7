/* SPDX-License-Identifier: BSD-2-Clause */
/* retry.h - backoff between attempts of a sink call that said RETRY. */
#ifndef KS_RETRY_H
#define KS_RETRY_H

#include <stddef.h>
#include <stdint.h>

/* The first wait; each further one doubles, up to the cap, with jitter
 * (a wait of d is drawn from [d/2, d]). */
#define KS_RETRY_FIRST_MS 100
/* The cap when reading or resetting a sink's offsets (a batch uses the
 * connector's errors.retry.backoff.max.ms). */
#define KS_RETRY_OFFSETS_MAX_MS 6400
/* How long reading or resetting a sink's offsets is retried before the
 * caller gives up (a batch uses errors.retry.timeout.ms). */
#define KS_RETRY_OFFSETS_TIMEOUT_MS 30000

struct ks_retry {
	int64_t start_ms;
	int64_t delay_ms;	/* before jitter */
	int64_t max_ms;
	int64_t timeout_ms;	/* -1: forever */
	int attempt;		/* failed attempts so far */
};

void	ks_retry_init(struct ks_retry *r, int64_t max_ms, int64_t timeout_ms);
/* After a failed attempt: how long to wait before the next, or -1 when
 * timeout_ms has passed since ks_retry_init(). */
int64_t	ks_retry_next(struct ks_retry *r);
int64_t	ks_retry_elapsed(const struct ks_retry *r);
/* After an attempt that failed but made progress: the next wait is the
 * first step again and timeout_ms counts from now; attempts still count. */
void	ks_retry_progress(struct ks_retry *r);
/* After a failed attempt whose sink asked to come back in ms: ms, or -1
 * when timeout_ms has passed; the backoff's next step stays as it was. */
int64_t	ks_retry_asked(struct ks_retry *r, int64_t ms);

/* A sink call: a KSINK_* status, errbuf filled on failure. */
typedef int (*ks_retry_fn)(void *arg, char *errbuf, size_t errlen);
/* Calls fn until it returns anything but KSINK_RETRY, sleeping between
 * attempts, for at most KS_RETRY_OFFSETS_TIMEOUT_MS; for callers with no
 * consumer to serve meanwhile (`ksink offsets`). */
int	ks_retry_call(ks_retry_fn fn, void *arg, const char *who,
	    const char *what, char *errbuf, size_t errlen);

#endif
