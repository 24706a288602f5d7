/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/sqltext.h - SQL text helpers of the SQL sinks: the text
 * of an SQL option, given in the INI (NAME) or in a file (NAME.file), and
 * the first keyword of a statement.
 */
#ifndef KS_SQLTEXT_H
#define KS_SQLTEXT_H

#include <stddef.h>

#include "ksink/sink.h"

/* The largest file a NAME.file option may name. */
#define KS_SQLTEXT_FILE_MAX (1024 * 1024)

/*
 * The text of the SQL option name: its value, or the content of the file
 * that name.file names (read only when read_file).  Sets *sql, or NULL
 * when neither is set, and *buf to what the caller frees (or NULL);
 * *from_file, when asked for, to whether the text is name.file's.  Both
 * set, an unreadable file or one past KS_SQLTEXT_FILE_MAX: KSINK_CONFIG
 * with errbuf naming the option.
 */
int	ks_sqltext_option(const struct ksink_host *host,
	    struct ksink_ctx *ctx, const char *name, int read_file,
	    const char **sql, char **buf, int *from_file, char *errbuf,
	    size_t errlen);

/*
 * The word of the NULL-terminated words[] (compared without case) that is
 * the first keyword of the statement sql, past leading white space (the
 * caller skips comments, its dialect's); NULL when it is none of them.
 */
const char *ks_sqltext_keyword(const char *sql, const char *const *words);

#endif
