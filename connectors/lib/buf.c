/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/buf.c - growable byte buffers.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

int
ks_buf_grow(struct ks_buf *b, size_t add)
{
	size_t cap;
	char *p;

	if (b->oom)
		return -1;
	if (add >= SIZE_MAX - b->len) {
		b->oom = 1;
		return -1;
	}
	if (b->len + add + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + add + 1) {
		if (cap > SIZE_MAX / 2) {
			cap = b->len + add + 1;
			break;
		}
		cap *= 2;
	}
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

/* A decimal integer, without printf. */
void
ks_buf_addi64(struct ks_buf *b, int64_t v)
{
	char tmp[24], *q = tmp + sizeof(tmp);
	uint64_t u = v < 0 ? -(uint64_t)v : (uint64_t)v;

	do {
		*--q = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--q = '-';
	ks_buf_add(b, q, (size_t)(tmp + sizeof(tmp) - q));
}

void
ks_buf_vaddf(struct ks_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	if (ks_buf_reserve(b, (size_t)n) == -1)
		return;
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	b->len += (size_t)n;
}

void
ks_buf_addf(struct ks_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ks_buf_vaddf(b, fmt, ap);
	va_end(ap);
}

/* Cuts the text back to len bytes (a mark taken earlier). */
void
ks_buf_truncate(struct ks_buf *b, size_t len)
{
	if (len > b->len)
		return;
	b->len = len;
	if (b->p != NULL)
		b->p[len] = '\0';
}

void
ks_buf_reset(struct ks_buf *b)
{
	b->len = 0;
	b->oom = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

void
ks_buf_free(struct ks_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
