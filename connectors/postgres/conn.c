/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/conn.c - the PostgreSQL sink's connection: how a
 * server's error is classed by its SQLSTATE, connecting with the
 * password kept out of the INI, preparing the statements (and the COPY
 * path, copy.c) on each new connection, reading a pipeline's results, and
 * resolving a COMMIT whose answer was lost before anything else is done.
 * See ksink-postgres(7).
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
int
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

void
disconnect(struct pg *pg)
{
	if (pg->conn)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->prepared_for = NULL;
	map_disconnected(pg);
	pg->in_txn = 0;
	pg->sp = 0;
}

/* Runs one statement without parameters and checks its status. */
int
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

/* Collects the results of one pipelined statement (up to its NULL). */
PGresult *
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
void
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
int
ensure_conn(struct pg *pg, char *errbuf, size_t errlen)
{
	const char *kw[10], *val[10];
	char ctimeout[32], settings[160], *p;
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
		/* TCP keepalives, so that a link that died while the
		 * worker waits for an answer ends the call within about
		 * 25 s: before dbname, so that the conninfo overrides
		 * them (ksink-postgres(7), "Several hosts"). */
		kw[n] = "keepalives_idle"; val[n++] = "10";
		kw[n] = "keepalives_interval"; val[n++] = "5";
		kw[n] = "keepalives_count"; val[n++] = "3";
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
		/* idle_in_transaction_session_timeout ends the transaction
		 * of a worker that stopped (SIGSTOP, a hung host) and
		 * releases its row locks: the batch's statements are sent in
		 * pipelines whose Sync is on the wire with them (offsets.c,
		 * rows.c), so that the server sees a stalled worker idle. */
		snprintf(settings, sizeof(settings), "SET statement_timeout "
		    "= %lld; SET idle_in_transaction_session_timeout = %lld",
		    (long long)pg->stmt_ms, (long long)pg->idle_ms);
		if ((st = exec_simple(pg, settings, "session settings",
		    errbuf, errlen)) != KSINK_OK ||
		    (st = exec_simple(pg, "SET default_transaction_isolation "
		    "= 'read committed'", "session settings", errbuf,
		    errlen)) != KSINK_OK) {
			disconnect(pg);
			return st;
		}
	}
	if (pg->need_setup && (st = pg_setup(pg, errbuf, errlen)) !=
	    KSINK_OK) {
		if (st == KSINK_RETRY)
			disconnect(pg);
		return st;
	}
	if (pg->indoubt != 0 &&
	    (st = resolve_indoubt(pg, errbuf, errlen)) != KSINK_OK)
		return st;
	if (pg->prepared_for != (const char *)pg->conn) {
		if ((st = prepare_set(pg, &pg->main, errbuf, errlen)) !=
		    KSINK_OK || (st = prepare_set(pg, &pg->del, errbuf,
		    errlen)) != KSINK_OK || (pg->bt != NULL &&
		    (st = batch_setup(pg, errbuf, errlen)) != KSINK_OK) ||
		    (pg->map == NULL && pg->bt == NULL &&
		    (st = copy_setup(pg, errbuf, errlen)) != KSINK_OK)) {
			if (st == KSINK_RETRY)
				disconnect(pg);
			return st;
		}
		pg->prepared_for = (const char *)pg->conn;
	}
	return KSINK_OK;
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
	struct part *p = NULL;
	PGresult *res;
	const char *v[3];
	char part[16];
	int64_t next;
	size_t i;
	int r = -1;

	for (i = 0; i < pg->parts.n && p == NULL; i++)
		if (part_at(pg, i)->txn_next >= 0)
			p = part_at(pg, i);
	if (p == NULL)
		return 0;	/* nothing was applied: as if not committed */
	snprintf(part, sizeof(part), "%d", (int)p->e.partition);
	v[0] = pg->connector;
	v[1] = p->e.topic;
	v[2] = part;
	res = PQexecParams(pg->conn, pg->sql.lock, 3, NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		next = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		if (next == p->txn_next)
			r = 1;
		else if (next == p->e.next)
			r = 0;
	} else
		result_error(pg, res, "reading postgres.offsets.table", errbuf,
		    errlen);
	PQclear(res);
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
