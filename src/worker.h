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

enum ks_worker_state {
	KS_STATE_STARTING,	/* joining its group, no partitions yet */
	KS_STATE_RUNNING,
	KS_STATE_PAUSED,	/* paused through the admin endpoint */
	KS_STATE_RETRYING,	/* backing off after a transient failure */
	KS_STATE_FAILED,
	KS_STATE_STOPPED,
	KS_STATE_COUNT
};

/* Upper bounds, in seconds, of the commit latency histogram's buckets. */
#define KS_LATENCY_BUCKETS 14
extern const double ks_worker_latency_bounds[KS_LATENCY_BUCKETS];

struct ks_part_snapshot {
	char *topic;
	int32_t partition;
	int assigned;
	uint64_t records;
	uint64_t batches;
	uint64_t bytes;
	int64_t sink_offset;	/* next offset stored by the sink, -1 none */
	int64_t group_offset;	/* last committed to the group, -1 none */
	int64_t high_watermark;	/* -1 unknown */
	int stalled;		/* held back by an open transaction */
};

/* A consistent copy of a connector's figures, for the admin endpoint. */
struct ks_worker_snapshot {
	const char *name;
	const char *type;
	int state;
	char error[1024];
	struct ks_worker_stats stats;
	uint64_t bytes;
	uint64_t rebalances;
	uint64_t dlq;
	uint64_t latency[KS_LATENCY_BUCKETS + 1];	/* last: +Inf */
	double latency_sum;
	uint64_t latency_count;
	int64_t last_commit_ms;		/* wall clock, 0: never */
	struct ks_part_snapshot *parts;
	size_t nparts;
};

const char *ks_worker_state_name(int state);
void	ks_worker_snapshot(struct ks_worker *w, struct ks_worker_snapshot *s);
void	ks_worker_snapshot_free(struct ks_worker_snapshot *s);
/* Pauses or resumes all of a connector's partitions (admin endpoint). */
void	ks_worker_set_paused(struct ks_worker *w, int paused);

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

/* Checks [worker] and every connector of conf, loading their plugins. */
int	ks_worker_load_all(const struct ks_conf *conf, struct ks_errors *errs,
	    struct ks_worker ***workers, size_t *count);

/* Run in the calling thread until stopped; used by the demo. */
int	ks_worker_run(struct ks_worker *w);

#endif
