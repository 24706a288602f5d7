/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_batch_size.c - how many records a batch may hold
 * (src/batch.c, ks_batch_size_*): fixed without batch.adaptive; adaptive,
 * from KS_BATCH_START up to batch.max.records while commits dominate
 * full batches, and back down when they no longer do.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "batch.h"

/* Not adaptive: always batch.max.records, whatever the commits cost. */
static void
test_fixed(void **state)
{
	struct ks_batch_size bs;
	int i;

	(void)state;
	ks_batch_size_init(&bs, 20000, 0);
	assert_int_equal(bs.limit, 20000);
	for (i = 0; i < 10; i++) {
		assert_int_equal(ks_batch_size_adapt(&bs, 20000, 1000, 900),
		    0);
		assert_int_equal(ks_batch_size_adapt(&bs, 20000, 1000, 1), 0);
	}
	assert_int_equal(bs.limit, 20000);
}

/* Commits that cost a third or more of full batches: doubling from
 * KS_BATCH_START up to the maximum, and no further. */
static void
test_grows_while_commit_dominates(void **state)
{
	struct ks_batch_size bs;
	int64_t want[] = { 10000, 20000, 40000, 50000, 50000 };
	size_t i;

	(void)state;
	ks_batch_size_init(&bs, 50000, 1);
	assert_int_equal(bs.limit, KS_BATCH_START);
	assert_int_equal(bs.floor, KS_BATCH_START);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ks_batch_size_adapt(&bs, (size_t)bs.limit, 3000, 1000);
		assert_int_equal(bs.limit, want[i]);
	}
}

/* A batch cut short (by time or bytes) says nothing of a bigger one;
 * nor does a commit under a third of the step. */
static void
test_needs_full_batch_and_costly_commit(void **state)
{
	struct ks_batch_size bs;

	(void)state;
	ks_batch_size_init(&bs, 20000, 1);
	assert_int_equal(ks_batch_size_adapt(&bs, 4999, 1000, 900), 0);
	assert_int_equal(ks_batch_size_adapt(&bs, 5000, 3001, 1000), 0);
	assert_int_equal(bs.limit, 5000);
	assert_int_equal(ks_batch_size_adapt(&bs, 5000, 3000, 1000), 1);
	assert_int_equal(bs.limit, 10000);
}

/* Cheap commits: halving, down to where it started, not below. */
static void
test_shrinks_to_floor(void **state)
{
	struct ks_batch_size bs;
	int i;

	(void)state;
	ks_batch_size_init(&bs, 20000, 1);
	for (i = 0; i < 3; i++)
		ks_batch_size_adapt(&bs, (size_t)bs.limit, 2, 1);
	assert_int_equal(bs.limit, 20000);
	assert_int_equal(ks_batch_size_adapt(&bs, 20000, 1000, 99), 1);
	assert_int_equal(bs.limit, 10000);
	/* Between a tenth and a third, or not full: it stays. */
	assert_int_equal(ks_batch_size_adapt(&bs, 10000, 1000, 200), 0);
	assert_int_equal(ks_batch_size_adapt(&bs, 100, 1000, 500), 0);
	ks_batch_size_adapt(&bs, 100, 1000, 0);
	assert_int_equal(bs.limit, 5000);
	ks_batch_size_adapt(&bs, 100, 1000, 0);
	assert_int_equal(bs.limit, 5000);
}

/* A maximum of KS_BATCH_START or less is fixed, as configured; a step of
 * no measurable time changes nothing. */
static void
test_small_and_unmeasured(void **state)
{
	struct ks_batch_size bs;

	(void)state;
	ks_batch_size_init(&bs, 200, 1);
	assert_int_equal(bs.limit, 200);
	ks_batch_size_adapt(&bs, 200, 10, 9);
	assert_int_equal(bs.limit, 200);
	ks_batch_size_init(&bs, KS_BATCH_START, 1);
	ks_batch_size_adapt(&bs, KS_BATCH_START, 10, 9);
	assert_int_equal(bs.limit, KS_BATCH_START);
	ks_batch_size_init(&bs, KS_BATCH_START + 1, 1);
	assert_int_equal(ks_batch_size_adapt(&bs, KS_BATCH_START, 0, 0), 0);
	ks_batch_size_adapt(&bs, KS_BATCH_START, 10, 9);
	assert_int_equal(bs.limit, KS_BATCH_START + 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_grows_while_commit_dominates),
		cmocka_unit_test(test_needs_full_batch_and_costly_commit),
		cmocka_unit_test(test_shrinks_to_floor),
		cmocka_unit_test(test_small_and_unmeasured),
	};

	return cmocka_run_group_tests_name("batch_size", tests, NULL, NULL);
}
