/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/postgres.c - the PostgreSQL sink.
 *
 * One batch is one transaction at READ COMMITTED on one connection:
 *
 *	BEGIN
 *	  SELECT next_offset, epoch FROM <offsets> WHERE <partition> FOR UPDATE
 *	      for every partition of the batch, in (topic, partition) order:
 *	      a row whose epoch is not the one this worker got at assignment
 *	      means another worker took the partition over (the fence);
 *	  SAVEPOINT; the user's statements for every record at or above the
 *	      stored next offset, pipelined (one round trip per batch);
 *	  UPDATE <offsets> SET next_offset = new
 *	      WHERE <partition> AND epoch = mine AND next_offset = expected
 *	COMMIT
 *
 * On assignment, load_offsets() bumps the epoch of each partition and reads
 * its next offset in one statement.  A COMMIT whose outcome is unknown (the
 * connection was lost after it was sent) is resolved before anything else
 * is done on the next connection: pg_xact_status() of the transaction's id,
 * recorded before the COMMIT was sent, or the offset rows themselves.  See
 * ksink-postgres(7).  The configuration and open() are open.c's, the
 * connection conn.c's, the records' statements rows.c's, a batch
 * statement's batch.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/envelope.h"
#include "../lib/err.h"
#include "../lib/mapping.h"
#include "../lib/utf8.h"
#include "postgres.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

