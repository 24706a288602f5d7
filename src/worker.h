/* worker.h - one connector: its consumer thread and its batch loop. */
#ifndef KS_WORKER_H
#define KS_WORKER_H

#include <stdint.h>

struct ks_conf;
struct ks_section;
struct ks_errors;
struct ks_worker;

struct ks_worker_stats {
	uint64_t records;	/* records handed to the sink and committed */
	uint64_t batches;
	uint64_t poison;	/* records skipped with errors.tolerance=all */
	uint64_t retries;
};

/* Called from a connector thread when it ends; failed != 0 on failure. */
typedef void (*ks_worker_done_fn)(struct ks_worker *w, int failed,
	    void *arg);

/* Checks and prepares one [connector NAME]; NULL with errors added. */
struct ks_worker *ks_worker_new(const struct ks_conf *conf,
	    const struct ks_section *sec, const char *plugin_dir,
	    struct ks_errors *errs);
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
void	ks_worker_get_stats(const struct ks_worker *w,
	    struct ks_worker_stats *st);

/* Run in the calling thread until stopped; used by the demo. */
int	ks_worker_run(struct ks_worker *w);

#endif

/* Checks [worker] and every connector of conf, loading their plugins. */
int	ks_worker_load_all(const struct ks_conf *conf, struct ks_errors *errs,
	    struct ks_worker ***workers, size_t *count);
