/*
 * consumer.c - librdkafka configuration and consumer helpers.
 *
 * The configuration is built from [kafka] and then the connector's own
 * kafka.* keys, each handed to librdkafka, which rejects what it does not
 * know; its message is reported with the line of the key.  The settings
 * that exactly-once rests on are forced, and asking for anything else is
 * an error rather than silently ignored.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "options.h"
#include "util.h"

struct forced {
	const char *key;
	const char *value;
	const char *why;
};

static const struct forced forced[] = {
	{ "isolation.level", "read_committed",
	  "ksink reads only committed records" },
	{ "enable.auto.commit", "false",
	  "the sink, not Kafka, stores the offsets" },
	{ "enable.auto.offset.store", "false",
	  "the sink, not Kafka, stores the offsets" },
};

static int
set_one(rd_kafka_conf_t *rkc, const struct ks_conf *conf,
    const struct ks_kv *kv, const char *key, int *reset,
    struct ks_errors *errs)
{
	char err[512];
	size_t i;
	int b;

	for (i = 0; i < KS_ARRAY_SIZE(forced); i++) {
		if (strcmp(key, forced[i].key) != 0)
			continue;
		if (strcmp(forced[i].value, "false") == 0 ?
		    ks_util_parse_bool(kv->value, &b) == 0 && !b :
		    strcmp(kv->value, forced[i].value) == 0)
			return 0;
		ks_errors_add(errs, "%s:%d: %s = %s is refused: %s; remove "
		    "the line (ksink always uses %s = %s)", conf->path,
		    kv->line, kv->key, kv->value, forced[i].why,
		    forced[i].key, forced[i].value);
		return -1;
	}
	if (strcmp(key, "auto.offset.reset") == 0) {
		if (!strcmp(kv->value, "smallest") ||
		    !strcmp(kv->value, "earliest") ||
		    !strcmp(kv->value, "beginning"))
			*reset = KS_RESET_EARLIEST;
		else if (!strcmp(kv->value, "largest") ||
		    !strcmp(kv->value, "latest") || !strcmp(kv->value, "end"))
			*reset = KS_RESET_LATEST;
		else if (!strcmp(kv->value, "error"))
			*reset = KS_RESET_ERROR;
	}
	if (rd_kafka_conf_set(rkc, key, kv->value, err, sizeof(err)) !=
	    RD_KAFKA_CONF_OK) {
		/* librdkafka may quote the value: not a secret's. */
		ks_errors_add(errs, "%s:%d: %s: %s", conf->path, kv->line,
		    kv->key, ks_options_kafka_secret(key) ?
		    "invalid value (not shown: it is a secret)" : err);
		return -1;
	}
	return 0;
}

static void
log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	int l;

	/* Errors of the client reach the connector's error callback too,
	 * which says what to check: keep librdkafka's own lines for
	 * debugging. */
	if (strcmp(fac, "FAIL") == 0 || strcmp(fac, "ERROR") == 0)
		l = KSINK_LOG_DEBUG;
	else if (level <= 3)
		l = KSINK_LOG_ERROR;
	else if (level == 4)
		l = KSINK_LOG_WARN;
	else if (level <= 6)
		l = KSINK_LOG_INFO;
	else
		l = KSINK_LOG_DEBUG;
	ks_log_msg(l, rd_kafka_name(rk), "librdkafka %s: %s", fac, buf);
}

