/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * options.c - the option tables of [worker] and [connector NAME], and the
 * checks every option value goes through, the plugins' included.  The same
 * tables print `ksink --list-options` and the option lists of the man pages.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "testing.h"
#include "util.h"

#ifndef PKGLIBDIR
#define PKGLIBDIR "/usr/local/lib/ksink"
#endif

const struct ksink_option ks_options_worker[] = {
	{ .name = "plugin.dir", .type = KSINK_OPT_PATH, .def = PKGLIBDIR,
	  .doc = "Directory where a connector's type is looked up as "
	    "TYPE.so.  The environment variable KSINK_PLUGIN_DIR, when set, "
	    "replaces the built-in default but not a value given here." },
	{ .name = "admin.listen", .type = KSINK_OPT_STRING, .def = "",
	  .doc = "HOST:PORT of the admin endpoint, which serves metrics "
	    "(/metrics), connector status (/connectors, /status) and pause "
	    "and resume; empty turns it off.  It has no authentication: "
	    "keep it on a loopback address such as 127.0.0.1:9644 unless "
	    "the network is trusted." },
	{ .name = "secrets.allow.world.readable", .type = KSINK_OPT_BOOL,
	  .def = "false",
	  .doc = "ksink refuses a configuration file that every user may "
	    "read when it holds a secret (a password, a token, a private "
	    "key: an option marked secret, or one of librdkafka's such as "
	    "sasl.password).  true accepts it anyway.  Better: chmod o-r the "
	    "file, or keep the secret in a file of its own where the sink "
	    "offers a *.file option." },
	{ .name = "log.level", .type = KSINK_OPT_ENUM, .def = "info",
	  .values = "error|warn|info|debug",
	  .doc = "The least severe messages that are logged." },
	{ .name = NULL }
};

/*
 * The converters of a record's key (X = "key") and value (X = "value"),
 * as Kafka Connect spells them; ksink-converters(7).  The rules between
 * them are check.c's.
 */
#define CONVERTER_OPTIONS(X) \
	{ .name = X ".converter", .type = KSINK_OPT_STRING, .def = "bytes", \
	  .doc = "How the " X " of each record is read: bytes hands the " \
	    "sink the bytes as they are; string a UTF-8 text, as a JSON " \
	    "string; json a JSON text, as it is; avro an Avro body in the " \
	    "Schema Registry wire format, decoded with its writer schema " \
	    "into JSON.  The sink gets the JSON text; a " X " that does not " \
	    "decode is a poison record.  Protobuf and JSON Schema are not " \
	    "supported." }, \
	{ .name = X ".converter.schemas.enable", .type = KSINK_OPT_BOOL, \
	  .def = "false", \
	  .doc = "With " X ".converter = json: each " X " is Kafka " \
	    "Connect's envelope {\"schema\": ..., \"payload\": ...}, and " \
	    "the sink gets the payload rendered by its schema, with the " \
	    "schema's fields." }, \
	{ .name = X ".converter.schema.registry.url", \
	  .type = KSINK_OPT_STRING, .def = "", \
	  .doc = "With " X ".converter = avro (required then): the Schema " \
	    "Registry, as comma-separated http or https URLs tried in " \
	    "turn, where the writer schema of each id is fetched once and " \
	    "kept.  A URL may hold user:password@ (with " \
	    X ".converter.basic.auth.credentials.source = URL)." }, \
	{ .name = X ".converter.basic.auth.credentials.source", \
	  .type = KSINK_OPT_ENUM, .def = "URL", .values = "URL|USER_INFO", \
	  .doc = "Where the registry's basic authentication comes from: URL " \
	    "takes user:password@ from the URL, if any; USER_INFO takes " \
	    X ".converter.basic.auth.user.info or its .file form." }, \
	{ .name = X ".converter.basic.auth.user.info", \
	  .type = KSINK_OPT_STRING, .flags = KSINK_OPT_SECRET, \
	  .doc = "user:password for the registry, with " \
	    X ".converter.basic.auth.credentials.source = USER_INFO." }, \
	{ .name = X ".converter.basic.auth.user.info.file", \
	  .type = KSINK_OPT_PATH, \
	  .doc = "A file whose first line is user:password for the " \
	    "registry, instead of " X ".converter.basic.auth.user.info." }, \
	{ .name = X ".converter.bearer.auth.token.file", \
	  .type = KSINK_OPT_PATH, \
	  .doc = "A file whose first line is a bearer token sent to the " \
	    "registry (Authorization: Bearer), instead of basic " \
	    "authentication." }, \
	{ .name = X ".converter.schema.registry.ssl.ca.location", \
	  .type = KSINK_OPT_PATH, \
	  .doc = "PEM file of the certificate authorities that the " \
	    "registry's https certificate is checked against, instead of " \
	    "the system's." }, \
	{ .name = X ".converter.schema.registry.ssl.certificate.location", \
	  .type = KSINK_OPT_PATH, \
	  .doc = "PEM file of the client certificate shown to the " \
	    "registry; needs the .ssl.key.location of the same " X "." }, \
	{ .name = X ".converter.schema.registry.ssl.key.location", \
	  .type = KSINK_OPT_PATH, \
	  .doc = "PEM file of the client certificate's private key." }, \
	{ .name = X ".converter.schema.registry.timeout.ms", \
	  .type = KSINK_OPT_INT, .def = "10000", .min = 100, .max = 600000, \
	  .doc = "Longest time in milliseconds one request to the registry " \
	    "may take; a registry that does not answer in time is " \
	    "retried as errors.retry.timeout.ms says." }

