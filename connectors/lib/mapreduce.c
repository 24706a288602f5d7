/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/mapreduce.c - the in-batch reduction of the table
 * mapping: the rows of one batch that share a table and a key become at
 * most a delete and a write, giving what the rows give applied in order.
 *
 * Per key, in order: a write after writes becomes one write of every
 * column any of them named, each with its last value (an upsert or an
 * update sets only the columns it names, so applying both sets the
 * union, the later value winning); a delete drops the writes before it
 * and is kept; a write after a delete follows the delete.  So a key ends
 * as: a write, a delete, or a delete and then a write.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mapping.h"

struct entry {
	size_t key_off;		/* in the key buffer, 0: the slot is free */
	struct ks_mapping_row *first;	/* for the key's types */
	struct ks_mapping_row *del;	/* the last delete, or NULL */
	struct ks_mapping_row *write;	/* the write after it, or NULL */
	size_t order;		/* the key's first appearance */
};

static uint64_t
hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	while (n-- > 0)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

/* The key of row: table, then each key column's name and text. */
static void
row_key(struct ks_buf *b, const struct ks_mapping_row *row)
{
	size_t i;

	ks_buf_adds(b, row->table);
	for (i = 0; i < row->npk; i++) {
		ks_buf_addc(b, '\x1f');
		ks_buf_adds(b, row->cols[i].name);
		ks_buf_addc(b, '\x1e');
		if (row->cols[i].type == KS_MAP_T_BOOLEAN)
			ks_buf_adds(b, row->cols[i].i ? "true" : "false");
		else
			ks_buf_add(b, row->cols[i].text, row->cols[i].len);
	}
}

static int
same_types(const struct ks_mapping_row *a, const struct ks_mapping_row *b)
{
	size_t i;

	if (a->npk != b->npk)
		return 0;
	for (i = 0; i < a->npk; i++)
		if (a->cols[i].type != b->cols[i].type)
			return 0;
	return 1;
}

static int
add_col(struct ks_mapping_row *to, const struct ks_mapping_col *c,
    size_t *name_off, size_t *text_off)
{
	struct ks_mapping_col *n = &to->cols[to->ncols];

	*n = *c;
	name_off[to->ncols] = to->arena.len;
	ks_buf_add(&to->arena, c->name, strlen(c->name) + 1);
	text_off[to->ncols] = to->arena.len;
	ks_buf_add(&to->arena, c->text, c->len);
	ks_buf_addc(&to->arena, '\0');
	to->ncols++;
	return to->arena.oom ? -1 : 0;
}

/* Makes to: the columns of a, with b's values and b's other columns
 * after them. */
static int
merge(const struct ks_mapping *m, struct ks_mapping_row *to,
    const struct ks_mapping_row *a, const struct ks_mapping_row *b)
{
	size_t i, j, cap = a->ncols + b->ncols, *name_off, *text_off;
	const struct ks_mapping_col *c;
	int rc = 0;

	memset(to, 0, sizeof(*to));
	to->index = b->index;
	to->op = KS_MAP_OP_WRITE;
	to->npk = b->npk;
	name_off = calloc(cap, sizeof(*name_off));
	text_off = calloc(cap, sizeof(*text_off));
	if (name_off == NULL || text_off == NULL || (to->table =
	    strdup(b->table)) == NULL || (to->cols = calloc(cap,
	    sizeof(*to->cols))) == NULL) {
		rc = -1;
		goto out;
	}
	to->cap = cap;
	for (i = 0; i < a->ncols && rc == 0; i++) {
		c = &a->cols[i];
		for (j = 0; j < b->ncols; j++)
			if (ks_mapping_same_name(m, b->cols[j].name, c->name)) {
				c = &b->cols[j];
				break;
			}
		rc = add_col(to, c, name_off, text_off);
	}
	for (j = 0; j < b->ncols && rc == 0; j++) {
		for (i = 0; i < a->ncols; i++)
			if (ks_mapping_same_name(m, b->cols[j].name,
			    a->cols[i].name))
				break;
		if (i == a->ncols)
			rc = add_col(to, &b->cols[j], name_off, text_off);
	}
	for (i = 0; i < to->ncols && rc == 0; i++) {
		to->cols[i].name = to->arena.p + name_off[i];
		to->cols[i].text = to->arena.p + text_off[i];
	}
out:
	free(name_off);
	free(text_off);
	return rc;
}

