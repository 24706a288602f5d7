/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/avro-fx.h - an Avro binary encoder for the tests (zigzag
 * varints, lengths, little-endian reals), written from the specification
 * and independent of the decoder under test.
 */
#ifndef KS_AVRO_FX_H
#define KS_AVRO_FX_H

#include <stdint.h>
#include <string.h>

struct enc {
	unsigned char b[8192];
	size_t n;
};

static inline void
e_raw(struct enc *e, const void *p, size_t n)
{
	memcpy(e->b + e->n, p, n);
	e->n += n;
}

static inline void
e_long(struct enc *e, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	while (u > 0x7f) {
		e->b[e->n++] = (unsigned char)(u | 0x80);
		u >>= 7;
	}
	e->b[e->n++] = (unsigned char)u;
}

static inline void
e_bytes(struct enc *e, const void *p, size_t n)
{
	e_long(e, (int64_t)n);
	e_raw(e, p, n);
}

static inline void
e_str(struct enc *e, const char *s)
{
	e_bytes(e, s, strlen(s));
}

static inline void
e_u64le(struct enc *e, uint64_t u, int n)
{
	int i;

	for (i = 0; i < n; i++)
		e->b[e->n++] = (unsigned char)(u >> (8 * i));
}

static inline void
e_float(struct enc *e, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	e_u64le(e, u, 4);
}

static inline void
e_double(struct enc *e, double d)
{
	uint64_t u;

	memcpy(&u, &d, 8);
	e_u64le(e, u, 8);
}

static inline void
e_hex(struct enc *e, const char *hex)
{
	unsigned v;

	for (; hex[0] && hex[1]; hex += 2) {
		sscanf(hex, "%2x", &v);
		e->b[e->n++] = (unsigned char)v;
	}
}

#endif
