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
 * connection conn.c's, the records' statements rows.c's.
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
		    "postgres.statement.file is set, each record is inserted "
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
	{ .name = NULL }
};


/* ---------------------------------------------------------------- */
/* Partitions                                                        */

struct part *
part_find(struct pg *pg, const char *topic, int32_t partition)
{
	struct part *p;
	size_t i;

	if (pg->last < pg->nparts) {
		p = &pg->parts[pg->last];
		if (p->partition == partition && strcmp(p->topic, topic) == 0)
			return p;
	}
	for (i = 0; i < pg->nparts; i++) {
		p = &pg->parts[i];
		if (p->partition == partition && strcmp(p->topic, topic) == 0) {
			pg->last = i;
			return p;
		}
	}
	return NULL;
}

static struct part *
part_get(struct pg *pg, const char *topic, int32_t partition)
{
	struct part *p;

	if ((p = part_find(pg, topic, partition)) != NULL)
		return p;
	if ((p = realloc(pg->parts, (pg->nparts + 1) * sizeof(*p))) == NULL)
		return NULL;
	pg->parts = p;
	p = &pg->parts[pg->nparts];
	memset(p, 0, sizeof(*p));
	if ((p->topic = strdup(topic)) == NULL)
		return NULL;
	p->partition = partition;
	p->next = -1;
	p->txn_next = -1;
	pg->last = pg->nparts++;
	return p;
}

/* Forgets the open transaction; committed says whether it committed
 * (the claims it made hold) or not (they are undone). */
void
txn_end(struct pg *pg, int committed)
{
	struct part *p;
	size_t i;

	for (i = 0; i < pg->nparts; i++) {
		p = &pg->parts[i];
		if (committed && p->txn_next >= 0)
			p->next = p->txn_next;
		if (p->claiming && !committed)
			p->epoch = 0;
		p->claiming = 0;
	}
}

void
txn_reset(struct pg *pg)
{
	size_t i;

	for (i = 0; i < pg->nparts; i++) {
		pg->parts[i].locked = 0;
		pg->parts[i].txn_next = -1;
		pg->parts[i].sp_next = -1;
	}
	pg->in_txn = 0;
	pg->sp = 0;
	pg->xid = 0;
}

static int
part_cmp(const void *a, const void *b)
{
	const struct part *const *x = a, *const *y = b;
	int c;

	if ((c = strcmp((*x)->topic, (*y)->topic)) != 0)
		return c;
	return (*x)->partition < (*y)->partition ? -1 :
	    (*x)->partition > (*y)->partition;
}

void
fence(struct pg *pg, struct part *p, int64_t epoch, int64_t next)
{
	p->fenced = 1;
	pg->fences++;
	pg->host->log(pg->ctx, KSINK_LOG_WARN, "fenced: %s/%d was taken over "
	    "by another worker (its epoch is %lld, this worker holds %lld; "
	    "stored next offset %lld, expected %lld); dropping this "
	    "worker's records of it until it is assigned again "
	    "(fences so far: %llu)", p->topic, (int)p->partition,
	    (long long)epoch, (long long)p->epoch, (long long)next,
	    (long long)p->next, (unsigned long long)pg->fences);
}

/* ---------------------------------------------------------------- */
/* Offsets table                                                     */

int
create_offsets(struct pg *pg, char *errbuf, size_t errlen)
{
	struct ks_buf b = { 0 };
	int st;

	ks_buf_adds(&b, "CREATE TABLE IF NOT EXISTS ");
	ks_buf_adds(&b, pg->offtab);
	ks_buf_adds(&b, "(\n  connector text NOT NULL,\n"
	    "  topic text NOT NULL,\n  \"partition\" integer NOT NULL,\n"
	    "  next_offset bigint NOT NULL,\n  epoch bigint NOT NULL,\n"
	    "  PRIMARY KEY(connector, topic, \"partition\"))");
	ks_buf_addc(&b, '\0');
	st = b.oom ? KSINK_FATAL : exec_simple(pg, b.p,
	    "creating postgres.offsets.table", errbuf, errlen);
	ks_buf_free(&b);
	return st;
}

