/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/checked.c - an ABI 1.2 plugin with a check() callback,
 * built with -fvisibility=hidden so that only KSINK_EXPORT makes its
 * entry visible.  Its rules: checked.file and checked.text exclude each
 * other, one of them is needed, and checked.url must start with
 * "http://" or "https://".  It reports each problem through the host.
 */
#include <string.h>

#include "fixture.h"

static const struct ksink_option options[] = {
	{ .name = "checked.file", .type = KSINK_OPT_PATH,
	  .doc = "Where the text is." },
	{ .name = "checked.text", .type = KSINK_OPT_STRING,
	  .doc = "The text itself." },
	{ .name = "checked.url", .type = KSINK_OPT_STRING,
	  .def = "http://127.0.0.1/", .doc = "Where it goes." },
	{ .name = NULL }
};

static int
check(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	const char *file = host->conf_str(ctx, "checked.file");
	const char *text = host->conf_str(ctx, "checked.text");
	const char *url = host->conf_str(ctx, "checked.url");
	int bad = 0;

	if (!KSINK_HOST_HAS(host, report))
		return KSINK_OK;
	if (file != NULL && text != NULL) {
		host->report(ctx, "checked.text", "give checked.file or "
		    "checked.text, not both");
		bad = 1;
	} else if (file == NULL && text == NULL) {
		host->report(ctx, NULL, "give checked.file or checked.text");
		bad = 1;
	}
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		host->report(ctx, "checked.url", "\"%s\" is not an http:// "
		    "or https:// URL", url);
		bad = 1;
	}
	return bad ? KSINK_CONFIG : KSINK_OK;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 2,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "checked",
	.version = "1.2",
	.description = "checks its options together",
	.options = options,
	FX_CALLBACKS,
	.check = check
};

KSINK_EXPORT const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