static int
in_order(struct ks_mapping_row *rows, size_t n,
    struct ks_mapping_reduced *out)
{
	size_t i;

	for (i = 0; i < out->nmade; i++)
		ks_mapping_row_free(&out->made[i]);
	out->nmade = 0;
	out->n = 0;
	for (i = 0; i < n; i++)
		out->v[out->n++] = &rows[i];
	return KSINK_OK;
}

static int
by_order(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->key_off == 0 || y->key_off == 0)
		return (x->key_off == 0) - (y->key_off == 0);
	return (x->order > y->order) - (x->order < y->order);
}

int
ks_mapping_reduce(const struct ks_mapping *m, struct ks_mapping_row *rows,
    size_t n, struct ks_mapping_reduced *out)
{
	struct ks_buf keys = { 0 };
	struct entry *tab = NULL, *e;
	struct ks_mapping_row *w;
	size_t i, size, klen, off, nkeys = 0;
	uint64_t h;
	int rc = KSINK_FATAL;

	memset(out, 0, sizeof(*out));
	if ((out->v = calloc(n > 0 ? n * 2 : 1, sizeof(*out->v))) == NULL ||
	    (out->made = calloc(n > 0 ? n : 1, sizeof(*out->made))) == NULL)
		goto fail;
	if (m->insert_mode == KS_MAP_INSERT || m->pk_mode == KS_MAP_PK_NONE ||
	    m->pk_mode == KS_MAP_PK_KAFKA || n < 2)
		return in_order(rows, n, out);

	for (size = 16; size < n * 2; size *= 2)
		;
	if ((tab = calloc(size, sizeof(*tab))) == NULL)
		goto fail;
	ks_buf_addc(&keys, '\0');	/* offset 0 means a free slot */
	for (i = 0; i < n; i++) {
		off = keys.len;
		row_key(&keys, &rows[i]);
		ks_buf_addc(&keys, '\0');
		if (keys.oom)
			goto fail;
		klen = keys.len - off - 1;
		h = hash(keys.p + off, klen);
		for (e = &tab[h & (size - 1)]; e->key_off != 0;
		    e = &tab[(size_t)(e - tab + 1) & (size - 1)])
			if (memcmp(keys.p + e->key_off, keys.p + off,
			    klen + 1) == 0)
				break;
		if (e->key_off == 0) {
			e->key_off = off;
			e->first = &rows[i];
			e->order = nkeys++;
		} else if (!same_types(e->first, &rows[i])) {
			/* The same text as another type: whether the two are
			 * one row is the database's to say.  No reduction. */
			free(tab);
			ks_buf_free(&keys);
			return in_order(rows, n, out);
		}
		if (rows[i].op == KS_MAP_OP_DELETE) {
			e->del = &rows[i];
			e->write = NULL;
		} else if (e->write == NULL)
			e->write = &rows[i];
		else {
			w = &out->made[out->nmade];
			if (merge(m, w, e->write, &rows[i]) == -1) {
				ks_mapping_row_free(w);
				goto fail;
			}
			out->nmade++;
			e->write = w;
		}
	}
	qsort(tab, size, sizeof(*tab), by_order);
	for (i = 0; i < nkeys; i++) {
		if (tab[i].del != NULL)
			out->v[out->n++] = tab[i].del;
		if (tab[i].write != NULL)
			out->v[out->n++] = tab[i].write;
	}
	rc = KSINK_OK;
fail:
	free(tab);
	ks_buf_free(&keys);
	if (rc != KSINK_OK)
		ks_mapping_reduce_free(out);
	return rc;
}

void
ks_mapping_reduce_free(struct ks_mapping_reduced *out)
{
	size_t i;

	for (i = 0; i < out->nmade; i++)
		ks_mapping_row_free(&out->made[i]);
	free(out->made);
	free(out->v);
	memset(out, 0, sizeof(*out));
}
