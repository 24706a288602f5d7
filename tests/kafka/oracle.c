/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/kafka/oracle.c - the reference reading of a topic for the
 * end-to-end tests: every committed record, read with
 * isolation.level=read_committed.
 *
 * usage: oracle -b BOOTSTRAP -t TOPIC [-v] [-w SECONDS] [-U]
 *        oracle -b BOOTSTRAP -L
 *
 * Assigns every partition of TOPIC from the beginning (no consumer group
 * is joined and no offset is committed), reads each partition up to its
 * end as a read_committed consumer sees it (the last stable offset) and
 * prints one line per record, in partition then offset order:
 *	PARTITION<TAB>OFFSET<TAB>KEY<TAB>VALUE
 * A null key or value is printed as "-".  Keys and values are printed as
 * they are: the output is only unambiguous for keys and values without
 * tab or newline characters, which holds for what tests/kafka/txproducer
 * writes.  With -v only the values are printed, one per line.
 *
 * -w sets how long to wait for the ends of all partitions (default 120 s;
 * the program fails when they are not reached).  -U reads with
 * isolation.level=read_uncommitted instead, only to check that the
 * test harness itself can tell the difference.
 *
 * -L lists the broker's topics, one per line; tests use it to see whether
 * a broker answers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

static const char *progname = "oracle";

struct rec {
	int64_t offset;
	char *key;	/* NULL when the key is null */
	size_t key_len;
	char *value;	/* NULL when the value is null */
	size_t value_len;
};

struct part {
	struct rec *recs;
	size_t n, cap;
	int eof;
};

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
	    "usage: %s -b BOOTSTRAP -t TOPIC [-v] [-w SECONDS] [-U]\n"
	    "       %s -b BOOTSTRAP -L\n", progname, progname);
	exit(2);
}

