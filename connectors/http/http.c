/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/http.c - the HTTP sink.
 *
 * Records are sent to a receiver with libcurl, one request per partition
 * and per http.batch.max.records / http.batch.max.bytes, as a JSON array of
 * record envelopes, as NDJSON, or one raw value per request.
 *
 * Exactly-once comes from one of two protocols (ksink-http(7)):
 *
 *  - the ledger (http.state.path, SQLite): before a request is sent its
 *    intent (partition, offset range, Idempotency-Key, the body's length
 *    and digest) is made durable; on 2xx one transaction deletes the
 *    intent and advances the partition's next offset.  An intent still
 *    there after a crash or a failed attempt is in doubt: it is re-sent
 *    byte-identical (its body rebuilt from its records after a restart,
 *    doubt.c), with the same key, before any later record of its
 *    partition, and the receiver's deduplication of the key makes it take
 *    effect once.
 *
 *  - the offset protocol (http.offsets.url): the receiver stores the next
 *    offset of each partition in its own transaction, says where to start
 *    on assignment, and skips what it already applied, using the Ksink-*
 *    headers of each request.
 *
 * Requests are sent inside write(), so that a record the receiver rejects
 * (a poison record) can be reported with its exact position: a batch whose
 * request is rejected is split in halves until the record is isolated.
 * commit() only stores the offsets of the step (records skipped as poison
 * and fenced records included).
 */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http.h"

