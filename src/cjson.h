/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cjson.h - Kafka Connect's JSON with schema ({"schema":S,"payload":P},
 * JsonConverter with schemas.enable): P rendered by S as ksink's JSON
 * (the renderings of the Avro decoder), and the fields of S.
 */
#ifndef KS_CJSON_H
#define KS_CJSON_H

#include <stddef.h>

#include "fields.h"
#include "util.h"

struct ks_buf;

/* Decodes one envelope: appends the JSON text of its payload to out and
 * the fields of its schema to fields (empty on entry).  KSINK_OK, or
 * KSINK_POISON with errbuf saying what is wrong (not JSON, no schema or
 * payload, a payload that does not match its schema), or KSINK_FATAL when
 * memory ran out (out->oom, or a default's text: out is left as it was). */
int	ks_cjson_decode(const void *text, size_t len, struct ks_buf *out,
	    struct ks_fields *fields, char *errbuf, size_t errlen);

#endif
