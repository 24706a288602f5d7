/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sink.c - the plugin loader and the host services.
 *
 * A plugin is refused, with a message naming its file and both ABI
 * versions where they matter, when: it is writable by other users, it is
 * not a loadable shared object, it lacks ksink_sink_entry, its entry
 * returns nothing, its ABI major differs from ours, its ABI minor is newer
 * than ours, its descriptor is smaller than its minor version needs, a
 * required callback is missing, or its option names lack its prefix.  The descriptor is
 * never copied: only the members within its struct_size are read.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "log.h"
#include "options.h"
#include "sink.h"
#include "stats.h"
#include "testing.h"
#include "util.h"

struct ksink_ctx {
	char *name;
	char *who;
	const struct ks_section *sec;
	const struct ksink_option *opts;
	/* While check() runs: where its reports go. */
	const char *conf_path;
	struct ks_errors *errs;
	size_t reports;
	/* Where host->count() adds up; NULL: nowhere (ksink offsets). */
	struct ks_stats *stats;
	int count_warned;
	/* host->retry_after() of the current attempt, -1: none. */
	int64_t retry_after_ms;
	/* ks_sink_ctx_test(): the settings it owns. */
	struct ks_conf *conf;
};

/* The descriptor size each minor version needs, by minor. */
static const size_t min_size[] = {
	KSINK_SINK_SIZE_1_0,
	KSINK_SINK_SIZE_1_1,
	KSINK_SINK_SIZE_1_2,
	KSINK_SINK_SIZE_1_3,
};
_Static_assert(KS_ARRAY_SIZE(min_size) == KSINK_ABI_MINOR + 1,
    "a minimal descriptor size for every minor version");

const char *
ks_sink_plugin_dir(const struct ks_section *wsec)
{
	const char *env = getenv("KSINK_PLUGIN_DIR");

	if (ks_conf_kv(wsec, "plugin.dir") == NULL && env != NULL &&
	    *env != '\0')
		return env;
	return ks_conf_str(wsec, ks_options_worker, "plugin.dir");
}

int
ks_sink_path(const char *type, const char *plugin_dir, char *buf, size_t len,
    char *errbuf, size_t errlen)
{
	const char *p;
	int n;

	if (strchr(type, '/') != NULL) {
		if (type[0] != '/') {
			ks_util_errf(errbuf, errlen, "type = %s: a plugin "
			    "path must be absolute", type);
			return -1;
		}
		n = snprintf(buf, len, "%s", type);
	} else {
		for (p = type; *p != '\0'; p++)
			if (!(*p >= 'a' && *p <= 'z') &&
			    !(*p >= 'A' && *p <= 'Z') &&
			    !(*p >= '0' && *p <= '9') && *p != '_' &&
			    *p != '-') {
				ks_util_errf(errbuf, errlen, "type = %s: not a "
				    "plugin name (letters, digits, '_', '-') "
				    "nor an absolute path", type);
				return -1;
			}
		if (*type == '\0') {
			ks_util_errf(errbuf, errlen, "type is empty");
			return -1;
		}
		n = snprintf(buf, len, "%s/%s.so", plugin_dir, type);
	}
	if (n < 0 || (size_t)n >= len) {
		ks_util_errf(errbuf, errlen, "plugin path too long");
		return -1;
	}
	return 0;
}

