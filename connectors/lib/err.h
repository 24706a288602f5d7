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

#endif
