/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/envelope.c - the record envelope (ksink-record(7)):
 *
 *   {"topic":T,"partition":P,"offset":O,"timestamp":MS|null,
 *    "key":K[,"key_encoding":E],"value":V[,"value_encoding":E],
 *    "headers":[{"key":NAME,"value":V[,"value_encoding":E]},...]}
 *
 * on one line.  A key, value or header value is null when absent; valid
 * JSON (KS_JSON_MAX_DEPTH) is embedded as it is, compacted, with no
 * encoding member; other UTF-8 text is a string with E "string"; other
 * bytes are base64 with E "base64".  Header order and duplicates are
 * kept.
 */
#include <string.h>

#include "ksink/sink.h"

#include "base64.h"
#include "buf.h"
#include "envelope.h"
#include "json.h"
#include "utf8.h"

/* "NAME":V and, unless V is null or JSON, "NAME_encoding":E. */
static void
add_bytes(struct ks_buf *b, const char *name, size_t nlen, const void *v,
    size_t n)
{
	ks_buf_addc(b, '"');
	ks_buf_add(b, name, nlen);
	ks_buf_add(b, "\":", 2);
	if (v == NULL) {
		ks_buf_add(b, "null", 4);
		return;
	}
	if (ks_json_compact(b, v, n) == 0)
		return;
	/* Not with NUL bytes: SQLite's json_extract() would cut a string
	 * holding \u0000 there (tests/fuzz/README, finding 2). */
	if (ks_utf8_check(v, n, 0)) {
		ks_json_add_string(b, v, n);
		ks_buf_add(b, ",\"", 2);
		ks_buf_add(b, name, nlen);
		ks_buf_adds(b, "_encoding\":\"string\"");
	} else {
		ks_buf_addc(b, '"');
		ks_base64_add(b, v, n);
		ks_buf_add(b, "\",\"", 3);
		ks_buf_add(b, name, nlen);
		ks_buf_adds(b, "_encoding\":\"base64\"");
	}
}

/* The headers as a JSON array. */
void
ks_envelope_add_headers(struct ks_buf *b, const struct ksink_record *r)
{
	const struct ksink_header *h;
	size_t i;

	ks_buf_addc(b, '[');
	for (i = 0; i < r->header_count; i++) {
		h = &r->headers[i];
		if (i > 0)
			ks_buf_addc(b, ',');
		ks_buf_adds(b, "{\"key\":");
		if (h->name != NULL)
			ks_json_add_string(b, h->name, strlen(h->name));
		else
			ks_buf_add(b, "\"\"", 2);
		ks_buf_addc(b, ',');
		add_bytes(b, "value", 5, h->value, h->value_len);
		ks_buf_addc(b, '}');
	}
	ks_buf_addc(b, ']');
}

/* Appends the envelope of r, on one line without its line break. */
void
ks_envelope_add(struct ks_buf *b, const struct ksink_record *r)
{
	ks_buf_adds(b, "{\"topic\":");
	ks_json_add_string(b, r->topic, strlen(r->topic));
	ks_buf_adds(b, ",\"partition\":");
	ks_buf_addi64(b, r->partition);
	ks_buf_adds(b, ",\"offset\":");
	ks_buf_addi64(b, r->offset);
	ks_buf_adds(b, ",\"timestamp\":");
	if (r->timestamp >= 0)
		ks_buf_addi64(b, r->timestamp);
	else
		ks_buf_add(b, "null", 4);
	ks_buf_addc(b, ',');
	add_bytes(b, "key", 3, r->key, r->key_len);
	ks_buf_addc(b, ',');
	add_bytes(b, "value", 5, r->value, r->value_len);
	ks_buf_adds(b, ",\"headers\":");
	ks_envelope_add_headers(b, r);
	ks_buf_addc(b, '}');
}
