/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/classify.c - whether a statement of postgres.statement
 * can go through COPY, without a server: a plain insert into a table
 *
 *	INSERT INTO tbl (c1, c2, ...) VALUES (:p1, :p2::type, ...)
 *
 * with exactly one named parameter per value, optionally cast to a type
 * named without a modifier, and optionally one of
 *
 *	ON CONFLICT [(k1, ...)] DO NOTHING
 *	ON CONFLICT (k1, ...) DO UPDATE SET c = EXCLUDED.c, ...
 *
 * where the assignments cover every inserted column that is not a key, each
 * from EXCLUDED of the same column.  Anything else (expressions, RETURNING,
 * WHERE, several rows, DEFAULT, an alias, ON CONSTRAINT, ...) is not plain
 * and stays on the pipeline of prepared statements.  copy.c asks the
 * server the rest: the table's kind and the columns' types.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stmt.h"

enum tok { T_END, T_WORD, T_QIDENT, T_PARAM, T_CAST, T_PUNCT, T_OTHER };

struct lex {
	const char *s;		/* the statement's text, with $n */
	const char *p;		/* the next character */
	enum tok t;		/* the current token */
	const char *start;	/* its text */
	size_t len;
	char name[64];		/* identifier, normalised; punctuation */
	int num;		/* T_PARAM */
	int toolong;		/* an identifier over 63 bytes */
};

static int
ident_start(int c)
{
	return isalpha(c) || c == '_' || c >= 0x80;
}

static int
ident_char(int c)
{
	return isalnum(c) || c == '_' || c == '$' || c >= 0x80;
}

static void
next(struct lex *l)
{
	const char *p = l->p, *e;
	size_t n, o;

	while (*p && isspace((unsigned char)*p))
		p++;
	l->start = p;
	l->name[0] = '\0';
	if (*p == '\0') {
		l->t = T_END;
		e = p;
	} else if (ident_start((unsigned char)*p)) {
		for (e = p; ident_char((unsigned char)*e); e++)
			;
		n = (size_t)(e - p);
		if (n >= sizeof(l->name))
			l->toolong = 1;
		/* Unquoted: folded to lower case (ASCII, as the server). */
		for (o = 0; o < n && o < sizeof(l->name) - 1; o++)
			l->name[o] = (char)tolower((unsigned char)p[o]);
		l->name[o] = '\0';
		l->t = *e == '\'' || *e == '&' ? T_OTHER : T_WORD;
	} else if (*p == '"') {
		for (e = p + 1, o = 0; *e; e++) {
			if (*e == '"' && e[1] != '"')
				break;
			if (*e == '"')
				e++;
			if (o < sizeof(l->name) - 1)
				l->name[o] = *e;
			o++;
		}
		if (o >= sizeof(l->name) || o == 0)
			l->toolong = 1;
		l->name[o < sizeof(l->name) ? o : sizeof(l->name) - 1] = '\0';
		if (*e == '"')
			e++;
		l->t = T_QIDENT;
	} else if (*p == '$' && isdigit((unsigned char)p[1])) {
		l->num = (int)strtol(p + 1, (char **)&e, 10);
		l->t = T_PARAM;
	} else if (p[0] == ':' && p[1] == ':') {
		e = p + 2;
		l->t = T_CAST;
	} else if (strchr("(),.=[]", *p) != NULL) {
		l->name[0] = *p;
		l->name[1] = '\0';
		e = p + 1;
		l->t = T_PUNCT;
	} else {
		/* Strings, numbers, operators: never in a plain insert. */
		e = p + 1;
		l->t = T_OTHER;
	}
	l->len = (size_t)(e - p);
	l->p = e;
}

static int
is_kw(const struct lex *l, const char *kw)
{
	return l->t == T_WORD && strcmp(l->name, kw) == 0;
}

static int
is_punct(const struct lex *l, int c)
{
	return l->t == T_PUNCT && l->name[0] == c;
}

static int
is_ident(const struct lex *l)
{
	return l->t == T_WORD || l->t == T_QIDENT;
}

static int
refuse(struct pg_copy_plan *cp, const char *why)
{
	snprintf(cp->reason, sizeof(cp->reason), "%s", why);
	return -1;
}

