/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/bad_prefix.c - one of its options lacks the "bad_prefix."
 * prefix: "bad_prefixpath" has the name but not the dot.
 */
#include "fixture.h"

static const struct ksink_option options[] = {
	{ .name = "bad_prefix.ok", .type = KSINK_OPT_STRING,
	  .doc = "Well named." },
	{ .name = "bad_prefixpath", .type = KSINK_OPT_PATH,
	  .doc = "Lacks the dot after the prefix." },
	{ .name = NULL }
};

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "bad_prefix",
	.options = options,
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