static const struct ksink_option options[] = {
	{ .name = "http.url", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_REQUIRED,
	  .doc = "URL that receives the records, http:// or https://.  It "
	    "may not carry a user name or password: use http.basic.user and "
	    "http.basic.password.file.  Logs show it without its query "
	    "string." },
	{ .name = "http.method", .type = KSINK_OPT_ENUM, .def = "POST",
	  .values = "POST|PUT",
	  .doc = "Method of every request that carries records." },
	{ .name = "http.header", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_MULTI,
	  .doc = "An extra request header, written Name: value.  "
	    "A Content-Type given here replaces the default of the body "
	    "format.  Authorization, Proxy-Authorization, Idempotency-Key, "
	    "Content-Length, Transfer-Encoding, Expect and Ksink-* are set "
	    "by the sink and refused here.  Header values are configuration, "
	    "not secrets: keep credentials in http.bearer.token.file or "
	    "http.basic.password.file." },
	{ .name = "http.body.format", .type = KSINK_OPT_ENUM, .def = "json",
	  .values = "json|ndjson|value",
	  .doc = "json: a JSON array of record envelopes (ksink-record(7)) "
	    "(Content-Type: application/json).  ndjson: one envelope per "
	    "line (application/x-ndjson).  value: one request per record, "
	    "whose body is the record's value as it is "
	    "(application/octet-stream)." },
	{ .name = "http.batch.max.records", .type = KSINK_OPT_INT,
	  .def = "5000", .min = 1, .max = 100000,
	  .doc = "Most records in one request.  A batch of the worker that "
	    "holds more is sent as several requests in sequence.  The "
	    "default, that of the worker's batch.max.records, makes one "
	    "request of each partition of a batch." },
	{ .name = "http.batch.max.bytes", .type = KSINK_OPT_INT,
	  .def = "1048576", .min = 1024, .max = 268435456,
	  .doc = "Most bytes in the body of one request.  A single record "
	    "whose envelope is larger is sent alone." },
	{ .name = "http.timeout.ms", .type = KSINK_OPT_INT, .def = "30000",
	  .min = 100, .max = 3600000,
	  .doc = "Longest time one request may take, connection included; "
	    "past it the request counts as a transport error and is "
	    "retried." },
	{ .name = "http.connect.timeout.ms", .type = KSINK_OPT_INT,
	  .def = "10000", .min = 100, .max = 600000,
	  .doc = "Longest time to establish a connection to the receiver." },
	{ .name = "http.retry.status", .type = KSINK_OPT_STRING,
	  .doc = "Comma-separated HTTP status codes, 400 to 599, that are "
	    "retried besides 408, 429 and 5xx, for example 409,425." },
	{ .name = "http.retry.after.max.ms", .type = KSINK_OPT_INT,
	  .def = "60000", .min = 0, .max = 3600000,
	  .doc = "Longest wait honoured from a Retry-After response header.  "
	    "Until the wait is over the sink sends nothing and answers the "
	    "worker's retries with retry." },
	{ .name = "http.log.body.max.bytes", .type = KSINK_OPT_INT,
	  .def = "512", .min = 0, .max = 65536,
	  .doc = "How much of the body of a failed response is quoted in "
	    "the error message." },
	{ .name = "http.basic.user", .type = KSINK_OPT_STRING,
	  .doc = "User name for HTTP Basic authentication; the password comes "
	    "from http.basic.password.file or http.basic.password." },
	{ .name = "http.basic.password", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_SECRET,
	  .doc = "Password for HTTP Basic authentication.  Prefer "
	    "http.basic.password.file." },
	{ .name = "http.basic.password.file", .type = KSINK_OPT_PATH,
	  .doc = "File holding the Basic authentication password; one "
	    "trailing newline is ignored.  Read again when it changes." },
	{ .name = "http.bearer.token", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_SECRET,
	  .doc = "Token sent as Authorization: Bearer.  Prefer "
	    "http.bearer.token.file." },
	{ .name = "http.bearer.token.file", .type = KSINK_OPT_PATH,
	  .doc = "File holding the bearer token; one trailing newline is "
	    "ignored.  Read again when it changes, so that a token can be "
	    "rotated without a restart." },
	{ .name = "http.tls.ca.file", .type = KSINK_OPT_PATH,
	  .doc = "PEM file of the certificate authorities that may sign the "
	    "receiver's certificate, instead of the system's." },
	{ .name = "http.tls.ca.path", .type = KSINK_OPT_PATH,
	  .doc = "Directory of certificate authorities (hashed names, as "
	    "made by openssl rehash) used instead of the system's." },
	{ .name = "http.tls.cert.file", .type = KSINK_OPT_PATH,
	  .doc = "PEM client certificate for mutual TLS." },
	{ .name = "http.tls.key.file", .type = KSINK_OPT_PATH,
	  .doc = "PEM private key of http.tls.cert.file, unencrypted." },
	{ .name = "http.tls.insecure.skip.verify", .type = KSINK_OPT_BOOL,
	  .def = "false",
	  .doc = "Turns off the verification of the receiver's certificate "
	    "and host name.  Anyone on the path can then read and change "
	    "the records and steal the credentials; for tests only." },
	{ .name = "http.state.path", .type = KSINK_OPT_PATH,
	  .doc = "The ledger: a SQLite database holding the next offset of "
	    "every partition and the intent of the request in flight.  "
	    "Required unless http.offsets.url is set; one file per "
	    "connector, held locked while the connector runs." },
	{ .name = "http.offsets.url", .type = KSINK_OPT_STRING,
	  .doc = "Turns on the offset protocol: the receiver stores offsets "
	    "and answers GET URL?topic=T&partition=P with "
	    "{\"next_offset\": N}, or 404 when it has none.  No ledger is "
	    "used then." },
	{ .name = NULL }
};

/*
 * The plugin's callbacks.
 */

static void http_close(void *);

