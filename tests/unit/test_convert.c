/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_convert.c - the converters (src/convert.c) without a
 * registry: string and json, the wire-format prefix and the schema id
 * headers, poison records, a batch decoded in several calls, and what
 * host->decoded() answers.  The registry's part (the schema cache) is
 * tests/registry/convert.test, against a real registry.
 */
#include "config.h"

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

struct fx {
	struct ks_conf *conf;
	struct ks_convert *c;
};

/* The converters of a [connector c] holding lines. */
static struct ks_convert *
conv_of(struct fx *fx, const char *lines)
{
	struct ks_errors errs = { 0 };
	char ini[2048], err[512] = "";
	FILE *fp;
	int st;

	snprintf(ini, sizeof(ini), "[connector c]\ntype = x\ntopics = t\n%s",
	    lines);
	assert_non_null(fp = fmemopen(ini, strlen(ini), "r"));
	fx->conf = ks_conf_parse_fp(fp, "test.ini", &errs);
	fclose(fp);
	assert_int_equal(errs.count, 0);
	st = ks_convert_new(ks_conf_section(fx->conf, KS_SEC_CONNECTOR),
	    &fx->c, err, sizeof(err));
	if (st != KSINK_OK)
		fail_msg("ks_convert_new: %s", err);
	return fx->c;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	ks_convert_free(fx->c);
	ks_conf_free(fx->conf);
	free(fx);
	return 0;
}

static int
setup(void **state)
{
	*state = calloc(1, sizeof(struct fx));
	return *state == NULL ? -1 : 0;
}

static void
rec(struct ksink_record *r, int64_t off, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	memset(r, 0, sizeof(*r));
	r->topic = "t";
	r->partition = 3;
	r->offset = off;
	r->key = key;
	r->key_len = klen;
	r->value = val;
	r->value_len = vlen;
}

static void
assert_text(const struct ksink_record *r, int value, const char *want)
{
	const void *p = value ? r->value : r->key;
	size_t len = value ? r->value_len : r->key_len;

	if (len != strlen(want) || memcmp(p, want, len) != 0)
		fail_msg("%s of @%lld is %.*s, expected %s", value ? "value" :
		    "key", (long long)r->offset, (int)len, (const char *)p,
		    want);
}

/* Both bytes: no converter at all, so nothing is decoded. */
static void
test_bytes(void **state)
{
	assert_null(conv_of(*state, "key.converter = bytes\n"));
}

/* string: UTF-8 becomes a JSON string; key and value each their own
 * converter; null stays null; the raw bytes through decoded(). */
static void
test_string(void **state)
{
	struct ks_convert *c = conv_of(*state, "value.converter = string\n"
	    "key.converter = json\n");
	static const char v0[] = "h\xc3\xa9llo \"q\"\n\\", k0[] = "{\"id\": 1}";
	struct ksink_record r[3], other;
	const struct ksink_decoded *d;
	char err[512];
	size_t k;

	rec(&r[0], 10, k0, strlen(k0), v0, strlen(v0));
	rec(&r[1], 11, NULL, 0, NULL, 0);
	rec(&r[2], 12, "7", 1, "", 0);
	ks_convert_begin(c, r, 3);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(k, 3);
	assert_text(&r[0], 1, "\"h\xc3\xa9llo \\\"q\\\"\\n\\\\\"");
	assert_true(r[0].key == k0);	/* json: as it is, not copied */
	assert_null(r[1].key);
	assert_null(r[1].value);
	assert_text(&r[2], 1, "\"\"");
	assert_text(&r[2], 0, "7");
	assert_non_null(d = ks_convert_decoded(c, &r[0]));
	assert_int_equal(d->struct_size, sizeof(*d));
	assert_true(d->value_raw == v0 && d->value_raw_len == strlen(v0));
	assert_true(d->key_raw == k0);
	assert_int_equal(d->value_schema_id, -1);
	assert_int_equal(d->key_schema_id, -1);
	assert_null(d->value_fields);
	assert_int_equal(d->value_field_count, 0);
	/* Only records of the batch. */
	assert_null(ks_convert_decoded(c, &other));
}

/* Poison: bytes that are not UTF-8, text that is not JSON; the record is
 * left as read, the next call goes on after it. */
