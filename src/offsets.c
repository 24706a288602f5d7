/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * offsets.c - `ksink offsets`: list and reset the offsets a sink stored.
 *
 * The sink, not Kafka, holds a connector's offsets, so this command asks
 * the sink: it checks the configuration as `ksink -t` does, loads and
 * opens the connector's plugin, lists the partitions of the connector's
 * topics from the brokers' metadata (a `^regex` topic matches as
 * librdkafka matches it: POSIX extended regular expressions), and calls
 * load_offsets().  Kafka gives each partition's watermarks; with
 * isolation.level = read_committed forced, the high one is the last
 * stable offset, where a read_committed consumer ends.
 *
 * With --reset the new offsets go to the plugin's reset_offsets() (sink
 * ABI 1.1) in one call, one atomic step of the sink, and only while no
 * worker runs the connector: its consumer group must have no members.
 * Then, while the group is still empty, the same offsets are committed
 * to the group (and forgotten partitions deleted from it) so that lag
 * tools agree; that part is best effort, the sink's offsets are the ones
 * that count.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "offsets.h"
#include "options.h"
#include "retry.h"
#include "util.h"
#include "worker.h"

/* How long one request to the brokers may take. */
#define KAFKA_TIMEOUT_MS 10000

/* ---- the configuration and the plugin ---- */

/* Checks the whole file as `ksink -t` does; finds the connector. */
static int
load_conf(struct ks_offsets_run *rn)
{
	struct ks_errors errs = { 0 };
	const struct ks_section *s;
	size_t i;

	rn->conf = ks_conf_parse_file(rn->a->config, &errs);
	if (rn->conf != NULL)
		(void)ks_worker_load_all(rn->conf, &errs, &rn->ws, &rn->nws);
	if (errs.count > 0) {
		ks_errors_print(&errs, stderr);
		fprintf(stderr, "ksink: %s: %zu problem%s found\n",
		    rn->a->config, errs.count, errs.count == 1 ? "" : "s");
		ks_errors_free(&errs);
		return KS_EXIT_CONFIG;
	}
	ks_errors_free(&errs);
	/* What this command says is on stdout; the plugins' and librdkafka's
	 * informational messages would only be noise. */
	if (ks_log_get_level() == KSINK_LOG_INFO)
		ks_log_set_level(KSINK_LOG_WARN);
	for (s = rn->conf->sections; s != NULL; s = s->next)
		if (s->kind == KS_SEC_CONNECTOR &&
		    strcmp(s->name, rn->a->connector) == 0)
			break;
	if (s == NULL) {
		char list[1024] = "";
		size_t len = 0;

		for (s = rn->conf->sections; s != NULL; s = s->next)
			if (s->kind == KS_SEC_CONNECTOR && len < sizeof(list))
				len += snprintf(list + len, sizeof(list) - len,
				    "%s%s", len ? ", " : "", s->name);
		log_error("%s has no [connector %s]; its connectors: %s",
		    rn->a->config, rn->a->connector, list);
		return KS_EXIT_USAGE;
	}
	rn->sec = s;
	for (i = 0; i < rn->nws; i++)
		if (strcmp(ks_worker_name(rn->ws[i]), s->name) == 0)
			rn->w = rn->ws[i];
	snprintf(rn->who, sizeof(rn->who), "connector %s", s->name);
	rn->topics = ks_util_strdup(ks_conf_str(s, ks_options_connector,
	    "topics"));
	return KS_EXIT_OK;
}

/* The plugin the daemon loaded for the connector: can it reset? */
static int
check_plugin(struct ks_offsets_run *rn)
{
	rn->desc = ks_worker_sink(rn->w, NULL);
	if (rn->a->mode != KS_OFFSETS_LIST &&
	    (!KSINK_SINK_HAS(rn->desc, reset_offsets, 1) ||
	    rn->desc->reset_offsets == NULL)) {
		ks_log_msg(KSINK_LOG_ERROR, rn->who, "sink %s (%s, sink ABI "
		    "%u.%u) does not support resetting offsets: it has no "
		    "reset_offsets() (sink ABI 1.1); its offsets can only be "
		    "listed", rn->desc->name, ks_worker_plugin_path(rn->w),
		    rn->desc->abi_major, rn->desc->abi_minor);
		return KS_EXIT_FAILURE;
	}
	return KS_EXIT_OK;
}

