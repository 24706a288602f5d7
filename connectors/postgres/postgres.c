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
 * ksink-postgres(7).
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
#include "stmt.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

#define SQL_FILE_MAX (1024 * 1024)
/* Records per pipeline sync: bounds what is in flight in either
 * direction, so that neither side blocks on a full socket buffer. */
#define PIPE_CHUNK 1000
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

/* What ksink knows of one partition, across batches. */
struct part {
	char *topic;
	int32_t partition;
	int64_t epoch;		/* the epoch this worker holds; 0: none */
	int64_t next;		/* the stored next offset (-1: none) */
	int fenced;		/* another worker took it over */
	/* this transaction */
	int locked;		/* row read FOR UPDATE in this transaction */
	int64_t txn_next;	/* what the COMMIT stores (-1: unchanged) */
	int64_t sp_next;	/* txn_next when the savepoint was set */
	int claiming;		/* claimed in this transaction */
	int64_t load_epoch;	/* the epoch read at assignment; 0: no row */
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
	char *init;

	struct pset main, del;

	struct part *parts;
	size_t nparts;
	size_t last;		/* cache of the last partition looked up */

	int in_txn;		/* BEGIN sent */
	int sp;			/* the records' savepoint is set */
	int64_t xid;		/* of the open transaction, 0 if unknown */
	int64_t indoubt;	/* xid of a COMMIT of unknown outcome */
	int resolved_committed;	/* how the last one was resolved */
	uint64_t fences;

	struct ks_buf hdr;
	struct ks_buf copy;	/* COPY data of a batch */
	int use_copy;		/* the default table: COPY, not INSERTs */
	struct ks_buf pbuf[PG_F_COUNT];
	const char *prepared_for; /* the connection statements are prepared on */
};

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
		    "is sent in one pipeline.  When neither this option nor "
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

static const char default_table[] =
    "CREATE TABLE IF NOT EXISTS ksink_records(\n"
    "  topic text NOT NULL,\n"
    "  \"partition\" integer NOT NULL,\n"
    "  \"offset\" bigint NOT NULL,\n"
    "  \"timestamp\" timestamptz,\n"
    "  key bytea,\n"
    "  value bytea,\n"
    "  headers jsonb,\n"
    "  PRIMARY KEY(topic, \"partition\", \"offset\"))";

static const char default_statement[] =
    "INSERT INTO ksink_records(topic, \"partition\", \"offset\", "
    "\"timestamp\", key, value, headers) VALUES (:topic, :partition, "
    ":offset, :timestamp, :key, :value, :headers)";

/* ---------------------------------------------------------------- */
/* Errors                                                            */

/*
 * How a failed statement is reported to the worker, by SQLSTATE (see the
 * table in ksink-postgres(7)).  A NULL state is a lost connection.
 */
static int
classify_state(const char *st)
{
	if (st == NULL || strlen(st) != 5)
		return KSINK_RETRY;
	if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
	    strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 ||
	    strcmp(st, "57P01") == 0 || strcmp(st, "57P02") == 0 ||
	    strcmp(st, "57P03") == 0 || strcmp(st, "55P03") == 0 ||
	    strcmp(st, "57014") == 0 || strcmp(st, "25006") == 0 ||
	    strcmp(st, "23503") == 0)
		return KSINK_RETRY;
	if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0 ||
	    strcmp(st, "54000") == 0 || strcmp(st, "P0001") == 0)
		return KSINK_POISON;
	if (strncmp(st, "28", 2) == 0 || strcmp(st, "3D000") == 0 ||
	    strcmp(st, "3F000") == 0 || strncmp(st, "42", 2) == 0 ||
	    strcmp(st, "0A000") == 0)
		return KSINK_CONFIG;
	return KSINK_FATAL;
}

