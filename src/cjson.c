/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cjson.c - Kafka Connect's JSON with schema (JsonConverter with
 * schemas.enable = true): {"schema": S, "payload": P}, read with jansson;
 * P rendered by S as the Avro decoder renders values (render.c), and S as
 * the ABI's field list.
 *
 * Connect's types: int8, int16, int32, int64, float32, float64, boolean,
 * string, bytes (base64 in the payload), array (items), map (keys,
 * values: an object when the keys are strings, else an array of [key,
 * value] pairs), struct (fields, each with "field" its name); "optional"
 * allows null; the logical names org.apache.kafka.connect.data.Decimal
 * (bytes: base64 of the unscaled value, parameters.scale), Date (int32
 * days), Time (int32 milliseconds) and Timestamp (int64 milliseconds).
 */
#include "config.h"

#include <jansson.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjson.h"
#include "ksink/sink.h"
#include "render.h"
#include "../connectors/lib/base64.h"
#include "../connectors/lib/buf.h"
#include "../connectors/lib/json.h"

#define CONNECT "org.apache.kafka.connect.data."

/* The deepest nesting of schemas a message may have. */
#define CJ_MAX_DEPTH	64

enum cj_type {
	CJ_INT8, CJ_INT16, CJ_INT32, CJ_INT64, CJ_FLOAT32, CJ_FLOAT64,
	CJ_BOOLEAN, CJ_STRING, CJ_BYTES, CJ_ARRAY, CJ_MAP, CJ_STRUCT,
	CJ_DECIMAL, CJ_DATE, CJ_TIME, CJ_TIMESTAMP
};

static const struct {
	const char *name;
	int type, field;
} types[] = {
	{ "int8", CJ_INT8, KSINK_FIELD_INT32 },
	{ "int16", CJ_INT16, KSINK_FIELD_INT32 },
	{ "int32", CJ_INT32, KSINK_FIELD_INT32 },
	{ "int64", CJ_INT64, KSINK_FIELD_INT64 },
	{ "float32", CJ_FLOAT32, KSINK_FIELD_FLOAT32 },
	{ "float64", CJ_FLOAT64, KSINK_FIELD_FLOAT64 },
	{ "boolean", CJ_BOOLEAN, KSINK_FIELD_BOOLEAN },
	{ "string", CJ_STRING, KSINK_FIELD_STRING },
	{ "bytes", CJ_BYTES, KSINK_FIELD_BYTES },
	{ "array", CJ_ARRAY, KSINK_FIELD_ARRAY },
	{ "map", CJ_MAP, KSINK_FIELD_MAP },
	{ "struct", CJ_STRUCT, KSINK_FIELD_RECORD },
};

/* One schema of the message, checked. */
struct cj_schema {
	int type;			/* enum cj_type */
	int field;			/* enum ksink_field_type */
	int optional;
	int32_t precision, scale;	/* CJ_DECIMAL */
	json_t *json;
};

struct cj {
	struct ks_buf *out;
	int oom;			/* a default's buffer ran out */
	char *errbuf;
	size_t errlen;
	const char *path[CJ_MAX_DEPTH + 1];
	int depth;
};

