/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/mapping.c - the table mapping's options and the rules
 * that span them.  See mapping.h and ksink-mapping(7); a record as a row
 * is maprow.c's, the SQL text mapsql.c's, the reduction of a batch
 * mapreduce.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mapping.h"

/* The options, after the prefix and its dot. */
static const char *const opt_names[] = {
	"table.name.format", "insert.mode", "pk.mode", "pk.fields",
	"fields.include", "fields.exclude", "delete.enabled", "auto.create",
	"auto.evolve", "flatten", "flatten.delimiter", "quote.identifiers",
	NULL
};

static const char *
optname(char *buf, size_t len, const char *prefix, const char *name)
{
	snprintf(buf, len, "%s.%s", prefix, name);
	return buf;
}

static const char *
get(const struct ksink_host *host, struct ksink_ctx *ctx, const char *prefix,
    const char *name)
{
	char o[128];

	return host->conf_str(ctx, optname(o, sizeof(o), prefix, name));
}

static int
get_bool(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *prefix, const char *name, int def)
{
	char o[128];

	if (get(host, ctx, prefix, name) == NULL)
		return def;
	return host->conf_bool(ctx, optname(o, sizeof(o), prefix, name));
}

int
ks_mapping_wanted(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *prefix)
{
	int i;

	for (i = 0; opt_names[i] != NULL; i++)
		if (get(host, ctx, prefix, opt_names[i]) != NULL)
			return 1;
	return 0;
}

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
ks_mapping_free(struct ks_mapping *m)
{
	free(m->table_format);
	free(m->delimiter);
	free_list(m->pk_fields, m->npk_fields);
	free_list(m->include, m->ninclude);
	free_list(m->exclude, m->nexclude);
	memset(m, 0, sizeof(*m));
}

/* Splits a comma list, trimming blanks around each name; -1 when out of
 * memory, 1 when a name is empty. */
static int
split_list(const char *s, char ***vp, size_t *np)
{
	const char *p, *e, *c;
	char **v;
	int empty = 0;

	*vp = NULL;
	*np = 0;
	if (s == NULL)
		return 0;
	for (p = s;; p = c + 1) {
		if ((c = strchr(p, ',')) == NULL)
			c = p + strlen(p);
		while (*p == ' ' || *p == '\t')
			p++;
		for (e = c; e > p && (e[-1] == ' ' || e[-1] == '\t'); e--)
			;
		if (e == p)
			empty = 1;
		else {
			if ((v = realloc(*vp, (*np + 1) * sizeof(*v))) == NULL)
				return -1;
			*vp = v;
			if ((v[*np] = strndup(p, (size_t)(e - p))) == NULL)
				return -1;
			(*np)++;
		}
		if (*c == '\0')
			break;
	}
	return empty;
}

int
ks_mapping_in_list(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return 1;
	return 0;
}

static const char *const insert_words[] = { "insert", "upsert", "update",
    NULL };
static const char *const pk_words[] = { "none", "kafka", "record_key",
    "record_value", NULL };

static int
word_index(const char *const *w, const char *s, int def)
{
	int i;

	for (i = 0; s != NULL && w[i] != NULL; i++)
		if (strcmp(w[i], s) == 0)
			return i;
	return def;
}

