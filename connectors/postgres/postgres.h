/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/postgres.h - what the PostgreSQL sink's files share:
 * the sink's state and the functions that cross them.  postgres.c has the
 * option table and the atomic step; offsets.c the offsets table, its
 * locks and the fence; open.c the configuration, check() and open();
 * conn.c the connection, SQLSTATE classes and the in-doubt COMMIT; rows.c
 * a batch's records, pipelined; copy.c the same through COPY; classify.c
 * which statements COPY can apply; batch.c postgres.batch.statement;
 * map.c the table mapping.  Private to the plugin.
 */
#ifndef KS_POSTGRES_H
#define KS_POSTGRES_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/offcache.h"
#include "stmt.h"

/* Statements and bytes per pipeline Sync (see run_records()): a chunk
 * stays below libpq's 8 KB send unit, so that it leaves with its Sync. */
#define PIPE_CHUNK 1000
#define PIPE_CHUNK_BYTES 4096
/* OIDs of the types a parameter is sent for (pg_type.h). */
#define OID_BYTEA 17
#define OID_TEXT 25
#define OID_VARCHAR 1043
#define OID_TIMESTAMP 1114
#define OID_TIMESTAMPTZ 1184

/* A prepared statement of a set. */
struct pstmt {
	char name[32];
	struct pg_stmt_text t;
	Oid types[PG_F_COUNT];
};

struct pset {
	const char *option;
	struct pstmt *v;
	int n;
};

/* What ksink knows of one partition, across batches: an entry of
 * pg->parts.  e.next is the stored next offset (-1: none). */
struct part {
	struct ks_offcache_entry e;	/* first: topic, partition, next */
	int64_t epoch;		/* the epoch this worker holds; 0: none */
	int fenced;		/* another worker took it over */
	/* this transaction */
	int locked;		/* row read FOR UPDATE in this transaction */
	int64_t txn_next;	/* what the COMMIT stores (-1: unchanged) */
	int64_t sp_next;	/* txn_next when the savepoint was set */
	int claiming;		/* claimed in this transaction */
	int64_t load_epoch;	/* the epoch read at assignment; 0: no row */
};

/* The statements on the offsets table, built once at open. */
struct pg_sql {
	char *create;		/* CREATE TABLE IF NOT EXISTS */
	char *load;		/* a row, read at assignment */
	char *lock;		/* a row, FOR UPDATE */
	char *claim;		/* the epoch bumped, if still the one read */
	char *insert;		/* a new row */
	char *update;		/* the next offset, compare-and-set */
	char *reset;		/* ksink offsets --reset */
	char lock_timeout[64];	/* SET LOCAL lock_timeout = ... */
};

struct pg {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;
	PGconn *conn;
	char *conninfo;
	char *password;
	char *connector;
	char *offtab;		/* the offsets table's name, as given */
	int64_t connect_ms, stmt_ms;
	int64_t idle_ms;	/* postgres.idle.timeout.ms */
	int64_t lock_ms;	/* postgres.lock.timeout.ms */
	struct pg_sql sql;
	char *init;		/* postgres.init, run by pg_setup() */
	const char *init_what;	/* the option it came from */
	int need_setup;		/* pg_setup() has not run yet */

	struct pset main, del;

	struct ks_offcache parts; /* of struct part, each allocated once */

	int in_txn;		/* BEGIN sent */
	int sp;			/* the records' savepoint is set */
	int64_t xid;		/* of the open transaction, 0 if unknown */
	int64_t indoubt;	/* xid of a COMMIT of unknown outcome */
	int resolved_committed;	/* how the last one was resolved */
	uint64_t fences;

	struct ks_buf hdr;
	struct ks_buf copy;	/* COPY data of a batch */
	int default_table;	/* no postgres.statement: ksink_records,
				 * which pg_setup() creates */
	struct copy *cp;	/* the COPY path (copy.c), NULL before */
	struct ks_buf pbuf[PG_F_COUNT];
	struct pgmap *map;	/* the table mapping (map.c), when used */
	struct batch *bt;	/* postgres.batch.statement (batch.c) */
	int staged;		/* rows staged for it in this transaction */
	const char *prepared_for; /* the connection statements are prepared on */
};

/* The i-th partition of pg->parts (see part_get()). */
static inline struct part *
part_at(struct pg *pg, size_t i)
{
	return (struct part *)pg->parts.v[i];
}

