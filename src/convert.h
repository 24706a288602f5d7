/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * convert.h - a connector's key and value converters (key.converter,
 * value.converter; ksink-converters(7)): the records of a batch decoded
 * in place into the JSON text the sink gets, and what host->decoded()
 * answers about them.
 */
#ifndef KS_CONVERT_H
#define KS_CONVERT_H

#include <stddef.h>

#include "ksink/sink.h"

struct ks_section;
struct ks_convert;

/* The converters of [connector NAME] sec, whose keys were checked
 * (check.c).  *out is NULL when key and value are both bytes: then
 * nothing is decoded, at no cost.  KSINK_CONFIG with errbuf saying what
 * is wrong (a file that cannot be read, ...). */
int	ks_convert_new(const struct ks_section *sec, struct ks_convert **out,
	    char *errbuf, size_t errlen);
void	ks_convert_free(struct ks_convert *c);

/* A new batch, recs[0..n) as read from Kafka: what the previous one
 * decoded is forgotten. */
void	ks_convert_begin(struct ks_convert *c, struct ksink_record *recs,
	    size_t n);

/*
 * Decodes the batch's records [from, n) in place: a converted key or
 * value becomes its JSON text, kept until the next ks_convert_begin().
 * KSINK_OK with *k = n.  KSINK_POISON: record *k cannot be decoded (its
 * key and value stay the bytes read from Kafka), records before it are
 * decoded; errbuf names its topic, partition, offset and schema id.
 * KSINK_RETRY (the registry cannot answer now) and KSINK_FATAL (it
 * refuses us): records from *k on are not decoded.
 */
int	ks_convert_decode(struct ks_convert *c, size_t from, size_t *k,
	    char *errbuf, size_t errlen);

/* What the converters made of r, a record of the batch that was
 * decoded; NULL for any other. */
const struct ksink_decoded *ks_convert_decoded(const struct ks_convert *c,
	    const struct ksink_record *r);

/* The record r of the batch as read from Kafka (for the dead letter
 * queue): *r itself when it was not decoded. */
void	ks_convert_raw(const struct ks_convert *c,
	    const struct ksink_record *r, struct ksink_record *raw);

#endif
