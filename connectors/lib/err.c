/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/err.c - error messages into a caller's buffer (the
 * errbuf idiom of every sink callback).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

void
ks_err_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

void
ks_err_append(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (errbuf == NULL || errlen == 0)
		return;
	len = strnlen(errbuf, errlen);
	if (len + 1 >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf + len, errlen - len, fmt, ap);
	va_end(ap);
}