static int
http_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **out,
    char *errbuf, size_t errlen)
{
	struct sink *s;
	const char *v, *fmt, *at; /* at: the option a rule blames, unused here */
	size_t i, nh;
	int ctype_set = 0, rc = KSINK_CONFIG;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	s->host = host;
	s->ctx = ctx;
	if ((s->connector = strdup(host->connector_name(ctx))) == NULL)
		goto oom;

	if ((v = opt_str(s, "http.url")) == NULL) {
		ks_err_set(errbuf, errlen, "http.url is required");
		goto fail;
	}
	if ((s->url = strdup(v)) == NULL)
		goto oom;
	if (check_url("http.url", s->url, &s->url_log, errbuf, errlen) == -1)
		goto fail;
	if ((v = opt_str(s, "http.offsets.url")) != NULL) {
		if ((s->offsets_url = strdup(v)) == NULL)
			goto oom;
		if (check_url("http.offsets.url", s->offsets_url,
		    &s->offsets_url_log, errbuf, errlen) == -1)
			goto fail;
	}
	v = opt_str(s, "http.method");
	s->put = v != NULL && strcmp(v, "PUT") == 0;
	fmt = opt_str(s, "http.body.format");
	if (fmt == NULL || strcmp(fmt, "json") == 0) {
		s->format = FMT_JSON;
		s->ctype = "application/json";
	} else if (strcmp(fmt, "ndjson") == 0) {
		s->format = FMT_NDJSON;
		s->ctype = "application/x-ndjson";
	} else {
		s->format = FMT_VALUE;
		s->ctype = "application/octet-stream";
	}
	s->max_records = (size_t)host->conf_int(ctx, "http.batch.max.records");
	s->max_bytes = (size_t)host->conf_int(ctx, "http.batch.max.bytes");
	s->timeout_ms = (long)host->conf_int(ctx, "http.timeout.ms");
	s->connect_timeout_ms = (long)host->conf_int(ctx,
	    "http.connect.timeout.ms");
	s->retry_after_max_ms = host->conf_int(ctx, "http.retry.after.max.ms");
	s->log_body_max = (size_t)host->conf_int(ctx,
	    "http.log.body.max.bytes");
	if ((v = opt_str(s, "http.retry.status")) != NULL &&
	    parse_retry_status(s, v, errbuf, errlen) == -1)
		goto fail;

	nh = host->conf_count(ctx, "http.header");
	for (i = 0; i < nh; i++) {
		struct curl_slist *l;

		v = host->conf_str_at(ctx, "http.header", i);
		if (v == NULL)
			continue;
		if (check_header(v, &ctype_set, errbuf, errlen) == -1)
			goto fail;
		if ((l = curl_slist_append(s->headers, v)) == NULL)
			goto oom;
		s->headers = l;
	}
	if (ctype_set)
		s->ctype = NULL;
	{
		/* No "Expect: 100-continue" round trip. */
		struct curl_slist *l = curl_slist_append(s->headers, "Expect:");

		if (l == NULL)
			goto oom;
		s->headers = l;
	}

	/* Credentials. */
	if (check_auth(host, ctx, &at, errbuf, errlen) == -1)
		goto fail;
	if ((v = opt_str(s, "http.basic.user")) != NULL &&
	    (s->basic_user = strdup(v)) == NULL)
		goto oom;
	s->password.path = opt_str(s, "http.basic.password.file");
	s->token.path = opt_str(s, "http.bearer.token.file");
	if ((v = opt_str(s, "http.basic.password")) != NULL &&
	    (s->password.value = strdup(v)) == NULL)
		goto oom;
	if ((v = opt_str(s, "http.bearer.token")) != NULL &&
	    (s->token.value = strdup(v)) == NULL)
		goto oom;
	{
		int changed;

		if (check_secret_file("http.basic.password.file",
		    s->password.path, errbuf, errlen) == -1 ||
		    check_secret_file("http.bearer.token.file", s->token.path,
		    errbuf, errlen) == -1 ||
		    secret_load(s, "http.basic.password.file", &s->password,
		    &changed, errbuf, errlen) == -1 ||
		    secret_load(s, "http.bearer.token.file", &s->token,
		    &changed, errbuf, errlen) == -1)
			goto fail;
	}
	if (check_tls(host, ctx, &at, errbuf, errlen) == -1)
		goto fail;

	/* Exactly-once protocol. */
	if (check_ledger(host, ctx, &at, errbuf, errlen) == -1)
		goto fail;
	if ((v = opt_str(s, "http.state.path")) != NULL &&
	    (s->state_path = strdup(v)) == NULL)
		goto oom;

	/* libcurl: one easy handle, kept alive between requests. */
	rc = KSINK_FATAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ks_err_set(errbuf, errlen, "cannot initialise libcurl");
		goto fail;
	}
	s->curl_global = 1;
	if ((s->curl = curl_easy_init()) == NULL) {
		ks_err_set(errbuf, errlen, "cannot initialise libcurl");
		goto fail;
	}
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_VERBOSE, 0L);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->curl_err);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, s->timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS,
	    s->connect_timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS,
	    (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "ksink-http/"
	    PACKAGE_VERSION);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	if ((v = opt_str(s, "http.tls.ca.file")) != NULL)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, v);
	if ((v = opt_str(s, "http.tls.ca.path")) != NULL)
		curl_easy_setopt(s->curl, CURLOPT_CAPATH, v);
	if ((v = opt_str(s, "http.tls.cert.file")) != NULL) {
		curl_easy_setopt(s->curl, CURLOPT_SSLCERT, v);
		curl_easy_setopt(s->curl, CURLOPT_SSLCERTTYPE, "PEM");
	}
	if ((v = opt_str(s, "http.tls.key.file")) != NULL) {
		curl_easy_setopt(s->curl, CURLOPT_SSLKEY, v);
		curl_easy_setopt(s->curl, CURLOPT_SSLKEYTYPE, "PEM");
	}
	s->insecure = host->conf_bool(ctx, "http.tls.insecure.skip.verify");
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, s->insecure ? 0L : 1L);
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, s->insecure ? 0L : 2L);
	if (s->insecure)
		host->log(ctx, KSINK_LOG_WARN, "http.tls.insecure.skip.verify "
		    "is on: the receiver's certificate and name are not "
		    "checked");
	apply_auth(s);

	if (s->state_path != NULL &&
	    (rc = ledger_open(s, errbuf, errlen)) != KSINK_OK)
		goto fail;
	host->log(ctx, KSINK_LOG_INFO, "sending %s to %s %s; exactly-once "
	    "through %s %s", fmt ? fmt : "json", s->put ? "PUT" : "POST",
	    s->url_log, s->offsets_url ? "the receiver's offsets at" :
	    "the ledger", s->offsets_url ? s->offsets_url_log : s->state_path);
	*out = s;
	return KSINK_OK;

