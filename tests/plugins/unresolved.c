/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/unresolved.c - calls a function that no library defines.
 * Loaded lazily it would seem fine until the call; the loader must bind
 * every symbol at load time (RTLD_NOW) and refuse it there.
 */
#include "fixture.h"

void ksink_fixture_no_such_function(void);

static int
u_begin(void *sink, char *errbuf, size_t errlen)
{
	(void)sink;
	(void)errbuf;
	(void)errlen;
	ksink_fixture_no_such_function();
	return KSINK_OK;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 0,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "unresolved",
	.open = fx_open,
	.load_offsets = fx_load_offsets,
	.begin = u_begin,
	.write = fx_write,
	.commit = fx_commit,
	.close = fx_close
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
