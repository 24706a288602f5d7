/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/file/fakehost.h - a stand-in for the daemon's host services, for
 * programs that drive a sink plugin directly through the ABI.
 */
#ifndef FAKEHOST_H
#define FAKEHOST_H

#include "ksink/sink.h"

/* Resets the options and names the connector; options[] is the
 * plugin's table (defaults and types come from it). */
void fakehost_init(const struct ksink_option *options, const char *name);
/* Sets "NAME=VALUE"; returns -1 for an option not in the table. */
int fakehost_set(const char *assignment);
/* Log lines go to stderr unless quiet; those since fakehost_init() are
 * kept (the first 16 KiB), one per line. */
void fakehost_quiet(int quiet);
const char *fakehost_log(void);

extern const struct ksink_host fakehost;
extern struct ksink_ctx *const fakehost_ctx;

#endif