/* The server's message of a failed result, one line, into errbuf. */
static int
result_error(struct pg *pg, const PGresult *res, const char *what,
    char *errbuf, size_t errlen)
{
	const char *st = NULL, *msg = NULL, *detail = NULL, *hint = NULL;
	char *p;
	int status;

	if (res != NULL) {
		st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
		hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	}
	if (msg == NULL)
		msg = pg->conn ? PQerrorMessage(pg->conn) : "no connection";
	if (st == NULL && pg->conn && PQstatus(pg->conn) == CONNECTION_OK &&
	    res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR)
		st = "XX000";
	status = (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) ?
	    KSINK_RETRY : classify_state(st);
	ks_err_set(errbuf, errlen, "%s: %s%s%s%s%s%s%s", what, msg,
	    st ? " (SQLSTATE " : " (connection lost", st ? st : "",
	    ")", detail ? "; " : "", detail ? detail : "",
	    hint ? "; hint: " : "");
	if (hint)
		ks_err_append(errbuf, errlen, "%s", hint);
	if (st && strcmp(st, "25006") == 0)
		ks_err_append(errbuf, errlen, "; connected to a standby: "
		    "add target_session_attrs=read-write to "
		    "postgres.conninfo and list every host");
	/* One line. */
	for (p = errbuf; p && *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return status;
}

/* ---------------------------------------------------------------- */
/* Connection                                                        */

static int
read_password(struct pg *pg, char *errbuf, size_t errlen)
{
	const char *path;
	char line[1024];
	FILE *fp;
	size_t n;

	path = pg->host->conf_str(pg->ctx, "postgres.password.file");
	if (path == NULL)
		return KSINK_OK;
	if ((fp = fopen(path, "r")) == NULL) {
		ks_err_set(errbuf, errlen, "postgres.password.file %s: %s",
		    path, strerror(errno));
		return KSINK_CONFIG;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n == 0) {
		ks_err_set(errbuf, errlen, "postgres.password.file %s: the "
		    "first line is empty: write the password there", path);
		return KSINK_CONFIG;
	}
	if (pg->password) {
		explicit_bzero(pg->password, strlen(pg->password));
		free(pg->password);
	}
	pg->password = strdup(line);
	explicit_bzero(line, sizeof(line));
	if (pg->password == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

static void
disconnect(struct pg *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->prepared_for = NULL;
	pg->in_txn = 0;
	pg->sp = 0;
}

/* Runs one statement without parameters and checks its status. */
static int
exec_simple(struct pg *pg, const char *sql, const char *what, char *errbuf,
    size_t errlen)
{
	PGresult *res;
	int st;

	res = PQexec(pg->conn, sql);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return KSINK_OK;
	}
	st = result_error(pg, res, what, errbuf, errlen);
	PQclear(res);
	return st;
}

/* Prepares the statements of a set on the current connection and learns
 * the types the server inferred for their parameters. */
static int
prepare_set(struct pg *pg, struct pset *set, char *errbuf, size_t errlen)
{
	struct pstmt *s;
	PGresult *res;
	char what[96];
	int i, j, st;

	for (i = 0; i < set->n; i++) {
		s = &set->v[i];
		snprintf(what, sizeof(what), "%s%s%d", set->option,
		    set->n > 1 ? ", statement " : "", set->n > 1 ? i + 1 : 0);
		if (set->n == 1)
			what[strlen(set->option)] = '\0';
		res = PQprepare(pg->conn, s->name, s->t.sql, 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			st = result_error(pg, res, what, errbuf, errlen);
			PQclear(res);
			return st == KSINK_POISON ? KSINK_CONFIG : st;
		}
		PQclear(res);
		res = PQdescribePrepared(pg->conn, s->name);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			st = result_error(pg, res, what, errbuf, errlen);
			PQclear(res);
			return st;
		}
		for (j = 0; j < s->t.nparams && j < PQnparams(res); j++)
			s->types[j] = PQparamtype(res, j);
		PQclear(res);
	}
	return KSINK_OK;
}

static int resolve_indoubt(struct pg *, char *, size_t);

/* The server's notices and warnings go to ksink's log, not to stderr. */
static void
notice(void *arg, const PGresult *res)
{
	struct pg *pg = arg;
	const char *sev, *msg;
	size_t n;

	sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (msg == NULL)
		return;
	n = strcspn(msg, "\n");
	pg->host->log(pg->ctx, sev && strcmp(sev, "WARNING") == 0 ?
	    KSINK_LOG_WARN : KSINK_LOG_DEBUG, "server %s: %.*s",
	    sev ? sev : "NOTICE", (int)n, msg);
}

/*
 * Makes sure there is a working connection with the statements prepared
 * and no COMMIT of unknown outcome left.  A server that cannot be reached
 * is RETRY.
 */
static int
ensure_conn(struct pg *pg, char *errbuf, size_t errlen)
{
	const char *kw[6], *val[6];
	char ctimeout[32], stimeout[64], *p;
	int n = 0, st;

	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK &&
	    PQtransactionStatus(pg->conn) != PQTRANS_UNKNOWN &&
	    pg->indoubt == 0 && pg->prepared_for == (const char *)pg->conn)
		return KSINK_OK;
	if (pg->conn && PQstatus(pg->conn) != CONNECTION_OK)
		disconnect(pg);
	if (pg->conn == NULL) {
		if ((st = read_password(pg, errbuf, errlen)) != KSINK_OK)
			return st;
		snprintf(ctimeout, sizeof(ctimeout), "%lld",
		    (long long)((pg->connect_ms + 999) / 1000));
		kw[n] = "fallback_application_name"; val[n++] = "ksink";
		kw[n] = "dbname"; val[n++] = pg->conninfo ? pg->conninfo : "";
		kw[n] = "connect_timeout"; val[n++] = ctimeout;
		if (pg->password) {
			kw[n] = "password"; val[n++] = pg->password;
		}
		kw[n] = NULL; val[n] = NULL;
		pg->conn = PQconnectdbParams(kw, val, pg->conninfo ? 1 : 0);
		if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) {
			ks_err_set(errbuf, errlen, "cannot connect to "
			    "PostgreSQL: %s", pg->conn ?
			    PQerrorMessage(pg->conn) : "out of memory");
			for (p = errbuf; *p; p++)
				if (*p == '\n')
					*p = ' ';
			/* An authentication failure or a missing database is
			 * the configuration; anything else may pass. */
			st = KSINK_RETRY;
			if (pg->conn && (strstr(PQerrorMessage(pg->conn),
			    "authentication failed") ||
			    strstr(PQerrorMessage(pg->conn),
			    "does not exist")))
				st = KSINK_CONFIG;
			disconnect(pg);
			return st;
		}
		PQsetNoticeReceiver(pg->conn, notice, pg);
		snprintf(stimeout, sizeof(stimeout),
		    "SET statement_timeout = %lld", (long long)pg->stmt_ms);
		if ((st = exec_simple(pg, stimeout, "statement_timeout",
		    errbuf, errlen)) != KSINK_OK ||
		    (st = exec_simple(pg, "SET default_transaction_isolation "
		    "= 'read committed'; SET idle_in_transaction_session_timeout = 15000", "session settings",
		    errbuf, errlen)) != KSINK_OK) {
			disconnect(pg);
			return st;
		}
	}
	if (pg->indoubt != 0 &&
	    (st = resolve_indoubt(pg, errbuf, errlen)) != KSINK_OK)
		return st;
	if (pg->prepared_for != (const char *)pg->conn &&
	    (pg->prepared_for == NULL || *pg->prepared_for != '\0')) {
		if ((st = prepare_set(pg, &pg->main, errbuf, errlen)) !=
		    KSINK_OK || (st = prepare_set(pg, &pg->del, errbuf,
		    errlen)) != KSINK_OK) {
			if (st == KSINK_RETRY)
				disconnect(pg);
			return st;
		}
		pg->prepared_for = (const char *)pg->conn;
	}
	return KSINK_OK;
}

