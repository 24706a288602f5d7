/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ksink/sink.h - the ksink sink plugin ABI.
 *
 * This is the only header ksink installs.  A sink plugin is a shared object
 * that exports one function, ksink_sink_entry(), which returns a constant
 * descriptor (struct ksink_sink).  The daemon passes its services (logging,
 * typed configuration getters) in a table of function pointers
 * (struct ksink_host); plugins never link against the daemon.
 *
 * Versions.  The daemon refuses a plugin whose abi_major differs from
 * KSINK_ABI_MAJOR or whose abi_minor is newer than its own.  A plugin
 * declares the LOWEST minor that has every member it sets: 0 when it sets
 * nothing after close, 1 when it sets reset_offsets, 2 when it sets
 * check (ABI 1.3 adds only a host service, so a plugin never needs to
 * declare 3); so a rebuild against a newer header does not lock it out of an
 * older daemon.  struct_size is always sizeof(struct ksink_sink) of the
 * header it was built with.
 *
 * Evolution is append-only, in two kinds of structures:
 * - struct ksink_sink and struct ksink_host are passed by pointer, one of
 *   each, with their struct_size: new members are only ever added at
 *   their end, and a reader looks at a member only when the other side's
 *   struct_size reaches it (KSINK_SINK_HAS, KSINK_HOST_HAS).
 * - struct ksink_option, struct ksink_header, struct ksink_record and
 *   struct ksink_offset are passed as arrays, indexed by the size the
 *   plugin was built with: they are FROZEN and never change.  Data a
 *   later minor adds per record comes in a structure of its own, through
 *   a callback of its own.
 *
 * Threads.  The daemon calls the callbacks of one connector (one open()
 * and what follows on its sink) from one thread at a time, never two at
 * once; different connectors of the same plugin run in different threads
 * at the same time.  So a plugin keeps its state in the sink that open()
 * returns, and whatever it keeps beside (static tables, caches, library
 * initialisation) is constant, built at compile time, or guarded by the
 * plugin itself.  ksink_sink_entry() may be called more than once, from
 * any thread.  The host's services may be called from any thread, inside
 * or outside a callback.
 *
 * Self-contained C99: only <stdint.h> and <stddef.h>.
 * See ksink-sink(3).
 */
#ifndef KSINK_SINK_H
#define KSINK_SINK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KSINK_ABI_MAJOR 1
#define KSINK_ABI_MINOR 3

/* How far a structure reaches through member m: the struct_size that
 * one must have for m to be there. */
#define KSINK_SIZE_THROUGH(type, m) \
	(offsetof(type, m) + sizeof(((type *)0)->m))

/* Marks ksink_sink_entry() as exported when a plugin is built with
 * -fvisibility=hidden (the declaration below carries it). */
#if defined(__GNUC__) && __GNUC__ >= 4
#define KSINK_EXPORT __attribute__((visibility("default")))
#else
#define KSINK_EXPORT
#endif

/* Status codes returned by every callback.  The plugin classifies a
 * failure; the worker owns retry, backoff and the error policy. */
enum ksink_status {
	KSINK_OK = 0,
	KSINK_RETRY = 1,  /* transient: the worker backs off and replays */
	KSINK_POISON = 2, /* record *n_done can never be applied */
	KSINK_FATAL = 3,  /* the connector stops */
	KSINK_CONFIG = 4  /* configuration error, reported at open */
};

/* Capability bits (struct ksink_sink.caps). */
/* The sink stores offsets in the same atomic step as the effects and skips
 * records below its stored next offset inside that step.  A sink without
 * this capability runs only with delivery.guarantee = at_least_once. */
#define KSINK_CAP_ATOMIC_OFFSETS (1u << 0)
/* The sink's effects take place as write() goes, each stored with its
 * offsets (a sink that sends requests one after the other): on
 * KSINK_RETRY, *n_done is the number of records of the call that took
 * effect in it for good, and that the sink skips when the batch is
 * replayed.  The worker then restarts its backoff at the first step: a
 * batch that moves is not failing.  Without this capability *n_done
 * means nothing after KSINK_RETRY. */
