/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/abi_1_1.c - a plugin built against the ABI 1.1 header
 * (tests/plugins/sink-1.1.h, included before fixture.h so that its
 * <ksink/sink.h> is that one), with reset_offsets set, as ksink's own
 * plugins were: it must still load.
 */
#include "sink-1.1.h"
#include "fixture.h"

#if KSINK_ABI_MINOR != 1
#error "this fixture must be built against the ABI 1.1 header"
#endif

static int
reset_offsets(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	(void)sink;
	(void)offsets;
	(void)count;
	(void)errbuf;
	(void)errlen;
	return KSINK_OK;
}

static const struct ksink_option options[] = {
	{ .name = "abi_1_1.path", .type = KSINK_OPT_PATH,
	  .doc = "Where nothing is written." },
	{ .name = NULL }
};

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = KSINK_ABI_MINOR,
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "abi_1_1",
	.version = "1.1",
	.description = "built against the ABI 1.1 header",
	.options = options,
	FX_CALLBACKS,
	.reset_offsets = reset_offsets
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
