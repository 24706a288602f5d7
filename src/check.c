/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check.c - the rules of a configuration that span several keys, which
 * the table-driven validation of single keys (conf.c) cannot see: what
 * `ksink -t` adds to it.  Each problem is one line naming the file, the
 * line and what to do.
 */
#include "config.h"

#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "admin.h"
#include "check.h"
#include "conf.h"
#include "consumer.h"
#include "log.h"
#include "options.h"
#include "registry.h"
#include "util.h"

/* A connector needs brokers: bootstrap.servers in [kafka] or its own. */
static void
check_brokers(const struct ks_conf *conf, const struct ks_section *sec,
    struct ks_errors *errs)
{
	static const char *const keys[] = { "kafka.bootstrap.servers",
	    "kafka.metadata.broker.list" };
	const struct ks_section *kafka = ks_conf_section(conf, KS_SEC_KAFKA);
	const struct ks_kv *kv;
	size_t i;

	for (i = 0; i < KS_ARRAY_SIZE(keys); i++) {
		if ((kv = ks_conf_kv(sec, keys[i])) == NULL)
			kv = ks_conf_kv(kafka, keys[i] + 6);
		if (kv == NULL)
			continue;
		if (strspn(kv->value, " \t,") != strlen(kv->value))
			return;
		ks_errors_add(errs, "%s:%d: %s is empty; list the Kafka "
		    "brokers as host:port,host:port", conf->path, kv->line,
		    kv->key);
		return;
	}
	ks_errors_add(errs, "%s:%d: [connector %s] has no Kafka brokers: set "
	    "bootstrap.servers in [kafka], or kafka.bootstrap.servers here",
	    conf->path, sec->line, sec->name);
}

/* topics: some names, or one regular expression (checked as POSIX
 * extended, as librdkafka's are close to it). */
static void
check_topics(const struct ks_conf *conf, const struct ks_section *sec,
    struct ks_errors *errs)
{
	const struct ks_kv *kv = ks_conf_kv(sec, "topics");
	char msg[256];
	regex_t re;
	int rc;

	if (kv == NULL || *kv->value == '\0')
		return;		/* reported as a missing required key */
	if (kv->value[0] == '^') {
		if ((rc = regcomp(&re, kv->value, REG_EXTENDED | REG_NOSUB)) !=
		    0) {
			regerror(rc, &re, msg, sizeof(msg));
			ks_errors_add(errs, "%s:%d: topics = %s is not a valid "
			    "regular expression: %s", conf->path, kv->line,
			    kv->value, msg);
			return;
		}
		regfree(&re);
	} else if (strspn(kv->value, " \t\n,") == strlen(kv->value))
		ks_errors_add(errs, "%s:%d: topics lists no topic; give "
		    "names separated by commas, or a regular expression "
		    "starting with ^", conf->path, kv->line);
}

/*
 * librdkafka refused to make a client out of the settings: name the line
 * of the key it complains of, when it names one, and say so plainly when
 * that key names a file that is not there.
 */
static void
client_error(const struct ks_conf *conf, const struct ks_section *sec,
    const char *err, struct ks_errors *errs)
{
	const struct ks_section *secs[2] = { sec,
	    ks_conf_section(conf, KS_SEC_KAFKA) };
	const struct ks_kv *kv;
	const char *key;
	size_t i;

	for (i = 0; i < 2; i++)
		for (kv = secs[i] ? secs[i]->kvs : NULL; kv != NULL;
		    kv = kv->next) {
			key = kv->key;
			if (i == 0 && strncmp(key, "kafka.", 6) != 0)
				continue;
			if (i == 0)
				key += 6;
			if (strstr(err, key) == NULL)
				continue;
			if ((strstr(key, ".location") != NULL ||
			    strstr(key, ".file") != NULL) &&
			    access(kv->value, R_OK) == -1)
				ks_errors_add(errs, "%s:%d: %s = %s: %s",
				    conf->path, kv->line, kv->key, kv->value,
				    strerror(errno));
			else
				ks_errors_add(errs, "%s:%d: %s is refused by "
				    "the Kafka client: %s", conf->path,
				    kv->line, kv->key, err);
			return;
		}
	ks_errors_add(errs, "%s:%d: [connector %s]: the Kafka settings "
	    "([kafka] and kafka.*) are refused: %s", conf->path, sec->line,
	    sec->name, err);
}