/* ---------------------------------------------------------------- */
/* Partitions                                                        */

static struct part *
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
static void
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

static void
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

static void
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

static int
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

/* Collects the results of one pipelined statement (up to its NULL). */
static PGresult *
next_result(struct pg *pg)
{
	PGresult *res, *extra;

	res = PQgetResult(pg->conn);
	if (res == NULL)
		return NULL;
	/* The NULL that ends this statement's results. */
	if (PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		while ((extra = PQgetResult(pg->conn)) != NULL)
			PQclear(extra);
	return res;
}

/* Reads results up to and including the pipeline's sync. */
static void
drain_sync(struct pg *pg)
{
	PGresult *res;
	int guard = 0;

	while ((res = PQgetResult(pg->conn)) != NULL || guard++ < 2) {
		if (res == NULL)
			continue;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			return;
		}
		PQclear(res);
		guard = 0;
		if (PQstatus(pg->conn) != CONNECTION_OK)
			return;
	}
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
/* The in-doubt COMMIT                                               */

/*
 * The connection was lost after COMMIT was sent: the transaction pg->indoubt
 * may have committed or not.  Asks the server on a new connection; the
 * offsets of the batch (txn_next) become the stored ones when it did.
 */
/*
 * When the server no longer knows the transaction (pg_xact_status() is
 * NULL for a transaction id too old), its offset rows tell: the rows of
 * the batch hold its new next offsets if and only if it committed.
 * Returns 1, 0, or -1 when they do not tell (the row moved on: another
 * worker took the partition over).
 */
static int
resolve_by_offsets(struct pg *pg, char *errbuf, size_t errlen)
{
	struct ks_buf sql = { 0 };
	struct part *p = NULL;
	PGresult *res;
	const char *v[3];
	char part[16];
	int64_t next;
	size_t i;
	int r = -1;

	for (i = 0; i < pg->nparts && p == NULL; i++)
		if (pg->parts[i].txn_next >= 0)
			p = &pg->parts[i];
	if (p == NULL)
		return 0;	/* nothing was applied: as if not committed */
	ks_buf_adds(&sql, "SELECT next_offset FROM ");
	ks_buf_adds(&sql, pg->offtab);
	ks_buf_adds(&sql, " WHERE connector = $1 AND topic = $2 AND "
	    "\"partition\" = $3::integer FOR UPDATE");
	ks_buf_addc(&sql, '\0');
	if (sql.oom)
		return -1;
	snprintf(part, sizeof(part), "%d", (int)p->partition);
	v[0] = pg->connector;
	v[1] = p->topic;
	v[2] = part;
	res = PQexecParams(pg->conn, sql.p, 3, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		next = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		if (next == p->txn_next)
			r = 1;
		else if (next == p->next)
			r = 0;
	} else
		result_error(pg, res, "reading postgres.offsets.table", errbuf,
		    errlen);
	PQclear(res);
	ks_buf_free(&sql);
	return r;
}

static int
resolve_indoubt(struct pg *pg, char *errbuf, size_t errlen)
{
	PGresult *res;
	char xid[32], *status = NULL;
	const char *v[1];
	size_t i;
	int tries, committed = -1;

	snprintf(xid, sizeof(xid), "%lld", (long long)pg->indoubt);
	v[0] = xid;
#ifdef KSINK_PG_TEST_HOOKS
	/* The test build can skip the resolution to show that the tests
	 * notice: the batch is then taken as not committed. */
	if (getenv("KSINK_PG_SKIP_INDOUBT_RESOLUTION") != NULL) {
		pg->host->log(pg->ctx, KSINK_LOG_WARN, "in-doubt COMMIT of "
		    "transaction %s: resolution skipped (test hook)", xid);
		committed = 0;
		goto done;
	}
#endif
	/* A backend still committing reports "in progress": wait it out. */
	for (tries = 0; tries < 300; tries++) {
		res = PQexecParams(pg->conn, "SELECT pg_xact_status($1::xid8)",
		    1, NULL, v, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    PQntuples(res) != 1) {
			int st = result_error(pg, res, "resolving an in-doubt "
			    "COMMIT with pg_xact_status()", errbuf, errlen);

			PQclear(res);
			if (st == KSINK_RETRY)
				disconnect(pg);
			return st == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
		}
		free(status);
		status = PQgetisnull(res, 0, 0) ? NULL :
		    strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (status == NULL || strcmp(status, "in progress") != 0)
			break;
		usleep(100 * 1000);
	}
	if (status != NULL && strcmp(status, "committed") == 0)
		committed = 1;
	else if (status != NULL && strcmp(status, "aborted") == 0)
		committed = 0;
	else if (status == NULL)
		committed = resolve_by_offsets(pg, errbuf, errlen);
	if (committed == -1) {
		free(status);
		ks_err_set(errbuf, errlen, "the outcome of the COMMIT of "
		    "transaction %s is still unknown; retrying", xid);
		return KSINK_RETRY;
	}
	free(status);
#ifdef KSINK_PG_TEST_HOOKS
done:
#endif
	pg->host->log(pg->ctx, KSINK_LOG_WARN, "the connection was lost "
	    "after COMMIT of transaction %s was sent; the server says it %s",
	    xid, committed ? "committed: the batch is not applied again" :
	    "did not commit: the batch is applied again");
	(void)i;
	txn_end(pg, committed);
	txn_reset(pg);
	pg->indoubt = 0;
	pg->resolved_committed = committed;
	return KSINK_OK;
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

/* Formats milliseconds since the epoch as a timestamptz literal. */
static void
fmt_timestamp(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	int frac = (int)(ms - (int64_t)t * 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, frac);
}

/* What the records of one write() send, for the poison messages. */
struct sent {
	size_t rec;	/* index in records[] */
	int stmt;	/* index in its set */
};

/* A text parameter: NUL-terminated copy of n bytes in buffer b. */
static const char *
text_copy(struct ks_buf *b, const void *d, size_t n)
{
	ks_buf_reset(b);
	ks_buf_add(b, d, n);
	ks_buf_addc(b, '\0');
	return b->oom ? NULL : b->p;
}

/*
 * Sends the statements of one record.  Returns 1, 0 when the record's
 * data cannot be sent as its parameters' types (a poison record; errbuf
 * says why), -1 when the connection failed.
 */
static int
send_record(struct pg *pg, struct pset *set, int i,
    const struct ksink_record *r, char *errbuf, size_t errlen)
{
	struct pstmt *s = &set->v[i];
	const char *v[PG_F_COUNT];
	int len[PG_F_COUNT], fmt[PG_F_COUNT], j, f;
	char part[16], off[24], ts[48];
	const void *d;
	size_t n;
	Oid t;

	for (j = 0; j < s->t.nparams; j++) {
		f = s->t.field[j];
		t = s->types[j];
		v[j] = NULL;
		len[j] = 0;
		fmt[j] = 0;
		switch (f) {
		case PG_F_TOPIC:
			v[j] = r->topic;
			break;
		case PG_F_PARTITION:
			snprintf(part, sizeof(part), "%d", (int)r->partition);
			v[j] = part;
			break;
		case PG_F_OFFSET:
			snprintf(off, sizeof(off), "%lld",
			    (long long)r->offset);
			v[j] = off;
			break;
		case PG_F_TIMESTAMP:
			if (r->timestamp < 0)
				break;
			if (t == OID_TIMESTAMPTZ || t == OID_TIMESTAMP)
				fmt_timestamp(r->timestamp, ts, sizeof(ts));
			else
				snprintf(ts, sizeof(ts), "%lld",
				    (long long)r->timestamp);
			v[j] = ts;
			break;
		case PG_F_KEY:
		case PG_F_VALUE:
		case PG_F_HEADERS:
			if (f == PG_F_HEADERS) {
				if (r->header_count == 0)
					break;
				ks_buf_reset(&pg->hdr);
				ks_envelope_add_headers(&pg->hdr, r);
				if (pg->hdr.oom)
					return -1;
				d = pg->hdr.p;
				n = pg->hdr.len;
			} else {
				d = f == PG_F_KEY ? r->key : r->value;
				n = f == PG_F_KEY ? r->key_len : r->value_len;
				if (d == NULL)
					break;
			}
			if (n > INT32_MAX) {
				ks_err_set(errbuf, errlen, "the %s is "
				    "larger than 2 GiB", pg_field_names[f]);
				return 0;
			}
			if (t == OID_BYTEA || t == OID_TEXT ||
			    t == OID_VARCHAR) {
				/* The binary form of these is the bytes. */
				if (t != OID_BYTEA && f != PG_F_HEADERS &&
				    !ks_utf8_check(d, n, 0))
					goto not_text;
				fmt[j] = 1;
				v[j] = n ? d : "";
				len[j] = (int)n;
				break;
			}
			if (f != PG_F_HEADERS && !ks_utf8_check(d, n, 0))
				goto not_text;
			if ((v[j] = text_copy(&pg->pbuf[f], d, n)) == NULL)
				return -1;
			break;
		}
	}
	return PQsendQueryPrepared(pg->conn, s->name, s->t.nparams, v, len,
	    fmt, 0) == 1 ? 1 : -1;
not_text:
	ks_err_set(errbuf, errlen, "%s: the %s is not valid UTF-8 text "
	    "(or holds a NUL byte), and :%s is not a bytea parameter%s",
	    set->option, pg_field_names[f], pg_field_names[f],
	    set->n > 1 ? " in every statement" : "");
	return 0;
}

/*
 * Runs the statements of records[from, to) in pipelined chunks.  Returns
 * KSINK_OK, or the failure with *bad set to the index of the record that
 * failed (a poison record, or the one whose statement hit another error).
 */
static int
run_records(struct pg *pg, const struct ksink_record *records, size_t from,
    size_t to, size_t *bad, char *errbuf, size_t errlen)
{
	const struct ksink_record *r;
	struct sent *sent = NULL;
	struct pset *set;
	struct part *p;
	PGresult *res;
	size_t i, k, nsent, cap = 0;
	int j, rs, st = KSINK_OK;

	*bad = from;
	i = from;
	while (i < to && st == KSINK_OK) {
		if (PQenterPipelineMode(pg->conn) != 1)
			goto lost;
		nsent = 0;
		for (; i < to && nsent < PIPE_CHUNK; i++) {
			r = &records[i];
			p = part_find(pg, r->topic, r->partition);
			/* The fence, and records below the stored offset. */
			if (p == NULL || p->fenced || !p->locked ||
			    r->offset < p->next ||
			    (p->txn_next >= 0 && r->offset < p->txn_next))
				continue;
			set = (r->value == NULL && pg->del.n > 0) ? &pg->del :
			    &pg->main;
			for (j = 0; j < set->n; j++) {
				if (nsent == cap) {
					struct sent *ns;

					cap = cap ? cap * 2 : 256;
					if ((ns = realloc(sent, cap *
					    sizeof(*ns))) == NULL) {
						ks_err_set(errbuf, errlen,
						    "out of memory");
						st = KSINK_FATAL;
						goto flush;
					}
					sent = ns;
				}
				rs = send_record(pg, set, j, r, errbuf,
				    errlen);
				if (rs == -1)
					goto lost;
				if (rs == 0) {
					*bad = i;
					st = KSINK_POISON;
					goto flush;
				}
				sent[nsent].rec = i;
				sent[nsent].stmt = j;
				nsent++;
			}
			p->txn_next = r->offset + 1;
		}
flush:
		if (PQpipelineSync(pg->conn) != 1)
			goto lost;
		for (k = 0; k < nsent; k++) {
			res = next_result(pg);
			rs = PQresultStatus(res);
			if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK &&
			    st == KSINK_OK) {
				char what[128];

				r = &records[sent[k].rec];
				set = (r->value == NULL && pg->del.n > 0) ?
				    &pg->del : &pg->main;
				if (set->n > 1)
					snprintf(what, sizeof(what), "%s, "
					    "statement %d", set->option,
					    sent[k].stmt + 1);
				else
					snprintf(what, sizeof(what), "%s",
					    set->option);
				st = result_error(pg, res, what, errbuf,
				    errlen);
				*bad = sent[k].rec;
			}
			PQclear(res);
			if (res == NULL)
				break;
		}
		drain_sync(pg);
		PQexitPipelineMode(pg->conn);
		if (PQstatus(pg->conn) != CONNECTION_OK)
			goto lost;
	}
	free(sent);
	return st;
lost:
	free(sent);
	st = result_error(pg, NULL, "sending the batch", errbuf, errlen);
	disconnect(pg);
	return KSINK_RETRY;
}

/* Appends n bytes as a field of COPY's text format. */
static void
copy_text(struct ks_buf *b, const unsigned char *d, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (d[i] != '\\' && d[i] != '\n' && d[i] != '\r' &&
		    d[i] != '\t')
			continue;
		ks_buf_add(b, d + run, i - run);
		ks_buf_addc(b, '\\');
		ks_buf_addc(b, d[i] == '\n' ? 'n' : d[i] == '\r' ? 'r' :
		    d[i] == '\t' ? 't' : '\\');
		run = i + 1;
	}
	ks_buf_add(b, d + run, n - run);
}

