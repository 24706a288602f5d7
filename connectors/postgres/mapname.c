/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/mapname.c - PostgreSQL's rules for the table names
 * of the table mapping, for ksink -t (pg_check() in open.c); the rules
 * every dialect shares are ks_mapping_check()'s.
 *
 * postgres.table.name.format is split at its first dot into a schema and
 * a table (ksink-mapping(7)).  Checked, for the fixed name or for each
 * topic listed by name in `topics` (a pattern's topics are unknown: a
 * one-letter stand-in is used, which finds an empty part):
 *   - neither part may be empty (".t", "ops."): PostgreSQL has no
 *     zero-length identifier;
 *   - each part must fit in an identifier, 63 bytes: the server cuts a
 *     longer one, and the table would not be the one named;
 *   - with postgres.quote.identifiers off, a name made with ${topic} must
 *     be a plain identifier, or every record of its topic is refused at
 *     run time (a fixed name is ks_mapping_check()'s).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/mapping.h"
#include "postgres.h"

#define OPT "postgres.table.name.format"
/* NAMEDATALEN - 1 */
#define PG_IDENT_MAX 63

static int
bool_opt(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *name, int def)
{
	const char *v = host->conf_str(ctx, name);

	return v == NULL ? def : host->conf_bool(ctx, name);
}

/* Checks the table name of topic (NULL: f is fixed); 1 when reported. */
static int
one_name(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *f, const char *topic, int quote)
{
	struct ks_buf b = { 0 };
	const char *t, *dot, *part[2];
	char what[160];
	size_t len[2];
	int i, bad = 0;

	for (; topic != NULL && (t = strstr(f, "${topic}")) != NULL;
	    f = t + 8) {
		ks_buf_add(&b, f, (size_t)(t - f));
		ks_buf_adds(&b, topic);
	}
	ks_buf_adds(&b, f);
	ks_buf_addc(&b, '\0');
	if (b.oom) {
		ks_buf_free(&b);
		return 0;
	}
	snprintf(what, sizeof(what), "%s%s%s", topic ? " (for topic " : "",
	    topic ? topic : "", topic ? ")" : "");
	if ((dot = strchr(b.p, '.')) == NULL) {
		part[0] = NULL;
		part[1] = b.p;
		len[1] = strlen(b.p);
	} else {
		part[0] = b.p;
		len[0] = (size_t)(dot - b.p);
		part[1] = dot + 1;
		len[1] = strlen(dot + 1);
	}
	for (i = 0; i < 2 && !bad; i++) {
		if (part[i] == NULL)
			continue;
		if (len[i] == 0) {
			host->report(ctx, OPT, "table \"%s\"%s has an empty "
			    "%s name %s the dot: write SCHEMA.TABLE, or a "
			    "table name without a dot", b.p, what,
			    i == 0 ? "schema" : "table",
			    i == 0 ? "before" : "after");
			bad = 1;
		} else if (len[i] > PG_IDENT_MAX) {
			host->report(ctx, OPT, "table \"%s\"%s: its %s name "
			    "is %zu bytes long, and PostgreSQL cuts names "
			    "to %d bytes: shorten it", b.p, what,
			    i == 0 ? "schema" : "table", len[i],
			    PG_IDENT_MAX);
			bad = 1;
		}
	}
	if (!bad && !quote && topic != NULL && (!ks_mapping_plain(part[1]) ||
	    part[0] != NULL)) {
		host->report(ctx, OPT, "table \"%s\"%s is not a plain "
		    "identifier and postgres.quote.identifiers is off, so "
		    "every record of the topic would be refused: turn it on, "
		    "or change the format", b.p, what);
		bad = 1;
	}
	ks_buf_free(&b);
	return bad;
}

int
map_check_names(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	const char *f = host->conf_str(ctx, OPT), *topics, *p, *e;
	char topic[256];
	int quote, bad = 0;
	size_t n;

	if (f == NULL || *f == '\0')
		return 0;
	quote = bool_opt(host, ctx, "postgres.quote.identifiers", 1);
	if (strstr(f, "${topic}") == NULL)
		return one_name(host, ctx, f, NULL, quote);
	topics = host->conf_str(ctx, "topics");
	if (topics == NULL || *topics == '^')
		return one_name(host, ctx, f, "x", 1);
	for (p = topics; *p; p = *e ? e + 1 : e) {
		p += strspn(p, " ");
		e = p + strcspn(p, ",");
		for (n = (size_t)(e - p); n > 0 && p[n - 1] == ' '; n--)
			;
		if (n > 0 && n < sizeof(topic)) {
			memcpy(topic, p, n);
			topic[n] = '\0';
			bad |= one_name(host, ctx, f, topic, quote);
		}
	}
	return bad;
}