rd_kafka_conf_t *
ks_consumer_conf(const struct ks_conf *conf, const struct ks_section *conn,
    int *reset, struct ks_errors *errs)
{
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_kv *kv;
	rd_kafka_conf_t *rkc;
	char err[512], buf[256];
	size_t before = errs->count, i;

	rkc = rd_kafka_conf_new();
	*reset = KS_RESET_EARLIEST;
	snprintf(buf, sizeof(buf), "ksink-%s", conn->name);
#define SET(k, v) \
	if (rd_kafka_conf_set(rkc, k, v, err, sizeof(err)) != \
	    RD_KAFKA_CONF_OK) \
		ks_errors_add(errs, "internal: %s: %s", k, err)
	SET("group.id", buf);
	SET("client.id", buf);
	SET("auto.offset.reset", "earliest");
	SET("enable.partition.eof", "false");
	/* Bound the memory of the prefetch queue (per connector). */
	SET("queued.max.messages.kbytes", "32768");
	for (i = 0; i < KS_ARRAY_SIZE(forced); i++)
		SET(forced[i].key, forced[i].value);
#undef SET
	rd_kafka_conf_set_log_cb(rkc, log_cb);

	for (kv = kafka ? kafka->kvs : NULL; kv != NULL; kv = kv->next) {
		if (ks_conf_kv(kafka, kv->key) != kv) {
			ks_errors_add(errs, "%s:%d: key \"%s\" given again "
			    "(first at line %d)", conf->path, kv->line,
			    kv->key, ks_conf_kv(kafka, kv->key)->line);
			continue;
		}
		if (strcmp(kv->key, "group.id") == 0) {
			ks_errors_add(errs, "%s:%d: group.id in [kafka] would "
			    "put every connector in one consumer group; set "
			    "kafka.group.id in a [connector NAME] section "
			    "instead (the default is ksink-NAME)", conf->path,
			    kv->line);
			continue;
		}
		set_one(rkc, conf, kv, kv->key, reset, errs);
	}
	for (kv = conn->kvs; kv != NULL; kv = kv->next)
		if (strncmp(kv->key, "kafka.", 6) == 0) {
			if (ks_conf_kv(conn, kv->key) != kv) {
				ks_errors_add(errs, "%s:%d: key \"%s\" given "
				    "again (first at line %d)", conf->path,
				    kv->line, kv->key,
				    ks_conf_kv(conn, kv->key)->line);
				continue;
			}
			set_one(rkc, conf, kv, kv->key + 6, reset, errs);
		}
	if (errs->count != before) {
		rd_kafka_conf_destroy(rkc);
		return NULL;
	}
	return rkc;
}

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
 * own.  The settings were checked by ks_consumer_conf already.  A replayed
 * batch writes its dead letters again, byte for byte: the queue is
 * at-least-once with deterministic content.
 */
rd_kafka_conf_t *
ks_consumer_producer_conf(const struct ks_conf *conf,
    const struct ks_section *conn, struct ks_errors *errs)
{
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_section *secs[2] = { kafka, conn };
	const struct ks_kv *kv;
	rd_kafka_conf_t *rkc;
	const char *key;
	char err[512], buf[256];
	size_t i;

	rkc = rd_kafka_conf_new();
	snprintf(buf, sizeof(buf), "ksink-%s-dlq", conn->name);
	rd_kafka_conf_set(rkc, "client.id", buf, NULL, 0);
	rd_kafka_conf_set_log_cb(rkc, log_cb);
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
	rd_kafka_conf_set(rkc, "message.timeout.ms", "30000", NULL, 0);
	return rkc;
}

int
ks_consumer_subscribe(rd_kafka_t *rk, const char *topics, char *errbuf,
    size_t errlen)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;
	char *copy, *tok, *save, *t, *e;

	list = rd_kafka_topic_partition_list_new(4);
	copy = ks_util_strdup(topics);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		t = tok;
		while (*t == ' ' || *t == '\t' || *t == '\n')
			t++;
		e = t + strlen(t);
		while (e > t && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\n'))
			*--e = '\0';
		if (*t != '\0')
			rd_kafka_topic_partition_list_add(list, t,
			    RD_KAFKA_PARTITION_UA);
	}
	free(copy);
	if (list->cnt == 0) {
		ks_util_errf(errbuf, errlen, "topics lists no topic");
		rd_kafka_topic_partition_list_destroy(list);
		return -1;
	}
	err = rd_kafka_subscribe(rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err) {
		ks_util_errf(errbuf, errlen, "cannot subscribe to %s: %s",
		    topics, rd_kafka_err2str(err));
		return -1;
	}
	return 0;
}

int
ks_consumer_is_cooperative(rd_kafka_t *rk)
{
	const char *p = rd_kafka_rebalance_protocol(rk);

	return p != NULL && strcmp(p, "COOPERATIVE") == 0;
}

void
ks_consumer_pause(rd_kafka_t *rk, int pause)
{
	rd_kafka_topic_partition_list_t *list = NULL;

	if (rd_kafka_assignment(rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    list == NULL)
		return;
	if (list->cnt > 0) {
		if (pause)
			rd_kafka_pause_partitions(rk, list);
		else
			rd_kafka_resume_partitions(rk, list);
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* Group offsets are committed for lag tools only: ignore failures. */
void
ks_consumer_commit(rd_kafka_t *rk, const char *const *topics,
    const int32_t *partitions, const int64_t *next, size_t n)
{
	rd_kafka_topic_partition_list_t *list;
	size_t i;

	if (n == 0)
		return;
	list = rd_kafka_topic_partition_list_new((int)n);
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(list, topics[i],
		    partitions[i])->offset = next[i];
	(void)rd_kafka_commit(rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}
