/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/fuzz/fuzz_sqlite_bind.c - the SQLite sink's parameter binding and
 * its :headers JSON, through the plugin's interface with the daemon's
 * host services (src/sink.c); the plugin's sources are linked in, and
 * its state read through its private header.  The first byte chooses
 * what is fuzzed:
 *
 *   0  records (any topic, key, value, headers) applied in one batch by a
 *      statement that stores every parameter, then read back.
 *      Invariants: each field reads back as the record's bytes, a key or
 *      value as TEXT exactly when it is UTF-8 without NUL bytes, else as
 *      a BLOB ("sqlite-bind"); :headers is NULL without headers, else a
 *      JSON array (by SQLite's json_valid() and by an independent checker)
 *      that is the record envelope's headers array, whose names
 *      json_extract() gives back as the record's ("sqlite-headers"); the
 *      batch commits ("sqlite-commit").
 *   1  the text of sqlite.statement: open() prepares it or refuses it
 *      with a message; an accepted statement binds only the known named
 *      parameters ("sqlite-statement").
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "../../connectors/lib/envelope.h"
#include "../../connectors/sqlite/sqlite.h"

#include "log.h"
#include "sink.h"
#include "testing.h"

#include "fuzz.h"

#define STMT \
	"INSERT INTO t VALUES (:offset, :topic, :partition, :timestamp, " \
	":key, :value, :headers, json_valid(:headers), " \
	"json_array_length(:headers))"
#define TABLE \
	"CREATE TABLE t(off INTEGER PRIMARY KEY, topic, part, ts, k, v, h, " \
	"hvalid, hcount)"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ksink_sink *sd;
static struct ksink_ctx *ctx;	/* the host's, made by configure() */
static void *sink;
static sqlite3_stmt *rd, *jq;
static int64_t next_offset = 1;

/* The host's context for connector fuzz: an in-memory database, init
 * and statement; NULL with err filled where the daemon refuses them. */
static struct ksink_ctx *
configure(const char *init, const char *statement, char *err, size_t errlen)
{
	const char *settings[] = { "sqlite.path=:memory:", init, statement,
	    NULL };

	return ks_sink_ctx_test(sd, "fuzz", settings, err, errlen);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[1024];

	(void)argc;
	(void)argv;
	/* The sink's messages only when asked for. */
	if (getenv("KSINK_FUZZ_VERBOSE") == NULL)
		ks_log_set_level(KSINK_LOG_ERROR - 1);
	sd = ksink_sink_entry(&ks_sink_host);
	if ((ctx = configure("sqlite.init=" TABLE, "sqlite.statement=" STMT,
	    err, sizeof(err))) == NULL ||
	    sd->open(&ks_sink_host, ctx, &sink, err, sizeof(err)) !=
	    KSINK_OK) {
		fprintf(stderr, "open: %s\n", err);
		abort();
	}
	if (sqlite3_prepare_v2(((struct sink *)sink)->db, "SELECT off, topic, "
	    "part, ts, k, v, h, hvalid, hcount FROM t ORDER BY off", -1, &rd,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(((struct sink *)sink)->db, "SELECT "
	    "json_type(?1, ?2), json_extract(?1, ?2)", -1, &jq, NULL) !=
	    SQLITE_OK)
		abort();
	return 0;
}

/* The column i of rd against bytes p[0..n) (NULL: SQL NULL). */
static void
check_col(int i, const char *what, const void *p, size_t n, int textual)
{
	int type = sqlite3_column_type(rd, i);
	const void *v;
	size_t len;

	if (p == NULL) {
		FZ_CHECK("sqlite-bind", type == SQLITE_NULL,
		    "%s: NULL stored as type %d", what, type);
		return;
	}
	if (textual) {
		FZ_CHECK("sqlite-bind", type == SQLITE_TEXT,
		    "%s: UTF-8 without NUL stored as type %d", what, type);
		v = sqlite3_column_text(rd, i);
	} else {
		FZ_CHECK("sqlite-bind", type == SQLITE_BLOB,
		    "%s: bytes stored as type %d", what, type);
		v = sqlite3_column_blob(rd, i);
	}
	len = (size_t)sqlite3_column_bytes(rd, i);
	FZ_CHECK("sqlite-bind", len == n && (n == 0 || memcmp(v, p, n) == 0),
	    "%s: %zu bytes stored, %zu bound", what, len, n);
}

static int
text_ok(const void *p, size_t n)
{
	return fz_utf8_valid(p, n) && memchr(p, 0, n) == NULL;
}

/* A JSON path's type and value in the headers h. */
static void
json_at(const char *h, const char *path, const char **type,
    const unsigned char **val, size_t *len)
{
	sqlite3_reset(jq);
	sqlite3_bind_text(jq, 1, h, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(jq, 2, path, -1, SQLITE_TRANSIENT);
	FZ_CHECK("sqlite-headers", sqlite3_step(jq) == SQLITE_ROW,
	    "json_type: %s", sqlite3_errmsg(((struct sink *)sink)->db));
	*type = (const char *)sqlite3_column_text(jq, 0);
	*val = sqlite3_column_text(jq, 1);
	*len = (size_t)sqlite3_column_bytes(jq, 1);
}

static void
check_headers(const struct ksink_record *r)
{
	const unsigned char *h = sqlite3_column_text(rd, 6), *v;
	size_t hlen = (size_t)sqlite3_column_bytes(rd, 6), i, len, fl;
	struct ks_buf want = { 0 };
	unsigned char *fix;
	const char *type;
	char *hcopy, path[64];

	if (r->header_count == 0) {
		FZ_CHECK("sqlite-headers", sqlite3_column_type(rd, 6) ==
		    SQLITE_NULL, "headers stored without headers");
		return;
	}
	FZ_CHECK("sqlite-headers", h != NULL && fz_json_valid(h, hlen) &&
	    sqlite3_column_int(rd, 7) == 1, "headers not JSON: %.*s",
	    (int)hlen, h);
	FZ_CHECK("sqlite-headers", sqlite3_column_int64(rd, 8) ==
	    (int64_t)r->header_count, "%lld headers stored, %zu given",
	    (long long)sqlite3_column_int64(rd, 8), r->header_count);
	/* The envelope's headers array (checked by fuzz_envelope), bound
	 * as it is. */
	ks_envelope_add_headers(&want, r);
	FZ_CHECK("sqlite-headers", !want.oom && want.len == hlen &&
	    memcmp(want.p, h, hlen) == 0, "headers bound as %.*s, not as "
	    "the envelope's %.*s", (int)hlen, h, (int)want.len, want.p);
	ks_buf_free(&want);
	hcopy = strndup((const char *)h, hlen);
	for (i = 0; i < r->header_count; i++) {
		const struct ksink_header *hd = &r->headers[i];

		snprintf(path, sizeof(path), "$[%zu].key", i);
		json_at(hcopy, path, &type, &v, &len);
		fix = fz_utf8_fix(hd->name, strlen(hd->name), &fl);
		FZ_CHECK("sqlite-headers", type != NULL &&
		    strcmp(type, "text") == 0 && len == fl &&
		    memcmp(v, fix, fl) == 0, "header %zu: name differs", i);
		free(fix);
		snprintf(path, sizeof(path), "$[%zu].value", i);
		json_at(hcopy, path, &type, &v, &len);
		FZ_CHECK("sqlite-headers", type != NULL &&
		    (hd->value != NULL || strcmp(type, "null") == 0),
		    "header %zu: null value stored as %s", i, type);
	}
	free(hcopy);
}

static void
records(struct fz *f)
{
	struct ksink_record recs[4];
	struct ksink_offset offs[4];
	struct fz_rec x[4];
	char err[1024];
	size_t n, i, done;
	int st;

	n = 1 + fz_u8(f) % 4;
	for (i = 0; i < n; i++) {
		fz_rec_read(f, &x[i], next_offset++);
		recs[i] = x[i].r;
		offs[i].topic = x[i].r.topic;
		offs[i].partition = x[i].r.partition;
		offs[i].next_offset = x[i].r.offset + 1;
	}
	FZ_CHECK("sqlite-commit", sd->begin(sink, err, sizeof(err)) ==
	    KSINK_OK, "begin: %s", err);
	st = sd->write(sink, recs, n, &done, err, sizeof(err));
	FZ_CHECK("sqlite-commit", st == KSINK_OK && done == n,
	    "write: %s (%zu of %zu)", err, done, n);
	FZ_CHECK("sqlite-commit", sd->commit(sink, offs, n, err,
	    sizeof(err)) == KSINK_OK, "commit: %s", err);

	sqlite3_reset(rd);
	for (i = 0; i < n; i++) {
		const struct ksink_record *r = &x[i].r;

		FZ_CHECK("sqlite-bind", sqlite3_step(rd) == SQLITE_ROW,
		    "record %zu not stored", i);
		FZ_CHECK("sqlite-bind", sqlite3_column_int64(rd, 0) ==
		    r->offset && sqlite3_column_int64(rd, 2) == r->partition,
		    "offset or partition differs");
		check_col(1, "topic", r->topic, strlen(r->topic), 1);
		if (r->timestamp == -1)
			FZ_CHECK("sqlite-bind", sqlite3_column_type(rd, 3) ==
			    SQLITE_NULL, "no timestamp stored as a value");
		else
			FZ_CHECK("sqlite-bind", sqlite3_column_int64(rd, 3) ==
			    r->timestamp, "timestamp differs");
		check_col(4, "key", r->key, r->key_len,
		    r->key && text_ok(r->key, r->key_len));
		check_col(5, "value", r->value, r->value_len,
		    r->value && text_ok(r->value, r->value_len));
		check_headers(r);
	}
	FZ_CHECK("sqlite-bind", sqlite3_step(rd) == SQLITE_DONE,
	    "more rows than records");
	sqlite3_reset(rd);
	sqlite3_exec(((struct sink *)sink)->db, "DELETE FROM t; "
	    "DELETE FROM ksink_offsets", NULL, NULL, NULL);
	for (i = 0; i < n; i++)
		fz_rec_free(&x[i]);
}

static void
statement(struct fz *f)
{
	char err[1024], *text, *assign;
	struct ksink_ctx *c2;
	const char *name;
	struct sink *sq;
	void *s2 = NULL;
	int st, i, j, k, ok;

	text = fz_cstr(f, 8192);
	if (asprintf(&assign, "sqlite.statement=%s", text) == -1)
		abort();
	err[0] = '\0';
	c2 = configure("sqlite.init=CREATE TABLE IF NOT EXISTS kv(k, v)",
	    assign, err, sizeof(err));
	if (c2 == NULL) {
		/* Refused as the daemon refuses it, before the sink. */
		FZ_CHECK("sqlite-statement", *err != '\0',
		    "the host refused it without a message");
		free(assign);
		free(text);
		return;
	}
	st = sd->open(&ks_sink_host, c2, &s2, err, sizeof(err));
	if (st == KSINK_OK) {
		sq = s2;
		for (i = 0; i < sq->main.n; i++) {
			sqlite3_stmt *p = sq->main.v[i].st;

			for (j = 1; j <= sqlite3_bind_parameter_count(p); j++) {
				name = sqlite3_bind_parameter_name(p, j);
				for (ok = 0, k = 0; k < F_COUNT && name; k++)
					ok |= strcmp(name + 1,
					    sql_field_names[k]) == 0;
				FZ_CHECK("sqlite-statement", ok,
				    "parameter %s accepted in %s", name ?
				    name : "?", text);
			}
		}
		sd->close(s2);
	} else
		FZ_CHECK("sqlite-statement", *err != '\0' && s2 == NULL,
		    "refused (%d) without a message", st);
	ks_sink_ctx_free(c2);
	free(assign);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };

	if (fz_u8(&f) % 2 == 0)
		records(&f);
	else
		statement(&f);
	return 0;
}
