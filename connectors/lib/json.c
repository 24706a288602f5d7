/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/json.c - JSON strings, and a strict RFC 8259 checker.
 *
 * The checker accepts exactly one JSON text: UTF-8 strings without raw
 * control characters, numbers in JSON's grammar, true, false and null,
 * and arrays and objects nested at most KS_JSON_MAX_DEPTH deep.  It can
 * copy what it reads without the insignificant white space, so that an
 * embedded value never breaks a line.
 */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "json.h"
#include "utf8.h"

/* Appends n bytes at s as a JSON string; bytes that are not UTF-8 become
 * \ufffd, control characters are escaped. */
void
ks_json_add_string(struct ks_buf *b, const void *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = s;
	size_t i = 0, run, k;
	char esc[6];

	ks_buf_addc(b, '"');
	while (i < n) {
		run = i;
		while (i < n && p[i] >= 0x20 && p[i] < 0x80 && p[i] != '"' &&
		    p[i] != '\\')
			i++;
		while (i < n && p[i] >= 0x80 &&
		    (k = ks_utf8_seqlen(p + i, n - i)) > 0) {
			i += k;
			while (i < n && p[i] >= 0x20 && p[i] < 0x80 &&
			    p[i] != '"' && p[i] != '\\')
				i++;
		}
		ks_buf_add(b, p + run, i - run);
		if (i >= n)
			break;
		switch (p[i]) {
		case '"': ks_buf_add(b, "\\\"", 2); break;
		case '\\': ks_buf_add(b, "\\\\", 2); break;
		case '\b': ks_buf_add(b, "\\b", 2); break;
		case '\f': ks_buf_add(b, "\\f", 2); break;
		case '\n': ks_buf_add(b, "\\n", 2); break;
		case '\r': ks_buf_add(b, "\\r", 2); break;
		case '\t': ks_buf_add(b, "\\t", 2); break;
		default:
			if (p[i] >= 0x80)
				ks_buf_add(b, "\\ufffd", 6);
			else {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[p[i] >> 4];
				esc[5] = hex[p[i] & 0xf];
				ks_buf_add(b, esc, 6);
			}
		}
		i++;
	}
	ks_buf_addc(b, '"');
}

void
ks_json_scan_ws(struct ks_json_scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
	    *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static void
emit(struct ks_json_scan *s, const unsigned char *from)
{
	if (s->out != NULL)
		ks_buf_add(s->out, from, (size_t)(s->p - from));
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F');
}

/* A string, at its opening quote; 0, or -1 if it is not one. */
/* Whether none of the 8 bytes at p is a control character, '"', '\\'
 * or above 0x7f: the bytes a string scan passes without a look
 * (the zero-byte tests of Hacker's Delight, 6-1, exact as to "none"). */
static int
plain8(const unsigned char *p)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t highs = 0x8080808080808080ULL;
	uint64_t x, q, b, lt;

	memcpy(&x, p, 8);
	lt = (x - ones * 0x20) & ~x;
	q = x ^ (ones * '"');
	q = (q - ones) & ~q;
	b = x ^ (ones * '\\');
	b = (b - ones) & ~b;
	return ((lt | q | b | x) & highs) == 0;
}

int
ks_json_scan_string(struct ks_json_scan *s)
{
	const unsigned char *from = s->p;
	size_t k;
	int i;

	s->p++;
	while (s->p < s->end) {
		/* Eight bytes at a time while none needs a look. */
		while (s->end - s->p >= 8 && plain8(s->p))
			s->p += 8;
		if (s->p >= s->end)
			break;
		if (*s->p == '"') {
			s->p++;
			emit(s, from);
			return 0;
		}
		if (*s->p < 0x20)
			return -1;
		if (*s->p == '\\') {
			if (++s->p >= s->end)
				return -1;
			switch (*s->p) {
			case '"': case '\\': case '/': case 'b': case 'f':
			case 'n': case 'r': case 't':
				s->p++;
				break;
			case 'u':
				if (s->end - s->p < 5)
					return -1;
				for (i = 1; i <= 4; i++)
					if (!is_hex(s->p[i]))
						return -1;
				s->p += 5;
				break;
			default:
				return -1;
			}
			continue;
		}
		if (*s->p < 0x80) {
			s->p++;
			continue;
		}
		if ((k = ks_utf8_seqlen(s->p, (size_t)(s->end - s->p))) == 0)
			return -1;
		s->p += k;
	}
	return -1;
}