const struct ksink_option ks_options_connector[] = {
	{ .name = "type", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_REQUIRED,
	  .doc = "The sink: the name of a plugin in plugin.dir (sqlite, "
	    "file, http, ...) or the absolute path of a plugin file." },
	{ .name = "topics", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_REQUIRED,
	  .doc = "Comma-separated list of topics to read, or one regular "
	    "expression starting with ^ that topic names must match." },
	{ .name = "batch.max.records", .type = KSINK_OPT_INT, .def = "20000",
	  .min = 1, .max = 1000000,
	  .doc = "Most records in one batch, that is one atomic step of "
	    "the sink.  With batch.adaptive, batches start at 5000 records "
	    "when this is larger." },
	{ .name = "batch.adaptive", .type = KSINK_OPT_BOOL, .def = "true",
	  .doc = "Let the records per batch grow from 5000 up to "
	    "batch.max.records while the sink's commit takes a third or "
	    "more of each full batch's step (an fsync, a round trip), and "
	    "shrink back when it takes less than a tenth.  false: every "
	    "full batch holds batch.max.records." },
	{ .name = "batch.max.bytes", .type = KSINK_OPT_INT, .def = "8388608",
	  .min = 1024, .max = 1073741824,
	  .doc = "Most bytes of keys and values in one batch.  A single "
	    "record larger than this forms a batch of its own." },
	{ .name = "batch.max.ms", .type = KSINK_OPT_INT, .def = "100",
	  .min = 1, .max = 600000,
	  .doc = "Longest time in milliseconds a batch stays open after its "
	    "first record before it is applied." },
	{ .name = "errors.tolerance", .type = KSINK_OPT_ENUM, .def = "none",
	  .values = "none|all",
	  .doc = "What a record that the sink can never apply (a poison "
	    "record) does: none stops the connector with a message naming "
	    "its topic, partition and offset; all logs it, counts it, "
	    "skips it, and goes on." },
	{ .name = "errors.deadletterqueue.topic.name", .type = KSINK_OPT_STRING,
	  .def = "",
	  .doc = "With errors.tolerance = all, a poison record is also "
	    "written to this Kafka topic, with its key, value, timestamp and "
	    "headers, and headers __connect.errors.* naming its topic, "
	    "partition, offset, connector and error.  The sink stores the "
	    "record's offset only after the broker acknowledged it.  The "
	    "topic must exist.  Empty: no dead letter queue." },
	{ .name = "errors.deadletterqueue.context.headers.enable",
	  .type = KSINK_OPT_BOOL, .def = "true",
	  .doc = "Add the __connect.errors.* headers to dead letter "
	    "records." },
	{ .name = "errors.log.include.messages", .type = KSINK_OPT_BOOL,
	  .def = "false",
	  .doc = "Include the key and the value of a poison record, escaped "
	    "and cut at 256 bytes, in the message that reports it.  Off by "
	    "default: records may hold personal data." },
	{ .name = "errors.retry.timeout.ms", .type = KSINK_OPT_INT,
	  .def = "300000", .min = -1, .max = INT64_MAX,
	  .doc = "How long a batch that the sink reports as transiently "
	    "failing is retried, with exponential backoff and jitter, "
	    "before the connector stops; -1 retries forever.  Meanwhile the "
	    "connector's partitions are paused and the consumer stays in "
	    "its group.  An attempt that delivered part of the batch before "
	    "it failed (a sink that delivers as it goes, such as http) "
	    "starts the time again." },
	{ .name = "errors.retry.backoff.max.ms", .type = KSINK_OPT_INT,
	  .def = "10000", .min = 10, .max = 600000,
	  .doc = "Longest wait between two attempts of a failing batch; the "
	    "wait starts at 100 ms and doubles, and starts again at 100 ms "
	    "after an attempt that delivered part of the batch." },
	{ .name = "stall.warn.ms", .type = KSINK_OPT_INT, .def = "30000",
	  .min = 1000, .max = 86400000,
	  .doc = "A partition whose position has not moved for this long "
	    "while the broker holds records past it is checked for an open "
	    "transaction of its producer; read_committed reading stops at "
	    "such a transaction until it ends, and ksink then warns, once "
	    "per stall, and says when it moves again." },
	CONVERTER_OPTIONS("key"),
	CONVERTER_OPTIONS("value"),
	{ .name = "delivery.guarantee", .type = KSINK_OPT_ENUM,
	  .def = "exactly_once", .values = "exactly_once|at_least_once",
	  .doc = "exactly_once runs only sinks that store offsets "
	    "atomically with their effects; at_least_once must be set "
	    "explicitly to run any other sink." },
	{ .name = NULL }
};

