/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/badinput/produce.c - writes exact records to partition 0 of a
 * topic, for the bad-input cases that need a broker: values that are not
 * JSON, not UTF-8, tombstones, records larger than batch.max.bytes.
 *
 * usage: produce -b BOOTSTRAP -t TOPIC [-p PARTITIONS] < SPEC
 *
 * The topic is created (replication factor 1, PARTITIONS partitions,
 * default 1) unless it exists.  Each line of SPEC is one record, written
 * in order to partition 0 with an idempotent producer, so that on a new
 * topic the n-th line (from 0) gets offset n.  A line is the record's
 * value with the escapes \\ \n \r \t \0 and \xHH; the line \N alone is a
 * null value (a tombstone).  A line may start with directives, each
 * followed by one space:
 *	@key=KEY	the record's key (same escapes; default: no key)
 *	@size=N		the value is padded to exactly N bytes by repeating
 *			'x' in place of the first "PAD" in it
 * Exit 0 when every record was acknowledged by the broker, 1 otherwise.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

static long delivered, failed;

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("produce: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk;
	(void)opaque;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
		delivered++;
	else if (failed++ == 0)
		fprintf(stderr, "produce: delivery failed: %s\n",
		    rd_kafka_err2str(m->err));
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escapes of s[0..n) in place; returns the new length. */
static size_t
unescape(char *s, size_t n, long lineno)
{
	size_t r = 0, w = 0;
	int hi, lo;

	while (r < n) {
		if (s[r] != '\\') {
			s[w++] = s[r++];
			continue;
		}
		if (r + 1 >= n)
			die("line %ld: '\\' at the end", lineno);
		switch (s[r + 1]) {
		case '\\': s[w++] = '\\'; r += 2; break;
		case 'n': s[w++] = '\n'; r += 2; break;
		case 'r': s[w++] = '\r'; r += 2; break;
		case 't': s[w++] = '\t'; r += 2; break;
		case '0': s[w++] = '\0'; r += 2; break;
		case 'x':
			if (r + 3 >= n)
				die("line %ld: short \\x escape", lineno);
			hi = hexval((unsigned char)s[r + 2]);
			lo = hexval((unsigned char)s[r + 3]);
			if (hi < 0 || lo < 0)
				die("line %ld: bad \\x escape", lineno);
			s[w++] = (char)(hi << 4 | lo);
			r += 4;
			break;
		default:
			die("line %ld: unknown escape \\%c", lineno, s[r + 1]);
		}
	}
	return w;
}

static void
ensure_topic(rd_kafka_t *rk, const char *topic, int partitions)
{
	const rd_kafka_CreateTopics_result_t *res;
	const rd_kafka_topic_result_t **tres;
	const struct rd_kafka_metadata *md;
	rd_kafka_NewTopic_t *nt;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	char errstr[512];
	time_t deadline;
	size_t n;

	nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr,
	    sizeof(errstr));
	if (nt == NULL)
		die("topic %s: %s", topic, errstr);
	q = rd_kafka_queue_new(rk);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	if ((ev = rd_kafka_queue_poll(q, 60000)) == NULL)
		die("topic %s: no answer to CreateTopics within 60 s", topic);
	if (rd_kafka_event_error(ev))
		die("topic %s: CreateTopics: %s", topic,
		    rd_kafka_event_error_string(ev));
	res = rd_kafka_event_CreateTopics_result(ev);
	tres = rd_kafka_CreateTopics_result_topics(res, &n);
	if (n != 1)
		die("topic %s: CreateTopics returned %zu results", topic, n);
	err = rd_kafka_topic_result_error(tres[0]);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR &&
	    err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
		die("topic %s: cannot create it: %s", topic,
		    rd_kafka_err2str(err));
	rd_kafka_event_destroy(ev);
	rd_kafka_queue_destroy(q);
	rd_kafka_NewTopic_destroy(nt);

	rkt = rd_kafka_topic_new(rk, topic, NULL);
	deadline = time(NULL) + 60;
	for (;;) {
		if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) ==
		    RD_KAFKA_RESP_ERR_NO_ERROR) {
			int ok = md->topic_cnt == 1 && md->topics[0].err == 0 &&
			    md->topics[0].partition_cnt > 0;

			rd_kafka_metadata_destroy(md);
			if (ok)
				break;
		}
		if (time(NULL) > deadline)
			die("topic %s: no metadata within 60 s", topic);
		usleep(100000);
	}
	rd_kafka_topic_destroy(rkt);
}

