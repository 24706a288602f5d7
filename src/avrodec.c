/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * avrodec.c - an Avro body decoded with its writer schema (the tree of
 * avroschema.c) into ksink's JSON renderings (ksink-converters(7)).
 *
 * The body comes from Kafka and may be anything, so this walker checks
 * every length and count against the bytes left before it acts on it,
 * bounds nesting (KS_AVRO_MAX_DEPTH) and the values that take no bytes
 * (KS_AVRO_MAX_EMPTY), and allocates nothing but the output, whose size
 * is bounded by the body's.  avro-c's own reader is not used on bodies:
 * it allocates what a length says before it reads (a 6-byte body makes
 * it malloc 2 GB) and loops over an array's count of items that take no
 * bytes (an 8-byte body kept it busy for seconds, growing to 750 MB).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "avrodec.h"
#include "avronode.h"
#include "ksink/sink.h"
#include "render.h"
#include "../connectors/lib/base64.h"
#include "../connectors/lib/buf.h"
#include "../connectors/lib/json.h"
#include "../connectors/lib/utf8.h"

struct dec {
	const unsigned char *start, *p, *end;
	struct ks_buf *out;
	char *errbuf;
	size_t errlen;
	int depth;
	size_t empty;			/* values that took no bytes */
	const char *path[KS_AVRO_MAX_DEPTH + 1];	/* field names */
};

