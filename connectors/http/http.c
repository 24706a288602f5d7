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
 *    intent (partition, offset range, Idempotency-Key, exact body) is made
 *    durable; on 2xx one transaction deletes the intent and advances the
 *    partition's next offset.  An intent still there after a crash or a
 *    failed attempt is in doubt: it is re-sent byte-identical, with the
 *    same key, before any other request, and the receiver's deduplication
 *    of the key makes it take effect once.
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

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "ksink/sink.h"

#include "../lib/buf.h"
#include "../lib/envelope.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/offcache.h"
#include "../lib/sqloffsets.h"

#define HTTP_KEY_VERSION	"ksink-http-v1"
/* 1: offsets in ksink_http_offsets; 2: in ksink_offsets, the table of
 * every SQLite database of ksink (connectors/lib/sqloffsets.c). */
#define HTTP_LEDGER_VERSION	2
#define HTTP_LEDGER_OLD_OFFSETS	"ksink_http_offsets"
#define HTTP_OFFSETS_BODY_MAX	65536
#define HTTP_SECRET_MAX		16384

enum http_format { FMT_JSON, FMT_NDJSON, FMT_VALUE };

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
	  .def = "500", .min = 1, .max = 100000,
	  .doc = "Most records in one request.  A batch of the worker that "
	    "holds more is sent as several requests in sequence." },
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

/* A secret read from a file, read again when the file changes. */
struct secret {
	const char *path;	/* NULL: a value from the INI, or none */
	char *value;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
};

/* One partition's records within a write() call. */
struct group {
	const char *topic;
	int32_t partition;
	size_t first;	/* position of its first record in order[] */
	size_t count;
};

/* What one request carries, for the headers and the messages. */
struct request {
	const char *topic;
	int32_t partition;
	int64_t first, last;
	size_t nrec;
	const char *key;	/* hex, without quotes */
	const char *ctype;
	const char *body;
	size_t len;
};

struct sink {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;
	char *connector;

	/* Options. */
	char *url, *url_log;
	char *offsets_url, *offsets_url_log;
	int put;
	enum http_format format;
	size_t max_records, max_bytes;
	long timeout_ms, connect_timeout_ms;
	int64_t retry_after_max_ms;
	size_t log_body_max;
	unsigned char retry_extra[200];	/* 400..599 */
	const char *ctype;		/* default Content-Type */
	struct curl_slist *headers;	/* http.header, Expect:, Content-Type */
	char *basic_user;
	struct secret password, token;
	int insecure;

	CURL *curl;
	int curl_global;
	char curl_err[CURL_ERROR_SIZE];
	struct ks_buf resp;
	size_t resp_max;
	int64_t not_before;	/* monotonic ms; 0: none */

	/* Ledger. */
	char *state_path;
	sqlite3 *db;
	struct ks_sqloffsets offsets;
	sqlite3_stmt *st_intent, *st_drop,
	    *st_pending;

	struct ks_offcache fences;

