/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/offsets.c - the PostgreSQL sink's offsets table:
 * its SQL, built once at open; the stored offsets read at assignment;
 * each batch's lock and claim of its partitions' rows, where the fence
 * is checked; and `ksink offsets --reset`.  See ksink-postgres(7).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "ksink/sink.h"
#include "../lib/buf.h"
#include "../lib/err.h"
#include "postgres.h"

static int
part_cmp(const void *a, const void *b)
{
	const struct part *const *x = a, *const *y = b;
	int c;

	if ((c = strcmp((*x)->e.topic, (*y)->e.topic)) != 0)
		return c;
	return (*x)->e.partition < (*y)->e.partition ? -1 :
	    (*x)->e.partition > (*y)->e.partition;
}

void
fence(struct pg *pg, struct part *p, int64_t epoch, int64_t next)
{
	p->fenced = 1;
	pg->fences++;
	/* In the metrics: ksink_sink_events_total{event="fenced"}. */
	if (KSINK_HOST_HAS(pg->host, count))
		pg->host->count(pg->ctx, "fenced", 1);
	pg->host->log(pg->ctx, KSINK_LOG_WARN, "fenced: %s/%d was taken over "
	    "by another worker (its epoch is %lld, this worker holds %lld; "
	    "stored next offset %lld, expected %lld); dropping this "
	    "worker's records of it until it is assigned again "
	    "(fences so far: %llu)", p->e.topic, (int)p->e.partition,
	    (long long)epoch, (long long)p->epoch, (long long)next,
	    (long long)p->e.next, (unsigned long long)pg->fences);
}

/* ---------------------------------------------------------------- */
/* The statements, built once                                        */

/* "<head><offsets table><tail>", or NULL when out of memory. */
static char *
sql_text(const char *head, const char *table, const char *tail)
{
	struct ks_buf b = { 0 };

	ks_buf_adds(&b, head);
	ks_buf_adds(&b, table);
	ks_buf_adds(&b, tail);
	ks_buf_addc(&b, '\0');
	if (b.oom) {
		ks_buf_free(&b);
		return NULL;
	}
	return b.p;
}

#define ROW "connector = $1 AND topic = $2 AND \"partition\" = $3::integer"

/*
 * The statements on the offsets table, which depend only on its name:
 * built at open, not for every batch.  Returns -1 when out of memory.
 */
int
offsets_sql(struct pg *pg)
{
	struct pg_sql *q = &pg->sql;
	const char *t = pg->offtab;

	q->create = sql_text("CREATE TABLE IF NOT EXISTS ", t, "(\n"
	    "  connector text NOT NULL,\n"
	    "  topic text NOT NULL,\n  \"partition\" integer NOT NULL,\n"
	    "  next_offset bigint NOT NULL,\n  epoch bigint NOT NULL,\n"
	    "  PRIMARY KEY(connector, topic, \"partition\"))");
	q->load = sql_text("SELECT next_offset, epoch FROM ", t,
	    " WHERE " ROW);
	q->lock = sql_text("SELECT next_offset, epoch FROM ", t,
	    " WHERE " ROW " FOR UPDATE");
	/* The claim: bumps the epoch, if it is still the one read at
	 * assignment, and reads the next offset; no row back means another
	 * worker claimed the partition since (a later assignment). */
	q->claim = sql_text("UPDATE ", t, " SET epoch = epoch + 1 WHERE "
	    ROW " AND epoch = $4::bigint RETURNING next_offset, epoch");
	q->insert = sql_text("INSERT INTO ", t, "(connector, topic, "
	    "\"partition\", next_offset, epoch) VALUES ($1, $2, $3::integer, "
	    "-1, 1) ON CONFLICT DO NOTHING RETURNING next_offset, epoch");
	q->update = sql_text("UPDATE ", t, " SET next_offset = $4::bigint "
	    "WHERE " ROW " AND epoch = $5::bigint AND next_offset = "
	    "$6::bigint");
	q->reset = sql_text("INSERT INTO ", t, " AS o(connector, topic, "
	    "\"partition\", next_offset, epoch) VALUES ($1, $2, $3::integer, "
	    "$4::bigint, 1) ON CONFLICT (connector, topic, \"partition\") DO "
	    "UPDATE SET next_offset = excluded.next_offset, "
	    "epoch = o.epoch + 1");
	snprintf(q->lock_timeout, sizeof(q->lock_timeout), "SET LOCAL "
	    "lock_timeout = %lld", (long long)pg->lock_ms);
	if (q->create == NULL || q->load == NULL || q->lock == NULL ||
	    q->claim == NULL || q->insert == NULL || q->update == NULL ||
	    q->reset == NULL)
		return -1;
	return 0;
}

void
offsets_sql_free(struct pg *pg)
{
	struct pg_sql *q = &pg->sql;

	free(q->create);
	free(q->load);
	free(q->lock);
	free(q->claim);
	free(q->insert);
	free(q->update);
	free(q->reset);
	memset(q, 0, sizeof(*q));
}

/* ---------------------------------------------------------------- */
/* Offsets table                                                     */

int
create_offsets(struct pg *pg, char *errbuf, size_t errlen)
{
	return exec_simple(pg, pg->sql.create, "creating "
	    "postgres.offsets.table", errbuf, errlen);
}

/*
 * Reads the stored next offsets, without changing anything: the epoch is
 * bumped (the partition claimed) in the first transaction that writes the
 * partition after this (see lock_parts()), so that `ksink offsets`, which
 * calls this too, never fences a running worker.
 */