static int
fail(struct dec *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sets errbuf to "field a.b: what (at byte N)"; -1. */
static int
fail(struct dec *d, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ks_fields_errf(d->errbuf, d->errlen, d->path, d->depth,
	    "%s (at byte %zu)", what, (size_t)(d->p - d->start));
	return -1;
}

static int
need(struct dec *d, size_t n, const char *what)
{
	if ((size_t)(d->end - d->p) >= n)
		return 0;
	return fail(d, "truncated body: %s needs %zu bytes, %zu left", what,
	    n, (size_t)(d->end - d->p));
}

/* A zigzag varint of at most 64 bits. */
static int
read_long(struct dec *d, int64_t *v, const char *what)
{
	uint64_t u = 0;
	unsigned shift = 0;
	unsigned char c;

	do {
		if (d->p == d->end)
			return fail(d, "truncated body: %s ends early", what);
		c = *d->p++;
		if (shift == 63 && (c & 0x7e) != 0)
			return fail(d, "%s: varint over 64 bits", what);
		u |= (uint64_t)(c & 0x7f) << shift;
		shift += 7;
	} while ((c & 0x80) && shift <= 63);
	if (c & 0x80)
		return fail(d, "%s: varint over 10 bytes", what);
	*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
	return 0;
}

static int
read_int(struct dec *d, int64_t *v, const char *what)
{
	if (read_long(d, v, what) == -1)
		return -1;
	if (*v < INT32_MIN || *v > INT32_MAX)
		return fail(d, "%s %" PRId64 " out of an int's range", what, *v);
	return 0;
}

/* An enum's symbol or a union's branch: 0 to count - 1. */
static int
read_index(struct dec *d, int64_t *v, size_t count, const char *what)
{
	if (read_long(d, v, what) == -1)
		return -1;
	if (*v < 0 || (uint64_t)*v >= count)
		return fail(d, "%s %" PRId64 " of %zu", what, *v, count);
	return 0;
}

/* A length (of bytes, a string): not negative, not beyond the body. */
static int
read_len(struct dec *d, size_t *len, const char *what)
{
	int64_t v;

	if (read_long(d, &v, what) == -1)
		return -1;
	if (v < 0)
		return fail(d, "%s: negative length %" PRId64, what, v);
	if ((uint64_t)v > (uint64_t)(d->end - d->p))
		return fail(d, "%s: length %" PRId64 " beyond the %zu bytes "
		    "left", what, v, (size_t)(d->end - d->p));
	*len = (size_t)v;
	return 0;
}

static int decode(struct dec *, const struct ks_avro_node *);

static int
decode_long(struct dec *d, const struct ks_avro_node *n)
{
	int64_t v;

	if ((n->kind == KA_INT ? read_int(d, &v, "int") :
	    read_long(d, &v, "long")) == -1)
		return -1;
	switch (n->logical) {
	case KL_DATE:
		ks_render_date(d->out, v);
		return 0;
	case KL_TIME_MILLIS:
	case KL_TIME_MICROS:
		if (ks_render_time(d->out, v, n->logical == KL_TIME_MILLIS ?
		    3 : 6) == -1)
			return fail(d, "time %" PRId64 " not within a day", v);
		return 0;
	case KL_TIMESTAMP_MILLIS:
	case KL_LOCAL_TIMESTAMP_MILLIS:
		ks_render_timestamp(d->out, v, 3,
		    n->logical == KL_TIMESTAMP_MILLIS);
		return 0;
	case KL_TIMESTAMP_MICROS:
	case KL_LOCAL_TIMESTAMP_MICROS:
		ks_render_timestamp(d->out, v, 6,
		    n->logical == KL_TIMESTAMP_MICROS);
		return 0;
	}
	ks_render_int(d->out, v);
	return 0;
}

static int
decode_real(struct dec *d, const struct ks_avro_node *n)
{
	uint64_t u = 0;
	uint32_t w;
	size_t i, k = n->kind == KA_FLOAT ? 4 : 8;
	float f;
	double x;

	if (need(d, k, n->kind == KA_FLOAT ? "float" : "double") == -1)
		return -1;
	for (i = k; i-- > 0;)		/* little-endian */
		u = u << 8 | d->p[i];
	d->p += k;
	if (k == 4) {
		w = (uint32_t)u;
		memcpy(&f, &w, 4);
		ks_render_float(d->out, f);
	} else {
		memcpy(&x, &u, 8);
		ks_render_double(d->out, x);
	}
	return 0;
}

/* A string or a map key: UTF-8, as a JSON string. */
static int
add_text(struct dec *d, const void *p, size_t len, const char *what)
{
	if (!ks_utf8_valid(p, len))
		return fail(d, "%s is not UTF-8", what);
	ks_json_add_string(d->out, p, len);
	return 0;
}

/* bytes, string and fixed, with their logical types. */
static int
decode_blob(struct dec *d, const struct ks_avro_node *n)
{
	const unsigned char *v;
	char why[128];
	size_t len;

	if (n->kind == KA_FIXED) {
		len = (size_t)n->size;
		if (need(d, len, "fixed") == -1)
			return -1;
	} else if (read_len(d, &len, n->kind == KA_STRING ? "string" :
	    "bytes") == -1)
		return -1;
	v = d->p;
	if (n->logical == KL_DECIMAL) {
		if (ks_render_decimal(d->out, v, len, n->precision, n->scale,
		    why, sizeof(why)) == -1)
			return fail(d, "%s", why);
	} else if (n->kind == KA_STRING) {
		if (add_text(d, v, len, "string") == -1)
			return -1;
	} else if (n->logical == KL_UUID)
		ks_render_uuid(d->out, v);
	else {
		ks_buf_addc(d->out, '"');
		ks_base64_add(d->out, v, len);
		ks_buf_addc(d->out, '"');
	}
	d->p += len;
	return 0;
}

/*
 * The count of the next block of an array or a map, 0 at its end.  A
 * block of more items than the bytes left can hold is refused before any
 * item is read.
 */
static int
block(struct dec *d, size_t min, size_t *count)
{
	int64_t c, bytes;
	size_t left;

	if (read_long(d, &c, "block count") == -1)
		return -1;
	if (c < 0) {
		if (c == INT64_MIN)
			return fail(d, "block count out of range");
		c = -c;
		if (read_long(d, &bytes, "block size") == -1)
			return -1;
		if (bytes < 0 || (uint64_t)bytes > (uint64_t)(d->end - d->p))
			return fail(d, "block size %" PRId64 " beyond the %zu "
			    "bytes left", bytes, (size_t)(d->end - d->p));
	}
	left = (size_t)(d->end - d->p);
	if (min > 0 && (uint64_t)c > left / min)
		return fail(d, "block of %" PRId64 " items beyond the %zu "
		    "bytes left", c, left);
	if (min == 0 && (uint64_t)c > KS_AVRO_MAX_EMPTY - d->empty)
		return fail(d, "more than %d values of no bytes",
		    KS_AVRO_MAX_EMPTY);
	*count = (size_t)c;
	return 0;
}

static int
decode_array(struct dec *d, const struct ks_avro_node *n)
{
	const struct ks_avro_node *item = n->sub[0];
	size_t count = 0, i, len;
	int first = 1;

	ks_buf_add(d->out, n->kind == KA_ARRAY ? "[" : "{", 1);
	d->path[d->depth] = "[]";
	for (;;) {
		/* A map's item is a key (one byte at least) and a value. */
		if (block(d, item->minsize + (n->kind == KA_MAP), &count) == -1)
			return -1;
		if (count == 0)
			break;
		for (i = 0; i < count; i++) {
			if (!first)
				ks_buf_add(d->out, ",", 1);
			first = 0;
			if (n->kind == KA_MAP) {
				if (read_len(d, &len, "map key") == -1)
					return -1;
				if (add_text(d, d->p, len, "map key") == -1)
					return -1;
				d->p += len;
				ks_buf_add(d->out, ":", 1);
			}
			if (decode(d, item) == -1)
				return -1;
		}
	}
	ks_buf_add(d->out, n->kind == KA_ARRAY ? "]" : "}", 1);
	return 0;
}

static int
decode_record(struct dec *d, const struct ks_avro_node *n)
{
	size_t i;

	ks_buf_add(d->out, "{", 1);
	for (i = 0; i < n->n; i++) {
		if (i > 0)
			ks_buf_add(d->out, ",", 1);
		ks_buf_add(d->out, n->labels[i], strlen(n->labels[i]));
		d->path[d->depth] = n->names[i];
		if (decode(d, n->sub[i]) == -1)
			return -1;
	}
	ks_buf_add(d->out, "}", 1);
	return 0;
}

static int
decode_value(struct dec *d, const struct ks_avro_node *n)
{
	int64_t v;

	switch (n->kind) {
	case KA_NULL:
		ks_buf_add(d->out, "null", 4);
		return 0;
	case KA_BOOLEAN:
		if (need(d, 1, "boolean") == -1)
			return -1;
		if (*d->p > 1)
			return fail(d, "boolean byte 0x%02x", *d->p);
		ks_buf_add(d->out, *d->p ? "true" : "false",
		    *d->p ? 4 : 5);
		d->p++;
		return 0;
	case KA_INT:
	case KA_LONG:
		return decode_long(d, n);
	case KA_FLOAT:
	case KA_DOUBLE:
		return decode_real(d, n);
	case KA_STRING:
	case KA_BYTES:
	case KA_FIXED:
		return decode_blob(d, n);
	case KA_ENUM:
		if (read_index(d, &v, n->n, "enum index") == -1)
			return -1;
		ks_buf_add(d->out, n->labels[v], strlen(n->labels[v]));
		return 0;
	case KA_RECORD:
		return decode_record(d, n);
	case KA_ARRAY:
	case KA_MAP:
		return decode_array(d, n);
	case KA_UNION:
		if (read_index(d, &v, n->n, "union branch") == -1)
			return -1;
		return decode(d, n->sub[v]);
	}
	return fail(d, "unknown type");
}

static int
decode(struct dec *d, const struct ks_avro_node *n)
{
	int rc;

	if (n->kind == KA_UNION)	/* no level of its own */
		return decode_value(d, n);
	if (d->depth >= KS_AVRO_MAX_DEPTH)
		return fail(d, "nested deeper than %d", KS_AVRO_MAX_DEPTH);
	/* Values that take no bytes (nulls, empty records) are bounded, so
	 * that neither an array of them nor a schema that nests records of
	 * them (each field's type the same record twice) makes output from
	 * nothing. */
	if (n->minsize == 0 && ++d->empty > KS_AVRO_MAX_EMPTY)
		return fail(d, "more than %d values of no bytes",
		    KS_AVRO_MAX_EMPTY);
	d->depth++;
	d->path[d->depth] = NULL;
	rc = decode_value(d, n);
	d->depth--;
	return rc;
}

int
ks_avro_decode(const struct ks_avro_schema *s, const void *body, size_t len,
    struct ks_buf *out, char *errbuf, size_t errlen)
{
	struct dec d;
	size_t start = out->len;
	int rc;

	memset(&d, 0, sizeof(d));
	d.start = d.p = body;
	d.end = d.p + len;
	d.out = out;
	d.errbuf = errbuf;
	d.errlen = errlen;
	rc = decode(&d, s->root);
	if (rc == 0 && d.p != d.end)
		rc = fail(&d, "%zu bytes left over after the value",
		    (size_t)(d.end - d.p));
	if (out->oom) {		/* checked once, here */
		ks_util_errf(errbuf, errlen, "out of memory");
		ks_buf_truncate(out, start);
		return KSINK_FATAL;
	}
	if (rc == 0)
		return KSINK_OK;
	ks_buf_truncate(out, start);
	return KSINK_POISON;
}
