/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * consumer.c - the librdkafka consumer of a connector, all of it: its
 * configuration, the client, polling, rebalances, assignment, pause,
 * group offset commits, and closing.  The worker (worker.c) gets records
 * from ks_consumer_poll() and is called back (struct ks_consumer_cb) to
 * read the sink's offsets and to give up what it holds of revoked
 * partitions.
 *
 * The configuration is built from [kafka] and then the connector's own
 * kafka.* keys, each handed to librdkafka, which rejects what it does not
 * know; its message is reported with the line of the key.  The settings
 * that exactly-once rests on are forced, and asking for anything else is
 * an error rather than silently ignored.
 *
 * Assignment.  The sink, not Kafka, says where a partition starts, and
 * asking it may take long (a sink that says RETRY is asked again, with
 * backoff).  So the rebalance callback only records what it was given:
 * the assignment is pending, and nothing of it is assigned to
 * librdkafka, so nothing of it can be fetched.  The next
 * ks_consumer_poll() calls, from the worker's loop, read the sink's
 * offsets (retrying while they keep polling, so that the group never
 * times the consumer out) and then assign the partitions at exactly
 * those offsets.  A revocation that comes meanwhile takes its
 * partitions out of the pending assignment (eager: all of it); a
 * partition is only ever fetched from the offset the sink gave for it.
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "options.h"
#include "retry.h"
#include "stats.h"
#include "util.h"
#include "waker.h"

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

/*
 * The prefetch queue's bounds are one budget for the process, shared by
 * its connectors: each connector's consumer has a queue of its own, and
 * four connectors with the whole budget each took 121 to 137 MiB on
 * topics of 3 to 48 partitions, with a quarter each 86 to 96 MiB at the
 * same speed (tests/bench/ANALYSIS.md, the scale part).  A share is never
 * below a quarter of the budget: below a few thousand records the
 * connector waits on the fetcher more often.
 */
#define PREFETCH_RECORDS	30000
#define PREFETCH_KBYTES		8192
#define PREFETCH_SHARES_MAX	4

static int
prefetch_shares(const struct ks_conf *conf)
{
	const struct ks_section *sec;
	int n = 0;

	for (sec = conf->sections; sec != NULL; sec = sec->next)
		if (sec->kind == KS_SEC_CONNECTOR)
			n++;
	if (n < 1)
		n = 1;
	return n < PREFETCH_SHARES_MAX ? n : PREFETCH_SHARES_MAX;
}

