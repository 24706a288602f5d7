/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * batch.c - the queue of a connector's polled messages, oldest first, and
 * the batch at its head made into the plugin ABI's records
 * (struct ksink_record), pointing into the messages without copying.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "util.h"

void
ks_batch_push(struct ks_batch *w, rd_kafka_message_t *m)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 1024;
		w->msgs = ks_util_xrealloc(w->msgs, w->cap * sizeof(*w->msgs));
	}
	if (w->n == 0)
		w->first_ms = ks_util_now_ms();
	w->msgs[w->n++] = m;
	w->bytes += m->len + m->key_len;
}

/* Removes the first k messages (an applied batch); those left have been
 * queued since before `since` at least. */
void
ks_batch_shift(struct ks_batch *w, size_t k, int64_t since)
{
	size_t i;

	for (i = 0; i < k; i++) {
		w->bytes -= w->msgs[i]->len + w->msgs[i]->key_len;
		rd_kafka_message_destroy(w->msgs[i]);
	}
	memmove(w->msgs, w->msgs + k, (w->n - k) * sizeof(*w->msgs));
	w->n -= k;
	if (w->n > 0)
		w->first_ms = since;
}

/* Drops queued messages of the given partitions (all when NULL);
 * returns how many. */
size_t
ks_batch_drop(struct ks_batch *w, const rd_kafka_topic_partition_list_t *l)
{
	size_t i, j = 0, dropped = 0;
	rd_kafka_message_t *m;

	for (i = 0; i < w->n; i++) {
		m = w->msgs[i];
		if (l == NULL || rd_kafka_topic_partition_list_find(l,
		    rd_kafka_topic_name(m->rkt), m->partition) != NULL) {
			w->bytes -= m->len + m->key_len;
			rd_kafka_message_destroy(m);
			dropped++;
		} else
			w->msgs[j++] = m;
	}
	w->n = j;
	return dropped;
}

/* The head batch: up to max_records records and max_bytes bytes (at
 * least one record). */
size_t
ks_batch_cut(const struct ks_batch *w, int64_t max_records, int64_t max_bytes)
{
	size_t k = 0, i, bytes = 0;

	for (i = 0; i < w->n && (int64_t)i < max_records; i++) {
		bytes += w->msgs[i]->len + w->msgs[i]->key_len;
		if (i > 0 && (int64_t)bytes > max_bytes)
			break;
		k = i + 1;
	}
	return k;
}

void
ks_batch_free(struct ks_batch *w)
{
	ks_batch_drop(w, NULL);
	free(w->msgs);
	free(w->recs);
	free(w->hdrs);
	free(w->parts);
	memset(w, 0, sizeof(*w));
}

static struct ks_stats_part *
part_find(struct ks_batch *w, const char *topic, int32_t partition)
{
	size_t i;

	for (i = w->nparts; i-- > 0;)
		if (w->parts[i].partition == partition &&
		    (w->parts[i].topic == topic ||
		    strcmp(w->parts[i].topic, topic) == 0))
			return &w->parts[i];
	if (w->nparts == w->parts_cap) {
		w->parts_cap = w->parts_cap ? w->parts_cap * 2 : 16;
		w->parts = ks_util_xrealloc(w->parts,
		    w->parts_cap * sizeof(*w->parts));
	}
	w->parts[w->nparts].topic = topic;
	w->parts[w->nparts].partition = partition;
	w->parts[w->nparts].next = -1;
	w->parts[w->nparts].records = 0;
	w->parts[w->nparts].bytes = 0;
	return &w->parts[w->nparts++];
}

/* Fills recs[] and parts[] for the first k pending messages.  Each
 * message's headers are asked for once (librdkafka parses them anew at
 * every call); the header array may grow meanwhile, so the records point
 * into it only at the end. */