oom:
	ks_err_set(errbuf, errlen, "out of memory");
	rc = KSINK_FATAL;
fail:
	http_close(s);
	return rc;
}

/*
 * Finds without side effects what open() would refuse in the options: the
 * URLs, the headers, the retry statuses, the credentials, the TLS files
 * and the exactly-once protocol, with the rules open() applies.  It reads
 * no secret: it only asks whether the secret files can be read.
 */
static int
http_check(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	static const char *const urls[] = { "http.url", "http.offsets.url" };
	const char *v, *opt;
	char err[1024];
	size_t i, n;
	int ctype, bad = 0;

	if (!KSINK_HOST_HAS(host, report) || host->report == NULL)
		return KSINK_OK;
	for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++)
		if ((v = conf_opt(host, ctx, urls[i])) != NULL &&
		    check_url(urls[i], v, NULL, err, sizeof(err)) == -1) {
			ks_err_report(host, ctx, urls[i], err);
			bad = 1;
		}
	if ((v = conf_opt(host, ctx, "http.retry.status")) != NULL &&
	    parse_retry_status(NULL, v, err, sizeof(err)) == -1) {
		ks_err_report(host, ctx, "http.retry.status", err);
		bad = 1;
	}
	n = host->conf_count(ctx, "http.header");
	for (i = 0; i < n; i++)
		if ((v = host->conf_str_at(ctx, "http.header", i)) != NULL &&
		    check_header(v, &ctype, err, sizeof(err)) == -1) {
			ks_err_report(host, ctx, "http.header", err);
			bad = 1;
		}
	if (check_auth(host, ctx, &opt, err, sizeof(err)) == -1) {
		ks_err_report(host, ctx, opt, err);
		bad = 1;
	}
	if (check_secret_file("http.basic.password.file", conf_opt(host, ctx,
	    "http.basic.password.file"), err, sizeof(err)) == -1) {
		ks_err_report(host, ctx, "http.basic.password.file", err);
		bad = 1;
	}
	if (check_secret_file("http.bearer.token.file", conf_opt(host, ctx,
	    "http.bearer.token.file"), err, sizeof(err)) == -1) {
		ks_err_report(host, ctx, "http.bearer.token.file", err);
		bad = 1;
	}
	if (check_tls(host, ctx, &opt, err, sizeof(err)) == -1) {
		ks_err_report(host, ctx, opt, err);
		bad = 1;
	}
	if (check_ledger(host, ctx, &opt, err, sizeof(err)) == -1) {
		ks_err_report(host, ctx, opt, err);
		bad = 1;
	}
	return bad ? KSINK_CONFIG : KSINK_OK;
}

