/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * render.h - the JSON renderings of typed values that the Avro and the
 * Connect JSON decoders share (ksink-converters(7)): numbers, decimals,
 * dates, times, timestamps and UUIDs.  Strings and bytes are written by
 * connectors/lib's encoders, ks_json_add_string() and ks_base64_add(),
 * as every JSON text of ksink's is.
 */
#ifndef KS_RENDER_H
#define KS_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct ks_buf;

/* The most digits a decimal may have, its scale included. */
#define KS_RENDER_MAX_DIGITS	1000

void	ks_render_int(struct ks_buf *, int64_t);
/* The shortest decimal that reads back as the same value; NaN and the
 * infinities as the strings "NaN", "Infinity" and "-Infinity". */
void	ks_render_double(struct ks_buf *, double);
void	ks_render_float(struct ks_buf *, float);
/* A JSON number, or one of those three strings, as a double or (single)
 * a float; -1 when v is neither (nothing appended). */
struct json_t;
int	ks_render_json_real(struct ks_buf *, struct json_t *v,
	    int single);

/*
 * A decimal whose unscaled value is the n bytes at be (two's complement,
 * big-endian; no bytes is zero), as a JSON string with exactly scale
 * digits after the point ("-12.30"; a negative scale appends zeros).  -1
 * with errbuf saying why when it has more digits than precision (when
 * precision > 0) or KS_RENDER_MAX_DIGITS (nothing appended).
 */
int	ks_render_decimal(struct ks_buf *, const void *be, size_t n,
	    int32_t precision, int32_t scale, char *errbuf, size_t errlen);

/* Days since 1970-01-01 as "YYYY-MM-DD" (proleptic Gregorian). */
void	ks_render_date(struct ks_buf *, int64_t days);
/* Milliseconds (digits 3) or microseconds (digits 6) after midnight as
 * "HH:MM:SS.fff"; -1 when not within one day (nothing appended). */
int	ks_render_time(struct ks_buf *, int64_t v, int digits);
/* Milliseconds or microseconds since 1970-01-01T00:00:00Z as
 * "YYYY-MM-DDTHH:MM:SS.fffZ" (without the Z unless utc). */
void	ks_render_timestamp(struct ks_buf *, int64_t v, int digits,
	    int utc);
/* 16 bytes as a UUID string, "0b0e9c2a-...". */
void	ks_render_uuid(struct ks_buf *, const unsigned char *p);

#endif