#define KSINK_CAP_RETRY_PROGRESS (1u << 1)

/* Offset value meaning "the sink has no stored offset". */
#define KSINK_OFFSET_NONE ((int64_t)-1)

/* Log levels for struct ksink_host.log. */
enum ksink_log_level {
	KSINK_LOG_ERROR = 0,
	KSINK_LOG_WARN = 1,
	KSINK_LOG_INFO = 2,
	KSINK_LOG_DEBUG = 3
};

/* Option types for struct ksink_option. */
enum ksink_opt_type {
	KSINK_OPT_STRING = 0, /* any text */
	KSINK_OPT_INT = 1,    /* decimal integer within [min, max] */
	KSINK_OPT_BOOL = 2,   /* true|false|yes|no|on|off|1|0 */
	KSINK_OPT_ENUM = 3,   /* one of the '|'-separated words in values */
	KSINK_OPT_PATH = 4    /* a file system path */
};

/* Option flags. */
#define KSINK_OPT_REQUIRED (1u << 0) /* must be set */
#define KSINK_OPT_SECRET (1u << 1)   /* never logged nor printed */
#define KSINK_OPT_MULTI (1u << 2)    /* may be given several times */

/* One configuration option of a plugin (frozen).  The table is terminated by an
 * entry whose name is NULL.  Names carry the plugin's prefix
 * ("sqlite.path").  The same table drives validation,
 * `ksink --list-options` and the option lists in the man pages. */
struct ksink_option {
	const char *name;
	int type;           /* enum ksink_opt_type */
	const char *def;    /* default as text, NULL when there is none */
	int64_t min, max;   /* KSINK_OPT_INT only */
	const char *values; /* KSINK_OPT_ENUM only: "full|normal" */
	unsigned flags;     /* KSINK_OPT_* flags */
	const char *doc;    /* one paragraph, plain text */
};

/* A record header (frozen).  value is NULL for a header without value. */
struct ksink_header {
	const char *name;
	const void *value;
	size_t value_len;
};

/* One Kafka record (frozen).  All pointers are borrowed: they stay valid
 * until the batch is committed or aborted, and never longer. */
struct ksink_record {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp;  /* milliseconds since the epoch, -1 if none */
	const void *key;    /* NULL when the record has no key */
	size_t key_len;
	const void *value;  /* NULL for a tombstone */
	size_t value_len;
	const struct ksink_header *headers;
	size_t header_count;
};

/* A partition and the next offset to read from it (frozen). */
struct ksink_offset {
	const char *topic;
	int32_t partition;
	int64_t next_offset; /* KSINK_OFFSET_NONE: unknown */
};

/* ---- ABI 1.3: records a converter decoded (ksink-converters(7)) ---- */

/* The type of a field of a decoded key or value. */
enum ksink_field_type {
	KSINK_FIELD_ANY = 0,		/* a union of several types: any JSON */
	KSINK_FIELD_BOOLEAN = 1,
	KSINK_FIELD_INT32 = 2,		/* Avro int, Connect int8/16/32 */
	KSINK_FIELD_INT64 = 3,
	KSINK_FIELD_FLOAT32 = 4,
	KSINK_FIELD_FLOAT64 = 5,
	KSINK_FIELD_STRING = 6,		/* Avro string and enum */
	KSINK_FIELD_BYTES = 7,		/* Avro bytes and fixed: base64 */
	KSINK_FIELD_RECORD = 8,		/* its fields name it as parent */
	KSINK_FIELD_ARRAY = 9,		/* a JSON array */
	KSINK_FIELD_MAP = 10,		/* a JSON object */
	KSINK_FIELD_DECIMAL = 11,	/* "-12.30": precision, scale */
	KSINK_FIELD_DATE = 12,		/* "2024-02-29" */
	KSINK_FIELD_TIME_MILLIS = 13,	/* "13:45:00.123" */
	KSINK_FIELD_TIME_MICROS = 14,	/* "13:45:00.123456" */
	KSINK_FIELD_TIMESTAMP_MILLIS = 15, /* "2024-02-29T13:45:00.123Z" */
	KSINK_FIELD_TIMESTAMP_MICROS = 16, /* "2024-02-29T13:45:00.123456Z" */
	KSINK_FIELD_UUID = 17		/* "0b0e...": a string */
};

