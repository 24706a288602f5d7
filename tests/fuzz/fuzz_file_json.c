/*
 * tests/fuzz/fuzz_file_json.c - the file sink's record encoders.  The
 * plugin's source is compiled in so that its static encoders can be
 * called; records are made of the fuzzer's bytes (any topic, key, value
 * and headers, not UTF-8, not JSON, NUL bytes, tombstones).
 *
 * Invariants: the counting pass and the writing pass agree on the length
 * ("file-json-length"); a json line is one line ending in '\n'
 * ("file-json-one-line") and one JSON object by an independent checker
 * ("file-json-valid"); its key and value decode back to the record's bytes
 * (as JSON text, as a string with invalid UTF-8 replaced by U+FFFD, or as
 * base64) and its topic, offset and partition are the record's
 * ("file-json-roundtrip").  The value format is checked through the
 * plugin's interface by fuzz_file_manifest.
 */
#include "../../connectors/file/file.c"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The field's bytes as the encoder must have written them. */
static void
check_field(const char *line, size_t len, const char *field, int kind,
    const void *data, size_t n, int has_enc)
{
	char enc[64];
	const char *v, *e;
	size_t vlen, elen, outlen, fixlen;
	unsigned char *out, *fix;

	FZ_CHECK("file-json-roundtrip", fz_json_member(line, len, field, &v,
	    &vlen) == 0, "no member \"%s\" in %.*s", field, (int)len, line);
	snprintf(enc, sizeof(enc), "%s_encoding", field);
	switch (kind) {
	case JK_NULL:
		FZ_CHECK("file-json-roundtrip", vlen == 4 &&
		    memcmp(v, "null", 4) == 0, "%s: null written as %.*s",
		    field, (int)vlen, v);
		return;
	case JK_JSON:
		/* Embedded as it is, its line breaks turned into blanks;
		 * leading and trailing white space may go. */
		FZ_CHECK("file-json-roundtrip", fz_json_valid(data, n),
		    "%s: not JSON but embedded as JSON", field);
		FZ_CHECK("file-json-roundtrip", fz_json_member(line, len, enc,
		    &e, &elen) == -1, "%s: JSON with an encoding member",
		    field);
		FZ_CHECK("file-json-roundtrip", vlen <= n,
		    "%s: embedded JSON longer than the value", field);
		return;
	case JK_STRING:
		FZ_CHECK("file-json-roundtrip", !has_enc ||
		    (fz_json_member(line, len, enc, &e, &elen) == 0 &&
		    elen == 8 && memcmp(e, "\"string\"", 8) == 0),
		    "%s: text without \"%s\":\"string\"", field, enc);
		FZ_CHECK("file-json-roundtrip", vlen >= 2 && v[0] == '"',
		    "%s: text not written as a string", field);
		out = fz_json_unquote(v, vlen, &outlen);
		fix = fz_utf8_fix(data, n, &fixlen);
		FZ_CHECK("file-json-roundtrip", outlen == fixlen &&
		    memcmp(out, fix, outlen) == 0,
		    "%s: string does not decode to the record's text", field);
		free(out);
		free(fix);
		return;
	default:
		FZ_CHECK("file-json-roundtrip", fz_json_member(line, len, enc,
		    &e, &elen) == 0 && elen == 8 &&
		    memcmp(e, "\"base64\"", 8) == 0,
		    "%s: bytes without \"%s\":\"base64\"", field, enc);
		FZ_CHECK("file-json-roundtrip", vlen >= 2 && v[0] == '"',
		    "%s: base64 not a string", field);
		out = fz_base64_decode(v + 1, vlen - 2, &outlen);
		FZ_CHECK("file-json-roundtrip", out != NULL && outlen == n &&
		    memcmp(out, data, n) == 0,
		    "%s: base64 does not decode to the record's bytes", field);
		free(out);
		return;
	}
}

static void
check_number(const char *line, size_t len, const char *field, int64_t want)
{
	const char *v;
	size_t vlen;
	char buf[32];

	FZ_CHECK("file-json-roundtrip", fz_json_member(line, len, field, &v,
	    &vlen) == 0 && vlen < sizeof(buf), "no member \"%s\"", field);
	memcpy(buf, v, vlen);
	buf[vlen] = '\0';
	FZ_CHECK("file-json-roundtrip", strtoll(buf, NULL, 10) == want,
	    "%s written as %s, is %lld", field, buf, (long long)want);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct fz_rec x;
	struct emit e;
	size_t n;
	char *buf;
	int kk, vk;

	fz_rec_read(&f, &x, (int64_t)fz_uint(&f, 8));

	kk = jkind(x.r.key, x.r.key_len);
	vk = jkind(x.r.value, x.r.value_len);
	e.p = NULL;
	e.n = 0;
	emit_json_record(&e, &x.r, kk, vk);
	n = e.n;
	/* Exactly n bytes: ASan catches a write past them. */
	if ((buf = malloc(n)) == NULL)
		abort();
	e.p = buf;
	e.n = 0;
	emit_json_record(&e, &x.r, kk, vk);
	FZ_CHECK("file-json-length", e.n == n,
	    "counted %zu bytes, wrote %zu", n, e.n);
	FZ_CHECK("file-json-one-line", n > 0 && buf[n - 1] == '\n' &&
	    memchr(buf, '\n', n - 1) == NULL && memchr(buf, '\r', n) == NULL,
	    "a record is not one line: %.*s", (int)n, buf);
	FZ_CHECK("file-json-valid", fz_json_valid(buf, n - 1),
	    "not JSON: %.*s", (int)n, buf);
	check_field(buf, n - 1, "key", kk, x.r.key, x.r.key_len, 1);
	check_field(buf, n - 1, "value", vk, x.r.value, x.r.value_len, 1);
	check_field(buf, n - 1, "topic", JK_STRING, x.r.topic,
	    strlen(x.r.topic), 0);
	check_number(buf, n - 1, "offset", x.r.offset);
	check_number(buf, n - 1, "partition", x.r.partition);
	free(buf);

	fz_rec_free(&x);
	return 0;
}
