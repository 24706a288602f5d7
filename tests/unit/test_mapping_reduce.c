/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_mapping_reduce.c - connectors/lib/mapreduce.c: the reduction
 * of a batch, and its result checked against applying every record in
 * order on a real SQLite database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "mapping-fx.h"

/* ---- reduction ---- */

/* Rows of a batch from "key|value" texts (value "-" for a tombstone). */
static struct ks_mapping_row *
batch(const struct ks_mapping *m, const char *const *spec, size_t n)
{
	struct ks_mapping_row *rows = calloc(n, sizeof(*rows));
	struct ksink_record r;
	char key[256];
	const char *bar;
	size_t i;

	for (i = 0; i < n; i++) {
		bar = strchr(spec[i], '|');
		snprintf(key, sizeof(key), "%.*s", (int)(bar - spec[i]),
		    spec[i]);
		r = record(key, strcmp(bar + 1, "-") == 0 ? NULL : bar + 1,
		    (int64_t)i);
		if (ks_mapping_row(m, &r, i, &rows[i], errbuf, sizeof(errbuf)) !=
		    KSINK_OK)
			fail_msg("%s: %s", spec[i], errbuf);
	}
	return rows;
}

static void
rows_free(struct ks_mapping_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ks_mapping_row_free(&rows[i]);
	free(rows);
}

static const char *
reduced(const struct ks_mapping_reduced *red)
{
	static char s[4096];
	size_t i, n = 0;

	s[0] = '\0';
	for (i = 0; i < red->n; i++)
		n += snprintf(s + n, sizeof(s) - n, "%s%s %s", i ? " ; " : "",
		    red->v[i]->op == KS_MAP_OP_DELETE ? "D" : "W",
		    show(red->v[i]));
	return s;
}

static const char *const upsert_key[] = { "sqlite.pk.mode=record_key",
    "sqlite.insert.mode=upsert", "sqlite.delete.enabled=true", NULL };

static void
test_reduce_cases(void **state)
{
	static const char *const spec[] = {
		"{\"k\":1}|{\"a\":1,\"b\":1}",
		"{\"k\":2}|{\"a\":20}",
		"{\"k\":1}|{\"a\":2}",		/* merged: a=2, b=1 */
		"{\"k\":2}|-",			/* delete after insert */
		"{\"k\":3}|-",
		"{\"k\":3}|{\"c\":3}",		/* insert after delete */
	};
	struct ks_mapping m;
	struct ks_mapping_row *rows;
	struct ks_mapping_reduced red;

	(void)state;
	conf(&m, upsert_key, KS_MAP_SQLITE);
	rows = batch(&m, spec, 6);
	assert_int_equal(ks_mapping_reduce(&m, rows, 6, &red), KSINK_OK);
	assert_string_equal(reduced(&red),
	    "W k*:integer=1|a:integer=2|b:integer=1 ; "
	    "D k*:integer=2 ; "
	    "D k*:integer=3 ; W k*:integer=3|c:integer=3");
	ks_mapping_reduce_free(&red);
	rows_free(rows, 6);
	ks_mapping_free(&m);

	/* insert mode: every row, in order */
	conf(&m, (const char *const[]){ "sqlite.pk.mode=record_key",
	    "sqlite.delete.enabled=true", NULL }, KS_MAP_SQLITE);
	rows = batch(&m, spec, 6);
	assert_int_equal(ks_mapping_reduce(&m, rows, 6, &red), KSINK_OK);
	assert_int_equal(red.n, 6);
	assert_ptr_equal(red.v[5], &rows[5]);
	ks_mapping_reduce_free(&red);
	rows_free(rows, 6);
	ks_mapping_free(&m);

	/* the same text as two types: not reduced */
	static const char *const mixed[] = {
		"{\"k\":1}|{\"a\":1}", "{\"k\":\"1\"}|{\"a\":2}",
		"{\"k\":1}|{\"a\":3}",
	};
	conf(&m, upsert_key, KS_MAP_SQLITE);
	rows = batch(&m, mixed, 3);
	assert_int_equal(ks_mapping_reduce(&m, rows, 3, &red), KSINK_OK);
	assert_int_equal(red.n, 3);
	ks_mapping_reduce_free(&red);
	rows_free(rows, 3);
	ks_mapping_free(&m);
}

/* Applies rows on db: what the SQLite sink does, without its checks. */
static void
apply(sqlite3 *db, const struct ks_mapping *m, struct ks_mapping_row **v,
    size_t n)
{
	struct ks_buf b = { 0 };
	sqlite3_stmt *st;
	size_t i, k;

	for (i = 0; i < n; i++) {
		ks_buf_reset(&b);
		ks_mapping_sql_dml(&b, m, v[i], v[i]->op);
		if (sqlite3_prepare_v2(db, b.p, -1, &st, NULL) != SQLITE_OK)
			fail_msg("%s: %s", b.p, sqlite3_errmsg(db));
		for (k = 0; k < (size_t)sqlite3_bind_parameter_count(st); k++)
			if (v[i]->cols[k].type == KS_MAP_T_NULL)
				sqlite3_bind_null(st, (int)k + 1);
			else
				sqlite3_bind_int64(st, (int)k + 1,
				    v[i]->cols[k].i);
		if (sqlite3_step(st) != SQLITE_DONE)
			fail_msg("%s: %s", b.p, sqlite3_errmsg(db));
		sqlite3_finalize(st);
	}
	ks_buf_free(&b);
}