static void *
xmemdup(const void *p, size_t n)
{
	char *q;

	if (p == NULL)
		return NULL;
	if ((q = malloc(n + 1)) == NULL)
		die("out of memory");
	memcpy(q, p, n);
	q[n] = '\0';
	return q;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_rec(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void
put_field(const char *p, size_t n)
{
	if (p == NULL)
		fputc('-', stdout);
	else
		fwrite(p, 1, n, stdout);
}

static rd_kafka_t *
make_consumer(const char *bootstrap, int uncommitted)
{
	rd_kafka_conf_t *conf;
	rd_kafka_t *rk;
	char errstr[512], group[64];

	conf = rd_kafka_conf_new();
	/* A group id is required by the consumer API but never joined:
	 * partitions are assigned explicitly. */
	snprintf(group, sizeof(group), "ksink-oracle-%ld", (long)getpid());
#define SET(k, v) \
	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != \
	    RD_KAFKA_CONF_OK) \
		die("%s: %s", k, errstr)
	SET("bootstrap.servers", bootstrap);
	SET("group.id", group);
	SET("client.id", "ksink-oracle");
	SET("enable.auto.commit", "false");
	SET("enable.auto.offset.store", "false");
	SET("enable.partition.eof", "true");
	SET("auto.offset.reset", "earliest");
	SET("isolation.level", uncommitted ? "read_uncommitted" :
	    "read_committed");
#undef SET
	rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
	if (rk == NULL)
		die("cannot create the consumer: %s", errstr);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

static int
list_topics(rd_kafka_t *rk)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_resp_err_t err;
	int i;

	err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		die("metadata: %s", rd_kafka_err2str(err));
	for (i = 0; i < md->topic_cnt; i++)
		printf("%s\n", md->topics[i].topic);
	rd_kafka_metadata_destroy(md);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *bootstrap = NULL, *topic = NULL;
	int values_only = 0, list = 0, uncommitted = 0, c, i, nparts;
	long wait_s = 120;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	rd_kafka_topic_partition_list_t *tpl;
	const struct rd_kafka_metadata *md;
	rd_kafka_message_t *m;
	rd_kafka_resp_err_t err;
	struct part *parts;
	struct rec *r;
	double deadline;
	int eofs = 0;
	size_t j, total = 0;
	char *end;

	while ((c = getopt(argc, argv, "b:Lt:Uvw:")) != -1) {
		switch (c) {
		case 'b':
			bootstrap = optarg;
			break;
		case 'L':
			list = 1;
			break;
		case 't':
			topic = optarg;
			break;
		case 'U':
			uncommitted = 1;
			break;
		case 'v':
			values_only = 1;
			break;
		case 'w':
			errno = 0;
			wait_s = strtol(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || wait_s <= 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc || bootstrap == NULL || (topic == NULL && !list))
		usage();

	rk = make_consumer(bootstrap, uncommitted);
	if (list) {
		list_topics(rk);
		rd_kafka_destroy(rk);
		return 0;
	}

	rkt = rd_kafka_topic_new(rk, topic, NULL);
	err = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		die("metadata for %s: %s", topic, rd_kafka_err2str(err));
	if (md->topic_cnt != 1 || md->topics[0].err != 0)
		die("topic %s: %s", topic, md->topic_cnt != 1 ? "not found" :
		    rd_kafka_err2str(md->topics[0].err));
	nparts = md->topics[0].partition_cnt;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	if (nparts <= 0)
		die("topic %s has no partitions", topic);

	if ((parts = calloc((size_t)nparts, sizeof(*parts))) == NULL)
		die("out of memory");
	tpl = rd_kafka_topic_partition_list_new(nparts);
	for (i = 0; i < nparts; i++)
		rd_kafka_topic_partition_list_add(tpl, topic, i)->offset =
		    RD_KAFKA_OFFSET_BEGINNING;
	err = rd_kafka_assign(rk, tpl);
	rd_kafka_topic_partition_list_destroy(tpl);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		die("assign %s: %s", topic, rd_kafka_err2str(err));

	deadline = now() + (double)wait_s;
	while (eofs < nparts) {
		if (now() > deadline) {
			for (i = 0; i < nparts; i++)
				if (!parts[i].eof)
					fprintf(stderr, "%s: %s [%d]: end not "
					    "reached, %zu records read\n",
					    progname, topic, i, parts[i].n);
			die("topic %s: ends of all partitions not reached "
			    "within %ld s", topic, wait_s);
		}
		m = rd_kafka_consumer_poll(rk, 500);
		if (m == NULL)
			continue;
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			if (m->partition >= 0 && m->partition < nparts &&
			    !parts[m->partition].eof) {
				parts[m->partition].eof = 1;
				eofs++;
			}
		} else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			die("%s [%" PRId32 "]: %s", topic, m->partition,
			    rd_kafka_message_errstr(m));
		} else {
			struct part *p;

			if (m->partition < 0 || m->partition >= nparts)
				die("%s: record from unexpected partition "
				    "%" PRId32, topic, m->partition);
			p = &parts[m->partition];
			if (p->n == p->cap) {
				p->cap = p->cap ? p->cap * 2 : 1024;
				p->recs = realloc(p->recs,
				    p->cap * sizeof(*p->recs));
				if (p->recs == NULL)
					die("out of memory");
			}
			r = &p->recs[p->n++];
			r->offset = m->offset;
			r->key = xmemdup(m->key, m->key_len);
			r->key_len = m->key_len;
			r->value = xmemdup(m->payload, m->len);
			r->value_len = m->len;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);

	for (i = 0; i < nparts; i++) {
		qsort(parts[i].recs, parts[i].n, sizeof(struct rec), cmp_rec);
		for (j = 0; j < parts[i].n; j++) {
			r = &parts[i].recs[j];
			if (!values_only) {
				printf("%d\t%" PRId64 "\t", i, r->offset);
				put_field(r->key, r->key_len);
				fputc('\t', stdout);
			}
			put_field(r->value, r->value_len);
			fputc('\n', stdout);
			total++;
		}
	}
	if (fflush(stdout) != 0 || ferror(stdout))
		die("write error on standard output");
	fprintf(stderr, "%s: topic %s: %zu records in %d partitions (%s)\n",
	    progname, topic, total, nparts,
	    uncommitted ? "read_uncommitted" : "read_committed");
	return 0;
}
