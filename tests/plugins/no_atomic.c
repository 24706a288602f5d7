/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/no_atomic.c - a loadable plugin without
 * KSINK_CAP_ATOMIC_OFFSETS: it runs only with
 * delivery.guarantee = at_least_once.
 */
#include "fixture.h"

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.caps = 0,
	.name = "no_atomic",
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
