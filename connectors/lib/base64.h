/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/base64.h - base64 (RFC 4648, section 4: the standard
 * alphabet, with padding).
 */
#ifndef KS_BASE64_H
#define KS_BASE64_H

#include <stddef.h>

struct ks_buf;

/* Length of the encoding of n bytes. */
#define KS_BASE64_LEN(n)	(((n) + 2) / 3 * 4)

char	*ks_base64_encode(char *out, const void *in, size_t n);
void	 ks_base64_add(struct ks_buf *, const void *in, size_t n);
/* Decodes in[0..n) to out (which may be in); its length, or -1 when in
 * is not a padded encoding. */
long	 ks_base64_decode(void *out, const char *in, size_t n);

#endif
