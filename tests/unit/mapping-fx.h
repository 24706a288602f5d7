/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/mapping-fx.h - the fixture of the table mapping's unit tests
 * (test_mapping.c, test_mapping_sql.c, test_mapping_reduce.c,
 * test_mapping_typed.c): a host whose options are a list, the mapping's
 * configuration from it, records, and a row shown as text.  Included
 * once by each test program, after cmocka.h.
 */
#ifndef KS_TEST_MAPPING_FX_H
#define KS_TEST_MAPPING_FX_H

#include "ksink/sink.h"

#include "lib/buf.h"
#include "lib/mapping.h"

/* ---- a host whose options are a list of "name=value" ---- */

static const char *const *opts;
static int nreports;
static char reports[4096];

static __attribute__((unused)) const char *
h_str(struct ksink_ctx *ctx, const char *name)
{
	size_t n = strlen(name);
	int i;

	(void)ctx;
	for (i = 0; opts && opts[i]; i++)
		if (strncmp(opts[i], name, n) == 0 && opts[i][n] == '=')
			return opts[i] + n + 1;
	return NULL;
}

static __attribute__((unused)) int
h_bool(struct ksink_ctx *ctx, const char *name)
{
	const char *s = h_str(ctx, name);

	return s != NULL && (strcmp(s, "true") == 0 || strcmp(s, "on") == 0);
}

static __attribute__((unused)) void
h_report(struct ksink_ctx *ctx, const char *option, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(reports);

	(void)ctx;
	nreports++;
	snprintf(reports + n, sizeof(reports) - n, "%s: ", option);
	n = strlen(reports);
	va_start(ap, fmt);
	vsnprintf(reports + n, sizeof(reports) - n, fmt, ap);
	va_end(ap);
	n = strlen(reports);
	snprintf(reports + n, sizeof(reports) - n, "\n");
}

static const struct ksink_host host = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR,
	.struct_size = sizeof(struct ksink_host),
	.conf_str = h_str,
	.conf_bool = h_bool,
	.report = h_report,
};

static char errbuf[1024];

static __attribute__((unused)) int
check(const char *const *o)
{
	opts = o;
	nreports = 0;
	reports[0] = '\0';
	return ks_mapping_check(&host, NULL, "sqlite");
}

static __attribute__((unused)) void
conf(struct ks_mapping *m, const char *const *o, int dialect)
{
	opts = o;
	if (ks_mapping_conf(m, &host, NULL, "sqlite", dialect, errbuf,
	    sizeof(errbuf)) != KSINK_OK)
		fail_msg("%s", errbuf);
}

/* Whether the reports hold s. */
static __attribute__((unused)) void
reported(const char *s)
{
	if (strstr(reports, s) == NULL)
		fail_msg("no report holds \"%s\"; reports:\n%s", s, reports);
}

/* ---- rows ---- */

static __attribute__((unused)) struct ksink_record
record(const char *key, const char *value, int64_t offset)
{
	struct ksink_record r = {
		.topic = "orders", .partition = 2, .offset = offset,
		.timestamp = -1, .key = key, .key_len = key ? strlen(key) : 0,
		.value = value, .value_len = value ? strlen(value) : 0,
	};
	return r;
}

/* The row as "name:type=text|..." with '*' after a key column (bytes
 * as they are). */
static __attribute__((unused)) const char *
show(const struct ks_mapping_row *row)
{
	static char s[2048];
	size_t i, n = 0;

	s[0] = '\0';
	for (i = 0; i < row->ncols; i++)
		n += snprintf(s + n, sizeof(s) - n, "%s%s%s:%s=%.*s", i ? "|" :
		    "", row->cols[i].name, row->cols[i].pk ? "*" : "",
		    ks_mapping_type_name(row->cols[i].type),
		    row->cols[i].type == KS_MAP_T_BOOLEAN ? 1 :
		    (int)row->cols[i].len,
		    row->cols[i].type == KS_MAP_T_BOOLEAN ?
		    (row->cols[i].i ? "1" : "0") : row->cols[i].text);
	return s;
}