static int
parse_next_offset(struct sink *s, int64_t *next, char *errbuf,
    size_t errlen)
{
	char quoted[256];

	if (parse_next_offset_text(s->resp.p ? s->resp.p : "", s->resp.len,
	    next) == 0)
		return 0;
	quote_response(s, quoted, sizeof(quoted), 200);
	ks_err_set(errbuf, errlen, "GET %s: expected {\"next_offset\": N} with N "
	    "an integer >= 0 or null, got: %s", s->offsets_url_log, quoted);
	return -1;
}

static int
http_load_offsets(void *arg, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *s = arg;
	struct ks_offcache_entry *f;
	struct ks_buf url = { 0 };
	char *esc;
	size_t i;
	long code;
	int rc;

	/* The ledger's offsets are read: settle what was delivered. */
	if ((rc = ledger_flush(s, errbuf, errlen)) != KSINK_OK)
		return rc;
	for (i = 0; i < count; i++) {
		offsets[i].next_offset = KSINK_OFFSET_NONE;
		if (s->offsets_url == NULL) {
			/* From the ledger, fresh: an intent in doubt is not
			 * counted; write() settles it before anything else
			 * and the fence then skips its records. */
			if ((rc = ledger_get(s, offsets[i].topic,
			    offsets[i].partition, &offsets[i].next_offset,
			    errbuf, errlen)) != KSINK_OK)
				return rc;
			doubt_restart(s, offsets[i].topic,
			    offsets[i].partition);
		} else {
			if (s->not_before != 0 && ks_clock_mono_ms() < s->not_before) {
				ks_err_set(errbuf, errlen, "waiting %" PRId64 " ms "
				    "more as the receiver asked (Retry-After)",
				    s->not_before - ks_clock_mono_ms());
				return KSINK_RETRY;
			}
			s->not_before = 0;
			if ((esc = curl_easy_escape(s->curl, offsets[i].topic,
			    0)) == NULL) {
				ks_err_set(errbuf, errlen, "out of memory");
				return KSINK_FATAL;
			}
			ks_buf_reset(&url);
			ks_buf_adds(&url, s->offsets_url);
			ks_buf_addc(&url, strchr(s->offsets_url, '?') ? '&' : '?');
			ks_buf_adds(&url, "topic=");
			ks_buf_adds(&url, esc);
			ks_buf_addf(&url, "&partition=%" PRId32,
			    offsets[i].partition);
			curl_free(esc);
			if (url.oom) {
				ks_buf_free(&url);
				ks_err_set(errbuf, errlen, "out of memory");
				return KSINK_FATAL;
			}
			rc = perform(s, url.p, s->offsets_url_log, NULL, &code,
			    errbuf, errlen);
			if (rc == KSINK_OK) {
				if (parse_next_offset(s, &offsets[i].next_offset,
				    errbuf, errlen) == -1)
					rc = KSINK_FATAL;
			} else if (code == 404)
				rc = KSINK_OK;
			else if (rc == KSINK_POISON)
				rc = KSINK_FATAL;
			if (rc != KSINK_OK) {
				ks_buf_free(&url);
				return rc;
			}
		}
		if ((rc = fence_get(s, offsets[i].topic, offsets[i].partition,
		    &f, errbuf, errlen)) != KSINK_OK) {
			ks_buf_free(&url);
			return rc;
		}
		/* The answer is the truth, even a lower one (the receiver
		 * may have been restored from a backup). */
		f->next = offsets[i].next_offset;
	}
	ks_buf_free(&url);
	return KSINK_OK;
}