static void
test_poison(void **state)
{
	struct ks_convert *c = conv_of(*state, "value.converter = string\n"
	    "key.converter = json\n");
	struct ksink_record r[4], raw;
	char err[512];
	size_t k;

	rec(&r[0], 20, "1", 1, "a", 1);
	rec(&r[1], 21, "2", 1, "\xff\xfe", 2);
	rec(&r[2], 22, "{x", 2, "c", 1);
	rec(&r[3], 23, "3", 1, "d", 1);
	ks_convert_begin(c, r, 4);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(k, 1);
	assert_string_equal(err, "value of t/3@21 cannot be decoded by "
	    "value.converter: not UTF-8 text");
	assert_text(&r[1], 1, "\xff\xfe");
	assert_null(ks_convert_decoded(c, &r[1]));
	ks_convert_raw(c, &r[1], &raw);
	assert_true(raw.value == r[1].value);
	assert_int_equal(ks_convert_decode(c, 2, &k, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(k, 2);
	assert_string_equal(err, "key of t/3@22 cannot be decoded by "
	    "key.converter: not JSON text");
	assert_int_equal(ks_convert_decode(c, 3, &k, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(k, 4);
	/* Records decoded before a poison one keep their text, and the
	 * raw form of a decoded record is what Kafka gave. */
	assert_text(&r[0], 1, "\"a\"");
	assert_text(&r[3], 1, "\"d\"");
	ks_convert_raw(c, &r[3], &raw);
	assert_true(raw.value_len == 1 && memcmp(raw.value, "d", 1) == 0);
	assert_true(raw.key == r[3].key);
}

/* A batch whose texts outgrow a block of the arena: the first records'
 * texts stay where they were (checked after the last is decoded), and
 * the next batch reuses the memory. */
static void
test_arena(void **state)
{
	struct ks_convert *c = conv_of(*state, "value.converter = string\n");
	enum { N = 300, LEN = 1000 };
	static char vals[N][LEN];
	struct ksink_record r[N];
	const void *first;
	char err[512], want[LEN + 3];
	size_t k, i;
	int round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < N; i++) {
			memset(vals[i], 'a' + (int)(i + round) % 26, LEN);
			rec(&r[i], (int64_t)i, NULL, 0, vals[i], LEN);
		}
		ks_convert_begin(c, r, N);
		assert_int_equal(ks_convert_decode(c, 0, &k, err,
		    sizeof(err)), KSINK_OK);
		first = r[0].value;
		for (i = 0; i < N; i++) {
			want[0] = '"';
			memset(want + 1, 'a' + (int)(i + round) % 26, LEN);
			want[LEN + 1] = '"';
			want[LEN + 2] = '\0';
			assert_text(&r[i], 1, want);
		}
		assert_true(r[0].value == first);
	}
}

/* A key or value that decodes to null reaches the sink as none (a
 * tombstone for a value), as Connect's converters give it: the JSON text
 * null, and a Connect payload null; the raw bytes through decoded(). */
static void
test_null(void **state)
{
	struct ks_convert *c = conv_of(*state, "value.converter = json\n"
	    "value.converter.schemas.enable = true\nkey.converter = json\n");
	static const char env[] = "{\"schema\":{\"type\":\"struct\","
	    "\"fields\":[{\"field\":\"id\",\"type\":\"int32\"}],"
	    "\"optional\":true},\"payload\":null}", key[] = " null\n";
	const struct ksink_decoded *d;
	struct ksink_record r[1];
	char err[512];
	size_t k;

	rec(&r[0], 60, key, strlen(key), env, strlen(env));
	ks_convert_begin(c, r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_OK);
	assert_null(r[0].key);
	assert_int_equal(r[0].key_len, 0);
	assert_null(r[0].value);
	assert_int_equal(r[0].value_len, 0);
	assert_non_null(d = ks_convert_decoded(c, &r[0]));
	assert_true(d->value_raw == env && d->key_raw == key);
	assert_int_equal(d->value_field_count, 1);
}

/* json with schemas.enable: the payload rendered by its schema, the
 * schema's fields through decoded(), for the key and the value; an
 * envelope without payload is poison.  Twice, as two batches. */
static void
test_connect_json(void **state)
{
	struct ks_convert *c = conv_of(*state, "value.converter = json\n"
	    "value.converter.schemas.enable = true\n"
	    "key.converter = json\nkey.converter.schemas.enable = true\n");
	static const char env[] = "{\"schema\":{\"type\":\"struct\","
	    "\"fields\":[{\"field\":\"id\",\"type\":\"int32\"},"
	    "{\"field\":\"note\",\"type\":\"string\",\"optional\":true}],"
	    "\"optional\":false},\"payload\":{\"id\":5,\"note\":null}}",
	    key[] = "{\"schema\":{\"type\":\"int64\"},\"payload\":42}",
	    bad[] = "{\"schema\":{\"type\":\"int64\"}}";
	const struct ksink_decoded *d;
	struct ksink_record r[2];
	char err[512];
	size_t k;
	int round;

	for (round = 0; round < 2; round++) {
		rec(&r[0], 50, key, strlen(key), env, strlen(env));
		rec(&r[1], 51, bad, strlen(bad), env, strlen(env));
		ks_convert_begin(c, r, 2);
		assert_int_equal(ks_convert_decode(c, 0, &k, err,
		    sizeof(err)), KSINK_POISON);
		assert_int_equal(k, 1);
		assert_non_null(strstr(err, "key of t/3@51 cannot be decoded "
		    "by key.converter: "));
		assert_text(&r[0], 1, "{\"id\":5,\"note\":null}");
		assert_text(&r[0], 0, "42");
		assert_non_null(d = ks_convert_decoded(c, &r[0]));
		assert_int_equal(d->value_field_count, 2);
		assert_string_equal(d->value_fields[1].name, "note");
		assert_int_equal(d->value_fields[1].type, KSINK_FIELD_STRING);
		assert_true(d->value_fields[1].flags & KSINK_FIELD_OPTIONAL);
		assert_int_equal(d->key_field_count, 1);
		assert_string_equal(d->key_fields[0].name, "");
		assert_int_equal(d->key_fields[0].type, KSINK_FIELD_INT64);
		assert_int_equal(d->value_schema_id, -1);
		assert_text(&r[1], 0, bad);
	}
}

/* avro: what is wrong with the prefix or the header is poison, before
 * any registry is asked; the id is read from the prefix, or from the
 * header in decimal, 4 or 8 bytes (the registry at port 1 of the
 * loopback does not answer: RETRY, naming the id). */
static void
test_wire(void **state)
{
	struct ks_convert *c = conv_of(*state, "value.converter = avro\n"
	    "value.converter.schema.registry.url = http://127.0.0.1:1\n"
	    "value.converter.schema.registry.timeout.ms = 500\n");
	static const unsigned char short3[] = { 0, 0, 1 },
	    magic[] = { 1, 0, 0, 0, 5, 2 }, wire[] = { 0, 0, 0, 1, 0x2c, 2 },
	    be4[] = { 0, 0, 0, 42 }, be8[] = { 0, 0, 0, 0, 0, 0, 1, 1 };
	struct ksink_header h;
	struct ksink_record r;
	char err[512];
	size_t k;

	rec(&r, 30, NULL, 0, short3, sizeof(short3));
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_POISON);
	assert_string_equal(err, "value of t/3@30 cannot be decoded by "
	    "value.converter: 3 bytes are too short for the wire-format "
	    "prefix (a zero byte and a 4-byte schema id)");

	rec(&r, 31, NULL, 0, magic, sizeof(magic));
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_POISON);
	assert_non_null(strstr(err, "t/3@31 cannot be decoded by "
	    "value.converter: wrong magic byte 0x01"));

	rec(&r, 32, NULL, 0, wire, sizeof(wire));
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_RETRY);
	assert_int_equal(k, 0);
	assert_non_null(strstr(err, "value.converter: schema id 300 of "
	    "t/3@32: "));
	assert_true(r.value == wire);	/* left as it was */

	/* The header's id: then the whole value is the body. */
	r.headers = &h;
	r.header_count = 1;
	h.name = "__value_schema_id";
	h.value = "1234";
	h.value_len = 4;
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "schema id 1234 of t/3@32"));
	h.value = be4;
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "schema id 42 of"));
	h.value = be8;
	h.value_len = 8;
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "schema id 257 of"));
	h.value = "12a";
	h.value_len = 3;
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_POISON);
	assert_non_null(strstr(err, "header __value_schema_id is not a "
	    "schema id"));
	/* __key_schema_id is the key's, not the value's. */
	h.name = "__key_schema_id";
	ks_convert_begin(c, &r, 1);
	assert_int_equal(ks_convert_decode(c, 0, &k, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "schema id 300 of"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison, setup, teardown),
		cmocka_unit_test_setup_teardown(test_arena, setup, teardown),
		cmocka_unit_test_setup_teardown(test_connect_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wire, setup, teardown),
		cmocka_unit_test_setup_teardown(test_null, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