/* Field flags. */
#define KSINK_FIELD_OPTIONAL (1u << 0)	/* may be null (a union with null) */

/*
 * One field of the schema of a decoded key or value (frozen).  A schema
 * is a list of fields in which each field of a record names the index of
 * that record's own entry as its parent (-1: a field of the top record),
 * parents before their fields.  A key or value whose schema is not a
 * record is one entry, with name "" and parent -1.  The JSON text the
 * sink gets renders each type as ksink-converters(7) says.
 */
struct ksink_field {
	const char *name;
	int32_t parent;
	int32_t type;		/* enum ksink_field_type */
	uint32_t flags;		/* KSINK_FIELD_* */
	int32_t precision;	/* KSINK_FIELD_DECIMAL, else 0 */
	int32_t scale;		/* KSINK_FIELD_DECIMAL, else 0 */
	const char *default_json; /* the schema's default as JSON, or NULL */
};

/*
 * What a converter made of one record (host->decoded()).  Append-only:
 * a reader looks at a member only within struct_size.  With a converter
 * other than bytes, the record's key or value is the decoded JSON text
 * (ksink-converters(7)); the bytes read from Kafka are here.  Pointers
 * live as long as the record's.
 */
struct ksink_decoded {
	uint32_t struct_size;
	int32_t key_schema_id;		/* registry id, -1 when none */
	int32_t value_schema_id;
	const void *key_raw;		/* as read from Kafka */
	size_t key_raw_len;
	const void *value_raw;
	size_t value_raw_len;
	/* The schemas, when the converter had one (avro, json with
	 * schemas.enable); NULL and 0 otherwise. */
	const struct ksink_field *key_fields;
	size_t key_field_count;
	const struct ksink_field *value_fields;
	size_t value_field_count;
};

/* Opaque handle of one connector instance, given to open(). */
struct ksink_ctx;

/* Services of the daemon.  Only members within struct_size exist. */
struct ksink_host {
	uint32_t abi_major;
	uint32_t abi_minor;
	uint32_t struct_size;

	/* Logs one line, prefixed with the connector's name. */
	void (*log)(struct ksink_ctx *ctx, int level, const char *fmt, ...)
#if defined(__GNUC__)
	    __attribute__((format(printf, 3, 4)))
#endif
	    ;

	/* Typed getters of the connector's options, by full name.  An option
	 * that is not set yields its default.  Values were validated against
	 * the plugin's option table before open() is called. */
	const char *(*conf_str)(struct ksink_ctx *ctx, const char *name);
	int64_t (*conf_int)(struct ksink_ctx *ctx, const char *name);
	int (*conf_bool)(struct ksink_ctx *ctx, const char *name);
	/* For KSINK_OPT_MULTI options: the number of values, and each one. */
	size_t (*conf_count)(struct ksink_ctx *ctx, const char *name);
	const char *(*conf_str_at)(struct ksink_ctx *ctx, const char *name,
	    size_t index);

	/* The connector's name, as in [connector NAME]. */
	const char *(*connector_name)(struct ksink_ctx *ctx);

	/* ---- ABI 1.2 (test with KSINK_HOST_HAS(host, report)) ---- */

