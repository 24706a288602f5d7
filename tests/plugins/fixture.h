/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/plugins/fixture.h - callbacks shared by the loader fixtures.
 *
 * Each fixture is a real shared object built from one small .c file that
 * includes this header and defines its own descriptor, so that each one
 * differs from a loadable plugin in exactly one way.  The callbacks do
 * nothing: the loader never calls them.
 */
#ifndef KSINK_TEST_FIXTURE_H
#define KSINK_TEST_FIXTURE_H

#include "ksink/sink.h"

/* A fixture that leaves a callback out must not warn about it. */
#define FX_UNUSED __attribute__((unused))

FX_UNUSED static int
fx_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sink,
    char *errbuf, size_t errlen)
{
	(void)host;
	(void)ctx;
	(void)errbuf;
	(void)errlen;
	*sink = NULL;
	return KSINK_OK;
}

FX_UNUSED static int
fx_load_offsets(void *sink, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	(void)sink;
	(void)offsets;
	(void)count;
	(void)errbuf;
	(void)errlen;
	return KSINK_OK;
}

FX_UNUSED static int
fx_begin(void *sink, char *errbuf, size_t errlen)
{
	(void)sink;
	(void)errbuf;
	(void)errlen;
	return KSINK_OK;
}

FX_UNUSED static int
fx_write(void *sink, const struct ksink_record *records, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	(void)sink;
	(void)records;
	(void)errbuf;
	(void)errlen;
	*n_done = count;
	return KSINK_OK;
}

FX_UNUSED static int
fx_commit(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	(void)sink;
	(void)offsets;
	(void)count;
	(void)errbuf;
	(void)errlen;
	return KSINK_OK;
}

FX_UNUSED static void
fx_close(void *sink)
{
	(void)sink;
}

/* The callbacks of a complete descriptor. */
#define FX_CALLBACKS \
	.open = fx_open, \
	.load_offsets = fx_load_offsets, \
	.begin = fx_begin, \
	.write = fx_write, \
	.commit = fx_commit, \
	.close = fx_close

#endif