int
pg_load_offsets(void *sink, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct pg *pg = sink;
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
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	v[0] = pg->connector;
	for (i = 0; i < count; i++) {
		snprintf(part, sizeof(part), "%d", (int)offsets[i].partition);
		v[1] = offsets[i].topic;
		v[2] = part;
		if (send_params(pg, pg->sql.load, 3, v) != 1)
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
	return st;
lost:
	st = result_error(pg, NULL, "reading postgres.offsets.table", errbuf,
	    errlen);
	disconnect(pg);
	return st;
}

/*
 * Locks, in (topic, partition) order, the offset rows of the partitions of
 * records[] not locked yet in this transaction, and checks the fence.
 */
int
lock_parts(struct pg *pg, const struct ksink_record *records, size_t count,
    char *errbuf, size_t errlen)
{
	struct part **order = NULL, *p;
	PGresult *res;
	const char *v[4];
	char part[16], lepoch[24];
	size_t i, n = 0;
	int64_t next, epoch;
	int st = KSINK_OK, st2, want_xid = pg->xid == 0;

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
	for (i = 0, n = 0; i < pg->parts.n; i++)
		if (part_at(pg, i)->locked == 2)
			order[n++] = part_at(pg, i);
	qsort(order, n, sizeof(*order), part_cmp);

	/*
	 * One pipeline, ended by a Sync whose answer is read before the
	 * records are sent: from the moment the rows are locked, the server
	 * sees the session "idle in transaction" whenever this worker may
	 * stall, so that idle_in_transaction_session_timeout ends the
	 * transaction of a worker that stopped (see conn.c).  The rows are
	 * waited for at most postgres.lock.timeout.ms: past it (55P03) the
	 * batch is retried with back-off instead of blocking the worker.
	 */
	if (PQenterPipelineMode(pg->conn) != 1)
		goto lost;
	if (n > 0 && pg->lock_ms > 0 && send_params(pg, pg->sql.lock_timeout,
	    0, NULL) != 1)
		goto lost;
	if (want_xid && send_params(pg, SQL_XID, 0, NULL) != 1)
		goto lost;
	v[0] = pg->connector;
	for (i = 0; i < n; i++) {
		p = order[i];
		snprintf(part, sizeof(part), "%d", (int)p->e.partition);
		snprintf(lepoch, sizeof(lepoch), "%lld",
		    (long long)p->load_epoch);
		v[1] = p->e.topic;
		v[2] = part;
		v[3] = lepoch;
		if (send_params(pg, p->epoch != 0 ? pg->sql.lock :
		    p->load_epoch > 0 ? pg->sql.claim : pg->sql.insert,
		    p->epoch == 0 && p->load_epoch > 0 ? 4 : 3, v) != 1)
			goto lost;
	}
	if (n > 0 && pg->lock_ms > 0 && send_params(pg, "SET LOCAL "
	    "lock_timeout TO DEFAULT", 0, NULL) != 1)
		goto lost;
	if (PQpipelineSync(pg->conn) != 1)
		goto lost;
	if (n > 0 && pg->lock_ms > 0) {
		res = next_result(pg);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			st = result_error(pg, res, "lock_timeout", errbuf,
			    errlen);
		PQclear(res);
	}
	if (want_xid && (st2 = read_xid(pg, st == KSINK_OK ? errbuf : NULL,
	    st == KSINK_OK ? errlen : 0)) != KSINK_OK && st == KSINK_OK)
		st = st2;
	for (i = 0; i < n; i++) {
		p = order[i];
		res = next_result(pg);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			if (st == KSINK_OK) {
				st = result_error(pg, res, "locking the rows "
				    "of postgres.offsets.table", errbuf,
				    errlen);
				if (strstr(errbuf, "SQLSTATE 55P03") != NULL)
					ks_err_append(errbuf, errlen, "; "
					    "another transaction held the "
					    "row of %s/%d for longer than "
					    "postgres.lock.timeout.ms (a "
					    "worker that lost the partition "
					    "and stopped in a batch, until "
					    "postgres.idle.timeout.ms ends "
					    "its transaction); retrying",
					    p->e.topic, (int)p->e.partition);
			}
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
			p->e.next = next;
			pg->host->log(pg->ctx, KSINK_LOG_INFO, "claimed %s/%d: "
			    "epoch %lld, next offset %lld", p->e.topic,
			    (int)p->e.partition, (long long)epoch,
			    (long long)next);
		} else if (epoch != p->epoch || next != p->e.next) {
			if (epoch == p->epoch)
				pg->host->log(pg->ctx, KSINK_LOG_ERROR, "%s/%d: "
				    "the stored next offset %lld is not the "
				    "%lld this worker wrote with epoch %lld; "
				    "was the offsets table changed by hand?",
				    p->e.topic, (int)p->e.partition,
				    (long long)next, (long long)p->e.next,
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
	for (i = 0; i < pg->parts.n; i++)
		if (part_at(pg, i)->locked == 2)
			part_at(pg, i)->locked = 0;
	free(order);
	return st;
}

/*
 * `ksink offsets --reset`, while no worker runs the connector: one
 * transaction replaces the stored next offsets and bumps their epochs,
 * so that a worker that still believes it owns a partition is fenced.
 */
int
pg_reset_offsets(void *sink, const struct ksink_offset *offsets,
    size_t count, char *errbuf, size_t errlen)
{
	struct pg *pg = sink;
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
		res = PQexecParams(pg->conn, pg->sql.reset, 4, NULL, v, NULL, NULL,
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
	return st == KSINK_POISON ? KSINK_FATAL : st;
}
