/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/no_entry.c - a shared object without ksink_sink_entry: it
 * exports a function of another name, as a library that is not a ksink
 * plugin would.
 */
#include "fixture.h"

const struct ksink_sink *ksink_sink_entry_v2(const struct ksink_host *host);

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.name = "no_entry",
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry_v2(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