/* The consumer group of a connector: kafka.group.id, or ksink-NAME. */
static void
group_of(const struct ks_section *s, char *buf, size_t len)
{
	const struct ks_kv *kv = ks_conf_kv(s, "kafka.group.id");

	if (kv != NULL)
		snprintf(buf, len, "%s", kv->value);
	else
		snprintf(buf, len, "ksink-%s", s->name);
}

/*
 * Each connector needs a consumer group of its own: two connectors in one
 * group would split the partitions of a topic they share between them, and
 * each sink would silently see only part of it.
 */
void
ks_check_group(const struct ks_conf *conf, const struct ks_section *s,
    struct ks_errors *errs)
{
	const struct ks_section *o;
	char a[256], b[256];

	group_of(s, a, sizeof(a));
	for (o = conf->sections; o != s; o = o->next) {
		if (o->kind != KS_SEC_CONNECTOR)
			continue;
		group_of(o, b, sizeof(b));
		if (strcmp(a, b) == 0)
			ks_errors_add(errs, "%s:%d: [connector %s] uses "
			    "consumer group %s, as [connector %s] at line %d "
			    "does; each connector needs its own "
			    "kafka.group.id", conf->path, s->line, s->name,
			    a, o->name, o->line);
	}
}

/* ---- converters (ksink-converters(7)) ---- */

static const char *const converters[] = { "bytes", "string", "json",
    "avro" };

/* Kafka Connect's converter classes, and ksink's names for them. */
static const struct {
	const char *cls, *name;
} connect_converters[] = {
	{ "ByteArrayConverter", "bytes" },
	{ "StringConverter", "string" },
	{ "JsonConverter", "json" },
	{ "AvroConverter", "avro" },
};

/* key of sec when it is set to something, else NULL. */
static const struct ks_kv *
set_kv(const struct ks_section *sec, const char *key)
{
	const struct ks_kv *kv = ks_conf_kv(sec, key);

	return kv != NULL && *kv->value != '\0' ? kv : NULL;
}

/* X.converter + sub (the full key) of side X. */
static const struct ks_kv *
conv_kv(const struct ks_section *sec, const char *side, const char *sub,
    char *key, size_t len)
{
	snprintf(key, len, "%s.converter%s", side, sub);
	return set_kv(sec, key);
}

/* The converter's name: one of converters[], or an error. */
static int
check_converter_name(const struct ks_conf *conf, const struct ks_kv *kv,
    struct ks_errors *errs)
{
	size_t i;

	for (i = 0; i < KS_ARRAY_SIZE(converters); i++)
		if (strcmp(kv->value, converters[i]) == 0)
			return 0;
	for (i = 0; i < KS_ARRAY_SIZE(connect_converters); i++)
		if (strstr(kv->value, connect_converters[i].cls) != NULL) {
			ks_errors_add(errs, "%s:%d: %s = %s: ksink calls this "
			    "converter %s; write %s = %s", conf->path,
			    kv->line, kv->key, kv->value,
			    connect_converters[i].name, kv->key,
			    connect_converters[i].name);
			return -1;
		}
	ks_errors_add(errs, "%s:%d: %s = %s is not a converter ksink has; "
	    "use bytes, string, json or avro (Protobuf and JSON Schema are "
	    "not supported)", conf->path, kv->line, kv->key, kv->value);
	return -1;
}

/* Each URL of the list is one the registry client takes
 * (ks_registry_check_urls(), which the client uses itself); returns how
 * many hold user information. */
static size_t
check_registry_urls(const struct ks_conf *conf, const struct ks_kv *kv,
    struct ks_errors *errs)
{
	char err[512];
	size_t users;

