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

static int
sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes the padded encoding in[0..n) to out, which may be in itself;
 * the number of bytes, or -1 when in is not such an encoding. */
long
ks_base64_decode(void *out, const char *in, size_t n)
{
	unsigned char *o = out;
	uint32_t v;
	size_t i, k = 0;
	int j, c, pad;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		v = 0;
		pad = 0;
		for (j = 0; j < 4; j++) {
			if (in[i + j] == '=' && i + 4 == n && j >= 2 &&
			    (j == 3 || in[i + 3] == '=')) {
				pad++;
				c = 0;
			} else if ((c = sextet((unsigned char)in[i + j])) < 0 ||
			    pad > 0)
				return -1;
			v = v << 6 | (uint32_t)c;
		}
		o[k++] = (unsigned char)(v >> 16);
		if (pad < 2)
			o[k++] = (unsigned char)(v >> 8);
		if (pad < 1)
			o[k++] = (unsigned char)v;
	}
	return (long)k;
}