rd_kafka_conf_t *
ks_consumer_conf(const struct ks_conf *conf, const struct ks_section *conn,
    int *reset, struct ks_errors *errs)
{
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_kv *kv;
	rd_kafka_conf_t *rkc;
	char err[512], buf[256], num[32];
	size_t before = errs->count, i;
	int shares = prefetch_shares(conf);

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
	/* Bound the memory of the prefetch queue (the connector's share of
	 * the process's budget): about 0.4 KiB of librdkafka's own per
	 * queued record, the records, and one fetch response in flight.  A
	 * sink is slower than the fetcher, so a larger queue only costs
	 * memory; ks_waker keeps it fed. */
	snprintf(num, sizeof(num), "%d", PREFETCH_RECORDS / shares);
	SET("queued.min.messages", num);
	snprintf(num, sizeof(num), "%d", PREFETCH_KBYTES / shares);
	SET("queued.max.messages.kbytes", num);
	SET("fetch.max.bytes", "4194304");
	/* librdkafka keeps one Fetch in flight per broker.  When it holds
	 * only partitions with nothing new (their records are all queued),
	 * the broker answers after fetch.wait.max.ms, and the partitions
	 * that became fetchable meanwhile wait that long with an empty
	 * queue: with the default 500 ms the worker stalled for about a
	 * second in a run out of four or five on topics of 3 to 48
	 * partitions (tests/bench/ANALYSIS.md, the scale part).  100 ms, as
	 * batch.max.ms, bounds that wait; a caught-up connector then asks
	 * each broker ten times a second instead of twice. */
	SET("fetch.wait.max.ms", "100");
	/* librdkafka >= 2.2: look at a full queue again after 10 ms rather
	 * than 1 s (older versions do not know the property: ks_waker). */
	(void)rd_kafka_conf_set(rkc, "fetch.queue.backoff.ms", "10", err,
	    sizeof(err));
	for (i = 0; i < KS_ARRAY_SIZE(forced); i++)
		SET(forced[i].key, forced[i].value);
#undef SET
	rd_kafka_conf_set_log_cb(rkc, ks_log_kafka);

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

static int
subscribe(rd_kafka_t *rk, const char *topics, char *errbuf,
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

/* ---- the consumer ---- */

/* How often the consumer is polled at least while it waits for the
 * sink's offsets. */
#define POLL_MAX_MS 100
/* A repeating Kafka error is said once in this long. */
#define ERROR_QUIET_MS 30000
/* Longest wait for a partition's log start offset at assignment. */
#define EARLIEST_QUERY_MS 1000
/* Records taken off the queue before the fetch waker hears of them. */
#define WAKER_BATCH 1024

struct ks_consumer {
	char *who;
	char *topics;
	int reset;			/* enum ks_reset */
	rd_kafka_conf_t *rkconf;	/* until the client exists */
	rd_kafka_t *rk;
	struct ks_waker *waker;
	struct ks_stats *stats;
	struct ks_consumer_cb cb;
	int closing;			/* takes no assignment any more */
	int paused;			/* what librdkafka was last told */
	int assigned_once;		/* librdkafka gave an assignment */
	uint64_t assignments;		/* assignments carried out */

	/* The assignment waiting for the sink's offsets, NULL: none. */
	rd_kafka_topic_partition_list_t *pending;
	struct ks_retry pending_retry;
	int64_t pending_at;		/* when to ask the sink next */

	uint64_t took_records, took_bytes;	/* not yet told the waker */

	/* Rate limit of repeating Kafka errors. */
	int64_t last_err_ms;
	int last_err_code;
	unsigned suppressed;
};

struct ks_consumer *
ks_consumer_new(rd_kafka_conf_t *rkconf, int reset, const char *who,
    const char *topics, struct ks_stats *stats,
    const struct ks_consumer_cb *cb)
{
	struct ks_consumer *c;

	c = ks_util_xcalloc(1, sizeof(*c));
	c->rkconf = rkconf;
	c->reset = reset;
	c->who = ks_util_strdup(who);
	c->topics = ks_util_strdup(topics);
	c->stats = stats;
	c->cb = *cb;
	return c;
}

rd_kafka_t *
ks_consumer_handle(const struct ks_consumer *c)
{
	return c->rk;
}

uint64_t
ks_consumer_assignments(const struct ks_consumer *c)
{
	return c->assignments;
}

static void
fail(struct ks_consumer *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct ks_consumer *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->cb.fail(c->cb.arg, msg);
}

static int
cooperative(rd_kafka_t *rk)
{
	const char *p = rd_kafka_rebalance_protocol(rk);

	return p != NULL && strcmp(p, "COOPERATIVE") == 0;
}

static int
in_list(const rd_kafka_topic_partition_list_t *l, const char *topic,
    int32_t partition)
{
	return l != NULL && rd_kafka_topic_partition_list_find(l, topic,
	    partition) != NULL;
}

/* ---- errors ---- */

/* Says an error unless the same one was said within ERROR_QUIET_MS;
 * returns 0 when it is to be kept quiet. */
static int
error_loud(struct ks_consumer *c, int code)
{
	int64_t now = ks_util_now_ms();

	if (code == c->last_err_code && now - c->last_err_ms < ERROR_QUIET_MS) {
		c->suppressed++;
		return 0;
	}
	return 1;
}

static void
error_said(struct ks_consumer *c, int code)
{
	c->last_err_code = code;
	c->last_err_ms = ks_util_now_ms();
	c->suppressed = 0;
}

static void
message_error(struct ks_consumer *c, rd_kafka_message_t *m)
{
	const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : NULL;
	char buf[512];

	if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(c->rk, buf, sizeof(buf));
		fail(c, "fatal Kafka client error: %s", buf);
		return;
	}
	if (!error_loud(c, (int)m->err))
		return;
	if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
	    m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
		ks_log_msg(KSINK_LOG_WARN, c->who, "topic %s does not exist "
		    "(yet): check topics; waiting for it", topic ? topic :
		    c->topics);
	else
		ks_log_msg(KSINK_LOG_WARN, c->who, "Kafka: %s%s%s%s",
		    topic ? topic : "", topic ? ": " : "",
		    rd_kafka_message_errstr(m),
		    m->err == RD_KAFKA_RESP_ERR__TRANSPORT ||
		    m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ?
		    "; check bootstrap.servers and that the brokers run" : "");
	if (c->suppressed > 0 && (int)m->err != c->last_err_code)
		ks_log_msg(KSINK_LOG_WARN, c->who, "(the previous Kafka error "
		    "came %u more times)", c->suppressed);
	else if (c->suppressed > 0)
		ks_log_msg(KSINK_LOG_WARN, c->who, "(it came %u more times in "
		    "the last %d s)", c->suppressed, ERROR_QUIET_MS / 1000);
	error_said(c, (int)m->err);
}

/*
 * Errors of the client as a whole (brokers down, authentication):
 * librdkafka retries them itself; we say them once in a while, with what
 * to check.  A fatal one fails the connector.
 */
static void
error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	struct ks_consumer *c = opaque;
	const char *hint = "";
	char buf[512];

	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, buf, sizeof(buf));
		fail(c, "fatal Kafka client error: %s", buf);
		return;
	}
	if (!error_loud(c, err))
		return;
	switch (err) {
	case RD_KAFKA_RESP_ERR__TRANSPORT:
	case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
	case RD_KAFKA_RESP_ERR__RESOLVE:
		hint = "; check bootstrap.servers and that the brokers run; "
		    "retrying";
		break;
	case RD_KAFKA_RESP_ERR__AUTHENTICATION:
	case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
		hint = "; check sasl.username and sasl.password ([kafka] or "
		    "kafka.sasl.*); retrying";
		break;
	case RD_KAFKA_RESP_ERR__SSL:
		hint = "; check the ssl.* settings; retrying";
		break;
	default:
		break;
	}
	ks_log_msg(KSINK_LOG_WARN, c->who, "Kafka: %s%s%s", reason, hint,
	    c->suppressed > 0 ? " (said before; repeated since)" : "");
	error_said(c, err);
}

