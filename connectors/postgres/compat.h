/*
 * connectors/postgres/compat.h - the generic helpers the postgres sink
 * needs until connectors/lib provides them: a growable buffer, UTF-8
 * validation, JSON string escaping, base64, the headers of a record as
 * JSON (the record shape of ksink-sqlite(7)), and errbuf formatting.
 * Nothing here is specific to PostgreSQL: every function is meant to be
 * replaced by its connectors/lib equivalent, and the file deleted.
 */
#ifndef KS_PG_COMPAT_H
#define KS_PG_COMPAT_H

#include <stddef.h>

#include "ksink/sink.h"

/* A growable byte buffer; oom is set when a growth failed (the contents
 * are then incomplete). */
struct compat_buf {
	char *p;
	size_t len, cap;
	int oom;
};

int	compat_buf_reserve(struct compat_buf *, size_t add);
void	compat_buf_add(struct compat_buf *, const void *, size_t);
void	compat_buf_adds(struct compat_buf *, const char *);
void	compat_buf_addc(struct compat_buf *, char);
void	compat_buf_reset(struct compat_buf *);
void	compat_buf_free(struct compat_buf *);

/* Whether n bytes at p are valid UTF-8 (and, with nul_ok == 0, hold no
 * NUL byte). */
int	compat_utf8_check(const void *p, size_t n, int nul_ok);

/* Appends s as the inside of a JSON string; invalid UTF-8 becomes U+FFFD. */
void	compat_json_add_string(struct compat_buf *, const void *s, size_t n);

/* Appends the record's headers as a JSON array:
 * [{"name":"a","value":"text"},{"name":"b","value":null},
 *  {"name":"c","value_base64":"3q2+7w=="}]. */
void	compat_headers_json(struct compat_buf *, const struct ksink_record *);

/* Fills errbuf (set) or appends to it (append). */
void	compat_err_set(char *errbuf, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	compat_err_append(char *errbuf, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

#endif
