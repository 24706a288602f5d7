/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/rows.c - the records of a batch, sent to the
 * server bound to the prepared statements and pipelined (COPY is
 * copy.c's); a failing record isolated so that the worker's error policy
 * can skip it alone.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/envelope.h"
#include "../lib/err.h"
#include "../lib/utf8.h"
#include "postgres.h"

/* Formats milliseconds since the epoch as a timestamptz literal. */
void
fmt_timestamp(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
}

/*
 * The bytes of field f of r, the key, the value or the headers (the JSON
 * of the record envelope's headers, in pg->hdr).  Returns 1, 0 when it is
 * NULL, -1 when out of memory.
 */
int
field_bytes(struct pg *pg, int f, const struct ksink_record *r,
    const void **d, size_t *n)
{
	if (f == PG_F_HEADERS) {
		if (r->header_count == 0)
			return 0;
		ks_buf_reset(&pg->hdr);
		ks_envelope_add_headers(&pg->hdr, r);
		if (pg->hdr.oom)
			return -1;
		*d = pg->hdr.p;
		*n = pg->hdr.len;
		return 1;
	}
	*d = f == PG_F_KEY ? r->key : r->value;
	*n = f == PG_F_KEY ? r->key_len : r->value_len;
	return *d != NULL;
}

/*
 * The partition of r when r is to be applied in this transaction; NULL
 * when it is skipped: its partition is fenced, or not locked, or r is
 * below the stored next offset or one this transaction applied.
 */
struct part *
record_part(struct pg *pg, const struct ksink_record *r)
{
	struct part *p;

	p = part_find(pg, r->topic, r->partition);
	if (p == NULL || p->fenced || !p->locked || r->offset < p->e.next ||
	    (p->txn_next >= 0 && r->offset < p->txn_next))
		return NULL;
	return p;
}

/* What the records of one write() send, for the poison messages. */
struct sent {
	size_t rec;	/* index in records[] */
	int stmt;	/* index in its set */
	int sync;	/* the last of a chunk: a Sync follows */
};

/* A text parameter: NUL-terminated copy of n bytes in buffer b. */
static const char *
text_copy(struct ks_buf *b, const void *d, size_t n)
{
	ks_buf_reset(b);
	ks_buf_add(b, d, n);
	ks_buf_addc(b, '\0');
	return b->oom ? NULL : b->p;
}

/*
 * Sends the statements of one record.  Returns 1, 0 when the record's
 * data cannot be sent as its parameters' types (a poison record; errbuf
 * says why), -1 when the connection failed.
 */
static int
send_record(struct pg *pg, struct pset *set, int i,
    const struct ksink_record *r, size_t *bytes, char *errbuf,
    size_t errlen)
{
	struct pstmt *s = &set->v[i];
	const char *v[PG_F_COUNT];
	int len[PG_F_COUNT], fmt[PG_F_COUNT], j, f, rs;
	char part[16], off[24], ts[48];
	const void *d;
	size_t n;
	Oid t;

	for (j = 0; j < s->t.nparams; j++) {
		f = s->t.field[j];
		t = s->types[j];
		v[j] = NULL;
		len[j] = 0;
		fmt[j] = 0;
		switch (f) {
		case PG_F_TOPIC:
			v[j] = r->topic;
			break;
		case PG_F_PARTITION:
			snprintf(part, sizeof(part), "%d", (int)r->partition);
			v[j] = part;
			break;
		case PG_F_OFFSET:
			snprintf(off, sizeof(off), "%lld",
			    (long long)r->offset);
			v[j] = off;
			break;
		case PG_F_TIMESTAMP:
			if (r->timestamp < 0)
				break;
			if (t == OID_TIMESTAMPTZ || t == OID_TIMESTAMP)
				fmt_timestamp(r->timestamp, ts, sizeof(ts));
			else
				snprintf(ts, sizeof(ts), "%lld",
				    (long long)r->timestamp);
			v[j] = ts;
			break;
		case PG_F_KEY:
		case PG_F_VALUE:
		case PG_F_HEADERS:
			if ((rs = field_bytes(pg, f, r, &d, &n)) == -1)
				return -1;
			if (rs == 0)
				break;
			if (n > INT32_MAX) {
				ks_err_set(errbuf, errlen, "the %s is "
				    "larger than 2 GiB", pg_field_names[f]);
				return 0;
			}
			if (t == OID_BYTEA || t == OID_TEXT ||
			    t == OID_VARCHAR) {
				/* The binary form of these is the bytes. */
				if (t != OID_BYTEA && f != PG_F_HEADERS &&
				    !ks_utf8_check(d, n, 0))
					goto not_text;
				fmt[j] = 1;
				v[j] = n ? d : "";
				len[j] = (int)n;
				break;
			}
			if (f != PG_F_HEADERS && !ks_utf8_check(d, n, 0))
				goto not_text;
			if ((v[j] = text_copy(&pg->pbuf[f], d, n)) == NULL)
				return -1;
			break;
		}
	}
	/* About what the Bind and Execute messages take. */
	*bytes += 48 + strlen(s->name);
	for (j = 0; j < s->t.nparams; j++)
		*bytes += 6 + (fmt[j] ? (size_t)len[j] : v[j] ? strlen(v[j]) :
		    0);
	return PQsendQueryPrepared(pg->conn, s->name, s->t.nparams, v, len,
	    fmt, 0) == 1 ? 1 : -1;
not_text:
	ks_err_set(errbuf, errlen, "%s: the %s is not valid UTF-8 text "
	    "(or holds a NUL byte), and :%s is not a bytea parameter%s",
	    set->option, pg_field_names[f], pg_field_names[f],
	    set->n > 1 ? " in every statement" : "");
	return 0;
}

/*
 * Runs the statements of records[from, to) in one pipeline, cut into
 * chunks each ended by a Sync, then reads the results.  A chunk holds
 * less than libpq's 8 KB send unit (unless one record is larger), so it
 * goes out with its Sync in one write: whenever this worker stalls (a
 * SIGSTOP, a hung host), the server has a whole chunk and sees the
 * session "idle in transaction", where idle_in_transaction_session_timeout
 * applies, never waiting in the middle of a pipeline with the offset rows
 * locked.  A Sync inside the batch's BEGIN block commits nothing, and
 * after a failed statement the statements of the later chunks fail too
 * (the transaction is aborted): the batch stays one transaction.  Returns
 * KSINK_OK, or the failure with *bad set to the index of the record that
 * failed (a poison record, or the one whose statement hit another error).
 */
int
run_records(struct pg *pg, const struct ksink_record *records, size_t from,
    size_t to, size_t *bad, char *errbuf, size_t errlen)
{
	const struct ksink_record *r;
	struct sent *sent = NULL;
	struct pset *set;
	struct part *p;
	PGresult *res;
	size_t i, k, c0, nsent = 0, cap = 0, bytes;
	int j, rs, st = KSINK_OK;

	*bad = from;
	i = from;
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	while (i < to && st == KSINK_OK) {
		c0 = nsent;
		bytes = 0;
		for (; i < to && nsent - c0 < PIPE_CHUNK &&
		    bytes < PIPE_CHUNK_BYTES; i++) {
			r = &records[i];
			if ((p = record_part(pg, r)) == NULL)
				continue;
			set = (r->value == NULL && pg->del.n > 0) ? &pg->del :
			    &pg->main;
			for (j = 0; j < set->n; j++) {
				if (nsent == cap) {
					struct sent *ns;

					cap = cap ? cap * 2 : 256;
					if ((ns = realloc(sent, cap *
					    sizeof(*ns))) == NULL) {
						ks_err_set(errbuf, errlen,
						    "out of memory");
						st = KSINK_FATAL;
						goto flush;
					}
					sent = ns;
				}
				rs = send_record(pg, set, j, r, &bytes,
				    errbuf, errlen);
				if (rs == -1)
					goto lost;
				if (rs == 0) {
					*bad = i;
					st = KSINK_POISON;
					goto flush;
				}
				sent[nsent].rec = i;
				sent[nsent].stmt = j;
				sent[nsent].sync = 0;
				nsent++;
			}
			p->txn_next = r->offset + 1;
		}
flush:
		if (nsent == c0)
			continue;
		if (PQpipelineSync(pg->conn) != 1)
			goto lost;
		sent[nsent - 1].sync = 1;
	}
	for (k = 0; k < nsent; k++) {
		res = next_result(pg);
		rs = PQresultStatus(res);
		if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK &&
		    st == KSINK_OK) {
			char what[128];

			r = &records[sent[k].rec];
			set = (r->value == NULL && pg->del.n > 0) ?
			    &pg->del : &pg->main;
			if (set->n > 1)
				snprintf(what, sizeof(what), "%s, "
				    "statement %d", set->option,
				    sent[k].stmt + 1);
			else
				snprintf(what, sizeof(what), "%s",
				    set->option);
			st = result_error(pg, res, what, errbuf,
			    errlen);
			*bad = sent[k].rec;
		}
		PQclear(res);
		if (res == NULL)
			goto lost;
		if (sent[k].sync)
			drain_sync(pg);
	}
	PQexitPipelineMode(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK)
		goto lost;
	free(sent);
	return st;
lost:
	free(sent);
	st = result_error(pg, NULL, "sending the batch", errbuf, errlen);
	disconnect(pg);
	return KSINK_RETRY;
}