/* ---- rebalances ---- */

static void
pending_clear(struct ks_consumer *c)
{
	if (c->pending != NULL)
		rd_kafka_topic_partition_list_destroy(c->pending);
	c->pending = NULL;
}

/* Records an assignment; ks_consumer_poll() carries it out. */
static void
on_assign(struct ks_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
	int i;

	if (c->pending == NULL) {
		c->pending = rd_kafka_topic_partition_list_new(parts->cnt);
		ks_retry_init(&c->pending_retry, KS_RETRY_OFFSETS_MAX_MS,
		    KS_RETRY_OFFSETS_TIMEOUT_MS);
		c->pending_at = 0;
	}
	for (i = 0; i < parts->cnt; i++)
		if (!in_list(c->pending, parts->elems[i].topic,
		    parts->elems[i].partition))
			rd_kafka_topic_partition_list_add(c->pending,
			    parts->elems[i].topic, parts->elems[i].partition);
	ks_log_msg(KSINK_LOG_DEBUG, c->who, "given %d partition%s: reading "
	    "their offsets from the sink", parts->cnt,
	    parts->cnt == 1 ? "" : "s");
}

/* Takes parts (NULL: all) out of the pending assignment. */
static void
pending_cancel(struct ks_consumer *c,
    const rd_kafka_topic_partition_list_t *parts)
{
	int i, n = 0;

	if (c->pending == NULL)
		return;
	for (i = 0; parts != NULL && i < parts->cnt; i++)
		if (rd_kafka_topic_partition_list_del(c->pending,
		    parts->elems[i].topic, parts->elems[i].partition))
			n++;
	/* An eager revocation ends the generation the assignment was
	 * made in; an empty cooperative one is still owed its call. */
	if (parts == NULL) {
		n = c->pending->cnt;
		pending_clear(c);
	}
	if (n > 0)
		ks_log_msg(KSINK_LOG_INFO, c->who, "%d partition%s revoked "
		    "before the sink's offsets were read: not assigned", n,
		    n == 1 ? "" : "s");
}

