/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * testing.h - functions of the daemon's modules that no other module
 * calls, declared for the unit tests (tests/unit): only the modules that
 * define them and the tests include this file.
 */
#ifndef KS_TESTING_H
#define KS_TESTING_H

#include <stddef.h>

struct ks_offsets_spec;
struct ksink_ctx;

/* offsets_cli.c: TOPIC:PARTITION=OFFSET|none|earliest|latest; -1 with
 * errbuf filled. */
int	ks_offsets_parse_spec(const char *s, struct ks_offsets_spec *out,
	    char *errbuf, size_t errlen);
/* options.c: the name of a KSINK_OPT_* type. */
const char *ks_options_type_name(int type);
/* sink.c: "connector NAME" of a plugin's context. */
const char *ks_sink_ctx_who(const struct ksink_ctx *ctx);

#endif
