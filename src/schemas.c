/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * schemas.c - the process-wide cache of writer schemas, by registry and
 * id.  A hit takes one short lock; a miss is fetched under the cache's
 * fetch lock, so that an id is fetched once, while the hits of other
 * threads go on.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "avrodec.h"
#include "ksink/sink.h"
#include "registry.h"
#include "schemas.h"
#include "util.h"
#include "../connectors/lib/buf.h"

struct slot {
	int32_t id;
	const struct ks_avro_schema *schema;	/* NULL: empty slot */
};

struct ks_schemas {
	char *urls;
	pthread_mutex_t lock;	/* the table */
	pthread_mutex_t fetch;	/* one fetch at a time */
	struct slot *slots;	/* open addressing, a power of 2 */
	size_t nslots, used;
	uint64_t fetches;
	struct ks_schemas *next;
};

static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ks_schemas *all;

struct ks_schemas *
ks_schemas_get(const char *urls)
{
	struct ks_schemas *c;

	pthread_mutex_lock(&all_lock);
	for (c = all; c != NULL; c = c->next)
		if (strcmp(c->urls, urls) == 0)
			break;
	if (c == NULL) {
		c = ks_util_xcalloc(1, sizeof(*c));
		c->urls = ks_util_strdup(urls);
		pthread_mutex_init(&c->lock, NULL);
		pthread_mutex_init(&c->fetch, NULL);
		c->next = all;
		all = c;
	}
	pthread_mutex_unlock(&all_lock);
	return c;
}

static size_t
hash(int32_t id, size_t nslots)
{
	return ((uint32_t)id * 2654435761u) & (nslots - 1);
}

/* The schema of id, or NULL; with c->lock held. */
static const struct ks_avro_schema *
find(const struct ks_schemas *c, int32_t id)
{
	size_t i;

	if (c->nslots == 0)
		return NULL;
	for (i = hash(id, c->nslots); c->slots[i].schema != NULL;
	    i = (i + 1) & (c->nslots - 1))
		if (c->slots[i].id == id)
			return c->slots[i].schema;
	return NULL;
}

static void
put(struct slot *slots, size_t nslots, int32_t id,
    const struct ks_avro_schema *s)
{
	size_t i;

	for (i = hash(id, nslots); slots[i].schema != NULL;
	    i = (i + 1) & (nslots - 1))
		;
	slots[i].id = id;
	slots[i].schema = s;
}

/* Adds id; with c->lock held.  Half full at most. */
static void
add(struct ks_schemas *c, int32_t id, const struct ks_avro_schema *s)
{
	struct slot *slots;
	size_t n, i;

	if (2 * (c->used + 1) > c->nslots) {
		n = c->nslots ? 2 * c->nslots : 64;
		slots = ks_util_xcalloc(n, sizeof(*slots));
		for (i = 0; i < c->nslots; i++)
			if (c->slots[i].schema != NULL)
				put(slots, n, c->slots[i].id,
				    c->slots[i].schema);
		free(c->slots);
		c->slots = slots;
		c->nslots = n;
	}
	put(c->slots, c->nslots, id, s);
	c->used++;
}

static const struct ks_avro_schema *
cached(struct ks_schemas *c, int32_t id)
{
	const struct ks_avro_schema *s;

	pthread_mutex_lock(&c->lock);
	s = find(c, id);
	pthread_mutex_unlock(&c->lock);
	return s;
}

int
ks_schemas_lookup(struct ks_schemas *c, struct ks_registry *reg, int32_t id,
    const struct ks_avro_schema **out, char *errbuf, size_t errlen)
{
	struct ks_buf text = { 0 };
	struct ks_avro_schema *s = NULL;
	char type[32] = "";
	int st;

	if ((*out = cached(c, id)) != NULL)
		return KSINK_OK;
	pthread_mutex_lock(&c->fetch);
	/* Another thread may have fetched it meanwhile. */
	if ((*out = cached(c, id)) != NULL) {
		pthread_mutex_unlock(&c->fetch);
		return KSINK_OK;
	}
	pthread_mutex_lock(&c->lock);
	c->fetches++;
	pthread_mutex_unlock(&c->lock);
	st = ks_registry_fetch(reg, id, &text, type, sizeof(type), errbuf,
	    errlen);
	if (st == KSINK_OK && strcmp(type, "AVRO") != 0) {
		ks_util_errf(errbuf, errlen, "schema id %d is a %s schema; "
		    "ksink decodes Avro only", (int)id, type);
		st = KSINK_POISON;
	}
	if (st == KSINK_OK)
		st = ks_avro_schema_parse(text.p != NULL ? text.p : "",
		    text.len, &s, errbuf, errlen);
	if (st == KSINK_OK) {
		pthread_mutex_lock(&c->lock);
		add(c, id, s);
		pthread_mutex_unlock(&c->lock);
		*out = s;
	}
	pthread_mutex_unlock(&c->fetch);
	ks_buf_free(&text);
	return st;
}

uint64_t
ks_schemas_fetches(struct ks_schemas *c)
{
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->fetches;
	pthread_mutex_unlock(&c->lock);
	return n;
}
