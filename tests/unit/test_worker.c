/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_worker.c - the worker's batch loop and error policy
 * (src/worker.c), run for real: librdkafka's mock cluster as Kafka, the
 * scripted test sink (tests/plugins/scripted.c) as the sink, whose state
 * file tells which records were applied, in which order, and which
 * offsets it stores.
 *
 * The mock cluster does not implement read_committed, so the records are
 * produced without transactions; offsets are then contiguous from 0 and
 * every value is "v-PARTITION-OFFSET", which lets the checks tell a lost,
 * doubled or reordered record from a right one.
 *
 * The worker logs to stderr: each case sends fd 2 to a file while the
 * worker runs and checks the lines there.
 *
 * For debugging: TEST_ONLY=NAME runs the cases named so (cmocka's
 * filter), TEST_VERBOSE=1 shows every case's log, TEST_KAFKA_DEBUG=cgrp
 * sets librdkafka's debug contexts, and TEST_NO_FENCE=1 turns the
 * scripted sink's fence off in test_two_workers, which must then fail.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "conf.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define TOPIC "t"
#define NPART 3
#define MAXREC 20000

struct run;

/* One mock cluster and one temporary directory per case. */
struct env {
	char dir[256];
	char state[512];
	char logpath[512];
	rd_kafka_t *mrk;
	rd_kafka_mock_cluster_t *mc;
	char bootstraps[256];
	rd_kafka_t *producer;
	int64_t produced[NPART];
	int saved_stderr;
	const char *strategy;	/* partition.assignment.strategy */
	struct run *running;	/* connectors to stop at teardown */
};

/* The scripted sink's state file, read back. */
struct rec {
	int32_t partition;
	int64_t offset;
	char value[64];
};

struct state {
	struct rec *recs;
	size_t n;
	size_t fenced;
	int64_t next[NPART];	/* stored next offsets, -1 if none */
};

/* The connectors of one or more INI files (one daemon each), running. */
#define MAXW 4
struct run {
	struct ks_conf *conf[MAXW];
	size_t nconf;
	struct ks_errors errs;
	struct ks_worker *ws[MAXW];
	size_t n;
	atomic_int ended;
	atomic_int failed;
	int rc[MAXW];
	struct ks_worker_stats stats[MAXW];
};

static char fixdir[4096];
static const char *const eager = "range";
static const char *const cooperative = "cooperative-sticky";

/* ---- plumbing ---- */

static void
show_log(const struct env *e)
{
	char line[4096];
	FILE *fp;

	if ((fp = fopen(e->logpath, "r")) == NULL)
		return;
	printf("---- log of the case ----\n");
	while (fgets(line, sizeof(line), fp) != NULL)
		fputs(line, stdout);
	printf("---- end of log ----\n");
	fflush(stdout);
	fclose(fp);
}

/* Fails the case, showing the worker's log first. */
#define expect(e, cond, ...) do { \
	if (!(cond)) { \
		show_log(e); \
		fail_msg(__VA_ARGS__); \
	} \
} while (0)