	if (ks_registry_check_urls(kv->value, &users, err, sizeof(err)) ==
	    -1) {
		ks_errors_add(errs, "%s:%d: %s: %s", conf->path, kv->line,
		    kv->key, err);
		return 0;
	}
	return users;
}

/* A file ksink reads when the connector starts. */
static void
check_readable(const struct ks_conf *conf, const struct ks_kv *kv,
    struct ks_errors *errs)
{
	if (kv != NULL && access(kv->value, R_OK) == -1)
		ks_errors_add(errs, "%s:%d: %s = %s cannot be read: %s",
		    conf->path, kv->line, kv->key, kv->value, strerror(errno));
}

/* The keys that only the avro converter uses. */
static const char *const registry_keys[] = { ".schema.registry.url",
    ".basic.auth.credentials.source", ".basic.auth.user.info",
    ".basic.auth.user.info.file", ".bearer.auth.token.file",
    ".schema.registry.ssl.ca.location",
    ".schema.registry.ssl.certificate.location",
    ".schema.registry.ssl.key.location",
    ".schema.registry.timeout.ms" };

/* The converter of one side, X = "key" or "value", and its keys. */
static void
check_converter(const struct ks_conf *conf, const struct ks_section *sec,
    const char *side, struct ks_errors *errs)
{
	const struct ks_kv *ckv, *kv, *src, *ui, *uif, *tok, *cert, *key,
	    *url;
	const char *name = "bytes";
	char k[128], k2[128];
	size_t i, users = 0;
	int b, line;

	if ((ckv = conv_kv(sec, side, "", k, sizeof(k))) != NULL) {
		if (check_converter_name(conf, ckv, errs) == -1)
			return;
		name = ckv->value;
	}
	line = ckv != NULL ? ckv->line : sec->line;
	kv = conv_kv(sec, side, ".schemas.enable", k, sizeof(k));
	if (kv != NULL && ks_util_parse_bool(kv->value, &b) == 0 && b &&
	    strcmp(name, "json") != 0)
		ks_errors_add(errs, "%s:%d: %s applies to %s.converter = "
		    "json only, and %s.converter is %s; remove it, or set "
		    "%s.converter = json", conf->path, kv->line, k, side, side,
		    name, side);
	if (strcmp(name, "avro") != 0) {
		for (i = 0; i < KS_ARRAY_SIZE(registry_keys); i++)
			if ((kv = conv_kv(sec, side, registry_keys[i], k,
			    sizeof(k))) != NULL)
				ks_errors_add(errs, "%s:%d: %s applies to "
				    "%s.converter = avro only, and "
				    "%s.converter is %s; remove it, or set "
				    "%s.converter = avro", conf->path,
				    kv->line, k, side, side, name, side);
		return;
	}
	if ((url = conv_kv(sec, side, ".schema.registry.url", k,
	    sizeof(k))) == NULL)
		ks_errors_add(errs, "%s:%d: %s.converter = avro needs the "
		    "Schema Registry: set %s as http://HOST:PORT", conf->path,
		    line, side, k);
	else
		users = check_registry_urls(conf, url, errs);

	src = conv_kv(sec, side, ".basic.auth.credentials.source", k,
	    sizeof(k));
	ui = conv_kv(sec, side, ".basic.auth.user.info", k, sizeof(k));
	uif = conv_kv(sec, side, ".basic.auth.user.info.file", k2, sizeof(k2));
	if (ui != NULL && uif != NULL)
		ks_errors_add(errs, "%s:%d: %s and %s are both set; keep one",
		    conf->path, uif->line, k, k2);
	if (src != NULL && strcmp(src->value, "USER_INFO") == 0) {
		if (ui == NULL && uif == NULL)
			ks_errors_add(errs, "%s:%d: %s = USER_INFO needs the "
			    "user and password: set %s (user:password) or %s",
			    conf->path, src->line, src->key, k, k2);
	} else if (ui != NULL || uif != NULL) {
		kv = ui != NULL ? ui : uif;
		ks_errors_add(errs, "%s:%d: %s is used only with "
		    "%s.converter.basic.auth.credentials.source = USER_INFO; "
		    "set that, or put user:password@ in the URL", conf->path,
		    kv->line, kv->key, side);
	}
	tok = conv_kv(sec, side, ".bearer.auth.token.file", k, sizeof(k));
	if (tok != NULL && (ui != NULL || uif != NULL))
		ks_errors_add(errs, "%s:%d: %s and basic authentication "
		    "(%s) are both set; keep one", conf->path, tok->line, k,
		    (ui != NULL ? ui : uif)->key);
	if (users > 0 && ((src != NULL && strcmp(src->value, "USER_INFO") ==
	    0) || tok != NULL))
		ks_errors_add(errs, "%s:%d: %s: a URL holds user:password@, "
		    "and %s gives other credentials; keep one", conf->path,
		    url->line, url->key, tok != NULL ? tok->key : src->key);
	cert = conv_kv(sec, side, ".schema.registry.ssl.certificate.location",
	    k, sizeof(k));
	key = conv_kv(sec, side, ".schema.registry.ssl.key.location", k2,
	    sizeof(k2));
	if (cert != NULL && key == NULL)
		ks_errors_add(errs, "%s:%d: %s needs its private key: set %s",
		    conf->path, cert->line, k, k2);
	else if (key != NULL && cert == NULL)
		ks_errors_add(errs, "%s:%d: %s needs its certificate: set %s",
		    conf->path, key->line, k2, k);
	check_readable(conf, uif, errs);
	check_readable(conf, tok, errs);
	check_readable(conf, conv_kv(sec, side,
	    ".schema.registry.ssl.ca.location", k, sizeof(k)), errs);
	check_readable(conf, cert, errs);
	check_readable(conf, key, errs);
}