static const struct ksink_option options[] = {
	{
		.name = "postgres.conninfo",
		.type = KSINK_OPT_STRING,
		.flags = KSINK_OPT_SECRET,
		.doc = "The libpq connection string (host=... dbname=...) or "
		    "URI (postgresql://...).  Every libpq keyword and "
		    "environment variable works: service files, ~/.pgpass, "
		    "sslmode, sslrootcert, target_session_attrs.  Unset, "
		    "libpq's defaults and PG* environment variables apply.  "
		    "It is never printed; keep the password in "
		    "postgres.password.file or ~/.pgpass rather than here.  "
		    "ksink -t warns when a host that is not a loopback "
		    "address is used without sslmode=verify-full.",
	},
	{
		.name = "postgres.password.file",
		.type = KSINK_OPT_PATH,
		.doc = "A file whose first line is the password of the login; "
		    "it overrides a password in postgres.conninfo.  It is "
		    "read at start and on every reconnection, and never "
		    "printed.",
	},
	{
		.name = "postgres.statement",
		.type = KSINK_OPT_STRING,
		.doc = "The SQL run for every record, inside the batch's "
		    "transaction; several statements separated by ';' run "
		    "in order.  Named parameters :topic, :partition, "
		    ":offset, :timestamp, :key, :value and :headers (also "
		    "@name) are bound to the record; a ::type cast is not a "
		    "parameter; any other parameter is an error.  A "
		    "parameter whose type the server infers as bytea gets "
		    "the raw bytes, any other the text (a key or value that "
		    "is not valid UTF-8 is then a poison record); "
		    ":timestamp is a timestamptz where the server infers a "
		    "timestamp, else milliseconds since the epoch.  Each "
		    "statement is prepared once per connection and a batch "
		    "is sent in one pipeline; a plain insert or upsert goes "
		    "through COPY instead (see ksink-postgres(7)).  When "
		    "neither this option nor "
		    "postgres.statement.file is set, the table mapping "
		    "applies when one of its options is set "
		    "(ksink-mapping(7)); otherwise each record is inserted "
		    "into the table ksink_records, created when missing.",
	},
	{
		.name = "postgres.statement.file",
		.type = KSINK_OPT_PATH,
		.doc = "Reads postgres.statement from this file instead.  "
		    "Setting both is an error.",
	},
	{
		.name = "postgres.delete.statement",
		.type = KSINK_OPT_STRING,
		.doc = "The SQL run instead of postgres.statement for a "
		    "tombstone, a record whose value is null.  It takes the "
		    "same parameters.  When unset, tombstones go through "
		    "postgres.statement with :value bound to NULL.",
	},
	{
		.name = "postgres.delete.statement.file",
		.type = KSINK_OPT_PATH,
		.doc = "Reads postgres.delete.statement from this file "
		    "instead.  Setting both is an error.",
	},
	{
		.name = "postgres.batch.statement",
		.type = KSINK_OPT_STRING,
		.doc = "SQL run once per batch instead of once per record: "
		    "the batch's records are copied into the temporary "
		    "table pg_temp.ksink_batch (topic, partition, offset, "
		    "timestamp, key, value, headers, seq: the default "
		    "table's columns and the record's place in the batch, "
		    "from 1), then these statements, separated by ';', run "
		    "on it in the batch's transaction.  They take no "
		    "parameters.  A tombstone is a row whose value is NULL.  "
		    "A record that fails with a data error is found by "
		    "bisecting the batch (about 2 log2(n) runs) and goes to "
		    "errors.tolerance, the rest applied.  It excludes "
		    "postgres.statement, postgres.delete.statement and the "
		    "table mapping (see ksink-postgres(7)).",
	},
	{
		.name = "postgres.batch.statement.file",
		.type = KSINK_OPT_PATH,
		.doc = "Reads postgres.batch.statement from this file "
		    "instead.  Setting both is an error.",
	},
	{
		.name = "postgres.init",
		.type = KSINK_OPT_STRING,
		.doc = "SQL run once when the connector starts, before the "
		    "statements are prepared, typically CREATE TABLE IF NOT "
		    "EXISTS for the tables the statements write.  It is not "
		    "part of any batch.",
	},
	{
		.name = "postgres.init.file",
		.type = KSINK_OPT_PATH,
		.doc = "Reads postgres.init from this file instead.  Setting "
		    "both is an error.",
	},
	{
		.name = "postgres.offsets.table",
		.type = KSINK_OPT_STRING,
		.def = "ksink_offsets",
		.doc = "The table holding (connector, topic, partition, "
		    "next_offset, epoch) for every partition, created when "
		    "missing; a schema-qualified name (ops.ksink_offsets) is "
		    "allowed.  Several connectors and several ksink "
		    "processes may share it.",
	},
	{
		.name = "postgres.connect.timeout.ms",
		.type = KSINK_OPT_INT,
		.def = "10000",
		.min = 1000,
		.max = 600000,
		.doc = "How long one connection attempt may take (libpq's "
		    "connect_timeout, rounded up to seconds); a failed "
		    "attempt while running is retried with back-off.",
	},
	{
		.name = "postgres.statement.timeout.ms",
		.type = KSINK_OPT_INT,
		.def = "60000",
		.min = 0,
		.max = INT32_MAX,
		.doc = "The server's statement_timeout for the connector's "
		    "session; a statement that runs longer is cancelled and "
		    "the batch retried.  0 means no limit.",
	},
	{
		.name = "postgres.idle.timeout.ms",
		.type = KSINK_OPT_INT,
		.def = "10000",
		.min = 0,
		.max = INT32_MAX,
		.doc = "The server's idle_in_transaction_session_timeout for "
		    "the connector's session: a batch's transaction that "
		    "waits this long for the worker (a worker stopped with "
		    "SIGSTOP or on a hung host) is ended by the server, "
		    "which releases its locks on the offset rows so that "
		    "the worker that took its partitions over goes on; the "
		    "stopped worker's batch is rolled back and applied "
		    "again by whoever owns the partitions.  0 means no "
		    "limit.",
	},
	{
		.name = "postgres.lock.timeout.ms",
		.type = KSINK_OPT_INT,
		.def = "5000",
		.min = 0,
		.max = INT32_MAX,
		.doc = "How long a batch waits for the offset rows of its "
		    "partitions when another transaction holds them, "
		    "typically that of a worker that has just lost the "
		    "partitions (the server's lock_timeout, for those rows "
		    "only); past it the batch is retried with back-off.  0 "
		    "means no limit.",
	},
	KS_MAPPING_OPTIONS("postgres"),
	{ .name = NULL }
};


/* ---------------------------------------------------------------- */
/* Partitions                                                        */

struct part *
part_find(struct pg *pg, const char *topic, int32_t partition)
{
	return (struct part *)ks_offcache_find(&pg->parts, topic, partition);
}

/* The partition, added when new; NULL when out of memory.  A struct part
 * stays where it is until pg_close(): pointers held across a part_get()
 * of another partition stay valid. */
struct part *
part_get(struct pg *pg, const char *topic, int32_t partition)
{
	struct part *p;

	if ((p = part_find(pg, topic, partition)) != NULL)
		return p;
	if ((p = (struct part *)ks_offcache_add(&pg->parts, topic, partition,
	    -1)) == NULL)
		return NULL;
	p->txn_next = -1;
	return p;
}

