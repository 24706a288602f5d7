/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fields.h - a schema as the list of fields the ABI hands a sink
 * (struct ksink_field): built by the Avro and Connect JSON decoders.
 */
#ifndef KS_FIELDS_H
#define KS_FIELDS_H

#include <stddef.h>
#include <stdint.h>

#include "ksink/sink.h"

struct ks_fields {
	struct ksink_field *v;
	size_t n, cap;
};

/* Appends a field (name and default_json are copied); its index. */
int32_t	ks_fields_add(struct ks_fields *f, const char *name, int32_t parent,
	    int type, unsigned flags, int32_t precision, int32_t scale,
	    const char *default_json);
void	ks_fields_free(struct ks_fields *f);

/* Sets errbuf to "field PATH: " and the message, PATH joining those of
 * names[1..depth] that are not NULL ("a.b", "a[]"); to the message alone
 * when none is. */
void	ks_fields_errf(char *errbuf, size_t errlen, const char *const *names,
	    int depth, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));

#endif
