/* SPDX-License-Identifier: BSD-2-Clause */
/* tests/plugins/no_prefix.c - an option named without any prefix. */
#include "fixture.h"

static const struct ksink_option options[] = {
	{ .name = "path", .type = KSINK_OPT_PATH, .doc = "No prefix." },
	{ .name = NULL }
};

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "no_prefix",
	.options = options,
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
