/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/err.h - error messages into a caller's buffer.
 */
#ifndef KS_ERR_H
#define KS_ERR_H

#include <stddef.h>

/* Formats a message into errbuf; does nothing when errbuf is NULL. */
void	ks_err_set(char *errbuf, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Appends to the message already in errbuf. */
void	ks_err_append(char *errbuf, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));


struct ksink_host;
struct ksink_ctx;

/*
 * Reports msg, a message as open() would put it in its errbuf, through
 * host->report() about option (NULL: the connector as a whole), without
 * the leading "option: " that the host prints itself.  For check()
 * callbacks, which share their rules with open().
 */
void	ks_err_report(const struct ksink_host *host, struct ksink_ctx *ctx,
	    const char *option, const char *msg);

#endif