/* Opens the sink as the daemon does. */
static int
open_sink(struct ks_offsets_run *rn)
{
	char err[1024];
	int cfg;

	if (ks_worker_open(rn->w, &cfg, err, sizeof(err)) == -1) {
		log_error("%s", err);
		return cfg ? KS_EXIT_CONFIG : KS_EXIT_FAILURE;
	}
	(void)ks_worker_sink(rn->w, &rn->sink);
	return KS_EXIT_OK;
}

/* The sink's offsets of every row, into before or after, read (and
 * retried) as the daemon reads them. */
static int
load_offsets(struct ks_offsets_run *rn, int after)
{
	struct ksink_offset *offs;
	char err[1024] = "";
	size_t i;
	int st;

	if (rn->nrows == 0)
		return 0;
	offs = ks_util_xcalloc(rn->nrows, sizeof(*offs));
	for (i = 0; i < rn->nrows; i++) {
		offs[i].topic = rn->rows[i].topic;
		offs[i].partition = rn->rows[i].partition;
	}
	st = ks_worker_load_offsets(rn->w, offs, rn->nrows, err, sizeof(err));
	if (st != KSINK_OK) {
		free(offs);
		ks_log_msg(KSINK_LOG_ERROR, rn->who, "sink %s cannot read its "
		    "stored offsets: %s", rn->desc->name, *err ? err :
		    ksink_status_name(st));
		return -1;
	}
	for (i = 0; i < rn->nrows; i++) {
		if (offs[i].next_offset < 0)
			offs[i].next_offset = KSINK_OFFSET_NONE;
		if (after)
			rn->rows[i].after = offs[i].next_offset;
		else
			rn->rows[i].before = rn->rows[i].after =
			    offs[i].next_offset;
	}
	free(offs);
	return 0;
}

/* ---- Kafka ---- */

static int
kafka_new(struct ks_offsets_run *rn)
{
	struct ks_errors errs = { 0 };
	rd_kafka_conf_t *rkc;
	char err[512];
	size_t len;
	int reset;

	rkc = ks_consumer_conf(rn->conf, rn->sec, &reset, &errs);
	if (rkc == NULL) {
		/* load_conf() found these already. */
		ks_errors_print(&errs, stderr);
		ks_errors_free(&errs);
		return KS_EXIT_CONFIG;
	}
	ks_errors_free(&errs);
	len = sizeof(rn->group.id);
	if (rd_kafka_conf_get(rkc, "group.id", rn->group.id, &len) !=
	    RD_KAFKA_CONF_OK)
		snprintf(rn->group.id, sizeof(rn->group.id), "ksink-%s",
		    rn->sec->name);
	len = sizeof(rn->bootstrap);
	if (rd_kafka_conf_get(rkc, "bootstrap.servers", rn->bootstrap,
	    &len) != RD_KAFKA_CONF_OK || *rn->bootstrap == '\0')
		snprintf(rn->bootstrap, sizeof(rn->bootstrap), "(not set)");
	len = 0;
	if (rd_kafka_conf_get(rkc, "topic.blacklist", NULL, &len) ==
	    RD_KAFKA_CONF_OK && len > 1) {
		rn->blacklist = ks_util_xmalloc(len);
		rd_kafka_conf_get(rkc, "topic.blacklist", rn->blacklist, &len);
	}
	/* A client of the group's, which never joins it: it only commits
	 * offsets on its behalf, as kafka-consumer-groups does. */
	rn->rk = rd_kafka_new(RD_KAFKA_CONSUMER, rkc, err, sizeof(err));
	if (rn->rk == NULL) {
		rd_kafka_conf_destroy(rkc);
		ks_log_msg(KSINK_LOG_ERROR, rn->who, "cannot create a Kafka "
		    "client: %s", err);
		return KS_EXIT_FAILURE;
	}
	return KS_EXIT_OK;
}

