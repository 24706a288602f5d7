/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_worker.c - the worker's batch loop (src/worker.c): every
 * record applied once in order with both assignors, a restart, offsets
 * read from the sink at assignment (and retried there), two daemons on
 * one group fenced, and the checks of the connectors' settings at load.
 *
 * Run for real against librdkafka's mock cluster with the scripted test
 * sink; see tests/unit/worker-fx.h.
 */
#include "worker-fx.h"

/* Every record applied once, in per-partition order, both assignors. */
static void
test_all_applied(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 1000);
	make_ini(e, ini, sizeof(ini), NULL);
	run_ok(e, &r, ini, total_produced(e));
	state_read(e, &st);
	check_exactly_once(e, &st, NULL, NULL);
	check_unfenced(e, &st);
	expect(e, r.stats[0].records == (uint64_t)total_produced(e),
	    "stats.records = %llu", (unsigned long long)r.stats[0].records);
	expect(e, r.stats[0].batches >= (uint64_t)total_produced(e) / 200,
	    "stats.batches = %llu: batch.max.records ignored",
	    (unsigned long long)r.stats[0].batches);
	expect(e, r.stats[0].retries == 0 && r.stats[0].poison == 0,
	    "retries or poison counted");
	expect(e, log_has(e, "new to the sink: starting at the earliest",
	    NULL), "no log line about starting at the earliest offset");
	state_free(&st);
}

/* A second run goes on where the first stopped; more records meanwhile. */
static void
test_restart(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 500);
	make_ini(e, ini, sizeof(ini), NULL);
	run_ok(e, &r, ini, total_produced(e));
	produce_all(e, 300);
	run_ok(e, &r, ini, total_produced(e));
	state_read(e, &st);
	check_exactly_once(e, &st, NULL, NULL);
	check_unfenced(e, &st);
	/* The second run applied only the new records. */
	expect(e, r.stats[0].records == 3 * 300, "second run applied %llu "
	    "records", (unsigned long long)r.stats[0].records);
	state_free(&st);
}

/* Commits group offsets for group `group` as another consumer would. */
static void
commit_group(struct env *e, const char *group, const int64_t *next)
{
	rd_kafka_topic_partition_list_t *l, *got;
	rd_kafka_conf_t *c;
	rd_kafka_t *rk;
	char err[512];
	int p;

	c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", e->bootstraps, NULL, 0);
	rd_kafka_conf_set(c, "group.id", group, NULL, 0);
	rd_kafka_conf_set(c, "log_level", "3", NULL, 0);
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
	assert_non_null(rk);
	l = rd_kafka_topic_partition_list_new(NPART);
	for (p = 0; p < NPART; p++)
		rd_kafka_topic_partition_list_add(l, TOPIC, p)->offset = next[p];
	assert_int_equal(rd_kafka_commit(rk, l, 0), 0);
	/* Read them back: the mock did store them. */
	got = rd_kafka_topic_partition_list_copy(l);
	assert_int_equal(rd_kafka_committed(rk, got, 10000), 0);
	for (p = 0; p < NPART; p++)
		assert_int_equal(got->elems[p].offset, next[p]);
	rd_kafka_topic_partition_list_destroy(got);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
}

/*
 * The sink, not Kafka, says where to start: the sink's stored offsets
 * are where the worker starts, and partition 2, new to the sink, starts
 * at the earliest offset.  First with no group offsets at all.
 */

static void
test_resume_from_sink(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 500);
	state_prestore(e, sink_stored);
	make_ini(e, ini, sizeof(ini), NULL);
	run_ok(e, &r, ini, 400 + 250 + 500);
	state_read(e, &st);
	check_exactly_once(e, &st, sink_from, NULL);
	check_unfenced(e, &st);
	expect(e, log_has(e, "assigned t/0, resuming at offset 100 stored by "
	    "the sink", NULL), "no log line about resuming t/0 at 100");
	expect(e, log_has(e, "assigned t/2, new to the sink: starting at the "
	    "earliest offset", NULL), "no log line about t/2");
	state_free(&st);
}

/* The same with group offsets committed that disagree with the sink:
 * below it, above it, and where the sink has none. */
static void
test_resume_from_sink_not_group(void **state)
{
	const int64_t group[NPART] = { 10, 400, 200 };
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 500);
	state_prestore(e, sink_stored);
	commit_group(e, "ksink-c", group);
	make_ini(e, ini, sizeof(ini), NULL);
	run_ok(e, &r, ini, 400 + 250 + 500);
	state_read(e, &st);
	check_exactly_once(e, &st, sink_from, NULL);
	check_unfenced(e, &st);
	state_free(&st);
}

/* RETRY from load_offsets a few times, then the worker starts. */
static void
test_load_offsets_retry(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, 200);
	make_ini(e, ini, sizeof(ini), "scripted.retry.load = 2\n");
	run_ok(e, &r, ini, total_produced(e));
	state_read(e, &st);
	check_exactly_once(e, &st, NULL, NULL);
	check_unfenced(e, &st);
	expect(e, log_has(e, "sink cannot read its offsets yet",
	    "load_offsets retry 2 of 2"), "no warning about load_offsets");
	state_free(&st);

}

