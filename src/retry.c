/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * retry.c - one backoff policy for every sink call that said RETRY: the
 * batch loop (worker.c), reading offsets at assignment (consumer.c) and
 * `ksink offsets` (offsets.c).  Exponential from KS_RETRY_FIRST_MS with
 * jitter, capped, bounded in time.
 */
#include "config.h"

#include "ksink/sink.h"

#include "log.h"
#include "retry.h"
#include "util.h"

void
ks_retry_init(struct ks_retry *r, int64_t max_ms, int64_t timeout_ms)
{
	r->start_ms = ks_util_now_ms();
	r->delay_ms = KS_RETRY_FIRST_MS;
	r->max_ms = max_ms < KS_RETRY_FIRST_MS ? KS_RETRY_FIRST_MS : max_ms;
	r->timeout_ms = timeout_ms;
	r->attempt = 0;
}

int64_t
ks_retry_elapsed(const struct ks_retry *r)
{
	return ks_util_now_ms() - r->start_ms;
}

void
ks_retry_progress(struct ks_retry *r)
{
	r->start_ms = ks_util_now_ms();
	r->delay_ms = KS_RETRY_FIRST_MS;
}

int64_t
ks_retry_next(struct ks_retry *r)
{
	int64_t wait, d = r->delay_ms;

	r->attempt++;
	if (r->timeout_ms >= 0 && ks_retry_elapsed(r) >= r->timeout_ms)
		return -1;
	wait = d / 2 + (int64_t)(ks_util_rand64() % (uint64_t)(d / 2 + 1));
	r->delay_ms = d * 2 > r->max_ms ? r->max_ms : d * 2;
	return wait;
}

int64_t
ks_retry_asked(struct ks_retry *r, int64_t ms)
{
	r->attempt++;
	if (r->timeout_ms >= 0 && ks_retry_elapsed(r) >= r->timeout_ms)
		return -1;
	return ms;
}

int
ks_retry_call(ks_retry_fn fn, void *arg, const char *who, const char *what,
    char *errbuf, size_t errlen)
{
	struct ks_retry r;
	int64_t wait;
	int st;

	ks_retry_init(&r, KS_RETRY_OFFSETS_MAX_MS,
	    KS_RETRY_OFFSETS_TIMEOUT_MS);
	for (;;) {
		*errbuf = '\0';
		st = fn(arg, errbuf, errlen);
		if (st != KSINK_RETRY || (wait = ks_retry_next(&r)) < 0)
			return st;
		ks_log_msg(r.attempt == 1 ? KSINK_LOG_WARN : KSINK_LOG_DEBUG,
		    who, "sink cannot %s yet: %s; retrying in %lld ms", what,
		    *errbuf ? errbuf : "no detail", (long long)wait);
		ks_util_sleep_ms(wait);
	}
}
