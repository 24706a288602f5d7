/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dlq.c - the dead letter queue: records that errors.tolerance = all
 * skips are produced to a topic, with the Kafka Connect context headers
 * when asked.  A skipped record's offset is stored by the sink only once
 * its letter is acknowledged (ks_dlq_flush before the sink's commit).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "dlq.h"
#include "log.h"
#include "options.h"
#include "util.h"

struct ks_dlq {
	char *topic;
	char *connector;
	int headers;		/* errors.deadletterqueue.context.headers */
	rd_kafka_conf_t *conf;	/* until the producer exists */
	rd_kafka_t *rk;
	int pending;		/* produced, not yet acknowledged */
	char error[512];	/* first delivery failure */
};

/* Properties of a consumer that a producer would only warn about. */
static int
consumer_only(const char *key)
{
	static const char *const prefixes[] = { "group.", "fetch.",
	    "queued.", "auto.", "enable.auto.", "partition.assignment",
	    "session.", "heartbeat.", "max.poll.", "isolation.",
	    "enable.partition.eof", "check.crcs", "coordinator.",
	    "consume." };
	size_t i;

	for (i = 0; i < KS_ARRAY_SIZE(prefixes); i++)
		if (strncmp(key, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

/*
 * The configuration of a connector's dead letter queue producer: the same
 * [kafka] and kafka.* settings (brokers, security) without the consumer's
 * own.  The settings were checked by ks_consumer_conf().  A replayed
 * batch writes its dead letters again, byte for byte: the queue is
 * at-least-once with deterministic content.
 */
static rd_kafka_conf_t *
producer_conf(const struct ks_conf *conf,
    const struct ks_section *conn, struct ks_errors *errs)
{
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_section *secs[2] = { kafka, conn };
	const struct ks_kv *kv;
	rd_kafka_conf_t *rkc;
	const char *key;
	char err[512], buf[256], timeout[32];
	size_t i;

	rkc = rd_kafka_conf_new();
	snprintf(buf, sizeof(buf), "ksink-%s-dlq", conn->name);
	rd_kafka_conf_set(rkc, "client.id", buf, NULL, 0);
	rd_kafka_conf_set_log_cb(rkc, ks_log_kafka);
	for (i = 0; i < 2; i++)
		for (kv = secs[i] ? secs[i]->kvs : NULL; kv != NULL;
		    kv = kv->next) {
			key = kv->key;
			if (i == 1 && strncmp(key, "kafka.", 6) != 0)
				continue;
			if (i == 1)
				key += 6;
			if (consumer_only(key))
				continue;
			if (rd_kafka_conf_set(rkc, key, kv->value, err,
			    sizeof(err)) != RD_KAFKA_CONF_OK)
				ks_errors_add(errs, "%s:%d: %s: %s", conf->path,
				    kv->line, kv->key, err);
		}
	rd_kafka_conf_set(rkc, "linger.ms", "5", NULL, 0);
	snprintf(timeout, sizeof(timeout), "%d", KS_DLQ_MESSAGE_TIMEOUT_MS);
	rd_kafka_conf_set(rkc, "message.timeout.ms", timeout, NULL, 0);
	return rkc;
}

struct ks_dlq *
ks_dlq_new(const struct ks_conf *conf, const struct ks_section *sec,
    struct ks_errors *errs)
{
	const struct ks_kv *kv;
	struct ks_dlq *d;

	kv = ks_conf_kv(sec, "errors.deadletterqueue.topic.name");
	if (kv == NULL || *kv->value == '\0')
		return NULL;
	d = ks_util_xcalloc(1, sizeof(*d));
	d->topic = ks_util_strdup(kv->value);
	d->connector = ks_util_strdup(sec->name);
	d->headers = ks_conf_bool(sec, ks_options_connector,
	    "errors.deadletterqueue.context.headers.enable");
	d->conf = producer_conf(conf, sec, errs);
	return d;
}

static void
delivered(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct ks_dlq *d = opaque;

	(void)rk;
	d->pending--;
	if (m->err && d->error[0] == '\0')
		snprintf(d->error, sizeof(d->error), "%s",
		    rd_kafka_err2str(m->err));
}

int
ks_dlq_start(struct ks_dlq *d, char *errbuf, size_t errlen)
{
	char err[512];

	rd_kafka_conf_set_opaque(d->conf, d);
	rd_kafka_conf_set_dr_msg_cb(d->conf, delivered);
	d->rk = rd_kafka_new(RD_KAFKA_PRODUCER, d->conf, err, sizeof(err));
	if (d->rk == NULL) {
		rd_kafka_conf_destroy(d->conf);
		d->conf = NULL;
		ks_util_errf(errbuf, errlen, "cannot create the dead letter "
		    "queue producer: %s", err);
		return -1;
	}
	d->conf = NULL;		/* owned by rk now */
	return 0;
}

int
ks_dlq_produce(struct ks_dlq *d, const struct ksink_record *r,
    const char *why, char *ebuf, size_t elen)
{
	rd_kafka_headers_t *h;
	rd_kafka_resp_err_t err;
	char num[32];
	size_t i;

	h = rd_kafka_headers_new(r->header_count + 6);
	for (i = 0; i < r->header_count; i++)
		rd_kafka_header_add(h, r->headers[i].name, -1,
		    r->headers[i].value, (ssize_t)r->headers[i].value_len);
	if (d->headers) {
		rd_kafka_header_add(h, "__connect.errors.topic", -1, r->topic,
		    -1);
		snprintf(num, sizeof(num), "%d", r->partition);
		rd_kafka_header_add(h, "__connect.errors.partition", -1, num,
		    -1);
		snprintf(num, sizeof(num), "%lld", (long long)r->offset);
		rd_kafka_header_add(h, "__connect.errors.offset", -1, num, -1);
		rd_kafka_header_add(h, "__connect.errors.connector.name", -1,
		    d->connector, -1);
		rd_kafka_header_add(h, "__connect.errors.exception.class.name",
		    -1, "ksink.PoisonRecord", -1);
		rd_kafka_header_add(h, "__connect.errors.exception.message", -1,
		    why, -1);
	}
	do {
		err = rd_kafka_producev(d->rk,
		    RD_KAFKA_V_TOPIC(d->topic),
		    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		    RD_KAFKA_V_KEY(r->key, r->key ? r->key_len : 0),
		    RD_KAFKA_V_VALUE((void *)r->value,
		    r->value ? r->value_len : 0),
		    RD_KAFKA_V_TIMESTAMP(r->timestamp > 0 ? r->timestamp : 0),
		    RD_KAFKA_V_HEADERS(h),
		    RD_KAFKA_V_END);
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(d->rk, 100);
	} while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
	if (err) {
		rd_kafka_headers_destroy(h);
		ks_util_errf(ebuf, elen, "dead letter queue %s: %s",
		    d->topic, rd_kafka_err2str(err));
		return -1;
	}
	d->pending++;
	return 0;
}

int
ks_dlq_flush(struct ks_dlq *d, char *ebuf, size_t elen)
{
	rd_kafka_flush(d->rk, KS_DLQ_FLUSH_MS);
	if (d->pending > 0 || d->error[0] != '\0') {
		ks_util_errf(ebuf, elen, "dead letter queue %s: %s; the "
		    "batch is retried", d->topic, d->error[0] ?
		    d->error : "not acknowledged in time");
		d->error[0] = '\0';
		return -1;
	}
	return 0;
}

void
ks_dlq_stop(struct ks_dlq *d)
{
	if (d == NULL || d->rk == NULL)
		return;
	rd_kafka_flush(d->rk, KS_DLQ_CLOSE_MS);
	rd_kafka_destroy(d->rk);
	d->rk = NULL;
}

void
ks_dlq_free(struct ks_dlq *d)
{
	if (d == NULL)
		return;
	ks_dlq_stop(d);
	if (d->conf != NULL)
		rd_kafka_conf_destroy(d->conf);
	free(d->topic);
	free(d->connector);
	free(d);
}