/* batch.c: postgres.batch.statement */
int	batch_apply(struct pg *pg, const struct ksink_record *records,
	    size_t count, size_t *bad, char *errbuf, size_t errlen);
void	batch_free(struct pg *pg);
int	batch_open(struct pg *pg, const char *sql, const char *option,
	    char *errbuf, size_t errlen);
int	batch_parse(const char *sql, struct pg_stmt_list *l, char *errbuf,
	    size_t errlen);
int	batch_setup(struct pg *pg, char *errbuf, size_t errlen);

/* conn.c */
void	disconnect(struct pg *pg);
void	drain_sync(struct pg *pg);
PGresult *next_result(struct pg *pg);
int	ensure_conn(struct pg *pg, char *errbuf, size_t errlen);
int	exec_simple(struct pg *pg, const char *sql, const char *what, char
	    *errbuf, size_t errlen);
int	result_error(struct pg *pg, const PGresult *res, const char *what, char
	    *errbuf, size_t errlen);

/* open.c */
int	pg_check(const struct ksink_host *host, struct ksink_ctx *ctx);
int	pg_open(const struct ksink_host *host, struct ksink_ctx *ctx,
	    void **sink, char *errbuf, size_t errlen);
int	pg_setup(struct pg *pg, char *errbuf, size_t errlen);

/* map.c: the table mapping mode (ksink-mapping(7)) */
int	map_apply(struct pg *pg, const struct ksink_record *records,
	    size_t from, size_t to, size_t *bad, char *errbuf, size_t errlen);
void	map_close(struct pg *pg);
void	map_disconnected(struct pg *pg);
int	map_open(struct pg *pg, char *errbuf, size_t errlen);
/* mapname.c: PostgreSQL's rules for the mapping's table names, reported
 * through host->report(); 1 when any is broken. */
int	map_check_names(const struct ksink_host *, struct ksink_ctx *);
void	map_rolled_back(struct pg *pg);
int	map_tables_exist(struct pg *pg, char *errbuf, size_t errlen);
void	map_txn_end(struct pg *pg, int committed);

/* offsets.c */
int	create_offsets(struct pg *pg, char *errbuf, size_t errlen);
void	fence(struct pg *pg, struct part *p, int64_t epoch, int64_t next);
int	lock_parts(struct pg *pg, const struct ksink_record *records, size_t
	    count, char *errbuf, size_t errlen);
int	offsets_sql(struct pg *pg);
void	offsets_sql_free(struct pg *pg);
int	pg_load_offsets(void *sink, struct ksink_offset *offsets, size_t
	    count, char *errbuf, size_t errlen);
int	pg_reset_offsets(void *sink, const struct ksink_offset *offsets,
	    size_t count, char *errbuf, size_t errlen);

/* postgres.c */
void	pg_close(void *sink);
/* The open transaction's id, sent in a pipeline and read by read_xid(). */
#define SQL_XID "SELECT pg_current_xact_id()::text"
int	read_xid(struct pg *pg, char *errbuf, size_t errlen);
struct part *part_find(struct pg *pg, const char *topic, int32_t partition);
struct part *part_get(struct pg *pg, const char *topic, int32_t partition);
int	send_params(struct pg *pg, const char *sql, int n, const char *const
	    *v);
void	txn_end(struct pg *pg, int committed);
void	txn_reset(struct pg *pg);

/* copy.c */
int	apply_records(struct pg *pg, const struct ksink_record *records,
	    size_t from, size_t to, size_t *bad, char *errbuf, size_t errlen);
int	copy_field(struct pg *pg, struct ks_buf *b, int f, Oid t,
	    const struct ksink_record *r, char *errbuf, size_t errlen);
int	copy_send(struct pg *pg, const char *sql, const char *what,
	    struct ks_buf *b, size_t *line_no, char *errbuf, size_t errlen);
int	copy_setup(struct pg *pg, char *errbuf, size_t errlen);
void	copy_free(struct pg *pg);

/* rows.c */
int	field_bytes(struct pg *pg, int f, const struct ksink_record *r,
	    const void **d, size_t *n);
void	fmt_timestamp(int64_t ms, char *buf, size_t len);
struct part *record_part(struct pg *pg, const struct ksink_record *r);
int	run_records(struct pg *pg, const struct ksink_record *records, size_t
	    from, size_t to, size_t *bad, char *errbuf, size_t errlen);

#endif
