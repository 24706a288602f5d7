/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/registry/convreg.c - the avro converter (src/convert.c) and its
 * schema cache (src/schemas.c) against a real registry: run by
 * tests/registry/convert.test, which registers the schemas and passes
 * REGISTRY_URL, SCHEMA_ID (a record {id: long, name: string}) and
 * SCHEMA_ID2 (the same with an optional note) in the environment.
 *
 * Several connectors naming the same registry share one cache, and a new
 * id is fetched once however many threads want it at the same time.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "convert.h"
#include "schemas.h"

#define NTHREADS 4
#define NBATCH 20
#define BATCH 500

static const char *url;
static int32_t id1, id2;

/* The converters of a [connector NAME] of the registry, with lines. */
static struct ks_convert *
conv_new(struct ks_conf **conf, const char *lines)
{
	struct ks_errors errs = { 0 };
	struct ks_convert *c;
	char ini[2048], err[512] = "";
	FILE *fp;

	snprintf(ini, sizeof(ini), "[connector c]\ntype = x\ntopics = t\n"
	    "value.converter = avro\n"
	    "value.converter.schema.registry.url = %s\n%s", url, lines);
	assert_non_null(fp = fmemopen(ini, strlen(ini), "r"));
	*conf = ks_conf_parse_fp(fp, "test.ini", &errs);
	fclose(fp);
	assert_int_equal(errs.count, 0);
	if (ks_convert_new(ks_conf_section(*conf, KS_SEC_CONNECTOR), &c, err,
	    sizeof(err)) != KSINK_OK)
		fail_msg("ks_convert_new: %s", err);
	assert_non_null(c);
	return c;
}

/* Avro's zigzag varint. */
static size_t
put_long(unsigned char *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;

	while (z >= 0x80) {
		p[n++] = (unsigned char)(z | 0x80);
		z >>= 7;
	}
	p[n++] = (unsigned char)z;
	return n;
}

/* {id, name} in the wire format with schema id (prefix) or without. */
static size_t
encode(unsigned char *p, int32_t id, int prefix, int64_t n, const char *name)
{
	size_t len = 0;

	if (prefix) {
		p[len++] = 0;
		p[len++] = (unsigned char)(id >> 24);
		p[len++] = (unsigned char)(id >> 16);
		p[len++] = (unsigned char)(id >> 8);
		p[len++] = (unsigned char)id;
	}
	len += put_long(p + len, n);
	len += put_long(p + len, (int64_t)strlen(name));
	memcpy(p + len, name, strlen(name));
	return len + strlen(name);
}

static void
rec(struct ksink_record *r, int64_t off, const void *val, size_t len)
{
	memset(r, 0, sizeof(*r));
	r->topic = "t";
	r->partition = 3;
	r->offset = off;
	r->value = val;
	r->value_len = len;
}

static void
assert_value(const struct ksink_record *r, const char *want)
{
	if (r->value_len != strlen(want) || memcmp(r->value, want,
	    r->value_len) != 0)
		fail_msg("value of @%lld is %.*s, expected %s",
		    (long long)r->offset, (int)r->value_len,
		    (const char *)r->value, want);
}

struct worker {
	pthread_barrier_t *go;
	int failed;
	char err[512];
};

/* One connector's thread: NBATCH batches of BATCH records. */
static void *
decode_batches(void *arg)
{
	struct worker *wk = arg;
	static __thread unsigned char vals[BATCH][64];
	struct ksink_record r[BATCH];
	struct ks_convert *c;
	struct ks_conf *conf;
	char want[128], name[16];
	size_t i, k, len;
	int b;

	c = conv_new(&conf, "");
	pthread_barrier_wait(wk->go);
	for (b = 0; b < NBATCH && !wk->failed; b++) {
		for (i = 0; i < BATCH; i++) {
			snprintf(name, sizeof(name), "n%zu", i);
			len = encode(vals[i], id1, 1, (int64_t)(b * BATCH + i),
			    name);
			rec(&r[i], (int64_t)(b * BATCH + i), vals[i], len);
		}
		ks_convert_begin(c, r, BATCH);
		if (ks_convert_decode(c, 0, &k, wk->err, sizeof(wk->err)) !=
		    KSINK_OK) {
			wk->failed = 1;
			break;
		}
		for (i = 0; i < BATCH; i++) {
			snprintf(want, sizeof(want), "{\"id\":%d,\"name\":"
			    "\"n%zu\"}", (int)(b * BATCH + i), i);
			if (r[i].value_len != strlen(want) ||
			    memcmp(r[i].value, want, r[i].value_len) != 0) {
				snprintf(wk->err, sizeof(wk->err), "got %.*s, "
				    "expected %s", (int)r[i].value_len,
				    (const char *)r[i].value, want);
				wk->failed = 1;
				break;
			}
		}
	}
	ks_convert_free(c);
	ks_conf_free(conf);
	return NULL;
}

