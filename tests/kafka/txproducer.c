/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/kafka/txproducer.c - a transactional producer for the end-to-end
 * tests: writes records in transactions of random size and aborts some of
 * them, so that a read_committed reader must skip the aborted ones.
 *
 * usage: txproducer -b BOOTSTRAP -t TOPIC -n RECORDS [-p PARTITIONS]
 *            [-a ABORT_PERCENT] [-m MAX_TXN_RECORDS] [-s SEED]
 *            [-r RATE_PER_SEC] [-u USERS] [-T TXN_TIMEOUT_MS] [-z BYTES]
 *            [-k] [-K] [-R]
 *        txproducer -I -b BOOTSTRAP -t TOPIC -n RECORDS [-r RATE_PER_SEC] ...
 *        txproducer -H -b BOOTSTRAP -t TOPIC [-n RECORDS] ...
 *
 * The topic is created (replication factor 1, PARTITIONS partitions,
 * default 3) unless it exists.  RECORDS records in total (committed and
 * aborted) are spread over all partitions at random, in transactions of
 * 1..MAX_TXN_RECORDS records (default 200); about ABORT_PERCENT % of the
 * transactions (default 33) are aborted after their records reached the
 * broker.  A record's key is its user, its value
 *	{"id":"SEED-SEQ","user":"uK","amount":N}
 * where SEQ counts every record from 0, K is in 0..USERS-1 (default 50)
 * and N is a non-zero integer in -10..10, so an applied duplicate changes a
 * balance.  Values contain no tab nor newline.  -k adds the headers
 * "trace" (SEQ) and "source" (txproducer).  -r limits the rate in records
 * per second (0, the default, means unlimited).  -T sets the producer's
 * transaction.timeout.ms.  -K puts every record of user uK in partition
 * K modulo the partition count, as a producer that partitions by key
 * would, so that the last value of a key is that of one partition.
 *
 * -z pads every value to BYTES bytes (for benchmarks) with one more field,
 *	{"id":"SEED-SEQ","user":"uK","amount":N,"pad":"xxx..."}
 * whose string of 'x' makes the value exactly BYTES long; a value that
 * is already too long for the field to fit is left as it is.
 *
 * The committed and aborted counts are printed to stderr at the end; they
 * are informational: tests compare the sink with tests/kafka/oracle, a
 * read_committed reading of the topic, never with these counts.
 *
 * Any error makes the program exit 1.  With -R (resilient, for tests that
 * break the broker on purpose) a transaction that fails is aborted and
 * counted as aborted, retriable errors are retried, and only fatal errors
 * stop the program.
 *
 * -I (idempotent) writes without transactions, with an idempotent producer
 * (enable.idempotence, acks=all): every record is committed as soon as the
 * broker has it, so a read_committed reader sees it without waiting for
 * a transaction's end (-a and -m do not apply).  With -r its pace is
 * steady: a record is handed to librdkafka when its turn comes (sleeping
 * only when more than 2 ms ahead), and librdkafka stamps it with that
 * time (CreateTime), which tests/bench/bench_latency.py reads as the
 * produce time.
 *
 * -H (hang) opens one transaction, produces RECORDS records (default 5),
 * waits until the broker has them, prints "open" on stdout and then sleeps
 * until killed, leaving the transaction open.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define TXN_CALL_TIMEOUT_MS 60000

static const char *progname = "txproducer";

struct opts {
	const char *bootstrap;
	const char *topic;
	int partitions;
	long records;
	int abort_pct;
	long max_txn;
	unsigned long seed;
	long rate;
	int users;
	int headers;
	int keyed;		/* -K: the partition count, or 0 */
	int hang;
	int idempotent;		/* -I: no transactions */
	int resilient;
	long txn_timeout_ms;
	long pad;
};

static struct opts o = {
	.partitions = 3,
	.records = -1,
	.abort_pct = 33,
	.max_txn = 200,
	.users = 50,
	.txn_timeout_ms = -1,
};

static long dr_failed;
static rd_kafka_resp_err_t dr_first_err;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: %s -b BOOTSTRAP -t TOPIC -n RECORDS [-p PARTITIONS]"
	    " [-a ABORT_PERCENT]\n"
	    "           [-m MAX_TXN_RECORDS] [-s SEED] [-r RATE_PER_SEC]"
	    " [-u USERS]\n"
	    "           [-T TXN_TIMEOUT_MS] [-z BYTES] [-k] [-K] [-R] [-H]"
	    " [-I]\n",
	    progname);
	exit(2);
}

static long
num_arg(int opt, const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max)
		die("-%c: expected an integer in [%ld, %ld], got '%s'",
		    opt, min, max, s);
	return v;
}

/* xorshift64*: reproducible for a given seed, independent of libc. */
static uint64_t rng_state;

