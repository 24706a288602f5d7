/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/request.c - one HTTP request with libcurl, and how its
 * outcome is classified (ksink-http(7), ERRORS).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http.h"

/*
 * Classification of a response (ksink-http(7), ERRORS).
 */
int
classify_status(const struct sink *s, long code)
{
	if (code >= 200 && code <= 299)
		return KSINK_OK;
	if (code >= 400 && code <= 599 && s->retry_extra[code - 400])
		return KSINK_RETRY;
	if (code == 408 || code == 429 || (code >= 500 && code <= 599))
		return KSINK_RETRY;
	switch (code) {
	case 401: case 403: case 407:	/* credentials */
	case 404: case 405: case 410:	/* the endpoint, not the records */
	case 411: case 414: case 415: case 426: case 431:
		return KSINK_FATAL;
	}
	if (code >= 400 && code <= 499)
		return KSINK_POISON;
	return KSINK_FATAL;	/* 1xx, 3xx, nonsense */
}

/* Transport errors are retried, except those that only a change of the
 * configuration can cure. */
int
classify_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_FILESIZE_EXCEEDED:
	case CURLE_LOGIN_DENIED:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
		return KSINK_FATAL;
	default:
		return KSINK_RETRY;
	}
}

/*
 * Requests.
 */

size_t
on_body(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n, room;

	if (s->resp.len < s->resp_max) {
		room = s->resp_max - s->resp.len;
		ks_buf_add(&s->resp, data, len < room ? len : room);
	}
	return len;
}

