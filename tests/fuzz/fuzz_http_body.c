/*
 * tests/fuzz/fuzz_http_body.c - the HTTP sink's encoders and parsers.  The
 * plugin's source is compiled in so that its static functions can be
 * called.  The first byte chooses what is fuzzed:
 *
 *   0  request bodies: up to 4 records in the json, ndjson or value body
 *      format.  Invariants: a json body is one JSON array and an ndjson
 *      body one JSON object per line, by an independent checker
 *      ("http-body-valid"); no raw line break inside an envelope
 *      ("http-body-one-line"); keys, values and header values decode back
 *      to the record's bytes, a value embedded as JSON is JSON without
 *      insignificant white space ("http-body-roundtrip"); a value body is
 *      the values, concatenated.
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
#include "../../connectors/http/http.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether JSON text s has white space outside its strings. */
static int
has_outer_ws(const char *s, size_t n)
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

/* "NAME":..., "NAME_encoding":... of key and header values. */
static void
check_bytes(const char *obj, size_t len, const char *name, const void *v,
    size_t n)
{
	const char *m, *e;
	size_t mlen, elen, outlen, fixlen;
	unsigned char *out, *fix;
	char enc[64];

	snprintf(enc, sizeof(enc), "%s_encoding", name);
	FZ_CHECK("http-body-roundtrip", fz_json_member(obj, len, name, &m,
	    &mlen) == 0 && fz_json_member(obj, len, enc, &e, &elen) == 0,
	    "no %s or %s in %.*s", name, enc, (int)len, obj);
	if (v == NULL) {
		FZ_CHECK("http-body-roundtrip", mlen == 4 &&
		    memcmp(m, "null", 4) == 0 && elen == 4 &&
		    memcmp(e, "null", 4) == 0, "%s: null not written as null",
		    name);
		return;
	}
	FZ_CHECK("http-body-roundtrip", mlen >= 2 && m[0] == '"',
	    "%s: bytes not written as a string", name);
	if (elen == 8 && memcmp(e, "\"string\"", 8) == 0) {
		out = fz_json_unquote(m, mlen, &outlen);
		fix = fz_utf8_fix(v, n, &fixlen);
		FZ_CHECK("http-body-roundtrip", fz_utf8_valid(v, n) &&
		    outlen == fixlen && memcmp(out, fix, outlen) == 0,
		    "%s: string does not decode to the record's text", name);
		free(out);
		free(fix);
		return;
	}
	FZ_CHECK("http-body-roundtrip", elen == 8 &&
	    memcmp(e, "\"base64\"", 8) == 0, "%s: encoding %.*s", name,
	    (int)elen, e);
	FZ_CHECK("http-body-roundtrip", !fz_utf8_valid(v, n),
	    "%s: UTF-8 text sent as base64", name);
	out = fz_base64_decode(m + 1, mlen - 2, &outlen);
	FZ_CHECK("http-body-roundtrip", out != NULL && outlen == n &&
	    memcmp(out, v, n) == 0,
	    "%s: base64 does not decode to the record's bytes", name);
	free(out);
}

static void
check_envelope(const char *obj, size_t len, const struct ksink_record *r)
{
	const char *m, *e, *h;
	size_t mlen, elen, hlen, i;
	struct fz_json j;

	FZ_CHECK("http-body-one-line", memchr(obj, '\n', len) == NULL &&
	    memchr(obj, '\r', len) == NULL, "a line break in an envelope: "
	    "%.*s", (int)len, obj);
	FZ_CHECK("http-body-valid", fz_json_valid(obj, len),
	    "an envelope is not JSON: %.*s", (int)len, obj);
	check_bytes(obj, len, "key", r->key, r->key_len);
	if (r->value != NULL && fz_json_valid_depth(r->value, r->value_len,
	    HTTP_JSON_DEPTH)) {
		FZ_CHECK("http-body-roundtrip", fz_json_member(obj, len,
		    "value", &m, &mlen) == 0 && fz_json_member(obj, len,
		    "value_encoding", &e, &elen) == 0 && elen == 6 &&
		    memcmp(e, "\"json\"", 6) == 0,
		    "a JSON value not sent as JSON: %.*s", (int)len, obj);
		FZ_CHECK("http-body-roundtrip", fz_json_valid(m, mlen) &&
		    !has_outer_ws(m, mlen), "embedded JSON not compact: %.*s",
		    (int)mlen, m);
	} else
		check_bytes(obj, len, "value", r->value, r->value_len);
	FZ_CHECK("http-body-roundtrip", fz_json_member(obj, len, "headers",
	    &h, &hlen) == 0 && h[0] == '[', "no headers array");
	/* Each header object, in order. */
	j.p = (const unsigned char *)h + 1;
	j.end = (const unsigned char *)h + hlen;
	j.depth = 0;
	for (i = 0; i < r->header_count; i++) {
		const char *o = (const char *)j.p;

		FZ_CHECK("http-body-roundtrip", fz_json_value(&j) == 0,
		    "header %zu is not JSON", i);
		check_bytes(o, (size_t)((const char *)j.p - o), "value",
		    r->headers[i].value, r->headers[i].value_len);
		if (j.p < j.end && *j.p == ',')
			j.p++;
	}
	FZ_CHECK("http-body-roundtrip", j.p < j.end && *j.p == ']',
	    "more headers than the record has");
}

static void
bodies(struct fz *f)
{
	struct http_sink s;
	struct fz_rec x[4];
	struct buf one = { 0 };
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
			buf_reset(&one);
			envelope(&one, &x[i].r);
			FZ_CHECK("http-body-valid", !one.oom, "out of memory");
			check_envelope(one.p, one.len, &x[i].r);
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
	buf_free(&one);
	buf_free(&s.body);
	for (i = 0; i < n; i++)
		fz_rec_free(&x[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct http_sink s;
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
		buf_add(&s.resp, f.p, f.n);
		quote_response(&s, quoted, sizeof(quoted), f.n % 300);
		FZ_CHECK("http-quote", strlen(quoted) < sizeof(quoted) &&
		    strpbrk(quoted, "\r\n") == NULL, "quoted: %s", quoted);
		for (text = quoted; *text != '\0'; text++)
			FZ_CHECK("http-quote", *text >= 0x20 && *text < 0x7f,
			    "unprintable byte in %s", quoted);
		buf_free(&s.resp);
		break;
	}
	return 0;
}
