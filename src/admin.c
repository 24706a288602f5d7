/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin.c - the admin endpoint, served with libmicrohttpd.
 *
 *   GET  /metrics                    Prometheus text format
 *   GET  /connectors                 every connector, JSON
 *   GET  /connectors/NAME            one connector, JSON
 *   POST /connectors/NAME/pause      pause all its partitions
 *   POST /connectors/NAME/resume     resume them
 *   GET  /status                     a table for people (ksink status)
 *
 * Off unless [worker] admin.listen is set.  Nothing it serves holds a
 * configuration value, so no secret can leak through it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "admin.h"
#include "log.h"
#include "util.h"
#include "worker.h"
#include "../connectors/lib/buf.h"
#include "../connectors/lib/json.h"

struct ks_admin {
	struct MHD_Daemon *mhd;
	struct ks_worker **ws;
	size_t n;
};

int
ks_admin_parse_listen(const char *listen, struct sockaddr_storage *ss,
    socklen_t *len, char *errbuf, size_t errlen)
{
	struct addrinfo hints, *res;
	char host[256];
	const char *colon, *port, *h = listen;
	size_t hl;
	int64_t p;
	int rc;

	if (*listen == '[') {
		colon = strstr(listen, "]:");
		h = listen + 1;
		if (colon == NULL)
			goto bad;
		hl = (size_t)(colon - h);
		port = colon + 2;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL)
			goto bad;
		hl = (size_t)(colon - listen);
		port = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host) ||
	    ks_util_parse_int(port, &p) == -1 || p < 0 || p > 65535)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		ks_util_errf(errbuf, errlen, "admin.listen = %s: %s", listen,
		    gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	ks_util_errf(errbuf, errlen, "admin.listen = %s: expected HOST:PORT, "
	    "such as 127.0.0.1:9644 or [::1]:9644", listen);
	return -1;
}

static int
is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr)
		    >> 24) == 127;
	if (ss->ss_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)ss)->sin6_addr);
	return 0;
}

static void
prom_label(struct ks_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"') {
			ks_buf_addc(b, '\\');
			ks_buf_addc(b, *s);
		} else if (*s == '\n')
			ks_buf_add(b, "\\n", 2);
		else
			ks_buf_addc(b, *s);
	}
}

static void
prom_part(struct ks_buf *b, const char *metric, const char *conn,
    const struct ks_part_snapshot *p, long long v)
{
	ks_buf_addf(b, "%s{connector=\"", metric);
	prom_label(b, conn);
	ks_buf_addf(b, "\",topic=\"");
	prom_label(b, p->topic);
	ks_buf_addf(b, "\",partition=\"%d\"} %lld\n", p->partition, v);
}

static void
prom_conn(struct ks_buf *b, const char *metric, const char *conn,
    double v)
{
	ks_buf_addf(b, "%s{connector=\"", metric);
	prom_label(b, conn);
	ks_buf_addf(b, "\"} %.17g\n", v);
}

struct family {
	const char *name;
	const char *type;
	const char *help;
};

static const struct family families[] = {
	{ "ksink_connector_state", "gauge",
	  "1 for the state the connector is in" },
	{ "ksink_records_total", "counter",
	  "Records applied by the sink, per partition" },
	{ "ksink_batches_total", "counter",
	  "Sink transactions committed that held records of the partition" },
	{ "ksink_bytes_total", "counter",
	  "Bytes of keys and values applied, per partition" },
	{ "ksink_sink_next_offset", "gauge",
	  "Next offset the sink stored for the partition" },
	{ "ksink_group_offset", "gauge",
	  "Offset last committed to the consumer group, for lag tools" },
	{ "ksink_high_watermark", "gauge",
	  "High watermark of the partition, as last heard from the broker" },
	{ "ksink_consumer_lag", "gauge",
	  "High watermark minus the sink's next offset (transaction markers "
	  "count)" },
	{ "ksink_partition_assigned", "gauge",
	  "1 while the partition is assigned to this worker" },
	{ "ksink_partition_stalled", "gauge",
	  "1 while an open transaction holds the partition back" },
	{ "ksink_sink_commit_seconds", "histogram",
	  "Time of one sink transaction, begin to commit" },
	{ "ksink_retries_total", "counter",
	  "Batches retried after a transient sink failure" },
	{ "ksink_poison_records_total", "counter",
	  "Records skipped under errors.tolerance = all" },
	{ "ksink_dlq_records_total", "counter",
	  "Records written to a dead letter queue" },
	{ "ksink_rebalances_total", "counter",
	  "Partition assignments received" },
	{ "ksink_seconds_since_last_commit", "gauge",
	  "Seconds since the sink last committed a batch (-1: never)" },
	{ "ksink_sink_events_total", "counter",
	  "Events the sink counted, by kind (postgres: fenced)" },
};

