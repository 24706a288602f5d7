/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/fuzz/fuzz_http_body.c - the HTTP sink's encoders and parsers.  The
 * plugin's sources are compiled in so that its functions can be
 * called.  The first byte chooses what is fuzzed:
 *
 *   0  request bodies: up to 4 records in the json, ndjson or value body
 *      format.  Invariants: a json body is one JSON array and an ndjson
 *      body one JSON object per line, by an independent checker
 *      ("http-body-valid"); each envelope is the shared encoder's
 *      (connectors/lib/envelope.c), checked by fz_check_envelope
 *      ("envelope-*" in fuzz.h), and the body is the envelopes,
 *      separated ("http-body-roundtrip"); a value body is the values,
 *      concatenated.
 *   1  the offset protocol's answer, {"next_offset": N}: an accepted
 *      answer is JSON and N >= 0 or none ("http-next-offset").
 *   2  http.header values: an accepted header holds no line break
 *      ("http-header-injection"); a refused one has a message (the
 *      daemon's log folds the line breaks that a value may bring).
 *   3  http.url: an accepted URL is logged without its query string,
 *      user or password, on one line ("http-url-log").
 *   4  http.retry.status.
 *   5  the quoting of a response body in messages: one printable line
 *      ("http-quote").
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "../../connectors/http/http.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
bodies(struct fz *f)
{
	struct sink s;
	struct fz_rec x[4];
	struct ks_buf one = { 0 };
	size_t n, i, off = 0;
	int fmt = fz_u8(f) % 3;

	memset(&s, 0, sizeof(s));
	s.format = fmt == 0 ? FMT_JSON : fmt == 1 ? FMT_NDJSON : FMT_VALUE;
	n = 1 + fz_u8(f) % 4;
	for (i = 0; i < n; i++)
		fz_rec_read(f, &x[i], (int64_t)i);
	body_begin(&s);
	for (i = 0; i < n; i++)
		body_add(&s, &x[i].r, i);
	body_end(&s);
	FZ_CHECK("http-body-valid", !s.body.oom, "out of memory");

	if (s.format == FMT_VALUE) {
		for (i = 0; i < n; i++) {
			size_t vl = x[i].r.value ? x[i].r.value_len : 0;

			FZ_CHECK("http-body-roundtrip", off + vl <= s.body.len &&
			    (vl == 0 || memcmp(s.body.p + off, x[i].r.value,
			    vl) == 0), "value body is not the values");
			off += vl;
		}
		FZ_CHECK("http-body-roundtrip", off == s.body.len,
		    "value body longer than the values");
	} else {
		if (s.format == FMT_JSON)
			FZ_CHECK("http-body-valid", fz_json_valid(s.body.p,
			    s.body.len), "json body is not JSON: %.*s",
			    (int)s.body.len, s.body.p);
		off = s.format == FMT_JSON ? 1 : 0;
		for (i = 0; i < n; i++) {
			ks_buf_reset(&one);
			ks_envelope_add(&one, &x[i].r);
			FZ_CHECK("http-body-valid", !one.oom, "out of memory");
			fz_check_envelope(one.p, one.len, &x[i].r,
			    KS_JSON_MAX_DEPTH);
			/* The body is the envelopes, separated. */
			FZ_CHECK("http-body-roundtrip", off + one.len <=
			    s.body.len && memcmp(s.body.p + off, one.p,
			    one.len) == 0, "envelope %zu differs in the body",
			    i);
			off += one.len + 1;
			if (s.format == FMT_NDJSON)
				FZ_CHECK("http-body-one-line",
				    s.body.p[off - 1] == '\n',
				    "ndjson: no newline after envelope %zu", i);
		}
		FZ_CHECK("http-body-roundtrip", off == s.body.len,
		    "body longer than its envelopes");
	}
	ks_buf_free(&one);
	ks_buf_free(&s.body);
	for (i = 0; i < n; i++)
		fz_rec_free(&x[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct sink s;
	char err[512], *text, *logged = NULL, quoted[256];
	int64_t next;
	int ctype = 0, rc;

	switch (fz_u8(&f) % 6) {
	case 0:
		bodies(&f);
		break;
	case 1:
		if (parse_next_offset_text((const char *)f.p, f.n, &next) == 0) {
			FZ_CHECK("http-next-offset", fz_json_valid(f.p, f.n),
			    "accepted an answer that is not JSON: %.*s",
			    (int)f.n, f.p);
			FZ_CHECK("http-next-offset", next >= 0 ||
			    next == KSINK_OFFSET_NONE, "next_offset %lld",
			    (long long)next);
		}
		break;
	case 2:
		text = fz_cstr(&f, 4096);
		err[0] = '\0';
		if (check_header(text, &ctype, err, sizeof(err)) == 0)
			FZ_CHECK("http-header-injection",
			    strpbrk(text, "\r\n") == NULL && strchr(text, ':'),
			    "accepted header %s", text);
		else
			FZ_CHECK("http-header-message", *err != '\0',
			    "refused without a message");
		free(text);
		break;
	case 3:
		text = fz_cstr(&f, 4096);
		err[0] = '\0';
		rc = check_url("http.url", text, &logged, err, sizeof(err));
		if (rc == 0) {
			FZ_CHECK("http-url-log", logged != NULL &&
			    strpbrk(logged, "\r\n?") == NULL,
			    "URL %s logged as %s", text, logged);
			free(logged);
		} else
			FZ_CHECK("http-url-log", *err != '\0',
			    "refused without a message");
		free(text);
		break;
	case 4:
		text = fz_cstr(&f, 1024);
		memset(&s, 0, sizeof(s));
		(void)parse_retry_status(&s, text, err, sizeof(err));
		free(text);
		break;
	case 5:
		memset(&s, 0, sizeof(s));
		ks_buf_add(&s.resp, f.p, f.n);
		quote_response(&s, quoted, sizeof(quoted), f.n % 300);
		FZ_CHECK("http-quote", strlen(quoted) < sizeof(quoted) &&
		    strpbrk(quoted, "\r\n") == NULL, "quoted: %s", quoted);
		for (text = quoted; *text != '\0'; text++)
			FZ_CHECK("http-quote", *text >= 0x20 && *text < 0x7f,
			    "unprintable byte in %s", quoted);
		ks_buf_free(&s.resp);
		break;
	}
	return 0;
}