static int
check_file(const char *path, char *errbuf, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		if (errno == ENOENT)
			ks_util_errf(errbuf, errlen, "plugin %s not found; "
			    "check type and plugin.dir (ksink --list-options "
			    "shows the default plugin.dir)", path);
		else
			ks_util_errf(errbuf, errlen, "plugin %s: %s", path,
			    strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		ks_util_errf(errbuf, errlen, "plugin %s is not a regular file",
		    path);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		ks_util_errf(errbuf, errlen, "plugin %s is writable by every "
		    "user (mode %04o); refusing to load it: run chmod o-w on "
		    "it", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

static int
check_desc(const char *path, const struct ksink_sink *d, char *errbuf,
    size_t errlen)
{
	static const char *const need[] = { "open", "load_offsets", "begin",
	    "write", "commit", "close" };
	const void *fn[KS_ARRAY_SIZE(need)];
	const struct ksink_option *o;
	size_t i, plen;

	if (d->abi_major != KSINK_ABI_MAJOR) {
		ks_util_errf(errbuf, errlen, "plugin %s was built for sink "
		    "ABI %u.%u, this ksink speaks ABI %d.%d; rebuild the "
		    "plugin against this ksink's <ksink/sink.h>", path,
		    d->abi_major, d->abi_minor, KSINK_ABI_MAJOR,
		    KSINK_ABI_MINOR);
		return -1;
	}
	if (d->abi_minor > KSINK_ABI_MINOR) {
		ks_util_errf(errbuf, errlen, "plugin %s needs sink ABI %u.%u, "
		    "newer than this ksink's ABI %d.%d; upgrade ksink", path,
		    d->abi_major, d->abi_minor, KSINK_ABI_MAJOR,
		    KSINK_ABI_MINOR);
		return -1;
	}
	if (d->struct_size < min_size[d->abi_minor]) {
		ks_util_errf(errbuf, errlen, "plugin %s: descriptor is %u "
		    "bytes, ABI %u.%u needs at least %zu; the plugin is "
		    "broken", path, d->struct_size, d->abi_major,
		    d->abi_minor, min_size[d->abi_minor]);
		return -1;
	}
	fn[0] = (const void *)d->open;
	fn[1] = (const void *)d->load_offsets;
	fn[2] = (const void *)d->begin;
	fn[3] = (const void *)d->write;
	fn[4] = (const void *)d->commit;
	fn[5] = (const void *)d->close;
	for (i = 0; i < KS_ARRAY_SIZE(need); i++)
		if (fn[i] == NULL) {
			ks_util_errf(errbuf, errlen, "plugin %s lacks the "
			    "required callback %s() (ABI %u.%u)", path,
			    need[i], d->abi_major, d->abi_minor);
			return -1;
		}
	if (d->name == NULL || *d->name == '\0') {
		ks_util_errf(errbuf, errlen, "plugin %s has no name", path);
		return -1;
	}
	plen = strlen(d->name);
	for (o = d->options; o != NULL && o->name != NULL; o++)
		if (strncmp(o->name, d->name, plen) != 0 ||
		    o->name[plen] != '.') {
			ks_util_errf(errbuf, errlen, "plugin %s: option %s "
			    "lacks the prefix \"%s.\"", path, o->name,
			    d->name);
			return -1;
		}
	return 0;
}

struct ks_plugin *
ks_sink_load(const char *path, char *errbuf, size_t errlen)
{
	ksink_sink_entry_fn entry;
	const struct ksink_sink *d;
	struct ks_plugin *pl;
	const char *err;
	void *dl, *sym;

	if (check_file(path, errbuf, errlen) == -1)
		return NULL;
	dlerror();
	if ((dl = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		err = dlerror();
		ks_util_errf(errbuf, errlen, "plugin %s cannot be loaded: %s",
		    path, err ? err : "unknown error");
		return NULL;
	}
	if ((sym = dlsym(dl, KSINK_SINK_ENTRY)) == NULL) {
		ks_util_errf(errbuf, errlen, "plugin %s does not export %s(); "
		    "it is not a ksink sink plugin (this ksink speaks sink ABI "
		    "%d.%d)", path, KSINK_SINK_ENTRY, KSINK_ABI_MAJOR,
		    KSINK_ABI_MINOR);
		dlclose(dl);
		return NULL;
	}
	memcpy(&entry, &sym, sizeof(entry));
	if ((d = entry(&ks_sink_host)) == NULL) {
		ks_util_errf(errbuf, errlen, "plugin %s: %s() returned no "
		    "descriptor; the plugin refuses this ksink (sink ABI "
		    "%d.%d)", path, KSINK_SINK_ENTRY, KSINK_ABI_MAJOR,
		    KSINK_ABI_MINOR);
		dlclose(dl);
		return NULL;
	}
	if (check_desc(path, d, errbuf, errlen) == -1) {
		dlclose(dl);
		return NULL;
	}
	pl = ks_util_xcalloc(1, sizeof(*pl));
	pl->path = ks_util_strdup(path);
	pl->desc = d;
	return pl;
}

void
ks_sink_unload(struct ks_plugin *pl)
{
	if (pl == NULL)
		return;
	/* Keep the code mapped: a plugin's threads or atexit handlers may
	 * still point into it.  The process is ending anyway. */
	free(pl->path);
	free(pl);
}

struct ksink_ctx *
ks_sink_ctx_new(const char *connector, const struct ks_section *sec,
    const struct ks_plugin *pl)
{
	struct ksink_ctx *ctx;

	ctx = ks_util_xcalloc(1, sizeof(*ctx));
	ctx->name = ks_util_strdup(connector);
	if (asprintf(&ctx->who, "connector %s", connector) == -1)
		ctx->who = ks_util_strdup(connector);
	ctx->sec = sec;
	ctx->opts = pl->desc->options;
	ctx->retry_after_ms = -1;
	return ctx;
}

void
ks_sink_ctx_free(struct ksink_ctx *ctx)
{
	if (ctx == NULL)
		return;
	free(ctx->name);
	free(ctx->who);
	ks_conf_free(ctx->conf);
	free(ctx);
}

void
ks_sink_ctx_set_stats(struct ksink_ctx *ctx, struct ks_stats *stats)
{
	ctx->stats = stats;
}

int
ks_sink_validate(const struct ks_conf *conf, const struct ks_section *sec,
    const struct ksink_sink *desc, struct ks_errors *errs)
{
	const struct ksink_option *tabs[2];

	tabs[0] = ks_options_connector;
	tabs[1] = desc != NULL ? desc->options : NULL;
	/* Without its plugin, the plugin's keys cannot be checked: check
	 * only ours.  The kafka.* keys are the consumer's to check. */
	return ks_conf_validate(conf, sec, tabs, KS_ARRAY_SIZE(tabs),
	    "kafka.", desc == NULL, errs);
}

/* ks_sink_ctx_test(): one more key of sec. */
static void
test_kv(struct ks_section *sec, const char *key, size_t klen,
    const char *value, int line)
{
	struct ks_kv *kv;

	kv = ks_util_xcalloc(1, sizeof(*kv));
	kv->key = ks_util_xmalloc(klen + 1);
	memcpy(kv->key, key, klen);
	kv->key[klen] = '\0';
	kv->value = ks_util_strdup(value);
	kv->line = line;
	*sec->kvtail = kv;
	sec->kvtail = &kv->next;
}

struct ksink_ctx *
ks_sink_ctx_test(const struct ksink_sink *desc, const char *name,
    const char *const *settings, char *errbuf, size_t errlen)
{
	struct ks_plugin pl = { .desc = desc };
	struct ks_errors errs = { 0 };
	struct ksink_ctx *ctx;
	struct ks_section *sec;
	struct ks_conf *conf;
	const char *eq;
	size_t i, len;

	conf = ks_util_xcalloc(1, sizeof(*conf));
	conf->path = ks_util_strdup("settings");
	sec = ks_util_xcalloc(1, sizeof(*sec));
	sec->kind = KS_SEC_CONNECTOR;
	sec->name = ks_util_strdup(name);
	sec->kvtail = &sec->kvs;
	conf->sections = sec;
	conf->sectail = &sec->next;
	for (i = 0; settings != NULL && settings[i] != NULL; i++) {
		if ((eq = strchr(settings[i], '=')) == NULL)
			ks_errors_add(&errs, "settings:%zu: \"%s\" is not "
			    "KEY=VALUE", i + 1, settings[i]);
		else
			test_kv(sec, settings[i], (size_t)(eq - settings[i]),
			    eq + 1, (int)i + 1);
	}
	if (ks_conf_kv(sec, "type") == NULL)
		test_kv(sec, "type", 4, desc->name, 0);
	if (ks_conf_kv(sec, "topics") == NULL)
		test_kv(sec, "topics", 6, name, 0);
	ks_sink_validate(conf, sec, desc, &errs);
	if (errs.count > 0) {
		if (errlen > 0)
			*errbuf = '\0';
		for (i = 0, len = 0; i < errs.count && len < errlen; i++)
			len += (size_t)snprintf(errbuf + len, errlen - len,
			    "%s%s", i ? "\n" : "", errs.msg[i]);
		ks_errors_free(&errs);
		ks_conf_free(conf);
		return NULL;
	}
	ctx = ks_sink_ctx_new(name, sec, &pl);
	ctx->conf = conf;
	return ctx;
}

const char *
ks_sink_ctx_who(const struct ksink_ctx *ctx)
{
	return ctx->who;
}

static void
host_log(struct ksink_ctx *ctx, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ks_log_vmsg(level, ctx ? ctx->who : NULL, fmt, ap);
	va_end(ap);
}

static const char *
host_conf_str(struct ksink_ctx *ctx, const char *name)
{
	return ks_conf_str(ctx->sec, ctx->opts, name);
}

static int64_t
host_conf_int(struct ksink_ctx *ctx, const char *name)
{
	return ks_conf_int(ctx->sec, ctx->opts, name);
}

static int
host_conf_bool(struct ksink_ctx *ctx, const char *name)
{
	return ks_conf_bool(ctx->sec, ctx->opts, name);
}

static size_t
host_conf_count(struct ksink_ctx *ctx, const char *name)
{
	return ks_conf_count(ctx->sec, name);
}

static const char *
host_conf_str_at(struct ksink_ctx *ctx, const char *name, size_t index)
{
	return ks_conf_str_at(ctx->sec, name, index);
}

static const char *
host_connector_name(struct ksink_ctx *ctx)
{
	return ctx->name;
}

static void
host_report(struct ksink_ctx *ctx, const char *option, const char *fmt, ...)
{
	const struct ks_kv *kv = option ? ks_conf_kv(ctx->sec, option) : NULL;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ctx->reports++;
	if (ctx->errs == NULL) {
		ks_log_msg(KSINK_LOG_ERROR, ctx->who, "%s%s%s", option ?
		    option : "", option ? ": " : "", msg);
		return;
	}
	if (kv != NULL)
		ks_errors_add(ctx->errs, "%s:%d: %s: %s", ctx->conf_path,
		    kv->line, option, msg);
	else if (option != NULL)
		ks_errors_add(ctx->errs, "%s:%d: [connector %s]: %s: %s",
		    ctx->conf_path, ctx->sec->line, ctx->name, option, msg);
	else
		ks_errors_add(ctx->errs, "%s:%d: [connector %s]: %s",
		    ctx->conf_path, ctx->sec->line, ctx->name, msg);
}

/* Counts n events of a kind, shown per connector in the metrics. */
static void
host_count(struct ksink_ctx *ctx, const char *event, uint64_t n)
{
	if (ctx == NULL || ctx->stats == NULL)
		return;
	if (!ks_stats_event_name_ok(event)) {
		if (!ctx->count_warned++)
			ks_log_msg(KSINK_LOG_ERROR, ctx->who, "the sink counts "
			    "an event whose name is not [a-z][a-z0-9_]* of "
			    "at most %d characters; it is not counted (a "
			    "bug of the plugin)", KS_EVENT_NAME_MAX);
		return;
	}
	if (ks_stats_event(ctx->stats, event, n) == -1 &&
	    !ctx->count_warned++)
		ks_log_msg(KSINK_LOG_ERROR, ctx->who, "the sink counts more "
		    "than %d kinds of events; \"%s\" and the next new ones "
		    "are not counted (a bug of the plugin)", KS_EVENTS_MAX,
		    event);
}

int
ks_sink_check(const char *conf_path, const struct ks_section *sec,
    const struct ks_plugin *pl, struct ks_errors *errs)
{
	const struct ksink_sink *d = pl->desc;
	struct ksink_ctx *ctx;
	size_t reports;
	int st;

	if (!KSINK_SINK_HAS(d, check, 2) || d->check == NULL)
		return 0;
	ctx = ks_sink_ctx_new(sec->name, sec, pl);
	ctx->conf_path = conf_path;
	ctx->errs = errs;
	st = d->check(&ks_sink_host, ctx);
	if (st != KSINK_OK && ctx->reports == 0)
		ks_errors_add(errs, "%s:%d: [connector %s]: the %s plugin "
		    "finds the configuration invalid (%s) but does not say "
		    "why", conf_path, sec->line, sec->name, d->name,
		    ksink_status_name(st));
	reports = ctx->reports;
	ks_sink_ctx_free(ctx);
	return st == KSINK_OK && reports == 0 ? 0 : -1;
}

/* What the converters made of r: nothing yet, as no connector has a
 * converter other than bytes. */
static const struct ksink_decoded *
host_decoded(struct ksink_ctx *ctx, const struct ksink_record *r)
{
	(void)ctx;
	(void)r;
	return NULL;
}

/* The wait the sink asks for before the next attempt of a batch. */
static void
host_retry_after(struct ksink_ctx *ctx, int64_t ms)
{
	if (ctx != NULL)
		ctx->retry_after_ms = ms < 0 ? -1 : ms;
}

int64_t
ks_sink_ctx_retry_after(struct ksink_ctx *ctx)
{
	int64_t ms = ctx->retry_after_ms;

	ctx->retry_after_ms = -1;
	return ms;
}

const struct ksink_host ks_sink_host = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR,
	.struct_size = sizeof(struct ksink_host),
	.log = host_log,
	.conf_str = host_conf_str,
	.conf_int = host_conf_int,
	.conf_bool = host_conf_bool,
	.conf_count = host_conf_count,
	.conf_str_at = host_conf_str_at,
	.connector_name = host_connector_name,
	.report = host_report,
	.count = host_count,
	.decoded = host_decoded,
	.retry_after = host_retry_after,
};
