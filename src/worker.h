/* SPDX-License-Identifier: BSD-2-Clause */
/* worker.h - one connector: its thread and its batch loop. */
#ifndef KS_WORKER_H
#define KS_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "ksink/sink.h"
#include "stats.h"

struct ks_conf;
struct ks_section;
struct ks_errors;
struct ks_worker;

const char *ks_worker_state_name(int state);
void	ks_worker_snapshot(struct ks_worker *w, struct ks_worker_snapshot *s);
void	ks_worker_snapshot_free(struct ks_worker_snapshot *s);
/* Pauses or resumes all of a connector's partitions (admin endpoint). */
void	ks_worker_set_paused(struct ks_worker *w, int paused);

/* Called from a connector thread when it ends; failed != 0 on failure. */
typedef void (*ks_worker_done_fn)(struct ks_worker *w, int failed,
	    void *arg);

/* Opens the sink; -1 with errbuf filled (config: *config_error = 1). */
int	ks_worker_open(struct ks_worker *w, int *config_error, char *errbuf,
	    size_t errlen);
int	ks_worker_start(struct ks_worker *w, ks_worker_done_fn done,
	    void *arg);
void	ks_worker_stop(struct ks_worker *w);
/* Waits for the thread; returns 0 when the connector stopped cleanly. */
int	ks_worker_join(struct ks_worker *w);
void	ks_worker_free(struct ks_worker *w);
const char *ks_worker_name(const struct ks_worker *w);
void	ks_worker_get_stats(struct ks_worker *w, struct ks_worker_stats *st);

/* The sink of an opened connector (*sink may be NULL), for `ksink
 * offsets`, which opens it as the daemon does. */
const struct ksink_sink *ks_worker_sink(const struct ks_worker *w,
	    void **sink);
const char *ks_worker_plugin_path(const struct ks_worker *w);
/* Closes the sink of an opened connector that never ran. */
void	ks_worker_close(struct ks_worker *w);
/* The sink's stored offsets of offs[0..n), retried as the daemon does
 * (retry.h) while the sink says RETRY: a KSINK_* status. */
int	ks_worker_load_offsets(struct ks_worker *w, struct ksink_offset *offs,
	    size_t n, char *errbuf, size_t errlen);

/* Checks [worker] and every connector of conf, loading their plugins. */
int	ks_worker_load_all(const struct ks_conf *conf, struct ks_errors *errs,
	    struct ks_worker ***workers, size_t *count);


#endif
