/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/mapopen.c - the table mapping's check at open: without
 * auto.create, the tables that records will go to must exist, and a
 * missing one stops the connector with the CREATE TABLE that auto.create
 * would run as a hint.  The sink's db reads its tables.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "mapping.h"

/* The CREATE TABLE that a missing table needs, as far as it is known
 * before any record: the key's columns (typed for pk.mode kafka). */
static void
create_hint(struct ks_buf *b, const struct ks_mapping *m,
    const struct ks_mapping_row *row)
{
	size_t i, n = row->npk > 0 ? row->npk : m->npk_fields;

	ks_buf_adds(b, "CREATE TABLE ");
	ks_mapping_table_ident(b, m, row->table);
	ks_buf_adds(b, " (");
	for (i = 0; i < n; i++) {
		ks_mapping_ident(b, m, row->npk > 0 ? row->cols[i].name :
		    m->pk_fields[i]);
		ks_buf_addf(b, " %s NOT NULL, ", row->npk > 0 ?
		    ks_mapping_sql_type(m->dialect, row->cols[i].type) :
		    "<type>");
	}
	ks_buf_adds(b, "<a column per field of the value>");
	for (i = 0; i < n; i++) {
		ks_buf_adds(b, i == 0 ? ", PRIMARY KEY (" : ", ");
		ks_mapping_ident(b, m, row->npk > 0 ? row->cols[i].name :
		    m->pk_fields[i]);
	}
	ks_buf_adds(b, n > 0 ? "))" : ")");
}

/* Checks the table of topic (or of the fixed table.name.format when
 * topic is "-"). */
static int
one_table(struct ks_mapping_db *db, const char *topic, char *errbuf,
    size_t errlen)
{
	const struct ks_mapping *m = db->m;
	struct ksink_record r;
	struct ks_mapping_row row;
	struct ks_mapping_table *t;
	struct ks_buf hint = { 0 };
	int status;

	memset(&r, 0, sizeof(r));
	memset(&row, 0, sizeof(row));
	r.topic = topic;
	r.value = "{}";
	r.value_len = 2;
	r.key = "{}";
	r.key_len = 2;
	/* The row of an empty record: its table, and the key's columns
	 * that the options name. */
	if (ks_mapping_row(m, &r, 0, &row, NULL, 0) != KSINK_OK)
		row.npk = 0;	/* no key known, nor names */
	if (row.table == NULL) {
		ks_mapping_row_free(&row);
		return KSINK_OK;
	}
	if ((status = ks_mapping_table_get(db, row.table, &t, errbuf,
	    errlen)) == KSINK_OK && !t->exists) {
		create_hint(&hint, m, &row);
		ks_err_set(errbuf, errlen, "%s.table.name.format: table "
		    "\"%s\"%s%s%s does not exist in %s, and %s.auto.create is "
		    "off: create it, as in %s (ksink-mapping(7) gives the "
		    "column types), or set %s.auto.create = true", db->prefix,
		    row.table, *topic == '-' ? "" : " (for topic ",
		    *topic == '-' ? "" : topic, *topic == '-' ? "" : ")",
		    db->where, db->prefix, hint.oom ? "CREATE TABLE" : hint.p,
		    db->prefix);
		status = KSINK_CONFIG;
	}
	ks_buf_free(&hint);
	ks_mapping_row_free(&row);
	return status;
}

int
ks_mapping_tables_exist(struct ks_mapping_db *db,
    const struct ksink_host *host, struct ksink_ctx *ctx, char *errbuf,
    size_t errlen)
{
	const struct ks_mapping *m = db->m;
	const char *topics, *p, *e;
	char topic[256];
	size_t i;
	int status = KSINK_OK;

	if (m->auto_create)
		return KSINK_OK;
	/* A fixed name, or the topics listed by name. */
	if (strstr(m->table_format, "${topic}") == NULL)
		topics = "-";
	else if ((topics = host->conf_str(ctx, "topics")) == NULL ||
	    *topics == '^')
		return KSINK_OK;
	for (p = topics; status == KSINK_OK && *p; p = *e ? e + 1 : e) {
		while (*p == ' ')
			p++;
		if ((e = strchr(p, ',')) == NULL)
			e = p + strlen(p);
		snprintf(topic, sizeof(topic), "%.*s", (int)(e - p), p);
		for (i = strlen(topic); i > 0 && topic[i - 1] == ' '; i--)
			topic[i - 1] = '\0';
		if (*topic != '\0')
			status = one_table(db, topic, errbuf, errlen);
	}
	return status;
}