static int
http_begin(void *arg, char *errbuf, size_t errlen)
{
	struct sink *s = arg;

	(void)errbuf;
	(void)errlen;
	s->in_step = 1;
	return KSINK_OK;
}

/*
 * Sends the records, one partition after the other, each as requests of
 * consecutive records.  A poison record at position p means that every
 * record before p has been delivered (records after it may have been
 * delivered too: the fence skips them when the worker writes them again).
 */
static int
write_records(struct sink *s, const struct ksink_record *recs, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct ks_offcache_entry *f;
	struct group *g;
	char poison_msg[1024] = "";
	size_t i, j, k, lo, hi, at, limit = count, gi, hint = 0;
	int64_t prev;
	int rc, result = KSINK_OK;

	*n_done = 0;
	if (count == 0)
		return KSINK_OK;
	if (s->not_before != 0 && ks_clock_mono_ms() < s->not_before) {
		ks_err_set(errbuf, errlen, "waiting %" PRId64 " ms more as the "
		    "receiver asked (Retry-After)", s->not_before - ks_clock_mono_ms());
		retry_after_hint(s);
		return KSINK_RETRY;
	}
	s->not_before = 0;
	if ((rc = resend_pending(s, errbuf, errlen)) != KSINK_OK)
		return rc;
	if (scratch(s, count) == -1) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}

	/* Group the records by partition, keeping their order. */
	s->ngroups = 0;
	for (i = 0; i < count; i++) {
		g = hint < s->ngroups ? &s->groups[hint] : NULL;
		if (g == NULL || g->partition != recs[i].partition ||
		    strcmp(g->topic, recs[i].topic) != 0) {
			for (gi = 0; gi < s->ngroups; gi++) {
				g = &s->groups[gi];
				if (g->partition == recs[i].partition &&
				    strcmp(g->topic, recs[i].topic) == 0)
					break;
			}
			if (gi == s->ngroups) {
				g = &s->groups[s->ngroups++];
				g->topic = recs[i].topic;
				g->partition = recs[i].partition;
				g->count = 0;
			}
			hint = gi;
		}
		s->gidx[i] = hint;
		s->groups[hint].count++;
	}
	for (gi = 0, at = 0; gi < s->ngroups; gi++) {
		s->groups[gi].first = at;
		at += s->groups[gi].count;
		s->groups[gi].count = 0;
	}
	for (i = 0; i < count; i++) {
		g = &s->groups[s->gidx[i]];
		s->order[g->first + g->count++] = i;
	}

	for (gi = 0; gi < s->ngroups; gi++) {
		g = &s->groups[gi];
		if ((rc = fence_get(s, g->topic, g->partition, &f, errbuf,
		    errlen)) != KSINK_OK)
			return rc;
		lo = g->first;
		hi = lo + g->count;
		prev = INT64_MIN;
		for (j = k = lo; j < hi; j++) {
			const struct ksink_record *r = &recs[s->order[j]];

			if (r->offset <= prev) {
				ks_err_set(errbuf, errlen, "records of %s/%" PRId32
				    " out of order: offset %" PRId64 " after %"
				    PRId64, r->topic, r->partition, r->offset,
				    prev);
				return KSINK_FATAL;
			}
			prev = r->offset;
			if (s->order[j] >= limit)
				break;
			if (f->next != KSINK_OFFSET_NONE && r->offset < f->next)
				continue;	/* applied already: the fence */
			s->order[k++] = s->order[j];
		}
		if (k == lo)
			continue;
		if (s->ndoubts > 0)
			rc = doubt_group(s, recs, lo, k, &at, errbuf, errlen);
		else
			rc = send_group(s, recs, lo, k, &at, errbuf, errlen);
		if (rc == KSINK_POISON) {
			limit = s->order[at];
			snprintf(poison_msg, sizeof(poison_msg), "%s", errbuf);
			result = KSINK_POISON;
			continue;
		}
		if (rc != KSINK_OK)
			return rc;
	}
	if (result == KSINK_POISON) {
		ks_err_set(errbuf, errlen, "%s", poison_msg);
		*n_done = limit;
		return KSINK_POISON;
	}
	*n_done = count;
	return KSINK_OK;
}