/* Forgets the open transaction; committed says whether it committed
 * (the claims it made hold) or not (they are undone). */
void
txn_end(struct pg *pg, int committed)
{
	struct part *p;
	size_t i;

	map_txn_end(pg, committed);
	for (i = 0; i < pg->parts.n; i++) {
		p = part_at(pg, i);
		if (committed && p->txn_next >= 0)
			p->e.next = p->txn_next;
		if (p->claiming && !committed)
			p->epoch = 0;
		p->claiming = 0;
	}
}

void
txn_reset(struct pg *pg)
{
	struct part *p;
	size_t i;

	for (i = 0; i < pg->parts.n; i++) {
		p = part_at(pg, i);
		p->locked = 0;
		p->txn_next = -1;
		p->sp_next = -1;
	}
	pg->in_txn = 0;
	pg->sp = 0;
	pg->xid = 0;
	pg->staged = 0;
}

/* Sends one parameterised statement in the pipeline. */
int
send_params(struct pg *pg, const char *sql, int n, const char *const *v)
{
	return PQsendQueryParams(pg->conn, sql, n, NULL, v, NULL, NULL, 0);
}

/* Reads the answer of SQL_XID, sent in a pipeline: the id of the open
 * transaction, which resolves its COMMIT if that is lost. */
int
read_xid(struct pg *pg, char *errbuf, size_t errlen)
{
	PGresult *res;
	int st = KSINK_OK;

	res = next_result(pg);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
		pg->xid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	else
		st = result_error(pg, res, "pg_current_xact_id()", errbuf,
		    errlen);
	PQclear(res);
	return st;
}

/* ---------------------------------------------------------------- */
/* The batch                                                         */

static int
pg_begin(void *sink, char *errbuf, size_t errlen)
{
	struct pg *pg = sink;
	int st;

	if (pg->indoubt == 0) {
		if (pg->in_txn && pg->conn &&
		    PQstatus(pg->conn) == CONNECTION_OK)
			exec_simple(pg, "ROLLBACK", "ROLLBACK", errbuf,
			    errlen);
		txn_end(pg, 0);
		txn_reset(pg);
	}
	/* A COMMIT of unknown outcome is resolved first; whatever it was,
	 * the worker replays the batch, and the offsets read under lock
	 * skip what committed. */
	if ((st = ensure_conn(pg, errbuf, errlen)) != KSINK_OK)
		return st;
	txn_reset(pg);
	if ((st = exec_simple(pg, "BEGIN", "BEGIN", errbuf, errlen)) !=
	    KSINK_OK)
		return st == KSINK_POISON ? KSINK_FATAL : st;
	pg->in_txn = 1;
	return KSINK_OK;
}

static int
pg_write(void *sink, const struct ksink_record *records, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct pg *pg = sink;
	size_t bad, i;
	int st, st2;

	*n_done = 0;
	if (!pg->in_txn || pg->conn == NULL) {
		ks_err_set(errbuf, errlen, "write outside of a "
		    "transaction");
		return KSINK_RETRY;
	}
	if ((st = lock_parts(pg, records, count, errbuf, errlen)) !=
	    KSINK_OK)
		return st;
	if (!pg->sp) {
		if ((st = exec_simple(pg, "SAVEPOINT ksink_records",
		    "SAVEPOINT", errbuf, errlen)) != KSINK_OK)
			return st == KSINK_POISON ? KSINK_FATAL : st;
		pg->sp = 1;
	} else if ((st = exec_simple(pg, "RELEASE ksink_records; "
	    "SAVEPOINT ksink_records", "SAVEPOINT", errbuf, errlen)) !=
	    KSINK_OK)
		return st == KSINK_POISON ? KSINK_FATAL : st;
	for (i = 0; i < pg->parts.n; i++)
		part_at(pg, i)->sp_next = part_at(pg, i)->txn_next;

	if (pg->bt != NULL) {
		/* On a poison record, what is before it stays applied. */
		st = batch_apply(pg, records, count, &bad, errbuf, errlen);
		*n_done = st == KSINK_OK ? count : bad;
		return st;
	}
	st = (pg->map ? map_apply : apply_records)(pg, records, 0, count,
	    &bad, errbuf, errlen);
	if (st == KSINK_OK) {
		*n_done = count;
		return KSINK_OK;
	}
	if (st != KSINK_POISON) {
		*n_done = bad;
		return st;
	}
	/* Undo the batch back to the savepoint and apply again the records
	 * before the poison one: the transaction goes on. */
	if ((st2 = exec_simple(pg, "ROLLBACK TO SAVEPOINT ksink_records",
	    "ROLLBACK TO SAVEPOINT", NULL, 0)) != KSINK_OK) {
		ks_err_append(errbuf, errlen, "; ROLLBACK TO SAVEPOINT "
		    "failed");
		return st2 == KSINK_POISON ? KSINK_FATAL : st2;
	}
	/* What earlier write() calls of this transaction applied is before
	 * the savepoint and stays; a table or column this one made is
	 * gone. */
	map_rolled_back(pg);
	for (i = 0; i < pg->parts.n; i++)
		part_at(pg, i)->txn_next = part_at(pg, i)->sp_next;
	{
		char ebuf2[512];
		size_t bad2;

		st2 = (pg->map ? map_apply : apply_records)(pg, records, 0,
		    bad, &bad2, ebuf2, sizeof(ebuf2));
		if (st2 != KSINK_OK) {
			ks_err_set(errbuf, errlen, "%s", ebuf2);
			*n_done = bad2;
			return st2;
		}
	}
	*n_done = bad;
	return KSINK_POISON;
}