/* The first key holding a secret in sec, or NULL. */
static const struct ks_kv *
find_secret(const struct ks_section *sec, const struct ksink_option *opts)
{
	const struct ksink_option *o;
	const struct ks_kv *kv;

	for (kv = sec ? sec->kvs : NULL; kv != NULL; kv = kv->next) {
		if (*kv->value == '\0')
			continue;
		if ((sec->kind == KS_SEC_KAFKA ||
		    strncmp(kv->key, "kafka.", 6) == 0) &&
		    ks_options_kafka_secret(kv->key))
			return kv;
		if ((o = ks_options_find(opts, kv->key)) != NULL &&
		    (o->flags & KSINK_OPT_SECRET))
			return kv;
		if (sec->kind == KS_SEC_CONNECTOR &&
		    (o = ks_options_find(ks_options_connector, kv->key)) !=
		    NULL && (o->flags & KSINK_OPT_SECRET))
			return kv;
		/* http://user:password@host/ */
		if (sec->kind == KS_SEC_CONNECTOR && strstr(kv->key,
		    ".converter.schema.registry.url") != NULL &&
		    strchr(kv->value, '@') != NULL)
			return kv;
	}
	return NULL;
}

/*
 * A file that every user may read must not hold secrets, unless the
 * operator says so ([worker] secrets.allow.world.readable).
 */
void
ks_check_secrets(const struct ks_conf *conf,
    const struct ks_section *const *secs,
    const struct ksink_option *const *opts, size_t n,
    struct ks_errors *errs)
{
	const struct ks_section *wsec = ks_conf_section(conf, KS_SEC_WORKER);
	const struct ks_kv *kv;
	struct stat st;
	size_t i;

	if (stat(conf->path, &st) == -1 || !(st.st_mode & S_IROTH) ||
	    ks_conf_bool(wsec, ks_options_worker,
	    "secrets.allow.world.readable"))
		return;
	kv = find_secret(ks_conf_section(conf, KS_SEC_KAFKA), NULL);
	for (i = 0; kv == NULL && i < n; i++)
		kv = find_secret(secs[i], opts[i]);
	if (kv != NULL)
		ks_errors_add(errs, "%s:%d: %s holds a secret, and the file "
		    "is readable by every user (mode %04o); run chmod o-r %s, "
		    "or set secrets.allow.world.readable = true in [worker] to "
		    "accept that", conf->path, kv->line, kv->key,
		    (unsigned)(st.st_mode & 07777), conf->path);
}