/* Appends n bytes as a bytea field of COPY's text format: \\x and hex. */
static void
copy_bytea(struct ks_buf *b, const unsigned char *d, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	char *o;

	ks_buf_add(b, "\\\\x", 3);
	if (ks_buf_reserve(b, 2 * n) == -1)
		return;
	o = b->p + b->len;
	for (i = 0; i < n; i++) {
		*o++ = hex[d[i] >> 4];
		*o++ = hex[d[i] & 15];
	}
	b->len += 2 * n;
	b->p[b->len] = '\0';
}

/*
 * The default table's fast path: records[from, to) in one COPY ... FROM
 * STDIN.  A record that fails is found by the line number in the server's
 * CONTEXT ("COPY ksink_records, line N").  Returns as run_records().
 */
static int
copy_records(struct pg *pg, const struct ksink_record *records, size_t from,
    size_t to, size_t *bad, char *errbuf, size_t errlen)
{
	const struct ksink_record *r;
	struct ks_buf *b = &pg->copy;
	struct part *p;
	PGresult *res, *extra;
	size_t i, nlines = 0, *line = NULL, cap = 0, line_no, off;
	const char *ctx;
	char num[64];
	int st = KSINK_OK, rs;

	*bad = from;
	ks_buf_reset(b);
	for (i = from; i < to; i++) {
		r = &records[i];
		p = part_find(pg, r->topic, r->partition);
		if (p == NULL || p->fenced || !p->locked ||
		    r->offset < p->next ||
		    (p->txn_next >= 0 && r->offset < p->txn_next))
			continue;
		if (nlines == cap) {
			size_t *nl;

			cap = cap ? cap * 2 : 1024;
			if ((nl = realloc(line, cap * sizeof(*nl))) == NULL)
				goto oom;
			line = nl;
		}
		line[nlines++] = i;
		copy_text(b, (const unsigned char *)r->topic,
		    strlen(r->topic));
		snprintf(num, sizeof(num), "\t%d\t%lld\t", (int)r->partition,
		    (long long)r->offset);
		ks_buf_adds(b, num);
		if (r->timestamp < 0)
			ks_buf_adds(b, "\\N");
		else {
			fmt_timestamp(r->timestamp, num, sizeof(num));
			ks_buf_adds(b, num);
		}
		ks_buf_addc(b, '\t');
		if (r->key == NULL)
			ks_buf_adds(b, "\\N");
		else
			copy_bytea(b, r->key, r->key_len);
		ks_buf_addc(b, '\t');
		if (r->value == NULL)
			ks_buf_adds(b, "\\N");
		else
			copy_bytea(b, r->value, r->value_len);
		ks_buf_addc(b, '\t');
		if (r->header_count == 0)
			ks_buf_adds(b, "\\N");
		else {
			ks_buf_reset(&pg->hdr);
			ks_envelope_add_headers(&pg->hdr, r);
			if (pg->hdr.oom)
				goto oom;
			copy_text(b, (const unsigned char *)pg->hdr.p,
			    pg->hdr.len);
		}
		ks_buf_addc(b, '\n');
		if (b->oom)
			goto oom;
		p->txn_next = r->offset + 1;
	}
	if (nlines == 0) {
		free(line);
		return KSINK_OK;
	}
	res = PQexec(pg->conn, "COPY ksink_records(topic, \"partition\", "
	    "\"offset\", \"timestamp\", key, value, headers) FROM STDIN");
	if (PQresultStatus(res) != PGRES_COPY_IN) {
		st = result_error(pg, res, "COPY into ksink_records", errbuf,
		    errlen);
		PQclear(res);
		free(line);
		if (pg->conn && PQstatus(pg->conn) != CONNECTION_OK)
			disconnect(pg);
		return st == KSINK_POISON ? KSINK_FATAL : st;
	}
	PQclear(res);
	for (off = 0; off < b->len && st == KSINK_OK; off += 1 << 20) {
		size_t n = b->len - off < (1 << 20) ? b->len - off : 1 << 20;

		if (PQputCopyData(pg->conn, b->p + off, (int)n) != 1)
			st = KSINK_RETRY;
	}
	if (st != KSINK_OK || PQputCopyEnd(pg->conn, NULL) != 1) {
		free(line);
		st = result_error(pg, NULL, "COPY into ksink_records", errbuf,
		    errlen);
		disconnect(pg);
		return KSINK_RETRY;
	}
	res = PQgetResult(pg->conn);
	rs = PQresultStatus(res);
	if (rs != PGRES_COMMAND_OK) {
		st = result_error(pg, res, "COPY into ksink_records", errbuf,
		    errlen);
		ctx = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
		*bad = line[0];
		if (ctx && (ctx = strstr(ctx, ", line ")) != NULL &&
		    (line_no = strtoul(ctx + 7, NULL, 10)) >= 1 &&
		    line_no <= nlines)
			*bad = line[line_no - 1];
		else if (st == KSINK_POISON) {
			ks_err_append(errbuf, errlen, "; the failing line "
			    "is unknown");
			st = KSINK_FATAL;
		}
	}
	PQclear(res);
	while ((extra = PQgetResult(pg->conn)) != NULL)
		PQclear(extra);
	free(line);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		disconnect(pg);
		return KSINK_RETRY;
	}
	return st;