	/* The step and write()'s scratch space. */
	int in_step;
	struct ks_buf body;
	struct group *groups;
	size_t ngroups, groups_cap;
	size_t *order, *gidx;
	size_t order_cap;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Reads the answer of the offset protocol, {"next_offset": N} with N a
 * non-negative integer or null, from text v.  Other members are allowed.
 */
static int
parse_next_offset_text(const char *v, size_t n, int64_t *next)
{
	struct ks_json_scan s = { .p = (const unsigned char *)v,
	    .end = (const unsigned char *)v + n };
	const unsigned char *name, *num;
	size_t name_len;
	int found = 0;
	char tmp[24];
	size_t len;

	*next = KSINK_OFFSET_NONE;
	ks_json_scan_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -1;
	s.p++;
	ks_json_scan_ws(&s);
	if (s.p < s.end && *s.p == '}')
		return -1;
	for (;;) {
		if (s.p >= s.end || *s.p != '"')
			return -1;
		name = s.p;
		if (ks_json_scan_string(&s) == -1)
			return -1;
		name_len = (size_t)(s.p - name);
		ks_json_scan_ws(&s);
		if (s.p >= s.end || *s.p != ':')
			return -1;
		s.p++;
		ks_json_scan_ws(&s);
		if (name_len == 13 && memcmp(name, "\"next_offset\"", 13) == 0) {
			if (found)
				return -1;
			found = 1;
			if (ks_json_scan_word(&s, "null") == 0)
				*next = KSINK_OFFSET_NONE;
			else {
				num = s.p;
				if (ks_json_scan_digits(&s) == -1)
					return -1;
				len = (size_t)(s.p - num);
				if (len >= 19 || (len > 1 && *num == '0'))
					return -1;
				memcpy(tmp, num, len);
				tmp[len] = '\0';
				*next = strtoll(tmp, NULL, 10);
				if (s.p < s.end && (*s.p == '.' || *s.p == 'e' ||
				    *s.p == 'E'))
					return -1;
			}
		} else if (ks_json_scan_value(&s) == -1)
			return -1;
		ks_json_scan_ws(&s);
		if (s.p >= s.end)
			return -1;
		if (*s.p == '}')
			break;
		if (*s.p != ',')
			return -1;
		s.p++;
		ks_json_scan_ws(&s);
	}
	s.p++;
	ks_json_scan_ws(&s);
	return found && s.p == s.end ? 0 : -1;
}

static void
body_begin(struct sink *s)
{
	ks_buf_reset(&s->body);
	if (s->format == FMT_JSON)
		ks_buf_addc(&s->body, '[');
}

/* Appends record r, the nth (from 0) of the request. */
static void
body_add(struct sink *s, const struct ksink_record *r, size_t nth)
{
	switch (s->format) {
	case FMT_JSON:
		if (nth > 0)
			ks_buf_addc(&s->body, ',');
		ks_envelope_add(&s->body, r);
		break;
	case FMT_NDJSON:
		ks_envelope_add(&s->body, r);
		ks_buf_addc(&s->body, '\n');
		break;
	case FMT_VALUE:
		if (r->value != NULL)
			ks_buf_add(&s->body, r->value, r->value_len);
		break;
	}
}

static void
body_end(struct sink *s)
{
	if (s->format == FMT_JSON)
		ks_buf_addc(&s->body, ']');
}

/*
 * SHA-256 (FIPS 180-4), for the Idempotency-Key.
 */
struct sha256 {
	uint32_t h[8];
	uint64_t n;
	unsigned char blk[64];
	size_t used;
};

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
sha256_block(struct sha256 *c, const unsigned char *p)
{
	uint32_t w[64], a, b, d, e, f, g, h, cc, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
		    (w[i - 15] >> 3)) + w[i - 7] + (ROR(w[i - 2], 17) ^
		    ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
	e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		    ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		    ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1;
		d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
	c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

static void
sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(c->h, iv, sizeof(iv));
	c->n = 0;
	c->used = 0;
}

static void
sha256_update(struct sha256 *c, const void *v, size_t n)
{
	const unsigned char *p = v;
	size_t k;

	c->n += n;
	while (n > 0) {
		k = 64 - c->used;
		if (k > n)
			k = n;
		memcpy(c->blk + c->used, p, k);
		c->used += k;
		p += k;
		n -= k;
		if (c->used == 64) {
			sha256_block(c, c->blk);
			c->used = 0;
		}
	}
}

static void
sha256_final(struct sha256 *c, unsigned char out[32])
{
	uint64_t bits = c->n * 8;
	unsigned char pad = 0x80, len[8];
	int i;

	sha256_update(c, &pad, 1);
	pad = 0;
	while (c->used != 56)
		sha256_update(c, &pad, 1);
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(c, len, 8);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

/*
 * The Idempotency-Key of a request: the lowercase hexadecimal SHA-256 of
 * "ksink-http-v1", the connector's name, the topic, the partition, the
 * first and the last offset, each followed by a NUL byte, numbers in
 * decimal.  It depends only on which records the request carries, so a
 * request rebuilt from the same records after a crash has the same key.
 */
static void
idempotency_key(const char *connector, const char *topic, int32_t partition,
    int64_t first, int64_t last, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct sha256 c;
	unsigned char md[32];
	char num[32];
	int i;

	sha256_init(&c);
	sha256_update(&c, HTTP_KEY_VERSION, sizeof(HTTP_KEY_VERSION));
	sha256_update(&c, connector, strlen(connector) + 1);
	sha256_update(&c, topic, strlen(topic) + 1);
	snprintf(num, sizeof(num), "%" PRId32, partition);
	sha256_update(&c, num, strlen(num) + 1);
	snprintf(num, sizeof(num), "%" PRId64, first);
	sha256_update(&c, num, strlen(num) + 1);
	snprintf(num, sizeof(num), "%" PRId64, last);
	sha256_update(&c, num, strlen(num) + 1);
	sha256_final(&c, md);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
}

/*
 * Classification of a response (ksink-http(7), ERRORS).
 */
static int
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
static int
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
 * Options and secrets.
 */

static const char *
opt_str(struct sink *s, const char *name)
{
	const char *v = s->host->conf_str(s->ctx, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* A URL for the logs: scheme, host, port and path, never the user
 * information nor the query. */
static int
check_url(const char *opt, const char *url, char **logged, char *errbuf,
    size_t errlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *user = NULL, *pass = NULL;
	int rc = -1;
	size_t n;

	if ((u = curl_url()) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		ks_err_set(errbuf, errlen, "%s: not a URL", opt);
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	if (scheme == NULL || (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0)) {
		ks_err_set(errbuf, errlen, "%s: the scheme must be http or https",
		    opt);
		goto out;
	}
	if (user != NULL || pass != NULL) {
		ks_err_set(errbuf, errlen, "%s: credentials in the URL would be "
		    "logged; use http.basic.user and http.basic.password.file",
		    opt);
		goto out;
	}
	if (host == NULL) {
		ks_err_set(errbuf, errlen, "%s: the URL has no host", opt);
		goto out;
	}
	n = strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) +
	    (path ? strlen(path) : 0) + 8;
	if ((*logged = malloc(n)) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		goto out;
	}
	snprintf(*logged, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "",
	    port ? port : "", path ? path : "");
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(u);
	return rc;
}

static int
header_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Checks one http.header value; sets *ctype if it is a Content-Type. */
static int
check_header(const char *h, int *ctype, char *errbuf, size_t errlen)
{
	static const char *const refused[] = {
		"authorization", "proxy-authorization", "idempotency-key",
		"content-length", "transfer-encoding", "expect", NULL
	};
	const char *colon = strchr(h, ':'), *v;
	size_t n, i;

	if (colon == NULL || colon == h) {
		ks_err_set(errbuf, errlen, "http.header = %.40s: expected "
		    "Name: value", h);
		return -1;
	}
	n = (size_t)(colon - h);
	for (i = 0; i < n; i++)
		if (!header_name_char((unsigned char)h[i])) {
			ks_err_set(errbuf, errlen, "http.header: invalid character "
			    "in the header name %.*s", (int)n, h);
			return -1;
		}
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (*v == '\0') {
		ks_err_set(errbuf, errlen, "http.header %.*s has no value",
		    (int)n, h);
		return -1;
	}
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t') {
			ks_err_set(errbuf, errlen, "http.header %.*s: control "
			    "character (line break?) in the value", (int)n, h);
			return -1;
		}
	for (i = 0; refused[i] != NULL; i++)
		if (strlen(refused[i]) == n &&
		    strncasecmp(h, refused[i], n) == 0) {
			ks_err_set(errbuf, errlen, "http.header %.*s is set by the "
			    "sink%s", (int)n, h, i < 2 ? "; use "
			    "http.bearer.token.file or http.basic.user and "
			    "http.basic.password.file" : "");
			return -1;
		}
	if (n >= 6 && strncasecmp(h, "ksink-", 6) == 0) {
		ks_err_set(errbuf, errlen, "http.header %.*s: Ksink-* headers are "
		    "set by the sink", (int)n, h);
		return -1;
	}
	if (n == 12 && strncasecmp(h, "content-type", 12) == 0)
		*ctype = 1;
	return 0;
}

static int
parse_retry_status(struct sink *s, const char *v, char *errbuf,
    size_t errlen)
{
	const char *p = v;
	char *end;
	long code;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		errno = 0;
		code = strtol(p, &end, 10);
		if (end == p || errno != 0 || code < 400 || code > 599 ||
		    (*end != '\0' && *end != ',' && *end != ' ')) {
			ks_err_set(errbuf, errlen, "http.retry.status = %s: expected "
			    "a comma-separated list of status codes from 400 "
			    "to 599", v);
			return -1;
		}
		s->retry_extra[code - 400] = 1;
		p = end;
	}
	return 0;
}

static void
secret_clear(struct secret *sec)
{
	if (sec->value != NULL) {
		explicit_bzero(sec->value, strlen(sec->value));
		free(sec->value);
		sec->value = NULL;
	}
}

/* Reads sec->path if it changed since the last read; *changed tells. */
static int
secret_load(struct sink *s, const char *opt, struct secret *sec,
    int *changed, char *errbuf, size_t errlen)
{
	struct stat st;
	char *v;
	ssize_t n;
	size_t len = 0;
	int fd, e;

	*changed = 0;
	if (sec->path == NULL)
		return 0;
	if ((fd = open(sec->path, O_RDONLY | O_CLOEXEC)) == -1) {
		ks_err_set(errbuf, errlen, "%s %s: %s", opt, sec->path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		ks_err_set(errbuf, errlen, "%s %s: %s", opt, sec->path, strerror(e));
		return -1;
	}
	if (sec->value != NULL && st.st_dev == sec->dev &&
	    st.st_ino == sec->ino && st.st_size == sec->size &&
	    st.st_mtim.tv_sec == sec->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == sec->mtime.tv_nsec) {
		close(fd);
		return 0;
	}
	if ((v = malloc(HTTP_SECRET_MAX + 1)) == NULL) {
		close(fd);
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	while (len < HTTP_SECRET_MAX &&
	    (n = read(fd, v + len, HTTP_SECRET_MAX - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			explicit_bzero(v, len);
			free(v);
			ks_err_set(errbuf, errlen, "%s %s: %s", opt, sec->path,
			    strerror(e));
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	v[len] = '\0';
	if (len > 0 && v[len - 1] == '\n')
		v[--len] = '\0';
	if (len > 0 && v[len - 1] == '\r')
		v[--len] = '\0';
	if (len == 0 || len == HTTP_SECRET_MAX || strlen(v) != len ||
	    strpbrk(v, "\r\n") != NULL) {
		explicit_bzero(v, len);
		free(v);
		ks_err_set(errbuf, errlen, "%s %s: expected one line of text, not "
		    "empty, shorter than %d bytes", opt, sec->path,
		    HTTP_SECRET_MAX);
		return -1;
	}
	if (sec->value == NULL && (st.st_mode & S_IROTH))
		s->host->log(s->ctx, KSINK_LOG_WARN, "%s %s is readable by "
		    "every user; chmod o-r it", opt, sec->path);
	secret_clear(sec);
	sec->value = v;
	sec->dev = st.st_dev;
	sec->ino = st.st_ino;
	sec->size = st.st_size;
	sec->mtime = st.st_mtim;
	*changed = 1;
	return 0;
}

/* Hands the current credentials to libcurl. */
static void
apply_auth(struct sink *s)
{
	if (s->token.value != NULL) {
		curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(s->curl, CURLOPT_XOAUTH2_BEARER,
		    s->token.value);
	} else if (s->basic_user != NULL) {
		curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->basic_user);
		curl_easy_setopt(s->curl, CURLOPT_PASSWORD,
		    s->password.value != NULL ? s->password.value : "");
	}
}

/* Reads the secret files again if they changed. */
static int
refresh_secrets(struct sink *s, char *errbuf, size_t errlen)
{
	int a = 0, b = 0;

	if (secret_load(s, "http.bearer.token.file", &s->token, &a, errbuf,
	    errlen) == -1 ||
	    secret_load(s, "http.basic.password.file", &s->password, &b,
	    errbuf, errlen) == -1)
		return -1;
	if (a || b)
		apply_auth(s);
	return 0;
}

/*
 * Requests.
 */

static size_t
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
static void
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
static int
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
	t0 = now_ms();
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
		    url_log, now_ms() - t0, curl_easy_strerror(rc));
		return st;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, code);
	if (rq != NULL)
		s->host->log(s->ctx, KSINK_LOG_DEBUG, "%s %s %s/%" PRId32
		    " offsets %" PRId64 "-%" PRId64 " (%zu records, %zu "
		    "bytes, key %.16s...): %ld in %" PRId64 " ms",
		    s->put ? "PUT" : "POST", url_log, rq->topic,
		    rq->partition, rq->first, rq->last, rq->nrec, rq->len,
		    rq->key, *code, now_ms() - t0);
	else
		s->host->log(s->ctx, KSINK_LOG_DEBUG, "GET %s: %ld in %"
		    PRId64 " ms", url_log, *code, now_ms() - t0);
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
			s->not_before = now_ms() + wait;
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

/*
 * The ledger.
 */

static int
db_fail(struct sink *s, const char *what, char *errbuf, size_t errlen)
{
	int rc = sqlite3_extended_errcode(s->db);

	ks_err_set(errbuf, errlen, "ledger %s: %s: %s", s->state_path, what,
	    sqlite3_errmsg(s->db));
	/* A busy ledger is another process's: everything else, disk full
	 * and I/O errors (fsync) included, stops the connector. */
	return (rc & 0xff) == SQLITE_BUSY ? KSINK_RETRY : KSINK_FATAL;
}

static int
db_exec(struct sink *s, const char *sql, char *errbuf, size_t errlen)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s, sql, errbuf, errlen);
	return KSINK_OK;
}

static void
db_rollback(struct sink *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
ledger_open(struct sink *s, char *errbuf, size_t errlen)
{
	static const char *const schema =
	    "CREATE TABLE IF NOT EXISTS ksink_http_intents ("
	    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " connector TEXT NOT NULL, topic TEXT NOT NULL,"
	    " partition INTEGER NOT NULL, first_offset INTEGER NOT NULL,"
	    " last_offset INTEGER NOT NULL, records INTEGER NOT NULL,"
	    " idempotency_key TEXT NOT NULL, content_type TEXT,"
	    " body BLOB NOT NULL, created_ms INTEGER NOT NULL);";
	char msg[512], pragma[40];
	sqlite3_stmt *st;
	int version, rc;

	rc = sqlite3_open_v2(s->state_path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "http.state.path %s: %s; check that its "
		    "directory exists and that ksink may write there (SQLite "
		    "also writes -wal and -shm files beside it)",
		    s->state_path, s->db ? sqlite3_errmsg(s->db) :
		    sqlite3_errstr(rc));
		return KSINK_FATAL;
	}
	sqlite3_extended_result_codes(s->db, 1);
	/* A process that just died has released its lock; a live one
	 * keeps it. */
	sqlite3_busy_timeout(s->db, 2000);
	/* One process at a time: the lock is taken by the first
	 * transaction and kept until close. */
	if (db_exec(s, "PRAGMA locking_mode = EXCLUSIVE", errbuf, errlen) ||
	    db_exec(s, "PRAGMA journal_mode = WAL", errbuf, errlen) ||
	    db_exec(s, "PRAGMA synchronous = FULL", errbuf, errlen) ||
	    db_exec(s, "BEGIN IMMEDIATE", errbuf, errlen)) {
		if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_BUSY)
			ks_err_set(errbuf, errlen, "ledger %s is in use by another "
			    "process or connector; give each connector its "
			    "own http.state.path", s->state_path);
		return KSINK_FATAL;
	}
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		db_rollback(s);
		db_fail(s, "reading the schema version", errbuf, errlen);
		return KSINK_FATAL;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > HTTP_LEDGER_VERSION) {
		db_rollback(s);
		ks_err_set(errbuf, errlen, "ledger %s has schema version %d, newer "
		    "than this ksink's (%d): use a newer ksink",
		    s->state_path, version, HTTP_LEDGER_VERSION);
		return KSINK_FATAL;
	}
	/* A ledger of version 1 has its offsets moved into ksink_offsets
	 * in this same transaction. */
	if (db_exec(s, schema, errbuf, errlen) != KSINK_OK) {
		db_rollback(s);
		return KSINK_FATAL;
	}
	if (ks_sqloffsets_create(s->db, HTTP_LEDGER_OLD_OFFSETS, msg,
	    sizeof(msg)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "ledger %s: %s", s->state_path, msg);
		db_rollback(s);
		return KSINK_FATAL;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
	    HTTP_LEDGER_VERSION);
	if (db_exec(s, pragma, errbuf, errlen) ||
	    db_exec(s, "COMMIT", errbuf, errlen)) {
		db_rollback(s);
		return KSINK_FATAL;
	}
	if (version < HTTP_LEDGER_VERSION && version > 0)
		s->host->log(s->ctx, KSINK_LOG_INFO, "ledger %s: schema "
		    "version %d upgraded to %d, stored offsets kept",
		    s->state_path, version, HTTP_LEDGER_VERSION);
	if (ks_sqloffsets_open(&s->offsets, s->db, s->connector) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO ksink_http_intents "
	    "(connector, topic, partition, first_offset, last_offset, "
	    "records, idempotency_key, content_type, body, created_ms) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", -1,
	    &s->st_intent, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM ksink_http_intents "
	    "WHERE id = ?1", -1, &s->st_drop, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT id, topic, partition, "
	    "first_offset, last_offset, records, idempotency_key, "
	    "content_type, body FROM ksink_http_intents WHERE connector = ?1 "
	    "ORDER BY id LIMIT 1", -1, &s->st_pending, NULL) != SQLITE_OK) {
		db_fail(s, "preparing statements", errbuf, errlen);
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

static void
ledger_close(struct sink *s)
{
	ks_sqloffsets_close(&s->offsets);
	sqlite3_finalize(s->st_intent);
	sqlite3_finalize(s->st_drop);
	sqlite3_finalize(s->st_pending);
	if (s->db != NULL)
		sqlite3_close(s->db);
	s->db = NULL;
}

static int
ledger_get(struct sink *s, const char *topic, int32_t partition,
    int64_t *next, char *errbuf, size_t errlen)
{
	if (ks_sqloffsets_get(&s->offsets, topic, partition, next) !=
	    SQLITE_OK)
		return db_fail(s, "reading offsets", errbuf, errlen);
	return KSINK_OK;
}

/* Within a transaction. */
static int
ledger_advance(struct sink *s, const char *topic, int32_t partition,
    int64_t next, char *errbuf, size_t errlen)
{
	if (ks_sqloffsets_advance(&s->offsets, topic, partition, next) !=
	    SQLITE_OK)
		return db_fail(s, "storing offsets", errbuf, errlen);
	return KSINK_OK;
}

/* Makes the intent of rq durable; *id is its row. */
static int
ledger_intent(struct sink *s, const struct request *rq, int64_t *id,
    char *errbuf, size_t errlen)
{
	int rc;

	if ((rc = db_exec(s, "BEGIN IMMEDIATE", errbuf, errlen)) != KSINK_OK)
		return rc;
	sqlite3_bind_text(s->st_intent, 1, s->connector, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->st_intent, 2, rq->topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s->st_intent, 3, rq->partition);
	sqlite3_bind_int64(s->st_intent, 4, rq->first);
	sqlite3_bind_int64(s->st_intent, 5, rq->last);
	sqlite3_bind_int64(s->st_intent, 6, (sqlite3_int64)rq->nrec);
	sqlite3_bind_text(s->st_intent, 7, rq->key, -1, SQLITE_STATIC);
	if (rq->ctype != NULL)
		sqlite3_bind_text(s->st_intent, 8, rq->ctype, -1,
		    SQLITE_STATIC);
	sqlite3_bind_blob64(s->st_intent, 9, rq->len ? rq->body : "",
	    rq->len, SQLITE_STATIC);
	sqlite3_bind_int64(s->st_intent, 10, wall_ms());
	rc = sqlite3_step(s->st_intent);
	sqlite3_reset(s->st_intent);
	sqlite3_clear_bindings(s->st_intent);
	if (rc != SQLITE_DONE) {
		rc = db_fail(s, "storing a request's intent", errbuf, errlen);
		db_rollback(s);
		return rc;
	}
	*id = sqlite3_last_insert_rowid(s->db);
	if ((rc = db_exec(s, "COMMIT", errbuf, errlen)) != KSINK_OK) {
		db_rollback(s);
		return rc;
	}
	return KSINK_OK;
}

/* Removes an intent; with delivered, advances the partition's offset in
 * the same transaction. */
static int
ledger_settle(struct sink *s, int64_t id, const struct request *rq,
    int delivered, char *errbuf, size_t errlen)
{
	int rc;

	if ((rc = db_exec(s, "BEGIN IMMEDIATE", errbuf, errlen)) != KSINK_OK)
		return rc;
	sqlite3_bind_int64(s->st_drop, 1, id);
	rc = sqlite3_step(s->st_drop);
	sqlite3_reset(s->st_drop);
	if (rc != SQLITE_DONE) {
		rc = db_fail(s, "settling a request's intent", errbuf, errlen);
		db_rollback(s);
		return rc;
	}
	if (delivered && (rc = ledger_advance(s, rq->topic, rq->partition,
	    rq->last + 1, errbuf, errlen)) != KSINK_OK) {
		db_rollback(s);
		return rc;
	}
	if ((rc = db_exec(s, "COMMIT", errbuf, errlen)) != KSINK_OK) {
		db_rollback(s);
		return rc;
	}
	return KSINK_OK;
}

/*
 * Fences: the next offset of each partition, cached.
 */

/* The cached fence of a partition, read from the ledger the first time. */
static int
fence_get(struct sink *s, const char *topic, int32_t partition,
    struct ks_offcache_entry **out, char *errbuf, size_t errlen)
{
	int64_t next = KSINK_OFFSET_NONE;
	int rc;

	if ((*out = ks_offcache_find(&s->fences, topic, partition)) != NULL)
		return KSINK_OK;
	if (s->db != NULL &&
	    (rc = ledger_get(s, topic, partition, &next, errbuf, errlen)) !=
	    KSINK_OK)
		return rc;
	if ((*out = ks_offcache_add(&s->fences, topic, partition, next)) ==
	    NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

static void
fence_raise(struct ks_offcache_entry *f, int64_t next)
{
	if (f->next == KSINK_OFFSET_NONE || next > f->next)
		f->next = next;
}

/*
 * Sending.
 */

/* Sends one request whose intent is already durable (or that needs none)
 * and settles the intent. */
static int
deliver(struct sink *s, const struct request *rq, int64_t id,
    char *errbuf, size_t errlen)
{
	struct ks_offcache_entry *f;
	long code;
	int st, rc;

	st = perform(s, s->url, s->url_log, rq, &code, errbuf, errlen);
	if (st == KSINK_OK) {
		if (s->db != NULL && (rc = ledger_settle(s, id, rq, 1, errbuf,
		    errlen)) != KSINK_OK)
			return rc == KSINK_RETRY ? KSINK_FATAL : rc;
		if ((rc = fence_get(s, rq->topic, rq->partition, &f, errbuf,
		    errlen)) != KSINK_OK)
			return rc;
		fence_raise(f, rq->last + 1);
		return KSINK_OK;
	}
	/* A rejected request took no effect: its intent goes, and the
	 * records are examined again (split, or reported as poison). */
	if (st == KSINK_POISON && s->db != NULL) {
		char tmp[256];

		if ((rc = ledger_settle(s, id, rq, 0, tmp, sizeof(tmp))) !=
		    KSINK_OK) {
			ks_err_set(errbuf, errlen, "%s", tmp);
			return KSINK_FATAL;
		}
	}
	return st;
}

/* Sends the intent left by an earlier attempt or run, if any, before
 * anything else. */
static int
resend_pending(struct sink *s, char *errbuf, size_t errlen)
{
	struct request rq;
	sqlite3_stmt *st = s->st_pending;
	int64_t id;
	int rc;

	if (s->db == NULL)
		return KSINK_OK;
	for (;;) {
		sqlite3_bind_text(st, 1, s->connector, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE) {
			sqlite3_reset(st);
			return KSINK_OK;
		}
		if (rc != SQLITE_ROW) {
			sqlite3_reset(st);
			return db_fail(s, "reading intents", errbuf, errlen);
		}
		memset(&rq, 0, sizeof(rq));
		id = sqlite3_column_int64(st, 0);
		rq.topic = (const char *)sqlite3_column_text(st, 1);
		rq.partition = sqlite3_column_int(st, 2);
		rq.first = sqlite3_column_int64(st, 3);
		rq.last = sqlite3_column_int64(st, 4);
		rq.nrec = (size_t)sqlite3_column_int64(st, 5);
		rq.key = (const char *)sqlite3_column_text(st, 6);
		rq.ctype = (const char *)sqlite3_column_text(st, 7);
		rq.body = sqlite3_column_blob(st, 8);
		rq.len = (size_t)sqlite3_column_bytes(st, 8);
		if (rq.body == NULL)
			rq.body = "";
		/* The row's text stays valid until the statement is reset,
		 * and the settling transaction needs it reset: copy. */
		ks_buf_reset(&s->body);
		ks_buf_add(&s->body, rq.body, rq.len);
		ks_buf_addc(&s->body, '\0');
		ks_buf_adds(&s->body, rq.topic ? rq.topic : "");
		ks_buf_addc(&s->body, '\0');
		ks_buf_adds(&s->body, rq.key ? rq.key : "");
		ks_buf_addc(&s->body, '\0');
		ks_buf_adds(&s->body, rq.ctype ? rq.ctype : "");
		sqlite3_reset(st);
		if (s->body.oom) {
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		rq.body = s->body.p;
		rq.topic = rq.body + rq.len + 1;
		rq.key = rq.topic + strlen(rq.topic) + 1;
		rq.ctype = rq.key + strlen(rq.key) + 1;
		if (*rq.ctype == '\0')
			rq.ctype = NULL;
		s->host->log(s->ctx, KSINK_LOG_INFO, "re-sending the in-doubt "
		    "request for %s/%" PRId32 " offsets %" PRId64 "-%" PRId64
		    " with its Idempotency-Key", rq.topic, rq.partition,
		    rq.first, rq.last);
		rc = deliver(s, &rq, id, errbuf, errlen);
		if (rc == KSINK_POISON) {
			s->host->log(s->ctx, KSINK_LOG_WARN, "the receiver "
			    "rejected the in-doubt request: %s; its records "
			    "are sent again", errbuf);
			continue;
		}
		if (rc != KSINK_OK)
			return rc;
	}
}

/* Builds (unless built: the body holds them already) and sends the
 * request of records order[lo..hi) of group g; a rejected request of
 * several records is split in halves until the poison record is found:
 * *poison is then its position in order[]. */
static int
send_range(struct sink *s, const struct ksink_record *recs,
    size_t lo, size_t hi, size_t *poison, int built, char *errbuf,
    size_t errlen)
{
	const struct ksink_record *r0 = &recs[s->order[lo]];
	struct request rq;
	char key[65];
	int64_t id = 0;
	size_t i, mid;
	int rc;

	if (!built) {
		body_begin(s);
		for (i = lo; i < hi; i++)
			body_add(s, &recs[s->order[i]], i - lo);
		body_end(s);
	}
	if (s->body.oom) {
		ks_err_set(errbuf, errlen, "out of memory building a request of "
		    "%zu records", hi - lo);
		return KSINK_FATAL;
	}
	memset(&rq, 0, sizeof(rq));
	rq.topic = r0->topic;
	rq.partition = r0->partition;
	rq.first = r0->offset;
	rq.last = recs[s->order[hi - 1]].offset;
	rq.nrec = hi - lo;
	idempotency_key(s->connector, rq.topic, rq.partition, rq.first,
	    rq.last, key);
	rq.key = key;
	rq.ctype = s->ctype;
	rq.body = s->body.p;
	rq.len = s->body.len;
	if (s->db != NULL &&
	    (rc = ledger_intent(s, &rq, &id, errbuf, errlen)) != KSINK_OK)
		return rc;
	rc = deliver(s, &rq, id, errbuf, errlen);
	if (rc != KSINK_POISON)
		return rc;
	if (hi - lo == 1) {
		*poison = lo;
		return KSINK_POISON;
	}
	s->host->log(s->ctx, KSINK_LOG_INFO, "%s; splitting the request to "
	    "find the record the receiver rejects", errbuf);
	mid = lo + (hi - lo) / 2;
	if ((rc = send_range(s, recs, lo, mid, poison, 0, errbuf,
	    errlen)) != KSINK_OK)
		return rc;
	return send_range(s, recs, mid, hi, poison, 0, errbuf, errlen);
}

/* Appends record r, the nth of the body; returns its size in the body,
 * counting the separator before it even for the first. */
static size_t
body_append(struct sink *s, const struct ksink_record *r, size_t nth)
{
	size_t mark = s->body.len;

	body_add(s, r, nth);
	return s->body.len - mark + (s->format == FMT_JSON && nth == 0);
}

/* Sends the records order[lo..hi) of one partition as requests of at most
 * max_records records and max_bytes bytes.  Each record is encoded once:
 * the body grows until the next record would not fit, and only that
 * record is encoded again, at the start of the next body. */
static int
send_group(struct sink *s, const struct ksink_record *recs, size_t lo,
    size_t hi, size_t *poison, char *errbuf, size_t errlen)
{
	size_t start = lo, bytes = 0, head, mark, n, i;
	int rc;

	if (lo >= hi)
		return KSINK_OK;
	if (s->format == FMT_VALUE) {
		for (i = lo; i < hi; i++)
			if ((rc = send_range(s, recs, i, i + 1, poison, 0,
			    errbuf, errlen)) != KSINK_OK)
				return rc;
		return KSINK_OK;
	}
	head = s->format == FMT_JSON ? 2 : 0;	/* "[" and "]" */
	body_begin(s);
	for (i = lo; i < hi; i++) {
		mark = s->body.len;
		n = body_append(s, &recs[s->order[i]], i - start);
		if (s->body.oom) {
			ks_err_set(errbuf, errlen, "out of memory building a "
			    "request of %zu records", i - start + 1);
			return KSINK_FATAL;
		}
		if (i > start && (i - start == s->max_records ||
		    head + bytes + n > s->max_bytes)) {
			s->body.len = mark;
			body_end(s);
			if ((rc = send_range(s, recs, start, i, poison, 1,
			    errbuf, errlen)) != KSINK_OK)
				return rc;
			start = i;
			body_begin(s);
			n = body_append(s, &recs[s->order[i]], 0);
			bytes = 0;
		}
		bytes += n;
	}
	body_end(s);
	if (s->body.oom) {
		ks_err_set(errbuf, errlen, "out of memory building a request of "
		    "%zu records", hi - start);
		return KSINK_FATAL;
	}
	return send_range(s, recs, start, hi, poison, 1, errbuf, errlen);
}

/* Scratch arrays for n records. */
static int
scratch(struct sink *s, size_t n)
{
	size_t *o, *g;
	struct group *gr;

	if (n <= s->order_cap)
		return 0;
	if ((o = realloc(s->order, n * sizeof(*o))) == NULL)
		return -1;
	s->order = o;
	if ((g = realloc(s->gidx, n * sizeof(*g))) == NULL)
		return -1;
	s->gidx = g;
	if ((gr = realloc(s->groups, n * sizeof(*gr))) == NULL)
		return -1;
	s->groups = gr;
	s->order_cap = s->groups_cap = n;
	return 0;
}

/*
 * The plugin's callbacks.
 */

static void http_close(void *);

static int
http_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **out,
    char *errbuf, size_t errlen)
{
	struct sink *s;
	const char *v, *fmt;
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
	if ((v = opt_str(s, "http.basic.user")) != NULL &&
	    (s->basic_user = strdup(v)) == NULL)
		goto oom;
	s->password.path = opt_str(s, "http.basic.password.file");
	s->token.path = opt_str(s, "http.bearer.token.file");
	if (opt_str(s, "http.basic.password") != NULL &&
	    s->password.path != NULL) {
		ks_err_set(errbuf, errlen, "http.basic.password and "
		    "http.basic.password.file are both set: keep one");
		goto fail;
	}
	if (opt_str(s, "http.bearer.token") != NULL && s->token.path != NULL) {
		ks_err_set(errbuf, errlen, "http.bearer.token and "
		    "http.bearer.token.file are both set: keep one");
		goto fail;
	}
	if ((opt_str(s, "http.basic.password") != NULL ||
	    s->password.path != NULL) && s->basic_user == NULL) {
		ks_err_set(errbuf, errlen, "a Basic password is set but "
		    "http.basic.user is not");
		goto fail;
	}
	if (s->basic_user != NULL && (opt_str(s, "http.bearer.token") ||
	    s->token.path != NULL)) {
		ks_err_set(errbuf, errlen, "http.basic.user and a bearer token are "
		    "both set: the receiver takes one Authorization header");
		goto fail;
	}
	if ((v = opt_str(s, "http.basic.password")) != NULL &&
	    (s->password.value = strdup(v)) == NULL)
		goto oom;
	if ((v = opt_str(s, "http.bearer.token")) != NULL) {
		if (strpbrk(v, "\r\n") != NULL) {
			ks_err_set(errbuf, errlen, "http.bearer.token holds a line "
			    "break");
			goto fail;
		}
		if ((s->token.value = strdup(v)) == NULL)
			goto oom;
	}
	{
		int changed;

		if (secret_load(s, "http.basic.password.file", &s->password,
		    &changed, errbuf, errlen) == -1 ||
		    secret_load(s, "http.bearer.token.file", &s->token,
		    &changed, errbuf, errlen) == -1)
			goto fail;
	}
	if ((opt_str(s, "http.tls.key.file") != NULL) !=
	    (opt_str(s, "http.tls.cert.file") != NULL)) {
		ks_err_set(errbuf, errlen, "http.tls.cert.file and http.tls.key.file "
		    "go together");
		goto fail;
	}
	/* The TLS files are read only at the first request: find a missing
	 * one now, not when records wait. */
	{
		static const char *const tls[] = { "http.tls.ca.file",
		    "http.tls.ca.path", "http.tls.cert.file",
		    "http.tls.key.file" };
		size_t t;

		for (t = 0; t < sizeof(tls) / sizeof(tls[0]); t++)
			if ((v = opt_str(s, tls[t])) != NULL &&
			    access(v, R_OK) == -1) {
				ks_err_set(errbuf, errlen, "%s = %s: %s", tls[t], v,
				    strerror(errno));
				goto fail;
			}
	}

	/* Exactly-once protocol. */
	if ((v = opt_str(s, "http.state.path")) != NULL) {
		if (s->offsets_url != NULL) {
			ks_err_set(errbuf, errlen, "http.state.path and "
			    "http.offsets.url are both set: with the offset "
			    "protocol the receiver keeps the offsets and no "
			    "ledger is used; remove one");
			goto fail;
		}
		if ((s->state_path = strdup(v)) == NULL)
			goto oom;
	} else if (s->offsets_url == NULL) {
		ks_err_set(errbuf, errlen, "http.state.path (the ledger) is required "
		    "unless the receiver keeps offsets (http.offsets.url)");
		goto fail;
	}

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
		} else {
			if (s->not_before != 0 && now_ms() < s->not_before) {
				ks_err_set(errbuf, errlen, "waiting %" PRId64 " ms "
				    "more as the receiver asked (Retry-After)",
				    s->not_before - now_ms());
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
http_write(void *arg, const struct ksink_record *recs, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct sink *s = arg;
	struct ks_offcache_entry *f;
	struct group *g;
	char poison_msg[1024] = "";
	size_t i, j, k, lo, hi, at, limit = count, gi, hint = 0;
	int64_t prev;
	int rc, result = KSINK_OK;

	*n_done = 0;
	if (count == 0)
		return KSINK_OK;
	if (s->not_before != 0 && now_ms() < s->not_before) {
		ks_err_set(errbuf, errlen, "waiting %" PRId64 " ms more as the "
		    "receiver asked (Retry-After)", s->not_before - now_ms());
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
		if (offsets[i].next_offset == KSINK_OFFSET_NONE)
			continue;
		if ((rc = fence_get(s, offsets[i].topic, offsets[i].partition,
		    &f, errbuf, errlen)) != KSINK_OK)
			return rc;
		if (f->next == KSINK_OFFSET_NONE ||
		    offsets[i].next_offset > f->next)
			need = 1;
	}
	if (!need)
		return KSINK_OK;
	/* Offsets past the last delivered record: records skipped as
	 * poison, or the end of the batch was fenced. */
	if (s->db != NULL) {
		if ((rc = db_exec(s, "BEGIN IMMEDIATE", errbuf, errlen)) !=
		    KSINK_OK)
			return rc;
		for (i = 0; i < count; i++) {
			if (offsets[i].next_offset == KSINK_OFFSET_NONE)
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
	}
	for (i = 0; i < count; i++)
		if (offsets[i].next_offset != KSINK_OFFSET_NONE &&
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

	if (s == NULL)
		return;
	ledger_close(s);
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
	for (i = 0; i < count; i++)
		if (fence_get(s, offsets[i].topic, offsets[i].partition, &f,
		    errbuf, errlen) == KSINK_OK)
			f->next = offsets[i].next_offset;
	rc = KSINK_OK;
out:
	sqlite3_finalize(drop);
	return rc;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
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
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
