/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_worker_retry.c - the worker's error policy (src/worker.c
 * with src/retry.c): a batch the sink said RETRY for, retried with
 * backoff, across a rebalance, bounded by errors.retry.timeout.ms; a
 * poison record under each errors.tolerance; FATAL.  The assignment a
 * sink keeps pending is test_worker_pending.c's.
 *
 * Run for real against librdkafka's mock cluster with the scripted test
 * sink; see tests/unit/worker-fx.h.
 */
#include "worker-fx.h"

/* Runs the connector with extra settings over 400 records a partition,
 * which its sink fails `retries` times before it succeeds: every record
 * applied once, the retries counted, the recovery logged. */
static void
run_retried(struct env *e, const char *extra, unsigned long long retries)
{
	struct state st;
	struct run r;
	char ini[4096], line[64];

	produce_all(e, 400);
	make_ini(e, ini, sizeof(ini), extra);
	run_ok(e, &r, ini, total_produced(e));
	state_read(e, &st);
	check_exactly_once(e, &st, NULL, NULL);
	check_unfenced(e, &st);
	expect(e, r.stats[0].retries == retries, "stats.retries = %llu, "
	    "expected %llu", (unsigned long long)r.stats[0].retries, retries);
	snprintf(line, sizeof(line), "sink recovered after %llu attempts",
	    retries + 1);
	expect(e, log_has(e, line, NULL), "no line about the recovery");
	state_free(&st);
}

/* RETRY a few times, then success: applied once, retries counted. */
static void
test_retry_then_ok(void **state)
{
	struct env *e = *state;

	run_retried(e, "scripted.retry.commits = 3\n"
	    "errors.retry.backoff.max.ms = 200\n", 3);
	expect(e, log_has(e, "sink failed transiently (attempt 1)",
	    "commit retry 1 of 3"), "no warning about the first retry");
}

/*
 * A rebalance while a batch waits to be retried: the revocation drops the
 * batch's records, and the batch must not be applied when the wait ends,
 * even when the rebalance callbacks (here a slow load_offsets in the
 * assignment) outlast the wait.  a retries its first batches for about
 * 8 s; b joins the group meanwhile.  Every record applied once, both
 * connectors clean, and b was assigned partitions.
 */