/* Sends one parameterised statement in the pipeline. */
static int
send_params(struct pg *pg, const char *sql, int n, const char *const *v)
{
	return PQsendQueryParams(pg->conn, sql, n, NULL, v, NULL, NULL, 0);
}

/*
 * Reads the stored next offsets, without changing anything: the epoch is
 * bumped (the partition claimed) in the first transaction that writes the
 * partition after this (see lock_parts()), so that `ksink offsets`, which
 * calls this too, never fences a running worker.
 */
static int
pg_load_offsets(void *sink, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct pg *pg = sink;
	struct ks_buf sql = { 0 };
	struct part *p;
	PGresult *res;
	const char *v[3];
	char part[16];
	size_t i;
	int st = KSINK_OK;

	if ((st = ensure_conn(pg, errbuf, errlen)) != KSINK_OK)
		return st;
	if (count == 0)
		return KSINK_OK;
	ks_buf_adds(&sql, "SELECT next_offset, epoch FROM ");
	ks_buf_adds(&sql, pg->offtab);
	ks_buf_adds(&sql, " WHERE connector = $1 AND topic = $2 AND "
	    "\"partition\" = $3::integer");
	ks_buf_addc(&sql, '\0');
	if (sql.oom) {
		ks_err_set(errbuf, errlen, "out of memory");
		ks_buf_free(&sql);
		return KSINK_FATAL;
	}
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	v[0] = pg->connector;
	for (i = 0; i < count; i++) {
		snprintf(part, sizeof(part), "%d", (int)offsets[i].partition);
		v[1] = offsets[i].topic;
		v[2] = part;
		if (send_params(pg, sql.p, 3, v) != 1)
			goto lost;
	}
	if (PQpipelineSync(pg->conn) != 1)
		goto lost;
	for (i = 0; i < count; i++) {
		res = next_result(pg);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			if (st == KSINK_OK) {
				st = result_error(pg, res, "reading "
				    "postgres.offsets.table", errbuf, errlen);
				if (st == KSINK_POISON)
					st = KSINK_FATAL;
			}
			PQclear(res);
			continue;
		}
		if ((p = part_get(pg, offsets[i].topic,
		    offsets[i].partition)) == NULL) {
			PQclear(res);
			st = KSINK_FATAL;
			ks_err_set(errbuf, errlen, "out of memory");
			continue;
		}
		offsets[i].next_offset = PQntuples(res) == 1 ?
		    strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
		if (offsets[i].next_offset < 0)
			offsets[i].next_offset = KSINK_OFFSET_NONE;
		/* Assigned (again): claimed by the next transaction, if no
		 * other worker claimed it since this reading. */
		p->load_epoch = PQntuples(res) == 1 ?
		    strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
		p->epoch = 0;
		p->fenced = 0;
		PQclear(res);
	}
	drain_sync(pg);
	PQexitPipelineMode(pg->conn);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		st = KSINK_RETRY;
		disconnect(pg);
	}
	ks_buf_free(&sql);
	return st;
lost:
	st = result_error(pg, NULL, "reading postgres.offsets.table", errbuf,
	    errlen);
	disconnect(pg);
	ks_buf_free(&sql);
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

/*
 * Locks, in (topic, partition) order, the offset rows of the partitions of
 * records[] not locked yet in this transaction, and checks the fence.
 */
