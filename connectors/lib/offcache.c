/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/offcache.c - per-partition state, cached.  A batch
 * usually holds few partitions and long runs of one: the entry found last
 * is tried first.  Topics are compared by name, never by pointer: a
 * record's strings are only borrowed for one batch.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* strdup(3) under -std=c99 */
#endif

#include <stdlib.h>
#include <string.h>

#include "offcache.h"

/* An empty cache whose entries are size bytes (at least the head). */
void
ks_offcache_init(struct ks_offcache *c, size_t size)
{
	memset(c, 0, sizeof(*c));
	c->size = size;
}

struct ks_offcache_entry *
ks_offcache_find(struct ks_offcache *c, const char *topic, int32_t partition)
{
	struct ks_offcache_entry *e;
	size_t i;

	if (c->hint < c->n) {
		e = c->v[c->hint];
		if (e->partition == partition && strcmp(e->topic, topic) == 0)
			return e;
	}
	for (i = 0; i < c->n; i++) {
		e = c->v[i];
		if (e->partition == partition && strcmp(e->topic, topic) == 0) {
			c->hint = i;
			return e;
		}
	}
	return NULL;
}

/* Adds a partition (not yet cached), zeroed past the head; NULL when out
 * of memory. */
struct ks_offcache_entry *
ks_offcache_add(struct ks_offcache *c, const char *topic, int32_t partition,
    int64_t next)
{
	struct ks_offcache_entry *e, **v;
	size_t cap, size;

	if (c->n == c->cap) {
		cap = c->cap ? c->cap * 2 : 16;
		if ((v = realloc(c->v, cap * sizeof(*v))) == NULL)
			return NULL;
		c->v = v;
		c->cap = cap;
	}
	size = c->size > sizeof(*e) ? c->size : sizeof(*e);
	if ((e = calloc(1, size)) == NULL)
		return NULL;
	if ((e->topic = strdup(topic)) == NULL) {
		free(e);
		return NULL;
	}
	e->partition = partition;
	e->next = next;
	c->v[c->n] = e;
	c->hint = c->n++;
	return e;
}

void
ks_offcache_clear(struct ks_offcache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++) {
		free(c->v[i]->topic);
		free(c->v[i]);
	}
	c->n = 0;
	c->hint = 0;
}

void
ks_offcache_free(struct ks_offcache *c)
{
	size_t size = c->size;

	ks_offcache_clear(c);
	free(c->v);
	ks_offcache_init(c, size);
}
