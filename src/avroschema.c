/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * avroschema.c - an Avro writer schema, parsed by avro-c (which checks
 * names, references and types) and read again with jansson beside it for
 * what avro-c 1.11 leaves out: logical types, their precision and scale,
 * and the fields' defaults.  The result is a tree of nodes (avronode.h)
 * that avrodec.c decodes bodies with, and the field list of the ABI
 * (struct ksink_field).  avro-c's own objects are let go once parsed, so
 * that the tree is immutable and several threads may decode at once.
 */
#include "config.h"

#include <avro.h>
#include <jansson.h>
#include <inttypes.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "avrodec.h"
#include "avronode.h"
#include "ksink/sink.h"
#include "render.h"
#include "../connectors/lib/base64.h"
#include "../connectors/lib/buf.h"
#include "../connectors/lib/json.h"

struct parse {
	struct ks_avro_schema *s;
	/* avro-c's named schemas and the nodes built for them. */
	avro_schema_t *named;
	struct ks_avro_node **named_node;
	size_t nnamed, capnamed;
	char *errbuf;
	size_t errlen;
	int oom;		/* a text ran out of memory: KSINK_FATAL */
};

static struct ks_avro_node *
node_new(struct parse *p, int kind)
{
	struct ks_avro_schema *s = p->s;
	struct ks_avro_node *n = ks_util_xcalloc(1, sizeof(*n));

	n->kind = kind;
	if ((s->nnodes & (s->nnodes - 1)) == 0 || s->nnodes == 0)
		s->nodes = ks_util_xrealloc(s->nodes,
		    (s->nnodes ? s->nnodes * 2 : 1) * sizeof(*s->nodes));
	s->nodes[s->nnodes++] = n;
	return n;
}

static void
named_add(struct parse *p, avro_schema_t as, struct ks_avro_node *n)
{
	if (p->nnamed == p->capnamed) {
		p->capnamed = p->capnamed ? p->capnamed * 2 : 8;
		p->named = ks_util_xrealloc(p->named,
		    p->capnamed * sizeof(*p->named));
		p->named_node = ks_util_xrealloc(p->named_node,
		    p->capnamed * sizeof(*p->named_node));
	}
	p->named[p->nnamed] = as;
	p->named_node[p->nnamed++] = n;
}

static struct ks_avro_node *
named_find(struct parse *p, avro_schema_t as)
{
	size_t i;

	for (i = 0; i < p->nnamed; i++)
		if (p->named[i] == as)
			return p->named_node[i];
	return NULL;
}

/* The text of b, or NULL with errbuf set when it ran out of memory. */
static char *
take(struct parse *p, struct ks_buf *b)
{
	if (!b->oom)
		return b->p;
	ks_buf_free(b);
	p->oom = 1;
	ks_util_errf(p->errbuf, p->errlen, "schema: out of memory");
	return NULL;
}

static char *
full_name(struct parse *p, avro_schema_t as)
{
	const char *ns = avro_schema_namespace(as), *name = avro_schema_name(as);
	struct ks_buf b = { 0 };

	if (ns != NULL && *ns != '\0')
		ks_buf_addf(&b, "%s.%s", ns, name);
	else
		ks_buf_addf(&b, "%s", name != NULL ? name : "");
	return take(p, &b);
}