static int
lock_parts(struct pg *pg, const struct ksink_record *records, size_t count,
    char *errbuf, size_t errlen)
{
	struct ks_buf sql = { 0 }, claim = { 0 }, create = { 0 };
	struct part **order = NULL, *p;
	PGresult *res;
	const char *v[4];
	char part[16], lepoch[24];
	size_t i, n = 0;
	int64_t next, epoch;
	int st = KSINK_OK, want_xid = pg->xid == 0;

	for (i = 0; i < count; i++) {
		if ((p = part_get(pg, records[i].topic,
		    records[i].partition)) == NULL)
			goto oom;
		if (!p->locked && !p->fenced) {
			p->locked = 2;	/* listed */
			n++;
		}
	}
	if (n == 0 && !want_xid)
		return KSINK_OK;
	if ((order = calloc(n ? n : 1, sizeof(*order))) == NULL)
		goto oom;
	for (i = 0, n = 0; i < pg->nparts; i++)
		if (pg->parts[i].locked == 2)
			order[n++] = &pg->parts[i];
	qsort(order, n, sizeof(*order), part_cmp);

	ks_buf_adds(&sql, "SELECT next_offset, epoch FROM ");
	ks_buf_adds(&sql, pg->offtab);
	ks_buf_adds(&sql, " WHERE connector = $1 AND topic = $2 AND "
	    "\"partition\" = $3::integer FOR UPDATE");
	ks_buf_addc(&sql, '\0');
	/* The claim: bumps the epoch, if it is still the one read at
	 * assignment, and reads the next offset; no row back means another
	 * worker claimed the partition since (a later assignment). */
	ks_buf_adds(&claim, "UPDATE ");
	ks_buf_adds(&claim, pg->offtab);
	ks_buf_adds(&claim, " SET epoch = epoch + 1 WHERE connector = $1 AND "
	    "topic = $2 AND \"partition\" = $3::integer AND "
	    "epoch = $4::bigint RETURNING next_offset, epoch");
	ks_buf_addc(&claim, '\0');
	ks_buf_adds(&create, "INSERT INTO ");
	ks_buf_adds(&create, pg->offtab);
	ks_buf_adds(&create, "(connector, topic, \"partition\", next_offset, "
	    "epoch) VALUES ($1, $2, $3::integer, -1, 1) ON CONFLICT DO "
	    "NOTHING RETURNING next_offset, epoch");
	ks_buf_addc(&create, '\0');
	if (sql.oom || claim.oom || create.oom)
		goto oom;
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	if (want_xid && PQsendQueryParams(pg->conn,
	    "SELECT pg_current_xact_id()::text", 0, NULL, NULL, NULL, NULL,
	    0) != 1)
		goto lost;
	v[0] = pg->connector;
	for (i = 0; i < n; i++) {
		p = order[i];
		snprintf(part, sizeof(part), "%d", (int)p->partition);
		snprintf(lepoch, sizeof(lepoch), "%lld",
		    (long long)p->load_epoch);
		v[1] = p->topic;
		v[2] = part;
		v[3] = lepoch;
		if (send_params(pg, p->epoch != 0 ? sql.p : p->load_epoch > 0 ?
		    claim.p : create.p, p->epoch == 0 && p->load_epoch > 0 ?
		    4 : 3, v) != 1)
			goto lost;
	}
	if (PQpipelineSync(pg->conn) != 1)
		goto lost;
	if (want_xid) {
		res = next_result(pg);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1)
			pg->xid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		else
			st = result_error(pg, res, "pg_current_xact_id()",
			    errbuf, errlen);
		PQclear(res);
	}
	for (i = 0; i < n; i++) {
		p = order[i];
		res = next_result(pg);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			if (st == KSINK_OK)
				st = result_error(pg, res, "reading "
				    "postgres.offsets.table", errbuf, errlen);
			PQclear(res);
			p->locked = 0;
			continue;
		}
		if (PQntuples(res) != 1) {
			/* The row is gone (ksink offsets --reset, or by
			 * hand): this worker does not own it any more. */
			next = epoch = -1;
		} else {
			next = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			epoch = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		}
		PQclear(res);
		p->locked = 1;
		if (p->epoch == 0 && next == -1 && epoch == -1) {
			/* Claimed by another worker since our assignment. */
			p->epoch = p->load_epoch;
			fence(pg, p, -1, -1);
		} else if (p->epoch == 0) {
			p->claiming = 1;
			p->epoch = epoch;
			p->next = next;
			pg->host->log(pg->ctx, KSINK_LOG_INFO, "claimed %s/%d: "
			    "epoch %lld, next offset %lld", p->topic,
			    (int)p->partition, (long long)epoch,
			    (long long)next);
		} else if (epoch != p->epoch || next != p->next) {
			if (epoch == p->epoch)
				pg->host->log(pg->ctx, KSINK_LOG_ERROR, "%s/%d: "
				    "the stored next offset %lld is not the "
				    "%lld this worker wrote with epoch %lld; "
				    "was the offsets table changed by hand?",
				    p->topic, (int)p->partition,
				    (long long)next, (long long)p->next,
				    (long long)epoch);
			fence(pg, p, epoch, next);
		}
	}
	drain_sync(pg);
	PQexitPipelineMode(pg->conn);
	if (st == KSINK_POISON)
		st = KSINK_FATAL;
	goto out;