static __attribute__((unused)) int
row_of(const struct ks_mapping *m, const char *key, const char *value,
    struct ks_mapping_row *row)
{
	struct ksink_record r = record(key, value, 7);

	errbuf[0] = '\0';
	return ks_mapping_row(m, &r, 0, row, errbuf, sizeof(errbuf));
}

/* ---- ks_mapping_fit() against a fake catalogue ---- */

/* The table as the database has it, and what another session makes
 * while this one waits for the DDL lock. */
static int fake_exists, fake_other_creates, fake_other_adds;
static char fake_cols[8][2][32];	/* name, type */
static int fake_ncols;
static char ddl_run[1024], logged[512];

static __attribute__((unused)) void
fake_col(const char *name, const char *type)
{
	snprintf(fake_cols[fake_ncols][0], 32, "%s", name);
	snprintf(fake_cols[fake_ncols][1], 32, "%s", type);
	fake_ncols++;
}

static __attribute__((unused)) int
f_read(void *arg, struct ks_mapping_table *t, char *eb, size_t el)
{
	int i;

	(void)arg; (void)eb; (void)el;
	t->exists = fake_exists;
	for (i = 0; fake_exists && i < fake_ncols; i++)
		if (ks_mapping_tcol_add(t, KS_MAP_POSTGRES, fake_cols[i][0],
		    fake_cols[i][1]) == -1)
			return KSINK_FATAL;
	return KSINK_OK;
}

static __attribute__((unused)) int
f_lock(void *arg, struct ks_mapping_table *t, char *eb, size_t el)
{
	(void)arg; (void)t; (void)eb; (void)el;
	if (fake_other_creates) {
		fake_exists = 1;
		fake_col("id", "text");
		fake_col("n", "bigint");
	}
	if (fake_other_adds)
		fake_col("late", "text");
	return KSINK_OK;
}

static __attribute__((unused)) int
f_ddl(void *arg, const char *sql, char *eb, size_t el)
{
	size_t n = strlen(ddl_run);

	(void)arg; (void)eb; (void)el;
	snprintf(ddl_run + n, sizeof(ddl_run) - n, "%s;", sql);
	return KSINK_OK;
}

static __attribute__((unused)) void
f_log(void *arg, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(logged);

	(void)arg;
	va_start(ap, fmt);
	vsnprintf(logged + n, sizeof(logged) - n, fmt, ap);
	va_end(ap);
}

/* The fake catalogue as a ks_mapping_db for m. */
static __attribute__((unused)) struct ks_mapping_db
fake_db(struct ks_mapping *m, struct ks_mapping_tables *tables,
    struct ks_buf *sql)
{
	struct ks_mapping_db db = {
		.m = m, .prefix = "postgres", .where = "the database",
		.tables = tables, .sql = sql, .read = f_read,
		.lock = f_lock, .ddl = f_ddl, .log = f_log,
	};

	return db;
}

/* The record of key and value (schema s, or NULL) fitted to its table
 * through db: the status, errbuf for the message. */
static __attribute__((unused)) int
fit_schema(struct ks_mapping_db *db, const char *key, const char *value,
    const struct ks_mapping_schema *s)
{
	struct ks_mapping_row row = { 0 };
	struct ksink_record r = record(key, value, 7);
	int st, skip;

	errbuf[0] = '\0';
	if ((st = ks_mapping_row_schema(db->m, &r, s, 0, &row, errbuf,
	    sizeof(errbuf))) == KSINK_OK)
		st = ks_mapping_fit(db, &row, &r, &skip, errbuf,
		    sizeof(errbuf));
	ks_mapping_row_free(&row);
	return st;
}

static __attribute__((unused)) int
fit(struct ks_mapping_db *db, const char *key, const char *value)
{
	return fit_schema(db, key, value, NULL);
}

#endif
