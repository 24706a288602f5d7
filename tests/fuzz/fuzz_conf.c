/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/fuzz/fuzz_conf.c - the configuration parser: INI text through
 * ks_conf_parse_fp() (our line reader in front of inih), then the checks
 * `ksink -t` runs without loading plugins: [worker] against its table,
 * each connector against the connector table and a plugin table with
 * every option type, and [kafka] plus the connector's kafka.* keys through
 * ks_consumer_conf() (librdkafka's own validation).
 *
 * Invariants: every problem is one line ("conf-one-line") that starts
 * with the file's name ("conf-where"); a file with problems yields at
 * least one message per refused line; the typed getters never fail on a
 * value that validated.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "options.h"
#include "util.h"

#include "fuzz.h"

#define NAME "fuzz.ini"

/* A plugin's table with one option of each kind. */
static const struct ksink_option plugin_opts[] = {
	{ .name = "fz.path", .type = KSINK_OPT_PATH,
	  .flags = KSINK_OPT_REQUIRED, .doc = "a path" },
	{ .name = "fz.count", .type = KSINK_OPT_INT, .def = "3", .min = -5,
	  .max = 1000000, .doc = "an integer" },
	{ .name = "fz.flag", .type = KSINK_OPT_BOOL, .def = "false",
	  .doc = "a boolean" },
	{ .name = "fz.mode", .type = KSINK_OPT_ENUM, .def = "a",
	  .values = "a|bb|ccc", .doc = "an enum" },
	{ .name = "fz.tag", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_MULTI, .doc = "a repeatable string" },
	{ .name = "fz.secret", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_SECRET, .doc = "a secret" },
	{ .name = NULL }
};

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ks_log_init();
	/* librdkafka's messages about bad properties go through the log. */
	ks_log_set_level(KSINK_LOG_ERROR - 1);
	return 0;
}

static void
check_messages(const struct ks_errors *errs)
{
	size_t i;

	for (i = 0; i < errs->count; i++) {
		const char *m = errs->msg[i];

		FZ_CHECK("conf-one-line", strpbrk(m, "\n\r") == NULL,
		    "a problem spans several lines: \"%s\"", m);
		FZ_CHECK("conf-where", strncmp(m, NAME ":", strlen(NAME) + 1)
		    == 0 || strncmp(m, "internal: ", 10) == 0,
		    "a problem does not start with the file's name: \"%s\"",
		    m);
	}
}

/* The getters on a section that validated. */
static void
read_back(const struct ks_section *sec, const struct ksink_option *tab)
{
	const struct ksink_option *o;
	size_t n, i;

	for (o = tab; o->name != NULL; o++) {
		switch (o->type) {
		case KSINK_OPT_INT: {
			int64_t v = ks_conf_int(sec, tab, o->name);

			FZ_CHECK("conf-range", v >= o->min && v <= o->max,
			    "%s = %lld validated but is out of [%lld, %lld]",
			    o->name, (long long)v, (long long)o->min,
			    (long long)o->max);
			break;
		}
		case KSINK_OPT_BOOL:
			(void)ks_conf_bool(sec, tab, o->name);
			break;
		default:
			(void)ks_conf_str(sec, tab, o->name);
			break;
		}
		n = ks_conf_count(sec, o->name);
		for (i = 0; i < n; i++)
			FZ_CHECK("conf-multi", ks_conf_str_at(sec, o->name, i)
			    != NULL, "%s: value %zu of %zu missing", o->name,
			    i, n);
		FZ_CHECK("conf-multi", ks_conf_str_at(sec, o->name, n) == NULL,
		    "%s: a value past the count", o->name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ksink_option *wtab[1] = { ks_options_worker };
	const struct ksink_option *ctab[2] = { ks_options_connector,
	    plugin_opts };
	struct ks_errors errs = { 0 };
	struct ks_section *s, none = { .kind = KS_SEC_CONNECTOR,
	    .name = (char *)"check" };
	struct ks_conf *conf;
	rd_kafka_conf_t *rkc;
	FILE *fp;
	size_t before;
	int reset;

	if (size == 0)
		return 0;
	if ((fp = fmemopen((void *)data, size, "r")) == NULL)
		return 0;
	conf = ks_conf_parse_fp(fp, NAME, &errs);
	fclose(fp);
	check_messages(&errs);

	if ((s = ks_conf_section(conf, KS_SEC_WORKER)) != NULL) {
		before = errs.count;
		ks_conf_validate(conf, s, wtab, 1, NULL, 0, &errs);
		if (errs.count == before)
			read_back(s, ks_options_worker);
	}
	if ((rkc = ks_consumer_conf(conf, &none, &reset, &errs)) != NULL)
		rd_kafka_conf_destroy(rkc);
	for (s = conf->sections; s != NULL; s = s->next) {
		if (s->kind != KS_SEC_CONNECTOR)
			continue;
		FZ_CHECK("conf-section", s->name != NULL && *s->name != '\0',
		    "a connector section without a name");
		before = errs.count;
		/* As without the plugin (keys of other prefixes ignored),
		 * then as with it. */
		ks_conf_validate(conf, s, ctab, 1, "kafka.", 1, &errs);
		ks_conf_validate(conf, s, ctab, 2, "kafka.", 0, &errs);
		if (errs.count == before) {
			read_back(s, ks_options_connector);
			read_back(s, plugin_opts);
		}
		if ((rkc = ks_consumer_conf(conf, s, &reset, &errs)) != NULL)
			rd_kafka_conf_destroy(rkc);
	}
	check_messages(&errs);
	/* As main() does: only when there is something to print. */
	if (errs.count > 0 && (fp = fopen("/dev/null", "w")) != NULL) {
		ks_errors_print(&errs, fp);
		fclose(fp);
	}
	ks_errors_free(&errs);
	ks_conf_free(conf);
	return 0;
}
