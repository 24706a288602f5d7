/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * convert.c - the converters of a connector's keys and values: bytes
 * (nothing done), string (UTF-8 text -> a JSON string), json (JSON text,
 * as it is), json with schemas.enable (Kafka Connect's envelope, cjson.c)
 * and avro (the Schema Registry wire format, avrodec.c, with the writer
 * schemas of schemas.c).
 *
 * The decoded texts of a batch live in an arena of blocks that never
 * move, so that a batch decoded in several calls (a registry that came
 * back) keeps its first records' pointers.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avrodec.h"
#include "cjson.h"
#include "conf.h"
#include "convert.h"
#include "fields.h"
#include "options.h"
#include "registry.h"
#include "schemas.h"
#include "util.h"
#include "../connectors/lib/buf.h"
#include "../connectors/lib/json.h"
#include "../connectors/lib/utf8.h"

/* The wire format: a zero byte, a 4-byte big-endian id, the body. */
#define WIRE_MAGIC	0x00
#define WIRE_PREFIX	5

enum kind { CONV_BYTES, CONV_STRING, CONV_JSON, CONV_CJSON, CONV_AVRO };

struct side {
	const char *name;	/* "key", "value" */
	const char *header;	/* "__key_schema_id", ... */
	enum kind kind;
	struct ks_registry *reg;
	struct ks_schemas *schemas;
	/* The last schema looked up: most records share it. */
	int32_t last_id;
	const struct ks_avro_schema *last;
};

struct block {
	struct block *next;
	size_t len, cap;
	char data[];
};

struct ks_convert {
	struct side key, value;

	/* The batch. */
	struct ksink_record *recs;
	size_t n;
	struct ksink_decoded *dec;	/* struct_size 0: not decoded */
	size_t dec_cap;
	struct ks_fields *fields;	/* json with schema: 2 per record */
	size_t fields_cap;

	struct block *blocks, *cur;	/* the arena of decoded texts */
	size_t used;			/* by the batch, in all blocks */

	struct ks_buf scratch;		/* the text of one key or value */
};

/* ---- the arena ---- */

#define BLOCK_MIN (64 * 1024)

/* Forgets the texts of the last batch; the arena becomes one block as
 * large as that batch needed. */
static void
arena_reset(struct ks_convert *c)
{
	struct block *b, *next;

	if (c->blocks != NULL && (c->blocks->next != NULL ||
	    c->used > c->blocks->cap)) {
		for (b = c->blocks; b != NULL; b = next) {
			next = b->next;
			free(b);
		}
		c->blocks = NULL;
	}
	if (c->blocks == NULL && c->used > 0) {
		c->blocks = ks_util_xmalloc(sizeof(*b) + c->used);
		c->blocks->next = NULL;
		c->blocks->cap = c->used;
	}
	if (c->blocks != NULL)
		c->blocks->len = 0;
	c->cur = c->blocks;
	c->used = 0;
}

static const char *
arena_copy(struct ks_convert *c, const void *p, size_t len)
{
	struct block *b = c->cur;
	char *out;

	if (b == NULL || b->cap - b->len < len) {
		b = ks_util_xmalloc(sizeof(*b) + (len > BLOCK_MIN ? len :
		    BLOCK_MIN));
		b->cap = len > BLOCK_MIN ? len : BLOCK_MIN;
		b->len = 0;
		b->next = NULL;
		if (c->cur != NULL)
			c->cur->next = b;
		else
			c->blocks = b;
		c->cur = b;
	}
	out = b->data + b->len;
	if (len > 0)
		memcpy(out, p, len);
	b->len += len;
	c->used += len;
	return out;
}

/* ---- set up ---- */

static const char *
side_str(const struct ks_section *sec, const struct side *s,
    const char *sub)
{
	char key[128];

	snprintf(key, sizeof(key), "%s.converter%s", s->name, sub);
	return ks_conf_str(sec, ks_options_connector, key);
}

/* The first line of the file that key X.converter.SUB names, if set,
 * in *out: a secret, never quoted.  -1 with errbuf filled. */
static int
read_first_line(const struct ks_section *sec, const struct side *s,
    const char *sub, char **out, char *errbuf, size_t errlen)
{
	const char *path = side_str(sec, s, sub);
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	FILE *fp;

	*out = NULL;
	if (path == NULL || *path == '\0')
		return 0;
	if ((fp = fopen(path, "r")) == NULL) {
		ks_util_errf(errbuf, errlen, "%s.converter%s = %s cannot be "
		    "read: %s", s->name, sub, path, strerror(errno));
		return -1;
	}
	n = getline(&line, &cap, fp);
	fclose(fp);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n <= 0) {
		free(line);
		ks_util_errf(errbuf, errlen, "%s.converter%s = %s: the file's "
		    "first line is empty", s->name, sub, path);
		return -1;
	}
	*out = line;
	return 0;
}