static void
ks_admin_metrics(struct ks_worker **ws, size_t n, struct ks_buf *b)
{
	struct ks_worker_snapshot *s;
	size_t f, i, j, k;
	uint64_t cum;
	int64_t now = ks_util_wall_ms();

	s = ks_util_xcalloc(n, sizeof(*s));
	for (i = 0; i < n; i++)
		ks_worker_snapshot(ws[i], &s[i]);
	for (f = 0; f < KS_ARRAY_SIZE(families); f++) {
		ks_buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n",
		    families[f].name, families[f].help, families[f].name,
		    families[f].type);
		for (i = 0; i < n; i++) {
			const char *c = s[i].name;

			switch (f) {
			case 0:
				for (k = 0; k < KS_STATE_COUNT; k++) {
					ks_buf_addf(b,
					    "%s{connector=\"",
					    families[f].name);
					prom_label(b, c);
					ks_buf_addf(b,
					    "\",state=\"%s\"} %d\n",
					    ks_worker_state_name(k),
					    (int)k == s[i].state);
				}
				break;
			case 10:
				cum = 0;
				for (k = 0; k <= KS_LATENCY_BUCKETS; k++) {
					cum += s[i].latency[k];
					ks_buf_addf(b,
					    "%s_bucket{connector=\"",
					    families[f].name);
					prom_label(b, c);
					if (k < KS_LATENCY_BUCKETS)
						ks_buf_addf(b,
						    "\",le=\"%g\"} %llu\n",
						    ks_stats_latency_bounds[k],
						    (unsigned long long)cum);
					else
						ks_buf_addf(b,
						    "\",le=\"+Inf\"} %llu\n",
						    (unsigned long long)cum);
				}
				ks_buf_addf(b, "%s_sum{connector=\"",
				    families[f].name);
				prom_label(b, c);
				ks_buf_addf(b, "\"} %.6f\n",
				    s[i].latency_sum);
				ks_buf_addf(b, "%s_count{connector=\"",
				    families[f].name);
				prom_label(b, c);
				ks_buf_addf(b, "\"} %llu\n",
				    (unsigned long long)cum);
				break;
			case 11:
				prom_conn(b, families[f].name, c,
				    (double)s[i].stats.retries);
				break;
			case 12:
				prom_conn(b, families[f].name, c,
				    (double)s[i].stats.poison);
				break;
			case 13:
				prom_conn(b, families[f].name, c,
				    (double)s[i].dlq);
				break;
			case 14:
				prom_conn(b, families[f].name, c,
				    (double)s[i].rebalances);
				break;
			case 15:
				prom_conn(b, families[f].name, c,
				    s[i].last_commit_ms == 0 ? -1 :
				    (double)(now - s[i].last_commit_ms) /
				    1000.0);
				break;
			case 16:
				for (k = 0; k < s[i].nevents; k++) {
					ks_buf_addf(b, "%s{connector="
					    "\"", families[f].name);
					prom_label(b, c);
					ks_buf_addf(b, "\",event=\"%s"
					    "\"} %llu\n", s[i].events[k].name,
					    (unsigned long long)
					    s[i].events[k].n);
				}
				break;
			default:
				for (j = 0; j < s[i].nparts; j++) {
					const struct ks_part_snapshot *p =
					    &s[i].parts[j];
					long long v;

					switch (f) {
					case 1: v = (long long)p->records;
						break;
					case 2: v = (long long)p->batches;
						break;
					case 3: v = (long long)p->bytes;
						break;
					case 4: v = p->sink_offset;
						break;
					case 5: v = p->group_offset;
						break;
					case 6: v = p->high_watermark;
						break;
					case 7:
						if (p->high_watermark < 0 ||
						    p->sink_offset < 0)
							continue;
						v = p->high_watermark -
						    p->sink_offset;
						if (v < 0)
							v = 0;
						break;
					case 8: v = p->assigned;
						break;
					default: v = p->stalled;
						break;
					}
					if (f >= 4 && f <= 6 && v < 0)
						continue;
					prom_part(b, families[f].name, c, p,
					    v);
				}
			}
		}
	}
	for (i = 0; i < n; i++)
		ks_worker_snapshot_free(&s[i]);
	free(s);
}

