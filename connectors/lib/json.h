/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/json.h - JSON strings, and a strict RFC 8259 checker that
 * can copy the text it checks without insignificant white space.
 */
#ifndef KS_JSON_H
#define KS_JSON_H

#include <stddef.h>

struct ks_buf;

/* The deepest nesting of arrays and objects a text may have to count as
 * JSON (ksink-record(7)). */
#define KS_JSON_MAX_DEPTH	256

/* A reader of JSON text: p moves past what was read; what is read is
 * copied to out (if not NULL) without insignificant white space. */
struct ks_json_scan {
	const unsigned char *p, *end;
	struct ks_buf *out;
	int depth;
};

void	ks_json_add_string(struct ks_buf *, const void *s, size_t n);
int	ks_json_compact(struct ks_buf *out, const void *text, size_t n);
int	ks_json_valid(const void *text, size_t n);

void	ks_json_scan_ws(struct ks_json_scan *);
int	ks_json_scan_value(struct ks_json_scan *);
int	ks_json_scan_string(struct ks_json_scan *);
int	ks_json_scan_word(struct ks_json_scan *, const char *word);
int	ks_json_scan_digits(struct ks_json_scan *);

#endif
