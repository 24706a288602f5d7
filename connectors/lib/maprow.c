/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/maprow.c - a record's key and value turned into a row of
 * named column values for the table mapping: schemaless JSON typed by its
 * values, or JSON with the schema a converter gave (struct ksink_field),
 * typed by the schema, every field a column.  See mapping.h and
 * ksink-mapping(7).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "err.h"
#include "json.h"
#include "mapping.h"

void
ks_mapping_row_free(struct ks_mapping_row *row)
{
	free(row->table);
	free(row->cols);
	ks_buf_free(&row->arena);
	memset(row, 0, sizeof(*row));
}

int
ks_mapping_rows_grow(struct ks_mapping_rows *rows, size_t n)
{
	struct ks_mapping_row *v;

	if (n <= rows->n)
		return 0;
	if ((v = realloc(rows->v, n * sizeof(*v))) == NULL)
		return -1;
	memset(v + rows->n, 0, (n - rows->n) * sizeof(*v));
	rows->v = v;
	rows->n = n;
	return 0;
}

void
ks_mapping_rows_free(struct ks_mapping_rows *rows)
{
	size_t i;

	for (i = 0; i < rows->n; i++)
		ks_mapping_row_free(&rows->v[i]);
	free(rows->v);
	rows->v = NULL;
	rows->n = 0;
}

void
ks_mapping_schema_get(const struct ksink_host *host, struct ksink_ctx *ctx,
    const struct ksink_record *r, struct ks_mapping_schema *s)
{
	const struct ksink_decoded *d;

	memset(s, 0, sizeof(*s));
	if (!KSINK_HOST_HAS(host, decoded) || host->decoded == NULL ||
	    (d = host->decoded(ctx, r)) == NULL || d->struct_size <
	    KSINK_SIZE_THROUGH(struct ksink_decoded, value_field_count))
		return;
	if (d->key_fields != NULL && d->key_field_count > 0) {
		s->key = d->key_fields;
		s->nkey = d->key_field_count;
	}
	if (d->value_fields != NULL && d->value_field_count > 0) {
		s->value = d->value_fields;
		s->nvalue = d->value_field_count;
	}
}

int
ks_mapping_same_name(const struct ks_mapping *m, const char *a,
    const char *b)
{
	unsigned char x, y;

	if (m->dialect == KS_MAP_POSTGRES && m->quote)
		return strcmp(a, b) == 0;
	/* SQLite's identifiers are the same whatever their ASCII case,
	 * quoted or not; PostgreSQL folds unquoted ones to lower case. */
	for (;; a++, b++) {
		x = (unsigned char)*a;
		y = (unsigned char)*b;
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return 0;
		if (x == '\0')
			return 1;
	}
}

struct ks_mapping_col *
ks_mapping_row_col(const struct ks_mapping *m, struct ks_mapping_row *row,
    const char *name)
{
	size_t i;

	for (i = 0; i < row->ncols; i++)
		if (ks_mapping_same_name(m, row->cols[i].name, name))
			return &row->cols[i];
	return NULL;
}

/* While a row is built, its names and texts are offsets into the arena
 * (which moves as it grows), kept in these. */
struct build {
	const struct ks_mapping *m;
	const struct ksink_record *r;
	struct ks_mapping_row *row;
	size_t *name_off, *text_off;
	size_t cap;
	char *errbuf;
	size_t errlen;
	const char *what;	/* "key" or "value" */
	int pk;			/* the columns made now are the key's */
	/* The schema of the key or value being read (NULL: none), and
	 * which of its fields the record named. */
	const struct ksink_field *f;
	size_t nf;
	unsigned char *seen;
};

/* The parent of the members of an object that no schema describes. */
#define NOSCHEMA (-2)

