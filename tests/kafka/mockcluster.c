/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/kafka/mockcluster.c - librdkafka's mock cluster (rdkafka_mock.h)
 * in a process of its own, for tests that inject request faults into a
 * ksink run against it.  The mock cluster does not implement
 * read_committed (it returns aborted and open transactional records):
 * never use it for what transactions do.
 *
 * usage: mockcluster -o FILE -t TOPIC [-p PARTITIONS] [-m RECORDS]
 *            [-d DELAY_MS [-s SKIP] [-n COUNT] [-w FILE]]
 *
 * Starts a one-broker cluster with TOPIC (PARTITIONS partitions, default
 * 1), produces RECORDS records of 100 bytes to it (default none; plain
 * records, no transactions), writes its bootstrap address to FILE (through
 * a temporary file, so that FILE appears complete) and runs until SIGTERM
 * or SIGINT.
 *
 * With -d, the broker answers the next SKIP (default 0) ListOffsets
 * requests at once and delays its answers to the COUNT (default 16) after
 * them by DELAY_MS milliseconds each, as a leader does that accepts
 * requests but is too busy to answer them.  -w writes to its FILE how many
 * of those SKIP + COUNT requests came so far, whenever that changes.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define API_LISTOFFSETS 2

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: mockcluster -o FILE -t TOPIC [-p PARTITIONS] "
	    "[-m RECORDS] [-d DELAY_MS [-s SKIP] [-n COUNT] [-w FILE]]\n");
	exit(2);
}

/* Writes s to path through a temporary file. */
static int
write_file(const char *path, const char *s)
{
	char tmp[4096];
	FILE *fp;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if ((fp = fopen(tmp, "w")) == NULL || fputs(s, fp) == EOF ||
	    fclose(fp) != 0 || rename(tmp, path) != 0) {
		perror(path);
		return -1;
	}
	return 0;
}

static int
produce(const char *bootstrap, const char *topic, int records)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[512], value[100];
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	int i;

	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, NULL, 0);
	rd_kafka_conf_set(conf, "linger.ms", "50", NULL, 0);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "mockcluster: %s\n", errstr);
		return -1;
	}
	memset(value, 'v', sizeof(value));
	for (i = 0; i < records; i++) {
		while ((err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
		    RD_KAFKA_V_VALUE(value, sizeof(value)),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) ==
		    RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(rk, 100);
		if (err) {
			fprintf(stderr, "mockcluster: produce: %s\n",
			    rd_kafka_err2str(err));
			rd_kafka_destroy(rk);
			return -1;
		}
	}
	err = rd_kafka_flush(rk, 60000);
	rd_kafka_destroy(rk);
	if (err)
		fprintf(stderr, "mockcluster: flush: %s\n",
		    rd_kafka_err2str(err));
	return err ? -1 : 0;
}

int
main(int argc, char **argv)
{
	const char *out = NULL, *topic = NULL, *seen = NULL;
	int partitions = 1, delay = 0, count = 16, skip = 0, records = 0;
	int c, i;
	size_t left, last = (size_t)-1;
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	char errstr[512], buf[64];

	while ((c = getopt(argc, argv, "o:t:p:m:d:s:n:w:")) != -1)
		switch (c) {
		case 'o': out = optarg; break;
		case 't': topic = optarg; break;
		case 'p': partitions = atoi(optarg); break;
		case 'm': records = atoi(optarg); break;
		case 'd': delay = atoi(optarg); break;
		case 's': skip = atoi(optarg); break;
		case 'n': count = atoi(optarg); break;
		case 'w': seen = optarg; break;
		default: usage();
		}
	if (out == NULL || topic == NULL || partitions < 1 || records < 0 ||
	    delay < 0 || skip < 0 || count < 1)
		usage();

	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);

	conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL) {
		fprintf(stderr, "mockcluster: %s\n", errstr);
		return 1;
	}
	if ((mc = rd_kafka_mock_cluster_new(rk, 1)) == NULL) {
		fprintf(stderr, "mockcluster: cannot create a mock cluster\n");
		return 1;
	}
	if ((err = rd_kafka_mock_topic_create(mc, topic, partitions, 1))) {
		fprintf(stderr, "mockcluster: topic %s: %s\n", topic,
		    rd_kafka_err2str(err));
		return 1;
	}
	if (records > 0 &&
	    produce(rd_kafka_mock_cluster_bootstraps(mc), topic, records) == -1)
		return 1;
	for (i = 0; i < skip + count && delay > 0; i++)
		if ((err = rd_kafka_mock_broker_push_request_error_rtts(mc, 1,
		    API_LISTOFFSETS, 1, RD_KAFKA_RESP_ERR_NO_ERROR,
		    i < skip ? 0 : delay))) {
			fprintf(stderr, "mockcluster: cannot delay ListOffsets: "
			    "%s\n", rd_kafka_err2str(err));
			return 1;
		}

	if (write_file(out, rd_kafka_mock_cluster_bootstraps(mc)) == -1)
		return 1;
	while (!stop) {
		usleep(100000);
		if (seen == NULL || delay == 0 ||
		    rd_kafka_mock_broker_error_stack_cnt(mc, 1, API_LISTOFFSETS,
		    &left) != RD_KAFKA_RESP_ERR_NO_ERROR || left == last)
			continue;
		last = left;
		snprintf(buf, sizeof(buf), "%d\n", skip + count - (int)left);
		if (write_file(seen, buf) == -1)
			return 1;
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
