/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/file/fakehost.c - host services for driving a plugin in tests.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakehost.h"

#define MAXOPT 64

static const struct ksink_option *opts;
static const char *connector = "test";
static char *values[MAXOPT];
static int quiet;
static char logbuf[16384];
static size_t loglen;

/* Only its address matters. */
static char ctx_storage;
struct ksink_ctx *const fakehost_ctx = (struct ksink_ctx *)&ctx_storage;

static int
find(const char *name, size_t len)
{
	int i;

	for (i = 0; opts != NULL && opts[i].name != NULL && i < MAXOPT; i++)
		if (strlen(opts[i].name) == len &&
		    strncmp(opts[i].name, name, len) == 0)
			return i;
	return -1;
}

void
fakehost_init(const struct ksink_option *options, const char *name)
{
	int i;

	for (i = 0; i < MAXOPT; i++) {
		free(values[i]);
		values[i] = NULL;
	}
	opts = options;
	connector = name;
	logbuf[0] = '\0';
	loglen = 0;
}

int
fakehost_set(const char *assignment)
{
	const char *eq = strchr(assignment, '=');
	int i;

	if (eq == NULL || (i = find(assignment, (size_t)(eq - assignment))) < 0)
		return -1;
	free(values[i]);
	values[i] = strdup(eq + 1);
	return 0;
}

void
fakehost_quiet(int q)
{
	quiet = q;
}

const char *
fakehost_log(void)
{
	return logbuf;
}

static void
host_log(struct ksink_ctx *ctx, int level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	char line[1024];
	va_list ap;
	int n;

	(void)ctx;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = snprintf(logbuf + loglen, sizeof(logbuf) - loglen, "%s\n", line);
	if (n > 0 && (size_t)n < sizeof(logbuf) - loglen)
		loglen += (size_t)n;
	if (!quiet)
		fprintf(stderr, "fakehost: %s: connector %s: %s\n",
		    level >= 0 && level <= 3 ? names[level] : "?", connector,
		    line);
}

static const char *
host_conf_str(struct ksink_ctx *ctx, const char *name)
{
	int i = find(name, strlen(name));

	(void)ctx;
	if (i < 0)
		return NULL;
	return values[i] != NULL ? values[i] : opts[i].def;
}

static int64_t
host_conf_int(struct ksink_ctx *ctx, const char *name)
{
	const char *v = host_conf_str(ctx, name);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static int
host_conf_bool(struct ksink_ctx *ctx, const char *name)
{
	const char *v = host_conf_str(ctx, name);

	return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0);
}

static size_t
host_conf_count(struct ksink_ctx *ctx, const char *name)
{
	return host_conf_str(ctx, name) != NULL;
}

static const char *
host_conf_str_at(struct ksink_ctx *ctx, const char *name, size_t index)
{
	return index == 0 ? host_conf_str(ctx, name) : NULL;
}

static const char *
host_connector_name(struct ksink_ctx *ctx)
{
	(void)ctx;
	return connector;
}

const struct ksink_host fakehost = {
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
};