int
main(int argc, char **argv)
{
	const char *bootstrap = NULL, *topic = NULL;
	char errstr[512], *line = NULL, *p, *key, *val, *pad;
	size_t cap = 0, klen, vlen, size, fill;
	rd_kafka_conf_t *conf;
	rd_kafka_resp_err_t err;
	rd_kafka_t *rk;
	int c, partitions = 1, tomb;
	long lineno = 0, sent = 0;
	ssize_t len;

	while ((c = getopt(argc, argv, "b:p:t:")) != -1) {
		switch (c) {
		case 'b':
			bootstrap = optarg;
			break;
		case 'p':
			partitions = atoi(optarg);
			break;
		case 't':
			topic = optarg;
			break;
		default:
			die("usage: produce -b BOOTSTRAP -t TOPIC "
			    "[-p PARTITIONS] < SPEC");
		}
	}
	if (bootstrap == NULL || topic == NULL || partitions < 1)
		die("usage: produce -b BOOTSTRAP -t TOPIC [-p PARTITIONS] "
		    "< SPEC");

	conf = rd_kafka_conf_new();
#define SET(k, v) \
	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != \
	    RD_KAFKA_CONF_OK) \
		die("%s: %s", k, errstr)
	SET("bootstrap.servers", bootstrap);
	SET("enable.idempotence", "true");
	SET("message.max.bytes", "10000000");
	SET("client.id", "ksink-badinput-produce");
#undef SET
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL)
		die("cannot create the producer: %s", errstr);
	ensure_topic(rk, topic, partitions);

	while ((len = getline(&line, &cap, stdin)) != -1) {
		lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		p = line;
		key = NULL;
		klen = 0;
		size = 0;
		for (;;) {
			char *sp;

			if (strncmp(p, "@key=", 5) == 0 &&
			    (sp = strchr(p, ' ')) != NULL) {
				*sp = '\0';
				key = p + 5;
				klen = unescape(key, strlen(key), lineno);
				p = sp + 1;
			} else if (strncmp(p, "@size=", 6) == 0 &&
			    (sp = strchr(p, ' ')) != NULL) {
				*sp = '\0';
				size = strtoul(p + 6, NULL, 10);
				p = sp + 1;
			} else
				break;
		}
		tomb = strcmp(p, "\\N") == 0;
		vlen = tomb ? 0 : unescape(p, strlen(p), lineno);
		val = tomb ? NULL : p;
		if (size > 0 && !tomb) {
			pad = memmem(p, vlen, "PAD", 3);
			if (pad == NULL || size < vlen - 3)
				die("line %ld: @size needs PAD in a shorter "
				    "value", lineno);
			fill = size - (vlen - 3);
			val = malloc(size);
			if (val == NULL)
				die("out of memory");
			memcpy(val, p, (size_t)(pad - p));
			memset(val + (pad - p), 'x', fill);
			memcpy(val + (pad - p) + fill, pad + 3,
			    vlen - (size_t)(pad - p) - 3);
			vlen = size;
		}
		do {
			err = rd_kafka_producev(rk,
			    RD_KAFKA_V_TOPIC(topic),
			    RD_KAFKA_V_PARTITION(0),
			    RD_KAFKA_V_KEY(key, klen),
			    RD_KAFKA_V_VALUE(val, vlen),
			    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			    RD_KAFKA_V_END);
			if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(rk, 100);
		} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
		if (err)
			die("line %ld: %s", lineno, rd_kafka_err2str(err));
		if (val != p)
			free(val);
		sent++;
	}
	free(line);
	if ((err = rd_kafka_flush(rk, 60000)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		die("flush: %s", rd_kafka_err2str(err));
	rd_kafka_destroy(rk);
	if (failed > 0 || delivered != sent)
		die("%ld of %ld records delivered", delivered, sent);
	fprintf(stderr, "produce: %ld records to %s\n", sent, topic);
	return 0;
}