static void
json_connector(struct ks_buf *b, const struct ks_worker_snapshot *s)
{
	size_t j;

	ks_buf_addf(b, "{\"name\":");
	ks_json_add_string(b, s->name, strlen(s->name));
	ks_buf_addf(b, ",\"type\":");
	ks_json_add_string(b, s->type, strlen(s->type));
	ks_buf_addf(b, ",\"state\":\"%s\"",
	    ks_worker_state_name(s->state));
	if (*s->error) {
		ks_buf_addf(b, ",\"error\":");
		ks_json_add_string(b, s->error, strlen(s->error));
	}
	ks_buf_addf(b, ",\"records\":%llu,\"batches\":%llu,"
	    "\"bytes\":%llu,\"retries\":%llu,\"poison_records\":%llu,"
	    "\"rebalances\":%llu,\"last_commit_ms\":%lld,\"partitions\":[",
	    (unsigned long long)s->stats.records,
	    (unsigned long long)s->stats.batches,
	    (unsigned long long)s->bytes,
	    (unsigned long long)s->stats.retries,
	    (unsigned long long)s->stats.poison,
	    (unsigned long long)s->rebalances,
	    (long long)s->last_commit_ms);
	for (j = 0; j < s->nparts; j++) {
		const struct ks_part_snapshot *p = &s->parts[j];

		ks_buf_addf(b, "%s{\"topic\":", j ? "," : "");
		ks_json_add_string(b, p->topic, strlen(p->topic));
		ks_buf_addf(b, ",\"partition\":%d,\"assigned\":%s,"
		    "\"records\":%llu", p->partition,
		    p->assigned ? "true" : "false",
		    (unsigned long long)p->records);
#define OPT(name, v) \
		if ((v) >= 0) \
			ks_buf_addf(b, ",\"" name "\":%lld", \
			    (long long)(v)); \
		else \
			ks_buf_addf(b, ",\"" name "\":null")
		OPT("sink_offset", p->sink_offset);
		OPT("group_offset", p->group_offset);
		OPT("high_watermark", p->high_watermark);
		ks_buf_addf(b, ",\"stalled\":%s", p->stalled ? "true" :
		    "false");
		OPT("lag", p->high_watermark >= 0 && p->sink_offset >= 0 ?
		    (p->high_watermark > p->sink_offset ? p->high_watermark -
		    p->sink_offset : 0) : -1);
#undef OPT
		ks_buf_addf(b, "}");
	}
	ks_buf_addf(b, "],\"sink_events\":{");
	for (j = 0; j < s->nevents; j++)
		ks_buf_addf(b, "%s\"%s\":%llu", j ? "," : "",
		    s->events[j].name, (unsigned long long)s->events[j].n);
	ks_buf_addf(b, "}}");
}

static struct ks_worker *
find_worker(struct ks_admin *a, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (strlen(ks_worker_name(a->ws[i])) == len &&
		    strncmp(ks_worker_name(a->ws[i]), name, len) == 0)
			return a->ws[i];
	return NULL;
}

static void
fmt_offset(char *buf, size_t len, int64_t v)
{
	if (v >= 0)
		snprintf(buf, len, "%lld", (long long)v);
	else
		snprintf(buf, len, "-");
}