typedef void rule_fn(void *arg, const char *option, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads the options into m, telling fn about every rule broken; -1 when
 * out of memory. */
static int
read_conf(struct ks_mapping *m, const struct ksink_host *host,
    struct ksink_ctx *ctx, const char *prefix, rule_fn *fn, void *arg)
{
	char o[128], o2[128];
	const char *s, *delim;
	size_t i;
	int rc;

	memset(m, 0, sizeof(*m));
	s = get(host, ctx, prefix, "table.name.format");
	if ((m->table_format = strdup(s ? s : "${topic}")) == NULL)
		return -1;
	if (*m->table_format == '\0')
		fn(arg, optname(o, sizeof(o), prefix, "table.name.format"),
		    "is empty: give a table name, in which ${topic} stands "
		    "for the record's topic");
	m->insert_mode = word_index(insert_words,
	    get(host, ctx, prefix, "insert.mode"), KS_MAP_INSERT);
	m->pk_mode = word_index(pk_words, get(host, ctx, prefix, "pk.mode"),
	    KS_MAP_PK_NONE);
	m->delete_enabled = get_bool(host, ctx, prefix, "delete.enabled", 0);
	m->auto_create = get_bool(host, ctx, prefix, "auto.create", 0);
	m->auto_evolve = get_bool(host, ctx, prefix, "auto.evolve", 0);
	m->flatten = get_bool(host, ctx, prefix, "flatten", 0);
	m->quote = get_bool(host, ctx, prefix, "quote.identifiers", 1);
	delim = get(host, ctx, prefix, "flatten.delimiter");
	if ((m->delimiter = strdup(delim ? delim : "_")) == NULL)
		return -1;

	static const char *const lists[] = { "pk.fields", "fields.include",
	    "fields.exclude" };
	char ***lv[] = { &m->pk_fields, &m->include, &m->exclude };
	size_t *ln[] = { &m->npk_fields, &m->ninclude, &m->nexclude };
	for (i = 0; i < 3; i++) {
		if ((rc = split_list(get(host, ctx, prefix, lists[i]), lv[i],
		    ln[i])) == -1)
			return -1;
		optname(o, sizeof(o), prefix, lists[i]);
		if (rc == 1)
			fn(arg, o, "holds an empty name: write the names "
			    "separated by single commas");
		if (get(host, ctx, prefix, lists[i]) != NULL && *ln[i] == 0 &&
		    rc == 0)
			fn(arg, o, "is empty: name at least one field, or "
			    "remove the line");
	}

	/* The rules that span several options. */
	if (delim != NULL && *delim == '\0')
		fn(arg, optname(o, sizeof(o), prefix, "flatten.delimiter"),
		    "is empty: nested names would run together; use _ or "
		    "another text");
	else if (delim != NULL && !m->flatten)
		fn(arg, optname(o, sizeof(o), prefix, "flatten.delimiter"),
		    "is set but %s is off: set %s = true, or remove the "
		    "delimiter", optname(o2, sizeof(o2), prefix, "flatten"),
		    o2);
	if (m->insert_mode != KS_MAP_INSERT && m->pk_mode == KS_MAP_PK_NONE)
		fn(arg, optname(o, sizeof(o), prefix, "insert.mode"),
		    "%s needs the row's key: set %s to %srecord_key or "
		    "record_value", insert_words[m->insert_mode],
		    optname(o2, sizeof(o2), prefix, "pk.mode"),
		    m->insert_mode == KS_MAP_UPSERT ? "kafka, " : "");
	else if (m->insert_mode == KS_MAP_UPDATE &&
	    m->pk_mode == KS_MAP_PK_KAFKA)
		fn(arg, optname(o, sizeof(o), prefix, "insert.mode"),
		    "update with %s kafka finds rows by the record's own "
		    "topic, partition and offset, which no record wrote "
		    "before it: use insert or upsert, or set %s to "
		    "record_key or record_value", optname(o2, sizeof(o2),
		    prefix, "pk.mode"), o2);
	if (m->delete_enabled && m->pk_mode != KS_MAP_PK_RECORD_KEY)
		fn(arg, optname(o, sizeof(o), prefix, "delete.enabled"),
		    "a tombstone deletes the row of its record's key, so it "
		    "needs %s = record_key (it is %s)",
		    optname(o2, sizeof(o2), prefix, "pk.mode"),
		    pk_words[m->pk_mode]);
	optname(o, sizeof(o), prefix, "pk.fields");
	if (m->pk_mode == KS_MAP_PK_NONE && m->npk_fields > 0)
		fn(arg, o, "is set but %s is none: set %s, or remove %s",
		    optname(o2, sizeof(o2), prefix, "pk.mode"), o2, o);
	if (m->pk_mode == KS_MAP_PK_KAFKA && m->npk_fields != 0 &&
	    m->npk_fields != 3)
		fn(arg, o, "names %zu columns, but pk.mode kafka takes three: "
		    "the topic's, the partition's and the offset's",
		    m->npk_fields);
	if (m->pk_mode == KS_MAP_PK_RECORD_VALUE && m->npk_fields == 0)
		fn(arg, o, "is not set: pk.mode record_value needs the names "
		    "of the value's fields that make the key");
	for (i = 0; i < m->npk_fields; i++) {
		if (ks_mapping_in_list(m->pk_fields, i, m->pk_fields[i]))
			fn(arg, o, "names \"%s\" twice", m->pk_fields[i]);
		if (!m->quote && !ks_mapping_plain(m->pk_fields[i]))
			fn(arg, o, "\"%s\" is not a plain identifier and %s "
			    "is off: turn it on, or rename the field",
			    m->pk_fields[i], optname(o2, sizeof(o2), prefix,
			    "quote.identifiers"));
		if (m->pk_mode != KS_MAP_PK_RECORD_VALUE)
			continue;
		if (m->ninclude > 0 && !ks_mapping_in_list(m->include, m->ninclude,
		    m->pk_fields[i]))
			fn(arg, o, "names \"%s\", which %s leaves out: add it "
			    "there", m->pk_fields[i], optname(o2, sizeof(o2),
			    prefix, "fields.include"));
		if (ks_mapping_in_list(m->exclude, m->nexclude, m->pk_fields[i]))
			fn(arg, o, "names \"%s\", which %s removes: remove it "
			    "from there", m->pk_fields[i], optname(o2,
			    sizeof(o2), prefix, "fields.exclude"));
	}
	for (i = 0; i < m->nexclude; i++)
		if (ks_mapping_in_list(m->include, m->ninclude, m->exclude[i]))
			fn(arg, optname(o, sizeof(o), prefix,
			    "fields.exclude"), "names \"%s\", which %s "
			    "names too: keep it in one of them",
			    m->exclude[i], optname(o2, sizeof(o2), prefix,
			    "fields.include"));
	if (!m->quote && strstr(m->table_format, "${topic}") == NULL &&
	    !ks_mapping_plain(m->table_format) && *m->table_format != '\0')
		fn(arg, optname(o, sizeof(o), prefix, "table.name.format"),
		    "\"%s\" is not a plain identifier and %s is off: turn it "
		    "on, or rename the table", m->table_format,
		    optname(o2, sizeof(o2), prefix, "quote.identifiers"));
	return 0;
}

/* Where the rules broken go: each one to host->report() (check()), or
 * the first one to errbuf (open()). */
struct rules {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;
	char *errbuf;
	size_t errlen;
	int n;
};

static void
rule(void *arg, const char *option, const char *fmt, ...)
{
	struct rules *r = arg;
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->host != NULL)
		r->host->report(r->ctx, option, "%s", msg);
	else if (r->n == 0)
		ks_err_set(r->errbuf, r->errlen, "%s: %s", option, msg);
	r->n++;
}

int
ks_mapping_conf(struct ks_mapping *m, const struct ksink_host *host,
    struct ksink_ctx *ctx, const char *prefix, int dialect, char *errbuf,
    size_t errlen)
{
	struct rules r = { NULL, NULL, errbuf, errlen, 0 };

	if (read_conf(m, host, ctx, prefix, rule, &r) == -1) {
		ks_mapping_free(m);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	m->dialect = dialect;
	if (r.n > 0) {
		ks_mapping_free(m);
		return KSINK_CONFIG;
	}
	return KSINK_OK;
}

int
ks_mapping_check(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *prefix)
{
	struct rules r = { host, ctx, NULL, 0, 0 };
	struct ks_mapping m;
	int rc;

	rc = read_conf(&m, host, ctx, prefix, rule, &r);
	ks_mapping_free(&m);
	if (rc == -1)
		return KSINK_OK; /* out of memory: open() will tell */
	return r.n > 0 ? KSINK_CONFIG : KSINK_OK;
}
