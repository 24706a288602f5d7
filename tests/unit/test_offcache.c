/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_offcache.c - connectors/lib: the per-partition cache,
 * with bare entries (the fences of the http and SQLite sinks) and with a
 * sink's own state after the head (the PostgreSQL sink's partitions).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "lib/offcache.h"

/* A sink's entry: the head first, then its own state. */
struct state {
	struct ks_offcache_entry e;
	int64_t epoch;
	int locked;
	char pad[40];
};

static void
test_offcache_bare(void **state)
{
	struct ks_offcache c = { 0 };
	struct ks_offcache_entry *a, *b;
	char topic[8];

	(void)state;
	assert_null(ks_offcache_find(&c, "t", 0));
	assert_non_null(a = ks_offcache_add(&c, "t", 0, 5));
	assert_non_null(b = ks_offcache_add(&c, "t", 1, -1));
	/* Compared by name, not by the caller's pointer. */
	snprintf(topic, sizeof(topic), "%s", "t");
	assert_ptr_equal(ks_offcache_find(&c, topic, 0), a);
	assert_ptr_equal(ks_offcache_find(&c, topic, 1), b);
	assert_null(ks_offcache_find(&c, "u", 0));
	assert_null(ks_offcache_find(&c, "t", 2));
	assert_string_equal(a->topic, "t");
	assert_int_equal(a->partition, 0);
	assert_int_equal(a->next, 5);
	assert_int_equal(b->next, -1);
	ks_offcache_clear(&c);
	assert_int_equal(c.n, 0);
	assert_null(ks_offcache_find(&c, "t", 0));
	assert_non_null(ks_offcache_add(&c, "t", 0, 7));
	assert_int_equal(ks_offcache_find(&c, "t", 0)->next, 7);
	ks_offcache_free(&c);
	assert_null(c.v);
	assert_int_equal(c.n, 0);
}

/* A sink's state rides after the head, zeroed when added, and an entry
 * stays where it is however many are added after it. */
static void
test_offcache_state(void **state)
{
	struct ks_offcache c;
	struct state *first[4], *s;
	char topic[16];
	int i;

	(void)state;
	ks_offcache_init(&c, sizeof(struct state));
	for (i = 0; i < 4; i++) {
		snprintf(topic, sizeof(topic), "t%d", i);
		s = (struct state *)ks_offcache_add(&c, topic, i, -1);
		assert_non_null(s);
		assert_int_equal(s->epoch, 0);
		assert_int_equal(s->locked, 0);
		s->epoch = 100 + i;
		s->locked = 1;
		memset(s->pad, 'x', sizeof(s->pad));
		first[i] = s;
	}
	/* Far past the first growth of the table. */
	for (i = 4; i < 1000; i++) {
		snprintf(topic, sizeof(topic), "t%d", i);
		assert_non_null(ks_offcache_add(&c, topic, i, i));
	}
	assert_int_equal(c.n, 1000);
	for (i = 0; i < 4; i++) {
		snprintf(topic, sizeof(topic), "t%d", i);
		assert_ptr_equal(ks_offcache_find(&c, topic, i), &first[i]->e);
		assert_string_equal(first[i]->e.topic, topic);
		assert_int_equal(first[i]->epoch, 100 + i);
		assert_int_equal(first[i]->locked, 1);
		assert_int_equal(first[i]->pad[sizeof(first[i]->pad) - 1],
		    'x');
	}
	s = (struct state *)ks_offcache_find(&c, "t999", 999);
	assert_non_null(s);
	assert_int_equal(s->e.next, 999);
	assert_int_equal(s->epoch, 0);
	/* The size outlives a clear and a free. */
	ks_offcache_free(&c);
	assert_int_equal(c.size, sizeof(struct state));
	s = (struct state *)ks_offcache_add(&c, "t", 0, -1);
	assert_non_null(s);
	assert_int_equal(s->epoch, 0);
	ks_offcache_free(&c);
}

/* The last entry found is tried first, and a miss leaves it be. */
static void
test_offcache_hint(void **state)
{
	struct ks_offcache c = { 0 };
	struct ks_offcache_entry *a, *b;

	(void)state;
	a = ks_offcache_add(&c, "a", 0, 1);
	b = ks_offcache_add(&c, "b", 0, 2);
	assert_int_equal(c.hint, 1);
	assert_ptr_equal(ks_offcache_find(&c, "a", 0), a);
	assert_int_equal(c.hint, 0);
	assert_null(ks_offcache_find(&c, "c", 0));
	assert_int_equal(c.hint, 0);
	assert_ptr_equal(ks_offcache_find(&c, "b", 0), b);
	assert_int_equal(c.hint, 1);
	ks_offcache_free(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offcache_bare),
		cmocka_unit_test(test_offcache_state),
		cmocka_unit_test(test_offcache_hint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