static int
row_cmp(const void *a, const void *b)
{
	const struct ks_offsets_row *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);

	if (c != 0)
		return c;
	return x->partition < y->partition ? -1 : x->partition > y->partition;
}

/* Whether librdkafka's topic.blacklist, a comma list of regular
 * expressions, hides topic from every subscription. */
static int
blacklisted(const struct ks_offsets_run *rn, const char *topic)
{
	char *copy, *tok, *save;
	regex_t re;
	int hit = 0;

	if (rn->blacklist == NULL)
		return 0;
	copy = ks_util_strdup(rn->blacklist);
	for (tok = strtok_r(copy, ",", &save); tok != NULL && !hit;
	    tok = strtok_r(NULL, ",", &save)) {
		if (regcomp(&re, tok, REG_EXTENDED | REG_NOSUB) != 0)
			continue;
		hit = regexec(&re, topic, 0, NULL, 0) == 0;
		regfree(&re);
	}
	free(copy);
	return hit;
}

static void
add_topic_rows(struct ks_offsets_run *rn, const struct rd_kafka_metadata_topic *t)
{
	size_t i, j;

	if (blacklisted(rn, t->topic))
		return;
	/* The same topic named twice, or matched by two patterns. */
	for (j = 0; j < rn->nrows; j++)
		if (strcmp(rn->rows[j].topic, t->topic) == 0)
			return;
	rn->rows = ks_util_xrealloc(rn->rows, (rn->nrows +
	    (size_t)t->partition_cnt) * sizeof(*rn->rows));
	for (i = 0; i < (size_t)t->partition_cnt; i++) {
		struct ks_offsets_row *r = &rn->rows[rn->nrows++];

		memset(r, 0, sizeof(*r));
		r->topic = ks_util_strdup(t->topic);
		r->partition = t->partitions[i].id;
		r->low = r->high = -1;
		r->before = r->after = r->target = KSINK_OFFSET_NONE;
	}
}

/* The partitions of the connector's topics, from the metadata. */
static int
list_partitions(struct ks_offsets_run *rn)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	char *copy, *tok, *save, *e, ebuf[256];
	regex_t re;
	int i, rc = KS_EXIT_OK, found, ec;

	err = rd_kafka_metadata(rn->rk, 1, NULL, &md, KAFKA_TIMEOUT_MS);
	if (err) {
		ks_log_msg(KSINK_LOG_ERROR, rn->who, "cannot list the "
		    "partitions of %s: no answer from the Kafka brokers (%s) "
		    "within %d s: %s; check [kafka] bootstrap.servers and "
		    "that the brokers run", rn->topics, rn->bootstrap,
		    KAFKA_TIMEOUT_MS / 1000, rd_kafka_err2str(err));
		return KS_EXIT_FAILURE;
	}
	/* Split as ks_consumer_subscribe() does. */
	copy = ks_util_strdup(rn->topics);
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t' || *tok == '\n')
			tok++;
		e = tok + strlen(tok);
		while (e > tok && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\n'))
			*--e = '\0';
		if (*tok == '\0')
			continue;
		found = 0;
		if (*tok == '^') {
			if ((ec = regcomp(&re, tok, REG_EXTENDED | REG_NOSUB))
			    != 0) {
				regerror(ec, &re, ebuf, sizeof(ebuf));
				ks_log_msg(KSINK_LOG_ERROR, rn->who, "topics: "
				    "%s is not a valid regular expression: %s",
				    tok, ebuf);
				rc = KS_EXIT_CONFIG;
				break;
			}
			for (i = 0; i < md->topic_cnt; i++)
				if (md->topics[i].err == 0 &&
				    regexec(&re, md->topics[i].topic, 0, NULL,
				    0) == 0) {
					add_topic_rows(rn, &md->topics[i]);
					found = 1;
				}
			regfree(&re);
		} else
			for (i = 0; i < md->topic_cnt && !found; i++) {
				if (strcmp(md->topics[i].topic, tok) != 0)
					continue;
				found = 1;
				if (md->topics[i].err == 0)
					add_topic_rows(rn, &md->topics[i]);
				else
					ks_log_msg(KSINK_LOG_WARN, rn->who,
					    "topics: %s: %s", tok,
					    rd_kafka_err2str(
					    md->topics[i].err));
			}
		if (!found)
			ks_log_msg(KSINK_LOG_WARN, rn->who, "topics: %s %s",
			    tok, *tok == '^' ? "matches no topic of the "
			    "cluster" : "does not exist (yet)");
	}
	free(copy);
	rd_kafka_metadata_destroy(md);
	if (rn->nrows > 1)
		qsort(rn->rows, rn->nrows, sizeof(*rn->rows), row_cmp);
	return rc;
}

