/* SPDX-License-Identifier: BSD-2-Clause */
/* tests/plugins/newer_minor.c - needs an ABI minor the daemon lacks. */
#include "fixture.h"

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR + 1,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "newer_minor",
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
