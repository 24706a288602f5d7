/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/conf-fx.h - the fixture of the INI file's unit tests
 * (test_conf.c, test_consumer_conf.c): a file read from memory with
 * fmemopen(3) under the name "t.ini", its problems, and its sections and
 * keys.  Included once by each test program.
 */
#ifndef KS_TEST_CONF_FX_H
#define KS_TEST_CONF_FX_H

struct parsed {
	struct ks_conf *conf;
	struct ks_errors errs;
};

#define assert_contains(s, sub) do { \
	if (strstr((s), (sub)) == NULL) \
		fail_msg("\"%s\" does not contain \"%s\"", (s), (sub)); \
} while (0)

static void __attribute__((unused))
dump_errors(const struct ks_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count; i++)
		fprintf(stderr, "  problem: %s\n", errs->msg[i]);
}

/* Parses len bytes of text (which may hold NUL bytes). */
static void __attribute__((unused))
parse_n(struct parsed *p, const char *text, size_t len)
{
	FILE *fp;

	memset(p, 0, sizeof(*p));
	fp = fmemopen((void *)text, len, "r");
	assert_non_null(fp);
	p->conf = ks_conf_parse_fp(fp, "t.ini", &p->errs);
	fclose(fp);
	assert_non_null(p->conf);
}

static void __attribute__((unused))
parse(struct parsed *p, const char *text)
{
	parse_n(p, text, strlen(text));
}

static void __attribute__((unused))
done(struct parsed *p)
{
	ks_conf_free(p->conf);
	ks_errors_free(&p->errs);
}

/* Asserts exactly n problems. */
static void __attribute__((unused))
assert_problems(const struct ks_errors *errs, size_t n)
{
	if (errs->count != n) {
		dump_errors(errs);
		fail_msg("%zu problems, expected %zu", errs->count, n);
	}
}

/* Asserts that one problem is on line `line` and mentions `what`. */
static void __attribute__((unused))
assert_problem(const struct ks_errors *errs, int line, const char *what)
{
	char prefix[64];
	size_t i;

	snprintf(prefix, sizeof(prefix), "t.ini:%d: ", line);
	for (i = 0; i < errs->count; i++)
		if (strncmp(errs->msg[i], prefix, strlen(prefix)) == 0 &&
		    strstr(errs->msg[i], what) != NULL)
			return;
	dump_errors(errs);
	fail_msg("no problem \"%s...%s\"", prefix, what);
}

static __attribute__((unused)) const struct ks_section *
section(const struct ks_conf *conf, int kind, const char *name)
{
	const struct ks_section *s;

	for (s = conf->sections; s != NULL; s = s->next)
		if (s->kind == kind && (name == NULL ||
		    (s->name != NULL && strcmp(s->name, name) == 0)))
			return s;
	fail_msg("no section %d %s", kind, name ? name : "");
	return NULL;
}

static __attribute__((unused)) const char *
value(const struct ks_section *sec, const char *key)
{
	const struct ks_kv *kv = ks_conf_kv(sec, key);

	if (kv == NULL)
		fail_msg("no key %s", key);
	return kv->value;
}

static int __attribute__((unused))
key_count(const struct ks_conf *conf)
{
	const struct ks_section *s;
	const struct ks_kv *kv;
	int n = 0;

	for (s = conf->sections; s != NULL; s = s->next)
		for (kv = s->kvs; kv != NULL; kv = kv->next)
			n++;
	return n;
}

/* ---- the reader ---- */


/* The librdkafka configuration of connector name: 0, or -1 with its
 * problems in p->errs. */
static int __attribute__((unused))
consumer(struct parsed *p, const char *name, int *reset)
{
	rd_kafka_conf_t *rkc;
	size_t before = p->errs.count;

	rkc = ks_consumer_conf(p->conf, section(p->conf, KS_SEC_CONNECTOR,
	    name), reset, &p->errs);
	if (rkc != NULL) {
		assert_int_equal(p->errs.count, before);
		rd_kafka_conf_destroy(rkc);
		return 0;
	}
	assert_true(p->errs.count > before);
	return -1;
}

#endif
