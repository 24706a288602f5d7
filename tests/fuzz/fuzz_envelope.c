/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/fuzz/fuzz_envelope.c - the record envelope (ksink-record(7)), the
 * one encoder of a record as JSON that the file sink's json format, the
 * HTTP sink's bodies and the SQLite sink's :headers share
 * (connectors/lib/envelope.c).  Records are made of the fuzzer's bytes
 * (any topic, key, value and headers, not UTF-8, not JSON, NUL bytes,
 * tombstones, deep nesting).
 *
 * Invariants (fz_check_envelope in fuzz.h, an independent checker): one
 * line ("envelope-one-line"), one JSON object ("envelope-valid"), and the
 * topic, partition, offset, timestamp, key, value and header values decode
 * back to the record's by the envelope's rule ("envelope-roundtrip"); the
 * headers array alone is the envelope's ("envelope-headers").
 */
#include "../../connectors/lib/buf.h"
#include "../../connectors/lib/envelope.h"
#include "../../connectors/lib/json.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct ks_buf b = { 0 }, h = { 0 };
	const char *m;
	size_t mlen;
	struct fz_rec x;

	fz_rec_read(&f, &x, (int64_t)fz_uint(&f, 8));
	ks_envelope_add(&b, &x.r);
	FZ_CHECK("envelope-valid", !b.oom && b.len > 0, "out of memory");
	fz_check_envelope(b.p, b.len, &x.r, KS_JSON_MAX_DEPTH);

	/* The SQLite sink's :headers: the envelope's headers array. */
	ks_envelope_add_headers(&h, &x.r);
	FZ_CHECK("envelope-headers", !h.oom && fz_json_member(b.p, b.len,
	    "headers", &m, &mlen) == 0 && mlen == h.len &&
	    memcmp(m, h.p, mlen) == 0, "headers alone differ: %.*s",
	    (int)h.len, h.p);
	ks_buf_free(&b);
	ks_buf_free(&h);
	fz_rec_free(&x);
	return 0;
}