void
ks_batch_build(struct ks_batch *w, size_t k)
{
	rd_kafka_headers_t *h;
	struct ksink_record *r;
	struct ks_stats_part *p, *last = NULL;
	const char *name;
	const void *val;
	size_t i, j, nh = 0, sz, cnt;
	rd_kafka_message_t *m;

	if (k > w->recs_cap) {
		w->recs_cap = k;
		w->recs = ks_util_xrealloc(w->recs, k * sizeof(*w->recs));
	}
	w->nparts = 0;
	for (i = 0; i < k; i++) {
		m = w->msgs[i];
		r = &w->recs[i];
		r->topic = rd_kafka_topic_name(m->rkt);
		r->partition = m->partition;
		r->offset = m->offset;
		r->timestamp = rd_kafka_message_timestamp(m, NULL);
		r->key = m->key;
		r->key_len = m->key_len;
		r->value = m->payload;
		r->value_len = m->len;
		r->headers = NULL;
		r->header_count = 0;
		if (rd_kafka_message_headers(m, &h) == 0 &&
		    (cnt = rd_kafka_header_cnt(h)) > 0) {
			if (nh + cnt > w->hdrs_cap) {
				w->hdrs_cap = (nh + cnt) * 2;
				w->hdrs = ks_util_xrealloc(w->hdrs,
				    w->hdrs_cap * sizeof(*w->hdrs));
			}
			for (j = 0; j < cnt && rd_kafka_header_get_all(h, j,
			    &name, &val, &sz) == 0; j++) {
				w->hdrs[nh].name = name;
				w->hdrs[nh].value = val;
				w->hdrs[nh].value_len = sz;
				nh++;
			}
			r->header_count = j;
		}
		if (last == NULL || last->partition != r->partition ||
		    strcmp(last->topic, r->topic) != 0)
			last = p = part_find(w, r->topic, r->partition);
		else
			p = last;
		p->next = r->offset + 1;
		p->records++;
		p->bytes += r->key_len + r->value_len;
	}
	for (i = 0, nh = 0; i < k; i++)
		if (w->recs[i].header_count > 0) {
			w->recs[i].headers = &w->hdrs[nh];
			nh += w->recs[i].header_count;
		}
}

/* "key=... value=..." of a record, escaped and cut, for a message. */
void
ks_batch_describe(const struct ksink_record *r, char *buf, size_t len)
{
	const void *parts[2] = { r->key, r->value };
	size_t lens[2] = { r->key_len, r->value_len }, i, j, o = 0;
	const unsigned char *p;

	for (i = 0; i < 2 && o + 16 < len; i++) {
		o += (size_t)snprintf(buf + o, len - o, "%s%s=", i ? " " : "",
		    i ? "value" : "key");
		if (parts[i] == NULL) {
			o += (size_t)snprintf(buf + o, len - o, "null");
			continue;
		}
		p = parts[i];
		for (j = 0; j < lens[i] && j < 256 && o + 8 < len; j++)
			o += (size_t)snprintf(buf + o, len - o,
			    p[j] >= 0x20 && p[j] < 0x7f && p[j] != '\\' ?
			    "%c" : "\\x%02x", p[j]);
		if (j < lens[i] && o + 4 < len)
			o += (size_t)snprintf(buf + o, len - o, "...");
	}
}

void
ks_batch_size_init(struct ks_batch_size *bs, int64_t max_records,
    int adaptive)
{
	bs->max = max_records > 0 ? max_records : 1;
	bs->adaptive = adaptive;
	bs->floor = adaptive && bs->max > KS_BATCH_START ? KS_BATCH_START :
	    bs->max;
	bs->limit = bs->floor;
}

int
ks_batch_size_adapt(struct ks_batch_size *bs, size_t k, int64_t step_us,
    int64_t commit_us)
{
	int64_t was = bs->limit;

	if (!bs->adaptive || step_us <= 0 || commit_us < 0)
		return 0;
	if ((int64_t)k >= bs->limit && commit_us * 3 >= step_us)
		bs->limit = bs->limit > bs->max / 2 ? bs->max : bs->limit * 2;
	else if (commit_us * 10 < step_us)
		bs->limit = bs->limit / 2 < bs->floor ? bs->floor :
		    bs->limit / 2;
	return bs->limit != was;
}