static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return;
	if (dr_failed++ == 0)
		dr_first_err = m->err;
}

static rd_kafka_t *
make_producer(void)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char errstr[512], txnid[512], buf[32];

	conf = rd_kafka_conf_new();
	snprintf(txnid, sizeof(txnid), "ksink-txproducer-%s-%ld",
	    o.topic, (long)getpid());
#define SET(k, v) \
	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != \
	    RD_KAFKA_CONF_OK) \
		die("%s: %s", k, errstr)
	SET("bootstrap.servers", o.bootstrap);
	if (o.idempotent) {
		SET("enable.idempotence", "true");
	} else {
		SET("transactional.id", txnid);
	}
	SET("linger.ms", "5");
	SET("client.id", "ksink-txproducer");
	if (o.txn_timeout_ms > 0) {
		snprintf(buf, sizeof(buf), "%ld", o.txn_timeout_ms);
		SET("transaction.timeout.ms", buf);
	}
#undef SET
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		die("cannot create the producer: %s", errstr);
	return rk;
}

/* Create the topic unless it exists, then wait until its metadata shows
 * and return its partition count. */
static int
ensure_topic(rd_kafka_t *rk)
{
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tres;
	rd_kafka_topic_t *rkt;
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	char errstr[512];
	size_t n;
	double deadline;
	int parts;

	nt = rd_kafka_NewTopic_new(o.topic, o.partitions, 1, errstr,
	    sizeof(errstr));
	if (nt == NULL)
		die("topic %s: %s", o.topic, errstr);
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 60000);
	if (ev == NULL)
		die("topic %s: no answer to CreateTopics within 60 s", o.topic);
	if (rd_kafka_event_error(ev))
		die("topic %s: CreateTopics: %s", o.topic,
		    rd_kafka_event_error_string(ev));
	res = rd_kafka_event_CreateTopics_result(ev);
	tres = rd_kafka_CreateTopics_result_topics(res, &n);
	if (n != 1)
		die("topic %s: CreateTopics returned %zu results", o.topic, n);
	err = rd_kafka_topic_result_error(tres[0]);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		die("topic %s: cannot create it: %s", o.topic,
		    rd_kafka_topic_result_error_string(tres[0]) ?
		    rd_kafka_topic_result_error_string(tres[0]) :
		    rd_kafka_err2str(err));
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);

	rkt = rd_kafka_topic_new(rk, o.topic, NULL);
	deadline = now() + 60;
	for (;;) {
		err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			if (md->topic_cnt == 1 && md->topics[0].err == 0 &&
			    md->topics[0].partition_cnt > 0) {
				parts = md->topics[0].partition_cnt;
				rd_kafka_metadata_destroy(md);
				break;
			}
			rd_kafka_metadata_destroy(md);
		}
		if (now() > deadline)
			die("topic %s: no metadata within 60 s", o.topic);
		usleep(100000);
	}
	rd_kafka_topic_destroy(rkt);
	return parts;
}

/*
 * Handle an error from a transactional call.  Returns 1 when the caller
 * should retry the call, 0 when the transaction must be aborted; exits
 * on a fatal error and, unless -R, on any error.
 */
static int
txn_error(const char *what, rd_kafka_error_t *error)
{
	int retry;

	fprintf(stderr, "%s: %s: %s\n", progname, what,
	    rd_kafka_error_string(error));
	if (rd_kafka_error_is_fatal(error) || !o.resilient) {
		rd_kafka_error_destroy(error);
		exit(1);
	}
	retry = rd_kafka_error_is_retriable(error);
	if (!retry && !rd_kafka_error_txn_requires_abort(error)) {
		rd_kafka_error_destroy(error);
		exit(1);
	}
	rd_kafka_error_destroy(error);
	if (retry)
		usleep(200000);
	return retry;
}

static void
abort_txn(rd_kafka_t *rk)
{
	rd_kafka_error_t *error;

	while ((error = rd_kafka_abort_transaction(rk,
	    TXN_CALL_TIMEOUT_MS)) != NULL) {
		if (!txn_error("abort_transaction", error)) {
			/* An abort that itself needs an abort: give up. */
			die("abort_transaction cannot complete");
		}
	}
}

/* Produce one record of the current transaction.  Returns 0, or -1 when
 * the transaction is in an error state (only with -R). */