const char *
ks_options_type_name(int type)
{
	switch (type) {
	case KSINK_OPT_STRING: return "string";
	case KSINK_OPT_INT: return "integer";
	case KSINK_OPT_BOOL: return "boolean";
	case KSINK_OPT_ENUM: return "enum";
	case KSINK_OPT_PATH: return "path";
	default: return "?";
	}
}

const struct ksink_option *
ks_options_find(const struct ksink_option *tab, const char *name)
{
	for (; tab != NULL && tab->name != NULL; tab++)
		if (strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

static int
enum_has(const char *values, const char *v)
{
	size_t len = strlen(v);
	const char *p = values, *bar;

	while (p != NULL && *p != '\0') {
		bar = strchr(p, '|');
		if ((bar ? (size_t)(bar - p) : strlen(p)) == len &&
		    strncmp(p, v, len) == 0)
			return 1;
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* librdkafka's properties that hold secrets (its "sensitive" ones). */
int
ks_options_kafka_secret(const char *key)
{
	static const char *const secrets[] = { "sasl.password",
	    "ssl.key.password", "ssl.keystore.password", "ssl.key.pem",
	    "ssl_key", "sasl.oauthbearer.client.secret",
	    "sasl.oauthbearer.config" };
	size_t i;

	if (strncmp(key, "kafka.", 6) == 0)
		key += 6;
	for (i = 0; i < KS_ARRAY_SIZE(secrets); i++)
		if (strcmp(key, secrets[i]) == 0)
			return 1;
	return 0;
}

int
ks_options_check(const struct ksink_option *opt, const char *value,
    char *errbuf, size_t errlen)
{
	int64_t n;
	int b;

	/* A secret's value is never repeated in a message. */
	if (opt->flags & KSINK_OPT_SECRET)
		value = "(hidden)";

	switch (opt->type) {
	case KSINK_OPT_INT:
		if (ks_util_parse_int(value, &n) == -1) {
			ks_util_errf(errbuf, errlen, "%s must be an integer, "
			    "not \"%s\"", opt->name, value);
			return -1;
		}
		if (n < opt->min || n > opt->max) {
			ks_util_errf(errbuf, errlen, "%s = %lld is out of "
			    "range [%lld, %lld]", opt->name, (long long)n,
			    (long long)opt->min, (long long)opt->max);
			return -1;
		}
		break;
	case KSINK_OPT_BOOL:
		if (ks_util_parse_bool(value, &b) == -1) {
			ks_util_errf(errbuf, errlen, "%s must be true or "
			    "false, not \"%s\"", opt->name, value);
			return -1;
		}
		break;
	case KSINK_OPT_ENUM:
		if (!enum_has(opt->values, value)) {
			ks_util_errf(errbuf, errlen, "%s must be one of %s, "
			    "not \"%s\"", opt->name, opt->values, value);
			return -1;
		}
		break;
	case KSINK_OPT_PATH:
		if (*value == '\0') {
			ks_util_errf(errbuf, errlen, "%s must not be empty",
			    opt->name);
			return -1;
		}
		break;
	default:
		break;
	}
	if ((opt->flags & KSINK_OPT_REQUIRED) && *value == '\0') {
		ks_util_errf(errbuf, errlen, "%s must not be empty", opt->name);
		return -1;
	}
	return 0;
}

/* The closest option name, if close enough to be a likely typo. */
const char *
ks_options_nearest(const char *name, const struct ksink_option *const *tabs,
    size_t ntabs)
{
	const struct ksink_option *o;
	const char *best = NULL;
	size_t i, d, bestd = (size_t)-1, limit;

	for (i = 0; i < ntabs; i++)
		for (o = tabs[i]; o != NULL && o->name != NULL; o++) {
			d = ks_util_edit_distance(name, o->name);
			if (d < bestd) {
				bestd = d;
				best = o->name;
			}
		}
	limit = strlen(name) / 2 + 1;
	if (limit < 3)
		limit = 3;
	return bestd <= limit ? best : NULL;
}

/* Escapes text for mdoc; a sentence ends with ".  " in the tables and
 * starts a new line here, as mdoc wants. */
static void
mdoc_escape(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			fputs("\\e", fp);
		else if (*s == '.' && s[1] == ' ' && s[2] == ' ') {
			fputs(".\n", fp);
			while (s[1] == ' ')
				s++;
		} else
			fputc(*s, fp);
	}
}

static void
print_range(FILE *fp, const struct ksink_option *o)
{
	if (o->type == KSINK_OPT_INT) {
		if (o->max == INT64_MAX)
			fprintf(fp, "%lld or more", (long long)o->min);
		else
			fprintf(fp, "%lld to %lld", (long long)o->min,
			    (long long)o->max);
	} else if (o->type == KSINK_OPT_ENUM)
		fputs(o->values, fp);
}

void
ks_options_print(FILE *fp, const struct ksink_option *tab, int mdoc)
{
	const struct ksink_option *o;

	if (mdoc)
		fputs(".Bl -tag -width Ds\n", fp);
	for (o = tab; o != NULL && o->name != NULL; o++) {
		if (mdoc) {
			fprintf(fp, ".It Cm %s Ns = Ns Ar %s\n", o->name,
			    ks_options_type_name(o->type));
			mdoc_escape(fp, o->doc ? o->doc : "");
			fputc('\n', fp);
			if (o->type == KSINK_OPT_INT ||
			    o->type == KSINK_OPT_ENUM) {
				fputs("Values: ", fp);
				print_range(fp, o);
				fputs(".\n", fp);
			}
			if (o->flags & KSINK_OPT_REQUIRED)
				fputs("Required.\n", fp);
			else if (o->def != NULL &&
			    strcmp(o->def, PKGLIBDIR) == 0)
				/* Depends on the build: do not print it. */
				fputs("Default: the plugin directory chosen when "
				    "ksink was built, as shown by\n"
				    ".Nm ksink Fl -list-options .\n", fp);
			else if (o->def != NULL) {
				fputs("Default: ", fp);
				mdoc_escape(fp, *o->def ? o->def : "(empty)");
				fputs(".\n", fp);
			}
			if (o->flags & KSINK_OPT_MULTI)
				fputs("May be given more than once.\n", fp);
			if (o->flags & KSINK_OPT_SECRET)
				fputs("Secret: never logged nor printed.\n",
				    fp);
			continue;
		}
		fprintf(fp, "%s (%s", o->name, ks_options_type_name(o->type));
		if (o->type == KSINK_OPT_INT || o->type == KSINK_OPT_ENUM) {
			fputs(": ", fp);
			print_range(fp, o);
		}
		fputs(")", fp);
		if (o->flags & KSINK_OPT_REQUIRED)
			fputs(" required", fp);
		else if (o->def != NULL)
			fprintf(fp, " default: %s", *o->def ? o->def : "(empty)");
		if (o->flags & KSINK_OPT_MULTI)
			fputs(" repeatable", fp);
		if (o->flags & KSINK_OPT_SECRET)
			fputs(" secret", fp);
		fprintf(fp, "\n    %s\n", o->doc ? o->doc : "");
	}
	if (mdoc)
		fputs(".El\n", fp);
}
