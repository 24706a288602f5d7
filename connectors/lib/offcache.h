/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/offcache.h - what a sink knows of each partition it has
 * seen, kept in memory: at least the next offset (the zombie fence of a
 * step), and whatever per-partition state the sink adds after it.
 */
#ifndef KS_OFFCACHE_H
#define KS_OFFCACHE_H

#include <stddef.h>
#include <stdint.h>

/* The head of every entry.  A sink with more state per partition embeds
 * it as the first member of its own struct and gives that struct's size
 * to ks_offcache_init(). */
struct ks_offcache_entry {
	char *topic;
	int32_t partition;
	int64_t next;		/* the sink's: KSINK_OFFSET_NONE, or -1 */
};

/* All zeroes is an empty cache of bare entries. */
struct ks_offcache {
	struct ks_offcache_entry **v;
	size_t n, cap, hint;
	size_t size;		/* of an entry; 0: a bare ks_offcache_entry */
};

void	ks_offcache_init(struct ks_offcache *, size_t size);
/* Each entry has an allocation of its own: it stays where it is until
 * ks_offcache_clear() or ks_offcache_free(), whatever is added. */
struct ks_offcache_entry *ks_offcache_find(struct ks_offcache *,
	    const char *topic, int32_t partition);
struct ks_offcache_entry *ks_offcache_add(struct ks_offcache *,
	    const char *topic, int32_t partition, int64_t next);
void	ks_offcache_clear(struct ks_offcache *);
void	ks_offcache_free(struct ks_offcache *);

#endif
