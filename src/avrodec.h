/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * avrodec.h - Avro bodies decoded with avro-c into ksink's JSON
 * renderings (ksink-converters(7)), and a writer schema's field list.
 */
#ifndef KS_AVRODEC_H
#define KS_AVRODEC_H

#include <stddef.h>

#include "fields.h"
#include "util.h"

struct ks_buf;

/* A parsed writer schema, with its fields; immutable once parsed, so
 * that several threads may decode with it at once. */
struct ks_avro_schema;

/* Parses the schema's JSON text.  KSINK_OK, or KSINK_POISON with errbuf
 * saying why the schema cannot be used (the records written with it can
 * never be decoded), or KSINK_FATAL when memory ran out. */
int	ks_avro_schema_parse(const char *json, size_t len,
	    struct ks_avro_schema **out, char *errbuf, size_t errlen);
const struct ks_fields *ks_avro_schema_fields(const struct ks_avro_schema *);
void	ks_avro_schema_free(struct ks_avro_schema *);

/* Decodes one Avro body written with s (without the wire-format prefix)
 * and appends its JSON text to out.  KSINK_OK, or KSINK_POISON with
 * errbuf saying what is wrong (a truncated body, bytes left over, a bad
 * union branch, ...), or KSINK_FATAL when out ran out of memory (out->oom:
 * out is left as it was, its oom flag set). */
int	ks_avro_decode(const struct ks_avro_schema *s, const void *body,
	    size_t len, struct ks_buf *out, char *errbuf, size_t errlen);

#endif