/* The table `ksink status` prints; returns the failed connectors. */
static int
ks_admin_status_text(struct ks_worker **ws, size_t n, struct ks_buf *b)
{
	struct ks_worker_snapshot s;
	char so[24], go[24], hw[24], lag[24];
	size_t i, j;
	int failed = 0;

	ks_buf_addf(b, "%-16s %-8s %-9s %-20s %5s %12s %12s %12s %8s\n",
	    "CONNECTOR", "TYPE", "STATE", "TOPIC", "PART", "SINK-OFFSET",
	    "GROUP-OFFSET", "HIGH-WATER", "LAG");
	for (i = 0; i < n; i++) {
		ks_worker_snapshot(ws[i], &s);
		failed += s.state == KS_STATE_FAILED;
		if (s.nparts == 0)
			ks_buf_addf(b, "%-16s %-8s %-9s %-20s %5s "
			    "%12s %12s %12s %8s\n", s.name, s.type,
			    ks_worker_state_name(s.state), "-", "-", "-", "-",
			    "-", "-");
		for (j = 0; j < s.nparts; j++) {
			const struct ks_part_snapshot *p = &s.parts[j];

			if (!p->assigned)
				continue;
			fmt_offset(so, sizeof(so), p->sink_offset);
			fmt_offset(go, sizeof(go), p->group_offset);
			fmt_offset(hw, sizeof(hw), p->high_watermark);
			fmt_offset(lag, sizeof(lag), p->high_watermark >= 0 &&
			    p->sink_offset >= 0 ? (p->high_watermark >
			    p->sink_offset ? p->high_watermark -
			    p->sink_offset : 0) : -1);
			ks_buf_addf(b, "%-16s %-8s %-9s %-20s %5d "
			    "%12s %12s %12s %8s\n", s.name, s.type,
			    ks_worker_state_name(s.state), p->topic,
			    p->partition, so, go, hw, lag);
		}
		if (*s.error)
			ks_buf_addf(b, "  %s: %s\n", s.name, s.error);
		ks_buf_addf(b, "  %s: %llu records in %llu batches, "
		    "%llu retries, %llu skipped\n", s.name,
		    (unsigned long long)s.stats.records,
		    (unsigned long long)s.stats.batches,
		    (unsigned long long)s.stats.retries,
		    (unsigned long long)s.stats.poison);
		for (j = 0; j < s.nevents; j++) {
			if (j == 0)
				ks_buf_addf(b, "  %s: sink events:",
				    s.name);
			ks_buf_addf(b, "%s %s %llu%s", j ? "," : "",
			    s.events[j].name,
			    (unsigned long long)s.events[j].n,
			    j + 1 == s.nevents ? "\n" : "");
		}
		ks_worker_snapshot_free(&s);
	}
	return failed;
}

/* Sends body, which it takes; a body that ran out of memory is answered
 * 500. */
static enum MHD_Result
reply(struct MHD_Connection *c, unsigned code, const char *type,
    struct ks_buf *body, int failed)
{
	static char oom[] = "{\"error\":\"out of memory\"}\n";
	struct MHD_Response *r;
	enum MHD_Result ret;
	char nb[16];

