/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/no_close.c - lacks close(), the last required callback;
 * it has the optional abort().
 */
#include "fixture.h"

static void
fx_abort(void *sink)
{
	(void)sink;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "no_close",
	.open = fx_open,
	.load_offsets = fx_load_offsets,
	.begin = fx_begin,
	.write = fx_write,
	.commit = fx_commit,
	.abort = fx_abort
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