static void
dump(sqlite3 *db, char *out, size_t len)
{
	sqlite3_stmt *st;
	size_t n = 0;

	assert_int_equal(sqlite3_prepare_v2(db, "SELECT k, a, b, c FROM "
	    "orders ORDER BY k", -1, &st, NULL), SQLITE_OK);
	out[0] = '\0';
	while (sqlite3_step(st) == SQLITE_ROW)
		n += snprintf(out + n, len - n, "%s,%s,%s,%s;",
		    sqlite3_column_text(st, 0), sqlite3_column_text(st, 1) ?
		    (const char *)sqlite3_column_text(st, 1) : "-",
		    sqlite3_column_text(st, 2) ?
		    (const char *)sqlite3_column_text(st, 2) : "-",
		    sqlite3_column_text(st, 3) ?
		    (const char *)sqlite3_column_text(st, 3) : "-");
	sqlite3_finalize(st);
}

/*
 * Random batches over a few keys of writes naming random columns and
 * deletes: the reduced batch leaves the same table as every row applied
 * in order, in upsert and in update modes, from the same start.
 */
static void
test_reduce_same_result(void **state)
{
	static const char *const modes[] = { "sqlite.insert.mode=upsert",
	    "sqlite.insert.mode=update" };
	const char *o[] = { "sqlite.pk.mode=record_key",
	    "sqlite.delete.enabled=true", NULL, NULL };
	char spec[64][64], a[8192], b[8192];
	const char *sp[64];
	struct ks_mapping m;
	struct ks_mapping_row *rows, *inorder[64];
	struct ks_mapping_reduced red;
	sqlite3 *db1, *db2;
	unsigned seed = 12345;
	int round, mode, i, n, c, len;

	(void)state;
	for (mode = 0; mode < 2; mode++) {
		o[2] = modes[mode];
		conf(&m, o, KS_MAP_SQLITE);
		for (round = 0; round < 300; round++) {
			n = 1 + (int)(rand_r(&seed) % 40);
			for (i = 0; i < n; i++) {
				len = snprintf(spec[i], sizeof(spec[i]),
				    "{\"k\":%d}|", (int)(rand_r(&seed) % 4));
				if (rand_r(&seed) % 4 == 0) {
					snprintf(spec[i] + len, sizeof(spec[i]) -
					    len, "-");
				} else {
					len += snprintf(spec[i] + len,
					    sizeof(spec[i]) - len, "{");
					for (c = 0; c < 3; c++)
						if (rand_r(&seed) % 2)
							len += snprintf(spec[i] +
							    len, sizeof(spec[i]) -
							    len, "%s\"%c\":%d",
							    spec[i][len - 1] ==
							    '{' ? "" : ",",
							    'a' + c, (int)(
							    rand_r(&seed) % 100));
					snprintf(spec[i] + len, sizeof(spec[i]) -
					    len, "}");
				}
				sp[i] = spec[i];
			}
			rows = batch(&m, sp, (size_t)n);
			assert_int_equal(sqlite3_open(":memory:", &db1),
			    SQLITE_OK);
			assert_int_equal(sqlite3_open(":memory:", &db2),
			    SQLITE_OK);
			/* Rows 0 and 2 exist before the batch. */
			static const char init[] = "CREATE TABLE orders(k "
			    "INTEGER PRIMARY KEY, a, b, c); INSERT INTO orders "
			    "VALUES (0, 1, 1, 1), (2, 5, NULL, 5)";
			assert_int_equal(sqlite3_exec(db1, init, 0, 0, 0),
			    SQLITE_OK);
			assert_int_equal(sqlite3_exec(db2, init, 0, 0, 0),
			    SQLITE_OK);
			for (i = 0; i < n; i++)
				inorder[i] = &rows[i];
			apply(db1, &m, inorder, (size_t)n);
			assert_int_equal(ks_mapping_reduce(&m, rows, (size_t)n,
			    &red), KSINK_OK);
			apply(db2, &m, red.v, red.n);
			dump(db1, a, sizeof(a));
			dump(db2, b, sizeof(b));
			if (strcmp(a, b) != 0)
				fail_msg("mode %s round %d: in order %s, "
				    "reduced %s", modes[mode], round, a, b);
			assert_true(red.n <= (size_t)n);
			ks_mapping_reduce_free(&red);
			sqlite3_close(db1);
			sqlite3_close(db2);
			rows_free(rows, (size_t)n);
		}
		ks_mapping_free(&m);
	}
}


int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reduce_cases),
		cmocka_unit_test(test_reduce_same_result),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