	ks_buf_add(body, "", 0);	/* allocated, even when empty */
	if (body->oom) {
		ks_buf_free(body);
		code = 500;
		type = "application/json";
		failed = -1;
		r = MHD_create_response_from_buffer(sizeof(oom) - 1, oom,
		    MHD_RESPMEM_PERSISTENT);
	} else
		r = MHD_create_response_from_buffer(body->len, body->p,
		    MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	if (failed >= 0) {
		snprintf(nb, sizeof(nb), "%d", failed);
		MHD_add_response_header(r, "Ksink-Failed-Connectors", nb);
	}
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
error_reply(struct MHD_Connection *c, unsigned code, const char *msg)
{
	struct ks_buf b = { 0 };

	ks_buf_addf(&b, "{\"error\":");
	ks_json_add_string(&b, msg, strlen(msg));
	ks_buf_addf(&b, "}\n");
	return reply(c, code, "application/json", &b, -1);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload,
    size_t *upload_size, void **state)
{
	static int first;
	struct ks_admin *a = cls;
	struct ks_worker_snapshot s;
	struct ks_worker *w;
	struct ks_buf b = { 0 };
	const char *name, *slash;
	int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
	int post = strcmp(method, "POST") == 0;
	int failed;
	size_t i;

	(void)version;
	(void)upload;
	if (*state == NULL) {
		*state = &first;
		return MHD_YES;
	}
	if (*upload_size != 0) {
		*upload_size = 0;	/* bodies are ignored */
		return MHD_YES;
	}
	if (strcmp(url, "/metrics") == 0) {
		if (!get)
			return error_reply(c, 405, "use GET");
		ks_admin_metrics(a->ws, a->n, &b);
		return reply(c, 200, "text/plain; version=0.0.4; "
		    "charset=utf-8", &b, -1);
	}
	if (strcmp(url, "/status") == 0) {
		if (!get)
			return error_reply(c, 405, "use GET");
		failed = ks_admin_status_text(a->ws, a->n, &b);
		return reply(c, 200, "text/plain; charset=utf-8", &b, failed);
	}
	if (strcmp(url, "/connectors") == 0) {
		if (!get)
			return error_reply(c, 405, "use GET");
		failed = 0;
		ks_buf_addf(&b, "[");
		for (i = 0; i < a->n; i++) {
			ks_worker_snapshot(a->ws[i], &s);
			failed += s.state == KS_STATE_FAILED;
			if (i > 0)
				ks_buf_addf(&b, ",");
			json_connector(&b, &s);
			ks_worker_snapshot_free(&s);
		}
		ks_buf_addf(&b, "]\n");
		return reply(c, 200, "application/json", &b, failed);
	}
	if (strncmp(url, "/connectors/", 12) != 0)
		return error_reply(c, 404, "no such resource; see ksink(8)");
	name = url + 12;
	slash = strchr(name, '/');
	w = find_worker(a, name, slash ? (size_t)(slash - name) :
	    strlen(name));
	if (w == NULL)
		return error_reply(c, 404, "no such connector");
	if (slash == NULL) {
		if (!get)
			return error_reply(c, 405, "use GET");
		ks_worker_snapshot(w, &s);
		json_connector(&b, &s);
		ks_buf_addf(&b, "\n");
		failed = s.state == KS_STATE_FAILED;
		ks_worker_snapshot_free(&s);
		return reply(c, 200, "application/json", &b, failed);
	}
	if (strcmp(slash, "/pause") != 0 && strcmp(slash, "/resume") != 0)
		return error_reply(c, 404, "no such resource; see ksink(8)");
	if (!post)
		return error_reply(c, 405, "use POST");
	ks_worker_set_paused(w, slash[1] == 'p');
	ks_log_msg(KSINK_LOG_INFO, NULL, "admin endpoint: %s connector %s",
	    slash[1] == 'p' ? "pause" : "resume", ks_worker_name(w));
	ks_buf_addf(&b, "{\"name\":");
	name = ks_worker_name(w);
	ks_json_add_string(&b, name, strlen(name));
	ks_buf_addf(&b, ",\"requested\":\"%s\"}\n", slash + 1);
	return reply(c, 202, "application/json", &b, -1);
}

struct ks_admin *
ks_admin_start(const char *listen, struct ks_worker **ws, size_t n,
    char *errbuf, size_t errlen)
{
	struct sockaddr_storage ss;
	const union MHD_DaemonInfo *info;
	struct ks_admin *a;
	socklen_t len;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;

	if (ks_admin_parse_listen(listen, &ss, &len, errbuf, errlen) == -1)
		return NULL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	a = ks_util_xcalloc(1, sizeof(*a));
	a->ws = ws;
	a->n = n;
	a->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handler, a,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	    MHD_OPTION_END);
	if (a->mhd == NULL) {
		ks_util_errf(errbuf, errlen, "admin endpoint cannot listen on "
		    "%s (address in use, or not this machine's?)", listen);
		free(a);
		return NULL;
	}
	info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
	if (!is_loopback(&ss))
		log_warn("admin endpoint on %s, which is not a loopback "
		    "address: anyone who reaches it can read the metrics and "
		    "pause connectors", listen);
	log_info("admin endpoint listening on %s (port %u)", listen,
	    info ? (unsigned)info->port : 0u);
	return a;
}

void
ks_admin_stop(struct ks_admin *a)
{
	if (a == NULL)
		return;
	MHD_stop_daemon(a->mhd);
	free(a);
}