static int
pg_commit(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct pg *pg = sink;
	struct part **upd = NULL, *p;
	PGresult *res;
	const char *v[6];
	char part[16], next[24], epoch[24], expect[24];
	size_t i, n = 0;
	int st = KSINK_OK;

	if (!pg->in_txn || pg->conn == NULL ||
	    PQstatus(pg->conn) != CONNECTION_OK) {
		ks_err_set(errbuf, errlen, "the connection was lost during "
		    "the batch; it is applied again");
		return KSINK_RETRY;
	}
	if ((upd = calloc(count ? count : 1, sizeof(*upd))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	for (i = 0; i < count; i++) {
		if (offsets[i].next_offset < 0)
			continue;
		p = part_find(pg, offsets[i].topic, offsets[i].partition);
		/* Fenced, or never written in this transaction (nothing of
		 * it was applied): left as it is. */
		if (p == NULL || p->fenced || !p->locked)
			continue;
		if (offsets[i].next_offset <= p->e.next) {
			p->txn_next = -1;
			continue;
		}
		p->txn_next = offsets[i].next_offset;
		upd[n++] = p;
	}
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	if (pg->xid == 0 && send_params(pg, SQL_XID, 0, NULL) != 1)
		goto lost;
	v[0] = pg->connector;
	for (i = 0; i < n; i++) {
		p = upd[i];
		snprintf(part, sizeof(part), "%d", (int)p->e.partition);
		snprintf(next, sizeof(next), "%lld", (long long)p->txn_next);
		snprintf(epoch, sizeof(epoch), "%lld", (long long)p->epoch);
		snprintf(expect, sizeof(expect), "%lld", (long long)p->e.next);
		v[1] = p->e.topic;
		v[2] = part;
		v[3] = next;
		v[4] = epoch;
		v[5] = expect;
		if (send_params(pg, pg->sql.update, 6, v) != 1)
			goto lost;
	}
	if (PQpipelineSync(pg->conn) != 1)
		goto lost;
	if (pg->xid == 0)
		st = read_xid(pg, errbuf, errlen);
	for (i = 0; i < n; i++) {
		res = next_result(pg);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			if (st == KSINK_OK)
				st = result_error(pg, res, "storing the "
				    "offsets in postgres.offsets.table",
				    errbuf, errlen);
		} else if (strcmp(PQcmdTuples(res), "1") != 0) {
			/* Cannot happen while the row is locked: the
			 * transaction is rolled back and the batch replayed
			 * without the partition. */
			fence(pg, upd[i], -1, -1);
			if (st == KSINK_OK) {
				ks_err_set(errbuf, errlen, "fenced: "
				    "%s/%d was taken over by another worker; "
				    "the batch is applied again without it",
				    upd[i]->e.topic, (int)upd[i]->e.partition);
				st = KSINK_RETRY;
			}
		}
		PQclear(res);
	}
	drain_sync(pg);
	PQexitPipelineMode(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK)
		goto lost;
	if (st != KSINK_OK) {
		if (st == KSINK_POISON)
			st = KSINK_FATAL;
		goto out;
	}

	/* From here the outcome may be unknown: the transaction's id was
	 * read above, before COMMIT is sent. */
	res = PQexec(pg->conn, "COMMIT");
	if (PQresultStatus(res) == PGRES_COMMAND_OK &&
	    strcmp(PQcmdStatus(res), "COMMIT") == 0) {
		PQclear(res);
		txn_end(pg, 1);
		txn_reset(pg);
		goto out;
	}
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		PQclear(res);
		pg->indoubt = pg->xid;
		pg->host->log(pg->ctx, KSINK_LOG_WARN, "the connection was "
		    "lost after COMMIT of transaction %lld was sent; asking "
		    "the server whether it committed", (long long)pg->xid);
		disconnect(pg);
		st = ensure_conn(pg, errbuf, errlen);
		if (st == KSINK_OK && pg->resolved_committed)
			goto out;	/* it committed */
		if (pg->indoubt == 0) {
			ks_err_set(errbuf, errlen, "the COMMIT was lost "
			    "with the connection; the batch is applied "
			    "again");
			st = KSINK_RETRY;
		}
		/* Unknown yet: begin() resolves it before anything else. */
		goto out;
	}
	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		/* "ROLLBACK": the transaction had failed. */
		ks_err_set(errbuf, errlen, "the server rolled the batch's "
		    "transaction back; it is applied again");
		st = KSINK_RETRY;
	} else {
		st = result_error(pg, res, "COMMIT", errbuf, errlen);
		if (st == KSINK_POISON) {
			/* A deferred constraint: which record is unknown. */
			ks_err_append(errbuf, errlen, "; a deferred "
			    "constraint cannot be traced to one record: make "
			    "it immediate");
			st = KSINK_FATAL;
		}
	}
	PQclear(res);
	txn_end(pg, 0);
	txn_reset(pg);
	goto out;
