/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/fuzz/fuzz_avro.c - Avro bodies decoded with their writer schema
 * (src/avroschema.c, src/avrodec.c, src/render.c), the converter that
 * reads whatever a Kafka topic holds.
 *
 * Input: one byte choosing a schema of the table below (every type and
 * logical type, unions, recursion), or 0xff followed by a 2-byte length
 * and a schema's text; then the body.
 *
 * Invariants, besides no crash, no leak and no unbounded allocation:
 * a decoded body is one JSON text ("avro-json") and decodes the same
 * again ("avro-deterministic"); a refused one has a message and appends
 * nothing ("avro-poison"); Avro's encoding is prefix-free, so a body that
 * decodes is refused without its last byte ("avro-prefix") and with one
 * more ("avro-trailing").
 */
#include "avrodec.h"
#include "../../connectors/lib/buf.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const schemas[] = {
	"\"long\"",
	"\"string\"",
	"[\"null\",\"int\",\"double\",\"string\",\"bytes\",\"boolean\","
	    "\"float\"]",
	"{\"type\":\"record\",\"name\":\"L\",\"fields\":[{\"name\":\"v\","
	    "\"type\":{\"type\":\"bytes\",\"logicalType\":\"decimal\","
	    "\"precision\":38,\"scale\":4}},{\"name\":\"next\",\"type\":"
	    "[\"null\",\"L\"]}]}",
	"{\"type\":\"record\",\"name\":\"T\",\"fields\":["
	    "{\"name\":\"d\",\"type\":{\"type\":\"int\",\"logicalType\":"
	    "\"date\"}},"
	    "{\"name\":\"tm\",\"type\":{\"type\":\"int\",\"logicalType\":"
	    "\"time-millis\"}},"
	    "{\"name\":\"tu\",\"type\":{\"type\":\"long\",\"logicalType\":"
	    "\"time-micros\"}},"
	    "{\"name\":\"ts\",\"type\":{\"type\":\"long\",\"logicalType\":"
	    "\"timestamp-millis\"}},"
	    "{\"name\":\"tsu\",\"type\":{\"type\":\"long\",\"logicalType\":"
	    "\"timestamp-micros\"}},"
	    "{\"name\":\"lt\",\"type\":{\"type\":\"long\",\"logicalType\":"
	    "\"local-timestamp-micros\"}},"
	    "{\"name\":\"u\",\"type\":{\"type\":\"string\",\"logicalType\":"
	    "\"uuid\"}},"
	    "{\"name\":\"fd\",\"type\":{\"type\":\"fixed\",\"name\":\"FD\","
	    "\"size\":9,\"logicalType\":\"decimal\",\"precision\":20,"
	    "\"scale\":20}}]}",
	"{\"type\":\"array\",\"items\":{\"type\":\"map\",\"values\":"
	    "[\"null\",{\"type\":\"enum\",\"name\":\"E\",\"symbols\":"
	    "[\"A\",\"B\",\"C\"]}]}}",
	"{\"type\":\"array\",\"items\":[\"null\",{\"type\":\"record\","
	    "\"name\":\"Z\",\"fields\":[{\"name\":\"n\",\"type\":\"null\"},"
	    "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
	    "\"size\":0}}]}]}",
	"{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":"
	    "\"Y\"}}",	/* refused: Y is undefined */
	"{\"type\":\"record\",\"name\":\"N\",\"fields\":[{\"name\":\"f\","
	    "\"type\":\"float\"},{\"name\":\"d\",\"type\":\"double\"},"
	    "{\"name\":\"u\",\"type\":{\"type\":\"fixed\",\"name\":\"U\","
	    "\"size\":16,\"logicalType\":\"uuid\"}},{\"name\":\"b\","
	    "\"type\":\"bytes\"}]}",
};

static int
decode(const struct ks_avro_schema *s, const void *body, size_t n,
    struct ks_buf *out, char *err, size_t errlen)
{
	size_t before = out->len;
	int rc;

	err[0] = '\0';
	rc = ks_avro_decode(s, body, n, out, err, errlen);
	FZ_CHECK("avro-poison", rc == KSINK_OK || (rc == KSINK_POISON &&
	    err[0] != '\0' && out->len == before), "rc %d, \"%s\", %zu "
	    "bytes appended", rc, err, out->len - before);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct ks_avro_schema *s = NULL;
	struct ks_buf a = { 0 }, b = { 0 };
	const char *text;
	char err[256];
	uint8_t *body;
	size_t tlen, n;

	if (size == 0)
		return 0;
	if (data[0] != 0xff) {
		f.p++, f.n--;
		text = schemas[data[0] % KS_ARRAY_SIZE(schemas)];
		tlen = strlen(text);
	} else {
		f.p++, f.n--;
		text = (const char *)fz_bytes(&f, 4096, &tlen);
	}
	if (ks_avro_schema_parse(text, tlen, &s, err, sizeof(err)) != KSINK_OK)
		return 0;
	/* A copy of exactly the body's size, so that ASan sees any read
	 * past it. */
	n = f.n;
	body = fz_copy(f.p, n, 0);
	if (decode(s, body, n, &a, err, sizeof(err)) == KSINK_OK) {
		FZ_CHECK("avro-json", fz_json_valid(a.p, a.len), "not JSON: "
		    "%.*s", (int)(a.len > 300 ? 300 : a.len), a.p);
		FZ_CHECK("avro-deterministic", decode(s, body, n, &b, err,
		    sizeof(err)) == KSINK_OK && b.len == a.len &&
		    memcmp(a.p, b.p, a.len) == 0, "second decode differs");
		if (n > 0)
			FZ_CHECK("avro-prefix", decode(s, body, n - 1, &b, err,
			    sizeof(err)) == KSINK_POISON,
			    "a body without its last byte decoded");
		free(body);
		if ((body = malloc(n + 1)) == NULL)
			abort();
		memcpy(body, f.p, n);
		body[n] = 0;
		FZ_CHECK("avro-trailing", decode(s, body, n + 1, &b, err,
		    sizeof(err)) == KSINK_POISON, "a byte more decoded");
	}
	free(body);
	ks_buf_free(&a);
	ks_buf_free(&b);
	ks_avro_schema_free(s);
	return 0;
}
