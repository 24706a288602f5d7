/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conf.c - the INI file, parsed with inih, checked against option tables.
 *
 * inih hands us keys and values; our own line reader sits in front of it
 * so that we know the line of every key and can refuse, with a line
 * number, what inih would otherwise misparse: lines longer than its buffer
 * (it would cut them and parse the rest as a new line), section headers
 * without ']', keys outside any section, lines that are not "key = value".
 * Each such line reaches inih as an empty line.  An indented line after a
 * key continues that key's value; the parts are joined with newlines.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "conf.h"
#include "options.h"
#include "util.h"

/* inih cuts section names at this many bytes. */
#define SECTION_MAX 49

struct parse {
	struct ks_conf *conf;
	struct ks_errors *errs;
	FILE *fp;
	const char *name;
	int lineno;
	int cont;		/* the current line continues a value */
	int after_key;		/* the previous content line held a key */
	size_t skip;		/* leading blanks to hide from inih */
	int seen_section;	/* a section header, even a refused one */
	int swallow;		/* indented lines belong to a refused line */
	size_t long_len;	/* the whole length of the line just read */
	struct ks_section *cur;
	char *buf;
	size_t bufsz;
};

void
ks_errors_add(struct ks_errors *errs, const char *fmt, ...)
{
	va_list ap;
	char *s;

	char *c;

	/* A file of garbage could make thousands: the first hundred say
	 * enough. */
	if (errs->count > KS_ERRORS_MAX)
		return;
	if (errs->count == KS_ERRORS_MAX) {
		s = ks_util_strdup("too many problems; the rest are not "
		    "listed");
		goto add;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	if (s == NULL)
		return;
	/* One problem, one line, even when it quotes a continued value. */
	for (c = s; *c != '\0'; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	/* A [kafka] problem is found once per connector: say it once. */
	for (size_t i = 0; i < errs->count; i++)
		if (strcmp(errs->msg[i], s) == 0) {
			free(s);
			return;
		}
add:
	errs->msg = ks_util_xrealloc(errs->msg,
	    (errs->count + 1) * sizeof(*errs->msg));
	errs->msg[errs->count++] = s;
}

/* The line number of a "FILE:LINE: ..." message, or 0: the first
 * ":DIGITS:" (a file name may hold ':' too). */
static long
msg_line(const char *m)
{
	const char *c;
	char *end;
	long n;

	for (c = strchr(m, ':'); c != NULL; c = strchr(c + 1, ':')) {
		n = strtol(c + 1, &end, 10);
		if (end > c + 1 && *end == ':')
			return n;
	}
	return 0;
}

static int
cmp_msg(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	long lx = msg_line(*x), ly = msg_line(*y);

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(*x, *y);
}

/* Prints the problems in the order of the file's lines. */
void
ks_errors_print(const struct ks_errors *errs, FILE *fp)
{
	size_t i;

	if (errs->count > 1)
		qsort(errs->msg, errs->count, sizeof(*errs->msg), cmp_msg);
	for (i = 0; i < errs->count; i++)
		fprintf(fp, "ksink: error: %s\n", errs->msg[i]);
}

void
ks_errors_free(struct ks_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->count = 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int
valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return 0;
	return 1;
}

static struct ks_section *
find_section(const struct ks_conf *conf, int kind, const char *name)
{
	struct ks_section *s;

	for (s = conf->sections; s != NULL; s = s->next)
		if (s->kind == kind && (name == NULL ||
		    (s->name != NULL && strcmp(s->name, name) == 0)))
			return s;
	return NULL;
}

/* A section header line; returns 0 when it is well formed. */
static int
section_line(struct parse *p, char *line)
{
	char *end, *name, *rest, *sp;
	struct ks_section *sec, *dup;
	int kind;

	end = strchr(line, ']');
	if (end == NULL) {
		ks_errors_add(p->errs, "%s:%d: section header without "
		    "closing ']'; write it as [worker], [kafka] or "
		    "[connector NAME]", p->name, p->lineno);
		return -1;
	}
	rest = trim(end + 1);
	if (*rest != '\0' && *rest != ';' && *rest != '#') {
		ks_errors_add(p->errs, "%s:%d: unexpected text after the "
		    "section header: \"%s\"", p->name, p->lineno, rest);
		return -1;
	}
	*end = '\0';
	name = trim(line + 1);
	if (strlen(name) > SECTION_MAX) {
		ks_errors_add(p->errs, "%s:%d: section name longer than %d "
		    "bytes; use a shorter connector name", p->name, p->lineno,
		    SECTION_MAX);
		return -1;
	}
	if (strcmp(name, "worker") == 0) {
		kind = KS_SEC_WORKER;
		name = NULL;
	} else if (strcmp(name, "kafka") == 0) {
		kind = KS_SEC_KAFKA;
		name = NULL;
	} else if (strncmp(name, "connector", 9) == 0 &&
	    isspace((unsigned char)name[9])) {
		kind = KS_SEC_CONNECTOR;
		name = trim(name + 9);
		for (sp = name; *sp != '\0' && !isspace((unsigned char)*sp);
		    sp++)
			;
		if (*sp != '\0' || !valid_name(name)) {
			ks_errors_add(p->errs, "%s:%d: connector name \"%s\" "
			    "may hold only letters, digits, '.', '_' and "
			    "'-'", p->name, p->lineno, name);
			return -1;
		}
	} else {
		ks_errors_add(p->errs, "%s:%d: unknown section [%s]; "
		    "expected [worker], [kafka] or [connector NAME]",
		    p->name, p->lineno, name);
		return -1;
	}
	if ((dup = find_section(p->conf, kind, name)) != NULL) {
		ks_errors_add(p->errs, "%s:%d: duplicate section [%s%s%s], "
		    "first at line %d; merge the two", p->name, p->lineno,
		    kind == KS_SEC_CONNECTOR ? "connector " : "",
		    kind == KS_SEC_CONNECTOR ? name :
		    kind == KS_SEC_WORKER ? "worker" : "kafka", "",
		    dup->line);
		return -1;
	}
	sec = ks_util_xcalloc(1, sizeof(*sec));
	sec->kind = kind;
	sec->name = ks_util_strdup(name);
	sec->line = p->lineno;
	sec->kvtail = &sec->kvs;
	*p->conf->sectail = sec;
	p->conf->sectail = &sec->next;
	p->cur = sec;
	return 0;
}

/*
 * Classifies one raw line (without its newline).  Returns 0 when inih may
 * see it, -1 when it was reported and must be hidden from inih.
 */
static int
check_line(struct parse *p, char *raw, size_t len, size_t max)
{
	char *s, *copy;
	int rc;

	p->cont = 0;
	p->skip = 0;
	if (len > max) {
		ks_errors_add(p->errs, "%s:%d: line is %zu bytes long, the "
		    "limit is %zu; split the value over indented "
		    "continuation lines or use a *.file option", p->name,
		    p->lineno, p->long_len > len + 1 ? p->long_len : len, max);
		/* Its continuation lines go with it. */
		p->after_key = 0;
		p->swallow = 1;
		return -1;
	}
	s = raw;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '\0' || *s == ';' || *s == '#')
		return 0;
	if (s > raw && p->swallow)
		return -1;
	if (s > raw && p->after_key) {
		p->cont = 1;
		return 0;
	}
	/* Not a continuation: inih must not take it for one. */
	p->skip = (size_t)(s - raw);
	p->after_key = 0;
	p->swallow = 0;
	if (*s == '[') {
		p->seen_section = 1;
		copy = ks_util_strdup(s);
		rc = section_line(p, copy);
		free(copy);
		if (rc == -1)
			p->cur = NULL;
		/* inih must never see a section: we track them. */
		return -1;
	}
	if (strpbrk(s, "=:") == NULL) {
		ks_errors_add(p->errs, "%s:%d: expected \"key = value\", "
		    "found \"%.60s\"", p->name, p->lineno, s);
		return -1;
	}
	if (p->cur == NULL) {
		/* Either no section yet, or the section was refused. */
		if (!p->seen_section)
			ks_errors_add(p->errs, "%s:%d: key outside any "
			    "section; put it under [worker], [kafka] or "
			    "[connector NAME]", p->name, p->lineno);
		return -1;
	}
	p->after_key = 1;
	return 0;
}

/*
 * Reads one line into p->buf, keeping at most LINE_KEEP bytes of it (the
 * rest is read and dropped, and the length still counted), so that a
 * file without newlines cannot take all memory.  -1 at the end.
 */
#define LINE_KEEP 65536
#define LINE_GIVEUP (1024 * 1024)
static ssize_t
read_line(struct parse *p)
{
	size_t len = 0;
	int c;

	if (p->buf == NULL) {
		p->bufsz = LINE_KEEP + 2;
		p->buf = ks_util_xmalloc(p->bufsz);
	}
	while ((c = getc(p->fp)) != EOF) {
		if (len < LINE_KEEP)
			p->buf[len] = (char)c;
		len++;
		if (c == '\n' || len > LINE_GIVEUP)
			break;
	}
	if (c == EOF && len == 0)
		return -1;
	p->buf[len < LINE_KEEP ? len : LINE_KEEP] = '\0';
	p->long_len = len;
	return (ssize_t)(len < LINE_KEEP ? len : LINE_KEEP);
}

/* inih's reader: returns whole lines, checked, or an empty line. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	ssize_t n;
	size_t len;

	n = read_line(p);
	if (n == -1)
		return NULL;
	p->lineno++;
	if (p->long_len > LINE_GIVEUP) {
		ks_errors_add(p->errs, "%s:%d: line longer than 1 MiB; is this "
		    "a text file?  Reading stops here", p->name, p->lineno);
		return NULL;
	}
	len = (size_t)n;
	while (len > 0 && (p->buf[len - 1] == '\n' || p->buf[len - 1] == '\r'))
		p->buf[--len] = '\0';
	if (p->lineno == 1 && len >= 3 &&
	    memcmp(p->buf, "\xEF\xBB\xBF", 3) == 0) {
		memmove(p->buf, p->buf + 3, len - 2);
		len -= 3;
	}
	if (memchr(p->buf, '\0', len) != NULL) {
		ks_errors_add(p->errs, "%s:%d: line holds a NUL byte; is "
		    "this a text file?", p->name, p->lineno);
		p->after_key = 0;
		p->swallow = 1;
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	/* inih reads at most num - 1 bytes, the newline included. */
	if (check_line(p, p->buf, len, (size_t)num - 2) == -1) {
		str[0] = '\n';
		str[1] = '\0';
		return str;
	}
	/* inih 55 keeps inline comments of continuation lines: cut them
	 * here as it does on key lines (';' after a blank). */
	if (p->cont) {
		char *c;

		for (c = p->buf + 1; c < p->buf + len; c++)
			if (*c == ';' && (c[-1] == ' ' || c[-1] == '\t')) {
				len = (size_t)(c - p->buf);
				break;
			}
	}
	len -= p->skip;
	memcpy(str, p->buf + p->skip, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	struct ks_section *sec = p->cur;
	struct ks_kv *kv, *last;
	size_t a, b;

	(void)section;
	if (sec == NULL)
		return 1;
	if (p->cont) {
		/* Find the value being continued: the last key. */
		for (last = sec->kvs; last != NULL && last->next != NULL;
		    last = last->next)
			;
		if (last != NULL && strcmp(last->key, name) == 0) {
			a = strlen(last->value);
			b = strlen(value);
			last->value = ks_util_xrealloc(last->value, a + b + 2);
			if (a > 0)
				last->value[a++] = '\n';
			memcpy(last->value + a, value, b + 1);
			return 1;
		}
	}
	kv = ks_util_xcalloc(1, sizeof(*kv));
	kv->key = ks_util_strdup(name);
	kv->value = ks_util_strdup(value);
	kv->line = p->lineno;
	*sec->kvtail = kv;
	sec->kvtail = &kv->next;
	return 1;
}

struct ks_conf *
ks_conf_parse_fp(FILE *fp, const char *name, struct ks_errors *errs)
{
	struct parse p;
	struct ks_conf *conf;
	int rc;

	conf = ks_util_xcalloc(1, sizeof(*conf));
	conf->path = ks_util_strdup(name);
	conf->sectail = &conf->sections;
	memset(&p, 0, sizeof(p));
	p.conf = conf;
	p.errs = errs;
	p.fp = fp;
	p.name = conf->path;
	rc = ini_parse_stream(reader, &p, handler, &p);
	if (rc > 0)
		ks_errors_add(errs, "%s:%d: cannot parse this line", name, rc);
	else if (rc < 0)
		ks_errors_add(errs, "%s: cannot read the file", name);
	if (ferror(fp))
		ks_errors_add(errs, "%s: read error: %s", name,
		    strerror(errno));
	free(p.buf);
	return conf;
}

struct ks_conf *
ks_conf_parse_file(const char *path, struct ks_errors *errs)
{
	struct ks_conf *conf;
	FILE *fp;

	if ((fp = fopen(path, "r")) == NULL) {
		ks_errors_add(errs, "%s: cannot open: %s", path,
		    strerror(errno));
		return NULL;
	}
	conf = ks_conf_parse_fp(fp, path, errs);
	fclose(fp);
	return conf;
}

void
ks_conf_free(struct ks_conf *conf)
{
	struct ks_section *s, *sn;
	struct ks_kv *kv, *kn;

	if (conf == NULL)
		return;
	for (s = conf->sections; s != NULL; s = sn) {
		sn = s->next;
		for (kv = s->kvs; kv != NULL; kv = kn) {
			kn = kv->next;
			free(kv->key);
			free(kv->value);
			free(kv);
		}
		free(s->name);
		free(s);
	}
	free(conf->path);
	free(conf);
}

struct ks_section *
ks_conf_section(const struct ks_conf *conf, int kind)
{
	return find_section(conf, kind, NULL);
}

const struct ks_kv *
ks_conf_kv(const struct ks_section *sec, const char *key)
{
	const struct ks_kv *kv;

	for (kv = sec ? sec->kvs : NULL; kv != NULL; kv = kv->next)
		if (strcmp(kv->key, key) == 0)
			return kv;
	return NULL;
}

const char *
ks_conf_str(const struct ks_section *sec, const struct ksink_option *tab,
    const char *key)
{
	const struct ks_kv *kv = ks_conf_kv(sec, key);
	const struct ksink_option *o;

	if (kv != NULL)
		return kv->value;
	o = ks_options_find(tab, key);
	return o != NULL ? o->def : NULL;
}

int64_t
ks_conf_int(const struct ks_section *sec, const struct ksink_option *tab,
    const char *key)
{
	const char *s = ks_conf_str(sec, tab, key);
	int64_t v = 0;

	if (s != NULL)
		(void)ks_util_parse_int(s, &v);
	return v;
}

int
ks_conf_bool(const struct ks_section *sec, const struct ksink_option *tab,
    const char *key)
{
	const char *s = ks_conf_str(sec, tab, key);
	int v = 0;

	if (s != NULL)
		(void)ks_util_parse_bool(s, &v);
	return v;
}

size_t
ks_conf_count(const struct ks_section *sec, const char *key)
{
	const struct ks_kv *kv;
	size_t n = 0;

	for (kv = sec ? sec->kvs : NULL; kv != NULL; kv = kv->next)
		if (strcmp(kv->key, key) == 0)
			n++;
	return n;
}

const char *
ks_conf_str_at(const struct ks_section *sec, const char *key, size_t index)
{
	const struct ks_kv *kv;

	for (kv = sec ? sec->kvs : NULL; kv != NULL; kv = kv->next)
		if (strcmp(kv->key, key) == 0 && index-- == 0)
			return kv->value;
	return NULL;
}

static const char *
section_title(const struct ks_section *sec, char *buf, size_t len)
{
	switch (sec->kind) {
	case KS_SEC_WORKER:
		return "[worker]";
	case KS_SEC_KAFKA:
		return "[kafka]";
	default:
		snprintf(buf, len, "[connector %s]", sec->name);
		return buf;
	}
}

/* Does key look like another table's, as "sqlite.path" to ours? */
static int
has_foreign_prefix(const char *key, const struct ksink_option *const *tabs,
    size_t ntabs)
{
	const struct ksink_option *o;
	const char *dot = strchr(key, '.');
	size_t i, len;

	if (dot == NULL)
		return 0;
	len = (size_t)(dot - key) + 1;
	for (i = 0; i < ntabs; i++)
		for (o = tabs[i]; o != NULL && o->name != NULL; o++)
			if (strncmp(o->name, key, len) == 0)
				return 0;
	return 1;
}

int
ks_conf_validate(const struct ks_conf *conf, const struct ks_section *sec,
    const struct ksink_option *const *tabs, size_t ntabs,
    const char *skip_prefix, int ignore_unknown, struct ks_errors *errs)
{
	const struct ksink_option *o;
	const struct ks_kv *kv, *first;
	const char *near;
	char err[512], title[128];
	size_t before = errs->count, i;

	for (kv = sec->kvs; kv != NULL; kv = kv->next) {
		if (skip_prefix != NULL &&
		    strncmp(kv->key, skip_prefix, strlen(skip_prefix)) == 0)
			continue;
		o = NULL;
		for (i = 0; i < ntabs && o == NULL; i++)
			o = ks_options_find(tabs[i], kv->key);
		if (o == NULL && ignore_unknown && has_foreign_prefix(kv->key,
		    tabs, ntabs))
			continue;
		if (o == NULL) {
			near = ks_options_nearest(kv->key, tabs, ntabs);
			ks_errors_add(errs, "%s:%d: unknown key \"%s\" in %s%s"
			    "%s%s", conf->path, kv->line, kv->key,
			    section_title(sec, title, sizeof(title)),
			    near ? "; did you mean \"" : "",
			    near ? near : "", near ? "\"?" : "");
			continue;
		}
		first = ks_conf_kv(sec, kv->key);
		if (first != kv && !(o->flags & KSINK_OPT_MULTI)) {
			ks_errors_add(errs, "%s:%d: key \"%s\" given again "
			    "(first at line %d); keep one, or indent the "
			    "line to continue the value", conf->path,
			    kv->line, kv->key, first->line);
			continue;
		}
		if (ks_options_check(o, kv->value, err, sizeof(err)) == -1)
			ks_errors_add(errs, "%s:%d: %s", conf->path, kv->line,
			    err);
	}
	for (i = 0; i < ntabs; i++)
		for (o = tabs[i]; o != NULL && o->name != NULL; o++)
			if ((o->flags & KSINK_OPT_REQUIRED) &&
			    ks_conf_kv(sec, o->name) == NULL)
				ks_errors_add(errs, "%s:%d: %s needs the key "
				    "\"%s\"", conf->path, sec->line,
				    section_title(sec, title, sizeof(title)),
				    o->name);
	return (int)(errs->count - before);
}
