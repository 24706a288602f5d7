/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/doubt.c - requests in doubt: sent, or about to be, with
 * their intent in the ledger, and not known to be applied.  Each is sent
 * again byte-identical, with its Idempotency-Key, before any later record
 * of its partition.
 *
 * The ledger keeps what re-creates a request, not its body: the range of
 * records (topic, partition, first and last offset, count), the key, the
 * content type, and the body's length and digest.  Kafka's records are
 * immutable, so the body is rebuilt from the records of the range, which
 * the worker reads again from the ledger's offset after a restart; the
 * rebuilt body must have the stored length and digest, or the connector
 * stops (the configuration that shapes the body changed meanwhile).  A
 * request that fails while this process runs keeps its body in memory.
 *
 * The range may come in several batches of the worker: the records are
 * then held in the request's body until the last one comes, and commit()
 * does not advance the partition's offset past them (http.c).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http.h"

/* The doubt of a partition with the lowest first offset. */
struct doubt *
doubt_find(struct sink *s, const char *topic, int32_t partition)
{
	struct doubt *d, *low = NULL;
	size_t i;

	for (i = 0; i < s->ndoubts; i++) {
		d = &s->doubts[i];
		if (d->partition == partition && strcmp(d->topic, topic) == 0 &&
		    (low == NULL || d->first < low->first))
			low = d;
	}
	return low;
}

/* Keeps request rq, whose intent is row id; with rq->body, the body is
 * kept (complete), else it is to be rebuilt.  -1: out of memory. */
int
doubt_keep(struct sink *s, const struct request *rq, int64_t id)
{
	struct doubt *d;

	if ((d = realloc(s->doubts, (s->ndoubts + 1) * sizeof(*d))) == NULL)
		return -1;
	s->doubts = d;
	d = &s->doubts[s->ndoubts];
	memset(d, 0, sizeof(*d));
	d->id = id;
	d->partition = rq->partition;
	d->first = rq->first;
	d->last = rq->last;
	d->next = rq->first;
	d->nrec = rq->nrec;
	snprintf(d->key, sizeof(d->key), "%s", rq->key);
	if ((d->topic = strdup(rq->topic)) == NULL ||
	    (rq->ctype != NULL && (d->ctype = strdup(rq->ctype)) == NULL)) {
		free(d->topic);
		return -1;
	}
	if (rq->body != NULL) {
		ks_buf_add(&d->body, rq->body, rq->len);
		d->len = rq->len;
		d->digest = body_digest(rq->body, rq->len);
		d->complete = 1;
		if (d->body.oom) {
			ks_buf_free(&d->body);
			free(d->topic);
			free(d->ctype);
			return -1;
		}
	}
	s->ndoubts++;
	return 0;
}

void
doubt_drop(struct sink *s, struct doubt *d)
{
	size_t i = (size_t)(d - s->doubts);

	free(d->topic);
	free(d->ctype);
	ks_buf_free(&d->body);
	memmove(d, d + 1, (s->ndoubts - i - 1) * sizeof(*d));
	s->ndoubts--;
}

void
doubt_clear(struct sink *s)
{
	while (s->ndoubts > 0)
		doubt_drop(s, &s->doubts[s->ndoubts - 1]);
}

/* The partition is assigned again: the worker reads it again from the
 * ledger's offset, so a body being rebuilt starts over. */
void
doubt_restart(struct sink *s, const char *topic, int32_t partition)
{
	struct doubt *d;
	size_t i;

	for (i = 0; i < s->ndoubts; i++) {
		d = &s->doubts[i];
		if (d->complete || d->partition != partition ||
		    strcmp(d->topic, topic) != 0)
			continue;
		ks_buf_reset(&d->body);
		d->have = 0;
		d->next = d->first;
	}
}

static int
unbuildable(struct doubt *d, const char *why, char *errbuf, size_t errlen)
{
	ks_err_set(errbuf, errlen, "the request in doubt for %s/%" PRId32
	    " offsets %" PRId64 "-%" PRId64 " (Idempotency-Key %.16s...) "
	    "cannot be rebuilt byte-identical: %s.  The receiver may have "
	    "applied it: restore the configuration it was sent with "
	    "(http.body.format, the converters), or set the partition's "
	    "offset with ksink offsets --reset, to %" PRId64 " if the "
	    "receiver applied it, else to %" PRId64, d->topic, d->partition,
	    d->first, d->last, d->key, why, d->last + 1, d->first);
	return KSINK_FATAL;
}

