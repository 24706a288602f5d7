/* SPDX-License-Identifier: BSD-2-Clause */
/* sink.h - loading sink plugins and the services the host gives them. */
#ifndef KS_SINK_H
#define KS_SINK_H

#include <stddef.h>

#include "ksink/sink.h"

struct ks_section;

/* A loaded plugin.  Its handle is never closed: a plugin's threads or
 * atexit handlers may still point into its code. */
struct ks_plugin {
	char *path;
	const struct ksink_sink *desc;
};

/* Where plugins are looked up: [worker] plugin.dir when set (wsec may be
 * NULL), else $KSINK_PLUGIN_DIR when set, else the built-in default. */
const char *ks_sink_plugin_dir(const struct ks_section *wsec);
int	ks_sink_path(const char *type, const char *plugin_dir, char *buf,
	    size_t len, char *errbuf, size_t errlen);
struct ks_plugin *ks_sink_load(const char *path, char *errbuf, size_t errlen);
void	ks_sink_unload(struct ks_plugin *pl);

/* The context handed to one connector's plugin. */
struct ksink_ctx *ks_sink_ctx_new(const char *connector,
	    const struct ks_section *sec, const struct ks_plugin *pl);
void	ks_sink_ctx_free(struct ksink_ctx *ctx);
/* Where the context's host->count() adds up (the connector's figures). */
struct ks_stats;
void	ks_sink_ctx_set_stats(struct ksink_ctx *ctx, struct ks_stats *stats);

/* The wait the sink asked for in its last attempt (host->retry_after()),
 * or -1; either way forgotten, so that the next attempt starts clean. */
int64_t	ks_sink_ctx_retry_after(struct ksink_ctx *ctx);

/* Checks the keys of a connector's section against our table and its
 * plugin's (desc; NULL when the plugin could not be loaded, whose keys
 * are then left alone), as ks_conf_validate().  Returns the number of
 * problems added to errs. */
struct ks_conf;
struct ks_errors;
int	ks_sink_validate(const struct ks_conf *conf,
	    const struct ks_section *sec, const struct ksink_sink *desc,
	    struct ks_errors *errs);

/* Runs the plugin's check() (ABI 1.2), if it has one, on the connector's
 * options, already validated against its table; its reports join errs
 * as "FILE:LINE: ..." lines.  Returns 0, or -1 when it found a problem. */
int	ks_sink_check(const char *conf_path, const struct ks_section *sec,
	    const struct ks_plugin *pl, struct ks_errors *errs);

extern const struct ksink_host ks_sink_host;

#endif