/* Each partition's watermarks; the high one is the last stable offset,
 * since the client reads read_committed. */
static int
watermarks(struct ks_offsets_run *rn)
{
	rd_kafka_resp_err_t err;
	struct ks_offsets_row *r;
	size_t i;

	for (i = 0; i < rn->nrows; i++) {
		r = &rn->rows[i];
		err = ks_consumer_watermarks(rn->rk, r->topic,
		    r->partition, &r->low, &r->high, KAFKA_TIMEOUT_MS);
		if (err) {
			ks_log_msg(KSINK_LOG_ERROR, rn->who, "cannot read the "
			    "watermarks of %s/%" PRId32 ": %s", r->topic,
			    r->partition, rd_kafka_err2str(err));
			return KS_EXIT_FAILURE;
		}
	}
	return KS_EXIT_OK;
}

static void
group_clear(struct ks_offsets_group *g)
{
	free(g->clients);
	g->clients = NULL;
	g->known = g->exists = g->members = 0;
	g->state[0] = g->error[0] = '\0';
}

/* What the brokers say of the connector's consumer group. */
static void
group_describe(struct ks_offsets_run *rn)
{
	const struct rd_kafka_group_list *gl = NULL;
	const struct rd_kafka_group_info *gi;
	struct ks_offsets_group *g = &rn->group;
	rd_kafka_resp_err_t err;
	size_t len = 0, cap = 0;
	int i, j;

	group_clear(g);
	err = rd_kafka_list_groups(rn->rk, g->id, &gl, KAFKA_TIMEOUT_MS);
	if (err) {
		snprintf(g->error, sizeof(g->error), "the brokers could not "
		    "describe it: %s", rd_kafka_err2str(err));
		return;
	}
	g->known = 1;
	for (i = 0; i < gl->group_cnt; i++) {
		gi = &gl->groups[i];
		if (strcmp(gi->group, g->id) != 0)
			continue;
		if (gi->err) {
			g->known = 0;
			snprintf(g->error, sizeof(g->error), "broker %" PRId32
			    " could not describe it: %s", gi->broker.id,
			    rd_kafka_err2str(gi->err));
			break;
		}
		g->exists = 1;
		snprintf(g->state, sizeof(g->state), "%s", gi->state ?
		    gi->state : "?");
		for (j = 0; j < gi->member_cnt; j++) {
			const struct rd_kafka_group_member_info *m =
			    &gi->members[j];
			size_t need = strlen(m->client_id ? m->client_id :
			    "?") + strlen(m->client_host ? m->client_host :
			    "?") + 8;

			if (len + need >= cap) {
				cap = (len + need) * 2;
				g->clients = ks_util_xrealloc(g->clients, cap);
			}
			len += snprintf(g->clients + len, cap - len,
			    "%s%s (%s)", j ? ", " : "", m->client_id ?
			    m->client_id : "?", m->client_host ?
			    m->client_host : "?");
			g->members++;
		}
	}
	rd_kafka_group_list_destroy(gl);
}