static int
produce_one(rd_kafka_t *rk, int partition, long seq)
{
	static char *value;
	static size_t value_cap;
	char key[32], trace[32];
	rd_kafka_resp_err_t err;
	int user, amount, len;
	size_t need = o.pad > 128 ? (size_t)o.pad + 1 : 128;

	user = (int)(rng() % (uint64_t)o.users);
	amount = (int)(rng() % 20) - 10;
	if (amount >= 0)
		amount++;
	snprintf(key, sizeof(key), "u%d", user);
	if (o.keyed > 0)
		partition = user % o.keyed;
	if (value_cap < need) {
		if ((value = realloc(value, need)) == NULL)
			die("out of memory");
		value_cap = need;
	}
	len = snprintf(value, value_cap,
	    "{\"id\":\"%lu-%ld\",\"user\":\"%s\",\"amount\":%d}",
	    o.seed, seq, key, amount);
	/* ,"pad":"" is 9 bytes: pad only when the field fits. */
	if (o.pad > 0 && len + 9 <= o.pad) {
		len--;		/* over the closing brace */
		len += snprintf(value + len, value_cap - len, ",\"pad\":\"");
		memset(value + len, 'x', (size_t)(o.pad - len - 2));
		len = (int)o.pad - 2;
		memcpy(value + len, "\"}", 3);
	}
	snprintf(trace, sizeof(trace), "%ld", seq);
	for (;;) {
		if (o.headers)
			err = rd_kafka_producev(rk,
			    RD_KAFKA_V_TOPIC(o.topic),
			    RD_KAFKA_V_PARTITION(partition),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_KEY(key, strlen(key)),
			    RD_KAFKA_V_VALUE(value, strlen(value)),
			    RD_KAFKA_V_HEADER("trace", trace, -1),
			    RD_KAFKA_V_HEADER("source", "txproducer", -1),
			    RD_KAFKA_V_END);
		else
			err = rd_kafka_producev(rk,
			    RD_KAFKA_V_TOPIC(o.topic),
			    RD_KAFKA_V_PARTITION(partition),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_KEY(key, strlen(key)),
			    RD_KAFKA_V_VALUE(value, strlen(value)),
			    RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
			break;
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			rd_kafka_poll(rk, 10);
			continue;
		}
		fprintf(stderr, "%s: produce to %s [%d]: %s\n", progname,
		    o.topic, partition, rd_kafka_err2str(err));
		if (!o.resilient || err != RD_KAFKA_RESP_ERR__STATE)
			exit(1);
		return -1;
	}
	rd_kafka_poll(rk, 0);
	return 0;
}

static void
init_txns(rd_kafka_t *rk)
{
	rd_kafka_error_t *error;
	int tries = 0;

	/* Retriable errors are retried even without -R: the transaction
	 * coordinator may still be loading on a broker that just started. */
	while ((error = rd_kafka_init_transactions(rk,
	    TXN_CALL_TIMEOUT_MS)) != NULL) {
		fprintf(stderr, "%s: init_transactions: %s\n", progname,
		    rd_kafka_error_string(error));
		if (!rd_kafka_error_is_retriable(error) || ++tries >= 5) {
			rd_kafka_error_destroy(error);
			exit(1);
		}
		rd_kafka_error_destroy(error);
		sleep(1);
	}
}

/* Sleeps until record seq is due at o.rate records per second from start
 * (at once without -r). */
static void
pace(double start, long seq)
{
	double ahead;

	if (o.rate <= 0)
		return;
	ahead = start + (double)seq / o.rate - now();
	if (ahead > 0.002)
		usleep((useconds_t)(ahead * 1e6));
}

/* Waits until the broker acknowledged every record; exits 1 unless it
 * did. */
static void
flush_all(rd_kafka_t *rk)
{
	rd_kafka_resp_err_t err;

	err = rd_kafka_flush(rk, TXN_CALL_TIMEOUT_MS);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		die("flush: %s", rd_kafka_err2str(err));
	if (dr_failed > 0)
		die("%ld records not delivered, first error: %s", dr_failed,
		    rd_kafka_err2str(dr_first_err));
}

/* -I: RECORDS records without transactions; exits 1 unless the broker
 * acknowledged every one. */
static void
produce_plain(rd_kafka_t *rk, int parts)
{
	double start;
	long seq;

	start = now();
	for (seq = 0; seq < o.records; seq++) {
		pace(start, seq);
		if (produce_one(rk, (int)(rng() % (uint64_t)parts), seq) != 0)
			exit(1);
	}
	flush_all(rk);
	fprintf(stderr, "%s: topic %s seed %lu: %ld records written without "
	    "transactions, %.1f s\n", progname, o.topic, o.seed, o.records,
	    now() - start);
	rd_kafka_destroy(rk);
	exit(0);
}

static void
hang(rd_kafka_t *rk, int parts)
{
	rd_kafka_error_t *error;
	long i, n;

	n = o.records < 0 ? 5 : o.records;
	if ((error = rd_kafka_begin_transaction(rk)) != NULL)
		die("begin_transaction: %s", rd_kafka_error_string(error));
	for (i = 0; i < n; i++)
		if (produce_one(rk, (int)(i % parts), i) != 0)
			exit(1);
	flush_all(rk);
	fprintf(stderr, "%s: topic %s: transaction with %ld records left "
	    "open; waiting to be killed\n", progname, o.topic, n);
	printf("open\n");
	fflush(stdout);
	for (;;)
		pause();
}