static void
on_revoke(struct ks_consumer *c, rd_kafka_topic_partition_list_t *parts)
{
	rd_kafka_topic_partition_list_t *assigned = NULL, *mine;
	rd_kafka_error_t *error = NULL;
	int lost = rd_kafka_assignment_lost(c->rk), coop = cooperative(c->rk);
	int i;

	pending_cancel(c, coop ? parts : NULL);
	/* Finish or drop what the worker holds of them: nothing of it was
	 * stored, so the next owner applies it. */
	c->cb.revoke(c->cb.arg, coop ? parts : NULL, lost);
	/* Only what was assigned can be unassigned: a pending partition
	 * never was. */
	if (rd_kafka_assignment(c->rk, &assigned) != RD_KAFKA_RESP_ERR_NO_ERROR)
		assigned = NULL;
	mine = rd_kafka_topic_partition_list_new(parts->cnt);
	for (i = 0; i < parts->cnt; i++)
		if (in_list(assigned, parts->elems[i].topic,
		    parts->elems[i].partition))
			rd_kafka_topic_partition_list_add(mine,
			    parts->elems[i].topic, parts->elems[i].partition);
	/* librdkafka keeps a partition's pause across an unassignment: one
	 * revoked while paused, and later given back to this consumer,
	 * would never be fetched again.  Resume them on the way out; they
	 * are paused again when assigned while the connector is paused. */
	if (c->paused && mine->cnt > 0)
		rd_kafka_resume_partitions(c->rk, mine);
	if (coop)
		error = rd_kafka_incremental_unassign(c->rk, mine);
	else
		rd_kafka_assign(c->rk, NULL);
	if (error != NULL)
		rd_kafka_error_destroy(error);
	if (c->stats != NULL)
		ks_stats_unassigned(c->stats, parts);
	ks_waker_reassigned(c->waker);
	ks_log_msg(KSINK_LOG_INFO, c->who, "%s %d partition%s",
	    lost ? "lost" : "released", parts->cnt, parts->cnt == 1 ? "" : "s");
	rd_kafka_topic_partition_list_destroy(mine);
	if (assigned != NULL)
		rd_kafka_topic_partition_list_destroy(assigned);
}

static void
rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
    rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	struct ks_consumer *c = opaque;

	(void)rk;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* The group gave an assignment, even if it is never carried
		 * out (see destroy_closed()). */
		c->assigned_once = 1;
		/*
		 * A connector that is leaving takes nothing.  An assignment
		 * that comes while the close leaves the group is one that
		 * librdkafka before 2.4.0 cannot always survive under the
		 * cooperative protocol once taken: the close may finish the
		 * group's shutdown before the revocation that follows is
		 * acknowledged, and that acknowledgement waits forever
		 * (librdkafka #4527, tests/e2e/coop-close-assign.test).
		 */
		if (!c->closing)
			on_assign(c, parts);
		else
			ks_log_msg(KSINK_LOG_DEBUG, c->who, "stopping: not "
			    "taking the %d partition%s assigned", parts->cnt,
			    parts->cnt == 1 ? "" : "s");
	} else if (err == RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS)
		on_revoke(c, parts);
	else {
		ks_log_msg(KSINK_LOG_WARN, c->who, "rebalance error: %s",
		    rd_kafka_err2str(err));
		pending_clear(c);
		c->cb.revoke(c->cb.arg, NULL, 1);
		if (c->paused)
			ks_consumer_pause(c, 0);	/* as in on_revoke */
		rd_kafka_assign(c->rk, NULL);
	}
}

static int64_t
reset_offset(int reset)
{
	return reset == KS_RESET_LATEST ? RD_KAFKA_OFFSET_END :
	    RD_KAFKA_OFFSET_BEGINNING;
}

/*
 * The earliest offset of a partition new to the sink, as a number rather
 * than RD_KAFKA_OFFSET_BEGINNING: librdkafka resolves a logical offset
 * only once the partition has joined its leader's thread, and when the
 * assignment comes first it waits for its offset query timer, 0.25 to
 * 0.5 s of every first start.  The log start offset is the same for
 * every isolation level; should it move before the fetch (retention),
 * auto.offset.reset = earliest takes the fetcher to the new one, as it
 * would have from BEGINNING.  A failure leaves BEGINNING, for this and
 * (*asking cleared) the assignment's other partitions: a broker that does
 * not answer costs one wait, not one per partition.
 */
