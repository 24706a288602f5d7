/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/offcache.h - the next offset of each partition a sink
 * has seen, cached in memory (the zombie fence of a step).
 */
#ifndef KS_OFFCACHE_H
#define KS_OFFCACHE_H

#include <stddef.h>
#include <stdint.h>

struct ks_offcache_entry {
	char *topic;
	int32_t partition;
	int64_t next;		/* KSINK_OFFSET_NONE: none stored */
};

struct ks_offcache {
	struct ks_offcache_entry *v;
	size_t n, cap, hint;
};

/* Entries stay valid until the next ks_offcache_add() or clear. */
struct ks_offcache_entry *ks_offcache_find(struct ks_offcache *,
	    const char *topic, int32_t partition);
struct ks_offcache_entry *ks_offcache_add(struct ks_offcache *,
	    const char *topic, int32_t partition, int64_t next);
void	ks_offcache_clear(struct ks_offcache *);
void	ks_offcache_free(struct ks_offcache *);

#endif