oom:
	ks_err_set(errbuf, errlen, "out of memory");
	st = KSINK_FATAL;
	goto out;
lost:
	st = result_error(pg, NULL, "reading postgres.offsets.table", errbuf,
	    errlen);
	disconnect(pg);
out:
	for (i = 0; i < pg->nparts; i++)
		if (pg->parts[i].locked == 2)
			pg->parts[i].locked = 0;
	ks_buf_free(&sql);
	ks_buf_free(&claim);
	ks_buf_free(&create);
	free(order);
	return st;
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
	for (i = 0; i < pg->nparts; i++)
		pg->parts[i].sp_next = pg->parts[i].txn_next;

	st = apply_records(pg, records, 0, count, &bad, errbuf, errlen);
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
	 * the savepoint and stays. */
	for (i = 0; i < pg->nparts; i++)
		pg->parts[i].txn_next = pg->parts[i].sp_next;
	{
		char ebuf2[512];
		size_t bad2;

		st2 = apply_records(pg, records, 0, bad, &bad2, ebuf2,
		    sizeof(ebuf2));
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
	struct ks_buf sql = { 0 };
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
		if (offsets[i].next_offset <= p->next) {
			p->txn_next = -1;
			continue;
		}
		p->txn_next = offsets[i].next_offset;
		upd[n++] = p;
	}
	ks_buf_adds(&sql, "UPDATE ");
	ks_buf_adds(&sql, pg->offtab);
	ks_buf_adds(&sql, " SET next_offset = $4::bigint WHERE "
	    "connector = $1 AND topic = $2 AND \"partition\" = $3::integer "
	    "AND epoch = $5::bigint AND next_offset = $6::bigint");
	ks_buf_addc(&sql, '\0');
	if (sql.oom) {
		ks_err_set(errbuf, errlen, "out of memory");
		st = KSINK_FATAL;
		goto out;
	}
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	if (pg->xid == 0 && PQsendQueryParams(pg->conn,
	    "SELECT pg_current_xact_id()::text", 0, NULL, NULL, NULL, NULL,
	    0) != 1)
		goto lost;
	v[0] = pg->connector;
	for (i = 0; i < n; i++) {
		p = upd[i];
		snprintf(part, sizeof(part), "%d", (int)p->partition);
		snprintf(next, sizeof(next), "%lld", (long long)p->txn_next);
		snprintf(epoch, sizeof(epoch), "%lld", (long long)p->epoch);
		snprintf(expect, sizeof(expect), "%lld", (long long)p->next);
		v[1] = p->topic;
		v[2] = part;
		v[3] = next;
		v[4] = epoch;
		v[5] = expect;
		if (send_params(pg, sql.p, 6, v) != 1)
			goto lost;
	}
	if (PQpipelineSync(pg->conn) != 1)
		goto lost;
	if (pg->xid == 0) {
		res = next_result(pg);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1)
			pg->xid = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		else
			st = result_error(pg, res, "pg_current_xact_id()",
			    errbuf, errlen);
		PQclear(res);
	}
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
				    upd[i]->topic, (int)upd[i]->partition);
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
	ks_buf_free(&sql);
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
	set_free(&pg->main);
	set_free(&pg->del);
	for (i = 0; i < pg->nparts; i++)
		free(pg->parts[i].topic);
	free(pg->parts);
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

