/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/utf8.c - UTF-8 checks.
 */
#include <stdint.h>
#include <string.h>

#include "utf8.h"

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes left), or
 * 0 when it is not one. */
size_t
ks_utf8_seqlen(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* Whether n bytes at p are valid UTF-8; with nul_ok == 0, also without
 * NUL bytes.  ASCII runs are checked eight bytes at a time. */
int
ks_utf8_check(const void *p, size_t n, int nul_ok)
{
	const unsigned char *s = p;
	size_t i = 0, l;
	uint64_t w;

	while (i < n) {
		while (n - i >= 8) {
			memcpy(&w, s + i, 8);
			if (w & UINT64_C(0x8080808080808080))
				break;
			if (!nul_ok && ((w - UINT64_C(0x0101010101010101)) &
			    ~w & UINT64_C(0x8080808080808080)))
				return 0;
			i += 8;
		}
		if (i == n)
			break;
		if (s[i] == 0 && !nul_ok)
			return 0;
		if ((l = ks_utf8_seqlen(s + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}
