/* SPDX-License-Identifier: BSD-2-Clause */
/* tests/plugins/wrong_major.c - built for the next ABI major. */
#include "fixture.h"

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR + 1,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "wrong_major",
	FX_CALLBACKS
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