/* A reset needs a connector that no worker runs. */
static int
check_stopped(struct ks_offsets_run *rn)
{
	struct ks_offsets_group *g = &rn->group;

	if (g->known && g->members > 0) {
		log_error("connector %s is running (consumer group %s has "
		    "%d member%s: client ids %s); stop it first: a running "
		    "worker keeps the offsets it read at assignment and would "
		    "not see the reset", rn->sec->name,
		    g->id, g->members, g->members == 1 ? "" : "s",
		    g->clients);
		return KS_EXIT_FAILURE;
	}
	if (!g->known && !rn->a->force) {
		log_error("cannot tell whether connector %s is running: "
		    "consumer group %s: %s; refusing "
		    "to reset; when you know that no worker runs it, add "
		    "--force", rn->sec->name, g->id, g->error);
		return KS_EXIT_FAILURE;
	}
	if (!g->known)
		ks_log_msg(KSINK_LOG_WARN, rn->who, "--force: resetting "
		    "although consumer group %s cannot be described (%s)",
		    g->id, g->error);
	return KS_EXIT_OK;
}

/* Waits for the one event a request posts on q; NULL on timeout. */
static rd_kafka_event_t *
wait_event(rd_kafka_queue_t *q, rd_kafka_event_type_t type)
{
	rd_kafka_event_t *ev;
	int64_t deadline = ks_util_now_ms() + KAFKA_TIMEOUT_MS, left;

	while ((left = deadline - ks_util_now_ms()) > 0) {
		ev = rd_kafka_queue_poll(q, (int)left);
		if (ev == NULL)
			return NULL;
		if (rd_kafka_event_type(ev) == type)
			return ev;
		rd_kafka_event_destroy(ev);
	}
	return NULL;
}

