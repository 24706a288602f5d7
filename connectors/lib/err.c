/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/err.c - error messages into a caller's buffer (the
 * errbuf idiom of every sink callback).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ksink/sink.h"

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

void
ks_err_report(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *option, const char *msg)
{
	size_t n = option != NULL ? strlen(option) : 0;

	if (n > 0 && strncmp(msg, option, n) == 0 && msg[n] == ':' &&
	    msg[n + 1] == ' ')
		msg += n + 2;
	host->report(ctx, option, "%s", msg);
}
