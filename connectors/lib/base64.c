/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/base64.c - base64 (RFC 4648, section 4).
 */
#include <stdint.h>

#include "base64.h"
#include "buf.h"

static const char tab[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Writes the KS_BASE64_LEN(n) characters of the encoding to out (no
 * NUL) and returns the end. */
char *
ks_base64_encode(char *out, const void *in, size_t n)
{
	const unsigned char *s = in;
	uint32_t v;
	size_t i;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = tab[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)s[i] << 16;
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = '=';
	}
	return out;
}

void
ks_base64_add(struct ks_buf *b, const void *in, size_t n)
{
	size_t len = KS_BASE64_LEN(n);

	if (n > (SIZE_MAX - 3) / 4 * 3) {
		b->oom = 1;
		return;
	}
	if (ks_buf_reserve(b, len) == -1)
		return;
	ks_base64_encode(b->p + b->len, in, n);
	b->len += len;
	b->p[b->len] = '\0';
}
