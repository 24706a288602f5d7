/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/postgres/typed.c - the PostgreSQL sink's table mapping with a
 * record's schema, on a real server, for tests/postgres/typed.test: the
 * sink (postgres.so, loaded as the daemon loads it) is driven through its
 * descriptor and the daemon's host services, with a decoded() that gives
 * every record the schema of a table below, as a converter would.
 *
 *	typed POSTGRES_SO CONNINFO PASSWORD_FILE
 *
 * Writes three batches to table "typed" (auto.create, auto.evolve,
 * upsert by a uuid key): two records of every type (a field null in the
 * first), then one whose schema has grown by a field, then one whose
 * value its schema refuses (poison expected).  The test reads the rows
 * back with psql.
 *
 * Then, without a schema, one batch to table "jk", which the test made
 * with a jsonb primary key: two records of the same string key, so that
 * the batch is reduced after their strings became JSON text.
 *
 * Exits 0, or 1 with the failure on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksink/sink.h"

#include "sink.h"
#include "testing.h"

#include "../unit/decoded-fx.h"

#define OPT KSINK_FIELD_OPTIONAL

static const struct ksink_field key_schema[] = {
	{ .name = "", .parent = -1, .type = KSINK_FIELD_UUID },
};
static const struct ksink_field value_schema[] = {
	{ .name = "b", .parent = -1, .type = KSINK_FIELD_BOOLEAN },
	{ .name = "i", .parent = -1, .type = KSINK_FIELD_INT32 },
	{ .name = "l", .parent = -1, .type = KSINK_FIELD_INT64 },
	{ .name = "f", .parent = -1, .type = KSINK_FIELD_FLOAT32 },
	{ .name = "d", .parent = -1, .type = KSINK_FIELD_FLOAT64 },
	{ .name = "s", .parent = -1, .type = KSINK_FIELD_STRING,
	  .default_json = "\"it's\"" },
	{ .name = "y", .parent = -1, .type = KSINK_FIELD_BYTES },
	{ .name = "dec", .parent = -1, .type = KSINK_FIELD_DECIMAL,
	  .precision = 10, .scale = 2 },
	{ .name = "dt", .parent = -1, .type = KSINK_FIELD_DATE },
	{ .name = "tm", .parent = -1, .type = KSINK_FIELD_TIME_MICROS },
	{ .name = "ts", .parent = -1, .type = KSINK_FIELD_TIMESTAMP_MILLIS },
	{ .name = "u", .parent = -1, .type = KSINK_FIELD_UUID, .flags = OPT },
	{ .name = "rec", .parent = -1, .type = KSINK_FIELD_RECORD },
	{ .name = "x", .parent = 12, .type = KSINK_FIELD_INT32 },
	{ .name = "arr", .parent = -1, .type = KSINK_FIELD_ARRAY },
	{ .name = "any", .parent = -1, .type = KSINK_FIELD_ANY, .flags = OPT },
	{ .name = "n", .parent = -1, .type = KSINK_FIELD_INT64, .flags = OPT,
	  .default_json = "5" },
	/* The grown schema's (offset 2 on): */
	{ .name = "late", .parent = -1, .type = KSINK_FIELD_DATE,
	  .flags = OPT },
};
#define NV1 17
#define NV2 18

static const struct ksink_decoded *
decoded(struct ksink_ctx *ctx, const struct ksink_record *r)
{
	(void)ctx;
	if (strcmp(r->topic, "jk") == 0)
		return NULL;
	return fx_decoded(key_schema, 1, value_schema, r->offset < 2 ? NV1 :
	    NV2, r->offset >= 2);
}

