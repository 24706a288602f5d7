/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * render.c - the JSON renderings of typed values (ksink-converters(7)),
 * shared by the Avro decoder (avrodec.c) and Connect's JSON with schema
 * (cjson.c).  Dates and times by integer arithmetic, in UTC, whatever the
 * process's time zone; decimals exactly, of any length up to
 * KS_RENDER_MAX_DIGITS.
 */
#include "config.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../connectors/lib/buf.h"
#include "render.h"

void
ks_render_int(struct ks_buf *b, int64_t v)
{
	char s[32];
	int n;

	n = snprintf(s, sizeof(s), "%" PRId64, v);
	ks_buf_add(b, s, (size_t)n);
}

/* NaN and the infinities, which JSON has no numbers for; 0 if v is a
 * number. */
static int
nonfinite(struct ks_buf *b, double v)
{
	if (isnan(v))
		ks_buf_add(b, "\"NaN\"", 5);
	else if (isinf(v) && v > 0)
		ks_buf_add(b, "\"Infinity\"", 10);
	else if (isinf(v))
		ks_buf_add(b, "\"-Infinity\"", 11);
	else
		return 0;
	return 1;
}

/* The shortest of %.1g .. %.{max}g that reads back as v (as a float when
 * single). */
static void
shortest(struct ks_buf *b, double v, int single)
{
	char s[40];
	int p, n = 0;

	if (nonfinite(b, v))
		return;
	for (p = 1; p <= (single ? 9 : 17); p++) {
		n = snprintf(s, sizeof(s), "%.*g", p, v);
		if (single ? strtof(s, NULL) == (float)v : strtod(s, NULL) == v)
			break;
	}
	ks_buf_add(b, s, (size_t)n);
}

void
ks_render_double(struct ks_buf *b, double v)
{
	shortest(b, v, 0);
}

void
ks_render_float(struct ks_buf *b, float v)
{
	shortest(b, v, 1);
}

int
ks_render_json_real(struct ks_buf *b, json_t *v, int single)
{
	const char *s = json_string_value(v);
	double d;

	if (json_is_number(v))
		d = json_number_value(v);
	else if (s != NULL && strcmp(s, "NaN") == 0)
		d = NAN;
	else if (s != NULL && strcmp(s, "Infinity") == 0)
		d = INFINITY;
	else if (s != NULL && strcmp(s, "-Infinity") == 0)
		d = -INFINITY;
	else
		return -1;
	if (single)
		shortest(b, (float)d, 1);
	else
		shortest(b, d, 0);
	return 0;
}

/*
 * The digits of the magnitude m (len bytes, big-endian, no leading zero
 * byte) into out, most significant first; their count.  out holds at least
 * KS_RENDER_MAX_DIGITS + 9 bytes and len is small enough for that.
 */
static size_t
magnitude_digits(const unsigned char *m, size_t len, char *out)
{
	uint32_t w[KS_RENDER_MAX_DIGITS / 9 + 2];
	uint32_t chunk[KS_RENDER_MAX_DIGITS / 9 + 2];
	size_t nw, i, nc = 0, start = 0, n;
	uint64_t rem;
	char tmp[16];

	nw = (len + 3) / 4;
	memset(w, 0, sizeof(w));
	for (i = 0; i < len; i++) {
		size_t bit = (len - 1 - i) * 8;	/* from the low end */
		w[nw - 1 - bit / 32] |= (uint32_t)m[i] << (bit % 32);
	}
	while (start < nw) {
		rem = 0;
		for (i = start; i < nw; i++) {
			uint64_t cur = rem << 32 | w[i];
			w[i] = (uint32_t)(cur / 1000000000u);
			rem = cur % 1000000000u;
		}
		chunk[nc++] = (uint32_t)rem;
		while (start < nw && w[start] == 0)
			start++;
	}
	if (nc == 0)
		chunk[nc++] = 0;
	n = (size_t)snprintf(out, 16, "%" PRIu32, chunk[nc - 1]);
	for (i = nc - 1; i-- > 0;) {
		snprintf(tmp, sizeof(tmp), "%09" PRIu32, chunk[i]);
		memcpy(out + n, tmp, 9);
		n += 9;
	}
	return n;
}