/* Reads "( ident, ... )" into names and written texts. */
static int
ident_list(struct lex *l, struct pg_copy_plan *cp, char ***names,
    char ***texts, int *n, const char *what)
{
	char **nv, **tv;

	if (!is_punct(l, '('))
		return refuse(cp, what);
	do {
		next(l);
		if (!is_ident(l))
			return refuse(cp, what);
		if (l->toolong)
			return refuse(cp, "an identifier longer than 63 bytes");
		if ((nv = realloc(*names, (*n + 1) * sizeof(*nv))) == NULL)
			return refuse(cp, "out of memory");
		*names = nv;
		if ((tv = realloc(*texts, (*n + 1) * sizeof(*tv))) == NULL)
			return refuse(cp, "out of memory");
		*texts = tv;
		nv[*n] = strdup(l->name);
		tv[*n] = strndup(l->start, l->len);
		(*n)++;
		if (nv[*n - 1] == NULL || tv[*n - 1] == NULL)
			return refuse(cp, "out of memory");
		next(l);
	} while (is_punct(l, ','));
	if (!is_punct(l, ')'))
		return refuse(cp, what);
	next(l);
	return 0;
}

static int
find(char **names, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

/* The parameter of one value, and its optional cast. */
static int
value(struct lex *l, struct pg_copy_plan *cp, const struct pg_stmt_text *t,
    int col)
{
	if (l->t != T_PARAM || l->num < 1 || l->num > t->nparams)
		return refuse(cp, "a value that is not one parameter "
		    "(an expression, a constant or DEFAULT)");
	cp->param[col] = l->num - 1;
	next(l);
	if (l->t != T_CAST)
		return 0;
	/* A type name: words, dots, [] -- no modifier, no second cast. */
	next(l);
	if (!is_ident(l))
		return refuse(cp, "a cast to something that is not a type "
		    "name");
	while (is_ident(l) || is_punct(l, '.') || is_punct(l, '[') ||
	    is_punct(l, ']'))
		next(l);
	if (!is_punct(l, ',') && !is_punct(l, ')'))
		return refuse(cp, "a cast with a type modifier, or more than "
		    "a cast");
	return 0;
}

static int
classify(const struct pg_stmt_text *t, struct pg_copy_plan *cp)
{
	struct lex l = { .s = t->sql, .p = t->sql };
	char **setn = NULL;
	int nset = 0, i, r = -1;
	const char *tbl;

	next(&l);
	if (!is_kw(&l, "insert"))
		return refuse(cp, "not an INSERT");
	next(&l);
	if (!is_kw(&l, "into"))
		return refuse(cp, "not an INSERT");
	next(&l);
	tbl = l.start;
	for (i = 0; ; i++) {
		if (!is_ident(&l) || i == 3)
			return refuse(cp, "the table is not a name");
		next(&l);
		if (!is_punct(&l, '.'))
			break;
		next(&l);
	}
	if ((cp->table = strndup(tbl, (size_t)(l.start - tbl))) == NULL)
		return refuse(cp, "out of memory");
	while (cp->table[0] && isspace((unsigned char)
	    cp->table[strlen(cp->table) - 1]))
		cp->table[strlen(cp->table) - 1] = '\0';
	if (ident_list(&l, cp, &cp->names, &cp->cols, &cp->ncols, "no list "
	    "of columns after the table (or an alias)") == -1)
		return -1;
	for (i = 0; i < cp->ncols; i++)
		if (strcmp(cp->names[i], "ksink_seq") == 0)
			return refuse(cp, "a column named ksink_seq");
	if (!is_kw(&l, "values"))
		return refuse(cp, "not INSERT ... VALUES");
	next(&l);
	if ((cp->param = calloc((size_t)cp->ncols, sizeof(int))) == NULL)
		return refuse(cp, "out of memory");
	if (!is_punct(&l, '('))
		return refuse(cp, "not INSERT ... VALUES (...)");
	for (i = 0; ; i++) {
		next(&l);
		if (i == cp->ncols)
			return refuse(cp, "more values than columns");
		if (value(&l, cp, t, i) == -1)
			return -1;
		if (!is_punct(&l, ','))
			break;
	}
	if (!is_punct(&l, ')') || i + 1 != cp->ncols)
		return refuse(cp, "fewer values than columns");
	next(&l);
	if (l.t == T_END) {
		cp->kind = PG_COPY_INSERT;
		return 0;
	}
	if (is_punct(&l, ','))
		return refuse(cp, "several rows of VALUES");
	if (!is_kw(&l, "on"))
		return refuse(cp, "more than INSERT ... VALUES (RETURNING, "
		    "...)");
	if ((cp->tail = strdup(l.start)) == NULL)
		return refuse(cp, "out of memory");
	next(&l);
	if (!is_kw(&l, "conflict"))
		return refuse(cp, "more than INSERT ... VALUES");
	next(&l);
	if (is_punct(&l, '(') && ident_list(&l, cp, &cp->keys, &cp->keytexts,
	    &cp->nkeys, "a conflict target that is not a list of columns") ==
	    -1)
		return -1;
	if (!is_kw(&l, "do"))
		return refuse(cp, "ON CONFLICT with ON CONSTRAINT or an index "
		    "predicate");
	for (i = 0; i < cp->nkeys; i++)
		if (find(cp->names, cp->ncols, cp->keys[i]) == -1)
			return refuse(cp, "a conflict column that is not "
			    "inserted");
	next(&l);
	if (is_kw(&l, "nothing")) {
		next(&l);
		if (l.t != T_END)
			return refuse(cp, "more than ON CONFLICT DO NOTHING");
		cp->kind = PG_COPY_NOTHING;
		return 0;
	}
	if (!is_kw(&l, "update") || cp->nkeys == 0)
		return refuse(cp, "not ON CONFLICT DO UPDATE or DO NOTHING");
	next(&l);
	if (!is_kw(&l, "set"))
		return refuse(cp, "not ON CONFLICT DO UPDATE SET");
	do {
		char **v;

		next(&l);
		if (!is_ident(&l) || l.toolong)
			goto notplain;
		if ((v = realloc(setn, (nset + 1) * sizeof(*v))) == NULL)
			goto notplain;
		setn = v;
		if ((setn[nset++] = strdup(l.name)) == NULL)
			goto notplain;
		next(&l);
		if (!is_punct(&l, '='))
			goto notplain;
		next(&l);
		if (!is_ident(&l) || strcmp(l.name, "excluded") != 0)
			goto notplain;
		next(&l);
		if (!is_punct(&l, '.'))
			goto notplain;
		next(&l);
		if (!is_ident(&l) || strcmp(l.name, setn[nset - 1]) != 0 ||
		    find(cp->names, cp->ncols, l.name) == -1)
			goto notplain;
		next(&l);
	} while (is_punct(&l, ','));
	if (l.t != T_END) {
		refuse(cp, "ON CONFLICT DO UPDATE ... WHERE or more");
		goto out;
	}
	for (i = 0; i < cp->ncols; i++)
		if (find(cp->keys, cp->nkeys, cp->names[i]) == -1 &&
		    find(setn, nset, cp->names[i]) == -1) {
			refuse(cp, "a column inserted but not updated from "
			    "EXCLUDED: the last record would not win for it");
			goto out;
		}
	cp->kind = PG_COPY_UPSERT;
	r = 0;
	goto out;
notplain:
	refuse(cp, "an assignment that is not c = EXCLUDED.c (the value "
	    "would depend on the row's old one)");
out:
	for (i = 0; i < nset; i++)
		free(setn[i]);
	free(setn);
	return r;
}

int
pg_copy_classify(const struct pg_stmt_text *t, struct pg_copy_plan *cp)
{
	memset(cp, 0, sizeof(*cp));
	if (classify(t, cp) == 0)
		return 0;
	pg_copy_plan_free(cp);
	cp->kind = PG_COPY_NONE;
	return -1;
}

static void
strv_free(char **v, int n)
{
	int i;

	for (i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

void
pg_copy_plan_free(struct pg_copy_plan *cp)
{
	char reason[sizeof(cp->reason)];

	memcpy(reason, cp->reason, sizeof(reason));
	free(cp->table);
	strv_free(cp->cols, cp->ncols);
	strv_free(cp->names, cp->ncols);
	strv_free(cp->keys, cp->nkeys);
	strv_free(cp->keytexts, cp->nkeys);
	free(cp->param);
	free(cp->tail);
	memset(cp, 0, sizeof(*cp));
	memcpy(cp->reason, reason, sizeof(reason));
}