/* First error of a partition list, or 0. */
static rd_kafka_resp_err_t
list_error(const rd_kafka_topic_partition_list_t *l, const char **topic,
    int32_t *partition)
{
	int i;

	for (i = 0; l != NULL && i < l->cnt; i++)
		if (l->elems[i].err) {
			*topic = l->elems[i].topic;
			*partition = l->elems[i].partition;
			return l->elems[i].err;
		}
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/*
 * After a reset: the group's committed offsets follow the sink's, for
 * lag tools.  Best effort, and only while the group is still empty: a
 * worker that joined meanwhile owns them.
 */
static void
commit_group(struct ks_offsets_run *rn)
{
	rd_kafka_topic_partition_list_t *set, *del;
	rd_kafka_DeleteConsumerGroupOffsets_t *dg;
	const rd_kafka_DeleteConsumerGroupOffsets_result_t *res;
	const rd_kafka_group_result_t **gres;
	const rd_kafka_error_t *gerr;
	rd_kafka_AdminOptions_t *opts;
	rd_kafka_queue_t *q;
	rd_kafka_event_t *ev;
	rd_kafka_resp_err_t err;
	const char *t = "";
	int32_t p = -1;
	size_t i, ng;
	int ok = 1;

	group_describe(rn);
	if (!rn->group.known || rn->group.members > 0) {
		if (rn->group.members > 0)
			ks_log_msg(KSINK_LOG_WARN, rn->who, "consumer group %s "
			    "has members again (%s): a worker started during "
			    "the reset; restart it so that it reads the new "
			    "offsets", rn->group.id, rn->group.clients);
		else
			ks_log_msg(KSINK_LOG_WARN, rn->who, "the offsets of "
			    "consumer group %s were not updated (lag tools "
			    "show the old ones until the connector runs): %s",
			    rn->group.id, rn->group.error);
		return;
	}
	set = rd_kafka_topic_partition_list_new((int)rn->nrows);
	del = rd_kafka_topic_partition_list_new((int)rn->nrows);
	for (i = 0; i < rn->nrows; i++) {
		if (!rn->rows[i].reset)
			continue;
		if (rn->rows[i].after >= 0)
			rd_kafka_topic_partition_list_add(set,
			    rn->rows[i].topic, rn->rows[i].partition)->offset =
			    rn->rows[i].after;
		else if (rn->group.exists)
			rd_kafka_topic_partition_list_add(del,
			    rn->rows[i].topic, rn->rows[i].partition);
	}
	q = rd_kafka_queue_new(rn->rk);
	if (set->cnt > 0) {
		err = rd_kafka_commit_queue(rn->rk, set, q, NULL, NULL);
		if (!err) {
			if ((ev = wait_event(q, RD_KAFKA_EVENT_OFFSET_COMMIT))
			    == NULL)
				err = RD_KAFKA_RESP_ERR__TIMED_OUT;
			else {
				if (!(err = rd_kafka_event_error(ev)))
					err = list_error(
					    rd_kafka_event_topic_partition_list(
					    ev), &t, &p);
				rd_kafka_event_destroy(ev);
			}
		}
		if (err) {
			char where[300] = "";

			if (p >= 0)
				snprintf(where, sizeof(where), " (%s/%" PRId32
				    ")", t, p);
			ks_log_msg(KSINK_LOG_WARN, rn->who, "committing the "
			    "new offsets to consumer group %s failed%s: %s; "
			    "lag tools show the old ones until the connector "
			    "runs", rn->group.id, where,
			    rd_kafka_err2str(err));
			ok = 0;
		}
	}
	if (del->cnt > 0) {
		opts = rd_kafka_AdminOptions_new(rn->rk,
		    RD_KAFKA_ADMIN_OP_DELETECONSUMERGROUPOFFSETS);
		rd_kafka_AdminOptions_set_request_timeout(opts,
		    KAFKA_TIMEOUT_MS, NULL, 0);
		dg = rd_kafka_DeleteConsumerGroupOffsets_new(rn->group.id,
		    del);
		rd_kafka_DeleteConsumerGroupOffsets(rn->rk, &dg, 1, opts, q);
		rd_kafka_DeleteConsumerGroupOffsets_destroy(dg);
		rd_kafka_AdminOptions_destroy(opts);
		err = RD_KAFKA_RESP_ERR__TIMED_OUT;
		if ((ev = wait_event(q,
		    RD_KAFKA_EVENT_DELETECONSUMERGROUPOFFSETS_RESULT)) != NULL) {
			if (!(err = rd_kafka_event_error(ev)) &&
			    (res = rd_kafka_event_DeleteConsumerGroupOffsets_result(
			    ev)) != NULL) {
				gres = rd_kafka_DeleteConsumerGroupOffsets_result_groups(
				    res, &ng);
				for (i = 0; i < ng && !err; i++) {
					if ((gerr = rd_kafka_group_result_error(
					    gres[i])) != NULL)
						err = rd_kafka_error_code(gerr);
					else
						err = list_error(
						    rd_kafka_group_result_partitions(
						    gres[i]), &t, &p);
				}
			}
			rd_kafka_event_destroy(ev);
		}
		if (err) {
			ks_log_msg(KSINK_LOG_WARN, rn->who, "deleting the "
			    "offsets of forgotten partitions from consumer "
			    "group %s failed: %s; lag tools show the old ones "
			    "until the connector runs", rn->group.id,
			    rd_kafka_err2str(err));
			ok = 0;
		}
	}
	rd_kafka_queue_destroy(q);
	rd_kafka_topic_partition_list_destroy(set);
	rd_kafka_topic_partition_list_destroy(del);
	rn->committed = ok;
}

/* ---- the reset ---- */

static struct ks_offsets_row *
row_find(struct ks_offsets_run *rn, const char *topic, int32_t partition)
{
	size_t i;

	for (i = 0; i < rn->nrows; i++)
		if (rn->rows[i].partition == partition &&
		    strcmp(rn->rows[i].topic, topic) == 0)
			return &rn->rows[i];
	return NULL;
}

/* Resolves the targets of --reset and checks them against the
 * watermarks. */
static int
plan(struct ks_offsets_run *rn)
{
	const struct ks_offsets_args *a = rn->a;
	struct ks_offsets_row *r;
	int32_t maxp;
	size_t i, j;

	if (rn->nrows == 0) {
		ks_log_msg(KSINK_LOG_ERROR, rn->who, "nothing to reset: "
		    "topics = %s has no partition in the cluster", rn->topics);
		return KS_EXIT_FAILURE;
	}
	for (i = 0; i < rn->nrows; i++) {
		r = &rn->rows[i];
		if (a->mode == KS_OFFSETS_EARLIEST) {
			r->target = r->low;
			r->reset = 1;
		} else if (a->mode == KS_OFFSETS_LATEST) {
			r->target = r->high;
			r->reset = 1;
		}
	}
	for (i = 0; i < a->nspecs; i++) {
		const struct ks_offsets_spec *sp = &a->specs[i];

		if ((r = row_find(rn, sp->topic, sp->partition)) == NULL) {
			maxp = -1;
			for (j = 0; j < rn->nrows; j++)
				if (strcmp(rn->rows[j].topic, sp->topic) == 0 &&
				    rn->rows[j].partition > maxp)
					maxp = rn->rows[j].partition;
			if (maxp >= 0)
				ks_log_msg(KSINK_LOG_ERROR, rn->who, "--reset "
				    "%s:%" PRId32 ": topic %s has partitions 0 "
				    "to %" PRId32 " only", sp->topic,
				    sp->partition, sp->topic, maxp);
			else
				ks_log_msg(KSINK_LOG_ERROR, rn->who, "--reset "
				    "%s:%" PRId32 ": %s is not one of the "
				    "connector's topics (topics = %s)",
				    sp->topic, sp->partition, sp->topic,
				    rn->topics);
			return KS_EXIT_FAILURE;
		}
		r->reset = 1;
		if (sp->offset == KS_OFFSETS_TO_NONE)
			r->target = KSINK_OFFSET_NONE;
		else if (sp->offset == KS_OFFSETS_TO_EARLIEST)
			r->target = r->low;
		else if (sp->offset == KS_OFFSETS_TO_LATEST)
			r->target = r->high;
		else {
			if (sp->offset < r->low || sp->offset > r->high) {
				ks_log_msg(KSINK_LOG_ERROR, rn->who, "--reset "
				    "%s:%" PRId32 "=%" PRId64 ": outside the "
				    "partition's offsets %" PRId64 " (low "
				    "watermark) to %" PRId64 " (high); use "
				    "earliest, latest or none", sp->topic,
				    sp->partition, sp->offset, r->low, r->high);
				return KS_EXIT_FAILURE;
			}
			r->target = sp->offset;
		}
	}
	for (i = 0; i < rn->nrows; i++)
		if (rn->rows[i].reset)
			rn->rows[i].after = rn->rows[i].target;
	return KS_EXIT_OK;
}

struct reset_args {
	struct ks_offsets_run *rn;
	struct ksink_offset *offs;
	size_t n;
};

static int
reset_once(void *arg, char *errbuf, size_t errlen)
{
	struct reset_args *a = arg;

	return a->rn->desc->reset_offsets(a->rn->sink, a->offs, a->n, errbuf,
	    errlen);
}

/* One call of reset_offsets(): one atomic step of the sink, retried as
 * the daemon retries. */
static int
reset(struct ks_offsets_run *rn)
{
	struct reset_args ra = { rn, NULL, 0 };
	char err[1024] = "";
	size_t i;
	int st;

	ra.offs = ks_util_xcalloc(rn->nrows + 1, sizeof(*ra.offs));
	for (i = 0; i < rn->nrows; i++) {
		if (!rn->rows[i].reset)
			continue;
		ra.offs[ra.n].topic = rn->rows[i].topic;
		ra.offs[ra.n].partition = rn->rows[i].partition;
		ra.offs[ra.n].next_offset = rn->rows[i].target;
		ra.n++;
	}
	st = ks_retry_call(reset_once, &ra, rn->who, "reset its offsets", err,
	    sizeof(err));
	free(ra.offs);
	if (st != KSINK_OK) {
		ks_log_msg(KSINK_LOG_ERROR, rn->who, "sink %s could not reset "
		    "its offsets (%s), nothing was changed: %s", rn->desc->name,
		    ksink_status_name(st), *err ? err : "no detail");
		return KS_EXIT_FAILURE;
	}
	return KS_EXIT_OK;
}

static int
run(struct ks_offsets_run *rn)
{
	int rc, resetting = rn->a->mode != KS_OFFSETS_LIST;
	size_t i, n = 0;

	if ((rc = load_conf(rn)) != KS_EXIT_OK ||
	    (rc = check_plugin(rn)) != KS_EXIT_OK ||
	    (rc = kafka_new(rn)) != KS_EXIT_OK ||
	    (rc = list_partitions(rn)) != KS_EXIT_OK)
		return rc;
	group_describe(rn);
	if (resetting && (rc = check_stopped(rn)) != KS_EXIT_OK)
		return rc;
	if ((rc = watermarks(rn)) != KS_EXIT_OK ||
	    (rc = open_sink(rn)) != KS_EXIT_OK)
		return rc;
	if (load_offsets(rn, 0) == -1)
		return KS_EXIT_FAILURE;
	if (resetting) {
		if ((rc = plan(rn)) != KS_EXIT_OK)
			return rc;
		if (!rn->a->dry_run) {
			if ((rc = reset(rn)) != KS_EXIT_OK)
				return rc;
			if (load_offsets(rn, 1) == -1)
				return KS_EXIT_FAILURE;
			for (i = 0; i < rn->nrows; i++) {
				if (!rn->rows[i].reset)
					continue;
				n++;
				if (rn->rows[i].after != rn->rows[i].target) {
					ks_log_msg(KSINK_LOG_ERROR, rn->who,
					    "sink %s reports offset %" PRId64
					    " for %s/%" PRId32 " after the "
					    "reset to %" PRId64 "; the plugin "
					    "is broken", rn->desc->name,
					    rn->rows[i].after,
					    rn->rows[i].topic,
					    rn->rows[i].partition,
					    rn->rows[i].target);
					rc = KS_EXIT_FAILURE;
				}
			}
			/* Closed before the group learns the offsets: a
			 * worker started then finds them in the sink. */
			ks_worker_close(rn->w);
			rn->sink = NULL;
			if (rc == KS_EXIT_OK)
				commit_group(rn);
		}
	}
	if (rn->a->json)
		ks_offsets_print_json(rn);
	else {
		ks_offsets_print_table(rn);
		if (resetting && rn->a->dry_run)
			printf("dry run: nothing was changed\n");
		else if (resetting)
			printf("reset %zu partition%s in one step of sink "
			    "%s; consumer group %s %s\n", n, n == 1 ? "" : "s",
			    rn->desc->name, rn->group.id, rn->committed ?
			    "updated too" : "not updated (see above)");
	}
	return rc;
}

int
ks_offsets_main(int argc, char **argv)
{
	struct ks_offsets_args a;
	struct ks_offsets_run rn;
	char err[1024];
	size_t i;
	int rc;

	if (ks_offsets_parse_args(argc, argv, &a, err, sizeof(err)) == -1) {
		fprintf(stderr, "ksink offsets: %s\n", err);
		ks_offsets_usage(stderr);
		ks_offsets_args_free(&a);
		return KS_EXIT_USAGE;
	}
	if (a.help) {
		ks_offsets_usage(stdout);
		ks_offsets_args_free(&a);
		return KS_EXIT_OK;
	}
	memset(&rn, 0, sizeof(rn));
	rn.a = &a;
	rc = run(&rn);
	if (rn.rk != NULL)
		rd_kafka_destroy(rn.rk);
	for (i = 0; i < rn.nws; i++)
		ks_worker_free(rn.ws[i]);
	free(rn.ws);
	for (i = 0; i < rn.nrows; i++)
		free(rn.rows[i].topic);
	free(rn.rows);
	free(rn.topics);
	free(rn.blacklist);
	group_clear(&rn.group);
	ks_conf_free(rn.conf);
	ks_offsets_args_free(&a);
	return rc;
}
