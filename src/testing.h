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
struct ksink_sink;

/* offsets_cli.c: TOPIC:PARTITION=OFFSET|none|earliest|latest; -1 with
 * errbuf filled. */
int	ks_offsets_parse_spec(const char *s, struct ks_offsets_spec *out,
	    char *errbuf, size_t errlen);
/* options.c: the name of a KSINK_OPT_* type. */
const char *ks_options_type_name(int type);
/* sink.c: "connector NAME" of a plugin's context. */
const char *ks_sink_ctx_who(const struct ksink_ctx *ctx);
/*
 * sink.c: the context that the daemon gives the plugin desc for
 * [connector NAME] holding settings (NULL-terminated, "KEY=VALUE" each,
 * the VALUE verbatim; type and topics are added when they lack), for the
 * plugin's callbacks with ks_sink_host.  The settings are validated as
 * the daemon validates a connector's section, against its own table and
 * desc's; the plugin's check() is left to the caller.  NULL, with errbuf
 * holding the problems one a line ("settings:N: ..." for the Nth
 * setting), where the daemon would refuse them.  ks_sink_ctx_free()
 * frees the context and its settings.
 */
struct ksink_ctx *ks_sink_ctx_test(const struct ksink_sink *desc,
	    const char *name, const char *const *settings, char *errbuf,
	    size_t errlen);
/* log.c: from now on, also keep the lines logged in buf (size bytes,
 * NUL-terminated, as many whole lines as fit); NULL stops. */
void	ks_log_capture(char *buf, size_t size);

#endif
