/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_postgres_bisect.c - the search for the poison record of
 * a batch statement (connectors/postgres/bisect.c), against a model of the
 * server: a run fails when it holds a poison record, or when it is longer
 * than a set-based statement takes (a failure no single record causes);
 * a failed run leaves nothing applied.  Checked: the first poison record
 * is found, the records before it are each applied exactly once and none
 * after it, and the number of runs stays within 2 log2(n) + 2.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ksink/sink.h"
#include "postgres/bisect.h"

#define N 5000

struct model {
	int poison[N];		/* 1: a data error, 2: not even staged */
	int applied[N];
	size_t maxrun;		/* a longer run fails; 0: no limit */
	size_t runs;
	int fail_other;		/* a run of this length is a lost link */
};

static int
attempt(void *arg, size_t lo, size_t hi, size_t *exact)
{
	struct model *m = arg;
	size_t i;

	m->runs++;
	assert_true(lo < hi && hi <= N);
	if (m->fail_other && hi - lo == (size_t)m->fail_other)
		return KSINK_RETRY;
	for (i = lo; i < hi; i++)
		if (m->poison[i] == 2) {
			*exact = i;
			return KSINK_POISON;
		}
	for (i = lo; i < hi; i++)
		if (m->poison[i])
			return KSINK_POISON;
	if (m->maxrun && hi - lo > m->maxrun)
		return KSINK_POISON;
	for (i = lo; i < hi; i++)
		m->applied[i]++;
	return KSINK_OK;
}

static size_t
log2up(size_t n)
{
	size_t l = 0;

	while (((size_t)1 << l) < n)
		l++;
	return l;
}

/* Runs the search on n records; checks what it applied. */
static int
search(struct model *m, size_t n, size_t known, size_t *bad, int *exact)
{
	size_t i, end;
	int st;

	st = pg_bisect(n, known, attempt, m, bad, exact);
	end = st == KSINK_OK ? n : *bad;
	for (i = 0; i < n; i++)
		if (m->applied[i] != (i < end ? 1 : 0))
			fail_msg("record %zu applied %d times (end %zu)", i,
			    m->applied[i], end);
	return st;
}

static void
test_one_poison(void **state)
{
	static const size_t at[] = { 0, 1, 2, 17, 2499, 2500, 3001, 4998,
	    4999 };
	struct model *m;
	size_t i, bad, n;
	int exact;

	(void)state;
	for (n = 1; n <= N; n = n < 8 ? n + 1 : n * 5 / 2)
		for (i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
			if (at[i] >= n)
				continue;
			m = calloc(1, sizeof(*m));
			m->poison[at[i]] = 1;
			assert_int_equal(search(m, n, SIZE_MAX, &bad, &exact),
			    KSINK_POISON);
			assert_int_equal(bad, at[i]);
			assert_int_equal(exact, 0);
			if (m->runs > 2 * log2up(n) + 2)
				fail_msg("%zu runs for a batch of %zu", m->runs,
				    n);
			free(m);
		}
}

static void
test_first_of_several(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	size_t bad;
	int exact;

	(void)state;
	m->poison[4000] = m->poison[1234] = m->poison[1235] = 1;
	assert_int_equal(search(m, N, SIZE_MAX, &bad, &exact), KSINK_POISON);
	assert_int_equal(bad, 1234);
	free(m);
}

/* A record that cannot be staged is named at once: no halving to it. */
static void
test_exact(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	size_t bad;
	int exact;

	(void)state;
	m->poison[3000] = 2;
	assert_int_equal(search(m, N, 3000, &bad, &exact), KSINK_POISON);
	assert_int_equal(bad, 3000);
	assert_int_equal(exact, 1);
	assert_true(m->runs <= 3);
	memset(m, 0, sizeof(*m));
	/* Named by a run of the search, behind a data error before it. */
	m->poison[3000] = 2;
	m->poison[100] = 1;
	assert_int_equal(search(m, N, SIZE_MAX, &bad, &exact), KSINK_POISON);
	assert_int_equal(bad, 100);
	assert_int_equal(exact, 0);
	memset(m, 0, sizeof(*m));
	m->poison[0] = 2;
	assert_int_equal(search(m, N, 0, &bad, &exact), KSINK_POISON);
	assert_int_equal(bad, 0);
	assert_int_equal(m->runs, 0);
	free(m);
}

/* No record fails alone: the batch ends applied in smaller runs. */
static void
test_no_single_record(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	size_t bad;
	int exact;

	(void)state;
	m->maxrun = 700;
	assert_int_equal(search(m, N, SIZE_MAX, &bad, &exact), KSINK_OK);
	memset(m, 0, sizeof(*m));
	m->maxrun = 1;
	assert_int_equal(search(m, 37, SIZE_MAX, &bad, &exact), KSINK_OK);
	free(m);
}

/* A failure that is not a data error ends the search where it was. */
static void
test_other_failure(void **state)
{
	struct model *m = calloc(1, sizeof(*m));
	size_t bad;
	int exact;

	(void)state;
	m->poison[4000] = 1;
	m->fail_other = 1250;
	assert_int_equal(search(m, N, SIZE_MAX, &bad, &exact), KSINK_RETRY);
	assert_int_equal(bad, 2500);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_poison),
		cmocka_unit_test(test_first_of_several),
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_no_single_record),
		cmocka_unit_test(test_other_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
