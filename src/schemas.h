/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * schemas.h - the writer schemas fetched from a Schema Registry, kept by
 * id for the life of the process (a registry never changes the schema of
 * an id), one cache per list of registry URLs, shared by every connector
 * that names the same list.  Thread-safe.
 */
#ifndef KS_SCHEMAS_H
#define KS_SCHEMAS_H

#include <stddef.h>
#include <stdint.h>

struct ks_avro_schema;
struct ks_registry;
struct ks_schemas;

/* The cache of the registry at urls (as written in the configuration);
 * made at the first call, never freed. */
struct ks_schemas *ks_schemas_get(const char *urls);

/*
 * The schema of id: from the cache, or fetched with reg and parsed, the
 * registry being asked once for each new id however many connectors and
 * records want it (a second asker waits for the first one's answer).
 * KSINK_OK with *out set; else the status of ks_registry_fetch() or
 * ks_avro_schema_parse() with errbuf saying why (a failure is not kept:
 * the next record asks again).
 */
int	ks_schemas_lookup(struct ks_schemas *c, struct ks_registry *reg,
	    int32_t id, const struct ks_avro_schema **out, char *errbuf,
	    size_t errlen);

/* How many times the registry was asked (answered or not). */
uint64_t ks_schemas_fetches(struct ks_schemas *c);

#endif
