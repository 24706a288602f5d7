/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_worker_pending.c - the worker while a sink keeps an
 * assignment pending (src/worker.c with src/consumer.c): its offsets are
 * read with retries outside the rebalance callback while the consumer
 * keeps polling, across a rebalance and a stop, under both assignors.
 *
 * Run for real against librdkafka's mock cluster with the scripted test
 * sink; see tests/unit/worker-fx.h.
 */
#include "worker-fx.h"

/* The line number of the first log line containing a, 0 if none. */
static int
log_line(const struct env *e, const char *a)
{
	char line[4096];
	int n = 0, found = 0;
	FILE *fp;

	if ((fp = fopen(e->logpath, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp) != NULL) {
		n++;
		if (strstr(line, a) != NULL)
			found = n;
	}
	fclose(fp);
	return found;
}

/*
 * The sink's offsets are read outside the rebalance callback, from the
 * worker's loop, which goes on serving the consumer and the admin
 * endpoint meanwhile: a sink that says RETRY at its first six reads
 * keeps the assignment pending for seconds, and a pause asked for then
 * takes effect before the assignment does (which comes paused).  After
 * the resume every record is applied once, from the sink's offsets, and
 * the connector was assigned once.
 */
static void
test_pending_keeps_polling(void **state)
{
	struct env *e = *state;
	struct ks_worker_snapshot snap;
	struct state st;
	struct run r;
	char ini[4096];
	int64_t deadline;
	int waited, paused_at, assigned_at;

	produce_all(e, 300);
	state_prestore(e, sink_stored);
	make_ini(e, ini, sizeof(ini), "scripted.retry.load = 6\n");
	run_start(e, &r, ini);
	deadline = ks_util_now_ms() + 30000;
	while (!log_has(e, "sink cannot read its offsets yet", NULL) &&
	    ks_util_now_ms() < deadline)
		ks_util_sleep_ms(10);
	ks_worker_set_paused(r.ws[0], 1);
	do {
		ks_util_sleep_ms(50);
		ks_worker_snapshot(r.ws[0], &snap);
		waited = snap.rebalances > 0;
		ks_worker_snapshot_free(&snap);
	} while (!waited && ks_util_now_ms() < deadline);
	/* Assigned while paused: nothing is applied. */
	ks_util_sleep_ms(500);
	expect(e, state_count(e) == 0, "%zu records applied while paused",
	    state_count(e));
	ks_worker_set_paused(r.ws[0], 0);
	waited = run_wait(e, &r, 200 + 50 + 300, 40000, 300);
	ks_worker_snapshot(r.ws[0], &snap);
	run_stop(e, &r);
	expect(e, waited == 0, "the sink got %zu records in 40 s",
	    state_count(e));
	expect(e, r.rc[0] == 0 && !atomic_load(&r.failed), "the connector "
	    "failed");
	state_read(e, &st);
	check_exactly_once(e, &st, sink_from, NULL);
	check_unfenced(e, &st);
	expect(e, log_has(e, "sink cannot read its offsets yet",
	    "load_offsets retry 6 of 6"), "the sink's offsets were not "
	    "read six times");
	paused_at = log_line(e, "connector c: paused");
	assigned_at = log_line(e, "assigned t/0");
	printf("pending assignment: paused at log line %d, assigned at %d\n",
	    paused_at, assigned_at);
	expect(e, paused_at > 0 && assigned_at > paused_at, "the pause was "
	    "not served while the assignment waited for the sink");
	expect(e, snap.rebalances == 1, "assigned %llu times, expected once",
	    (unsigned long long)snap.rebalances);
	ks_worker_snapshot_free(&snap);
	state_free(&st);
}

/*
 * A rebalance while an assignment is pending: a's sink says RETRY at its
 * first seven reads of offsets (several seconds), and b joins the group
 * meanwhile.  librdkafka may revoke what a waits for (the pending
 * assignment is then cancelled), or, as 2.0.2 does, leave a out of the
 * next generation until a's assignment is carried out and then revoke
 * it as lost (a zombie the sink's fence guards against).  Either way a
 * must keep being polled, end up assigned in a later generation, and
 * every record is applied once.
 */
static void
test_rebalance_while_pending(void **state)
{
	struct env *e = *state;
	struct ks_worker_snapshot sa, sb;
	struct state st;
	struct run r;
	char ini_a[4096], ini_b[4096], err[1024];
	int64_t deadline;
	int cfg;

	produce_all(e, 1000);
	make_ini(e, ini_a, sizeof(ini_a),
	    "kafka.group.id = shared\n"
	    "kafka.max.poll.interval.ms = 3000\n"
	    "scripted.retry.load = 7\n");
	make_ini(e, ini_b, sizeof(ini_b),
	    "kafka.group.id = shared\n"
	    "kafka.max.poll.interval.ms = 3000\n");
	run_init(&r);
	run_add(&r, ini_a);
	run_go(e, &r);
	deadline = ks_util_now_ms() + 30000;
	while (!log_has(e, "sink cannot read its offsets yet", NULL) &&
	    ks_util_now_ms() < deadline)
		ks_util_sleep_ms(20);
	expect(e, log_has(e, "sink cannot read its offsets yet", NULL),
	    "a's sink was never asked for its offsets");
	run_add(&r, ini_b);
	if (ks_worker_open(r.ws[1], &cfg, err, sizeof(err)) == -1)
		fail_msg("%s", err);
	if (ks_worker_start(r.ws[1], worker_done, &r) == -1)
		fail_msg("cannot start a connector thread");
	(void)run_wait(e, &r, total_produced(e), 60000, 500);
	/* a's assignment comes once its sink answers. */
	deadline = ks_util_now_ms() + 40000;
	do {
		ks_worker_snapshot(r.ws[0], &sa);
		if (sa.rebalances >= 1 || ks_util_now_ms() > deadline)
			break;
		ks_worker_snapshot_free(&sa);
		ks_util_sleep_ms(100);
	} while (1);
	ks_worker_snapshot(r.ws[1], &sb);
	run_stop(e, &r);
	state_read(e, &st);
	printf("rebalance while pending (%s): %llu + %llu records committed, "
	    "%llu + %llu assignments, %zu skipped by the fence\n",
	    e->strategy, (unsigned long long)r.stats[0].records,
	    (unsigned long long)r.stats[1].records,
	    (unsigned long long)sa.rebalances,
	    (unsigned long long)sb.rebalances, st.fenced);
	check_exactly_once(e, &st, NULL, NULL);
	expect(e, r.rc[0] == 0 && r.rc[1] == 0, "a connector failed");
	expect(e, !log_has(e, "maximum poll interval", NULL), "a consumer "
	    "was not polled while the sink's offsets were read");
	expect(e, log_has(e, "load_offsets retry 7 of 7", NULL), "a's "
	    "assignment was not pending for seven reads");
	expect(e, sb.rebalances >= 1, "b was never assigned partitions");
	expect(e, sa.rebalances >= 1, "a was never assigned partitions after "
	    "its sink answered");
	ks_worker_snapshot_free(&sa);
	ks_worker_snapshot_free(&sb);
	state_free(&st);
}

/*
 * Stopping while the assignment waits for the sink: the connector leaves
 * the group at once and cleanly (the pending assignment is dropped,
 * librdkafka's revocation finds nothing assigned), nothing is applied,
 * and a later run starts as if nothing had happened.
 */
static void
test_stop_while_pending(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];
	int64_t deadline;

	produce_all(e, 100);
	make_ini(e, ini, sizeof(ini), "scripted.retry.load = 1000\n");
	run_start(e, &r, ini);
	deadline = ks_util_now_ms() + 30000;
	while (!log_has(e, "sink cannot read its offsets yet", NULL) &&
	    ks_util_now_ms() < deadline)
		ks_util_sleep_ms(10);
	expect(e, log_has(e, "sink cannot read its offsets yet", NULL),
	    "the sink was never asked for its offsets");
	run_stop(e, &r);
	expect(e, r.rc[0] == 0 && !atomic_load(&r.failed), "the connector "
	    "did not stop cleanly");
	expect(e, state_count(e) == 0, "%zu records applied without the "
	    "sink's offsets", state_count(e));
	expect(e, !log_has(e, "assigned t/", NULL), "partitions were "
	    "assigned although the sink never answered");
	make_ini(e, ini, sizeof(ini), NULL);
	run_ok(e, &r, ini, total_produced(e));
	state_read(e, &st);
	check_exactly_once(e, &st, NULL, NULL);
	check_unfenced(e, &st);
	state_free(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_pending_keeps_polling),
		CASE_WITH(test_rebalance_while_pending, eager),
		CASE_WITH(test_rebalance_while_pending, cooperative),
		CASE_WITH(test_stop_while_pending, eager),
		CASE_WITH(test_stop_while_pending, cooperative),
	};

	return worker_fx_run("test_worker_pending", tests,
	    sizeof(tests) / sizeof(tests[0]));
}