int
ks_render_decimal(struct ks_buf *b, const void *be, size_t n,
    int32_t precision, int32_t scale, char *errbuf, size_t errlen)
{
	const unsigned char *in = be;
	unsigned char mag[KS_RENDER_MAX_DIGITS / 2 + 8];
	char digits[KS_RENDER_MAX_DIGITS + 16];
	size_t i, len, nd, least, pad;
	int neg, carry;
	int64_t limit = precision > 0 ? precision : KS_RENDER_MAX_DIGITS;

	if (limit > KS_RENDER_MAX_DIGITS)
		limit = KS_RENDER_MAX_DIGITS;
	neg = n > 0 && (in[0] & 0x80);
	/* Skip the sign's own bytes (0x00, or 0xff when negative). */
	while (n > 1 && in[0] == (neg ? 0xff : 0x00) &&
	    (in[1] & 0x80) == (neg ? 0x80 : 0))
		in++, n--;
	/* At least this many digits: 2^(8(n-1)) <= |v|. */
	least = n > 0 ? (n - 1) * 8 * 30103 / 100000 + 1 : 1;
	if (n > sizeof(mag) || (int64_t)least > limit) {
		ks_util_errf(errbuf, errlen, "decimal of %zu bytes has more "
		    "than %" PRId64 " digits", n, limit);
		return -1;
	}
	memcpy(mag, in, n);
	if (neg) {		/* the magnitude of a negative value */
		carry = 1;
		for (i = n; i-- > 0;) {
			int v = (uint8_t)~mag[i] + carry;
			mag[i] = (unsigned char)v;
			carry = v >> 8;
		}
	}
	for (len = n, i = 0; len > 0 && mag[i] == 0; i++, len--)
		;
	nd = magnitude_digits(mag + i, len, digits);
	if ((int64_t)nd > limit) {
		ks_util_errf(errbuf, errlen, "decimal has %zu digits, more "
		    "than %" PRId64, nd, limit);
		return -1;
	}
	ks_buf_add(b, neg ? "\"-" : "\"", neg ? 2 : 1);
	if (scale <= 0) {
		ks_buf_add(b, digits, nd);
		if (!(nd == 1 && digits[0] == '0'))
			for (; scale < 0; scale++)
				ks_buf_add(b, "0", 1);
	} else if (nd > (size_t)scale) {
		ks_buf_add(b, digits, nd - (size_t)scale);
		ks_buf_add(b, ".", 1);
		ks_buf_add(b, digits + nd - (size_t)scale, (size_t)scale);
	} else {
		ks_buf_add(b, "0.", 2);
		for (pad = (size_t)scale - nd; pad > 0; pad--)
			ks_buf_add(b, "0", 1);
		ks_buf_add(b, digits, nd);
	}
	ks_buf_add(b, "\"", 1);
	return 0;
}

/* Floor division, for values before 1970. */
static int64_t
floordiv(int64_t a, int64_t d)
{
	return a / d - (a % d != 0 && (a < 0) != (d < 0));
}

/* The civil date of a day number (H. Hinnant's days_from_civil inverse). */
static void
civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floordiv(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static void
add_date(struct ks_buf *b, int64_t days)
{
	char s[48];
	int64_t y;
	unsigned m, d;
	int n;

	civil(days, &y, &m, &d);
	if (y < 0)
		n = snprintf(s, sizeof(s), "-%04" PRId64 "-%02u-%02u", -y, m, d);
	else
		n = snprintf(s, sizeof(s), "%04" PRId64 "-%02u-%02u", y, m, d);
	ks_buf_add(b, s, (size_t)n);
}

/* "HH:MM:SS.fff" of v units (10^digits a second) after midnight. */
static void
add_time(struct ks_buf *b, int64_t v, int digits)
{
	int64_t per = digits == 3 ? 1000 : 1000000, secs = v / per;
	char s[32];
	int n;

	n = snprintf(s, sizeof(s), "%02d:%02d:%02d.%0*" PRId64,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60),
	    digits, v % per);
	ks_buf_add(b, s, (size_t)n);
}

void
ks_render_date(struct ks_buf *b, int64_t days)
{
	ks_buf_add(b, "\"", 1);
	add_date(b, days);
	ks_buf_add(b, "\"", 1);
}

int
ks_render_time(struct ks_buf *b, int64_t v, int digits)
{
	int64_t day = digits == 3 ? INT64_C(86400000) : INT64_C(86400000000);

	if (v < 0 || v >= day)
		return -1;
	ks_buf_add(b, "\"", 1);
	add_time(b, v, digits);
	ks_buf_add(b, "\"", 1);
	return 0;
}

void
ks_render_timestamp(struct ks_buf *b, int64_t v, int digits, int utc)
{
	int64_t day = digits == 3 ? INT64_C(86400000) : INT64_C(86400000000);
	int64_t days = floordiv(v, day), r = v % day;

	if (r < 0)
		r += day;
	ks_buf_add(b, "\"", 1);
	add_date(b, days);
	ks_buf_add(b, "T", 1);
	add_time(b, r, digits);
	if (utc)
		ks_buf_add(b, "Z", 1);
	ks_buf_add(b, "\"", 1);
}

void
ks_render_uuid(struct ks_buf *b, const unsigned char *p)
{
	char s[40];
	int i, n = 0;

	s[n++] = '"';
	for (i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			s[n++] = '-';
		n += snprintf(s + n, sizeof(s) - (size_t)n, "%02x", p[i]);
	}
	s[n++] = '"';
	ks_buf_add(b, s, (size_t)n);
}
