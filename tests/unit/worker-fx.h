/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/worker-fx.h - the fixture of the worker's unit tests
 * (test_worker.c, test_worker_retry.c), run for real: librdkafka's mock
 * cluster as Kafka, the scripted test sink (tests/plugins/scripted.c) as
 * the sink, whose state file tells which records were applied, in which
 * order, and which offsets it stores.
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
 *
 * Included once by each test program, first.
 */
#ifndef KS_TEST_WORKER_FX_H
#define KS_TEST_WORKER_FX_H

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
static void __attribute__((unused))
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

/* A connector stopped at the poison record p@off: nothing of partition
 * p from it on applied, nor its offset stored. */
static void __attribute__((unused))
check_stopped_at(const struct env *e, const struct state *st, int p,
    int64_t off)
{
	size_t i;

	for (i = 0; i < st->n; i++)
		expect(e, st->recs[i].partition != p ||
		    st->recs[i].offset < off, "t/%d@%lld applied past the "
		    "poison record", p, (long long)st->recs[i].offset);
	expect(e, st->next[p] <= off, "offset of t/%d stored past the poison "
	    "record: %lld", p, (long long)st->next[p]);
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
 * mock cluster, and `extra` lines appended to the connector (the
 * default batch.max.records = 200 unless extra sets it).  (With
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
	    "%s"
	    "batch.max.ms = 50\n"
	    "scripted.state = %s\n"
	    "%s",
	    fixdir, debug != NULL ? "debug" : "info", e->bootstraps,
	    e->strategy, debug != NULL ? "debug = " : "log_level = 3",
	    debug != NULL ? debug : "",
	    extra && strstr(extra, "batch.max.records") ? "" :
	    "batch.max.records = 200\n", e->state, extra ? extra : "");
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
static void __attribute__((unused))
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

/* The offsets the scripted sink holds before a case (state_prestore()),
 * and where the worker must then start: partition 2, new to the sink, at
 * the earliest offset. */
static const int64_t sink_stored[NPART] = { 100, 250, -1 };
static const int64_t sink_from[NPART] = { 100, 250, 0 };

#define CASE(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define CASE_WITH(f, strategy) \
	cmocka_unit_test_prestate_setup_teardown(f, setup, teardown, \
	    (void *)(strategy))

/* Runs the cases of program prog, as main() does. */
static int
worker_fx_run(const char *prog, const struct CMUnitTest *tests, size_t n)
{
	const char *d = getenv("KSINK_FIXTURE_DIR");

	if (d == NULL || *d == '\0') {
		fprintf(stderr, "%s: KSINK_FIXTURE_DIR is not set; run "
		    "through make check\n", prog);
		return 99;
	}
	snprintf(fixdir, sizeof(fixdir), "%s", d);
	/* TEST_ONLY=test_fatal runs one case. */
	if (getenv("TEST_ONLY") != NULL)
		cmocka_set_test_filter(getenv("TEST_ONLY"));
	return _cmocka_run_group_tests(prog, tests, n, NULL, NULL);
}

#endif /* KS_TEST_WORKER_FX_H */