/* Appends up to max bytes of the response, printable. */
void
quote_response(struct sink *s, char *out, size_t outlen, size_t max)
{
	size_t i, o = 0, n = s->resp.len < max ? s->resp.len : max;
	unsigned char c;

	if (outlen == 0)
		return;
	for (i = 0; i < n && o + 2 < outlen; i++) {
		c = (unsigned char)s->resp.p[i];
		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : ' ';
	}
	if (n < s->resp.len && o + 4 < outlen) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static struct curl_slist *
add_header(struct curl_slist *l, int *oom, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static struct curl_slist *
add_header(struct curl_slist *l, int *oom, const char *fmt, ...)
{
	struct curl_slist *n;
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if ((n = curl_slist_append(l, line)) == NULL) {
		*oom = 1;
		return l;
	}
	return n;
}

/*
 * Performs one request; returns its class (KSINK_OK, RETRY, POISON,
 * FATAL) with *code the HTTP status (0 on a transport error) and errbuf
 * describing a failure.  rq == NULL: a GET of url (the offset protocol).
 */
/* Tells the worker when the receiver's Retry-After ends, so that it
 * comes back then instead of at its next backoff step. */
void
retry_after_hint(struct sink *s)
{
	int64_t left;

	if (s->not_before == 0 || !KSINK_HOST_HAS(s->host, retry_after))
		return;
	left = s->not_before - ks_clock_mono_ms();
	s->host->retry_after(s->ctx, left > 0 ? left : 0);
}

int
perform(struct sink *s, const char *url, const char *url_log,
    const struct request *rq, long *code, char *errbuf, size_t errlen)
{
	struct curl_slist *hdrs = NULL, *l;
	char quoted[1024];
	curl_off_t retry_after = -1;
	CURLcode rc;
	int st, oom = 0;
	int64_t t0;

	*code = 0;
	if (refresh_secrets(s, errbuf, errlen) == -1)
		return KSINK_RETRY;
	for (l = s->headers; l != NULL && !oom; l = l->next) {
		struct curl_slist *n = curl_slist_append(hdrs, l->data);

		if (n == NULL)
			oom = 1;
		else
			hdrs = n;
	}
	if (rq != NULL) {
		hdrs = add_header(hdrs, &oom, "Idempotency-Key: \"%s\"",
		    rq->key);
		hdrs = add_header(hdrs, &oom, "Ksink-Topic: %s", rq->topic);
		hdrs = add_header(hdrs, &oom, "Ksink-Partition: %" PRId32,
		    rq->partition);
		hdrs = add_header(hdrs, &oom, "Ksink-Offset-First: %" PRId64,
		    rq->first);
		hdrs = add_header(hdrs, &oom, "Ksink-Offset-Last: %" PRId64,
		    rq->last);
		hdrs = add_header(hdrs, &oom, "Ksink-Record-Count: %zu",
		    rq->nrec);
		if (rq->ctype != NULL)
			hdrs = add_header(hdrs, &oom, "Content-Type: %s",
			    rq->ctype);
	}
	if (oom) {
		curl_slist_free_all(hdrs);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, url);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hdrs);
	if (rq != NULL) {
		curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->len);
		curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST,
		    s->put ? "PUT" : NULL);
		s->resp_max = s->log_body_max;
	} else {
		curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, NULL);
		curl_easy_setopt(s->curl, CURLOPT_HTTPGET, 1L);
		s->resp_max = HTTP_OFFSETS_BODY_MAX;
	}
	ks_buf_reset(&s->resp);
	s->curl_err[0] = '\0';
	t0 = ks_clock_mono_ms();
	rc = curl_easy_perform(s->curl);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);

	if (rc != CURLE_OK) {
		st = classify_curl(rc);
		ks_err_set(errbuf, errlen, "%s %s: %s", rq ? (s->put ? "PUT" :
		    "POST") : "GET", url_log, s->curl_err[0] ? s->curl_err :
		    curl_easy_strerror(rc));
		s->host->log(s->ctx, KSINK_LOG_DEBUG, "%s %s: transport "
		    "error after %" PRId64 " ms: %s", rq ? "request" : "GET",
		    url_log, ks_clock_mono_ms() - t0, curl_easy_strerror(rc));
		return st;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, code);
	if (rq != NULL)
		s->host->log(s->ctx, KSINK_LOG_DEBUG, "%s %s %s/%" PRId32
		    " offsets %" PRId64 "-%" PRId64 " (%zu records, %zu "
		    "bytes, key %.16s...): %ld in %" PRId64 " ms",
		    s->put ? "PUT" : "POST", url_log, rq->topic,
		    rq->partition, rq->first, rq->last, rq->nrec, rq->len,
		    rq->key, *code, ks_clock_mono_ms() - t0);
	else
		s->host->log(s->ctx, KSINK_LOG_DEBUG, "GET %s: %ld in %"
		    PRId64 " ms", url_log, *code, ks_clock_mono_ms() - t0);
	st = classify_status(s, *code);
	if (st == KSINK_OK)
		return st;
	if ((*code == 429 || *code == 503) &&
	    curl_easy_getinfo(s->curl, CURLINFO_RETRY_AFTER, &retry_after) ==
	    CURLE_OK && retry_after > 0) {
		int64_t wait = (int64_t)retry_after * 1000;

		if (wait > s->retry_after_max_ms)
			wait = s->retry_after_max_ms;
		if (wait > 0)
			s->not_before = ks_clock_mono_ms() + wait;
		retry_after_hint(s);
	}
	quote_response(s, quoted, sizeof(quoted), s->log_body_max);
	if (rq != NULL)
		ks_err_set(errbuf, errlen, "%s %s: HTTP %ld for %s/%" PRId32
		    " offsets %" PRId64 "-%" PRId64 "%s%s%s%s",
		    s->put ? "PUT" : "POST", url_log, *code, rq->topic,
		    rq->partition, rq->first, rq->last,
		    retry_after > 0 ? " (Retry-After honoured)" : "",
		    st == KSINK_FATAL ? "; check the URL and the credentials" :
		    "", *quoted ? ": " : "", quoted);
	else
		ks_err_set(errbuf, errlen, "GET %s: HTTP %ld%s%s", url_log, *code,
		    *quoted ? ": " : "", quoted);
	return st;
}
