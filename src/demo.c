/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * demo.c - `ksink demo`: ksink end to end with nothing installed but ksink.
 *
 * Starts librdkafka's in-process mock cluster, writes sample payments to a
 * topic in transactions, and runs the SQLite connector with a balance
 * ledger statement, stopping and restarting it a few times mid-stream.
 * Every payment changes a balance, so a payment applied twice or lost
 * would show; at the end the balances are compared with the sums of what
 * was produced.
 *
 * The mock cluster does not implement read_committed (it would hand out
 * records of aborted transactions), so the demo commits every
 * transaction; ksink's tests use a real broker for that.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sqlite3.h>

#include "conf.h"
#include "demo.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define TOPIC "payments"
#define PARTITIONS 3
#define USERS 8
#define ROUNDS 4
#define PER_ROUND 20000
#define TXN_SIZE 250

static const char *const users[USERS] = {
	"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"
};

static int
produce_round(rd_kafka_t *p, int round, int64_t *sums, char *err, size_t len)
{
	rd_kafka_error_t *e;
	char val[128], key[16];
	int i, u, amount, n;
	uint64_t r;

	for (i = 0; i < PER_ROUND; i++) {
		if (i % TXN_SIZE == 0 &&
		    (e = rd_kafka_begin_transaction(p)) != NULL)
			goto txn_error;
		r = ks_util_rand64();
		u = (int)(r % USERS);
		amount = (int)((r >> 8) % 2001) - 1000;
		sums[u] += amount;
		n = snprintf(val, sizeof(val), "{\"id\":\"%d-%d\",\"user\":\"%s\","
		    "\"amount\":%d}", round, i, users[u], amount);
		snprintf(key, sizeof(key), "%s", users[u]);
		while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC),
		    RD_KAFKA_V_KEY(key, strlen(key)),
		    RD_KAFKA_V_VALUE(val, (size_t)n),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(p, 10);
		if ((i + 1) % TXN_SIZE == 0 || i + 1 == PER_ROUND) {
			if ((e = rd_kafka_commit_transaction(p, 30000)) !=
			    NULL)
				goto txn_error;
		}
	}
	return 0;
txn_error:
	ks_util_errf(err, len, "transaction: %s", rd_kafka_error_string(e));
	rd_kafka_error_destroy(e);
	return -1;
}

static int
write_config(const char *path, const char *bootstraps, const char *db)
{
	FILE *fp;

	if ((fp = fopen(path, "w")) == NULL)
		return -1;
	fprintf(fp,
	    "; written by ksink demo: the connector it runs\n"
	    "[worker]\n"
	    "log.level = warn\n"
	    "\n"
	    "[kafka]\n"
	    "bootstrap.servers = %s\n"
	    "\n"
	    "[connector balances]\n"
	    "type = sqlite\n"
	    "topics = " TOPIC "\n"
	    "batch.max.records = 1000\n"
	    "kafka.session.timeout.ms = 6000\n"
	    "sqlite.path = %s\n"
	    "sqlite.synchronous = normal\n"
	    "sqlite.init = CREATE TABLE IF NOT EXISTS balances(\n"
	    "        user TEXT PRIMARY KEY, amount INTEGER NOT NULL)\n"
	    "sqlite.statement = INSERT INTO balances(user, amount)\n"
	    "        VALUES (json_extract(:value, '$.user'),\n"
	    "                json_extract(:value, '$.amount'))\n"
	    "        ON CONFLICT(user) DO UPDATE\n"
	    "        SET amount = amount + excluded.amount\n",
	    bootstraps, db);
	return fclose(fp);
}

static int
check_balances(const char *db, const int64_t *sums)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int i, bad = 0;
	int64_t got;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(h, "SELECT amount FROM balances WHERE user = ?",
	    -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "demo: cannot read %s: %s\n", db,
		    sqlite3_errmsg(h));
		sqlite3_close(h);
		return -1;
	}
	printf("\n  %-8s %12s %12s\n", "user", "produced", "in SQLite");
	for (i = 0; i < USERS; i++) {
		sqlite3_bind_text(st, 1, users[i], -1, SQLITE_STATIC);
		got = sqlite3_step(st) == SQLITE_ROW ?
		    sqlite3_column_int64(st, 0) : 0;
		sqlite3_reset(st);
		printf("  %-8s %12lld %12lld%s\n", users[i],
		    (long long)sums[i], (long long)got,
		    got == sums[i] ? "" : "  MISMATCH");
		bad += got != sums[i];
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return bad ? -1 : 0;
}

/*
 * One run of the connector, stopped once *total (records applied by all
 * runs so far) reaches until.  Offsets cannot tell: transaction markers
 * take offsets too.
 */
