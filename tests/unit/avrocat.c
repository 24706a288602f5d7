/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/avrocat.c - decodes Avro bodies with a writer schema as the
 * avro converter does (src/avrodec.c) and prints one line per body: its
 * JSON, or "POISON: " and the error.  For avro-python.test, which checks
 * it against Python's Avro library.
 *
 * usage: avrocat SCHEMA-FILE BODY-FILE...
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "avrodec.h"
#include "../connectors/lib/buf.h"
#include "ksink/sink.h"

static char *
slurp(const char *path, size_t *len)
{
	struct ks_buf b = { 0 };
	char chunk[8192];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		exit(2);
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		ks_buf_add(&b, chunk, n);
	fclose(f);
	if (b.oom) {
		fprintf(stderr, "avrocat: %s: out of memory\n", path);
		exit(2);
	}
	*len = b.len;
	return b.p != NULL ? b.p : ks_util_strdup("");
}

int
main(int argc, char **argv)
{
	struct ks_avro_schema *s;
	struct ks_buf out = { 0 };
	char err[256], *text, *body;
	size_t len;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: avrocat SCHEMA-FILE BODY-FILE...\n");
		return 64;
	}
	text = slurp(argv[1], &len);
	if (ks_avro_schema_parse(text, len, &s, err, sizeof(err)) != KSINK_OK) {
		fprintf(stderr, "avrocat: %s: %s\n", argv[1], err);
		return 1;
	}
	free(text);
	for (i = 2; i < argc; i++) {
		body = slurp(argv[i], &len);
		ks_buf_reset(&out);
		if (ks_avro_decode(s, body, len, &out, err, sizeof(err)) ==
		    KSINK_OK)
			printf("%s\n", out.p);
		else
			printf("POISON: %s\n", err);
		free(body);
	}
	ks_buf_free(&out);
	ks_avro_schema_free(s);
	return 0;
}