static const char *const values[] = {
	/* 0: n null: its column is made all the same */
	"{\"b\":true,\"i\":-7,\"l\":9007199254740993,\"f\":1.5,\"d\":\"NaN\","
	"\"s\":\"it's\",\"y\":\"AAH/\",\"dec\":\"-12.30\",\"dt\":\"2024-02-29\","
	"\"tm\":\"13:45:00.123456\",\"ts\":\"2024-02-29T13:45:00.123Z\","
	"\"u\":null,\"rec\":{\"x\":1},\"arr\":[1,\"a\"],\"any\":\"s\","
	"\"n\":null}",
	"{\"b\":false,\"i\":2147483647,\"l\":-1,\"f\":\"-Infinity\","
	"\"d\":2.5e-3,\"s\":\"\\u00e9\",\"y\":\"\",\"dec\":\"99999999.99\","
	"\"dt\":\"1970-01-01\",\"tm\":\"00:00:00.000000\","
	"\"ts\":\"1970-01-01T00:00:00.000Z\","
	"\"u\":\"0b0e4e1c-2b9a-4f8e-9d7c-1a2b3c4d5e6f\",\"rec\":{\"x\":2},"
	"\"arr\":[],\"any\":{\"k\":null},\"n\":42}",
	/* 2: the grown schema */
	"{\"b\":true,\"i\":0,\"l\":0,\"f\":0,\"d\":0,\"s\":\"v2\",\"y\":\"AA==\","
	"\"dec\":\"0.01\",\"dt\":\"2000-01-01\",\"tm\":\"23:59:59.999999\","
	"\"ts\":\"2000-01-01T00:00:00.001Z\",\"u\":null,\"rec\":{\"x\":3},"
	"\"arr\":[null],\"any\":null,\"n\":null,\"late\":\"2025-12-31\"}",
	/* 3: 3000000000 is no 32-bit integer */
	"{\"b\":true,\"i\":3000000000,\"l\":0,\"f\":0,\"d\":0,\"s\":\"\","
	"\"y\":\"\",\"dec\":\"0.00\",\"dt\":\"2000-01-01\","
	"\"tm\":\"00:00:00.000000\",\"ts\":\"2000-01-01T00:00:00.000Z\","
	"\"u\":null,\"rec\":{\"x\":3},\"arr\":[],\"any\":null,\"n\":null,"
	"\"late\":null}",
};
static const char *const keys[] = {
	"\"00000000-0000-0000-0000-000000000001\"",
	"\"00000000-0000-0000-0000-000000000002\"",
	"\"00000000-0000-0000-0000-000000000003\"",
	"\"00000000-0000-0000-0000-000000000004\"",
};

static int
batch(const struct ksink_sink *d, void *sink, size_t from, size_t n,
    int want)
{
	struct ksink_record r[4];
	struct ksink_offset off = { "typed", 0, 0 };
	char err[1024] = "";
	size_t i, done = 0;
	int st;

	for (i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].topic = "typed";
		r[i].offset = (int64_t)(from + i);
		r[i].timestamp = -1;
		r[i].key = keys[from + i];
		r[i].key_len = strlen(keys[from + i]);
		r[i].value = values[from + i];
		r[i].value_len = strlen(values[from + i]);
	}
	if ((st = d->begin(sink, err, sizeof(err))) != KSINK_OK) {
		fprintf(stderr, "begin: %s\n", err);
		return -1;
	}
	st = d->write(sink, r, n, &done, err, sizeof(err));
	if (st != want) {
		fprintf(stderr, "write of offsets %zu..%zu: %s (%s), "
		    "expected %s\n", from, from + n - 1, ksink_status_name(st),
		    err, ksink_status_name(want));
		return -1;
	}
	if (st != KSINK_OK) {
		printf("%s: %s\n", ksink_status_name(st), err);
		d->abort(sink);
		return 0;
	}
	off.next_offset = (int64_t)(from + n);
	if ((st = d->commit(sink, &off, 1, err, sizeof(err))) != KSINK_OK) {
		fprintf(stderr, "commit: %s\n", err);
		return -1;
	}
	return 0;
}