/* A request answered 2xx stays delivered when a later one fails: the
 * fence skips its records when the worker replays the batch, and the
 * worker is told of them (KSINK_CAP_RETRY_PROGRESS), so that a receiver
 * failing some requests does not hold the batch back for ever longer. */
static int
http_write(void *arg, const struct ksink_record *recs, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct sink *s = arg;
	int rc;

	s->delivered = 0;
	rc = write_records(s, recs, count, n_done, errbuf, errlen);
	if (rc == KSINK_RETRY)
		*n_done = s->delivered < count ? s->delivered : count;
	return rc;
}

/* An offset that commit() leaves alone: none, or that of a partition with
 * a request in doubt, whose records the ledger must read again after a
 * restart (the next offset moves past them when the request is settled). */
static int
skip_offset(struct sink *s, const struct ksink_offset *o)
{
	return o->next_offset == KSINK_OFFSET_NONE || (s->ndoubts > 0 &&
	    doubt_find(s, o->topic, o->partition) != NULL);
}

static int
http_commit(void *arg, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *s = arg;
	struct ks_offcache_entry *f;
	size_t i;
	int rc, need = 0;

	s->in_step = 0;
	for (i = 0; i < count; i++) {
		if (skip_offset(s, &offsets[i]))
			continue;
		if ((rc = fence_get(s, offsets[i].topic, offsets[i].partition,
		    &f, errbuf, errlen)) != KSINK_OK)
			return rc;
		if (f->next == KSINK_OFFSET_NONE ||
		    offsets[i].next_offset > f->next)
			need = 1;
	}
	/* The requests delivered in this step are settled in the ledger's
	 * next transaction: this one when the offsets need one, else that
	 * of the next intent (ledger.c, ledger_delivered()). */
	if (!need)
		return KSINK_OK;
	/* Offsets past the last delivered record: records skipped as
	 * poison, or the end of the batch was fenced. */
	if (s->db != NULL) {
		if ((rc = db_exec(s, "BEGIN IMMEDIATE", errbuf, errlen)) !=
		    KSINK_OK)
			return rc;
		if ((rc = ledger_settle_rows(s, errbuf, errlen)) != KSINK_OK) {
			db_rollback(s);
			return rc;
		}
		for (i = 0; i < count; i++) {
			if (skip_offset(s, &offsets[i]))
				continue;
			if ((rc = ledger_advance(s, offsets[i].topic,
			    offsets[i].partition, offsets[i].next_offset,
			    errbuf, errlen)) != KSINK_OK) {
				db_rollback(s);
				return rc;
			}
		}
		if ((rc = db_exec(s, "COMMIT", errbuf, errlen)) != KSINK_OK) {
			db_rollback(s);
			return rc;
		}
		s->nsettles = 0;
	}
	for (i = 0; i < count; i++)
		if (!skip_offset(s, &offsets[i]) &&
		    fence_get(s, offsets[i].topic, offsets[i].partition, &f,
		    errbuf, errlen) == KSINK_OK)
			fence_raise(f, offsets[i].next_offset);
	return KSINK_OK;
}

/* Requests already answered with 2xx stay delivered: the ledger has
 * advanced past them, and the fence skips them when the worker replays
 * the batch. */
static void
http_abort(void *arg)
{
	struct sink *s = arg;

	s->in_step = 0;
}

static void
http_close(void *arg)
{
	struct sink *s = arg;
	char err[512];

	if (s == NULL)
		return;
	/* What stays unsettled is in doubt at the next start. */
	if (s->db != NULL && ledger_flush(s, err, sizeof(err)) != KSINK_OK)
		s->host->log(s->ctx, KSINK_LOG_WARN, "%s; the requests it "
		    "concerns are sent again at the next start", err);
	free(s->settles);
	ledger_close(s);
	doubt_clear(s);
	free(s->doubts);
	if (s->curl != NULL)
		curl_easy_cleanup(s->curl);
	if (s->curl_global)
		curl_global_cleanup();
	curl_slist_free_all(s->headers);
	secret_clear(&s->password);
	secret_clear(&s->token);
	ks_offcache_free(&s->fences);
	free(s->groups);
	free(s->order);
	free(s->gidx);
	ks_buf_free(&s->body);
	ks_buf_free(&s->resp);
	free(s->basic_user);
	free(s->state_path);
	free(s->url);
	free(s->url_log);
	free(s->offsets_url);
	free(s->offsets_url_log);
	free(s->connector);
	free(s);
}