static void
test_rebalance_during_retry(void **state)
{
	struct env *e = *state;
	struct ks_worker_snapshot snap;
	struct ks_worker_stats a;
	struct state st;
	struct run r;
	char ini_a[4096], ini_b[4096], err[1024];
	int64_t deadline;
	int cfg;

	produce_all(e, 1000);
	make_ini(e, ini_a, sizeof(ini_a),
	    "kafka.group.id = shared\n"
	    "scripted.retry.commits = 100\n"
	    "errors.retry.backoff.max.ms = 100\n"
	    "scripted.load.sleep.ms = 1500\n");
	make_ini(e, ini_b, sizeof(ini_b), "kafka.group.id = shared\n");
	run_init(&r);
	run_add(&r, ini_a);
	run_go(e, &r);
	deadline = ks_util_now_ms() + 30000;
	do {
		ks_util_sleep_ms(20);
		ks_worker_get_stats(r.ws[0], &a);
	} while (a.retries < 3 && ks_util_now_ms() < deadline);
	expect(e, a.retries >= 3, "a never retried");
	run_add(&r, ini_b);
	if (ks_worker_open(r.ws[1], &cfg, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	if (ks_worker_start(r.ws[1], worker_done, &r) == -1)
		fail_msg("cannot start a connector thread");
	(void)run_wait(e, &r, total_produced(e), 60000, 500);
	/* b was given partitions: a gave them up while it retried. */
	ks_worker_snapshot(r.ws[1], &snap);
	run_stop(e, &r);
	state_read(e, &st);
	printf("rebalance during retry (%s): %llu + %llu records committed, "
	    "%llu retries, %llu assignments of b\n", e->strategy,
	    (unsigned long long)r.stats[0].records,
	    (unsigned long long)r.stats[1].records,
	    (unsigned long long)r.stats[0].retries,
	    (unsigned long long)snap.rebalances);
	check_exactly_once(e, &st, NULL, NULL);
	expect(e, r.rc[0] == 0 && r.rc[1] == 0, "a connector failed");
	expect(e, snap.rebalances >= 1, "b was never assigned partitions: "
	    "no rebalance while a retried");
	ks_worker_snapshot_free(&snap);
	state_free(&st);
}

/* RETRY for longer than errors.retry.timeout.ms: the connector fails. */
static void
test_retry_timeout(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];
	int64_t t0;

	produce_all(e, 100);
	make_ini(e, ini, sizeof(ini),
	    "scripted.retry.commits = 1000000\n"
	    "errors.retry.timeout.ms = 1500\n"
	    "errors.retry.backoff.max.ms = 200\n");
	t0 = ks_util_now_ms();
	run_fail(e, &r, ini);
	state_read(e, &st);
	expect(e, st.n == 0, "%zu records applied by a sink that never "
	    "committed", st.n);
	expect(e, r.stats[0].retries >= 3, "only %llu retries in 1.5 s",
	    (unsigned long long)r.stats[0].retries);
	expect(e, r.stats[0].records == 0, "records counted");
	expect(e, log_has(e, "ksink: error: connector c: sink kept failing",
	    "errors.retry.timeout.ms"), "no error line about the timeout");
	/* Not before the timeout (the group join takes some too). */
	expect(e, ks_util_now_ms() - t0 >= 1500, "failed too early");
	state_free(&st);
}

/*
 * A write that fails after part of the batch took effect (a sink with
 * KSINK_CAP_RETRY_PROGRESS, such as http sending request after request):
 * the backoff starts again at its first step, and so does
 * errors.retry.timeout.ms.  Nine such failures in a row wait under 1 s
 * in all; without the restart they would wait at least 12.7 s (50 ms
 * doubling), past the 10 s timeout, and the connector would stop.
 */
static void
test_retry_progress(void **state)
{
	run_retried(*state, "scripted.retry.writes = 9\n"
	    "scripted.retry.writes.done = 1\n"
	    "errors.retry.timeout.ms = 10000\n"
	    "errors.retry.backoff.max.ms = 60000\n", 9);
}

/*
 * A write that fails and asks to come back after 40 ms (an http sink
 * told Retry-After): the worker waits 40 ms each time, and the waits do
 * not lengthen its backoff.  Eight such failures wait 320 ms in all;
 * were they backoff steps (100 ms doubling), they would wait at least
 * 12.7 s, past the 5 s timeout, and the connector would stop.
 */
static void
test_retry_after(void **state)
{
	struct env *e = *state;

	run_retried(e, "scripted.retry.writes = 8\n"
	    "scripted.retry.after.ms = 40\n"
	    "errors.retry.timeout.ms = 5000\n"
	    "errors.retry.backoff.max.ms = 60000\n", 8);
	expect(e, log_has(e, "sink failed transiently (attempt 1)",
	    "retrying in 40 ms"), "the first wait is not the one asked for");
}

/* A sink that says it moves at every attempt but never succeeds still
 * times out: what it claims counts up to the batch's size only. */
static void
test_retry_progress_bounded(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 100);
	make_ini(e, ini, sizeof(ini),
	    "scripted.retry.writes = 1000000\n"
	    "scripted.retry.writes.done = 40\n"
	    "errors.retry.timeout.ms = 1500\n"
	    "errors.retry.backoff.max.ms = 200\n");
	run_fail(e, &r, ini);
	state_read(e, &st);
	expect(e, st.n == 0, "%zu records applied by a sink that never "
	    "committed", st.n);
	expect(e, log_has(e, "ksink: error: connector c: sink kept failing",
	    "errors.retry.timeout.ms"), "no error line about the timeout");
	state_free(&st);
}