/* Appends to d's body the records order[lo..hi), those of its range, of
 * which it holds none yet; the body is complete with the last one. */
static int
rebuild(struct sink *s, struct doubt *d, const struct ksink_record *recs,
    size_t lo, size_t hi, char *errbuf, size_t errlen)
{
	const struct ksink_record *r;
	size_t i;

	for (i = lo; i < hi && !d->complete; i++) {
		r = &recs[s->order[i]];
		if (r->offset < d->next)
			continue;	/* held already: a replayed batch */
		if (d->have == 0 && r->offset != d->first)
			return unbuildable(d, "its first record is gone",
			    errbuf, errlen);
		if (d->have == d->nrec)
			return unbuildable(d, "the range holds more records "
			    "than it did", errbuf, errlen);
		if (d->have == 0)
			body_begin(s, &d->body);
		body_add(s, &d->body, r, d->have++);
		d->next = r->offset + 1;
		if (r->offset < d->last)
			continue;
		body_end(s, &d->body);
		if (d->body.oom) {
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		if (d->have != d->nrec)
			return unbuildable(d, "the range holds fewer records "
			    "than it did", errbuf, errlen);
		if (d->body.len != d->len ||
		    body_digest(d->body.p, d->body.len) != d->digest)
			return unbuildable(d, "its records now make another "
			    "body", errbuf, errlen);
		d->complete = 1;
	}
	if (d->body.oom) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

/* Sends d again, whose body is complete; it goes when the receiver
 * answered (2xx, or a rejection: its records are then sent anew). */
int
doubt_send(struct sink *s, struct doubt *d, char *errbuf, size_t errlen)
{
	struct request rq;
	int rc;

	memset(&rq, 0, sizeof(rq));
	rq.topic = d->topic;
	rq.partition = d->partition;
	rq.first = d->first;
	rq.last = d->last;
	rq.nrec = d->nrec;
	rq.key = d->key;
	rq.ctype = d->ctype;
	rq.body = d->body.p != NULL ? d->body.p : "";
	rq.len = d->body.len;
	s->host->log(s->ctx, KSINK_LOG_INFO, "re-sending the in-doubt "
	    "request for %s/%" PRId32 " offsets %" PRId64 "-%" PRId64
	    " with its Idempotency-Key", rq.topic, rq.partition,
	    rq.first, rq.last);
	rc = deliver(s, &rq, d->id, errbuf, errlen);
	if (rc == KSINK_POISON)
		s->host->log(s->ctx, KSINK_LOG_WARN, "the receiver rejected "
		    "the in-doubt request: %s; its records are sent again",
		    errbuf);
	if (rc == KSINK_OK || rc == KSINK_POISON)
		doubt_drop(s, d);
	return rc;
}

/*
 * Sends the records order[lo..hi) of a partition that has requests in
 * doubt: each in turn from the lowest, rebuilt from its records, with the
 * records before it sent as new requests.  A doubt whose records have not
 * all come yet holds them, and nothing after it is sent.
 */
int
doubt_group(struct sink *s, const struct ksink_record *recs, size_t lo,
    size_t hi, size_t *poison, char *errbuf, size_t errlen)
{
	struct doubt *d;
	size_t a, b;
	int rc;

	while ((d = doubt_find(s, recs[s->order[lo]].topic,
	    recs[s->order[lo]].partition)) != NULL) {
		for (a = lo; a < hi && recs[s->order[a]].offset < d->first; a++)
			;
		for (b = a; b < hi && recs[s->order[b]].offset <= d->last; b++)
			;
		if ((rc = send_group(s, recs, lo, a, poison, errbuf,
		    errlen)) != KSINK_OK)
			return rc;
		if (!d->complete && (rc = rebuild(s, d, recs, a, b, errbuf,
		    errlen)) != KSINK_OK)
			return rc;
		if (!d->complete) {
			if (b < hi)
				return unbuildable(d, d->have == 0 ? "its first "
				    "record is gone" : "the range holds fewer "
				    "records than it did", errbuf, errlen);
			return KSINK_OK;
		}
		rc = doubt_send(s, d, errbuf, errlen);
		if (rc == KSINK_POISON)
			b = a;
		else if (rc != KSINK_OK)
			return rc;
		if ((lo = b) >= hi)
			return KSINK_OK;
	}
	return send_group(s, recs, lo, hi, poison, errbuf, errlen);
}