/* NTHREADS connectors of one registry, at once: one fetch in all. */
static void
test_cache_shared(void **state)
{
	struct ks_schemas *cache = ks_schemas_get(url);
	uint64_t before = ks_schemas_fetches(cache);
	struct worker wk[NTHREADS];
	pthread_t t[NTHREADS];
	pthread_barrier_t go;
	int i;

	(void)state;
	pthread_barrier_init(&go, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		memset(&wk[i], 0, sizeof(wk[i]));
		wk[i].go = &go;
		assert_int_equal(pthread_create(&t[i], NULL, decode_batches,
		    &wk[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < NTHREADS; i++)
		if (wk[i].failed)
			fail_msg("connector %d: %s", i, wk[i].err);
	assert_int_equal(ks_schemas_fetches(cache) - before, 1);
}

/* What decoded() says: the id, the bytes read, the schema's fields; a
 * second id (an evolved schema) is one more fetch; the id of a header. */
static void
test_decoded(void **state)
{
	struct ks_schemas *cache = ks_schemas_get(url);
	unsigned char v1[64], v2[64], v3[64];
	const struct ksink_decoded *d;
	struct ksink_record r[3];
	struct ksink_header h;
	struct ks_convert *c;
	struct ks_conf *conf;
	char err[512], sid[16];
	uint64_t before;
	size_t k, len, i;

	(void)state;
	c = conv_new(&conf, "");
	before = ks_schemas_fetches(cache);
	len = encode(v1, id1, 1, 7, "seven");
	rec(&r[0], 0, v1, len);
	/* The evolved schema: {id, name, note: [null, string]}, note null. */
	len = encode(v2, id2, 1, 8, "eight");
	v2[len++] = 0;
	rec(&r[1], 1, v2, len);
	snprintf(sid, sizeof(sid), "%d", (int)id1);
	h.name = "__value_schema_id";
	h.value = sid;
	h.value_len = strlen(sid);
	len = encode(v3, id1, 0, 9, "nine");
	rec(&r[2], 2, v3, len);
	r[2].headers = &h;
	r[2].header_count = 1;
	ks_convert_begin(c, r, 3);
	if (ks_convert_decode(c, 0, &k, err, sizeof(err)) != KSINK_OK)
		fail_msg("%s", err);
	assert_value(&r[0], "{\"id\":7,\"name\":\"seven\"}");
	assert_value(&r[1], "{\"id\":8,\"name\":\"eight\",\"note\":null}");
	assert_value(&r[2], "{\"id\":9,\"name\":\"nine\"}");
	assert_non_null(d = ks_convert_decoded(c, &r[1]));
	assert_int_equal(d->value_schema_id, id2);
	assert_int_equal(d->key_schema_id, -1);
	assert_true(d->value_raw == v2);
	assert_int_equal(d->value_field_count, 3);
	assert_string_equal(d->value_fields[0].name, "id");
	assert_int_equal(d->value_fields[0].type, KSINK_FIELD_INT64);
	assert_string_equal(d->value_fields[2].name, "note");
	assert_int_equal(d->value_fields[2].type, KSINK_FIELD_STRING);
	assert_true(d->value_fields[2].flags & KSINK_FIELD_OPTIONAL);
	for (i = 0; i < 3; i++)
		assert_int_equal(d->value_fields[i].parent, -1);
	assert_non_null(d = ks_convert_decoded(c, &r[2]));
	assert_int_equal(d->value_schema_id, id1);
	assert_true(d->value_raw == v3);
	/* id1 may be cached by the case before: at most the two ids. */
	assert_true(ks_schemas_fetches(cache) - before <= 2);
	/* Both ids known now: the same records again, no fetch. */
	before = ks_schemas_fetches(cache);
	for (i = 0; i < 3; i++) {
		d = ks_convert_decoded(c, &r[i]);
		rec(&r[i], (int64_t)i, d->value_raw, d->value_raw_len);
	}
	r[2].headers = &h;
	r[2].header_count = 1;
	ks_convert_begin(c, r, 3);
	if (ks_convert_decode(c, 0, &k, err, sizeof(err)) != KSINK_OK)
		fail_msg("%s", err);
	assert_value(&r[1], "{\"id\":8,\"name\":\"eight\",\"note\":null}");
	assert_int_equal(ks_schemas_fetches(cache) - before, 0);
	ks_convert_free(c);
	ks_conf_free(conf);
}

/* An id the registry does not know, a body that does not decode with its
 * schema: poison, naming the record and the id; an unknown id is asked
 * again (it may be registered later), a known one not. */
static void
test_poison(void **state)
{
	struct ks_schemas *cache = ks_schemas_get(url);
	unsigned char v[64];
	struct ksink_record r;
	struct ks_convert *c;
	struct ks_conf *conf;
	char err[512], want[128];
	uint64_t before;
	int32_t unknown = id2 + 100000;
	size_t k, len;
	int i;

	(void)state;
	c = conv_new(&conf, "");
	for (i = 0; i < 2; i++) {
		before = ks_schemas_fetches(cache);
		len = encode(v, unknown, 1, 1, "x");
		rec(&r, 40, v, len);
		ks_convert_begin(c, &r, 1);
		assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
		    KSINK_POISON);
		snprintf(want, sizeof(want), "value of t/3@40 (schema id %d) "
		    "cannot be decoded by value.converter: ", (int)unknown);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("%s", err);
		assert_int_equal(ks_schemas_fetches(cache) - before, 1);
	}
	/* Truncated: the name's length says 10 bytes, 1 follows. */
	len = encode(v, id1, 1, 1, "x");
	v[len - 2] = 20;
	rec(&r, 41, v, len);
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_POISON);
	snprintf(want, sizeof(want), "value of t/3@41 (schema id %d) cannot "
	    "be decoded by value.converter: ", (int)id1);
	if (strncmp(err, want, strlen(want)) != 0)
		fail_msg("%s", err);
	assert_true(r.value == v);
	ks_convert_free(c);
	ks_conf_free(conf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_shared),
		cmocka_unit_test(test_decoded),
		cmocka_unit_test(test_poison),
	};
	const char *a = getenv("SCHEMA_ID"), *b = getenv("SCHEMA_ID2");

	url = getenv("REGISTRY_URL");
	if (url == NULL || a == NULL || b == NULL) {
		fprintf(stderr, "convreg: REGISTRY_URL, SCHEMA_ID and "
		    "SCHEMA_ID2 must be set; run tests/registry/convert.test\n");
		return 99;
	}
	id1 = atoi(a);
	id2 = atoi(b);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
