/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/good.c - a minimal plugin the loader accepts.  It is an
 * ABI 1.0 plugin, as one built before ABI 1.1 would be: minor 0 and the
 * 1.0 descriptor size, so the members 1.1 added are not its to give.
 */
#include "fixture.h"

static const struct ksink_option options[] = {
	{ .name = "good.path", .type = KSINK_OPT_PATH,
	  .flags = KSINK_OPT_REQUIRED, .doc = "Where nothing is written." },
	{ .name = "good.level", .type = KSINK_OPT_INT, .def = "3",
	  .min = 0, .max = 9, .doc = "A number." },
	{ .name = "good.tag", .type = KSINK_OPT_STRING,
	  .flags = KSINK_OPT_MULTI, .doc = "A repeatable string." },
	{ .name = NULL }
};

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = KSINK_SINK_SIZE_1_0,
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "good",
	.version = "1.0",
	.description = "loads, does nothing",
	.options = options,
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
