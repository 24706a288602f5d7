/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/sqlite-fx.h - the fixture of the SQLite sink's unit tests
 * (test_sqlite.c, test_sqlite_sql.c, test_sqlite_map.c): a scratch
 * database, connectors made through the daemon's host services, records,
 * and queries on a separate connection.  Included once by each test
 * program.
 */
#ifndef KS_TEST_SQLITE_FX_H
#define KS_TEST_SQLITE_FX_H

#define MAXCONF 16

/* The settings of one connector, each "KEY=VALUE" once made. */
struct conf {
	const char *name;
	const char *keys[MAXCONF];
	const char *values[MAXCONF];
	int n;
};

struct fx {
	char dir[64];
	char db[128];
	const struct ksink_sink *desc;
	struct conf ctx;
};

/* The host's contexts made by a test, freed after it. */
static struct ksink_ctx *ctxs[32];
static size_t nctx;
/* What check() reported, and the lines logged, since the last check. */
static char logbuf[8192];

static void
ctx_set(struct conf *c, const char *key, const char *value)
{
	assert_true(c->n < MAXCONF);
	c->keys[c->n] = key;
	c->values[c->n] = value;
	c->n++;
}

/* The daemon's context for the settings of c; they must be valid. */
static struct ksink_ctx *
make_ctx(struct fx *fx, const struct conf *c)
{
	const char *kv[MAXCONF + 1];
	struct ksink_ctx *ctx;
	char err[1024];
	int i;

	assert_true(nctx < sizeof(ctxs) / sizeof(ctxs[0]));
	for (i = 0; i < c->n; i++)
		if (asprintf((char **)&kv[i], "%s=%s", c->keys[i],
		    c->values[i]) == -1)
			fail_msg("asprintf");
	kv[i] = NULL;
	ctx = ks_sink_ctx_test(fx->desc, c->name, kv, err, sizeof(err));
	for (i = 0; i < c->n; i++)
		free((char *)kv[i]);
	if (ctx == NULL)
		fail_msg("the host refuses the settings: %s", err);
	return ctxs[nctx++] = ctx;
}

/* Runs check() on c's settings: its status, and in *nreports the number
 * of reports (logged, in logbuf). */
static int __attribute__((unused))
check(struct fx *fx, const struct conf *c, int *nreports)
{
	struct ksink_ctx *ctx = make_ctx(fx, c);
	const char *p;
	int st;

	ks_log_capture(logbuf, sizeof(logbuf));
	st = fx->desc->check(&ks_sink_host, ctx);
	ks_log_capture(NULL, 0);
	*nreports = 0;
	for (p = logbuf; (p = strstr(p, "ksink: error: ")) != NULL; p++)
		(*nreports)++;
	return st;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	struct fx *fx;

	if ((fx = calloc(1, sizeof(*fx))) == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/ksink-sqlite-XXXXXX",
	    getenv("TMPDIR") && strlen(getenv("TMPDIR")) < 30 ?
	    getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->db, sizeof(fx->db), "%s/sink.db", fx->dir);
	fx->desc = ksink_sink_entry(&ks_sink_host);
	fx->ctx.name = "conn";
	ctx_set(&fx->ctx, "sqlite.path", fx->db);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	while (nctx > 0)
		ks_sink_ctx_free(ctxs[--nctx]);
	chmod(fx->dir, 0700);
	nftw(fx->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void *
open_ok(struct fx *fx, const struct conf *c)
{
	char err[512] = "";
	void *sink = NULL;
	int rc;

	rc = fx->desc->open(&ks_sink_host, make_ctx(fx, c), &sink, err,
	    sizeof(err));
	if (rc != KSINK_OK)
		fail_msg("open: %s: %s", ksink_status_name(rc), err);
	assert_non_null(sink);
	return sink;
}

static int
open_err(struct fx *fx, const struct conf *c, char *err, size_t errlen)
{
	void *sink = NULL;
	int rc;

	err[0] = '\0';
	rc = fx->desc->open(&ks_sink_host, make_ctx(fx, c), &sink, err,
	    errlen);
	if (rc == KSINK_OK) {
		fx->desc->close(sink);
		fail_msg("open succeeded");
	}
	assert_null(sink);
	assert_true(err[0] != '\0');
	return rc;
}

/* begin + write + commit of records that all succeed; the offsets stored
 * are last offset + 1 of every partition of the batch. */
static void
apply(struct fx *fx, void *sink, const struct ksink_record *r, size_t n)
{
	struct ksink_offset off[8];
	char err[512] = "";
	size_t i, j, noff = 0, done = 99;
	int rc;

	for (i = 0; i < n; i++) {
		for (j = 0; j < noff; j++)
			if (off[j].partition == r[i].partition &&
			    strcmp(off[j].topic, r[i].topic) == 0)
				break;
		if (j == noff) {
			assert_true(noff < 8);
			off[noff].topic = r[i].topic;
			off[noff].partition = r[i].partition;
			noff++;
		}
		off[j].next_offset = r[i].offset + 1;
	}
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	rc = fx->desc->write(sink, r, n, &done, err, sizeof(err));
	if (rc != KSINK_OK)
		fail_msg("write: %s: %s", ksink_status_name(rc), err);
	assert_int_equal(done, n);
	rc = fx->desc->commit(sink, off, noff, err, sizeof(err));
	if (rc != KSINK_OK)
		fail_msg("commit: %s: %s", ksink_status_name(rc), err);
}

static sqlite3 *
db_open(struct fx *fx)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

/* The first column of the first row of sql as an integer, -999 when
 * there is no row. */
static int64_t
q_int(struct fx *fx, const char *sql)
{
	sqlite3 *db = db_open(fx);
	sqlite3_stmt *st;
	int64_t v = -999;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* The first column of the first row as text ("<none>" when no row,
 * "<null>" for NULL). */
static char *
q_text(struct fx *fx, const char *sql, char *buf, size_t len)
{
	sqlite3 *db = db_open(fx);
	sqlite3_stmt *st;
	const char *t;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	snprintf(buf, len, "<none>");
	if (sqlite3_step(st) == SQLITE_ROW) {
		t = (const char *)sqlite3_column_text(st, 0);
		snprintf(buf, len, "%s", t ? t : "<null>");
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return buf;
}

static void __attribute__((unused))
q_exec(struct fx *fx, const char *sql)
{
	sqlite3 *db = db_open(fx);
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
	sqlite3_close(db);
}

/* A record of topic t. */
static struct ksink_record __attribute__((unused))
rec(int32_t partition, int64_t offset, const char *value)
{
	struct ksink_record r = {
		.topic = "t",
		.partition = partition,
		.offset = offset,
		.timestamp = -1,
		.value = value,
		.value_len = value ? strlen(value) : 0,
	};
	return r;
}

#endif
