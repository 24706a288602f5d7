/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/offcache.c - per-partition next offsets, cached.  A
 * batch usually holds few partitions and long runs of one: the entry
 * found last is tried first.  Topics are compared by name, never by
 * pointer: a record's strings are only borrowed for one batch.
 */
#include <stdlib.h>
#include <string.h>

#include "offcache.h"

struct ks_offcache_entry *
ks_offcache_find(struct ks_offcache *c, const char *topic, int32_t partition)
{
	struct ks_offcache_entry *e;
	size_t i;

	if (c->hint < c->n) {
		e = &c->v[c->hint];
		if (e->partition == partition && strcmp(e->topic, topic) == 0)
			return e;
	}
	for (i = 0; i < c->n; i++) {
		e = &c->v[i];
		if (e->partition == partition && strcmp(e->topic, topic) == 0) {
			c->hint = i;
			return e;
		}
	}
	return NULL;
}

/* Adds a partition (not yet cached); NULL when out of memory. */
struct ks_offcache_entry *
ks_offcache_add(struct ks_offcache *c, const char *topic, int32_t partition,
    int64_t next)
{
	struct ks_offcache_entry *e;
	size_t cap;

	if (c->n == c->cap) {
		cap = c->cap ? c->cap * 2 : 16;
		if ((e = realloc(c->v, cap * sizeof(*e))) == NULL)
			return NULL;
		c->v = e;
		c->cap = cap;
	}
	e = &c->v[c->n];
	if ((e->topic = strdup(topic)) == NULL)
		return NULL;
	e->partition = partition;
	e->next = next;
	c->hint = c->n++;
	return e;
}

void
ks_offcache_clear(struct ks_offcache *c)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		free(c->v[i].topic);
	c->n = 0;
	c->hint = 0;
}

void
ks_offcache_free(struct ks_offcache *c)
{
	ks_offcache_clear(c);
	free(c->v);
	memset(c, 0, sizeof(*c));
}
