/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/small_desc.c - a descriptor that claims to end before
 * close(), smaller than ABI 1.0's.  The loader must not read the members
 * past struct_size; here they are all set, so only the size check can
 * refuse it.
 */
#include <stddef.h>

#include "fixture.h"

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = offsetof(struct ksink_sink, close),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "small_desc",
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