	/* Reports one problem with the connector's configuration, about
	 * option (a full name, or NULL for the connector as a whole).  The
	 * daemon prints it as one line with the file and the line of that
	 * option (of the connector's section when the option is not set),
	 * among the other configuration errors; at least one report makes
	 * the configuration invalid.  Meant for check(); elsewhere it logs
	 * an error.  fmt should say what is wrong and what to do; it must
	 * not quote a secret. */
	void (*report)(struct ksink_ctx *ctx, const char *option,
	    const char *fmt, ...)
#if defined(__GNUC__)
	    __attribute__((format(printf, 3, 4)))
#endif
	    ;

	/* ---- ABI 1.2 too (test with KSINK_HOST_HAS(host, count)) ---- */

	/* Adds n to the connector's count of event, which the daemon shows
	 * in its metrics (ksink_sink_events_total{connector,event}) and in
	 * `ksink status`.  event is a name of [a-z][a-z0-9_]*, at most 32
	 * characters, such as "fenced"; a connector counts at most 16
	 * different names.  Thread-safe; cheap enough for every batch. */
	void (*count)(struct ksink_ctx *ctx, const char *event, uint64_t n);

	/* ---- ABI 1.3 (test with KSINK_HOST_HAS(host, decoded)) ---- */

	/* What the connector's converters made of record r, one of the
	 * records the current write() was given; NULL when neither key
	 * nor value has a converter other than bytes.  Call it only from
	 * write(), for its own records. */
	const struct ksink_decoded *(*decoded)(struct ksink_ctx *ctx,
	    const struct ksink_record *r);

	/* ---- ABI 1.3 too (test with KSINK_HOST_HAS(host, retry_after)) ---- */

	/* Called by a callback of a batch (write(), commit(), begin()) that
	 * then returns KSINK_RETRY, when the system it writes to said when
	 * to come back (an HTTP Retry-After): the worker waits ms
	 * milliseconds before the next attempt, instead of the next step of
	 * its backoff, which this wait does not lengthen.
	 * errors.retry.timeout.ms still bounds the batch's attempts.  The
	 * last call of an attempt counts; ms < 0 takes it back. */
	void (*retry_after)(struct ksink_ctx *ctx, int64_t ms);
};

/* Whether host h has member m (for members added after ABI 1.0). */
#define KSINK_HOST_HAS(h, m) \
	((h)->struct_size >= KSINK_SIZE_THROUGH(struct ksink_host, m))

/* The plugin's descriptor.  Start of the structure is fixed forever:
 * abi_major, abi_minor, struct_size, caps. */
struct ksink_sink {
	uint32_t abi_major;   /* KSINK_ABI_MAJOR */
	uint32_t abi_minor;   /* KSINK_ABI_MINOR */
	uint32_t struct_size; /* sizeof(struct ksink_sink) */
	uint32_t caps;        /* KSINK_CAP_* */

	const char *name;        /* option prefix and type name: "sqlite" */
	const char *version;     /* the plugin's own version */
	const char *description; /* one line */
	const struct ksink_option *options;

	/* Required.  Opens the sink with the connector's options.  On failure
	 * returns KSINK_CONFIG or KSINK_FATAL with errbuf filled. */
	int (*open)(const struct ksink_host *host, struct ksink_ctx *ctx,
	    void **sink, char *errbuf, size_t errlen);

	/* Required.  For each entry of offsets[] (topic and partition set,
	 * next_offset = KSINK_OFFSET_NONE), sets next_offset to the stored
	 * next offset, or leaves KSINK_OFFSET_NONE when the sink has never
	 * applied anything of that partition. */
	int (*load_offsets)(void *sink, struct ksink_offset *offsets,
	    size_t count, char *errbuf, size_t errlen);

	/* Required.  Starts the atomic step of one batch. */
	int (*begin)(void *sink, char *errbuf, size_t errlen);

