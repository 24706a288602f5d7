/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/fuzz/fuzz.h - helpers shared by the libFuzzer targets: reading
 * structured values out of the fuzzer's bytes, turning them into Kafka
 * records, an independent strict JSON checker (so that an encoder is never
 * judged by its own validator), and invariants.
 *
 * An invariant that fails prints what and aborts, which libFuzzer reports
 * as a crash with its input.  KSINK_FUZZ_KNOWN (a comma-separated list of
 * invariant names) turns named invariants into no-ops, to explore past a
 * finding that is reported but not yet fixed.
 */
#ifndef KSINK_FUZZ_H
#define KSINK_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksink/sink.h"

#define FZ_UNUSED __attribute__((unused))

/* ---- invariants ---- */

FZ_UNUSED static int
fz_known(const char *name)
{
	const char *k = getenv("KSINK_FUZZ_KNOWN"), *p;
	size_t n = strlen(name);

	for (p = k; p != NULL && *p != '\0'; p = strchr(p, ',') ?
	    strchr(p, ',') + 1 : NULL)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

FZ_UNUSED __attribute__((format(printf, 2, 3))) static void
fz_fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	if (fz_known(name))
		return;
	fprintf(stderr, "\ninvariant %s failed: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

#define FZ_CHECK(name, cond, ...) \
	do { \
		if (!(cond)) \
			fz_fail((name), __VA_ARGS__); \
	} while (0)

/* ---- reading the input ---- */

struct fz {
	const uint8_t *p;
	size_t n;
};

FZ_UNUSED static uint8_t
fz_u8(struct fz *f)
{
	uint8_t v;

	if (f->n == 0)
		return 0;
	v = *f->p++;
	f->n--;
	return v;
}

FZ_UNUSED static uint64_t
fz_uint(struct fz *f, int bytes)
{
	uint64_t v = 0;

	while (bytes-- > 0)
		v = v << 8 | fz_u8(f);
	return v;
}

/* Up to max bytes, the count taken from the input; *len is set. */
FZ_UNUSED static const uint8_t *
fz_bytes(struct fz *f, size_t max, size_t *len)
{
	const uint8_t *p = f->p;
	size_t n = (size_t)fz_uint(f, 2);

	if (n > max)
		n %= max + 1;
	p = f->p;
	if (n > f->n)
		n = f->n;
	f->p += n;
	f->n -= n;
	*len = n;
	return p;
}

/* A C string of at most max bytes (it stops at a NUL byte). */
FZ_UNUSED static char *
fz_cstr(struct fz *f, size_t max)
{
	size_t n, i;
	const uint8_t *p = fz_bytes(f, max, &n);
	char *s = malloc(n + 1);

	if (s == NULL)
		abort();
	for (i = 0; i < n && p[i] != 0; i++)
		s[i] = (char)p[i];
	s[i] = '\0';
	return s;
}

/* ---- records ---- */

#define FZ_MAX_HEADERS 8

/* One record made of the input; everything it points to is owned. */
struct fz_rec {
	struct ksink_record r;
	struct ksink_header h[FZ_MAX_HEADERS];
	char *topic;
	void *key, *value;
	char *hname[FZ_MAX_HEADERS];
	void *hvalue[FZ_MAX_HEADERS];
};

/* Copies n bytes into their own allocation, so that ASan sees any read
 * past them (NULL for a null field). */
FZ_UNUSED static void *
fz_copy(const uint8_t *p, size_t n, int null)
{
	void *q;

	if (null)
		return NULL;
	if ((q = malloc(n ? n : 1)) == NULL)
		abort();
	if (n > 0)
		memcpy(q, p, n);
	return q;
}

FZ_UNUSED static void
fz_rec_read(struct fz *f, struct fz_rec *x, int64_t offset)
{
	const uint8_t *p;
	size_t n, i;
	uint8_t flags;

	memset(x, 0, sizeof(*x));
	flags = fz_u8(f);
	x->topic = fz_cstr(f, 64);
	if (x->topic[0] == '\0' && !(flags & 0x80)) {
		free(x->topic);
		x->topic = strdup("t");
	}
	x->r.topic = x->topic;
	x->r.partition = (int32_t)(fz_uint(f, 1) % 4);
	if (flags & 0x40)
		x->r.partition = (int32_t)fz_uint(f, 4);
	x->r.offset = offset;
	x->r.timestamp = (flags & 4) ? -1 : (int64_t)fz_uint(f, 6);
	p = fz_bytes(f, 4096, &n);
	x->key = fz_copy(p, n, flags & 1);
	x->r.key = x->key;
	x->r.key_len = x->key ? n : 0;
	p = fz_bytes(f, 65536, &n);
	x->value = fz_copy(p, n, flags & 2);
	x->r.value = x->value;
	x->r.value_len = x->value ? n : 0;
	x->r.header_count = (flags >> 3) & 7;
	for (i = 0; i < x->r.header_count; i++) {
		uint8_t hf = fz_u8(f);

		x->hname[i] = fz_cstr(f, 64);
		p = fz_bytes(f, 1024, &n);
		x->hvalue[i] = fz_copy(p, n, hf & 1);
		x->h[i].name = x->hname[i];
		x->h[i].value = x->hvalue[i];
		x->h[i].value_len = x->hvalue[i] ? n : 0;
	}
	x->r.headers = x->r.header_count ? x->h : NULL;
}

FZ_UNUSED static void
fz_rec_free(struct fz_rec *x)
{
	size_t i;

	free(x->topic);
	free(x->key);
	free(x->value);
	for (i = 0; i < FZ_MAX_HEADERS; i++) {
		free(x->hname[i]);
		free(x->hvalue[i]);
	}
}

/* ---- UTF-8 and an independent JSON checker ---- */

/* Length of the well-formed UTF-8 sequence at s (RFC 3629), or 0. */
FZ_UNUSED static size_t
fz_utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

FZ_UNUSED static int
fz_utf8_valid(const void *p, size_t n)
{
	const unsigned char *s = p;
	size_t i = 0, k;

	while (i < n) {
		if ((k = fz_utf8_seq(s + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

struct fz_json {
	const unsigned char *p, *end;
	int depth;
};

static int fz_json_value(struct fz_json *j);

FZ_UNUSED static void
fz_json_ws(struct fz_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int
fz_json_string(struct fz_json *j)
{
	size_t k;
	int i;

	if (j->p >= j->end || *j->p != '"')
		return -1;
	j->p++;
	while (j->p < j->end && *j->p != '"') {
		if (*j->p < 0x20)
			return -1;
		if (*j->p == '\\') {
			if (++j->p >= j->end)
				return -1;
			if (*j->p == 'u') {
				for (i = 1; i <= 4; i++)
					if (j->p + i >= j->end ||
					    !strchr("0123456789abcdefABCDEF",
					    j->p[i]) || j->p[i] == 0)
						return -1;
				j->p += 5;
			} else if (*j->p != 0 && strchr("\"\\/bfnrt", *j->p))
				j->p++;
			else
				return -1;
			continue;
		}
		if ((k = fz_utf8_seq(j->p, (size_t)(j->end - j->p))) == 0)
			return -1;
		j->p += k;
	}
	if (j->p >= j->end)
		return -1;
	j->p++;
	return 0;
}

static int
fz_json_number(struct fz_json *j)
{
	const unsigned char *s;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end)
		return -1;
	if (*j->p == '0')
		j->p++;
	else if (*j->p >= '1' && *j->p <= '9')
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
	else
		return -1;
	if (j->p < j->end && *j->p == '.') {
		s = ++j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == s)
			return -1;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		s = j->p;
		while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
			j->p++;
		if (j->p == s)
			return -1;
	}
	return 0;
}

static int
fz_json_value(struct fz_json *j)
{
	static const char *const words[] = { "true", "false", "null" };
	int object, i;
	size_t n;

	fz_json_ws(j);
	if (j->p >= j->end)
		return -1;
	if (*j->p == '"')
		return fz_json_string(j);
	if (*j->p == '{' || *j->p == '[') {
		object = *j->p == '{';
		if (++j->depth > 10000)
			return -1;
		j->p++;
		fz_json_ws(j);
		if (j->p < j->end && *j->p == (object ? '}' : ']')) {
			j->p++;
			j->depth--;
			return 0;
		}
		for (;;) {
			if (object) {
				fz_json_ws(j);
				if (fz_json_string(j) == -1)
					return -1;
				fz_json_ws(j);
				if (j->p >= j->end || *j->p != ':')
					return -1;
				j->p++;
			}
			if (fz_json_value(j) == -1)
				return -1;
			fz_json_ws(j);
			if (j->p >= j->end)
				return -1;
			if (*j->p == ',') {
				j->p++;
				continue;
			}
			if (*j->p != (object ? '}' : ']'))
				return -1;
			j->p++;
			j->depth--;
			return 0;
		}
	}
	for (i = 0; i < 3; i++) {
		n = strlen(words[i]);
		if ((size_t)(j->end - j->p) >= n &&
		    memcmp(j->p, words[i], n) == 0) {
			j->p += n;
			return 0;
		}
	}
	return fz_json_number(j);
}

/* Whether s[0..n) is exactly one JSON text (RFC 8259) nested at most
 * maxdepth deep. */
FZ_UNUSED static int
fz_json_valid_depth(const void *s, size_t n, int maxdepth)
{
	struct fz_json j = { s, (const unsigned char *)s + n,
	    10000 - maxdepth };

	if (fz_json_value(&j) == -1)
		return 0;
	fz_json_ws(&j);
	return j.p == j.end;
}

/* Whether s[0..n) is exactly one JSON text (RFC 8259). */
FZ_UNUSED static int
fz_json_valid(const void *s, size_t n)
{
	struct fz_json j = { s, (const unsigned char *)s + n, 0 };

	if (fz_json_value(&j) == -1)
		return 0;
	fz_json_ws(&j);
	return j.p == j.end;
}

/*
 * Finds member name of the JSON object at s[0..n) (valid JSON) and sets
 * *v, *vlen to its value's text.  Returns 0, or -1 when there is none.
 */
FZ_UNUSED static int
fz_json_member(const char *s, size_t n, const char *name, const char **v,
    size_t *vlen)
{
	struct fz_json j = { (const unsigned char *)s,
	    (const unsigned char *)s + n, 0 };
	const unsigned char *k;
	size_t nl = strlen(name), kl;

	fz_json_ws(&j);
	if (j.p >= j.end || *j.p != '{')
		return -1;
	j.p++;
	for (;;) {
		fz_json_ws(&j);
		if (j.p >= j.end || *j.p != '"')
			return -1;
		k = j.p;
		if (fz_json_string(&j) == -1)
			return -1;
		kl = (size_t)(j.p - k);
		fz_json_ws(&j);
		j.p++; /* ':' */
		fz_json_ws(&j);
		if (kl == nl + 2 && memcmp(k + 1, name, nl) == 0) {
			*v = (const char *)j.p;
			if (fz_json_value(&j) == -1)
				return -1;
			*vlen = (size_t)((const char *)j.p - *v);
			return 0;
		}
		if (fz_json_value(&j) == -1)
			return -1;
		fz_json_ws(&j);
		if (j.p >= j.end || *j.p != ',')
			return -1;
		j.p++;
	}
}

/* Appends the UTF-8 of code point cp to out. */
static size_t
fz_put_utf8(unsigned char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (unsigned char)(0xc0 | cp >> 6);
		out[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (unsigned char)(0xe0 | cp >> 12);
		out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (unsigned char)(0xf0 | cp >> 18);
	out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decodes the JSON string literal s[0..n) (with its quotes, valid) into a
 * new buffer; *outlen is set.  Surrogate pairs are joined.
 */
FZ_UNUSED static unsigned char *
fz_json_unquote(const char *s, size_t n, size_t *outlen)
{
	unsigned char *out = malloc(n + 1);
	size_t i = 1, o = 0;
	uint32_t cp, lo;

	if (out == NULL)
		abort();
	while (i + 1 < n) {
		if (s[i] != '\\') {
			out[o++] = (unsigned char)s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u':
			cp = (uint32_t)strtoul((char[5]){ s[i + 2], s[i + 3],
			    s[i + 4], s[i + 5], 0 }, NULL, 16);
			i += 4;
			if (cp >= 0xd800 && cp <= 0xdbff && i + 7 < n &&
			    s[i + 2] == '\\' && s[i + 3] == 'u') {
				lo = (uint32_t)strtoul((char[5]){ s[i + 4],
				    s[i + 5], s[i + 6], s[i + 7], 0 }, NULL, 16);
				if (lo >= 0xdc00 && lo <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10) +
					    (lo - 0xdc00);
					i += 6;
				}
			}
			o += fz_put_utf8(out + o, cp);
			break;
		default: out[o++] = (unsigned char)s[i + 1]; break;
		}
		i += 2;
	}
	*outlen = o;
	return out;
}

/* The bytes of s[0..n) with each maximal invalid UTF-8 byte replaced by
 * U+FFFD, as the encoders write text that is not UTF-8. */
FZ_UNUSED static unsigned char *
fz_utf8_fix(const void *p, size_t n, size_t *outlen)
{
	const unsigned char *s = p;
	unsigned char *out = malloc(3 * n + 1);
	size_t i = 0, o = 0, k;

	if (out == NULL)
		abort();
	while (i < n) {
		if ((k = fz_utf8_seq(s + i, n - i)) == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	*outlen = o;
	return out;
}

/* Decodes base64 (with padding) s[0..n) into a new buffer, or NULL. */
FZ_UNUSED static unsigned char *
fz_base64_decode(const char *s, size_t n, size_t *outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned char *out;
	uint32_t v;
	size_t i, o = 0;
	int k, pad;
	const char *c;

	if (n % 4 != 0)
		return NULL;
	if ((out = malloc(n / 4 * 3 + 1)) == NULL)
		abort();
	for (i = 0; i < n; i += 4) {
		v = 0;
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == n && k >= 2) {
				pad++;
				v <<= 6;
				continue;
			}
			if (pad || s[i + k] == '\0' ||
			    (c = strchr(tab, s[i + k])) == NULL) {
				free(out);
				return NULL;
			}
			v = v << 6 | (uint32_t)(c - tab);
		}
		out[o++] = (unsigned char)(v >> 16);
		if (pad < 2)
			out[o++] = (unsigned char)(v >> 8);
		if (pad < 1)
			out[o++] = (unsigned char)v;
	}
	*outlen = o;
	return out;
}

/* ---- The record envelope (ksink-record(7)), checked independently ---- */

/* Whether JSON text s has white space outside its strings. */
FZ_UNUSED static int
fz_has_outer_ws(const char *s, size_t n)
{
	size_t i;
	int in = 0;

	for (i = 0; i < n; i++) {
		if (in) {
			if (s[i] == '\\')
				i++;
			else if (s[i] == '"')
				in = 0;
		} else if (s[i] == '"')
			in = 1;
		else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
		    s[i] == '\r')
			return 1;
	}
	return 0;
}

/*
 * Member NAME of the object obj[0..len) is the record's bytes v[0..n)
 * by the envelope's rule: null without an encoding member; one JSON
 * text nested at most maxdepth deep embedded compact, without one; other
 * UTF-8 without NUL a string with NAME_encoding "string"; other bytes
 * base64 with NAME_encoding "base64".  Invariant "envelope-roundtrip".
 */
FZ_UNUSED static void
fz_check_bytes(const char *obj, size_t len, const char *name, const void *v,
    size_t n, int maxdepth)
{
	const char *m, *e;
	size_t mlen, elen, outlen, fixlen;
	unsigned char *out, *fix;
	char enc[64];
	int has_enc;

	snprintf(enc, sizeof(enc), "%s_encoding", name);
	FZ_CHECK("envelope-roundtrip", fz_json_member(obj, len, name, &m,
	    &mlen) == 0, "no %s in %.*s", name, (int)len, obj);
	has_enc = fz_json_member(obj, len, enc, &e, &elen) == 0;
	if (v == NULL) {
		FZ_CHECK("envelope-roundtrip", mlen == 4 &&
		    memcmp(m, "null", 4) == 0 && !has_enc,
		    "%s: null not written as null alone", name);
		return;
	}
	if (fz_json_valid_depth(v, n, maxdepth)) {
		FZ_CHECK("envelope-roundtrip", !has_enc && fz_json_valid(m,
		    mlen) && !fz_has_outer_ws(m, mlen) && mlen <= n,
		    "%s: JSON not embedded compact without an encoding: %.*s",
		    name, (int)mlen, m);
		return;
	}
	FZ_CHECK("envelope-roundtrip", has_enc && mlen >= 2 && m[0] == '"',
	    "%s: bytes not written as a string with %s", name, enc);
	if (elen == 8 && memcmp(e, "\"string\"", 8) == 0) {
		out = fz_json_unquote(m, mlen, &outlen);
		fix = fz_utf8_fix(v, n, &fixlen);
		FZ_CHECK("envelope-roundtrip", fz_utf8_valid(v, n) &&
		    memchr(v, 0, n) == NULL &&
		    outlen == fixlen && memcmp(out, fix, outlen) == 0,
		    "%s: string does not decode to the record's text", name);
		free(out);
		free(fix);
		return;
	}
	FZ_CHECK("envelope-roundtrip", elen == 8 &&
	    memcmp(e, "\"base64\"", 8) == 0, "%s: encoding %.*s", name,
	    (int)elen, e);
	FZ_CHECK("envelope-roundtrip", !fz_utf8_valid(v, n) ||
	    memchr(v, 0, n) != NULL,
	    "%s: UTF-8 text without NUL written as base64", name);
	out = fz_base64_decode(m + 1, mlen - 2, &outlen);
	FZ_CHECK("envelope-roundtrip", out != NULL && outlen == n &&
	    memcmp(out, v, n) == 0,
	    "%s: base64 does not decode to the record's bytes", name);
	free(out);
}

FZ_UNUSED static void
fz_check_number(const char *obj, size_t len, const char *field, int64_t want)
{
	const char *v;
	size_t vlen;
	char buf[32];

	FZ_CHECK("envelope-roundtrip", fz_json_member(obj, len, field, &v,
	    &vlen) == 0 && vlen < sizeof(buf), "no member \"%s\"", field);
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	FZ_CHECK("envelope-roundtrip", strtoll(buf, NULL, 10) == want,
	    "%s written as %s, is %lld", field, buf, (long long)want);
}

/* The envelope obj[0..len) of record r: one line ("envelope-one-line"),
 * one JSON object ("envelope-valid"), and the record's fields
 * ("envelope-roundtrip"). */
FZ_UNUSED static void
fz_check_envelope(const char *obj, size_t len, const struct ksink_record *r,
    int maxdepth)
{
	const char *h, *m;
	size_t hlen, mlen, outlen, fixlen, i;
	unsigned char *out, *fix;
	struct fz_json j;

	FZ_CHECK("envelope-one-line", memchr(obj, '\n', len) == NULL &&
	    memchr(obj, '\r', len) == NULL, "a line break in an envelope: "
	    "%.*s", (int)len, obj);
	/* The envelope is one level deeper than what it embeds. */
	FZ_CHECK("envelope-valid", fz_json_valid_depth(obj, len,
	    maxdepth + 3) && obj[0] == '{', "an envelope is not one JSON "
	    "object: %.*s", (int)len, obj);
	FZ_CHECK("envelope-roundtrip", fz_json_member(obj, len, "topic", &m,
	    &mlen) == 0 && mlen >= 2 && m[0] == '"', "no topic string");
	out = fz_json_unquote(m, mlen, &outlen);
	fix = fz_utf8_fix(r->topic, strlen(r->topic), &fixlen);
	FZ_CHECK("envelope-roundtrip", outlen == fixlen &&
	    memcmp(out, fix, outlen) == 0, "topic does not decode");
	free(out);
	free(fix);
	fz_check_number(obj, len, "partition", r->partition);
	fz_check_number(obj, len, "offset", r->offset);
	if (r->timestamp >= 0)
		fz_check_number(obj, len, "timestamp", r->timestamp);
	fz_check_bytes(obj, len, "key", r->key, r->key_len, maxdepth);
	fz_check_bytes(obj, len, "value", r->value, r->value_len, maxdepth);
	FZ_CHECK("envelope-roundtrip", fz_json_member(obj, len, "headers",
	    &h, &hlen) == 0 && h[0] == '[', "no headers array");
	/* Each header object, in order. */
	j.p = (const unsigned char *)h + 1;
	j.end = (const unsigned char *)h + hlen;
	j.depth = 0;
	for (i = 0; i < r->header_count; i++) {
		const char *o = (const char *)j.p;
		size_t olen;

		FZ_CHECK("envelope-roundtrip", fz_json_value(&j) == 0,
		    "header %zu is not JSON", i);
		olen = (size_t)((const char *)j.p - o);
		FZ_CHECK("envelope-roundtrip", fz_json_member(o, olen, "key",
		    &m, &mlen) == 0 && mlen >= 2 && m[0] == '"',
		    "header %zu has no key string", i);
		fz_check_bytes(o, olen, "value", r->headers[i].value,
		    r->headers[i].value_len, maxdepth);
		if (j.p < j.end && *j.p == ',')
			j.p++;
	}
	FZ_CHECK("envelope-roundtrip", j.p < j.end && *j.p == ']',
	    "more headers than the record has");
}

#endif
