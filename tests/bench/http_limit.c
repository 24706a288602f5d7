/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/bench/http_limit.c - the HTTP limit of `make bench`: what a
 * receiver (nginx in the bench) and libcurl take on this machine for the
 * requests the HTTP sink sends.
 *
 * usage: http_limit -t TOPIC -u URL [-b BATCH] [-r RECORDS] [-B BYTES]
 *                   RECORDS-FILE
 *
 * Reads RECORDS-FILE (tests/bench/limit.c) into memory and builds, before
 * timing, the requests the HTTP sink would send with its defaults
 * (http.body.format = json): the records cut into the worker's batches
 * of BATCH (batch.max.records) in the order they were read, each batch's
 * records grouped by partition, each partition's records sent as requests
 * of at most RECORDS records (http.batch.max.records) and BYTES bytes of
 * body (http.batch.max.bytes), cut where the sink cuts them
 * (connectors/http/send.c).  The bench passes ksink's defaults; the
 * program's own are 5,000, 5,000 and 1 MiB.  A body is the JSON array of the
 * records' envelopes, written by the sink's own code
 * (connectors/lib/envelope.c); the headers are the sink's (Content-Type,
 * Ksink-Topic, Ksink-Partition, Ksink-Offset-First, Ksink-Offset-Last,
 * Ksink-Record-Count, and an Idempotency-Key of the same length, not
 * hashed: hashing is the sink's work, not the receiver's), without
 * "Expect: 100-continue".  Then, timed, it POSTs them one after the other
 * on one libcurl easy handle, which keeps the connection alive; every
 * answer must be 2xx and come after the whole body was sent.  No ledger,
 * no fsync.  It prints "rows N seconds S cpu C requests R connections K"
 * for the timed loop (ks_limit_report).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "lib/buf.h"
#include "lib/envelope.h"
#include "lib/err.h"
#include "limit.h"

struct request {
	size_t at, len;			/* the body, in the bodies' buffer */
	struct curl_slist *headers;
};

struct requests {
	struct request *v;
	size_t n, cap;
	struct ks_buf bodies;
	int oom;
};

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: http_limit -t TOPIC -u URL [-b BATCH] "
	    "[-r RECORDS] [-B BYTES] RECORDS-FILE\n");
	exit(2);
}

static size_t
discard(char *data, size_t size, size_t n, void *arg)
{
	(void)data;
	(void)arg;
	return size * n;
}

/* Ends the request whose body started at the bodies' offset at: records
 * recs[order[lo..hi)]. */
static void
add_request(struct requests *q, const struct ksink_record *recs,
    const size_t *order, size_t lo, size_t hi, size_t at)
{
	const struct ksink_record *r0 = &recs[order[lo]];
	struct request *rq, *nv;
	struct curl_slist *h = NULL, *t;
	char lines[8][128];
	size_t i;

	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 1024;
		if ((nv = realloc(q->v, q->cap * sizeof(*nv))) == NULL) {
			q->oom = 1;
			return;
		}
		q->v = nv;
	}
	rq = &q->v[q->n++];
	rq->at = at;
	rq->len = q->bodies.len - at;
	snprintf(lines[0], sizeof(lines[0]), "Expect:");
	snprintf(lines[1], sizeof(lines[1]), "Idempotency-Key: \"%064zx\"",
	    q->n);
	snprintf(lines[2], sizeof(lines[2]), "Ksink-Topic: %s", r0->topic);
	snprintf(lines[3], sizeof(lines[3]), "Ksink-Partition: %" PRId32,
	    r0->partition);
	snprintf(lines[4], sizeof(lines[4]), "Ksink-Offset-First: %" PRId64,
	    r0->offset);
	snprintf(lines[5], sizeof(lines[5]), "Ksink-Offset-Last: %" PRId64,
	    recs[order[hi - 1]].offset);
	snprintf(lines[6], sizeof(lines[6]), "Ksink-Record-Count: %zu",
	    hi - lo);
	snprintf(lines[7], sizeof(lines[7]), "Content-Type: application/json");
	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if ((t = curl_slist_append(h, lines[i])) == NULL) {
			q->oom = 1;
			break;
		}
		h = t;
	}
	rq->headers = h;
}

/* The requests of one partition's records recs[order[lo..hi)], cut as
 * send_group() of connectors/http/send.c cuts them for the json format:
 * a body grows until the next record would make it hold more than
 * max_records records or more than max_bytes bytes. */
static void
add_group(struct requests *q, const struct ksink_record *recs,
    const size_t *order, size_t lo, size_t hi, size_t max_records,
    size_t max_bytes)
{
	struct ks_buf *b = &q->bodies;
	size_t start = lo, bytes = 0, at = b->len, mark, n, i;

	ks_buf_addc(b, '[');
	for (i = lo; i < hi; i++) {
		mark = b->len;
		if (i > start)
			ks_buf_addc(b, ',');
		ks_envelope_add(b, &recs[order[i]]);
		n = b->len - mark + (i == start);
		if (i > start && (i - start == max_records ||
		    2 + bytes + n > max_bytes)) {
			ks_buf_truncate(b, mark);
			ks_buf_addc(b, ']');
			add_request(q, recs, order, start, i, at);
			start = i;
			at = b->len;
			ks_buf_addc(b, '[');
			mark = b->len;
			ks_envelope_add(b, &recs[order[i]]);
			n = b->len - mark + 1;
			bytes = 0;
		}
		bytes += n;
	}
	ks_buf_addc(b, ']');
	add_request(q, recs, order, start, hi, at);
}