	/* Required.  Applies records inside the open step, skipping any whose
	 * offset is below the sink's stored next offset for its partition.
	 * Sets *n_done to the number of records handled.  On KSINK_OK,
	 * *n_done == count.  On KSINK_POISON, records[*n_done] can never be
	 * applied; records before it are applied within the step and the step
	 * stays usable: the worker may skip the record and call write() again
	 * with the rest, or call abort().  After KSINK_RETRY or KSINK_FATAL
	 * the worker calls abort(); see KSINK_CAP_RETRY_PROGRESS for
	 * *n_done after KSINK_RETRY. */
	int (*write)(void *sink, const struct ksink_record *records,
	    size_t count, size_t *n_done, char *errbuf, size_t errlen);

	/* Required.  Stores offsets[] (the next offset of every partition of
	 * the batch, records skipped as poison included) and commits the step
	 * atomically with the effects.  Never lowers a stored offset. */
	int (*commit)(void *sink, const struct ksink_offset *offsets,
	    size_t count, char *errbuf, size_t errlen);

	/* Optional.  Abandons the open step; nothing of it takes effect. */
	void (*abort)(void *sink);

	/* Required.  Releases the sink.  An open step is abandoned. */
	void (*close)(void *sink);

	/* ---- ABI 1.1 ---- */

	/* Optional.  Replaces the stored next offset of each given partition
	 * in one atomic step, lowering it if need be (unlike commit());
	 * KSINK_OFFSET_NONE forgets the partition, so that
	 * auto.offset.reset applies to it again.  Used by `ksink offsets
	 * --reset` while no worker runs the connector; a sink that cannot
	 * do it leaves this NULL. */
	int (*reset_offsets)(void *sink, const struct ksink_offset *offsets,
	    size_t count, char *errbuf, size_t errlen);

	/* ---- ABI 1.2 ---- */

	/* Optional.  Checks the connector's options together -- the rules
	 * that span several options or that the option table cannot say
	 * (two options that exclude each other, a URL's syntax, a statement's
	 * parameters) -- without side effects: it opens no file, connects to
	 * nothing, creates nothing, and keeps nothing.  Reports each problem
	 * with host->report() and returns KSINK_CONFIG when it reported any,
	 * KSINK_OK otherwise.  The options were validated against the option
	 * table first.  `ksink -t` calls it, and so does the daemon before
	 * open(); open() still refuses what it cannot work with. */
	int (*check)(const struct ksink_host *host, struct ksink_ctx *ctx);
};

/* The minimal descriptor size the daemon accepts for each minor. */
#define KSINK_SINK_SIZE_1_0 KSINK_SIZE_THROUGH(struct ksink_sink, close)
#define KSINK_SINK_SIZE_1_1 \
	KSINK_SIZE_THROUGH(struct ksink_sink, reset_offsets)
#define KSINK_SINK_SIZE_1_2 KSINK_SIZE_THROUGH(struct ksink_sink, check)
#define KSINK_SINK_SIZE_1_3 KSINK_SINK_SIZE_1_2

/* Whether descriptor d has member m: declared by its minor version and
 * within its struct_size.  For members added after ABI 1.0. */
#define KSINK_SINK_HAS(d, m, minor) \
	((d)->abi_minor >= (minor) && \
	(d)->struct_size >= KSINK_SIZE_THROUGH(struct ksink_sink, m))

/* The plugin's only exported symbol. */
#define KSINK_SINK_ENTRY "ksink_sink_entry"
typedef const struct ksink_sink *(*ksink_sink_entry_fn)(
    const struct ksink_host *host);
KSINK_EXPORT const struct ksink_sink *ksink_sink_entry(
    const struct ksink_host *host);

/* The name of a status code, for messages. */
static inline const char *
ksink_status_name(int status)
{
	switch (status) {
	case KSINK_OK: return "ok";
	case KSINK_RETRY: return "retry";
	case KSINK_POISON: return "poison";
	case KSINK_FATAL: return "fatal";
	case KSINK_CONFIG: return "config";
	default: return "unknown";
	}
}

#ifdef __cplusplus
}
#endif

#endif /* KSINK_SINK_H */