/*
 * `ksink offsets --reset`, while no worker runs the connector: one
 * transaction replaces the stored next offsets and bumps their epochs,
 * so that a worker that still believes it owns a partition is fenced.
 */
static int
pg_reset_offsets(void *sink, const struct ksink_offset *offsets,
    size_t count, char *errbuf, size_t errlen)
{
	struct pg *pg = sink;
	struct ks_buf sql = { 0 };
	PGresult *res;
	const char *v[4];
	char part[16], next[24];
	size_t i;
	int st;

	if (pg->in_txn) {
		ks_err_set(errbuf, errlen, "reset_offsets() while a batch "
		    "is open");
		return KSINK_FATAL;
	}
	if ((st = ensure_conn(pg, errbuf, errlen)) != KSINK_OK)
		return st;
	ks_buf_adds(&sql, "INSERT INTO ");
	ks_buf_adds(&sql, pg->offtab);
	ks_buf_adds(&sql, " AS o(connector, topic, \"partition\", "
	    "next_offset, epoch) VALUES ($1, $2, $3::integer, $4::bigint, 1) "
	    "ON CONFLICT (connector, topic, \"partition\") DO UPDATE "
	    "SET next_offset = excluded.next_offset, epoch = o.epoch + 1");
	ks_buf_addc(&sql, '\0');
	if (sql.oom) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	if ((st = exec_simple(pg, "BEGIN", "BEGIN", errbuf, errlen)) !=
	    KSINK_OK)
		goto out;
	v[0] = pg->connector;
	for (i = 0; i < count; i++) {
		if (offsets[i].next_offset < 0 &&
		    offsets[i].next_offset != KSINK_OFFSET_NONE) {
			ks_err_set(errbuf, errlen, "%s/%d: offset %lld is "
			    "neither >= 0 nor KSINK_OFFSET_NONE",
			    offsets[i].topic, (int)offsets[i].partition,
			    (long long)offsets[i].next_offset);
			st = KSINK_FATAL;
			break;
		}
		snprintf(part, sizeof(part), "%d", (int)offsets[i].partition);
		snprintf(next, sizeof(next), "%lld",
		    (long long)(offsets[i].next_offset < 0 ? -1 :
		    offsets[i].next_offset));
		v[1] = offsets[i].topic;
		v[2] = part;
		v[3] = next;
		res = PQexecParams(pg->conn, sql.p, 4, NULL, v, NULL, NULL,
		    0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			st = result_error(pg, res, "resetting the offsets in "
			    "postgres.offsets.table", errbuf, errlen);
			PQclear(res);
			if (st == KSINK_POISON)
				st = KSINK_FATAL;
			break;
		}
		PQclear(res);
	}
	if (st == KSINK_OK)
		st = exec_simple(pg, "COMMIT", "COMMIT", errbuf, errlen);
	else if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
		exec_simple(pg, "ROLLBACK", "ROLLBACK", NULL, 0);
	if (st == KSINK_OK)
		pg->host->log(pg->ctx, KSINK_LOG_INFO, "reset the offsets of "
		    "%zu partition%s", count, count == 1 ? "" : "s");
out:
	ks_buf_free(&sql);
	return st == KSINK_POISON ? KSINK_FATAL : st;
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