static void
free_secret(char *p)
{
	if (p != NULL)
		explicit_bzero(p, strlen(p));
	free(p);
}

static int
side_registry(const struct ks_section *sec, struct side *s, char *errbuf,
    size_t errlen)
{
	struct ks_registry_conf rc = { 0 };
	char *user_info = NULL, *token = NULL, key[128];
	int st = KSINK_CONFIG;

	rc.urls = side_str(sec, s, ".schema.registry.url");
	rc.auth = strcmp(side_str(sec, s, ".basic.auth.credentials.source"),
	    "USER_INFO") == 0 ? KS_REG_AUTH_USER_INFO : KS_REG_AUTH_URL;
	if (read_first_line(sec, s, ".basic.auth.user.info.file", &user_info,
	    errbuf, errlen) == -1 || read_first_line(sec, s,
	    ".bearer.auth.token.file", &token, errbuf, errlen) == -1)
		goto out;
	rc.user_info = user_info != NULL ? user_info :
	    side_str(sec, s, ".basic.auth.user.info");
	rc.bearer_token = token;
	rc.ca = side_str(sec, s, ".schema.registry.ssl.ca.location");
	rc.cert = side_str(sec, s, ".schema.registry.ssl.certificate.location");
	rc.key = side_str(sec, s, ".schema.registry.ssl.key.location");
	snprintf(key, sizeof(key), "%s.converter.schema.registry.timeout.ms",
	    s->name);
	rc.timeout_ms = (long)ks_conf_int(sec, ks_options_connector, key);
	if ((st = ks_registry_new(&s->reg, &rc, errbuf, errlen)) == KSINK_OK)
		s->schemas = ks_schemas_get(rc.urls);
out:
	/* ks_registry_new() copied them. */
	free_secret(user_info);
	free_secret(token);
	return st;
}

static int
side_init(const struct ks_section *sec, struct side *s, const char *name,
    char *errbuf, size_t errlen)
{
	const char *conv;
	char key[128];

	s->name = name;
	s->header = strcmp(name, "key") == 0 ? "__key_schema_id" :
	    "__value_schema_id";
	s->last_id = -1;
	conv = side_str(sec, s, "");
	snprintf(key, sizeof(key), "%s.converter.schemas.enable", name);
	if (strcmp(conv, "bytes") == 0)
		s->kind = CONV_BYTES;
	else if (strcmp(conv, "string") == 0)
		s->kind = CONV_STRING;
	else if (strcmp(conv, "json") == 0)
		s->kind = ks_conf_bool(sec, ks_options_connector, key) ?
		    CONV_CJSON : CONV_JSON;
	else if (strcmp(conv, "avro") == 0) {
		s->kind = CONV_AVRO;
		return side_registry(sec, s, errbuf, errlen);
	} else {
		ks_util_errf(errbuf, errlen, "%s.converter = %s is not a "
		    "converter ksink has; use bytes, string, json or avro",
		    name, conv);
		return KSINK_CONFIG;
	}
	return KSINK_OK;
}