/* Two records of key "a" into jk (id jsonb PRIMARY KEY, v jsonb). */
static int
jsonb_key(const struct ksink_sink *d, const struct ksink_host *host,
    const char *s_conn, const char *s_pass)
{
	const char *const settings[] = { s_conn, s_pass, "topics=jk",
	    "postgres.table.name.format=jk", "postgres.pk.mode=record_key",
	    "postgres.pk.fields=id", "postgres.insert.mode=upsert", NULL };
	struct ksink_offset off = { "jk", 0, KSINK_OFFSET_NONE };
	struct ksink_record r[2];
	struct ksink_ctx *ctx;
	char err[2048];
	void *sink = NULL;
	size_t i, done;
	int rc = -1;

	if ((ctx = ks_sink_ctx_test(d, "jk", settings, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "jk settings: %s\n", err);
		return -1;
	}
	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].topic = "jk";
		r[i].offset = (int64_t)i;
		r[i].timestamp = -1;
		r[i].key = "\"a\"";
		r[i].key_len = 3;
		r[i].value = i == 0 ? "{\"v\":\"x\"}" : "{\"v\":\"y\"}";
		r[i].value_len = 9;
	}
	if (d->open(host, ctx, &sink, err, sizeof(err)) != KSINK_OK ||
	    d->load_offsets(sink, &off, 1, err, sizeof(err)) != KSINK_OK ||
	    d->begin(sink, err, sizeof(err)) != KSINK_OK ||
	    d->write(sink, r, 2, &done, err, sizeof(err)) != KSINK_OK) {
		fprintf(stderr, "jk: %s\n", err);
		goto out;
	}
	off.next_offset = 2;
	if (d->commit(sink, &off, 1, err, sizeof(err)) != KSINK_OK) {
		fprintf(stderr, "jk commit: %s\n", err);
		goto out;
	}
	rc = 0;
out:
	if (sink != NULL)
		d->close(sink);
	ks_sink_ctx_free(ctx);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ksink_host host = ks_sink_host;
	ksink_sink_entry_fn entry;
	const struct ksink_sink *d;
	struct ksink_offset off = { "typed", 0, KSINK_OFFSET_NONE };
	struct ksink_ctx *ctx;
	char err[2048], *s_conn, *s_pass;
	void *sink = NULL;
	int rc = 1;

	void *so;

	if (argc != 4) {
		fprintf(stderr, "usage: typed POSTGRES_SO CONNINFO "
		    "PASSWORD_FILE\n");
		return 2;
	}
	if ((so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (entry = (ksink_sink_entry_fn)dlsym(so, KSINK_SINK_ENTRY)) ==
	    NULL) {
		fprintf(stderr, "%s: %s\n", argv[1], dlerror());
		return 1;
	}
	if (asprintf(&s_conn, "postgres.conninfo=%s", argv[2]) == -1 ||
	    asprintf(&s_pass, "postgres.password.file=%s", argv[3]) == -1)
		return 1;
	const char *const settings[] = { s_conn, s_pass, "topics=typed",
	    "postgres.table.name.format=${topic}",
	    "postgres.pk.mode=record_key", "postgres.pk.fields=id",
	    "postgres.insert.mode=upsert", "postgres.auto.create=true",
	    "postgres.auto.evolve=true", NULL };

	host.decoded = decoded;
	d = entry(&host);
	if ((ctx = ks_sink_ctx_test(d, "typed", settings, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "settings: %s\n", err);
		return 1;
	}
	if (d->open(&host, ctx, &sink, err, sizeof(err)) != KSINK_OK) {
		fprintf(stderr, "open: %s\n", err);
		goto out;
	}
	if (d->load_offsets(sink, &off, 1, err, sizeof(err)) != KSINK_OK) {
		fprintf(stderr, "load_offsets: %s\n", err);
		goto out;
	}
	if (batch(d, sink, 0, 2, KSINK_OK) == 0 &&
	    batch(d, sink, 2, 1, KSINK_OK) == 0 &&
	    batch(d, sink, 3, 1, KSINK_POISON) == 0 &&
	    jsonb_key(d, &host, s_conn, s_pass) == 0)
		rc = 0;
out:
	if (sink != NULL)
		d->close(sink);
	ks_sink_ctx_free(ctx);
	free(s_conn);
	free(s_pass);
	dlclose(so);
	return rc;
}
