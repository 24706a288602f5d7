/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/buf.h - growable byte buffers.
 *
 * An allocation failure sets oom; later appends then do nothing, so that
 * a writer checks oom once, when the whole text is written.  The bytes
 * are always followed by a NUL that len does not count.
 */
#ifndef KS_BUF_H
#define KS_BUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ks_buf {
	char *p;
	size_t len, cap;
	int oom;
};

int	ks_buf_grow(struct ks_buf *, size_t add);
void	ks_buf_addi64(struct ks_buf *, int64_t);
void	ks_buf_addf(struct ks_buf *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	ks_buf_vaddf(struct ks_buf *, const char *fmt, va_list)
	    __attribute__((format(printf, 2, 0)));
void	ks_buf_truncate(struct ks_buf *, size_t len);
void	ks_buf_reset(struct ks_buf *);
void	ks_buf_free(struct ks_buf *);

/* Room for add more bytes and the NUL; 0, or -1 (oom is set). */
static inline int
ks_buf_reserve(struct ks_buf *b, size_t add)
{
	if (!b->oom && b->cap - b->len > add)
		return 0;
	return ks_buf_grow(b, add);
}

static inline void
ks_buf_add(struct ks_buf *b, const void *p, size_t n)
{
	if (ks_buf_reserve(b, n) == -1)
		return;
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static inline void
ks_buf_addc(struct ks_buf *b, char c)
{
	if (ks_buf_reserve(b, 1) == -1)
		return;
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static inline void
ks_buf_adds(struct ks_buf *b, const char *s)
{
	ks_buf_add(b, s, strlen(s));
}

#endif
