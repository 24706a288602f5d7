/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/utf8.h - UTF-8 checks (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF).
 */
#ifndef KS_UTF8_H
#define KS_UTF8_H

#include <stddef.h>

size_t	ks_utf8_seqlen(const unsigned char *s, size_t n);
int	ks_utf8_check(const void *p, size_t n, int nul_ok);

/* Whether n bytes at p are UTF-8 (NUL bytes allowed). */
static inline int
ks_utf8_valid(const void *p, size_t n)
{
	return ks_utf8_check(p, n, 1);
}

#endif