/* A sink that cannot tell where to start: the connector fails rather
 * than guess, and takes no partition. */
static void
test_load_offsets_fatal(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];
	int64_t t0;

	produce_all(e, 10);
	make_ini(e, ini, sizeof(ini), "scripted.fatal.load = true\n");
	t0 = ks_util_now_ms();
	run_fail(e, &r, ini);
	state_read(e, &st);
	expect(e, st.n == 0, "records applied without offsets");
	expect(e, log_has(e, "ksink: error: connector c: sink cannot read "
	    "its stored offsets: scripted: load_offsets fatal", NULL),
	    "no error line");
	/* Failing and leaving the group is quick. */
	expect(e, ks_util_now_ms() - t0 < 10000, "took %lld ms",
	    (long long)(ks_util_now_ms() - t0));
	state_free(&st);
}

/*
 * Two daemons (two configurations, each loaded on its own) run connector
 * c in one consumer group on the same sink state.  The first one's sink
 * stalls in its first write for longer than max.poll.interval.ms, so
 * librdkafka takes its partitions away and the second one applies the
 * same records; when the first wakes up it commits its stale batch
 * anyway: a zombie.  The sink's fence must skip those records: each
 * applied once overall.  TEST_NO_FENCE=1 turns the fence off, and this
 * case must then fail.
 */
static void
test_two_workers(void **state)
{
	struct env *e = *state;
	struct ks_worker_stats a;
	struct state st;
	struct run r;
	char ini_a[4096], ini_b[4096], extra[512];
	const char *fence;
	int64_t deadline;

	produce_all(e, 1000);
	fence = getenv("TEST_NO_FENCE") != NULL ? "false" : "true";
	snprintf(extra, sizeof(extra),
	    "kafka.group.id = shared\n"
	    "kafka.max.poll.interval.ms = 3000\n"
	    "scripted.fence = %s\n"
	    "scripted.sleep.ms = 9000\n"
	    "scripted.sleep.batches = 1\n", fence);
	make_ini(e, ini_a, sizeof(ini_a), extra);
	snprintf(extra, sizeof(extra),
	    "kafka.group.id = shared\n"
	    "scripted.fence = %s\n", fence);
	make_ini(e, ini_b, sizeof(ini_b), extra);
	run_init(&r);
	run_add(&r, ini_a);
	run_add(&r, ini_b);
	run_go(e, &r);
	(void)run_wait(e, &r, total_produced(e), 40000, 0);
	/* Wait for a's stale batch to be committed. */
	deadline = ks_util_now_ms() + 20000;
	do {
		ks_util_sleep_ms(100);
		ks_worker_get_stats(r.ws[0], &a);
	} while (a.batches == 0 && ks_util_now_ms() < deadline);
	ks_util_sleep_ms(500);
	run_stop(e, &r);
	state_read(e, &st);
	printf("two workers (%s): %llu + %llu records committed, %zu "
	    "skipped by the fence\n", e->strategy,
	    (unsigned long long)r.stats[0].records,
	    (unsigned long long)r.stats[1].records, st.fenced);
	check_exactly_once(e, &st, NULL, NULL);
	expect(e, r.rc[0] == 0 && r.rc[1] == 0, "a connector failed");
	/* Without a zombie commit this case would not test the fence. */
	expect(e, r.stats[0].batches > 0 && st.fenced > 0, "a's stale batch "
	    "was not committed after b applied it: no zombie, the fence was "
	    "not exercised");
	state_free(&st);
}

/* A sink without atomic offsets needs at_least_once, said explicitly. */
static void
test_delivery_guarantee(void **state)
{
	static const char ini[] =
	    "[connector c]\n"
	    "type = no_atomic\n"
	    "topics = t\n"
	    "kafka.bootstrap.servers = 127.0.0.1:1\n";
	struct ks_errors errs = { 0 };
	struct ks_worker **ws = NULL;
	struct ks_conf *conf;
	char buf[512];
	size_t n = 0;
	char *saved;
	FILE *fp;

	(void)state;
	/* The fixtures through KSINK_PLUGIN_DIR, as plugin.dir is not set. */
	saved = getenv("KSINK_PLUGIN_DIR");
	saved = saved != NULL ? strdup(saved) : NULL;
	setenv("KSINK_PLUGIN_DIR", fixdir, 1);
	fp = fmemopen((void *)ini, sizeof(ini) - 1, "r");
	conf = ks_conf_parse_fp(fp, "w.ini", &errs);
	fclose(fp);
	assert_int_equal(ks_worker_load_all(conf, &errs, &ws, &n), -1);
	assert_int_equal(n, 0);
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msg[0], "w.ini:1: [connector c]: sink "
	    "no_atomic cannot store offsets atomically"));
	assert_non_null(strstr(errs.msg[0], "delivery.guarantee = "
	    "at_least_once"));
	ks_conf_free(conf);
	ks_errors_free(&errs);

	snprintf(buf, sizeof(buf), "%sdelivery.guarantee = at_least_once\n",
	    ini);
	fp = fmemopen(buf, strlen(buf), "r");
	conf = ks_conf_parse_fp(fp, "w.ini", &errs);
	fclose(fp);
	assert_int_equal(ks_worker_load_all(conf, &errs, &ws, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ks_worker_name(ws[0]), "c");
	ks_worker_free(ws[0]);
	free(ws);
	ks_conf_free(conf);
	ks_errors_free(&errs);
	if (saved != NULL)
		setenv("KSINK_PLUGIN_DIR", saved, 1);
	else
		unsetenv("KSINK_PLUGIN_DIR");
	free(saved);
}