/* One or more digits, not copied to out. */
int
ks_json_scan_digits(struct ks_json_scan *s)
{
	const unsigned char *from = s->p;

	while (s->p < s->end && *s->p >= '0' && *s->p <= '9')
		s->p++;
	return s->p > from ? 0 : -1;
}

static int
scan_number(struct ks_json_scan *s)
{
	const unsigned char *from = s->p;

	if (*s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return -1;
	if (*s->p == '0')
		s->p++;
	else if (ks_json_scan_digits(s) == -1)
		return -1;
	if (s->p < s->end && *s->p == '.') {
		s->p++;
		if (ks_json_scan_digits(s) == -1)
			return -1;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		if (ks_json_scan_digits(s) == -1)
			return -1;
	}
	emit(s, from);
	return 0;
}

int
ks_json_scan_word(struct ks_json_scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n) != 0)
		return -1;
	s->p += n;
	if (s->out != NULL)
		ks_buf_add(s->out, w, n);
	return 0;
}

static int
scan_container(struct ks_json_scan *s, int object)
{
	const char close = object ? '}' : ']';

	if (++s->depth > KS_JSON_MAX_DEPTH)
		return -1;
	if (s->out != NULL)
		ks_buf_addc(s->out, object ? '{' : '[');
	s->p++;
	ks_json_scan_ws(s);
	if (s->p < s->end && *s->p == close)
		goto done;
	for (;;) {
		if (object) {
			if (s->p >= s->end || *s->p != '"' ||
			    ks_json_scan_string(s) == -1)
				return -1;
			ks_json_scan_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return -1;
			s->p++;
			if (s->out != NULL)
				ks_buf_addc(s->out, ':');
			ks_json_scan_ws(s);
		}
		if (ks_json_scan_value(s) == -1)
			return -1;
		ks_json_scan_ws(s);
		if (s->p >= s->end)
			return -1;
		if (*s->p == close)
			break;
		if (*s->p != ',')
			return -1;
		s->p++;
		if (s->out != NULL)
			ks_buf_addc(s->out, ',');
		ks_json_scan_ws(s);
	}
done:
	s->p++;
	if (s->out != NULL)
		ks_buf_addc(s->out, close);
	s->depth--;
	return 0;
}

/* One value, at its first character; 0, or -1 if it is not one. */
int
ks_json_scan_value(struct ks_json_scan *s)
{
	if (s->p >= s->end)
		return -1;
	switch (*s->p) {
	case '{':
		return scan_container(s, 1);
	case '[':
		return scan_container(s, 0);
	case '"':
		return ks_json_scan_string(s);
	case 't':
		return ks_json_scan_word(s, "true");
	case 'f':
		return ks_json_scan_word(s, "false");
	case 'n':
		return ks_json_scan_word(s, "null");
	default:
		if (*s->p == '-' || (*s->p >= '0' && *s->p <= '9'))
			return scan_number(s);
		return -1;
	}
}

/* Appends the JSON text, compacted, to out (if not NULL) and returns 0;
 * returns -1 and leaves out as it was if it is not one JSON text. */
int
ks_json_compact(struct ks_buf *out, const void *text, size_t n)
{
	struct ks_json_scan s = { .p = text,
	    .end = (const unsigned char *)text + n, .out = out };
	size_t mark = out != NULL ? out->len : 0;

	ks_json_scan_ws(&s);
	if (ks_json_scan_value(&s) == 0) {
		ks_json_scan_ws(&s);
		if (s.p == s.end)
			return 0;
	}
	if (out != NULL)
		ks_buf_truncate(out, mark);
	return -1;
}

int
ks_json_valid(const void *text, size_t n)
{
	return ks_json_compact(NULL, text, n) == 0;
}
