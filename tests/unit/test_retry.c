/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_retry.c - the one backoff policy for sink calls
 * (src/retry.c): waits drawn from [d/2, d] with d doubling from
 * KS_RETRY_FIRST_MS up to the cap, a time bound, its restart after
 * progress, and ks_retry_call().
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ksink/sink.h"
#include "retry.h"
#include "util.h"

/* Waits double from KS_RETRY_FIRST_MS, with jitter, up to the cap. */
static void
test_backoff(void **state)
{
	struct ks_retry r;
	int64_t d = KS_RETRY_FIRST_MS, w;
	int i, round;

	(void)state;
	for (round = 0; round < 50; round++) {
		ks_retry_init(&r, 4 * KS_RETRY_FIRST_MS, -1);
		d = KS_RETRY_FIRST_MS;
		for (i = 1; i <= 6; i++) {
			w = ks_retry_next(&r);
			assert_true(w >= d / 2 && w <= d);
			assert_int_equal(r.attempt, i);
			d = d * 2 > 4 * KS_RETRY_FIRST_MS ?
			    4 * KS_RETRY_FIRST_MS : d * 2;
		}
	}
}

/* Past timeout_ms, no more waits. */
static void
test_timeout(void **state)
{
	struct ks_retry r;

	(void)state;
	ks_retry_init(&r, 1000, 0);
	assert_int_equal(ks_retry_next(&r), -1);
	ks_retry_init(&r, 1000, 60000);
	assert_true(ks_retry_next(&r) >= 0);
}

struct calls {
	int n;
	int retries;	/* say RETRY this often, then OK */
	int final;
};

static int
scripted(void *arg, char *errbuf, size_t errlen)
{
	struct calls *c = arg;

	if (c->n++ < c->retries) {
		snprintf(errbuf, errlen, "busy %d", c->n);
		return KSINK_RETRY;
	}
	return c->final;
}

/* ks_retry_call() calls again while RETRY, and returns anything else. */
static void
test_call(void **state)
{
	struct calls c = { 0, 3, KSINK_OK };
	char err[64];

	(void)state;
	assert_int_equal(ks_retry_call(scripted, &c, "test", "work", err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(c.n, 4);
	c.n = 0;
	c.retries = 0;
	c.final = KSINK_FATAL;
	assert_int_equal(ks_retry_call(scripted, &c, "test", "work", err,
	    sizeof(err)), KSINK_FATAL);
	assert_int_equal(c.n, 1);
}

/* After progress the next wait is the first step again, the time bound
 * counts from then, and the attempts still add up. */
static void
test_progress(void **state)
{
	struct ks_retry r;
	int64_t w;
	int i;

	(void)state;
	ks_retry_init(&r, 60000, -1);
	for (i = 0; i < 8; i++)
		(void)ks_retry_next(&r);
	assert_true(r.delay_ms > 8 * KS_RETRY_FIRST_MS);
	ks_retry_progress(&r);
	w = ks_retry_next(&r);
	assert_true(w >= KS_RETRY_FIRST_MS / 2 && w <= KS_RETRY_FIRST_MS);
	assert_int_equal(r.attempt, 9);
	/* A bound long gone by counts again from the progress. */
	ks_retry_init(&r, 1000, 60000);
	r.start_ms -= 120000;
	assert_int_equal(ks_retry_next(&r), -1);
	ks_retry_progress(&r);
	assert_true(ks_retry_next(&r) >= 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_call),
		cmocka_unit_test(test_progress),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
