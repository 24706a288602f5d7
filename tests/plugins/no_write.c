/* SPDX-License-Identifier: BSD-2-Clause */
/* tests/plugins/no_write.c - lacks the required write() callback. */
#include "fixture.h"

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "no_write",
	.open = fx_open,
	.load_offsets = fx_load_offsets,
	.begin = fx_begin,
	.commit = fx_commit,
	.close = fx_close
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