/* POISON with errors.tolerance = none: fails, naming the record. */
static void
test_poison_none(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 300);
	make_ini(e, ini, sizeof(ini),
	    "scripted.poison.value = v-1-137\n");
	run_fail(e, &r, ini);
	state_read(e, &st);
	check_stopped_at(e, &st, 1, 137);
	expect(e, r.stats[0].poison == 0, "poison counted with tolerance "
	    "none");
	expect(e, log_has(e, "ksink: error: connector c: record t/1@137 "
	    "cannot be applied", "errors.tolerance = all"), "no error line "
	    "naming t/1@137");
	state_free(&st);
}

/*
 * POISON with errors.tolerance = all: skipped, counted, the rest applied,
 * the offsets stored past them.  Poison at the start of a partition, two
 * in a row, and the very last record.
 */
static void
test_poison_all(void **state)
{
	static const struct skip skip[] = { { 1, 137 }, { 1, 138 }, { 0, 0 },
	    { 2, 299 }, { -1, 0 } };
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];
	int64_t deadline;
	int done;

	produce_all(e, 300);
	make_ini(e, ini, sizeof(ini),
	    "scripted.poison.value = v-1-137\n"
	    "scripted.poison.value = v-1-138\n"
	    "scripted.poison.value = v-0-0\n"
	    "scripted.poison.value = v-2-299\n"
	    "errors.tolerance = all\n");
	run_start(e, &r, ini);
	/* All but the four, and the offset past the last one. */
	(void)run_wait(e, &r, total_produced(e) - 4, 30000, 0);
	deadline = ks_util_now_ms() + 10000;
	do {
		state_read(e, &st);
		done = st.next[2] == 300;
		state_free(&st);
		ks_util_sleep_ms(done ? 0 : 50);
	} while (!done && ks_util_now_ms() < deadline);
	run_stop(e, &r);
	expect(e, r.rc[0] == 0, "the connector failed");
	state_read(e, &st);
	check_exactly_once(e, &st, NULL, skip);
	check_unfenced(e, &st);
	expect(e, r.stats[0].poison == 4, "stats.poison = %llu",
	    (unsigned long long)r.stats[0].poison);
	expect(e, r.stats[0].records == (uint64_t)total_produced(e),
	    "stats.records = %llu", (unsigned long long)r.stats[0].records);
	expect(e, log_has(e, "ksink: warn: connector c: skipping record "
	    "t/1@137 (errors.tolerance = all)", "v-1-137"), "no warning "
	    "naming t/1@137");
	expect(e, log_has(e, "skipping record t/0@0", NULL), "no warning "
	    "naming t/0@0");
	state_free(&st);
}

/* FATAL from the sink: the connector fails at once. */
static void
test_fatal(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 300);
	make_ini(e, ini, sizeof(ini), "scripted.fatal.batch = 2\n");
	run_fail(e, &r, ini);
	state_read(e, &st);
	/* The first batch only. */
	expect(e, r.stats[0].batches == 1, "%llu batches",
	    (unsigned long long)r.stats[0].batches);
	expect(e, st.n == r.stats[0].records && st.n > 0 && st.n <= 200,
	    "%zu records in the sink, %llu counted", st.n,
	    (unsigned long long)r.stats[0].records);
	expect(e, r.stats[0].retries == 0, "a fatal error was retried");
	expect(e, log_has(e, "ksink: error: connector c: sink failed "
	    "(fatal)", "fatal at batch 2"), "no error line");
	state_free(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_retry_then_ok),
		CASE_WITH(test_rebalance_during_retry, eager),
		CASE_WITH(test_rebalance_during_retry, cooperative),
		CASE(test_retry_timeout),
		CASE(test_retry_progress),
		CASE(test_retry_progress_bounded),
		CASE(test_retry_after),
		CASE(test_poison_none),
		CASE(test_poison_all),
		CASE(test_fatal),
	};

	return worker_fx_run("test_worker_retry", tests,
	    sizeof(tests) / sizeof(tests[0]));
}