/* Two connectors of one daemon never share a consumer group. */
static void
test_group_per_connector(void **state)
{
	static const char ini[] =
	    "[worker]\n"
	    "plugin.dir = %s\n"
	    "[connector a]\n"
	    "type = good\n"
	    "topics = t\n"
	    "good.path = /x\n"
	    "kafka.group.id = ksink-b\n"
	    "[connector b]\n"
	    "type = good\n"
	    "topics = t\n"
	    "good.path = /x\n"
	    "[kafka]\n"
	    "bootstrap.servers = 127.0.0.1:1\n";
	struct ks_errors errs = { 0 };
	struct ks_worker **ws = NULL;
	struct ks_conf *conf;
	char buf[8192];
	size_t n = 0, i;
	FILE *fp;

	(void)state;
	snprintf(buf, sizeof(buf), ini, fixdir);
	fp = fmemopen(buf, strlen(buf), "r");
	conf = ks_conf_parse_fp(fp, "w.ini", &errs);
	fclose(fp);
	assert_int_equal(ks_worker_load_all(conf, &errs, &ws, &n), -1);
	assert_int_equal(errs.count, 1);
	assert_non_null(strstr(errs.msg[0], "w.ini:8: [connector b] uses "
	    "consumer group ksink-b, as [connector a] at line 3"));
	for (i = 0; i < n; i++)
		ks_worker_free(ws[i]);
	free(ws);
	ks_conf_free(conf);
	ks_errors_free(&errs);
}

/*
 * batch.adaptive: with a commit that costs 40 ms and writes that cost
 * nothing, full batches grow from KS_BATCH_START (5000) to
 * batch.max.records; with writes that cost 300 ms and a cheap commit they
 * stay at 5000.  Every record is applied once either way.
 */
static void
run_adaptive(struct env *e, int per_partition, const char *extra,
    uint64_t want_limit, struct ks_worker_stats *stats)
{
	struct state st;
	struct run r;
	char ini[4096];

	produce_all(e, per_partition);
	make_ini(e, ini, sizeof(ini), extra);
	run_ok(e, &r, ini, total_produced(e));
	state_read(e, &st);
	check_exactly_once(e, &st, NULL, NULL);
	*stats = r.stats[0];
	expect(e, stats->batch_limit == want_limit, "%s: batch limit %llu, "
	    "expected %llu, after %llu batches", extra,
	    (unsigned long long)stats->batch_limit,
	    (unsigned long long)want_limit,
	    (unsigned long long)stats->batches);
	state_free(&st);
}

static void
test_batch_adaptive(void **state)
{
	struct ks_worker_stats s;

	run_adaptive(*state, 6000, "batch.max.records = 20000\n"
	    "scripted.commit.sleep.ms = 40\n", 20000, &s);
	expect(*state, s.batches <= 5, "costly commits: %llu batches for "
	    "18000 records", (unsigned long long)s.batches);
}

static void
test_batch_adaptive_costly_writes(void **state)
{
	struct ks_worker_stats s;

	run_adaptive(*state, 3000, "batch.max.records = 20000\n"
	    "scripted.sleep.ms = 300\n", 5000, &s);
	expect(*state, s.batches >= 2, "costly writes: %llu batches for "
	    "9000 records", (unsigned long long)s.batches);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delivery_guarantee),
		cmocka_unit_test(test_group_per_connector),
		CASE_WITH(test_all_applied, eager),
		CASE_WITH(test_all_applied, cooperative),
		CASE(test_restart),
		CASE_WITH(test_resume_from_sink, eager),
		CASE_WITH(test_resume_from_sink, cooperative),
		CASE(test_resume_from_sink_not_group),
		CASE(test_load_offsets_retry),
		CASE(test_load_offsets_fatal),
		CASE(test_batch_adaptive),
		CASE(test_batch_adaptive_costly_writes),
		CASE_WITH(test_two_workers, eager),
		CASE_WITH(test_two_workers, cooperative),
	};

	/* What worker-fx.h has that these cases do not need. */
	(void)check_stopped_at;
	return worker_fx_run("test_worker", tests,
	    sizeof(tests) / sizeof(tests[0]));
}
