/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/stmt.c - parses the SQL of the postgres sink's
 * options without a server: splits it into statements and maps the named
 * parameters :topic :partition :offset :timestamp :key :value :headers
 * (also @name) to $n.  A "::" cast is not a parameter; quoted strings
 * ('...', E'...', $tag$...$tag$), quoted identifiers and comments are
 * skipped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../lib/buf.h"
#include "../lib/err.h"
#include "../lib/sqltext.h"
#include "stmt.h"

const char *const pg_field_names[PG_F_COUNT] = {
	"topic", "partition", "offset", "timestamp", "key", "value", "headers"
};

static int
ident_start(int c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static int
ident_char(int c)
{
	return isalnum(c) || c == '_' || c >= 0x80;
}

/* Statements that would end or split the transaction ksink owns. */
static const char *const forbidden[] = {
	"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "START",
	"PREPARE", "ABORT", "VACUUM", "COPY", NULL
};

/* Whether a statement holds anything but white space and comments (the
 * parser strips the comments). */
static int
blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			return 0;
	return 1;
}

static int
add_stmt(struct pg_stmt_list *l, struct ks_buf *b, int nparams,
    const int *field, char *errbuf, size_t errlen)
{
	struct pg_stmt_text *v;
	const char *word;

	ks_buf_addc(b, '\0');
	if (b->oom) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	if (blank(b->p)) {
		ks_buf_reset(b);
		return 0;
	}
	if ((word = ks_sqltext_keyword(b->p, forbidden)) != NULL) {
		ks_err_set(errbuf, errlen, "statement %d: %s is not "
		    "allowed: ksink runs each batch in a transaction of its "
		    "own", l->n + 1, word);
		return -1;
	}
	if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	l->v = v;
	memset(&v[l->n], 0, sizeof(*v));
	if ((v[l->n].sql = strdup(b->p)) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	v[l->n].nparams = nparams;
	memcpy(v[l->n].field, field, sizeof(v[l->n].field));
	l->n++;
	ks_buf_reset(b);
	return 0;
}

int
pg_stmt_parse(const char *sql, struct pg_stmt_list *l, char *errbuf,
    size_t errlen)
{
	struct ks_buf b = { 0 };
	const char *s = sql, *e, *tag;
	int num[PG_F_COUNT], field[PG_F_COUNT], nparams = 0, f, depth;
	size_t n, taglen;
	char dollar[16];

	memset(l, 0, sizeof(*l));
	memset(num, 0, sizeof(num));
	while (*s) {
		if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
			continue;
		}
		if (s[0] == '/' && s[1] == '*') {
			for (depth = 1, s += 2; *s && depth > 0; s++) {
				if (s[0] == '/' && s[1] == '*')
					depth++, s++;
				else if (s[0] == '*' && s[1] == '/')
					depth--, s++;
			}
			ks_buf_addc(&b, ' ');
			continue;
		}
		if (*s == '\'' || *s == '"') {
			/* E'..' takes backslash escapes. */
			int bs = *s == '\'' && s > sql &&
			    (s[-1] == 'E' || s[-1] == 'e') &&
			    (s - 1 == sql || !ident_char((unsigned char)s[-2]));
			char q = *s;

			for (e = s + 1; *e; e++) {
				if (bs && *e == '\\' && e[1]) {
					e++;
					continue;
				}
				if (*e == q) {
					if (e[1] == q) {
						e++;
						continue;
					}
					break;
				}
			}
			if (*e == '\0') {
				ks_err_set(errbuf, errlen, "unterminated "
				    "%s", q == '"' ? "quoted identifier" :
				    "string");
				goto fail;
			}
			ks_buf_add(&b, s, (size_t)(e + 1 - s));
			s = e + 1;
			continue;
		}
		if (*s == '$' && (s == sql || !ident_char((unsigned char)s[-1]))) {
			/* $tag$ ... $tag$, or a positional $1. */
			if (isdigit((unsigned char)s[1])) {
				ks_err_set(errbuf, errlen, "positional "
				    "parameter $%c...: use the named parameters "
				    ":topic, :partition, :offset, :timestamp, "
				    ":key, :value and :headers", s[1]);
				goto fail;
			}
			for (e = s + 1; ident_char((unsigned char)*e) &&
			    *e != '$'; e++)
				;
			if (*e == '$') {
				taglen = (size_t)(e + 1 - s);
				if (taglen >= sizeof(dollar)) {
					ks_err_set(errbuf, errlen,
					    "dollar-quote tag too long");
					goto fail;
				}
				memcpy(dollar, s, taglen);
				dollar[taglen] = '\0';
				if ((tag = strstr(e + 1, dollar)) == NULL) {
					ks_err_set(errbuf, errlen,
					    "unterminated %s string", dollar);
					goto fail;
				}
				ks_buf_add(&b, s,
				    (size_t)(tag + taglen - s));
				s = tag + taglen;
				continue;
			}
		}
		if (*s == ':' && s[1] == ':') {
			ks_buf_add(&b, "::", 2);
			s += 2;
			continue;
		}
		if ((*s == ':' || *s == '@') &&
		    ident_start((unsigned char)s[1]) &&
		    (*s == ':' || s == sql || isspace((unsigned char)s[-1]) ||
		    strchr("(,=<>+-*/", s[-1]) != NULL)) {
			for (e = s + 1; ident_char((unsigned char)*e); e++)
				;
			n = (size_t)(e - s - 1);
			for (f = 0; f < PG_F_COUNT; f++)
				if (strlen(pg_field_names[f]) == n &&
				    strncmp(s + 1, pg_field_names[f], n) == 0)
					break;
			if (f == PG_F_COUNT) {
				if (*s == '@') {
					/* PostgreSQL's @ operators */
					ks_buf_addc(&b, *s++);
					continue;
				}
				ks_err_set(errbuf, errlen, "unknown "
				    "parameter :%.*s: known are :topic, "
				    ":partition, :offset, :timestamp, :key, "
				    ":value and :headers", (int)n, s + 1);
				goto fail;
			}
			if (num[f] == 0) {
				num[f] = ++nparams;
				field[nparams - 1] = f;
			}
			snprintf(dollar, sizeof(dollar), "$%d", num[f]);
			ks_buf_adds(&b, dollar);
			s = e;
			continue;
		}
		if (*s == ';') {
			if (add_stmt(l, &b, nparams, field, errbuf,
			    errlen) == -1)
				goto fail;
			memset(num, 0, sizeof(num));
			nparams = 0;
			s++;
			continue;
		}
		ks_buf_addc(&b, *s++);
	}
	if (add_stmt(l, &b, nparams, field, errbuf, errlen) == -1)
		goto fail;
	ks_buf_free(&b);
	if (l->n == 0) {
		ks_err_set(errbuf, errlen, "no SQL statement, only white "
		    "space or comments");
		return -1;
	}
	return 0;
fail:
	ks_buf_free(&b);
	pg_stmt_free(l);
	return -1;
}

void
pg_stmt_free(struct pg_stmt_list *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		free(l->v[i].sql);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

int
pg_stmt_valid_table(const char *s)
{
	int parts = 0;

	for (;;) {
		if (*s == '"') {
			for (s++; *s && *s != '"'; s++)
				;
			if (*s++ != '"')
				return 0;
		} else {
			if (!ident_start((unsigned char)*s))
				return 0;
			while (ident_char((unsigned char)*s) || *s == '$')
				s++;
		}
		if (++parts > 3)
			return 0;
		if (*s == '\0')
			return 1;
		if (*s++ != '.')
			return 0;
	}
}