/* Every request of the run, the records cut into batches of batch. */
static int
build(struct requests *q, const struct ks_limit_records *rs, size_t batch,
    size_t max_records, size_t max_bytes, char *errbuf, size_t errlen)
{
	int32_t parts[256];
	size_t *order, counts[256], first[256], i, j, k, g, ng;

	if ((order = calloc(batch, sizeof(*order))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < rs->n && !q->oom; i = j) {
		/* The batch's partitions in the order they first appear. */
		ng = 0;
		for (j = i; j < rs->n && j - i < batch; j++) {
			for (g = 0; g < ng; g++)
				if (parts[g] == rs->v[j].partition)
					break;
			if (g == ng) {
				if (ng == sizeof(parts) / sizeof(parts[0])) {
					ks_err_set(errbuf, errlen, "more than "
					    "%zu partitions in a batch", ng);
					free(order);
					return -1;
				}
				parts[ng] = rs->v[j].partition;
				counts[ng++] = 0;
			}
			counts[g]++;
		}
		for (g = 0, k = 0; g < ng; g++) {
			first[g] = k;
			k += counts[g];
			counts[g] = 0;
		}
		for (k = i; k < j; k++) {
			for (g = 0; parts[g] != rs->v[k].partition; g++)
				;
			order[first[g] + counts[g]++] = k;
		}
		for (g = 0; g < ng; g++)
			add_group(q, rs->v, order, first[g],
			    first[g] + counts[g], max_records, max_bytes);
	}
	free(order);
	if (q->oom || q->bodies.oom) {
		ks_err_set(errbuf, errlen, "out of memory building the "
		    "requests");
		return -1;
	}
	return 0;
}

/* The timed loop: every request, in order, on one connection. */
static int
send_all(CURL *curl, const struct requests *q, long *connects, char *errbuf,
    size_t errlen)
{
	const struct request *rq;
	curl_off_t sent;
	long code, n;
	CURLcode rc;
	size_t i;

	for (i = 0; i < q->n; i++) {
		rq = &q->v[i];
		curl_easy_setopt(curl, CURLOPT_HTTPHEADER, rq->headers);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, q->bodies.p + rq->at);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->len);
		if ((rc = curl_easy_perform(curl)) != CURLE_OK) {
			ks_err_set(errbuf, errlen, "request %zu: %s", i,
			    curl_easy_strerror(rc));
			return -1;
		}
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
		if (code < 200 || code > 299) {
			ks_err_set(errbuf, errlen, "request %zu: HTTP %ld", i,
			    code);
			return -1;
		}
		/* An answer before the whole body was sent would make the
		 * limit a measure of something else. */
		if (curl_easy_getinfo(curl, CURLINFO_SIZE_UPLOAD_T, &sent) !=
		    CURLE_OK || sent != (curl_off_t)rq->len) {
			ks_err_set(errbuf, errlen, "request %zu: %lld of its "
			    "%zu bytes sent before the answer", i,
			    (long long)sent, rq->len);
			return -1;
		}
		if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &n) ==
		    CURLE_OK)
			*connects += n;
	}
	return 0;
}

static size_t
number(const char *s)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v == 0)
		usage();
	return v;
}

int
main(int argc, char *argv[])
{
	const char *topic = NULL, *url = NULL;
	struct requests q;
	struct ks_limit_records rs;
	struct ks_limit_clock clock;
	size_t batch = 5000, max_records = 5000, max_bytes = 1048576, i;
	char errbuf[1024], what[64];
	CURL *curl = NULL;
	long connects = 0;
	int ch, status = 1;

	memset(&q, 0, sizeof(q));
	while ((ch = getopt(argc, argv, "b:B:r:t:u:")) != -1) {
		switch (ch) {
		case 'b':
			batch = number(optarg);
			break;
		case 'B':
			max_bytes = number(optarg);
			break;
		case 'r':
			max_records = number(optarg);
			break;
		case 't':
			topic = optarg;
			break;
		case 'u':
			url = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 1 || topic == NULL || url == NULL)
		usage();

	if (ks_limit_read(&rs, argv[0], topic, errbuf, sizeof(errbuf)) == -1 ||
	    build(&q, &rs, batch, max_records, max_bytes, errbuf,
	    sizeof(errbuf)) == -1)
		goto out;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (curl = curl_easy_init()) == NULL) {
		ks_err_set(errbuf, sizeof(errbuf), "cannot initialise libcurl");
		goto out;
	}
	/* The options connectors/http/http.c sets for a plain http URL. */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 30000L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "ksink-http/limit");
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);

	ks_limit_start(&clock);
	if (send_all(curl, &q, &connects, errbuf, sizeof(errbuf)) == -1)
		goto out;
	snprintf(what, sizeof(what), "requests %zu connections %ld", q.n,
	    connects);
	ks_limit_report(&clock, rs.n, what);
	status = 0;
out:
	if (status != 0)
		fprintf(stderr, "http_limit: %s\n", errbuf);
	if (curl != NULL) {
		curl_easy_cleanup(curl);
		curl_global_cleanup();
	}
	for (i = 0; i < q.n; i++)
		curl_slist_free_all(q.v[i].headers);
	free(q.v);
	ks_buf_free(&q.bodies);
	ks_limit_free(&rs);
	return status;
}
