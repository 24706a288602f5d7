/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/small_desc_1_2.c - declares ABI 1.2 but its descriptor
 * ends where ABI 1.1's does, without check().
 */
#include "fixture.h"

#ifndef KSINK_SINK_SIZE_1_2
#error "this fixture needs a <ksink/sink.h> of ABI 1.2 or later"
#endif

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 2,
	.struct_size = KSINK_SINK_SIZE_1_1,
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "small_desc_1_2",
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
