/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/send.c - sending a partition's records as requests:
 * requests in doubt first (doubt.c), then batches by http.batch.max.records and
 * http.batch.max.bytes, a rejected batch split in halves until the poison
 * record is isolated.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http.h"

/*
 * Sending.
 */

/* Sends one request whose intent is already durable (or that needs none)
 * and settles the intent. */
int
deliver(struct sink *s, const struct request *rq, int64_t id,
    char *errbuf, size_t errlen)
{
	struct ks_offcache_entry *f;
	long code;
	int st, rc;

	st = perform(s, s->url, s->url_log, rq, &code, errbuf, errlen);
	if (st == KSINK_OK) {
		if ((rc = fence_get(s, rq->topic, rq->partition, &f, errbuf,
		    errlen)) != KSINK_OK)
			return rc;
		if (s->db != NULL && ledger_delivered(s, id, f, rq->last + 1) ==
		    -1) {
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		fence_raise(f, rq->last + 1);
		s->delivered += rq->nrec;
		return KSINK_OK;
	}
	/* A rejected request took no effect: its intent goes, and the
	 * records are examined again (split, or reported as poison). */
	if (st == KSINK_POISON && s->db != NULL) {
		char tmp[256];

		if ((rc = ledger_drop(s, id, tmp, sizeof(tmp))) != KSINK_OK) {
			ks_err_set(errbuf, errlen, "%s", tmp);
			return KSINK_FATAL;
		}
	}
	return st;
}

/* Sends the requests in doubt whose body is at hand (kept by this process,
 * or by an older ledger) before anything else. */
int
resend_pending(struct sink *s, char *errbuf, size_t errlen)
{
	size_t i = 0;
	int rc;

	while (i < s->ndoubts) {
		if (!s->doubts[i].complete) {
			i++;
			continue;
		}
		rc = doubt_send(s, &s->doubts[i], errbuf, errlen);
		if (rc != KSINK_OK && rc != KSINK_POISON)
			return rc;
	}
	return KSINK_OK;
}

/* Builds (unless built: the body holds them already) and sends the
 * request of records order[lo..hi) of group g; a rejected request of
 * several records is split in halves until the poison record is found:
 * *poison is then its position in order[]. */
int
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
		body_begin(s, &s->body);
		for (i = lo; i < hi; i++)
			body_add(s, &s->body, &recs[s->order[i]], i - lo);
		body_end(s, &s->body);
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
	/* Its intent stays: in doubt, with its body. */
	if (rc != KSINK_OK && rc != KSINK_POISON && s->db != NULL &&
	    doubt_keep(s, &rq, id) == -1) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
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
size_t
body_append(struct sink *s, const struct ksink_record *r, size_t nth)
{
	size_t mark = s->body.len;

	body_add(s, &s->body, r, nth);
	return s->body.len - mark + (s->format == FMT_JSON && nth == 0);
}

/* Sends the records order[lo..hi) of one partition as requests of at most
 * max_records records and max_bytes bytes.  Each record is encoded once:
 * the body grows until the next record would not fit, and only that
 * record is encoded again, at the start of the next body. */
int
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
	body_begin(s, &s->body);
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
			body_end(s, &s->body);
			if ((rc = send_range(s, recs, start, i, poison, 1,
			    errbuf, errlen)) != KSINK_OK)
				return rc;
			start = i;
			body_begin(s, &s->body);
			n = body_append(s, &recs[s->order[i]], 0);
			bytes = 0;
		}
		bytes += n;
	}
	body_end(s, &s->body);
	if (s->body.oom) {
		ks_err_set(errbuf, errlen, "out of memory building a request of "
		    "%zu records", hi - start);
		return KSINK_FATAL;
	}
	return send_range(s, recs, start, hi, poison, 1, errbuf, errlen);
}

/* Scratch arrays for n records. */
int
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
	s->order_cap = n;	/* of order, gidx and groups */
	return 0;
}