static int
fail(struct cj *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Sets errbuf to "field a.b: what"; -1. */
static int
fail(struct cj *c, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ks_fields_errf(c->errbuf, c->errlen, c->path, c->depth, "%s", what);
	return -1;
}

/* A parameter of a logical type, a string in Connect's JSON ("2"), or a
 * number. */
static int
param(json_t *s, const char *name, int32_t *v)
{
	json_t *x = json_object_get(json_object_get(s, "parameters"), name);
	long long l;
	char *end;

	if (json_is_integer(x))
		l = json_integer_value(x);
	else if (json_is_string(x)) {
		l = strtoll(json_string_value(x), &end, 10);
		if (end == json_string_value(x) || *end != '\0')
			return -1;
	} else
		return x == NULL ? 1 : -1;
	if (l < INT32_MIN || l > INT32_MAX)
		return -1;
	*v = (int32_t)l;
	return 0;
}

/* Reads the schema s into out; -1 with errbuf set when it is not one. */
static int
schema(struct cj *c, json_t *s, struct cj_schema *out)
{
	const char *t, *name;
	json_t *opt;
	size_t i;
	int r;

	memset(out, 0, sizeof(*out));
	out->json = s;
	if (!json_is_object(s) || (t = json_string_value(json_object_get(s,
	    "type"))) == NULL)
		return fail(c, "schema without a type");
	for (i = 0; i < KS_ARRAY_SIZE(types); i++)
		if (strcmp(types[i].name, t) == 0)
			break;
	if (i == KS_ARRAY_SIZE(types))
		return fail(c, "unknown schema type \"%.40s\"", t);
	out->type = types[i].type;
	out->field = types[i].field;
	opt = json_object_get(s, "optional");
	if (opt != NULL && !json_is_boolean(opt))
		return fail(c, "schema's optional is not a boolean");
	out->optional = json_is_true(opt);
	name = json_string_value(json_object_get(s, "name"));
	if (name == NULL || strncmp(name, CONNECT, strlen(CONNECT)) != 0)
		return 0;
	name += strlen(CONNECT);
	if (strcmp(name, "Decimal") == 0 && out->type == CJ_BYTES) {
		if (param(s, "scale", &out->scale) != 0)
			return fail(c, "Decimal without an integer "
			    "parameters.scale");
		if ((r = param(s, "connect.decimal.precision",
		    &out->precision)) == -1 || out->precision < 0)
			return fail(c, "Decimal with a bad "
			    "connect.decimal.precision");
		if (r == 1)
			out->precision = 0;
		if (out->scale < -KS_RENDER_MAX_DIGITS ||
		    out->scale > KS_RENDER_MAX_DIGITS ||
		    out->precision > KS_RENDER_MAX_DIGITS)
			return fail(c, "Decimal of more than %d digits",
			    KS_RENDER_MAX_DIGITS);
		out->type = CJ_DECIMAL;
		out->field = KSINK_FIELD_DECIMAL;
	} else if (strcmp(name, "Date") == 0 && out->type == CJ_INT32) {
		out->type = CJ_DATE;
		out->field = KSINK_FIELD_DATE;
	} else if (strcmp(name, "Time") == 0 && out->type == CJ_INT32) {
		out->type = CJ_TIME;
		out->field = KSINK_FIELD_TIME_MILLIS;
	} else if (strcmp(name, "Timestamp") == 0 && out->type == CJ_INT64) {
		out->type = CJ_TIMESTAMP;
		out->field = KSINK_FIELD_TIMESTAMP_MILLIS;
	}
	return 0;
}

static int render(struct cj *, json_t *schema, json_t *payload);

static int
render_int(struct cj *c, const struct cj_schema *s, json_t *p)
{
	static const int64_t lo[] = { INT8_MIN, INT16_MIN, INT32_MIN },
	    hi[] = { INT8_MAX, INT16_MAX, INT32_MAX };
	json_int_t v;

	if (!json_is_integer(p))
		return fail(c, "not an integer");
	v = json_integer_value(p);
	if (s->type <= CJ_INT32 && (v < lo[s->type] || v > hi[s->type]))
		return fail(c, "%" JSON_INTEGER_FORMAT " out of an %s's range",
		    v, types[s->type].name);
	switch (s->type) {
	case CJ_DATE:
		if (v < INT32_MIN || v > INT32_MAX)
			return fail(c, "Date out of range");
		ks_render_date(c->out, v);
		return 0;
	case CJ_TIME:
		if (ks_render_time(c->out, v, 3) == -1)
			return fail(c, "Time %" JSON_INTEGER_FORMAT " not "
			    "within a day", v);
		return 0;
	case CJ_TIMESTAMP:
		ks_render_timestamp(c->out, v, 3, 1);
		return 0;
	}
	ks_render_int(c->out, v);
	return 0;
}

static int
render_bytes(struct cj *c, const struct cj_schema *s, json_t *p)
{
	unsigned char *b;
	char why[128];
	size_t len;
	long n;
	int rc = 0;

	if (!json_is_string(p))
		return fail(c, "not a base64 string");
	len = json_string_length(p);
	b = ks_util_xmalloc(len / 4 * 3 + 1);
	if ((n = ks_base64_decode(b, json_string_value(p), len)) == -1) {
		free(b);
		return fail(c, "not a base64 string");
	}
	if (s->type == CJ_DECIMAL) {
		if (ks_render_decimal(c->out, b, (size_t)n, s->precision,
		    s->scale, why, sizeof(why)) == -1)
			rc = fail(c, "%s", why);
	} else {
		ks_buf_addc(c->out, '"');
		ks_base64_add(c->out, b, (size_t)n);
		ks_buf_addc(c->out, '"');
	}
	free(b);
	return rc;
}

static int
render_struct(struct cj *c, const struct cj_schema *s, json_t *p)
{
	json_t *fields = json_object_get(s->json, "fields"), *f, *v;
	const char *name;
	size_t i;

	if (!json_is_array(fields))
		return fail(c, "struct schema without fields");
	if (!json_is_object(p))
		return fail(c, "not an object");
	ks_buf_add(c->out, "{", 1);
	json_array_foreach(fields, i, f) {
		if ((name = json_string_value(json_object_get(f, "field"))) ==
		    NULL)
			return fail(c, "struct field %zu without a name", i);
		if (i > 0)
			ks_buf_add(c->out, ",", 1);
		ks_json_add_string(c->out, name, strlen(name));
		ks_buf_add(c->out, ":", 1);
		c->path[c->depth] = name;
		if ((v = json_object_get(p, name)) == NULL)
			v = json_null();
		if (render(c, f, v) == -1)
			return -1;
	}
	ks_buf_add(c->out, "}", 1);
	return 0;
}

static int
render_container(struct cj *c, const struct cj_schema *s, json_t *p)
{
	json_t *items = json_object_get(s->json, s->type == CJ_ARRAY ?
	    "items" : "values"), *keys = json_object_get(s->json, "keys"), *x;
	const char *k;
	size_t i;

	if (items == NULL || (s->type == CJ_MAP && keys == NULL))
		return fail(c, "%s schema without its %s", types[s->type].name,
		    s->type == CJ_ARRAY ? "items" : "keys and values");
	c->path[c->depth] = "[]";
	if (s->type == CJ_MAP && json_is_object(p) && strcmp(
	    json_string_value(json_object_get(keys, "type")) ?
	    json_string_value(json_object_get(keys, "type")) : "",
	    "string") == 0) {
		ks_buf_add(c->out, "{", 1);
		i = 0;
		json_object_foreach(p, k, x) {
			if (i++ > 0)
				ks_buf_add(c->out, ",", 1);
			ks_json_add_string(c->out, k, strlen(k));
			ks_buf_add(c->out, ":", 1);
			if (render(c, items, x) == -1)
				return -1;
		}
		ks_buf_add(c->out, "}", 1);
		return 0;
	}
	if (!json_is_array(p))
		return fail(c, "not an array");
	ks_buf_add(c->out, "[", 1);
	json_array_foreach(p, i, x) {
		if (i > 0)
			ks_buf_add(c->out, ",", 1);
		if (s->type == CJ_ARRAY) {
			if (render(c, items, x) == -1)
				return -1;
			continue;
		}
		/* A map whose keys are not strings: [key, value] pairs. */
		if (!json_is_array(x) || json_array_size(x) != 2)
			return fail(c, "map entry %zu is not a [key, value] "
			    "pair", i);
		ks_buf_add(c->out, "[", 1);
		if (render(c, keys, json_array_get(x, 0)) == -1)
			return -1;
		ks_buf_add(c->out, ",", 1);
		if (render(c, items, json_array_get(x, 1)) == -1)
			return -1;
		ks_buf_add(c->out, "]", 1);
	}
	ks_buf_add(c->out, "]", 1);
	return 0;
}

/* Appends the rendering of payload p by schema js; -1 with errbuf set. */
static int
render(struct cj *c, json_t *js, json_t *p)
{
	struct cj_schema s;
	int rc;

	if (c->depth >= CJ_MAX_DEPTH)
		return fail(c, "nested deeper than %d", CJ_MAX_DEPTH);
	c->depth++;
	c->path[c->depth] = NULL;
	if (schema(c, js, &s) == -1) {
		rc = -1;
	} else if (json_is_null(p)) {
		json_t *d = json_object_get(js, "default");

		if (d != NULL && !json_is_null(d))
			rc = render(c, js, d);
		else if (s.optional) {
			ks_buf_add(c->out, "null", 4);
			rc = 0;
		} else
			rc = fail(c, "null, and the schema is not optional");
	} else {
		switch (s.type) {
		case CJ_FLOAT32:
		case CJ_FLOAT64:
			rc = ks_render_json_real(c->out, p,
			    s.type == CJ_FLOAT32) == 0 ? 0 :
			    fail(c, "not a number");
			break;
		case CJ_BOOLEAN:
			if (!json_is_boolean(p))
				rc = fail(c, "not a boolean");
			else {
				ks_buf_addf(c->out, "%s",
				    json_is_true(p) ? "true" : "false");
				rc = 0;
			}
			break;
		case CJ_STRING:
			if (!json_is_string(p))
				rc = fail(c, "not a string");
			else {
				ks_json_add_string(c->out,
				    json_string_value(p), json_string_length(p));
				rc = 0;
			}
			break;
		case CJ_BYTES:
		case CJ_DECIMAL:
			rc = render_bytes(c, &s, p);
			break;
		case CJ_STRUCT:
			rc = render_struct(c, &s, p);
			break;
		case CJ_ARRAY:
		case CJ_MAP:
			rc = render_container(c, &s, p);
			break;
		default:
			rc = render_int(c, &s, p);
		}
	}
	c->depth--;
	return rc;
}

/* The field list of schema js (sink.h): a struct's fields, nested
 * structs' after their own entry. */
static int
fields_of(struct cj *c, json_t *js, const char *name, int32_t parent,
    struct ks_fields *fields)
{
	struct cj_schema s;
	struct ks_buf d = { 0 };
	json_t *f, *dflt;
	const char *fname;
	size_t i;
	int32_t idx;
	int rc = 0;

	if (schema(c, js, &s) == -1)
		return -1;
	if ((dflt = json_object_get(js, "default")) != NULL &&
	    !json_is_null(dflt)) {
		struct ks_buf *keep = c->out;

		c->out = &d;
		rc = render(c, js, dflt);
		c->out = keep;
		if (d.oom)
			c->oom = 1;
		if (rc == -1 || d.oom) {
			ks_buf_free(&d);
			return -1;
		}
	}
	if (parent == -2 && s.type == CJ_STRUCT)	/* the top struct */
		idx = -1;
	else
		idx = ks_fields_add(fields, name, parent < 0 ? -1 : parent,
		    s.field, s.optional ? KSINK_FIELD_OPTIONAL : 0,
		    s.precision, s.type == CJ_DECIMAL ? s.scale : 0, d.p);
	ks_buf_free(&d);
	if (s.type != CJ_STRUCT)
		return 0;
	f = json_object_get(js, "fields");
	if (!json_is_array(f))
		return fail(c, "struct schema without fields");
	if (fields->n + json_array_size(f) > 10000 || c->depth >= CJ_MAX_DEPTH)
		return fail(c, "schema of too many fields");
	c->depth++;
	for (i = 0; i < json_array_size(f) && rc == 0; i++) {
		fname = json_string_value(json_object_get(json_array_get(f, i),
		    "field"));
		c->path[c->depth] = fname;
		if (fname == NULL)
			rc = fail(c, "struct field %zu without a name", i);
		else
			rc = fields_of(c, json_array_get(f, i), fname, idx,
			    fields);
	}
	c->depth--;
	return rc;
}

int
ks_cjson_decode(const void *text, size_t len, struct ks_buf *out,
    struct ks_fields *fields, char *errbuf, size_t errlen)
{
	struct cj c = { .out = out, .errbuf = errbuf, .errlen = errlen };
	json_t *root, *s, *p;
	json_error_t jerr;
	size_t start = out->len;
	int rc;

	if ((root = json_loadb(text, len, JSON_ALLOW_NUL, &jerr)) == NULL) {
		ks_util_errf(errbuf, errlen, "not JSON: %s at line %d column "
		    "%d", jerr.text, jerr.line, jerr.column);
		return KSINK_POISON;
	}
	s = json_object_get(root, "schema");
	p = json_object_get(root, "payload");
	if (!json_is_object(root) || s == NULL || p == NULL) {
		ks_util_errf(errbuf, errlen, "not Kafka Connect's JSON with "
		    "schema: no \"schema\" and \"payload\" (is "
		    "schemas.enable right?)");
		rc = -1;
	} else if (json_is_null(s))	/* schemaless, as Connect writes */
		rc = -1, ks_util_errf(errbuf, errlen, "the schema is null");
	else if ((rc = fields_of(&c, s, "", -2, fields)) == 0) {
		c.depth = 0;
		rc = render(&c, s, p);
	}
	json_decref(root);
	if (c.oom || out->oom) {	/* checked once, here */
		ks_util_errf(errbuf, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		return KSINK_OK;
	ks_buf_truncate(out, start);
	ks_fields_free(fields);
	return c.oom || out->oom ? KSINK_FATAL : KSINK_POISON;
}
