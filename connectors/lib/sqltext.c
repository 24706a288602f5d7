/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/sqltext.c - the text of an SQL option of a sink, given
 * in the INI or in a file, and the first keyword of a statement; see
 * sqltext.h.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "sqltext.h"

int
ks_sqltext_option(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *name, int read_file, const char **sql, char **buf,
    int *from_file, char *errbuf, size_t errlen)
{
	char fname[128];
	const char *text, *path;
	FILE *fp;
	size_t n;
	char *p;

	*sql = NULL;
	*buf = NULL;
	snprintf(fname, sizeof(fname), "%s.file", name);
	text = host->conf_str(ctx, name);
	path = host->conf_str(ctx, fname);
	if (from_file != NULL)
		*from_file = path != NULL;
	if (text && path) {
		ks_err_set(errbuf, errlen, "%s and %s are both set: keep one",
		    name, fname);
		return KSINK_CONFIG;
	}
	if (path == NULL || !read_file) {
		*sql = text;
		return KSINK_OK;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		ks_err_set(errbuf, errlen, "%s: %s: %s", fname, path,
		    strerror(errno));
		return KSINK_CONFIG;
	}
	if ((p = malloc(KS_SQLTEXT_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	n = fread(p, 1, KS_SQLTEXT_FILE_MAX + 1, fp);
	if (ferror(fp) || n > KS_SQLTEXT_FILE_MAX) {
		ks_err_set(errbuf, errlen, "%s: %s: %s", fname, path,
		    ferror(fp) ? strerror(errno) : "larger than 1 MiB");
		fclose(fp);
		free(p);
		return KSINK_CONFIG;
	}
	fclose(fp);
	p[n] = '\0';
	*sql = *buf = p;
	return KSINK_OK;
}

const char *
ks_sqltext_keyword(const char *sql, const char *const *words)
{
	const char *s = sql;
	size_t i, n;

	while (*s == ' ' || (*s >= '\t' && *s <= '\r'))
		s++;
	for (n = 0; (s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' &&
	    s[n] <= 'Z'); n++)
		;
	for (i = 0; words[i] != NULL; i++)
		if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
			return words[i];
	return NULL;
}
