/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_worker_convert.c - the worker with converters
 * (src/worker.c, src/convert.c): the sink gets the decoded text and
 * host->decoded() the bytes read from Kafka; a key or value that does not
 * decode is a poison record like one the sink refuses (errors.tolerance,
 * the dead letter queue with the raw bytes); a registry that cannot
 * answer makes the batch wait like a sink's RETRY, nothing applied.
 *
 * Run for real against librdkafka's mock cluster with the scripted test
 * sink, which stores a decoded value as DECODED~RAW; see
 * tests/unit/worker-fx.h.
 */
#include "worker-fx.h"

#define DLQ "dlq"

/* Produces one record of value val (len bytes) to partition p. */
static void
produce_one(struct env *e, int32_t p, const void *val, size_t len)
{
	while (rd_kafka_producev(e->producer, RD_KAFKA_V_TOPIC(TOPIC),
	    RD_KAFKA_V_PARTITION(p), RD_KAFKA_V_VALUE((void *)val, len),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(e->producer, 10);
	e->produced[p]++;
}

/* n records "v-P-OFFSET" to each partition, in double quotes (a JSON
 * string) with quoted, but those listed in bad, which are "\xffv-P-OFFSET"
 * (neither UTF-8 nor JSON). */
static void
produce_vals(struct env *e, int n, int quoted, const struct skip *bad)
{
	char val[64];
	int32_t p;
	int i, len;

	for (p = 0; p < NPART; p++)
		for (i = 0; i < n; i++) {
			if (skipped(bad, p, e->produced[p]))
				len = snprintf(val, sizeof(val), "\xffv-%d-%lld",
				    (int)p, (long long)e->produced[p]);
			else
				len = snprintf(val, sizeof(val), "%sv-%d-%lld%s",
				    quoted ? "\"" : "", (int)p,
				    (long long)e->produced[p], quoted ? "\"" : "");
			produce_one(e, p, val, (size_t)len);
		}
	assert_int_equal(rd_kafka_flush(e->producer, 20000), 0);
}

/* The dead letter queue's records: value and error message of each. */
static size_t
read_dlq(struct env *e, char vals[][64], char msgs[][512], size_t max)
{
	rd_kafka_conf_t *c;
	rd_kafka_t *rk;
	rd_kafka_topic_partition_list_t *l;
	rd_kafka_message_t *m;
	rd_kafka_headers_t *h;
	const void *hv;
	size_t n = 0, hl;
	char err[512];
	int64_t deadline = ks_util_now_ms() + 5000;

	c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", e->bootstraps, NULL, 0);
	rd_kafka_conf_set(c, "group.id", "dlq-reader", NULL, 0);
	rd_kafka_conf_set(c, "auto.offset.reset", "earliest", NULL, 0);
	rd_kafka_conf_set(c, "log_level", "3", NULL, 0);
	assert_non_null(rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err,
	    sizeof(err)));
	l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, DLQ, 0)->offset =
	    RD_KAFKA_OFFSET_BEGINNING;
	assert_int_equal(rd_kafka_assign(rk, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	while (n < max && ks_util_now_ms() < deadline) {
		if ((m = rd_kafka_consumer_poll(rk, 100)) == NULL)
			continue;
		if (!m->err) {
			snprintf(vals[n], 64, "%.*s", (int)m->len,
			    (const char *)m->payload);
			msgs[n][0] = '\0';
			if (rd_kafka_message_headers(m, &h) == 0 &&
			    rd_kafka_header_get_last(h,
			    "__connect.errors.exception.message", &hv, &hl) ==
			    0)
				snprintf(msgs[n], 512, "%.*s", (int)hl,
				    (const char *)hv);
			n++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}

/* string, errors.tolerance = all: each value reaches the sink as a JSON
 * string, its bytes through host->decoded(); values that are not UTF-8
 * are skipped and sent to the dead letter queue as read, with the
 * converter's message; the rest is applied once, in order, the offsets
 * stored past all. */
static void
test_poison_dlq(void **state)
{
	static const struct skip bad[] = { { 1, 37 }, { 0, 0 }, { 2, 99 },
	    { -1, 0 } };
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096], want[64], vals[4][64], msgs[4][512];
	size_t i, n;
	int p;

	assert_int_equal(rd_kafka_mock_topic_create(e->mc, DLQ, 1, 1), 0);
	produce_vals(e, 100, 0, bad);
	make_ini(e, ini, sizeof(ini), "value.converter = string\n"
	    "errors.tolerance = all\n"
	    "errors.deadletterqueue.topic.name = " DLQ "\n");
	run_start(e, &r, ini);
	(void)run_wait(e, &r, total_produced(e) - 3, 30000, 500);
	run_stop(e, &r);
	expect(e, r.rc[0] == 0, "the connector failed");
	state_read(e, &st);
	expect(e, st.n == (size_t)total_produced(e) - 3, "%zu records in "
	    "the sink", st.n);
	for (i = 0; i < st.n; i++) {
		expect(e, !skipped(bad, st.recs[i].partition,
		    st.recs[i].offset), "poison record %d@%lld applied",
		    st.recs[i].partition, (long long)st.recs[i].offset);
		snprintf(want, sizeof(want), "\"v-%d-%lld\"~v-%d-%lld",
		    (int)st.recs[i].partition, (long long)st.recs[i].offset,
		    (int)st.recs[i].partition, (long long)st.recs[i].offset);
		expect(e, strcmp(st.recs[i].value, want) == 0, "record %zu is "
		    "%s, expected %s", i, st.recs[i].value, want);
		expect(e, i == 0 || st.recs[i].partition !=
		    st.recs[i - 1].partition || st.recs[i].offset >
		    st.recs[i - 1].offset, "out of order at %zu", i);
	}
	for (p = 0; p < NPART; p++)
		expect(e, st.next[p] == e->produced[p], "stored next offset "
		    "of %d is %lld", p, (long long)st.next[p]);
	expect(e, r.stats[0].poison == 3, "stats.poison = %llu",
	    (unsigned long long)r.stats[0].poison);
	check_unfenced(e, &st);
	expect(e, log_has(e, "skipping record t/1@37 (errors.tolerance = "
	    "all, sent to the dead letter queue)", "value.converter"),
	    "no warning naming t/1@37 and the converter");
	n = read_dlq(e, vals, msgs, 4);
	expect(e, n == 3, "%zu dead letters, expected 3", n);
	for (i = 0; i < n; i++) {
		expect(e, vals[i][0] == '\xff' && vals[i][1] == 'v', "dead "
		    "letter %zu is %s, not the raw bytes", i, vals[i]);
		expect(e, strstr(msgs[i], "cannot be decoded by "
		    "value.converter: not UTF-8") != NULL, "dead letter %zu's "
		    "message: %s", i, msgs[i]);
	}
	state_free(&st);
}

/* json, errors.tolerance = none: the connector stops at the first value
 * that is not JSON, naming it; nothing of it or after it is applied. */
static void
test_poison_none(void **state)
{
	static const struct skip bad[] = { { 1, 37 }, { -1, 0 } };
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];

	produce_vals(e, 100, 1, bad);
	make_ini(e, ini, sizeof(ini), "value.converter = json\n");
	run_fail(e, &r, ini);
	state_read(e, &st);
	check_stopped_at(e, &st, 1, 37);
	expect(e, log_has(e, "ksink: error: connector c: record t/1@37 "
	    "cannot be applied: value of t/1@37 cannot be decoded by "
	    "value.converter: not JSON", "errors.tolerance = all"),
	    "no error line naming t/1@37");
	state_free(&st);
}

/* avro with a registry that does not answer: the batch waits and is
 * retried, its partitions paused; nothing is applied nor skipped, and
 * the connector keeps running. */
static void
test_registry_down_waits(void **state)
{
	struct env *e = *state;
	static const unsigned char wire[] = { 0x00, 0, 0, 0, 7, 0x02, 'x' };
	struct state st;
	struct run r;
	char ini[4096];
	struct ks_worker_stats now;
	int64_t deadline;
	int i;

	for (i = 0; i < 10; i++)
		produce_one(e, 0, wire, sizeof(wire));
	assert_int_equal(rd_kafka_flush(e->producer, 20000), 0);
	/* Port 1 of the loopback: nothing listens there. */
	make_ini(e, ini, sizeof(ini), "value.converter = avro\n"
	    "value.converter.schema.registry.url = http://127.0.0.1:1\n"
	    "value.converter.schema.registry.timeout.ms = 1000\n"
	    "errors.tolerance = all\n");
	run_start(e, &r, ini);
	/* Until a third attempt failed too, and a while more. */
	deadline = ks_util_now_ms() + 30000;
	do {
		ks_util_sleep_ms(50);
		ks_worker_get_stats(r.ws[0], &now);
	} while (now.retries < 3 && atomic_load(&r.ended) == 0 &&
	    ks_util_now_ms() < deadline);
	ks_util_sleep_ms(500);
	run_stop(e, &r);
	expect(e, r.rc[0] == 0 && !atomic_load(&r.failed), "the connector "
	    "failed");
	state_read(e, &st);
	expect(e, st.n == 0, "%zu records applied", st.n);
	expect(e, st.next[0] == -1, "an offset was stored: %lld",
	    (long long)st.next[0]);
	expect(e, r.stats[0].retries >= 3, "%llu retries counted",
	    (unsigned long long)r.stats[0].retries);
	expect(e, r.stats[0].poison == 0, "records skipped as poison");
	expect(e, log_has(e, "converter failed transiently (attempt 1)",
	    "schema id 7 of t/0@0"), "no warning naming the schema id");
	state_free(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		CASE(test_poison_dlq),
		CASE(test_poison_none),
		CASE(test_registry_down_waits),
	};

	/* What worker-fx.h has that these cases do not need. */
	(void)check_exactly_once;
	(void)state_prestore;
	(void)produce_all;
	(void)run_ok;
	return worker_fx_run("test_worker_convert", tests,
	    sizeof(tests) / sizeof(tests[0]));
}