oom:
	free(line);
	ks_err_set(errbuf, errlen, "out of memory");
	return KSINK_FATAL;
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

	st = (pg->use_copy ? copy_records : run_records)(pg, records, 0,
	    count, &bad, errbuf, errlen);
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

		st2 = (pg->use_copy ? copy_records : run_records)(pg, records,
		    0, bad, &bad2, ebuf2,
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

static void
pg_close(void *sink)
{
	struct pg *pg = sink;
	size_t i;

	if (pg == NULL)
		return;
	if (pg->indoubt == 0)
		pg_abort(pg);
	disconnect(pg);
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

/* ---------------------------------------------------------------- */
/* Options                                                           */

/*
 * The text of an SQL option: its value, or the content of its .file
 * variant (read only when read_file).  *sql is NULL when neither is set;
 * free *buf.
 */
static int
sql_option(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *name, int read_file, const char **sql, char **buf,
    const char **used, char *errbuf, size_t errlen)
{
	char fname[64];
	const char *text, *path;
	FILE *fp;
	size_t n;
	char *p;

	*sql = NULL;
	*buf = NULL;
	snprintf(fname, sizeof(fname), "%s.file", name);
	text = host->conf_str(ctx, name);
	path = host->conf_str(ctx, fname);
	*used = path ? (name == NULL ? "" : fname) : name;
	if (text && path) {
		ks_err_set(errbuf, errlen, "%s and %s are both set: keep "
		    "one", name, fname);
		return KSINK_CONFIG;
	}
	if (path == NULL || !read_file) {
		*sql = text;
		return KSINK_OK;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		ks_err_set(errbuf, errlen, "%s %s: %s", fname, path,
		    strerror(errno));
		return KSINK_CONFIG;
	}
	if ((p = malloc(SQL_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	n = fread(p, 1, SQL_FILE_MAX + 1, fp);
	if (ferror(fp) || n > SQL_FILE_MAX) {
		ks_err_set(errbuf, errlen, "%s %s: %s", fname, path,
		    ferror(fp) ? strerror(errno) : "larger than 1 MiB");
		fclose(fp);
		free(p);
		return KSINK_CONFIG;
	}
	fclose(fp);
	p[n] = '\0';
	*sql = *buf = p;
	return KSINK_OK;
}

/* Whether a libpq host is this machine: a loopback address, localhost,
 * or a Unix-domain socket directory. */
static int
loopback(const char *h, size_t n)
{
	if (n == 0 || h[0] == '/' || h[0] == '@')
		return 1;
	if ((n == 9 && strncasecmp(h, "localhost", 9) == 0) ||
	    (n == 3 && strncmp(h, "::1", 3) == 0) ||
	    (n == 5 && strncmp(h, "[::1]", 5) == 0) ||
	    (n >= 4 && strncmp(h, "127.", 4) == 0))
		return 1;
	return 0;
}

/* Whether libpq may quote s (n bytes) in a message about a conninfo: a
 * keyword of libpq, or punctuation such as "=". */
static int
quotable(const char *s, size_t n)
{
	PQconninfoOption *d, *o;
	size_t i;
	int ok = 1;

	for (i = 0; i < n; i++)
		if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
		    s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'))
			ok = 0;
	if (ok)
		return 1;
	if ((d = PQconndefaults()) == NULL)
		return 0;
	for (o = d; o->keyword; o++)
		if (strlen(o->keyword) == n && strncmp(o->keyword, s, n) == 0)
			ok = 1;
	PQconninfoFree(d);
	return ok;
}

/* Hides what libpq quoted from the conninfo in its message, but for
 * keywords and punctuation: it may be a piece of a password. */
static void
redact(char *msg)
{
	static const char hidden[] = "(hidden)";
	char *p, *q;
	size_t n;

	for (p = msg; (p = strchr(p, '"')) != NULL; ) {
		if ((q = strchr(p + 1, '"')) == NULL) {
			*p = '\0';
			break;
		}
		n = (size_t)(q - p - 1);
		if (!quotable(p + 1, n)) {
			if (n >= sizeof(hidden) - 1) {
				memcpy(p + 1, hidden, sizeof(hidden) - 1);
				memmove(p + sizeof(hidden), q, strlen(q) + 1);
				q = p + sizeof(hidden);
			} else {
				memmove(p + 1, q, strlen(q) + 1);
				q = p + 1;
			}
		}
		p = q + 1;
	}
	for (p = msg; *p; p++)
		if (*p == '\n')
			*p = *(p + 1) ? ' ' : '\0';
}

/*
 * The checks of ksink -t that span options: reported with host->report().
 * Side-effect free: no file read, no connection.
 */
static int
pg_check(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	static const char *const sqlopts[] = {
		"postgres.statement", "postgres.delete.statement",
		"postgres.init", NULL
	};
	PQconninfoOption *opts, *o;
	struct pg_stmt_list l;
	const char *conninfo, *sql, *used, *hosts = NULL, *addrs = NULL;
	const char *sslmode = NULL, *h, *e;
	char *err = NULL, *buf, ebuf[512];
	int bad = 0, i, remote = 0;

	for (i = 0; sqlopts[i]; i++) {
		if (sql_option(host, ctx, sqlopts[i], 0, &sql, &buf, &used,
		    ebuf, sizeof(ebuf)) != KSINK_OK) {
			host->report(ctx, sqlopts[i], "%s", ebuf);
			bad = 1;
			continue;
		}
		/* postgres.init is plain SQL, run as it is. */
		if (sql == NULL || strcmp(sqlopts[i], "postgres.init") == 0)
			continue;
		if (pg_stmt_parse(sql, &l, ebuf, sizeof(ebuf)) == -1) {
			host->report(ctx, sqlopts[i], "%s", ebuf);
			bad = 1;
		} else
			pg_stmt_free(&l);
	}
	if ((sql = host->conf_str(ctx, "postgres.offsets.table")) != NULL &&
	    !pg_stmt_valid_table(sql)) {
		host->report(ctx, "postgres.offsets.table", "not a table name: "
		    "use an identifier, optionally schema-qualified "
		    "(ops.ksink_offsets)");
		bad = 1;
	}

	conninfo = host->conf_str(ctx, "postgres.conninfo");
	if (conninfo != NULL) {
		if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
			if (err)
				redact(err);
			host->report(ctx, "postgres.conninfo", "not a valid "
			    "libpq connection string or URI%s%s; the value "
			    "is not shown as it may hold a password",
			    err ? ": " : "", err ? err : "");
			PQfreemem(err);
			return KSINK_CONFIG;
		}
		for (o = opts; o->keyword; o++) {
			if (o->val == NULL)
				continue;
			if (strcmp(o->keyword, "host") == 0)
				hosts = o->val;
			else if (strcmp(o->keyword, "hostaddr") == 0)
				addrs = o->val;
			else if (strcmp(o->keyword, "sslmode") == 0)
				sslmode = o->val;
		}
		for (i = 0; i < 2; i++) {
			h = i == 0 ? hosts : addrs;
			while (h && *h) {
				e = h + strcspn(h, ",");
				if (!loopback(h, (size_t)(e - h)))
					remote = 1;
				h = *e ? e + 1 : e;
			}
		}
		if (hosts == NULL && addrs == NULL && getenv("PGHOST") &&
		    !loopback(getenv("PGHOST"), strlen(getenv("PGHOST"))))
			remote = 1;
		if (sslmode == NULL)
			sslmode = getenv("PGSSLMODE");
		if (remote && (sslmode == NULL ||
		    strcmp(sslmode, "verify-full") != 0))
			host->log(ctx, KSINK_LOG_WARN, "postgres.conninfo names "
			    "a host that is not a loopback address without "
			    "sslmode=verify-full: the connection %s; add "
			    "sslmode=verify-full and sslrootcert",
			    sslmode && strcmp(sslmode, "verify-ca") == 0 ?
			    "does not check the server's name" :
			    "may be neither encrypted nor authenticated");
		PQconninfoFree(opts);
	}
	return bad ? KSINK_CONFIG : KSINK_OK;
}

static int
load_set(struct pg *pg, struct pset *set, const char *option,
    const char *sql, const char *prefix, char *errbuf, size_t errlen)
{
	struct pg_stmt_list l;
	char ebuf[512];
	int i;

	set->option = option;
	if (pg_stmt_parse(sql, &l, ebuf, sizeof(ebuf)) == -1) {
		ks_err_set(errbuf, errlen, "%s: %s", option, ebuf);
		return KSINK_CONFIG;
	}
	if ((set->v = calloc((size_t)l.n, sizeof(*set->v))) == NULL) {
		pg_stmt_free(&l);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	for (i = 0; i < l.n; i++) {
		set->v[i].t = l.v[i];
		snprintf(set->v[i].name, sizeof(set->v[i].name), "ksink_%s%d",
		    prefix, i);
	}
	set->n = l.n;
	free(l.v);
	return KSINK_OK;
}

static int
pg_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sink,
    char *errbuf, size_t errlen)
{
	struct pg *pg;
	char *init_buf = NULL, *stmt_buf = NULL, *del_buf = NULL;
	const char *init, *stmt, *del, *s, *u_init, *u_stmt, *u_del;
	int st;

	*sink = NULL;
	if (!KSINK_HOST_HAS(host, connector_name)) {
		ks_err_set(errbuf, errlen, "the daemon's host table is too "
		    "old for the postgres sink");
		return KSINK_FATAL;
	}
	if ((pg = calloc(1, sizeof(*pg))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	pg->host = host;
	pg->ctx = ctx;
	s = host->connector_name(ctx);
	pg->connector = strdup(s ? s : "");
	s = host->conf_str(ctx, "postgres.offsets.table");
	pg->offtab = strdup(s ? s : "ksink_offsets");
	if ((s = host->conf_str(ctx, "postgres.conninfo")) != NULL)
		pg->conninfo = strdup(s);
	if (pg->connector == NULL || pg->offtab == NULL ||
	    (s != NULL && pg->conninfo == NULL)) {
		ks_err_set(errbuf, errlen, "out of memory");
		st = KSINK_FATAL;
		goto fail;
	}
	if (!pg_stmt_valid_table(pg->offtab)) {
		ks_err_set(errbuf, errlen, "postgres.offsets.table: not a "
		    "table name");
		st = KSINK_CONFIG;
		goto fail;
	}
	pg->connect_ms = host->conf_int(ctx, "postgres.connect.timeout.ms");
	pg->stmt_ms = host->conf_int(ctx, "postgres.statement.timeout.ms");

	if ((st = sql_option(host, ctx, "postgres.init", 1, &init, &init_buf,
	    &u_init, errbuf, errlen)) != KSINK_OK ||
	    (st = sql_option(host, ctx, "postgres.statement", 1, &stmt,
	    &stmt_buf, &u_stmt, errbuf, errlen)) != KSINK_OK ||
	    (st = sql_option(host, ctx, "postgres.delete.statement", 1, &del,
	    &del_buf, &u_del, errbuf, errlen)) != KSINK_OK)
		goto fail;
	if ((st = load_set(pg, &pg->main, u_stmt, stmt ? stmt :
	    default_statement, "s", errbuf, errlen)) != KSINK_OK)
		goto fail;
	if (del && (st = load_set(pg, &pg->del, u_del, del, "d", errbuf,
	    errlen)) != KSINK_OK)
		goto fail;
	/* The default table, tombstones included: COPY. */
	pg->use_copy = stmt == NULL && del == NULL;

	/* Connect, run postgres.init, create the tables; the statements are
	 * prepared by ensure_conn() on every new connection. */
	pg->prepared_for = "";	/* not before the tables exist */
	if ((st = ensure_conn(pg, errbuf, errlen)) != KSINK_OK &&
	    pg->conn == NULL)
		goto fail;
	if (init && (st = exec_simple(pg, init, u_init, errbuf, errlen)) !=
	    KSINK_OK)
		goto sqlfail;
	if ((st = create_offsets(pg, errbuf, errlen)) != KSINK_OK)
		goto sqlfail;
	if (stmt == NULL && (st = exec_simple(pg, default_table,
	    "creating ksink_records", errbuf, errlen)) != KSINK_OK)
		goto sqlfail;
	pg->prepared_for = NULL;
	if ((st = ensure_conn(pg, errbuf, errlen)) != KSINK_OK)
		goto fail;
	free(init_buf);
	free(stmt_buf);
	free(del_buf);
	*sink = pg;
	return KSINK_OK;
sqlfail:
	if (st == KSINK_POISON)
		st = KSINK_CONFIG;
fail:
	/* A server that is not there yet is fatal at start: the daemon's
	 * restart policy (systemd) retries. */
	if (st == KSINK_RETRY)
		st = KSINK_FATAL;
	free(init_buf);
	free(stmt_buf);
	free(del_buf);
	pg_close(pg);
	return st;
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
