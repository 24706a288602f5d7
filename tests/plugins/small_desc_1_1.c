/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/small_desc_1_1.c - declares ABI 1.1 but its descriptor
 * ends where ABI 1.0's does, without the members 1.1 added.
 */
#include "fixture.h"

#ifndef KSINK_SINK_SIZE_1_1
#error "this fixture needs a <ksink/sink.h> of ABI 1.1 or later"
#endif

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 1,
	.struct_size = KSINK_SINK_SIZE_1_0,
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "small_desc_1_1",
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