lost:
	st = result_error(pg, NULL, "storing the offsets", errbuf, errlen);
	disconnect(pg);
	txn_end(pg, 0);
	txn_reset(pg);
out:
	free(upd);
	return st;
}

static void
pg_abort(void *sink)
{
	struct pg *pg = sink;
	char ebuf[256];

	if (pg == NULL || pg->indoubt != 0)
		return;
	if (pg->in_txn && pg->conn && PQstatus(pg->conn) == CONNECTION_OK) {
		if (PQpipelineStatus(pg->conn) != PQ_PIPELINE_OFF)
			PQexitPipelineMode(pg->conn);
		if (exec_simple(pg, "ROLLBACK", "ROLLBACK", ebuf,
		    sizeof(ebuf)) != KSINK_OK)
			disconnect(pg);
	}
	txn_end(pg, 0);
	txn_reset(pg);
}

static void
set_free(struct pset *set)
{
	int i;

	for (i = 0; i < set->n; i++)
		free(set->v[i].t.sql);
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

void
pg_close(void *sink)
{
	struct pg *pg = sink;
	size_t i;

	if (pg == NULL)
		return;
	if (pg->indoubt == 0)
		pg_abort(pg);
	disconnect(pg);
	copy_free(pg);
	batch_free(pg);
	map_close(pg);
	set_free(&pg->main);
	set_free(&pg->del);
	offsets_sql_free(pg);
	ks_offcache_free(&pg->parts);
	ks_buf_free(&pg->hdr);
	ks_buf_free(&pg->copy);
	for (i = 0; i < PG_F_COUNT; i++)
		ks_buf_free(&pg->pbuf[i]);
	if (pg->password) {
		explicit_bzero(pg->password, strlen(pg->password));
		free(pg->password);
	}
	if (pg->conninfo) {
		explicit_bzero(pg->conninfo, strlen(pg->conninfo));
		free(pg->conninfo);
	}
	free(pg->connector);
	free(pg->offtab);
	free(pg->init);
	free(pg);
}

static const struct ksink_sink postgres_sink = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 2,		/* the lowest with check */
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "postgres",
	.version = PACKAGE_VERSION,
	.description = "applies records to PostgreSQL with SQL statements, "
	    "exactly once, fencing zombie workers",
	.options = options,
	.open = pg_open,
	.load_offsets = pg_load_offsets,
	.begin = pg_begin,
	.write = pg_write,
	.commit = pg_commit,
	.abort = pg_abort,
	.close = pg_close,
	.reset_offsets = pg_reset_offsets,
	.check = pg_check,
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &postgres_sink;
}