/* Some settings are only checked when a client is made (a SASL
 * mechanism, say): make one, without brokers. */
static void
check_client(const struct ks_conf *conf, const struct ks_section *sec,
    const rd_kafka_conf_t *rkconf, struct ks_errors *errs)
{
	rd_kafka_conf_t *probe = rd_kafka_conf_dup(rkconf);
	rd_kafka_t *rk;
	char err[512];

	rd_kafka_conf_set(probe, "bootstrap.servers", "", NULL, 0);
	rd_kafka_conf_set_log_cb(probe, NULL);
	if ((rk = rd_kafka_new(RD_KAFKA_CONSUMER, probe, err,
	    sizeof(err))) == NULL) {
		rd_kafka_conf_destroy(probe);
		client_error(conf, sec, err, errs);
	} else
		rd_kafka_destroy(rk);
}

void
ks_check_connector(const struct ks_conf *conf, const struct ks_section *sec,
    const rd_kafka_conf_t *rkconf, const struct ksink_sink *desc,
    struct ks_errors *errs)
{
	const struct ks_kv *kv, *tol;

	check_brokers(conf, sec, errs);
	check_topics(conf, sec, errs);
	check_converter(conf, sec, "key", errs);
	check_converter(conf, sec, "value", errs);
	if (rkconf != NULL)
		check_client(conf, sec, rkconf, errs);
	if (desc != NULL && !(desc->caps & KSINK_CAP_ATOMIC_OFFSETS) &&
	    strcmp(ks_conf_str(sec, ks_options_connector,
	    "delivery.guarantee"), "at_least_once") != 0)
		ks_errors_add(errs, "%s:%d: [connector %s]: sink %s "
		    "cannot store offsets atomically with its "
		    "effects, so it cannot be exactly-once; set "
		    "delivery.guarantee = at_least_once to run it "
		    "anyway", conf->path, sec->line, sec->name,
		    desc->name);
	kv = ks_conf_kv(sec, "errors.deadletterqueue.topic.name");
	tol = ks_conf_kv(sec, "errors.tolerance");
	if (kv != NULL && *kv->value != '\0' &&
	    (tol == NULL || strcmp(tol->value, "all") != 0))
		ks_errors_add(errs, "%s:%d: a dead letter queue takes "
		    "the records that errors.tolerance = all skips; "
		    "set errors.tolerance = all in [connector %s]",
		    conf->path, kv->line, sec->name);
}

void
ks_check_worker(const struct ks_conf *conf, struct ks_errors *errs)
{
	const struct ksink_option *tabs[1] = { ks_options_worker };
	const struct ks_section *wsec = ks_conf_section(conf, KS_SEC_WORKER);
	struct ks_section none = { .kind = KS_SEC_CONNECTOR,
	    .name = (char *)"check" };
	const struct ks_kv *kv;
	struct sockaddr_storage ss;
	rd_kafka_conf_t *rkc;
	socklen_t sl;
	char err[512];
	int reset;

	if (wsec != NULL)
		ks_conf_validate(conf, wsec, tabs, 1, NULL, 0, errs);
	if (wsec != NULL && (kv = ks_conf_kv(wsec, "admin.listen")) != NULL &&
	    *kv->value != '\0' && ks_admin_parse_listen(kv->value, &ss, &sl,
	    err, sizeof(err)) == -1)
		ks_errors_add(errs, "%s:%d: %s", conf->path, kv->line, err);
	/* Each problem of [kafka] is said once (ks_errors_add). */
	if ((rkc = ks_consumer_conf(conf, &none, &reset, errs)) != NULL)
		rd_kafka_conf_destroy(rkc);
}