static const char *
json_str(json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * The logical type of a node of kind k whose JSON is js.  A logical type
 * that does not fit its type, or a decimal whose precision and scale are
 * invalid, is ignored, as the Avro specification says; one ksink cannot
 * render (more than KS_RENDER_MAX_DIGITS digits) is an error.
 */
static int
logical(struct parse *p, struct ks_avro_node *n, json_t *js, const char *where)
{
	const char *lt = json_str(js, "logicalType");
	json_t *jp, *js2;
	json_int_t prec, scale;

	if (lt == NULL)
		return 0;
	if (strcmp(lt, "decimal") == 0 &&
	    (n->kind == KA_BYTES || n->kind == KA_FIXED)) {
		jp = json_object_get(js, "precision");
		js2 = json_object_get(js, "scale");
		if (!json_is_integer(jp) || (js2 != NULL && !json_is_integer(js2)))
			return 0;
		prec = json_integer_value(jp);
		scale = js2 != NULL ? json_integer_value(js2) : 0;
		if (prec <= 0 || scale < 0 || scale > prec)
			return 0;
		if (prec > KS_RENDER_MAX_DIGITS) {
			ks_util_errf(p->errbuf, p->errlen, "schema: %s: decimal "
			    "precision %" JSON_INTEGER_FORMAT " is more than "
			    "the %d digits ksink renders", where, prec,
			    KS_RENDER_MAX_DIGITS);
			return -1;
		}
		n->logical = KL_DECIMAL;
		n->precision = (int32_t)prec;
		n->scale = (int32_t)scale;
	} else if (n->kind == KA_INT && strcmp(lt, "date") == 0)
		n->logical = KL_DATE;
	else if (n->kind == KA_INT && strcmp(lt, "time-millis") == 0)
		n->logical = KL_TIME_MILLIS;
	else if (n->kind == KA_LONG && strcmp(lt, "time-micros") == 0)
		n->logical = KL_TIME_MICROS;
	else if (n->kind == KA_LONG && strcmp(lt, "timestamp-millis") == 0)
		n->logical = KL_TIMESTAMP_MILLIS;
	else if (n->kind == KA_LONG && strcmp(lt, "timestamp-micros") == 0)
		n->logical = KL_TIMESTAMP_MICROS;
	else if (n->kind == KA_LONG &&
	    strcmp(lt, "local-timestamp-millis") == 0)
		n->logical = KL_LOCAL_TIMESTAMP_MILLIS;
	else if (n->kind == KA_LONG &&
	    strcmp(lt, "local-timestamp-micros") == 0)
		n->logical = KL_LOCAL_TIMESTAMP_MICROS;
	else if (strcmp(lt, "uuid") == 0 && (n->kind == KA_STRING ||
	    (n->kind == KA_FIXED && n->size == 16)))
		n->logical = KL_UUID;
	return 0;
}

static struct ks_avro_node *build(struct parse *, avro_schema_t, json_t *,
    const char *);

static int
mismatch(struct parse *p, const char *where)
{
	ks_util_errf(p->errbuf, p->errlen, "schema: %s: avro-c and the "
	    "schema's JSON disagree", where);
	return -1;
}

static char *
label(struct parse *p, const char *s, int member)
{
	struct ks_buf b = { 0 };

	ks_json_add_string(&b, s, strlen(s));
	if (member)
		ks_buf_addc(&b, ':');
	return take(p, &b);
}

static int
build_record(struct parse *p, struct ks_avro_node *n, avro_schema_t as,
    json_t *js)
{
	json_t *jf = json_object_get(js, "fields"), *f;
	const char *name, *jname;
	size_t i, j;

	n->n = avro_schema_record_size(as);
	if (!json_is_array(jf) || json_array_size(jf) != n->n)
		return mismatch(p, n->name);
	n->names = ks_util_xcalloc(n->n, sizeof(*n->names));
	n->labels = ks_util_xcalloc(n->n, sizeof(*n->labels));
	n->sub = ks_util_xcalloc(n->n, sizeof(*n->sub));
	n->defaults = ks_util_xcalloc(n->n, sizeof(*n->defaults));
	for (i = 0; i < n->n; i++) {
		name = avro_schema_record_field_name(as, (int)i);
		f = json_array_get(jf, i);
		jname = json_str(f, "name");
		if (name == NULL || jname == NULL || strcmp(name, jname) != 0)
			return mismatch(p, n->name);
		for (j = 0; j < i; j++)
			if (strcmp(n->names[j], name) == 0) {
				ks_util_errf(p->errbuf, p->errlen, "schema: "
				    "record %s has two fields named %s",
				    n->name, name);
				return -1;
			}
		n->names[i] = ks_util_strdup(name);
		if ((n->labels[i] = label(p, name, 1)) == NULL)
			return -1;
		n->defaults[i] = json_object_get(f, "default");
		n->sub[i] = build(p, avro_schema_record_field_get_by_index(as,
		    (int)i), json_object_get(f, "type"), name);
		if (n->sub[i] == NULL)
			return -1;
	}
	return 0;
}

static int
same_branch(const struct ks_avro_node *a, const struct ks_avro_node *b)
{
	if (a->kind == KA_RECORD || a->kind == KA_ENUM || a->kind == KA_FIXED)
		return b->kind == a->kind && strcmp(a->name, b->name) == 0;
	return a->kind == b->kind;
}

static int
build_union(struct parse *p, struct ks_avro_node *n, avro_schema_t as,
    json_t *js, const char *where)
{
	size_t i, j;

	n->n = avro_schema_union_size(as);
	if (!json_is_array(js) || json_array_size(js) != n->n || n->n == 0)
		return mismatch(p, where);
	n->sub = ks_util_xcalloc(n->n, sizeof(*n->sub));
	for (i = 0; i < n->n; i++) {
		n->sub[i] = build(p, avro_schema_union_branch(as, (int)i),
		    json_array_get(js, i), where);
		if (n->sub[i] == NULL)
			return -1;
		if (n->sub[i]->kind == KA_UNION) {
			ks_util_errf(p->errbuf, p->errlen, "schema: %s: a "
			    "union within a union", where);
			return -1;
		}
		for (j = 0; j < i; j++)
			if (same_branch(n->sub[i], n->sub[j])) {
				ks_util_errf(p->errbuf, p->errlen, "schema: %s: "
				    "a union with the same type twice", where);
				return -1;
			}
	}
	return 0;
}

/*
 * The node of avro-c's schema as, whose JSON is js, as the type of where
 * (a field's name, for messages).  A named type is built once: references
 * to it (avro-c links, or the same schema again) share its node.
 */
static struct ks_avro_node *
build(struct parse *p, avro_schema_t as, json_t *js, const char *where)
{
	struct ks_avro_node *n;
	int kind, i;

	if (as == NULL) {
		mismatch(p, where);
		return NULL;
	}
	if (is_avro_link(as))
		as = avro_schema_link_target(as);
	if ((n = named_find(p, as)) != NULL)
		return n;
	/* {"type": {...}}: the schema within. */
	while (json_is_object(js) && (json_is_object(json_object_get(js,
	    "type")) || json_is_array(json_object_get(js, "type"))))
		js = json_object_get(js, "type");
	switch (avro_typeof(as)) {
	case AVRO_NULL: kind = KA_NULL; break;
	case AVRO_BOOLEAN: kind = KA_BOOLEAN; break;
	case AVRO_INT32: kind = KA_INT; break;
	case AVRO_INT64: kind = KA_LONG; break;
	case AVRO_FLOAT: kind = KA_FLOAT; break;
	case AVRO_DOUBLE: kind = KA_DOUBLE; break;
	case AVRO_STRING: kind = KA_STRING; break;
	case AVRO_BYTES: kind = KA_BYTES; break;
	case AVRO_FIXED: kind = KA_FIXED; break;
	case AVRO_ENUM: kind = KA_ENUM; break;
	case AVRO_RECORD: kind = KA_RECORD; break;
	case AVRO_ARRAY: kind = KA_ARRAY; break;
	case AVRO_MAP: kind = KA_MAP; break;
	case AVRO_UNION: kind = KA_UNION; break;
	default:
		mismatch(p, where);
		return NULL;
	}
	n = node_new(p, kind);
	n->json = js;
	if (kind == KA_RECORD || kind == KA_ENUM || kind == KA_FIXED) {
		if ((n->name = full_name(p, as)) == NULL)
			return NULL;
		named_add(p, as, n);
	}
	switch (kind) {
	case KA_FIXED:
		n->size = avro_schema_fixed_size(as);
		break;
	case KA_ENUM:
		n->n = (size_t)avro_schema_enum_number_of_symbols(as);
		n->labels = ks_util_xcalloc(n->n ? n->n : 1,
		    sizeof(*n->labels));
		for (i = 0; i < (int)n->n; i++)
			if ((n->labels[i] = label(p, avro_schema_enum_get(as,
			    i), 0)) == NULL)
				return NULL;
		break;
	case KA_RECORD:
		if (build_record(p, n, as, js) == -1)
			return NULL;
		break;
	case KA_ARRAY:
	case KA_MAP:
		n->n = 1;
		n->sub = ks_util_xcalloc(1, sizeof(*n->sub));
		n->sub[0] = build(p, kind == KA_ARRAY ?
		    avro_schema_array_items(as) : avro_schema_map_values(as),
		    json_object_get(js, kind == KA_ARRAY ? "items" : "values"),
		    where);
		if (n->sub[0] == NULL)
			return NULL;
		break;
	case KA_UNION:
		if (build_union(p, n, as, js, where) == -1)
			return NULL;
		break;
	}
	if (json_is_object(js) && logical(p, n, js, where) == -1)
		return NULL;
	return n;
}

/* The fewest bytes a value of n takes; a lower bound within a cycle. */
static size_t
minsize(struct ks_avro_node *n)
{
	size_t i, sum = 0;

	if (n->state == 2 || n->state == 1)
		return n->state == 2 ? n->minsize : 0;
	n->state = 1;
	switch (n->kind) {
	case KA_NULL: sum = 0; break;
	case KA_FLOAT: sum = 4; break;
	case KA_DOUBLE: sum = 8; break;
	case KA_FIXED: sum = (size_t)n->size; break;
	case KA_RECORD:
		for (i = 0; i < n->n; i++) {
			sum += minsize(n->sub[i]);
			if (sum > SIZE_MAX / 4)
				sum = SIZE_MAX / 4;
		}
		break;
	case KA_ARRAY:
	case KA_MAP:
		minsize(n->sub[0]);
		sum = 1;
		break;
	case KA_UNION:
		for (i = 0; i < n->n; i++)
			minsize(n->sub[i]);
		sum = 1;
		break;
	default:		/* boolean, varints, lengths: one byte */
		sum = 1;
	}
	n->minsize = sum;
	n->state = 2;
	return sum;
}

/* ---- defaults, rendered as values are (ksink-converters(7)) ---- */

static int render_default(struct ks_buf *, const struct ks_avro_node *,
    json_t *, char *, size_t);

/* A JSON string whose code points are bytes, as Avro writes a default of
 * type bytes or fixed; its length, or -1. */
static ssize_t
default_bytes(json_t *v, unsigned char **out)
{
	const unsigned char *s;
	size_t i, n, k = 0;
	unsigned char *b;

	if (!json_is_string(v))
		return -1;
	s = (const unsigned char *)json_string_value(v);
	n = json_string_length(v);
	b = ks_util_xmalloc(n + 1);
	for (i = 0; i < n; i++) {
		if (s[i] < 0x80)
			b[k++] = s[i];
		else if ((s[i] == 0xc2 || s[i] == 0xc3) && i + 1 < n) {
			b[k++] = (unsigned char)((s[i] & 3) << 6 |
			    (s[i + 1] & 0x3f));
			i++;
		} else {
			free(b);
			return -1;
		}
	}
	*out = b;
	return (ssize_t)k;
}

static int
default_integer(struct ks_buf *b, const struct ks_avro_node *n,
    json_t *v)
{
	json_int_t i;

	if (!json_is_integer(v))
		return -1;
	i = json_integer_value(v);
	if (n->kind == KA_INT && (i < INT32_MIN || i > INT32_MAX))
		return -1;
	switch (n->logical) {
	case KL_DATE:
		ks_render_date(b, i);
		return 0;
	case KL_TIME_MILLIS:
	case KL_TIME_MICROS:
		return ks_render_time(b, i, n->logical == KL_TIME_MILLIS ? 3 : 6);
	case KL_TIMESTAMP_MILLIS:
	case KL_LOCAL_TIMESTAMP_MILLIS:
		ks_render_timestamp(b, i, 3, n->logical == KL_TIMESTAMP_MILLIS);
		return 0;
	case KL_TIMESTAMP_MICROS:
	case KL_LOCAL_TIMESTAMP_MICROS:
		ks_render_timestamp(b, i, 6, n->logical == KL_TIMESTAMP_MICROS);
		return 0;
	}
	ks_render_int(b, i);
	return 0;
}

static int
default_record(struct ks_buf *b, const struct ks_avro_node *n,
    json_t *v, char *errbuf, size_t errlen)
{
	json_t *f;
	size_t i;

	if (!json_is_object(v))
		return -1;
	ks_buf_add(b, "{", 1);
	for (i = 0; i < n->n; i++) {
		if (i > 0)
			ks_buf_add(b, ",", 1);
		ks_buf_addf(b, "%s", n->labels[i]);
		if ((f = json_object_get(v, n->names[i])) == NULL)
			f = n->defaults[i];
		if (f == NULL || render_default(b, n->sub[i], f, errbuf,
		    errlen) == -1)
			return -1;
	}
	ks_buf_add(b, "}", 1);
	return 0;
}

static int
default_container(struct ks_buf *b, const struct ks_avro_node *n,
    json_t *v, char *errbuf, size_t errlen)
{
	const char *k;
	json_t *x;
	size_t i;
	int first = 1;

	if (n->kind == KA_ARRAY) {
		if (!json_is_array(v))
			return -1;
		ks_buf_add(b, "[", 1);
		json_array_foreach(v, i, x) {
			if (i > 0)
				ks_buf_add(b, ",", 1);
			if (render_default(b, n->sub[0], x, errbuf, errlen) == -1)
				return -1;
		}
		ks_buf_add(b, "]", 1);
		return 0;
	}
	if (!json_is_object(v))
		return -1;
	ks_buf_add(b, "{", 1);
	json_object_foreach(v, k, x) {
		if (!first)
			ks_buf_add(b, ",", 1);
		first = 0;
		ks_json_add_string(b, k, strlen(k));
		ks_buf_add(b, ":", 1);
		if (render_default(b, n->sub[0], x, errbuf, errlen) == -1)
			return -1;
	}
	ks_buf_add(b, "}", 1);
	return 0;
}

static int
default_binary(struct ks_buf *b, const struct ks_avro_node *n,
    json_t *v, char *errbuf, size_t errlen)
{
	unsigned char *bytes;
	ssize_t len;
	int rc = 0;

	if ((len = default_bytes(v, &bytes)) == -1)
		return -1;
	if (n->kind == KA_FIXED && len != n->size)
		rc = -1;
	else if (n->logical == KL_DECIMAL)
		rc = ks_render_decimal(b, bytes, (size_t)len, n->precision,
		    n->scale, errbuf, errlen);
	else if (n->logical == KL_UUID)
		ks_render_uuid(b, bytes);
	else {
		ks_buf_addc(b, '"');
		ks_base64_add(b, bytes, (size_t)len);
		ks_buf_addc(b, '"');
	}
	free(bytes);
	return rc;
}

/* Appends the rendering of the default v of a value of n; -1 if v is not
 * a value of n (the buffer then holds part of it). */
static int
render_default(struct ks_buf *b, const struct ks_avro_node *n, json_t *v,
    char *errbuf, size_t errlen)
{
	size_t i, len;
	const char *s;

	switch (n->kind) {
	case KA_NULL:
		if (!json_is_null(v))
			return -1;
		ks_buf_add(b, "null", 4);
		return 0;
	case KA_BOOLEAN:
		if (!json_is_boolean(v))
			return -1;
		ks_buf_addf(b, "%s", json_is_true(v) ? "true" : "false");
		return 0;
	case KA_INT:
	case KA_LONG:
		return default_integer(b, n, v);
	case KA_FLOAT:
	case KA_DOUBLE:
		return ks_render_json_real(b, v, n->kind == KA_FLOAT);
	case KA_STRING:
		if (!json_is_string(v))
			return -1;
		ks_json_add_string(b, json_string_value(v),
		    json_string_length(v));
		return 0;
	case KA_BYTES:
	case KA_FIXED:
		return default_binary(b, n, v, errbuf, errlen);
	case KA_ENUM:
		if ((s = json_string_value(v)) == NULL)
			return -1;
		for (i = 0; i < n->n; i++) {
			len = strlen(n->labels[i]);
			if (len == strlen(s) + 2 &&
			    strncmp(n->labels[i] + 1, s, len - 2) == 0) {
				ks_buf_add(b, n->labels[i], len);
				return 0;
			}
		}
		return -1;
	case KA_RECORD:
		return default_record(b, n, v, errbuf, errlen);
	case KA_ARRAY:
	case KA_MAP:
		return default_container(b, n, v, errbuf, errlen);
	case KA_UNION:
		/* The first branch, as the specification says; then any. */
		len = b->len;
		for (i = 0; i < n->n; i++) {
			ks_buf_truncate(b, len);
			if (render_default(b, n->sub[i], v, errbuf, errlen) == 0)
				return 0;
		}
		return -1;
	}
	return -1;
}

/* ---- the field list (sink.h) ---- */

static const int kind_field[] = {
	[KA_NULL] = KSINK_FIELD_ANY,
	[KA_BOOLEAN] = KSINK_FIELD_BOOLEAN,
	[KA_INT] = KSINK_FIELD_INT32,
	[KA_LONG] = KSINK_FIELD_INT64,
	[KA_FLOAT] = KSINK_FIELD_FLOAT32,
	[KA_DOUBLE] = KSINK_FIELD_FLOAT64,
	[KA_STRING] = KSINK_FIELD_STRING,
	[KA_BYTES] = KSINK_FIELD_BYTES,
	[KA_FIXED] = KSINK_FIELD_BYTES,
	[KA_ENUM] = KSINK_FIELD_STRING,
	[KA_RECORD] = KSINK_FIELD_RECORD,
	[KA_ARRAY] = KSINK_FIELD_ARRAY,
	[KA_MAP] = KSINK_FIELD_MAP,
	[KA_UNION] = KSINK_FIELD_ANY,
};

static const int logical_field[] = {
	[KL_DECIMAL] = KSINK_FIELD_DECIMAL,
	[KL_DATE] = KSINK_FIELD_DATE,
	[KL_TIME_MILLIS] = KSINK_FIELD_TIME_MILLIS,
	[KL_TIME_MICROS] = KSINK_FIELD_TIME_MICROS,
	[KL_TIMESTAMP_MILLIS] = KSINK_FIELD_TIMESTAMP_MILLIS,
	[KL_TIMESTAMP_MICROS] = KSINK_FIELD_TIMESTAMP_MICROS,
	/* No zone: not a timestamptz, a string. */
	[KL_LOCAL_TIMESTAMP_MILLIS] = KSINK_FIELD_STRING,
	[KL_LOCAL_TIMESTAMP_MICROS] = KSINK_FIELD_STRING,
	[KL_UUID] = KSINK_FIELD_UUID,
};

/* The type and flags of the field list's entry for a value of n, and the
 * node whose fields follow it (a record, or NULL). */
static void
field_type(const struct ks_avro_node *n, int *type, unsigned *flags,
    const struct ks_avro_node **rec)
{
	const struct ks_avro_node *one = NULL;
	size_t i, k = 0;

	*flags = 0;
	*rec = NULL;
	if (n->kind == KA_UNION) {
		for (i = 0; i < n->n; i++)
			if (n->sub[i]->kind == KA_NULL)
				*flags |= KSINK_FIELD_OPTIONAL;
			else {
				one = n->sub[i];
				k++;
			}
		if (k != 1) {
			*type = KSINK_FIELD_ANY;
			return;
		}
		n = one;
	}
	if (n->kind == KA_NULL)
		*flags |= KSINK_FIELD_OPTIONAL;
	*type = n->logical != KL_NONE ? logical_field[n->logical] :
	    kind_field[n->kind];
	if (n->kind == KA_RECORD)
		*rec = n;
}

static const struct ks_avro_node *
decimal_of(const struct ks_avro_node *n)
{
	size_t i;

	if (n->kind != KA_UNION)
		return n;
	for (i = 0; i < n->n; i++)
		if (n->sub[i]->kind != KA_NULL)
			return n->sub[i];
	return n;
}

static int add_fields(struct parse *, const struct ks_avro_node *, int32_t);

static int
add_field(struct parse *p, const char *name, int32_t parent,
    const struct ks_avro_node *n, json_t *dflt)
{
	const struct ks_avro_node *rec, *d = decimal_of(n);
	struct ks_buf b = { 0 };
	unsigned flags;
	int type, rc;
	int32_t idx;

	if (p->s->fields.n >= KS_AVRO_MAX_FIELDS) {
		ks_util_errf(p->errbuf, p->errlen, "schema: more than %d "
		    "fields", KS_AVRO_MAX_FIELDS);
		return -1;
	}
	field_type(n, &type, &flags, &rec);
	if (rec != NULL && rec->state == 3)	/* recursive: any JSON */
		type = KSINK_FIELD_ANY, rec = NULL;
	if (dflt != NULL) {
		rc = render_default(&b, n, dflt, p->errbuf, p->errlen);
		if (b.oom) {
			take(p, &b);
			return -1;
		}
		if (rc == -1) {
			ks_buf_free(&b);
			ks_util_errf(p->errbuf, p->errlen, "schema: field %s: "
			    "its default is not a value of its type", name);
			return -1;
		}
	}
	idx = ks_fields_add(&p->s->fields, name, parent, type, flags,
	    type == KSINK_FIELD_DECIMAL ? d->precision : 0,
	    type == KSINK_FIELD_DECIMAL ? d->scale : 0, b.p);
	ks_buf_free(&b);
	if (rec == NULL)
		return 0;
	((struct ks_avro_node *)rec)->state = 3;
	rc = add_fields(p, rec, idx);
	((struct ks_avro_node *)rec)->state = 2;
	return rc;
}

static int
add_fields(struct parse *p, const struct ks_avro_node *rec, int32_t parent)
{
	size_t i;

	for (i = 0; i < rec->n; i++)
		if (add_field(p, rec->names[i], parent, rec->sub[i],
		    rec->defaults[i]) == -1)
			return -1;
	return 0;
}

static int
build_fields(struct parse *p, struct ks_avro_node *root)
{
	const struct ks_avro_node *rec;
	unsigned flags;
	int type, rc;

	/* A record, or a union of null and a record: its fields. */
	field_type(root, &type, &flags, &rec);
	if (rec == NULL)
		return add_field(p, "", -1, root, NULL);
	((struct ks_avro_node *)rec)->state = 3;
	rc = add_fields(p, rec, -1);
	((struct ks_avro_node *)rec)->state = 2;
	return rc;
}

int
ks_avro_schema_parse(const char *json, size_t len,
    struct ks_avro_schema **out, char *errbuf, size_t errlen)
{
	struct parse p = { .errbuf = errbuf, .errlen = errlen };
	avro_schema_t as = NULL;
	json_t *js = NULL;
	json_error_t jerr;
	size_t i;
	int rc = KSINK_POISON;

	*out = NULL;
	p.s = ks_util_xcalloc(1, sizeof(*p.s));
	if (avro_schema_from_json_length(json, len, &as) != 0) {
		ks_util_errf(errbuf, errlen, "schema: not an Avro schema: %s",
		    avro_strerror());
		as = NULL;
		goto out;
	}
	if ((js = json_loadb(json, len, JSON_DECODE_ANY, &jerr)) == NULL) {
		ks_util_errf(errbuf, errlen, "schema: not JSON: %s", jerr.text);
		goto out;
	}
	if ((p.s->root = build(&p, as, js, "the schema")) == NULL)
		goto out;
	minsize(p.s->root);
	if (build_fields(&p, p.s->root) == -1)
		goto out;
	rc = KSINK_OK;
out:
	if (p.oom)
		rc = KSINK_FATAL;
	for (i = 0; i < p.s->nnodes; i++) {
		p.s->nodes[i]->json = NULL;
		free(p.s->nodes[i]->defaults);
		p.s->nodes[i]->defaults = NULL;
	}
	free(p.named);
	free(p.named_node);
	if (js != NULL)
		json_decref(js);
	if (as != NULL)
		avro_schema_decref(as);
	if (rc == KSINK_OK)
		*out = p.s;
	else
		ks_avro_schema_free(p.s);
	return rc;
}

const struct ks_fields *
ks_avro_schema_fields(const struct ks_avro_schema *s)
{
	return &s->fields;
}

void
ks_avro_schema_free(struct ks_avro_schema *s)
{
	struct ks_avro_node *n;
	size_t i, j;

	if (s == NULL)
		return;
	for (i = 0; i < s->nnodes; i++) {
		n = s->nodes[i];
		for (j = 0; n->names != NULL && j < n->n; j++)
			free(n->names[j]);
		for (j = 0; n->labels != NULL && j < n->n; j++)
			free(n->labels[j]);
		free(n->names);
		free(n->labels);
		free(n->sub);
		free(n->name);
		free(n->defaults);
		free(n);
	}
	free(s->nodes);
	ks_fields_free(&s->fields);
	free(s);
}