/*
 * `ksink offsets --reset`: replaces the ledger's next offsets, lowering
 * them if need be, and drops the requests in doubt of those partitions
 * (the operator chose where the partitions start again).
 */
static int
http_reset_offsets(void *arg, const struct ksink_offset *offsets,
    size_t count, char *errbuf, size_t errlen)
{
	struct sink *s = arg;
	sqlite3_stmt *drop = NULL;
	struct ks_offcache_entry *f;
	size_t i;
	int rc = KSINK_FATAL, dropped;

	if (s->db == NULL) {
		ks_err_set(errbuf, errlen, "with http.offsets.url the receiver keeps "
		    "the offsets: reset them at the receiver");
		return KSINK_CONFIG;
	}
	if ((rc = ledger_flush(s, errbuf, errlen)) != KSINK_OK)
		return rc;
	rc = KSINK_FATAL;
	if (sqlite3_prepare_v2(s->db, "DELETE FROM ksink_http_intents WHERE "
	    "connector = ?1 AND topic = ?2 AND partition = ?3", -1, &drop,
	    NULL) != SQLITE_OK) {
		db_fail(s, "preparing the reset", errbuf, errlen);
		goto out;
	}
	if ((rc = db_exec(s, "BEGIN IMMEDIATE", errbuf, errlen)) != KSINK_OK)
		goto out;
	for (i = 0; i < count; i++) {
		sqlite3_bind_text(drop, 1, s->connector, -1, SQLITE_STATIC);
		sqlite3_bind_text(drop, 2, offsets[i].topic, -1, SQLITE_STATIC);
		sqlite3_bind_int(drop, 3, offsets[i].partition);
		if (ks_sqloffsets_set(&s->offsets, offsets[i].topic,
		    offsets[i].partition, offsets[i].next_offset) != SQLITE_OK ||
		    sqlite3_step(drop) != SQLITE_DONE) {
			rc = db_fail(s, "resetting offsets", errbuf, errlen);
			db_rollback(s);
			goto out;
		}
		if ((dropped = sqlite3_changes(s->db)) > 0)
			s->host->log(s->ctx, KSINK_LOG_WARN, "dropped %d request"
			    "%s in doubt for %s/%" PRId32 ": the receiver may or "
			    "may not have applied %s", dropped, dropped > 1 ?
			    "s" : "", offsets[i].topic, offsets[i].partition,
			    dropped > 1 ? "them" : "it");
		sqlite3_reset(drop);
	}
	if ((rc = db_exec(s, "COMMIT", errbuf, errlen)) != KSINK_OK) {
		db_rollback(s);
		goto out;
	}
	for (i = 0; i < count; i++) {
		struct doubt *d;

		while ((d = doubt_find(s, offsets[i].topic,
		    offsets[i].partition)) != NULL)
			doubt_drop(s, d);
		if (fence_get(s, offsets[i].topic, offsets[i].partition, &f,
		    errbuf, errlen) == KSINK_OK)
			f->next = offsets[i].next_offset;
	}
	rc = KSINK_OK;
out:
	sqlite3_finalize(drop);
	return rc;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 2,		/* the lowest with check */
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS | KSINK_CAP_RETRY_PROGRESS,
	.name = "http",
	.version = PACKAGE_VERSION,
	.description = "HTTP requests, exactly-once with receivers that "
	    "deduplicate Idempotency-Key or keep offsets",
	.options = options,
	.open = http_open,
	.load_offsets = http_load_offsets,
	.begin = http_begin,
	.write = http_write,
	.commit = http_commit,
	.abort = http_abort,
	.close = http_close,
	.reset_offsets = http_reset_offsets,
	.check = http_check,
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