static void
earliest_offset(struct ks_consumer *c, rd_kafka_topic_partition_t *p,
    int *asking)
{
	int64_t low = -1, high = -1;

	if (p->offset != RD_KAFKA_OFFSET_BEGINNING || !*asking)
		return;
	if (rd_kafka_query_watermark_offsets(c->rk, p->topic, p->partition,
	    &low, &high, EARLIEST_QUERY_MS) == RD_KAFKA_RESP_ERR_NO_ERROR &&
	    low >= 0)
		p->offset = low;
	else
		*asking = 0;
}

/*
 * Carries out the pending assignment once the sink has said where each
 * of its partitions starts.  0: done or still waiting; -1: failed.
 */
static int
serve_pending(struct ks_consumer *c)
{
	rd_kafka_topic_partition_list_t *parts = c->pending;
	rd_kafka_error_t *error = NULL;
	rd_kafka_resp_err_t err = 0;
	struct ksink_offset *offs;
	char ebuf[1024] = "";
	int64_t *sink, wait;
	int i, st = KSINK_OK, asking = 1;

	if (parts == NULL || ks_util_now_ms() < c->pending_at)
		return 0;
	offs = ks_util_xcalloc(parts->cnt + 1, sizeof(*offs));
	for (i = 0; i < parts->cnt; i++) {
		offs[i].topic = parts->elems[i].topic;
		offs[i].partition = parts->elems[i].partition;
		offs[i].next_offset = KSINK_OFFSET_NONE;
	}
	if (parts->cnt > 0)
		st = c->cb.load_offsets(c->cb.arg, offs, (size_t)parts->cnt,
		    ebuf, sizeof(ebuf));
	if (st == KSINK_RETRY &&
	    (wait = ks_retry_next(&c->pending_retry)) >= 0) {
		free(offs);
		ks_log_msg(KSINK_LOG_WARN, c->who, "sink cannot read its "
		    "offsets yet: %s; retrying", ebuf);
		c->pending_at = ks_util_now_ms() + wait;
		return 0;
	}
	c->pending = NULL;
	if (st != KSINK_OK) {
		free(offs);
		rd_kafka_topic_partition_list_destroy(parts);
		fail(c, "sink cannot read its stored offsets: %s",
		    *ebuf ? ebuf : ksink_status_name(st));
		return -1;
	}
	sink = ks_util_xcalloc(parts->cnt + 1, sizeof(*sink));
	for (i = 0; i < parts->cnt; i++) {
		rd_kafka_topic_partition_t *p = &parts->elems[i];

		sink[i] = offs[i].next_offset >= 0 ? offs[i].next_offset : -1;
		if (offs[i].next_offset >= 0) {
			p->offset = offs[i].next_offset;
			ks_log_msg(KSINK_LOG_INFO, c->who, "assigned %s/%d, "
			    "resuming at offset %lld stored by the sink",
			    p->topic, p->partition, (long long)p->offset);
		} else if (c->reset == KS_RESET_ERROR) {
			fail(c, "the sink has no stored offset for %s/%d and "
			    "auto.offset.reset = error; set "
			    "kafka.auto.offset.reset to earliest or latest",
			    p->topic, p->partition);
			free(offs);
			free(sink);
			rd_kafka_topic_partition_list_destroy(parts);
			return -1;
		} else {
			p->offset = reset_offset(c->reset);
			earliest_offset(c, p, &asking);
			ks_log_msg(KSINK_LOG_INFO, c->who, "assigned %s/%d, new "
			    "to the sink: starting at the %s offset",
			    p->topic, p->partition,
			    c->reset == KS_RESET_LATEST ? "latest" :
			    "earliest");
		}
	}
	free(offs);
	if (parts->cnt > 0 && c->stats != NULL)
		ks_stats_assigned(c->stats, parts, sink);
	free(sink);
	if (cooperative(c->rk))
		error = rd_kafka_incremental_assign(c->rk, parts);
	else
		err = rd_kafka_assign(c->rk, parts);
	c->assignments++;
	ks_waker_reassigned(c->waker);
	/* New partitions come unpaused. */
	if (c->paused && parts->cnt > 0)
		rd_kafka_pause_partitions(c->rk, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	if (error != NULL) {
		fail(c, "cannot assign partitions: %s",
		    rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		return -1;
	}
	if (err) {
		fail(c, "cannot assign partitions: %s", rd_kafka_err2str(err));
		return -1;
	}
	if (c->cb.assigned != NULL)
		c->cb.assigned(c->cb.arg);
	return 0;
}

/* ---- the worker's side ---- */

int
ks_consumer_start(struct ks_consumer *c, char *errbuf, size_t errlen)
{
	char err[512];

	rd_kafka_conf_set_opaque(c->rkconf, c);
	rd_kafka_conf_set_rebalance_cb(c->rkconf, rebalance_cb);
	rd_kafka_conf_set_error_cb(c->rkconf, error_cb);
	c->rk = rd_kafka_new(RD_KAFKA_CONSUMER, c->rkconf, err, sizeof(err));
	if (c->rk == NULL) {
		rd_kafka_conf_destroy(c->rkconf);
		c->rkconf = NULL;
		ks_util_errf(errbuf, errlen, "cannot create the Kafka "
		    "consumer: %s", err);
		return -1;
	}
	c->rkconf = NULL;	/* owned by rk now */
	rd_kafka_poll_set_consumer(c->rk);
	if (subscribe(c->rk, c->topics, errbuf, errlen) == -1)
		return -1;
	c->waker = ks_waker_start(c->rk, c->who);
	return 0;
}

rd_kafka_message_t *
ks_consumer_poll(struct ks_consumer *c, int timeout_ms)
{
	rd_kafka_message_t *m;

	if (timeout_ms > 0 || c->took_records >= WAKER_BATCH) {
		ks_waker_took(c->waker, c->took_records, c->took_bytes);
		c->took_records = c->took_bytes = 0;
	}
	if (serve_pending(c) == -1)
		return NULL;
	/* Waiting for the sink's offsets: come back in time to ask. */
	if (c->pending != NULL && timeout_ms > POLL_MAX_MS)
		timeout_ms = POLL_MAX_MS;
	m = rd_kafka_consumer_poll(c->rk, timeout_ms);
	if (m == NULL)
		return NULL;
	if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
		c->took_records++;
		c->took_bytes += m->len + m->key_len;
		return m;
	}
	if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
		message_error(c, m);
	rd_kafka_message_destroy(m);
	return NULL;
}

void
ks_consumer_pause(struct ks_consumer *c, int pause)
{
	rd_kafka_topic_partition_list_t *list = NULL;

	pause = pause != 0;
	if (c->rk == NULL || pause == c->paused)
		return;
	c->paused = pause;
	if (rd_kafka_assignment(c->rk, &list) != RD_KAFKA_RESP_ERR_NO_ERROR ||
	    list == NULL)
		return;
	if (list->cnt > 0) {
		if (pause)
			rd_kafka_pause_partitions(c->rk, list);
		else
			rd_kafka_resume_partitions(c->rk, list);
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* Group offsets are committed for lag tools only: ignore failures. */
void
ks_consumer_commit(struct ks_consumer *c, const struct ks_stats_part *parts,
    size_t n)
{
	rd_kafka_topic_partition_list_t *list;
	size_t i;

	if (n == 0)
		return;
	list = rd_kafka_topic_partition_list_new((int)n);
	for (i = 0; i < n; i++)
		rd_kafka_topic_partition_list_add(list, parts[i].topic,
		    parts[i].partition)->offset = parts[i].next;
	(void)rd_kafka_commit(c->rk, list, 1);
	rd_kafka_topic_partition_list_destroy(list);
}

/*
 * The librdkafka releases that fixed a bug ksink works around: the one
 * place that compares librdkafka's version.
 */
int
ks_consumer_rdkafka_fixed(enum ks_rdkafka_fix fix)
{
	static const int fixed_in[] = {
		/* #4312, fixed by PR #4381 */
		[KS_RDKAFKA_FIX_COOP_DESTROY] = 0x020300ff,
		/* PR #4460 */
		[KS_RDKAFKA_FIX_WATERMARK_TIMEOUT] = 0x020300ff,
	};

	return rd_kafka_version() >= fixed_in[fix];
}

/*
 * A partition's low and high watermarks, asked of its leader; the high one
 * is the last stable offset, since the client reads read_committed.
 *
 * librdkafka before 2.3.0 does not keep rd_kafka_query_watermark_offsets()
 * to its timeout: it waits for the ListOffsets responses however long the
 * leader takes, up to socket.timeout.ms (60 s) and more (librdkafka PR
 * #4460; tests/kafka/mock-watermarks.test, mock-waker-stop.test).  There
 * the same requests are sent through rd_kafka_offsets_for_times(), which
 * keeps to its timeout.  From 2.3.0 on, the watermark query also follows
 * a leader change, which rd_kafka_offsets_for_times() does only from
 * 2.10.0.
 */
rd_kafka_resp_err_t
ks_consumer_watermarks(rd_kafka_t *rk, const char *topic, int32_t partition,
    int64_t *low, int64_t *high, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
	int64_t deadline, left, got[2];
	int i;

	if (ks_consumer_rdkafka_fixed(KS_RDKAFKA_FIX_WATERMARK_TIMEOUT))
		return rd_kafka_query_watermark_offsets(rk, topic, partition,
		    low, high, timeout_ms);
	deadline = ks_util_now_ms() + timeout_ms;
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition);
	/* One at a time: a request naming a partition twice is invalid. */
	for (i = 0; i < 2 && !err; i++) {
		if ((left = deadline - ks_util_now_ms()) <= 0) {
			err = RD_KAFKA_RESP_ERR__TIMED_OUT;
			break;
		}
		list->elems[0].offset = i == 0 ? RD_KAFKA_OFFSET_BEGINNING :
		    RD_KAFKA_OFFSET_END;
		list->elems[0].err = RD_KAFKA_RESP_ERR_NO_ERROR;
		if ((err = rd_kafka_offsets_for_times(rk, list, (int)left)) ==
		    RD_KAFKA_RESP_ERR_NO_ERROR)
			err = list->elems[0].err;
		got[i] = list->elems[0].offset;
	}
	rd_kafka_topic_partition_list_destroy(list);
	if (err)
		return err;
	*low = got[0];
	*high = got[1];
	/* As rd_kafka_query_watermark_offsets() says an empty partition. */
	if (*low < 0 && *high >= 0)
		*low = *high;
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/*
 * Frees a consumer that rd_kafka_consumer_close() has closed, with one
 * exception.  librdkafka before 2.3.0
 * asserts, and so aborts the process, when it frees a consumer whose
 * group chose the cooperative-sticky assignor but that never received
 * an assignment -- one stopped while its first rebalance is still open
 * (librdkafka #4312: the assignor keeps no state until the first
 * assignment, and the destroy does not check).  Such a consumer has left
 * its group when it was closed, so its partitions move at once, but it
 * is not freed: only a stopping worker gets here, and the daemon exits
 * once its workers have stopped, which frees what the handle holds.
 */
static void
destroy_closed(rd_kafka_t *rk, int assigned_once, const char *who)
{
	char strategy[256];
	size_t len = sizeof(strategy);

	/* From the configuration: the group's protocol cannot be asked of a
	 * closed consumer. */
	if (!assigned_once &&
	    !ks_consumer_rdkafka_fixed(KS_RDKAFKA_FIX_COOP_DESTROY) &&
	    rd_kafka_conf_get(rd_kafka_conf(rk),
	    "partition.assignment.strategy", strategy, &len) ==
	    RD_KAFKA_CONF_OK && strstr(strategy, "cooperative-sticky")) {
		ks_log_msg(KSINK_LOG_DEBUG, who, "left the group before its "
		    "first assignment: not freeing the consumer, which "
		    "librdkafka %s cannot do (fixed in 2.3.0)",
		    rd_kafka_version_str());
		return;
	}
	rd_kafka_destroy(rk);
}

void
ks_consumer_close(struct ks_consumer *c)
{
	c->closing = 1;
	pending_clear(c);
	ks_waker_stop(c->waker);
	c->waker = NULL;
	if (c->rk == NULL)
		return;
	rd_kafka_consumer_close(c->rk);
	destroy_closed(c->rk, c->assigned_once, c->who);
	c->rk = NULL;
}

void
ks_consumer_free(struct ks_consumer *c)
{
	if (c == NULL)
		return;
	ks_consumer_close(c);
	if (c->rkconf != NULL)
		rd_kafka_conf_destroy(c->rkconf);
	free(c->who);
	free(c->topics);
	free(c);
}