int
ks_convert_new(const struct ks_section *sec, struct ks_convert **out,
    char *errbuf, size_t errlen)
{
	struct ks_convert *c;
	int st;

	*out = NULL;
	c = ks_util_xcalloc(1, sizeof(*c));
	if ((st = side_init(sec, &c->key, "key", errbuf, errlen)) !=
	    KSINK_OK || (st = side_init(sec, &c->value, "value", errbuf,
	    errlen)) != KSINK_OK) {
		ks_convert_free(c);
		return st;
	}
	if (c->key.kind == CONV_BYTES && c->value.kind == CONV_BYTES)
		ks_convert_free(c);
	else
		*out = c;
	return KSINK_OK;
}

static void
fields_clear(struct ks_convert *c, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < c->fields_cap; i++)
		ks_fields_free(&c->fields[i]);
}

void
ks_convert_free(struct ks_convert *c)
{
	struct block *b, *next;

	if (c == NULL)
		return;
	ks_registry_free(c->key.reg);
	ks_registry_free(c->value.reg);
	fields_clear(c, c->fields_cap);
	free(c->fields);
	free(c->dec);
	for (b = c->blocks; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	ks_buf_free(&c->scratch);
	free(c);
}

/* ---- one batch ---- */

void
ks_convert_begin(struct ks_convert *c, struct ksink_record *recs, size_t n)
{
	if (c->fields != NULL)
		fields_clear(c, 2 * c->n);
	if (n > c->dec_cap) {
		free(c->dec);
		c->dec = ks_util_xcalloc(n, sizeof(*c->dec));
		c->dec_cap = n;
	} else if (n > 0)
		memset(c->dec, 0, n * sizeof(*c->dec));
	if ((c->key.kind == CONV_CJSON || c->value.kind == CONV_CJSON) &&
	    2 * n > c->fields_cap) {
		c->fields = ks_util_xrealloc(c->fields,
		    2 * n * sizeof(*c->fields));
		memset(c->fields + c->fields_cap, 0,
		    (2 * n - c->fields_cap) * sizeof(*c->fields));
		c->fields_cap = 2 * n;
	}
	arena_reset(c);
	c->recs = recs;
	c->n = n;
}

/* The id of a __value_schema_id or __key_schema_id header: decimal
 * digits, or 4 or 8 bytes big-endian.  -1 when there is no such header,
 * -2 when its value is none of these. */
static int64_t
header_id(const struct ksink_record *r, const char *name)
{
	const unsigned char *p;
	uint64_t v = 0;
	size_t i, j;

	for (i = 0; i < r->header_count; i++) {
		if (strcmp(r->headers[i].name, name) != 0)
			continue;
		p = r->headers[i].value;
		if (p == NULL || r->headers[i].value_len == 0)
			return -2;
		for (j = 0; j < r->headers[i].value_len && p[j] >= '0' &&
		    p[j] <= '9' && j < 10; j++)
			v = v * 10 + (p[j] - '0');
		if (j == r->headers[i].value_len)
			return v <= INT32_MAX ? (int64_t)v : -2;
		if (r->headers[i].value_len != 4 &&
		    r->headers[i].value_len != 8)
			return -2;
		for (v = 0, j = 0; j < r->headers[i].value_len; j++)
			v = v << 8 | p[j];
		return v <= INT32_MAX ? (int64_t)v : -2;
	}
	return -1;
}

/* A poison key or value: "value of t/0@42: why". */
static int
poison(char *errbuf, size_t errlen, const struct side *s,
    const struct ksink_record *r, int32_t id, const char *why)
{
	char sid[32] = "";

	if (id >= 0)
		snprintf(sid, sizeof(sid), " (schema id %d)", (int)id);
	ks_util_errf(errbuf, errlen, "%s of %s/%d@%lld%s cannot be decoded "
	    "by %s.converter: %s", s->name, r->topic, (int)r->partition,
	    (long long)r->offset, sid, s->name, why);
	return KSINK_POISON;
}

/* avro: the schema id and body of a wire-format key or value. */
static int
avro_decode(struct ks_convert *c, struct side *s,
    const struct ksink_record *r, const unsigned char *raw, size_t len,
    int32_t *idp, char *errbuf, size_t errlen)
{
	const struct ks_avro_schema *schema;
	char why[768];
	int64_t id;
	int st;

	if ((id = header_id(r, s->header)) == -2) {
		snprintf(why, sizeof(why), "header %s is not a schema id "
		    "(decimal digits, or 4 or 8 bytes big-endian)", s->header);
		return poison(errbuf, errlen, s, r, -1, why);
	}
	if (id < 0) {
		if (len < WIRE_PREFIX) {
			snprintf(why, sizeof(why), "%zu bytes are too short "
			    "for the wire-format prefix (a zero byte and a "
			    "4-byte schema id)", len);
			return poison(errbuf, errlen, s, r, -1, why);
		}
		if (raw[0] != WIRE_MAGIC) {
			snprintf(why, sizeof(why), "wrong magic byte 0x%02x, "
			    "not 0x00: not the Schema Registry wire format",
			    raw[0]);
			return poison(errbuf, errlen, s, r, -1, why);
		}
		id = (int64_t)((uint32_t)raw[1] << 24 | (uint32_t)raw[2] << 16 |
		    (uint32_t)raw[3] << 8 | raw[4]);
		if (id > INT32_MAX) {
			snprintf(why, sizeof(why), "schema id %lld is out of "
			    "range", (long long)id);
			return poison(errbuf, errlen, s, r, -1, why);
		}
		raw += WIRE_PREFIX;
		len -= WIRE_PREFIX;
	}
	*idp = (int32_t)id;
	if (s->last != NULL && s->last_id == id)
		schema = s->last;
	else {
		st = ks_schemas_lookup(s->schemas, s->reg, (int32_t)id,
		    &schema, why, sizeof(why));
		if (st == KSINK_POISON)
			return poison(errbuf, errlen, s, r, (int32_t)id, why);
		if (st != KSINK_OK) {
			ks_util_errf(errbuf, errlen, "%s.converter: schema id "
			    "%d of %s/%d@%lld: %s", s->name, (int)id,
			    r->topic, (int)r->partition, (long long)r->offset,
			    why);
			return st;
		}
		s->last_id = (int32_t)id;
		s->last = schema;
	}
	ks_buf_reset(&c->scratch);
	st = ks_avro_decode(schema, raw, len, &c->scratch, why, sizeof(why));
	if (st == KSINK_POISON)
		return poison(errbuf, errlen, s, r, (int32_t)id, why);
	if (st != KSINK_OK)
		ks_util_errf(errbuf, errlen, "%s.converter: %s", s->name, why);
	return st;
}

/* Whether JSON text p (valid) is null, as Kafka Connect's converters
 * give a sink: no key, or no value (a tombstone). */
static int
json_is_null(const void *p, size_t len)
{
	const unsigned char *s = p, *e = s + len;

	while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		e--;
	return e - s == 4 && memcmp(s, "null", 4) == 0;
}

/*
 * One key or value: *p and *len become its JSON text, or NULL and 0 when
 * it decodes to null (an Avro null, a Connect payload null, the JSON
 * text null): a record without key, or a tombstone, as Kafka Connect's
 * converters make it.  KSINK_OK, or the failure with errbuf; *p and *len
 * are left alone then.
 */
static int
side_decode(struct ks_convert *c, struct side *s, size_t idx,
    const void **p, size_t *len, int32_t *id, const struct ksink_field **f,
    size_t *nf, char *errbuf, size_t errlen)
{
	const struct ksink_record *r = &c->recs[idx];
	const struct ks_fields *fl;
	struct ks_fields *mine;
	char why[768];
	int st;

	if (*p == NULL)
		return KSINK_OK;	/* null stays null */
	switch (s->kind) {
	case CONV_BYTES:
		return KSINK_OK;
	case CONV_JSON:
		if (!ks_json_valid(*p, *len))
			return poison(errbuf, errlen, s, r, -1, "not JSON "
			    "text");
		if (json_is_null(*p, *len)) {
			*p = NULL;
			*len = 0;
		}
		return KSINK_OK;	/* as it is, not copied */
	case CONV_STRING:
		if (!ks_utf8_valid(*p, *len))
			return poison(errbuf, errlen, s, r, -1, "not UTF-8 "
			    "text");
		ks_buf_reset(&c->scratch);
		ks_json_add_string(&c->scratch, *p, *len);
		if (c->scratch.oom) {
			ks_util_errf(errbuf, errlen, "%s.converter: out of "
			    "memory", s->name);
			return KSINK_FATAL;
		}
		*p = arena_copy(c, c->scratch.p, c->scratch.len);
		*len = c->scratch.len;
		return KSINK_OK;
	case CONV_CJSON:
		mine = &c->fields[2 * idx + (s == &c->value)];
		ks_fields_free(mine);
		ks_buf_reset(&c->scratch);
		st = ks_cjson_decode(*p, *len, &c->scratch, mine, why,
		    sizeof(why));
		if (st == KSINK_POISON)
			return poison(errbuf, errlen, s, r, -1, why);
		if (st != KSINK_OK) {
			ks_util_errf(errbuf, errlen, "%s.converter: %s",
			    s->name, why);
			return st;
		}
		*f = mine->v;
		*nf = mine->n;
		break;
	case CONV_AVRO:
		if ((st = avro_decode(c, s, r, *p, *len, id, errbuf,
		    errlen)) != KSINK_OK)
			return st;
		fl = ks_avro_schema_fields(s->last);
		*f = fl->v;
		*nf = fl->n;
		break;
	}
	if (json_is_null(c->scratch.p, c->scratch.len)) {
		*p = NULL;
		*len = 0;
		return KSINK_OK;
	}
	*p = arena_copy(c, c->scratch.p, c->scratch.len);
	*len = c->scratch.len;
	return KSINK_OK;
}

int
ks_convert_decode(struct ks_convert *c, size_t from, size_t *k,
    char *errbuf, size_t errlen)
{
	struct ksink_record *r;
	struct ksink_decoded *d;
	size_t i;
	int st;

	for (i = from; i < c->n; i++) {
		r = &c->recs[i];
		d = &c->dec[i];
		memset(d, 0, sizeof(*d));
		d->key_schema_id = d->value_schema_id = -1;
		d->key_raw = r->key;
		d->key_raw_len = r->key_len;
		d->value_raw = r->value;
		d->value_raw_len = r->value_len;
		st = side_decode(c, &c->key, i, &r->key, &r->key_len,
		    &d->key_schema_id, &d->key_fields, &d->key_field_count,
		    errbuf, errlen);
		if (st == KSINK_OK)
			st = side_decode(c, &c->value, i, &r->value,
			    &r->value_len, &d->value_schema_id,
			    &d->value_fields, &d->value_field_count, errbuf,
			    errlen);
		if (st != KSINK_OK) {
			/* Left as read from Kafka, for a retry or the dead
			 * letter queue. */
			r->key = d->key_raw;
			r->key_len = d->key_raw_len;
			memset(d, 0, sizeof(*d));
			*k = i;
			return st;
		}
		d->struct_size = sizeof(*d);
	}
	*k = c->n;
	return KSINK_OK;
}

const struct ksink_decoded *
ks_convert_decoded(const struct ks_convert *c, const struct ksink_record *r)
{
	size_t i;

	if (c == NULL || r < c->recs || r >= c->recs + c->n)
		return NULL;
	i = (size_t)(r - c->recs);
	return c->dec[i].struct_size != 0 ? &c->dec[i] : NULL;
}

void
ks_convert_raw(const struct ks_convert *c, const struct ksink_record *r,
    struct ksink_record *raw)
{
	const struct ksink_decoded *d = ks_convert_decoded(c, r);

	*raw = *r;
	if (d == NULL)
		return;
	raw->key = d->key_raw;
	raw->key_len = d->key_raw_len;
	raw->value = d->value_raw;
	raw->value_len = d->value_raw_len;
}