static void
capture_start(struct env *e)
{
	int fd;

	fflush(stderr);
	fd = open(e->logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	assert_true(fd != -1);
	e->saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static void
capture_stop(struct env *e)
{
	if (e->saved_stderr == -1)
		return;
	fflush(stderr);
	dup2(e->saved_stderr, STDERR_FILENO);
	close(e->saved_stderr);
	e->saved_stderr = -1;
}

/* Does the log hold a line containing all of a and b (b may be NULL)? */
static int
log_has(const struct env *e, const char *a, const char *b)
{
	char line[4096];
	int found = 0;
	FILE *fp;

	if ((fp = fopen(e->logpath, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strstr(line, a) != NULL &&
		    (b == NULL || strstr(line, b) != NULL);
	fclose(fp);
	return found;
}

static void run_stop(struct env *e, struct run *r);

/* A case's fixture: *state is the assignment strategy (or NULL) before,
 * the case's struct env after. */
static int
setup(void **state)
{
	struct env *e = *state;
	rd_kafka_conf_t *c;
	char err[512];
	const char *t = getenv("TMPDIR");

	e = calloc(1, sizeof(*e));
	assert_non_null(e);
	e->saved_stderr = -1;
	e->strategy = *state != NULL ? *state : eager;
	snprintf(e->dir, sizeof(e->dir), "%s/test_worker.XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->state, sizeof(e->state), "%s/scripted.state", e->dir);
	snprintf(e->logpath, sizeof(e->logpath), "%s/log", e->dir);

	c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "log_level", "3", NULL, 0);
	e->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	assert_non_null(e->mrk);
	e->mc = rd_kafka_mock_cluster_new(e->mrk, 1);
	assert_non_null(e->mc);
	snprintf(e->bootstraps, sizeof(e->bootstraps), "%s",
	    rd_kafka_mock_cluster_bootstraps(e->mc));
	assert_int_equal(rd_kafka_mock_topic_create(e->mc, TOPIC, NPART, 1),
	    0);

	c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", e->bootstraps, NULL, 0);
	rd_kafka_conf_set(c, "log_level", "3", NULL, 0);
	rd_kafka_conf_set(c, "linger.ms", "5", NULL, 0);
	e->producer = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
	assert_non_null(e->producer);
	*state = e;
	return 0;
}

static void
rm_file(const char *dir, const char *name)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

static int
teardown(void **state)
{
	struct env *e = *state;

	/* A case that failed half way leaves its connectors running. */
	if (e->running != NULL)
		run_stop(e, e->running);
	capture_stop(e);
	if (getenv("TEST_VERBOSE") != NULL)
		show_log(e);
	rd_kafka_destroy(e->producer);
	rd_kafka_mock_cluster_destroy(e->mc);
	rd_kafka_destroy(e->mrk);
	rm_file(e->dir, "scripted.state");
	rm_file(e->dir, "scripted.state.tmp");
	rm_file(e->dir, "scripted.state.lock");
	rm_file(e->dir, "log");
	rmdir(e->dir);
	free(e);
	return 0;
}

/* Produces n records to partition p, values "v-P-OFFSET". */
static void
produce(struct env *e, int32_t p, int n)
{
	char val[64];
	int i, len;

	for (i = 0; i < n; i++) {
		len = snprintf(val, sizeof(val), "v-%d-%lld", (int)p,
		    (long long)e->produced[p]++);
		while (rd_kafka_producev(e->producer,
		    RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_PARTITION(p),
		    RD_KAFKA_V_VALUE(val, (size_t)len),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(e->producer, 10);
	}
	assert_int_equal(rd_kafka_flush(e->producer, 20000), 0);
}

static void
produce_all(struct env *e, int per_partition)
{
	int32_t p;

	for (p = 0; p < NPART; p++)
		produce(e, p, per_partition);
}

static int64_t
total_produced(const struct env *e)
{
	int64_t n = 0;
	int p;

	for (p = 0; p < NPART; p++)
		n += e->produced[p];
	return n;
}

static void
state_read(const struct env *e, struct state *st)
{
	char line[256], topic[64], val[64];
	int part;
	long long off;
	FILE *fp;

	memset(st, 0, sizeof(*st));
	for (part = 0; part < NPART; part++)
		st->next[part] = -1;
	st->recs = calloc(MAXREC, sizeof(*st->recs));
	assert_non_null(st->recs);
	if ((fp = fopen(e->state, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "record %63s %d %lld %63s", topic, &part, &off,
		    val) == 4) {
			assert_true(st->n < MAXREC);
			assert_string_equal(topic, TOPIC);
			st->recs[st->n].partition = part;
			st->recs[st->n].offset = off;
			snprintf(st->recs[st->n].value,
			    sizeof(st->recs[st->n].value), "%s", val);
			st->n++;
		} else if (sscanf(line, "fenced %63s %d %lld", topic, &part,
		    &off) == 3)
			st->fenced++;
		else if (sscanf(line, "offset %63s %d %lld", topic, &part,
		    &off) == 3 && part >= 0 && part < NPART)
			st->next[part] = off;
	}
	fclose(fp);
}

static void
state_free(struct state *st)
{
	free(st->recs);
}

/* Writes stored offsets into the state file, as a previous run would. */
static void
state_prestore(const struct env *e, const int64_t *next)
{
	FILE *fp;
	int p;

	assert_non_null(fp = fopen(e->state, "w"));
	for (p = 0; p < NPART; p++)
		if (next[p] >= 0)
			fprintf(fp, "offset " TOPIC " %d %lld\n", p,
			    (long long)next[p]);
	assert_int_equal(fclose(fp), 0);
}

static size_t
state_count(const struct env *e)
{
	struct state st;
	size_t n;

	state_read(e, &st);
	n = st.n;
	state_free(&st);
	return n;
}

/* A record the sink must not hold: partition, offset; p < 0 ends a list. */
struct skip {
	int p;
	int64_t off;
};

static int
skipped(const struct skip *skip, int p, int64_t off)
{
	for (; skip != NULL && skip->p >= 0; skip++)
		if (skip->p == p && skip->off == off)
			return 1;
	return 0;
}

/*
 * Checks that the sink holds, for each partition p, exactly the records
 * from[p] .. e->produced[p] - 1 (from NULL: all), each once, in offset
 * order, with its own value, except those listed in skip; and that the
 * stored next offsets are e->produced[p].
 */
static void
check_exactly_once(const struct env *e, const struct state *st,
    const int64_t *from, const struct skip *skip)
{
	int64_t want[NPART], expected = 0, off;
	char val[64];
	size_t i;
	int p;

	for (p = 0; p < NPART; p++) {
		want[p] = from != NULL ? from[p] : 0;
		for (off = want[p]; off < e->produced[p]; off++)
			expected += !skipped(skip, p, off);
	}
	for (i = 0; i < st->n; i++) {
		const struct rec *r = &st->recs[i];

		p = r->partition;
		expect(e, p >= 0 && p < NPART, "record of partition %d", p);
		while (skipped(skip, p, want[p]))
			want[p]++;
		expect(e, r->offset == want[p], "partition %d: record %zu of "
		    "the sink is offset %lld, expected %lld (lost, doubled or "
		    "out of order)", p, i, (long long)r->offset,
		    (long long)want[p]);
		snprintf(val, sizeof(val), "v-%d-%lld", p, (long long)r->offset);
		expect(e, strcmp(r->value, val) == 0, "%s at %d/%lld, "
		    "expected %s", r->value, p, (long long)r->offset, val);
		want[p]++;
	}
	expect(e, (int64_t)st->n == expected, "%zu records in the sink, "
	    "expected %lld", st->n, (long long)expected);
	for (p = 0; p < NPART; p++)
		expect(e, st->next[p] == e->produced[p], "stored next offset "
		    "of partition %d is %lld, expected %lld", p,
		    (long long)st->next[p], (long long)e->produced[p]);
}

/*
 * A worker alone must never hand the sink a record below the sink's
 * stored offsets: the fence would hide that it started at the wrong
 * place.
 */
static void
check_unfenced(const struct env *e, const struct state *st)
{
	expect(e, st->fenced == 0, "the sink's fence skipped %zu records: "
	    "the worker handed it records below its stored offsets",
	    st->fenced);
}

static void
worker_done(struct ks_worker *w, int failed, void *arg)
{
	struct run *r = arg;

	(void)w;
	if (failed)
		atomic_store(&r->failed, 1);
	atomic_fetch_add(&r->ended, 1);
}

/*
 * The INI file of one case: a [connector c] of the scripted sink on topic
 * t, with small session timeouts so that rebalances are quick on the
 * mock cluster, and `extra` lines appended to the connector.  (With
 * librdkafka 2.0.2, session.timeout.ms = 2000 leaves the mock group
 * never formed; 3000 works.)
 */
static void
make_ini(const struct env *e, char *buf, size_t len, const char *extra)
{
	const char *debug = getenv("TEST_KAFKA_DEBUG");
	int n;

	n = snprintf(buf, len,
	    "[worker]\n"
	    "plugin.dir = %s\n"
	    "log.level = %s\n"
	    "[kafka]\n"
	    "bootstrap.servers = %s\n"
	    "session.timeout.ms = 3000\n"
	    "heartbeat.interval.ms = 300\n"
	    "partition.assignment.strategy = %s\n"
	    "%s%s\n"
	    "[connector c]\n"
	    "type = scripted\n"
	    "topics = " TOPIC "\n"
	    "batch.max.records = 200\n"
	    "batch.max.ms = 50\n"
	    "scripted.state = %s\n"
	    "%s",
	    fixdir, debug != NULL ? "debug" : "info", e->bootstraps,
	    e->strategy, debug != NULL ? "debug = " : "log_level = 3",
	    debug != NULL ? debug : "", e->state, extra ? extra : "");
	assert_true(n > 0 && (size_t)n < len);
}

static void
run_init(struct run *r)
{
	memset(r, 0, sizeof(*r));
	atomic_init(&r->ended, 0);
	atomic_init(&r->failed, 0);
}

/* Parses ini and loads its connectors, as one more daemon would. */
static void
run_add(struct run *r, const char *ini)
{
	struct ks_worker **ws = NULL;
	struct ks_conf *conf;
	size_t n = 0, i;
	FILE *fp;

	assert_true(r->nconf < MAXW);
	fp = fmemopen((void *)ini, strlen(ini), "r");
	assert_non_null(fp);
	conf = ks_conf_parse_fp(fp, "worker.ini", &r->errs);
	fclose(fp);
	r->conf[r->nconf++] = conf;
	if (r->errs.count == 0)
		(void)ks_worker_load_all(conf, &r->errs, &ws, &n);
	if (r->errs.count > 0) {
		ks_errors_print(&r->errs, stdout);
		fail_msg("configuration refused:\n%s", ini);
	}
	assert_true(n >= 1 && r->n + n <= MAXW);
	for (i = 0; i < n; i++)
		r->ws[r->n++] = ws[i];
	free(ws);
}

/* Opens and starts every connector loaded. */
static void
run_go(struct env *e, struct run *r)
{
	char err[1024];
	size_t i;
	int cfg;

	for (i = 0; i < r->n; i++) {
		if (ks_worker_open(r->ws[i], &cfg, err, sizeof(err)) == -1)
			fail_msg("%s", err);
	}
	e->running = r;
	capture_start(e);
	for (i = 0; i < r->n; i++)
		if (ks_worker_start(r->ws[i], worker_done, r) == -1) {
			r->n = i;
			capture_stop(e);
			fail_msg("cannot start a connector thread");
		}
}

/* Parses, loads, opens and starts every connector of ini. */
static void
run_start(struct env *e, struct run *r, const char *ini)
{
	run_init(r);
	run_add(r, ini);
	run_go(e, r);
}

/*
 * Waits until the sink holds `records` records, or, with records < 0,
 * until a connector ends; then waits `settle_ms` more.  Returns 0, or -1
 * on timeout.
 */
static int
run_wait(struct env *e, struct run *r, int64_t records, int64_t timeout_ms,
    int64_t settle_ms)
{
	int64_t deadline = ks_util_now_ms() + timeout_ms;

	for (;;) {
		if (records < 0 && atomic_load(&r->ended) > 0)
			break;
		if (records >= 0 && (int64_t)state_count(e) >= records)
			break;
		if (records >= 0 && atomic_load(&r->ended) > 0)
			break;
		if (ks_util_now_ms() > deadline)
			return -1;
		ks_util_sleep_ms(50);
	}
	ks_util_sleep_ms(settle_ms);
	return 0;
}

/* Stops and joins every connector, keeping their results and stats. */
static void
run_stop(struct env *e, struct run *r)
{
	size_t i;

	e->running = NULL;
	for (i = 0; i < r->n; i++)
		ks_worker_stop(r->ws[i]);
	for (i = 0; i < r->n; i++) {
		r->rc[i] = ks_worker_join(r->ws[i]);
		ks_worker_get_stats(r->ws[i], &r->stats[i]);
	}
	capture_stop(e);
	for (i = 0; i < r->n; i++)
		ks_worker_free(r->ws[i]);
	for (i = 0; i < r->nconf; i++)
		ks_conf_free(r->conf[i]);
	ks_errors_free(&r->errs);
}

/* Runs ini until the sink holds `records` records; expects no failure. */
static void
run_ok(struct env *e, struct run *r, const char *ini, int64_t records)
{
	int waited;

	run_start(e, r, ini);
	waited = run_wait(e, r, records, 30000, 300);
	run_stop(e, r);
	expect(e, waited == 0, "the sink got %zu of %lld records in 30 s",
	    state_count(e), (long long)records);
	expect(e, r->rc[0] == 0 && !atomic_load(&r->failed), "the connector "
	    "failed");
}

/* Runs ini until the connector ends on its own; expects a failure. */
static void
run_fail(struct env *e, struct run *r, const char *ini)
{
	int waited;

	run_start(e, r, ini);
	waited = run_wait(e, r, -1, 30000, 0);
	run_stop(e, r);
	expect(e, waited == 0, "the connector did not fail within 30 s");
	expect(e, r->rc[0] == -1 && atomic_load(&r->failed), "the connector "
	    "ended but not as failed");
}

/* ---- cases ---- */

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
static const int64_t sink_stored[NPART] = { 100, 250, -1 };
static const int64_t sink_from[NPART] = { 100, 250, 0 };

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

/* POISON with errors.tolerance = none: fails, naming the record. */
static void
test_poison_none(void **state)
{
	struct env *e = *state;
	struct state st;
	struct run r;
	char ini[4096];
	size_t i;

	produce_all(e, 300);
	make_ini(e, ini, sizeof(ini),
	    "scripted.poison.value = v-1-137\n");
	run_fail(e, &r, ini);
	state_read(e, &st);
	for (i = 0; i < st.n; i++)
		expect(e, st.recs[i].partition != 1 || st.recs[i].offset < 137,
		    "t/1@%lld applied past the poison record",
		    (long long)st.recs[i].offset);
	expect(e, st.next[1] <= 137, "offset of t/1 stored past the poison "
	    "record: %lld", (long long)st.next[1]);
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

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define CASE_WITH(f, strategy) \
	cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, \
	    (void *)(strategy))

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
		CASE(test_retry_then_ok),
		CASE_WITH(test_rebalance_during_retry, eager),
		CASE_WITH(test_rebalance_during_retry, cooperative),
		CASE(test_pending_keeps_polling),
		CASE_WITH(test_rebalance_while_pending, eager),
		CASE_WITH(test_rebalance_while_pending, cooperative),
		CASE_WITH(test_stop_while_pending, eager),
		CASE_WITH(test_stop_while_pending, cooperative),
		CASE(test_retry_timeout),
		CASE(test_retry_progress),
		CASE(test_retry_progress_bounded),
		CASE(test_load_offsets_retry),
		CASE(test_load_offsets_fatal),
		CASE(test_poison_none),
		CASE(test_poison_all),
		CASE(test_fatal),
		CASE_WITH(test_two_workers, eager),
		CASE_WITH(test_two_workers, cooperative),
	};
	const char *d = getenv("KSINK_FIXTURE_DIR");

	if (d == NULL || *d == '\0') {
		fprintf(stderr, "test_worker: KSINK_FIXTURE_DIR is not set; run "
		    "through make check\n");
		return 99;
	}
	snprintf(fixdir, sizeof(fixdir), "%s", d);
	/* TEST_ONLY=test_fatal runs one case. */
	if (getenv("TEST_ONLY") != NULL)
		cmocka_set_test_filter(getenv("TEST_ONLY"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