int
main(int argc, char **argv)
{
	rd_kafka_t *rk;
	rd_kafka_error_t *error;
	rd_kafka_resp_err_t err;
	long seq, size, i, committed = 0, aborted = 0;
	long txn_committed = 0, txn_aborted = 0;
	int parts, do_abort, c, seed_given = 0;
	double start;

	while ((c = getopt(argc, argv, "a:b:HIkKm:n:p:r:Rs:t:T:u:z:")) != -1) {
		switch (c) {
		case 'a':
			o.abort_pct = (int)num_arg(c, optarg, 0, 100);
			break;
		case 'b':
			o.bootstrap = optarg;
			break;
		case 'H':
			o.hang = 1;
			break;
		case 'I':
			o.idempotent = 1;
			break;
		case 'k':
			o.headers = 1;
			break;
		case 'K':
			o.keyed = 1;
			break;
		case 'm':
			o.max_txn = num_arg(c, optarg, 1, 1000000);
			break;
		case 'n':
			o.records = num_arg(c, optarg, 0, 1000000000L);
			break;
		case 'p':
			o.partitions = (int)num_arg(c, optarg, 1, 10000);
			break;
		case 'r':
			o.rate = num_arg(c, optarg, 0, 100000000L);
			break;
		case 'R':
			o.resilient = 1;
			break;
		case 's':
			o.seed = (unsigned long)num_arg(c, optarg, 0,
			    2147483647L);
			seed_given = 1;
			break;
		case 't':
			o.topic = optarg;
			break;
		case 'T':
			o.txn_timeout_ms = num_arg(c, optarg, 1000, 3600000L);
			break;
		case 'u':
			o.users = (int)num_arg(c, optarg, 1, 1000000);
			break;
		case 'z':
			o.pad = num_arg(c, optarg, 0, 100000000L);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o.bootstrap == NULL || o.topic == NULL ||
	    (o.records < 0 && !o.hang) || (o.hang && o.idempotent))
		usage();
	if (!seed_given) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		o.seed = ((unsigned long)ts.tv_sec * 1000003UL ^
		    (unsigned long)ts.tv_nsec ^
		    (unsigned long)getpid() << 16) % 2147483647UL;
	}
	rng_state = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)o.seed << 1) ^ 1;

	rk = make_producer();
	parts = ensure_topic(rk);
	if (o.keyed)
		o.keyed = parts;
	if (o.idempotent)
		produce_plain(rk, parts);
	init_txns(rk);
	if (o.hang)
		hang(rk, parts);

	start = now();
	seq = 0;
	while (seq < o.records) {
		size = 1 + (long)(rng() % (uint64_t)o.max_txn);
		if (size > o.records - seq)
			size = o.records - seq;
		do_abort = (int)(rng() % 100) < o.abort_pct;
		if ((error = rd_kafka_begin_transaction(rk)) != NULL)
			die("begin_transaction: %s",
			    rd_kafka_error_string(error));
		for (i = 0; i < size; i++, seq++) {
			pace(start, seq);
			if (produce_one(rk, (int)(rng() % (uint64_t)parts),
			    seq) != 0) {
				/* -R: the transaction failed: skip its
				 * remaining records and abort it. */
				seq += size - i;
				do_abort = 1;
				break;
			}
		}
		if (do_abort) {
			/* Let the records reach the broker first, so that the
			 * log really holds aborted records. */
			err = rd_kafka_flush(rk, TXN_CALL_TIMEOUT_MS);
			if (err != RD_KAFKA_RESP_ERR_NO_ERROR && !o.resilient)
				die("flush: %s", rd_kafka_err2str(err));
			abort_txn(rk);
			aborted += size;
			txn_aborted++;
			continue;
		}
		for (;;) {
			error = rd_kafka_commit_transaction(rk,
			    TXN_CALL_TIMEOUT_MS);
			if (error == NULL) {
				committed += size;
				txn_committed++;
				break;
			}
			if (!txn_error("commit_transaction", error)) {
				abort_txn(rk);
				aborted += size;
				txn_aborted++;
				break;
			}
		}
	}
	rd_kafka_flush(rk, TXN_CALL_TIMEOUT_MS);
	if (dr_failed > 0 && !o.resilient)
		die("%ld records not delivered, first error: %s", dr_failed,
		    rd_kafka_err2str(dr_first_err));
	fprintf(stderr, "%s: topic %s seed %lu: %ld records committed in %ld "
	    "transactions, %ld aborted in %ld transactions, %.1f s\n",
	    progname, o.topic, o.seed, committed, txn_committed, aborted,
	    txn_aborted, now() - start);
	rd_kafka_destroy(rk);
	return 0;
}