static int
poison(struct build *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
poison(struct build *b, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ks_err_set(b->errbuf, b->errlen, "record %s/%d@%lld: %s", b->r->topic,
	    (int)b->r->partition, (long long)b->r->offset, msg);
	return KSINK_POISON;
}

static void
utf8_put(struct ks_buf *o, unsigned long c)
{
	char u[4];

	if (c < 0x80) {
		ks_buf_addc(o, (char)c);
	} else if (c < 0x800) {
		u[0] = (char)(0xc0 | (c >> 6));
		u[1] = (char)(0x80 | (c & 0x3f));
		ks_buf_add(o, u, 2);
	} else if (c < 0x10000) {
		u[0] = (char)(0xe0 | (c >> 12));
		u[1] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[2] = (char)(0x80 | (c & 0x3f));
		ks_buf_add(o, u, 3);
	} else {
		u[0] = (char)(0xf0 | (c >> 18));
		u[1] = (char)(0x80 | ((c >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((c >> 6) & 0x3f));
		u[3] = (char)(0x80 | (c & 0x3f));
		ks_buf_add(o, u, 4);
	}
}

static unsigned long
hex4(const unsigned char *p)
{
	unsigned long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (p[i] >= '0' && p[i] <= '9')
			v |= p[i] - '0';
		else if (p[i] >= 'a' && p[i] <= 'f')
			v |= p[i] - 'a' + 10;
		else
			v |= p[i] - 'A' + 10;
	}
	return v;
}

/*
 * Decodes the JSON string at s->p (already known to be valid) into o;
 * a lone surrogate becomes U+FFFD.  Sets *nul when it holds U+0000.
 */
static void
decode_string(struct ks_json_scan *s, struct ks_buf *o, int *nul)
{
	const unsigned char *p = s->p + 1;
	unsigned long c, lo;

	*nul = 0;
	for (;;) {
		if (*p == '"')
			break;
		if (*p != '\\') {
			ks_buf_addc(o, (char)*p++);
			continue;
		}
		p++;
		switch (*p) {
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			c = hex4(p + 1);
			p += 4;
			if (c >= 0xd800 && c <= 0xdbff && p[1] == '\\' &&
			    p[2] == 'u' && (lo = hex4(p + 3)) >= 0xdc00 &&
			    lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) +
				    (lo - 0xdc00);
				p += 6;
			} else if (c >= 0xd800 && c <= 0xdfff)
				c = 0xfffd;
			if (c == 0)
				*nul = 1;
			break;
		default: c = *p; break; /* " \ / */
		}
		utf8_put(o, c);
		p++;
	}
	s->p = p + 1;
}

int
ks_mapping_json_string(struct ks_buf *o, const char *text, size_t n)
{
	struct ks_json_scan s;
	int nul;

	if (n < 2 || *text != '"' || !ks_json_valid(text, n))
		return -1;
	memset(&s, 0, sizeof(s));
	s.p = (const unsigned char *)text;
	s.end = s.p + n;
	decode_string(&s, o, &nul);
	return nul || s.p != s.end ? -1 : 0;
}

static int
add_col(struct build *b, size_t name_off, int type, size_t text_off,
    size_t len)
{
	struct ks_mapping_row *row = b->row;
	struct ks_mapping_col *c;
	size_t *no, *to, n;

	if (row->ncols == row->cap) {
		n = row->cap ? row->cap * 2 : 16;
		if ((c = realloc(row->cols, n * sizeof(*c))) == NULL)
			return KSINK_FATAL;
		row->cols = c;
		if ((no = realloc(b->name_off, n * sizeof(*no))) == NULL)
			return KSINK_FATAL;
		b->name_off = no;
		if ((to = realloc(b->text_off, n * sizeof(*to))) == NULL)
			return KSINK_FATAL;
		b->text_off = to;
		row->cap = n;
	}
	c = &row->cols[row->ncols];
	memset(c, 0, sizeof(*c));
	c->type = type;
	c->decl = type;
	c->len = len;
	c->pk = b->pk;
	b->name_off[row->ncols] = name_off;
	b->text_off[row->ncols] = text_off;
	row->ncols++;
	return KSINK_OK;
}

static const char *
arena_str(struct build *b, size_t off)
{
	return b->row->arena.p + off;
}

/* Whether the column named at name_off is written (value fields only). */
static int
wanted(struct build *b, const char *name)
{
	const struct ks_mapping *m = b->m;
	size_t i;

	if (b->pk)
		return 1;
	if (m->ninclude > 0 && !ks_mapping_in_list(m->include, m->ninclude, name))
		return 0;
	if (ks_mapping_in_list(m->exclude, m->nexclude, name))
		return 0;
	/* The key's own columns come from the key. */
	if (m->pk_mode == KS_MAP_PK_RECORD_KEY || m->pk_mode == KS_MAP_PK_KAFKA)
		for (i = 0; i < b->row->ncols; i++)
			if (b->row->cols[i].pk && ks_mapping_same_name(m,
			    arena_str(b, b->name_off[i]), name))
				return 0;
	return 1;
}

/* One scalar, array or unflattened object as column name_off; with
 * as_json, any value but null as its JSON text. */
static int
scalar(struct build *b, struct ks_json_scan *s, size_t name_off, int as_json)
{
	struct ks_buf *a = &b->row->arena;
	const unsigned char *from = s->p;
	size_t off;
	int nul, type;
	char *end;

	off = a->len;
	switch (as_json && *s->p != 'n' ? '[' : *s->p) {
	case '"':
		decode_string(s, a, &nul);
		if (nul)
			return poison(b, "%s field \"%s\": the string holds "
			    "U+0000, which SQL text cannot", b->what,
			    arena_str(b, name_off));
		type = KS_MAP_T_STRING;
		break;
	case '{':
	case '[':
		s->out = a;
		if (ks_json_scan_value(s) == -1)
			return KSINK_FATAL;
		s->out = NULL;
		type = KS_MAP_T_JSON;
		break;
	case 't':
	case 'f':
	case 'n':
		type = *s->p == 'n' ? KS_MAP_T_NULL : KS_MAP_T_BOOLEAN;
		ks_json_scan_value(s);
		break;
	default:
		ks_json_scan_value(s);
		ks_buf_add(a, from, (size_t)(s->p - from));
		type = KS_MAP_T_INTEGER;
		for (; from < s->p; from++)
			if (*from == '.' || *from == 'e' || *from == 'E')
				type = KS_MAP_T_NUMBER;
		break;
	}
	ks_buf_addc(a, '\0');
	if (a->oom || add_col(b, name_off, type, off, a->len - off - 1) !=
	    KSINK_OK)
		return KSINK_FATAL;
	struct ks_mapping_col *c = &b->row->cols[b->row->ncols - 1];
	if (type == KS_MAP_T_BOOLEAN)
		c->i = *from == 't';
	else if (type == KS_MAP_T_INTEGER) {
		errno = 0;
		c->i = strtoll(arena_str(b, off), &end, 10);
		if (errno == ERANGE)
			return poison(b, "%s field \"%s\": the integer %s does "
			    "not fit in 64 bits; send it as a string", b->what,
			    arena_str(b, name_off), arena_str(b, off));
		c->d = (double)c->i;
	} else if (type == KS_MAP_T_NUMBER)
		c->d = strtod(arena_str(b, off), &end);
	return KSINK_OK;
}

/* Whether a field's value is a column of JSON text. */
static int
json_kind(const struct ksink_field *f)
{
	return ks_mapping_field_type(f) == KS_MAP_T_JSON;
}

/* Whether text[0..n) is a decimal's rendering: -?[0-9]+(.[0-9]+)? */
static int
decimal_text(const char *t, size_t n)
{
	size_t i = 0, d;

	if (i < n && t[i] == '-')
		i++;
	for (d = i; i < n && t[i] >= '0' && t[i] <= '9'; i++)
		;
	if (i == d)
		return 0;
	if (i < n && t[i] == '.') {
		for (d = ++i; i < n && t[i] >= '0' && t[i] <= '9'; i++)
			;
		if (i == d)
			return 0;
	}
	return i == n;
}

/*
 * Makes the last column field f's: the column's type from the schema,
 * NOT NULL when f is required and no record around it (opt) may be null,
 * its default; the value, read as JSON, checked against the type and
 * turned into it (a float's "NaN", bytes' base64).
 */
static int
typed(struct build *b, const struct ksink_field *f, int opt)
{
	size_t ci = b->row->ncols - 1;
	struct ks_mapping_col *c = &b->row->cols[ci];
	char *t = b->row->arena.p + b->text_off[ci];
	const char *name = arena_str(b, b->name_off[ci]);
	int want = ks_mapping_field_type(f), ok;
	long n;

	c->decl = want;
	c->notnull = !(f->flags & KSINK_FIELD_OPTIONAL) && !opt;
	c->precision = f->precision;
	c->scale = f->scale;
	c->def = f->default_json;
	if (c->type == KS_MAP_T_NULL) {
		if (c->notnull)
			return poison(b, "%s field \"%s\" is null, but its "
			    "schema makes it required", b->what, name);
		return KSINK_OK;
	}
	switch (want) {
	case KS_MAP_T_INTEGER:
	case KS_MAP_T_INT32:
		ok = c->type == KS_MAP_T_INTEGER;
		if (ok && want == KS_MAP_T_INT32 && (c->i < INT32_MIN ||
		    c->i > INT32_MAX))
			return poison(b, "%s field \"%s\": %s does not fit in "
			    "the 32-bit integer of its schema", b->what, name,
			    t);
		break;
	case KS_MAP_T_NUMBER:
	case KS_MAP_T_FLOAT32:
		ok = c->type == KS_MAP_T_INTEGER || c->type == KS_MAP_T_NUMBER;
		if (c->type == KS_MAP_T_STRING && (strcmp(t, "NaN") == 0 ||
		    strcmp(t, "Infinity") == 0 ||
		    strcmp(t, "-Infinity") == 0)) {
			c->d = *t == 'N' ? NAN : *t == '-' ? -INFINITY :
			    INFINITY;
			ok = 1;
		}
		break;
	case KS_MAP_T_BYTES:
		ok = c->type == KS_MAP_T_STRING &&
		    (n = ks_base64_decode(t, t, c->len)) >= 0;
		if (ok)
			c->len = (size_t)n;
		break;
	case KS_MAP_T_DECIMAL:
		ok = c->type == KS_MAP_T_STRING && decimal_text(t, c->len);
		break;
	case KS_MAP_T_STRING:
		ok = c->type == KS_MAP_T_STRING;
		break;
	case KS_MAP_T_DATE:
	case KS_MAP_T_TIME:
	case KS_MAP_T_TIMESTAMP:
	case KS_MAP_T_UUID:
		ok = c->type == KS_MAP_T_STRING && c->len > 0;
		break;
	default:
		ok = c->type == want;
		break;
	}
	if (!ok)
		return poison(b, "%s field \"%s\": its schema says %s, but "
		    "the value is %s %s (%.40s)", b->what, name,
		    ks_mapping_type_name(want), c->type == KS_MAP_T_INTEGER ?
		    "an" : "a", ks_mapping_type_name(c->type),
		    c->type == KS_MAP_T_BOOLEAN ? (c->i ? "true" : "false") :
		    t);
	c->type = want;
	return KSINK_OK;
}

/* The index of the field of record parent named name, or -1. */
static int
field_of(struct build *b, int parent, const char *name)
{
	size_t j;

	if (parent == NOSCHEMA || b->f == NULL)
		return -1;
	for (j = 0; j < b->nf; j++)
		if (b->f[j].parent == parent && b->f[j].name != NULL &&
		    strcmp(b->f[j].name, name) == 0)
			return (int)j;
	return -1;
}

/* A column's name: prefix_off's name and the delimiter (unless top), and
 * the member's name, in the arena; *member_off is where that starts. */
static size_t
col_name(struct build *b, size_t prefix_off, int top, size_t *member_off)
{
	struct ks_buf *a = &b->row->arena;
	size_t name_off = a->len;

	if (!top) {
		ks_buf_adds(a, arena_str(b, prefix_off));
		ks_buf_adds(a, b->m->delimiter);
	}
	*member_off = a->len;
	return name_off;
}

static int
unplain(struct build *b, size_t name_off)
{
	return poison(b, "%s field \"%s\" is not a plain identifier and "
	    "quote.identifiers is off: turn it on, or leave the field out "
	    "with fields.exclude", b->what, arena_str(b, name_off));
}

/*
 * Null columns for the fields of record parent of the schema (those the
 * record did not name, with only_unseen), under prefix_off: a record's
 * fields each, with flatten, the others as one column each.
 */
static int
null_cols(struct build *b, int parent, size_t prefix_off, int top, int opt,
    int only_unseen)
{
	struct ks_buf *a = &b->row->arena;
	const struct ksink_field *f;
	size_t j, name_off, member_off;
	int rc;

	for (j = 0; j < b->nf; j++) {
		f = &b->f[j];
		if (f->parent != parent || f->name == NULL || *f->name == '\0' ||
		    (only_unseen && b->seen[j]))
			continue;
		name_off = col_name(b, prefix_off, top, &member_off);
		ks_buf_adds(a, f->name);
		ks_buf_addc(a, '\0');
		if (a->oom)
			return KSINK_FATAL;
		if (f->type == KSINK_FIELD_RECORD && b->m->flatten)
			rc = null_cols(b, (int)j, name_off, 0, 1, 0);
		else if (!wanted(b, arena_str(b, name_off)))
			rc = KSINK_OK;
		else if (!b->m->quote && !ks_mapping_plain(arena_str(b,
		    name_off)))
			rc = unplain(b, name_off);
		else if ((rc = add_col(b, name_off, KS_MAP_T_NULL, 0, 0)) ==
		    KSINK_OK)
			rc = typed(b, f, opt);
		if (rc != KSINK_OK)
			return rc;
	}
	return KSINK_OK;
}

/* The members of the object at s->p, as columns named prefix_off's name
 * (if any), the delimiter, and the member's name.  parent is the index
 * in the schema of the record the object is (-1: the top one), or
 * NOSCHEMA; opt, whether that record or one around it may be null. */
static int
object(struct build *b, struct ks_json_scan *s, size_t prefix_off, int top,
    int parent, int opt)
{
	struct ks_buf *a = &b->row->arena;
	const struct ksink_field *f;
	size_t name_off, member_off;
	int nul, rc, fi;

	s->p++;		/* { */
	ks_json_scan_ws(s);
	while (*s->p != '}') {
		name_off = col_name(b, prefix_off, top, &member_off);
		decode_string(s, a, &nul);
		ks_buf_addc(a, '\0');
		if (a->oom)
			return KSINK_FATAL;
		if (nul || *arena_str(b, name_off) == '\0')
			return poison(b, "%s field \"%s\": a column name can be "
			    "neither empty nor hold U+0000; rename the field "
			    "or leave it out with fields.exclude", b->what,
			    arena_str(b, name_off));
		ks_json_scan_ws(s);
		s->p++;		/* : */
		ks_json_scan_ws(s);
		f = NULL;
		if ((fi = field_of(b, parent, arena_str(b, member_off))) >= 0) {
			f = &b->f[fi];
			b->seen[fi] = 1;
		}
		if (*s->p == '{' && b->m->flatten && (f == NULL ||
		    f->type == KSINK_FIELD_RECORD))
			rc = object(b, s, name_off, 0, f ? fi : NOSCHEMA,
			    opt || (f && (f->flags & KSINK_FIELD_OPTIONAL)));
		else if (*s->p == 'n' && b->m->flatten && f != NULL &&
		    f->type == KSINK_FIELD_RECORD) {
			/* A null record: its fields are null. */
			rc = ks_json_scan_value(s) == -1 ? KSINK_FATAL :
			    null_cols(b, fi, name_off, 0, 1, 0);
		} else if (!wanted(b, arena_str(b, name_off))) {
			rc = ks_json_scan_value(s) == -1 ? KSINK_FATAL :
			    KSINK_OK;
		} else if (!b->m->quote && !ks_mapping_plain(arena_str(b,
		    name_off)))
			return unplain(b, name_off);
		else if ((rc = scalar(b, s, name_off, f && json_kind(f))) ==
		    KSINK_OK && f != NULL)
			rc = typed(b, f, opt);
		if (rc != KSINK_OK)
			return rc;
		ks_json_scan_ws(s);
		if (*s->p == ',') {
			s->p++;
			ks_json_scan_ws(s);
		}
	}
	s->p++;
	/* The fields of the schema that the record left out. */
	if (parent != NOSCHEMA && b->f != NULL)
		return null_cols(b, parent, prefix_off, top, opt, 1);
	return KSINK_OK;
}

/* The schema f[0..n) for what comes next: NULL for none; a schema that
 * is not a record's is one entry named "" (*prim). */
static int
set_schema(struct build *b, const struct ksink_field *f, size_t n,
    const struct ksink_field **prim)
{
	unsigned char *seen;

	*prim = NULL;
	b->f = NULL;
	b->nf = 0;
	if (f == NULL || n == 0)
		return KSINK_OK;
	if (f[0].parent == -1 && f[0].name != NULL && *f[0].name == '\0') {
		*prim = &f[0];
		return KSINK_OK;
	}
	if ((seen = realloc(b->seen, n)) == NULL)
		return KSINK_FATAL;
	memset(seen, 0, n);
	b->seen = seen;
	b->f = f;
	b->nf = n;
	return KSINK_OK;
}

/* Checks text as JSON and starts a scan of it. */
static int
start(struct build *b, const void *text, size_t n, struct ks_json_scan *s)
{
	if (!ks_json_valid(text, n))
		return poison(b, "the %s is not JSON (ksink-mapping(7) reads "
		    "schemaless JSON)", b->what);
	memset(s, 0, sizeof(*s));
	s->p = text;
	s->end = s->p + n;
	ks_json_scan_ws(s);
	return KSINK_OK;
}

static int
table_name(struct build *b)
{
	const char *f = b->m->table_format, *t;
	struct ks_buf o = { 0 };

	while ((t = strstr(f, "${topic}")) != NULL) {
		ks_buf_add(&o, f, (size_t)(t - f));
		ks_buf_adds(&o, b->r->topic);
		f = t + 8;
	}
	ks_buf_adds(&o, f);
	if (o.oom) {
		ks_buf_free(&o);
		return KSINK_FATAL;
	}
	b->row->table = o.p;
	if (!b->m->quote && !ks_mapping_plain(o.p))
		return poison(b, "table name \"%s\" is not a plain identifier "
		    "and quote.identifiers is off: turn it on, or change "
		    "table.name.format", o.p);
	return KSINK_OK;
}

/* The key's columns from a record key, of schema f[0..nf). */
static int
key_cols(struct build *b, const struct ksink_field *f, size_t nf)
{
	const struct ks_mapping *m = b->m;
	const struct ksink_record *r = b->r;
	const struct ksink_field *prim;
	struct ks_json_scan s;
	size_t off;
	int rc;

	b->what = "key";
	b->pk = 1;
	if (r->key == NULL)
		return poison(b, "the record has no key, and pk.mode "
		    "record_key takes the row's key from it");
	if ((rc = start(b, r->key, r->key_len, &s)) != KSINK_OK ||
	    (rc = set_schema(b, f, nf, &prim)) != KSINK_OK)
		return rc;
	if (*s.p == '{')
		return object(b, &s, 0, 1, b->f ? -1 : NOSCHEMA, 0);
	if (*s.p == '[')
		return poison(b, "the key is a JSON array: pk.mode record_key "
		    "takes an object or a single value");
	if (m->npk_fields != 1)
		return poison(b, "the key is a single value, so pk.fields must "
		    "name exactly one column for it (it names %zu)",
		    m->npk_fields);
	off = b->row->arena.len;
	ks_buf_adds(&b->row->arena, m->pk_fields[0]);
	ks_buf_addc(&b->row->arena, '\0');
	if (b->row->arena.oom)
		return KSINK_FATAL;
	if ((rc = scalar(b, &s, off, prim && json_kind(prim))) != KSINK_OK ||
	    prim == NULL)
		return rc;
	return typed(b, prim, 0);
}

static int
kafka_cols(struct build *b)
{
	static const char *const def[] = { "__connect_topic",
	    "__connect_partition", "__connect_offset" };
	struct ks_buf *a = &b->row->arena;
	size_t off[3], t;
	int i, rc;

	b->pk = 1;
	for (i = 0; i < 3; i++) {
		off[i] = a->len;
		ks_buf_adds(a, b->m->npk_fields == 3 ? b->m->pk_fields[i] :
		    def[i]);
		ks_buf_addc(a, '\0');
	}
	t = a->len;
	ks_buf_adds(a, b->r->topic);
	ks_buf_addc(a, '\0');
	if (a->oom || (rc = add_col(b, off[0], KS_MAP_T_STRING, t,
	    strlen(b->r->topic))) != KSINK_OK ||
	    (rc = add_col(b, off[1], KS_MAP_T_INTEGER, t, 0)) != KSINK_OK ||
	    (rc = add_col(b, off[2], KS_MAP_T_INTEGER, t, 0)) != KSINK_OK)
		return KSINK_FATAL;
	b->row->cols[1].i = b->r->partition;
	b->row->cols[1].d = b->r->partition;
	b->row->cols[2].i = b->r->offset;
	b->row->cols[2].d = (double)b->r->offset;
	/* Their text, for messages and the reduction. */
	b->text_off[1] = a->len;
	ks_buf_addi64(a, b->r->partition);
	ks_buf_addc(a, '\0');
	b->text_off[2] = a->len;
	ks_buf_addi64(a, b->r->offset);
	ks_buf_addc(a, '\0');
	b->row->cols[1].len = strlen(arena_str(b, b->text_off[1]));
	b->row->cols[2].len = strlen(arena_str(b, b->text_off[2]));
	return a->oom ? KSINK_FATAL : KSINK_OK;
}

/* Puts the columns pk.fields names first, in its order, as the key; with
 * drop, the columns after them go (the key's other fields). */
static int
order_key(struct build *b, int drop)
{
	const struct ks_mapping *m = b->m;
	struct ks_mapping_row *row = b->row;
	struct ks_mapping_col tc;
	size_t i, k, no, to;

	for (i = 0; i < row->ncols; i++)
		row->cols[i].pk = 0;
	for (k = 0; k < m->npk_fields; k++) {
		for (i = k; i < row->ncols; i++)
			if (strcmp(arena_str(b, b->name_off[i]),
			    m->pk_fields[k]) == 0)
				break;
		if (i == row->ncols)
			return poison(b, "%s field \"%s\" of pk.fields is "
			    "missing", m->pk_mode == KS_MAP_PK_RECORD_KEY ?
			    "key" : "value", m->pk_fields[k]);
		tc = row->cols[i];
		no = b->name_off[i];
		to = b->text_off[i];
		memmove(&row->cols[k + 1], &row->cols[k],
		    (i - k) * sizeof(*row->cols));
		memmove(&b->name_off[k + 1], &b->name_off[k],
		    (i - k) * sizeof(*b->name_off));
		memmove(&b->text_off[k + 1], &b->text_off[k],
		    (i - k) * sizeof(*b->text_off));
		row->cols[k] = tc;
		row->cols[k].pk = 1;
		b->name_off[k] = no;
		b->text_off[k] = to;
	}
	if (drop)
		row->ncols = m->npk_fields;
	return KSINK_OK;
}

int
ks_mapping_row(const struct ks_mapping *m, const struct ksink_record *r,
    size_t index, struct ks_mapping_row *row, char *errbuf, size_t errlen)
{
	return ks_mapping_row_schema(m, r, NULL, index, row, errbuf, errlen);
}

int
ks_mapping_row_schema(const struct ks_mapping *m, const struct ksink_record *r,
    const struct ks_mapping_schema *sch, size_t index,
    struct ks_mapping_row *row, char *errbuf, size_t errlen)
{
	static const struct ks_mapping_schema none;
	struct build b = { .m = m, .r = r, .row = row, .errbuf = errbuf,
	    .errlen = errlen };
	const struct ksink_field *prim;
	struct ks_json_scan s;
	size_t i, j, nkey = 0;
	int rc;

	if (sch == NULL)
		sch = &none;
	ks_buf_reset(&row->arena);
	free(row->table);
	row->table = NULL;
	row->ncols = row->npk = 0;
	row->index = index;
	row->op = KS_MAP_OP_WRITE;
	/* Offset 0 of the arena is an empty string, the top level's name. */
	ks_buf_addc(&row->arena, '\0');
	if (row->cap > 0 && ((b.name_off = calloc(row->cap,
	    sizeof(*b.name_off))) == NULL || (b.text_off = calloc(row->cap,
	    sizeof(*b.text_off))) == NULL)) {
		rc = KSINK_FATAL;
		goto out;
	}
	if ((rc = table_name(&b)) != KSINK_OK)
		goto out;
	if (m->pk_mode == KS_MAP_PK_KAFKA)
		rc = kafka_cols(&b);
	else if (m->pk_mode == KS_MAP_PK_RECORD_KEY)
		rc = key_cols(&b, sch->key, sch->nkey);
	if (rc != KSINK_OK)
		goto out;
	/* Only the key fields that pk.fields names are the key. */
	if (m->pk_mode == KS_MAP_PK_RECORD_KEY && m->npk_fields > 0 &&
	    (rc = order_key(&b, 1)) != KSINK_OK)
		goto out;
	nkey = row->ncols;
	b.pk = 0;
	b.what = "value";
	if (r->value == NULL) {
		if (!m->delete_enabled) {
			rc = poison(&b, "a tombstone (null value), and "
			    "delete.enabled is off: set it to delete the row "
			    "of the record's key, or let errors.tolerance "
			    "skip tombstones");
			goto out;
		}
		row->op = KS_MAP_OP_DELETE;
	} else {
		if ((rc = start(&b, r->value, r->value_len, &s)) != KSINK_OK ||
		    (rc = set_schema(&b, sch->value, sch->nvalue, &prim)) !=
		    KSINK_OK)
			goto out;
		if (*s.p != '{') {
			rc = poison(&b, "the value is not a JSON object: the "
			    "table mapping makes a column of each of its "
			    "fields");
			goto out;
		}
		if ((rc = object(&b, &s, 0, 1, b.f ? -1 : NOSCHEMA, 0)) !=
		    KSINK_OK)
			goto out;
	}
	if (m->pk_mode == KS_MAP_PK_RECORD_VALUE) {
		if ((rc = order_key(&b, 0)) != KSINK_OK)
			goto out;
		nkey = m->npk_fields;
	}
	row->npk = nkey;
	for (i = 0; i < nkey; i++)
		if (row->cols[i].type == KS_MAP_T_NULL) {
			rc = poison(&b, "key field \"%s\" is null, and a "
			    "primary key cannot be", arena_str(&b,
			    b.name_off[i]));
			goto out;
		}
	if (m->pk_mode == KS_MAP_PK_RECORD_KEY && nkey == 0) {
		rc = poison(&b, "the key is an empty object: it names no "
		    "column of the row's key");
		goto out;
	}
	/* Names and texts become pointers, now that the arena stays. */
	for (i = 0; i < row->ncols; i++) {
		row->cols[i].name = arena_str(&b, b.name_off[i]);
		row->cols[i].text = arena_str(&b, b.text_off[i]);
	}
	for (i = 0; i < row->ncols; i++)
		for (j = 0; j < i; j++)
			if (ks_mapping_same_name(m, row->cols[i].name,
			    row->cols[j].name)) {
				rc = poison(&b, "fields \"%s\" and \"%s\" both "
				    "become column \"%s\"%s; rename one, or "
				    "leave it out with fields.exclude",
				    row->cols[j].name, row->cols[i].name,
				    row->cols[i].name, m->flatten ?
				    " (flatten)" : "");
				goto out;
			}
	rc = KSINK_OK;
out:
	free(b.name_off);
	free(b.text_off);
	free(b.seen);
	if (rc == KSINK_FATAL)
		ks_err_set(errbuf, errlen, "record %s/%d@%lld: out of memory",
		    r->topic, (int)r->partition, (long long)r->offset);
	return rc;
}