static int
run_once(const char *cfg, int64_t until, int64_t *total, int64_t *applied)
{
	struct ks_errors errs = { 0 };
	struct ks_worker **ws = NULL;
	struct ks_worker_stats st;
	struct ks_conf *conf;
	size_t n = 0, i;
	int cfgerr, rc = -1;
	int64_t deadline = ks_util_now_ms() + 60000;
	char err[2048];

	conf = ks_conf_parse_file(cfg, &errs);
	if (conf == NULL || ks_worker_load_all(conf, &errs, &ws, &n) == -1) {
		ks_errors_print(&errs, stderr);
		goto out;
	}
	if (ks_worker_open(ws[0], &cfgerr, err, sizeof(err)) == -1) {
		fprintf(stderr, "demo: %s\n", err);
		goto out;
	}
	if (ks_worker_start(ws[0], NULL, NULL) == -1)
		goto out;
	do {
		ks_util_sleep_ms(20);
		ks_worker_get_stats(ws[0], &st);
	} while (*total + (int64_t)st.records < until &&
	    ks_util_now_ms() < deadline);
	ks_worker_stop(ws[0]);
	rc = ks_worker_join(ws[0]);
	ks_worker_get_stats(ws[0], &st);
	*applied = (int64_t)st.records;
	*total += *applied;
	if (ks_util_now_ms() >= deadline) {
		fprintf(stderr, "demo: the connector made no progress in 60 "
		    "s\n");
		rc = -1;
	}
out:
	for (i = 0; i < n; i++)
		ks_worker_free(ws[i]);
	free(ws);
	ks_conf_free(conf);
	ks_errors_free(&errs);
	return rc;
}

int
ks_demo_main(int argc, char **argv)
{
	char dirbuf[] = "/tmp/ksink-demo.XXXXXX", db[4096], cfg[4096];
	char err[512];
	const char *dir = NULL, *bootstraps;
	int64_t sums[USERS] = { 0 }, produced = 0, applied, total = 0;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *pc;
	rd_kafka_t *mrk, *p;
	rd_kafka_error_t *e;
	int ch, round, rc = 1;

	while ((ch = getopt(argc, argv, "d:")) != -1) {
		if (ch != 'd') {
			fprintf(stderr, "usage: ksink demo [-d DIR]\n");
			return 64;
		}
		dir = optarg;
	}
	if (dir == NULL && (dir = mkdtemp(dirbuf)) == NULL) {
		fprintf(stderr, "demo: mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		fprintf(stderr, "demo: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(db, sizeof(db), "%s/balances.db", dir);
	snprintf(cfg, sizeof(cfg), "%s/demo.ini", dir);
	unlink(db);
	ks_log_set_level(KSINK_LOG_WARN);
	signal(SIGPIPE, SIG_IGN);

	/* The mock cluster lives in a client instance of its own. */
	pc = rd_kafka_conf_new();
	rd_kafka_conf_set(pc, "log_level", "3", NULL, 0);
	if ((mrk = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "demo: %s\n", err);
		return 1;
	}
	mc = rd_kafka_mock_cluster_new(mrk, 1);
	bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	rd_kafka_mock_topic_create(mc, TOPIC, PARTITIONS, 1);
	if (write_config(cfg, bootstraps, db) == -1) {
		fprintf(stderr, "demo: %s: %s\n", cfg, strerror(errno));
		goto out_mock;
	}

	pc = rd_kafka_conf_new();
	rd_kafka_conf_set(pc, "bootstrap.servers", bootstraps, NULL, 0);
	rd_kafka_conf_set(pc, "transactional.id", "ksink-demo", NULL, 0);
	rd_kafka_conf_set(pc, "log_level", "3", NULL, 0);
	if ((p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "demo: %s\n", err);
		goto out_mock;
	}
	if ((e = rd_kafka_init_transactions(p, 30000)) != NULL) {
		fprintf(stderr, "demo: %s\n", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
		goto out_producer;
	}

	printf("ksink demo: a mock Kafka cluster at %s, topic \"%s\" with "
	    "%d partitions,\nthe SQLite sink applying payments to a balance "
	    "ledger in %s.\n\n", bootstraps, TOPIC, PARTITIONS, db);
	for (round = 1; round <= ROUNDS; round++) {
		if (produce_round(p, round, sums, err, sizeof(err)) == -1) {
			fprintf(stderr, "demo: %s\n", err);
			goto out_producer;
		}
		produced += PER_ROUND;
		/* Stop mid-stream, except in the last round. */
		if (run_once(cfg, round < ROUNDS ? produced - PER_ROUND / 3 :
		    produced, &total, &applied) == -1)
			goto out_producer;
		printf("run %d: %d more payments produced; ksink started from "
		    "the offsets in SQLite,\n       applied %lld and was %s "
		    "(%lld of %lld applied so far)\n", round, PER_ROUND,
		    (long long)applied, round < ROUNDS ?
		    "stopped mid-stream" : "stopped after catching up",
		    (long long)total, (long long)produced);
	}
	if (check_balances(db, sums) == 0) {
		printf("\nEvery payment was applied exactly once across %d "
		    "restarts: each balance equals\nthe sum of the payments "
		    "produced for that user.\n", ROUNDS - 1);
		rc = 0;
	} else
		printf("\nThe balances differ from the payments produced.\n");
	printf("\nLook at the result:\n  sqlite3 %s 'SELECT * FROM balances; "
	    "SELECT * FROM ksink_offsets'\nThe connector's configuration: "
	    "%s\n", db, cfg);
out_producer:
	rd_kafka_destroy(p);
out_mock:
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mrk);
	return rc;
}
