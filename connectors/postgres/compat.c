/*
 * connectors/postgres/compat.c - generic helpers of the postgres sink,
 * to be replaced by connectors/lib (see compat.h).
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

int
compat_buf_reserve(struct compat_buf *b, size_t add)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (add <= b->cap - b->len)
		return 0;
	if (add > SIZE_MAX / 2 - b->len) {
		b->oom = 1;
		return -1;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < add)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

void
compat_buf_add(struct compat_buf *b, const void *p, size_t n)
{
	if (n == 0 || compat_buf_reserve(b, n) == -1)
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void
compat_buf_adds(struct compat_buf *b, const char *s)
{
	compat_buf_add(b, s, strlen(s));
}

void
compat_buf_addc(struct compat_buf *b, char c)
{
	compat_buf_add(b, &c, 1);
}

void
compat_buf_reset(struct compat_buf *b)
{
	b->len = 0;
	b->oom = 0;
}

void
compat_buf_free(struct compat_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes left), 0 if none:
 * overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0)
		return (n >= 2 && (s[1] & 0xc0) == 0x80) ? 2 : 0;
	if (c < 0xf0) {
		if (n < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] >= 0xa0))
			return 0;
		return 3;
	}
	if (c < 0xf5) {
		if (n < 4 || (s[1] & 0xc0) != 0x80 ||
		    (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] >= 0x90))
			return 0;
		return 4;
	}
	return 0;
}

int
compat_utf8_check(const void *p, size_t n, int nul_ok)
{
	const unsigned char *s = p;
	size_t i = 0, l;

	while (i < n) {
		if (s[i] == 0 && !nul_ok)
			return 0;
		if ((l = utf8_len(s + i, n - i)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

void
compat_json_add_string(struct compat_buf *b, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = p;
	char esc[6];
	size_t i = 0, l;
	unsigned c;

	while (i < n) {
		c = s[i];
		if (c >= 0x80) {
			if ((l = utf8_len(s + i, n - i)) == 0) {
				compat_buf_add(b, "\\ufffd", 6);
				i++;
			} else {
				compat_buf_add(b, s + i, l);
				i += l;
			}
			continue;
		}
		i++;
		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			compat_buf_add(b, esc, 2);
		} else if (c >= 0x20)
			compat_buf_addc(b, (char)c);
		else if (c == '\n')
			compat_buf_add(b, "\\n", 2);
		else if (c == '\t')
			compat_buf_add(b, "\\t", 2);
		else if (c == '\r')
			compat_buf_add(b, "\\r", 2);
		else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			compat_buf_add(b, esc, 6);
		}
	}
}

static void
base64_add(struct compat_buf *b, const unsigned char *s, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char o[4];
	size_t i;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		o[0] = tab[v >> 18];
		o[1] = tab[(v >> 12) & 63];
		o[2] = tab[(v >> 6) & 63];
		o[3] = tab[v & 63];
		compat_buf_add(b, o, 4);
	}
	if (n - i == 0)
		return;
	v = (uint32_t)s[i] << 16;
	if (n - i == 2)
		v |= (uint32_t)s[i + 1] << 8;
	o[0] = tab[v >> 18];
	o[1] = tab[(v >> 12) & 63];
	o[2] = n - i == 2 ? tab[(v >> 6) & 63] : '=';
	o[3] = '=';
	compat_buf_add(b, o, 4);
}

void
compat_headers_json(struct compat_buf *b, const struct ksink_record *r)
{
	const struct ksink_header *h;
	size_t i;

	compat_buf_addc(b, '[');
	for (i = 0; i < r->header_count; i++) {
		h = &r->headers[i];
		if (i > 0)
			compat_buf_addc(b, ',');
		compat_buf_adds(b, "{\"name\":\"");
		if (h->name)
			compat_json_add_string(b, h->name, strlen(h->name));
		if (h->value == NULL)
			compat_buf_adds(b, "\",\"value\":null}");
		else if (compat_utf8_check(h->value, h->value_len, 0)) {
			compat_buf_adds(b, "\",\"value\":\"");
			compat_json_add_string(b, h->value, h->value_len);
			compat_buf_adds(b, "\"}");
		} else {
			compat_buf_adds(b, "\",\"value_base64\":\"");
			base64_add(b, h->value, h->value_len);
			compat_buf_adds(b, "\"}");
		}
	}
	compat_buf_addc(b, ']');
}

void
compat_err_set(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errbuf == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

void
compat_err_append(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	if (errbuf == NULL || errlen == 0)
		return;
	len = strnlen(errbuf, errlen);
	if (len + 1 >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf + len, errlen - len, fmt, ap);
	va_end(ap);
}
