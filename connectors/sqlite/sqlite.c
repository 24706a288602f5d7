/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/sqlite/sqlite.c - the SQLite sink.
 *
 * One batch is one SQLite transaction:
 *
 *	BEGIN IMMEDIATE
 *	  for each record: skip it when its offset is below the next offset
 *	  stored in ksink_offsets for its partition (the zombie fence), else
 *	  run the user's statements with the record bound to named parameters
 *	upsert ksink_offsets(connector, topic, partition, next_offset)
 *	COMMIT
 *
 * The effects and the offsets commit together or not at all, so a record
 * takes effect exactly once whatever crashes or which other worker also
 * believes it owns the partition.  See ksink-sqlite(7).  The statements
 * themselves are sql.c's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sqlite3.h>

#include "ksink/sink.h"

#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/envelope.h"
#include "../lib/err.h"
#include "../lib/offcache.h"
#include "../lib/sqloffsets.h"
#include "../lib/sqltext.h"
#include "../lib/utf8.h"
#include "sqlite.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* check() gives up running sqlite.init on its scratch database after
 * about this many virtual machine instructions (in units of 1000). */
#define CHECK_INIT_STEPS 100000

static const char default_table[] =
    "CREATE TABLE IF NOT EXISTS ksink_records(\n"
    "  \"topic\" TEXT NOT NULL,\n"
    "  \"partition\" INTEGER NOT NULL,\n"
    "  \"offset\" INTEGER NOT NULL,\n"
    "  \"timestamp\" INTEGER,\n"
    "  \"key\" BLOB,\n"
    "  \"value\" BLOB,\n"
    "  \"headers\" TEXT,\n"
    "  PRIMARY KEY(\"topic\", \"partition\", \"offset\"))";

static const char default_statement[] =
    "INSERT INTO ksink_records(\"topic\", \"partition\", \"offset\", "
    "\"timestamp\", \"key\", \"value\", \"headers\") "
    "VALUES (:topic, :partition, :offset, :timestamp, :key, :value, "
    ":headers)";

static const char mapping_conflict[] = "is set together with options of "
    "the table mapping (ksink-mapping(7)), which writes rows without SQL: "
    "keep one or the other";

static const struct ksink_option options[] = {
	{
		.name = "sqlite.path",
		.type = KSINK_OPT_PATH,
		.flags = KSINK_OPT_REQUIRED,
		.doc = "The SQLite database file.  It is created when missing "
		    "and switched to write-ahead logging (WAL) mode; the "
		    "directory must be writable because SQLite keeps the "
		    "-wal and -shm files beside it.  The table ksink_offsets "
		    "in this database holds the next offset of every "
		    "partition the connector applied.",
	},
	{
		.name = "sqlite.statement",
		.type = KSINK_OPT_STRING,
		.doc = "The SQL run for every record, inside the batch's "
		    "transaction.  Several statements separated by ';' run "
		    "in order.  Named parameters :topic, :partition, "
		    ":offset, :timestamp, :key, :value and :headers (also "
		    "written @name or $name) are bound to the record; any "
		    "other parameter is an error.  When neither this option "
		    "nor sqlite.statement.file is set, the table mapping "
		    "applies when one of its options is set "
		    "(ksink-mapping(7)); otherwise each record is inserted "
		    "into the table ksink_records, created when missing.",
	},
	{
		.name = "sqlite.statement.file",
		.type = KSINK_OPT_PATH,
		.doc = "Reads sqlite.statement from this file instead.  "
		    "Setting both is an error.",
	},
	{
		.name = "sqlite.delete.statement",
		.type = KSINK_OPT_STRING,
		.doc = "The SQL run instead of sqlite.statement for a "
		    "tombstone, a record whose value is null.  It takes the "
		    "same parameters.  When unset, tombstones go through "
		    "sqlite.statement with :value bound to NULL.",
	},
	{
		.name = "sqlite.delete.statement.file",
		.type = KSINK_OPT_PATH,
		.doc = "Reads sqlite.delete.statement from this file instead.  "
		    "Setting both is an error.",
	},
	{
		.name = "sqlite.init",
		.type = KSINK_OPT_STRING,
		.doc = "SQL run once when the connector starts, before the "
		    "statements are prepared, typically CREATE TABLE IF NOT "
		    "EXISTS and CREATE INDEX IF NOT EXISTS for the tables "
		    "the statements write.  It is not part of any batch.",
	},
	{
		.name = "sqlite.init.file",
		.type = KSINK_OPT_PATH,
		.doc = "Reads sqlite.init from this file instead.  Setting "
		    "both is an error.",
	},
	{
		.name = "sqlite.synchronous",
		.type = KSINK_OPT_ENUM,
		.def = "full",
		.values = "full|normal",
		.doc = "SQLite's synchronous setting.  With full, every "
		    "committed batch survives a power loss.  With normal, "
		    "the last batches committed before a power loss may be "
		    "lost, effects and offsets together, and are applied "
		    "again from Kafka: still exactly once, and faster.",
	},
	{
		.name = "sqlite.busy.timeout.ms",
		.type = KSINK_OPT_INT,
		.def = "5000",
		.min = 0,
		.max = 600000,
		.doc = "How long to wait for a lock held by another connection "
		    "to the same database before the batch is retried, and at "
		    "start while other connections set up a new database.",
	},
	KS_MAPPING_OPTIONS("sqlite"),
	{ .name = NULL }
};

/* The fence entry of a record's partition, read once per transaction. */
struct ks_offcache_entry *
fence_get(struct sink *sq, const struct ksink_record *r, int *rcp)
{
	struct ks_offcache_entry *f;
	int64_t next;

	if ((f = ks_offcache_find(&sq->fence, r->topic, r->partition)) !=
	    NULL)
		return f;
	if ((*rcp = ks_sqloffsets_get(&sq->offsets, r->topic, r->partition,
	    &next)) != SQLITE_OK)
		return NULL;
	if ((f = ks_offcache_add(&sq->fence, r->topic, r->partition, next)) ==
	    NULL)
		*rcp = SQLITE_NOMEM;
	return f;
}

static int
sqlite_begin(void *sink, char *errbuf, size_t errlen)
{
	struct sink *sq = sink;
	int rc;

	ks_offcache_clear(&sq->fence);
	map_forget(sq);
	if (!sqlite3_get_autocommit(sq->db))
		sql_step_once(sq->rollback);
	if ((rc = sql_step_once(sq->begin)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "BEGIN IMMEDIATE on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
	}
	return KSINK_OK;
}

static int
sqlite_write(void *sink, const struct ksink_record *records, size_t count,
    size_t *n_done, char *errbuf, size_t errlen)
{
	struct sink *sq = sink;
	const struct ksink_record *r;
	struct stmt_set *set;
	struct ks_offcache_entry *f;
	size_t i;
	int rc, status;

	*n_done = 0;
	if (sqlite3_get_autocommit(sq->db)) {
		ks_err_set(errbuf, errlen, "write outside of a transaction");
		return KSINK_FATAL;
	}
	if (sq->map != NULL)
		return map_write(sq, records, count, n_done, errbuf, errlen);
	for (i = 0; i < count; i++) {
		r = &records[i];
		if ((f = fence_get(sq, r, &rc)) == NULL) {
			*n_done = i;
			ks_err_set(errbuf, errlen, "reading ksink_offsets: %s",
			    rc == SQLITE_NOMEM ? "out of memory" :
			    sqlite3_errmsg(sq->db));
			return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
		/* The zombie fence: already applied by this or another
		 * worker. */
		if (r->offset < f->next)
			continue;
		set = (r->value == NULL && sq->del.n > 0) ? &sq->del :
		    &sq->main;
		if ((status = sql_run_set(sq, set, r, errbuf, errlen)) !=
		    KSINK_OK) {
			*n_done = i;
			return status;
		}
		f->next = r->offset + 1;
	}
	*n_done = count;
	return KSINK_OK;
}

static int
sqlite_commit(void *sink, const struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *sq = sink;
	size_t i;
	int rc;

	if (sqlite3_get_autocommit(sq->db)) {
		/* SQLite rolled the transaction back on its own (an I/O
		 * error, out of memory): replaying the batch is safe. */
		ks_err_set(errbuf, errlen, "the transaction on %s was rolled "
		    "back; the batch is replayed", sq->path);
		return KSINK_RETRY;
	}
	for (i = 0; i < count; i++) {
		if (offsets[i].next_offset < 0)
			continue;
		if ((rc = ks_sqloffsets_advance(&sq->offsets,
		    offsets[i].topic, offsets[i].partition,
		    offsets[i].next_offset)) != SQLITE_OK) {
			ks_err_set(errbuf, errlen, "storing offsets in %s: %s",
			    sq->path, sqlite3_errmsg(sq->db));
			return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
	}
	if ((rc = sql_step_once(sq->commit)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "COMMIT on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
	}
	return KSINK_OK;
}

static void
sqlite_abort(void *sink)
{
	struct sink *sq = sink;
	sqlite3_stmt *st = NULL;
	int rc;

	/* A CREATE or ALTER of the mapping may be undone. */
	map_forget(sq);
	if (sq->db == NULL || sqlite3_get_autocommit(sq->db))
		return;
	while ((st = sqlite3_next_stmt(sq->db, st)) != NULL)
		sqlite3_reset(st);
	if ((rc = sql_step_once(sq->rollback)) != SQLITE_OK &&
	    sqlite3_get_autocommit(sq->db) == 0)
		sq->host->log(sq->ctx, KSINK_LOG_WARN, "ROLLBACK on %s: %s",
		    sq->path, sqlite3_errmsg(sq->db));
}

static int
sqlite_load_offsets(void *sink, struct ksink_offset *offsets, size_t count,
    char *errbuf, size_t errlen)
{
	struct sink *sq = sink;
	size_t i;
	int rc;

	for (i = 0; i < count; i++) {
		if ((rc = ks_sqloffsets_get(&sq->offsets, offsets[i].topic,
		    offsets[i].partition, &offsets[i].next_offset)) !=
		    SQLITE_OK) {
			ks_err_set(errbuf, errlen, "reading ksink_offsets from "
			    "%s: %s", sq->path, sqlite3_errmsg(sq->db));
			return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
	}
	return KSINK_OK;
}

/*
 * `ksink offsets --reset`, while no worker runs the connector: one
 * transaction replaces the stored next offsets, lowering them if need be
 * (commit() never does), and deletes the rows of forgotten partitions so
 * that auto.offset.reset applies to them again.  The effects already
 * applied stay: resetting backwards applies those records again.
 */
static int
sqlite_reset_offsets(void *sink, const struct ksink_offset *offsets,
    size_t count, char *errbuf, size_t errlen)
{
	struct sink *sq = sink;
	size_t i;
	int rc;

	if (!sqlite3_get_autocommit(sq->db)) {
		ks_err_set(errbuf, errlen, "reset_offsets() while a batch is open");
		return KSINK_FATAL;
	}
	for (i = 0; i < count; i++)
		if (offsets[i].next_offset < 0 &&
		    offsets[i].next_offset != KSINK_OFFSET_NONE) {
			ks_err_set(errbuf, errlen, "%s/%d: offset %lld is neither "
			    ">= 0 nor KSINK_OFFSET_NONE", offsets[i].topic,
			    (int)offsets[i].partition,
			    (long long)offsets[i].next_offset);
			return KSINK_FATAL;
		}
	ks_offcache_clear(&sq->fence);
	if ((rc = sql_step_once(sq->begin)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "BEGIN IMMEDIATE on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
	}
	for (i = 0; i < count; i++) {
		if ((rc = ks_sqloffsets_set(&sq->offsets, offsets[i].topic,
		    offsets[i].partition, offsets[i].next_offset)) !=
		    SQLITE_OK) {
			ks_err_set(errbuf, errlen, "resetting the offset of %s/%d "
			    "in %s: %s", offsets[i].topic,
			    (int)offsets[i].partition, sq->path,
			    sqlite3_errmsg(sq->db));
			sqlite_abort(sq);
			return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
	}
	if ((rc = sql_step_once(sq->commit)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "COMMIT on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		sqlite_abort(sq);
		return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
	}
	sq->host->log(sq->ctx, KSINK_LOG_INFO, "reset the offsets of %zu "
	    "partition%s in %s", count, count == 1 ? "" : "s", sq->path);
	return KSINK_OK;
}

/* Closes the database and everything prepared on it; sq stays, ready for
 * another sq_open_db(). */
static void
sq_close_db(struct sink *sq)
{
	sqlite3_stmt *st;
	int rc;

	if (sq->db == NULL)
		return;
	sqlite_abort(sq);
	sql_set_free(&sq->main);
	sql_set_free(&sq->del);
	map_close(sq);
	/* The internal statements, and any left by a failed open. */
	while ((st = sqlite3_next_stmt(sq->db, NULL)) != NULL)
		sqlite3_finalize(st);
	if ((rc = sqlite3_close(sq->db)) != SQLITE_OK)
		sq->host->log(sq->ctx, KSINK_LOG_WARN, "closing %s: %s",
		    sq->path, sqlite3_errstr(rc));
	sq->db = NULL;
	sq->begin = sq->commit = sq->rollback = NULL;
	sq->sp = sq->sp_release = sq->sp_rollback = NULL;
	memset(&sq->offsets, 0, sizeof(sq->offsets));
	ks_offcache_clear(&sq->fence);
}

static void
sqlite_close(void *sink)
{
	struct sink *sq = sink;

	if (sq == NULL)
		return;
	sq_close_db(sq);
	/* The statements of sq->offsets were finalized with the others. */
	ks_offcache_free(&sq->fence);
	ks_buf_free(&sq->json);
	free(sq->path);
	free(sq->connector);
	free(sq);
}

static int
prepare_internal(struct sink *sq, sqlite3_stmt **st, const char *sql,
    char *errbuf, size_t errlen)
{
	int rc;

	if ((rc = sqlite3_prepare_v3(sq->db, sql, -1,
	    SQLITE_PREPARE_PERSISTENT, st, NULL)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

/* Runs SQL at open (on db, the database at path): a statement that does
 * not compile or fails is a configuration error, a failing database is
 * fatal. */
static int
exec_open(sqlite3 *db, const char *path, const char *what, const char *sql,
    char *errbuf, size_t errlen)
{
	int rc;

	if ((rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s on %s: %s", what, path,
		    sqlite3_errmsg(db));
		return (rc & 0xff) == SQLITE_ERROR ? KSINK_CONFIG :
		    KSINK_FATAL;
	}
	return KSINK_OK;
}

static int
sq_open_db(struct sink *sq, char *errbuf, size_t errlen)
{
	char *init_buf = NULL, *stmt_buf = NULL, *del_buf = NULL, msg[512];
	const char *init, *stmt, *del, *sync, *mode;
	sqlite3_stmt *st;
	int status, rc;

	if ((status = ks_sqltext_option(sq->host, sq->ctx, "sqlite.init", 1,
	    &init, &init_buf, NULL, errbuf, errlen)) != KSINK_OK ||
	    (status = ks_sqltext_option(sq->host, sq->ctx, "sqlite.statement",
	    1, &stmt, &stmt_buf, NULL, errbuf, errlen)) != KSINK_OK ||
	    (status = ks_sqltext_option(sq->host, sq->ctx,
	    "sqlite.delete.statement", 1, &del, &del_buf, NULL, errbuf,
	    errlen)) != KSINK_OK)
		goto out;

	if (ks_sqloffsets_opendb(&sq->db, "sqlite.path", sq->path, errbuf,
	    errlen) != SQLITE_OK) {
		status = KSINK_FATAL;
		goto out;
	}
	if (sqlite3_db_readonly(sq->db, "main") == 1) {
		ks_err_set(errbuf, errlen, "sqlite.path %s: the database is "
		    "read-only; check the permissions of the file and of its "
		    "directory", sq->path);
		status = KSINK_FATAL;
		goto out;
	}
	sqlite3_busy_timeout(sq->db,
	    (int)sq->host->conf_int(sq->ctx, "sqlite.busy.timeout.ms"));

	/* WAL: readers never block the connector, and a commit is one
	 * append and one fsync. */
	if ((rc = sqlite3_prepare_v2(sq->db, "PRAGMA journal_mode=WAL", -1,
	    &st, NULL)) == SQLITE_OK) {
		if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			mode = (const char *)sqlite3_column_text(st, 0);
			if (mode == NULL || strcmp(mode, "wal") != 0)
				sq->host->log(sq->ctx, KSINK_LOG_WARN,
				    "%s: journal mode is %s, not wal; readers "
				    "will block batches", sq->path,
				    mode ? mode : "unknown");
			rc = SQLITE_OK;
		}
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "sqlite.path %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		status = KSINK_FATAL;
		goto out;
	}
	sync = sq->host->conf_str(sq->ctx, "sqlite.synchronous");
	if ((status = exec_open(sq->db, sq->path, "PRAGMA synchronous",
	    sync && strcmp(sync, "normal") == 0 ?
	    "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
	    errbuf, errlen)) != KSINK_OK)
		goto out;

	if (init && (status = exec_open(sq->db, sq->path, "sqlite.init", init,
	    errbuf, errlen)) != KSINK_OK)
		goto out;
	if ((rc = ks_sqloffsets_create(sq->db, NULL, msg, sizeof(msg))) !=
	    SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s on %s", msg, sq->path);
		status = (rc & 0xff) == SQLITE_ERROR ? KSINK_CONFIG :
		    KSINK_FATAL;
		goto out;
	}
	if (stmt != NULL && ks_mapping_wanted(sq->host, sq->ctx, "sqlite")) {
		ks_err_set(errbuf, errlen, "%s: %s", stmt_buf ?
		    "sqlite.statement.file" : "sqlite.statement",
		    mapping_conflict);
		status = KSINK_CONFIG;
		goto out;
	}
	if (stmt == NULL && ks_mapping_wanted(sq->host, sq->ctx, "sqlite")) {
		if (del != NULL) {
			ks_err_set(errbuf, errlen, "%s: the table mapping "
			    "deletes by key itself (sqlite.delete.enabled); "
			    "remove it, or give sqlite.statement instead of "
			    "the mapping's options", del_buf ?
			    "sqlite.delete.statement.file" :
			    "sqlite.delete.statement");
			status = KSINK_CONFIG;
			goto out;
		}
		if ((status = map_open(sq, errbuf, errlen)) != KSINK_OK)
			goto out;
	} else if (stmt == NULL && (status = exec_open(sq->db, sq->path,
	    "creating ksink_records", default_table, errbuf, errlen)) !=
	    KSINK_OK)
		goto out;

	if (sq->map == NULL && (status = sql_prepare_set(sq->db, &sq->main,
	    stmt_buf ?
	    "sqlite.statement.file" : "sqlite.statement",
	    stmt ? stmt : default_statement, 0, errbuf, errlen)) != KSINK_OK)
		goto out;
	if (del && (status = sql_prepare_set(sq->db, &sq->del, del_buf ?
	    "sqlite.delete.statement.file" : "sqlite.delete.statement", del,
	    0, errbuf, errlen)) != KSINK_OK)
		goto out;

	if ((status = prepare_internal(sq, &sq->begin, "BEGIN IMMEDIATE",
	    errbuf, errlen)) != KSINK_OK ||
	    (status = prepare_internal(sq, &sq->commit, "COMMIT", errbuf,
	    errlen)) != KSINK_OK ||
	    (status = prepare_internal(sq, &sq->rollback, "ROLLBACK", errbuf,
	    errlen)) != KSINK_OK ||
	    (status = prepare_internal(sq, &sq->sp, "SAVEPOINT ksink_record",
	    errbuf, errlen)) != KSINK_OK ||
	    (status = prepare_internal(sq, &sq->sp_release,
	    "RELEASE ksink_record", errbuf, errlen)) != KSINK_OK ||
	    (status = prepare_internal(sq, &sq->sp_rollback,
	    "ROLLBACK TO ksink_record", errbuf, errlen)) != KSINK_OK)
		goto out;
	if (ks_sqloffsets_open(&sq->offsets, sq->db, sq->connector) !=
	    SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		status = KSINK_FATAL;
		goto out;
	}
	status = KSINK_OK;
out:
	free(init_buf);
	free(stmt_buf);
	free(del_buf);
	return status;
}

static int
sqlite_open(const struct ksink_host *host, struct ksink_ctx *ctx, void **sink,
    char *errbuf, size_t errlen)
{
	struct sink *sq;
	const char *path, *name;
	int64_t deadline;
	int status, rc, tries;

	*sink = NULL;
	if (host->struct_size < offsetof(struct ksink_host, connector_name) +
	    sizeof(host->connector_name)) {
		ks_err_set(errbuf, errlen, "the daemon's host table is too old "
		    "for the sqlite sink");
		return KSINK_FATAL;
	}
	if ((path = host->conf_str(ctx, "sqlite.path")) == NULL ||
	    *path == '\0') {
		ks_err_set(errbuf, errlen, "sqlite.path is not set");
		return KSINK_CONFIG;
	}
	name = host->connector_name(ctx);
	if ((sq = calloc(1, sizeof(*sq))) == NULL ||
	    (sq->path = strdup(path)) == NULL ||
	    (sq->connector = strdup(name ? name : "")) == NULL) {
		if (sq)
			free(sq->path);
		free(sq);
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	sq->host = host;
	sq->ctx = ctx;
	/*
	 * Connections opening one new file at once take turns to put it in
	 * WAL mode and create its tables, and SQLite answers some of them
	 * SQLITE_BUSY at once, without its busy handler, where waiting could
	 * deadlock.  Such an open starts again until sqlite.busy.timeout.ms
	 * has passed, as a batch would wait.
	 */
	deadline = ks_clock_mono_ms() +
	    host->conf_int(ctx, "sqlite.busy.timeout.ms");
	for (tries = 1;; tries++) {
		if ((status = sq_open_db(sq, errbuf, errlen)) == KSINK_OK)
			break;
		rc = sq->db ? sqlite3_errcode(sq->db) & 0xff : SQLITE_OK;
		sq_close_db(sq);
		if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) ||
		    ks_clock_mono_ms() >= deadline) {
			sqlite_close(sq);
			return status;
		}
		/* Apart, so that the openers do not meet again. */
		sqlite3_sleep(10 + (int)((ks_clock_wall_ms() * 7 +
		    (int64_t)getpid() * 13 + tries) % 40));
	}
	*sink = sq;
	return KSINK_OK;
}

/*
 * Finds without side effects what open() would refuse in the options: SQL
 * options set twice, SQL files that cannot be read, and SQL that cannot
 * work whatever the database holds.  The SQL runs on a scratch in-memory
 * database (sqlite.init first, so that the statements see its tables):
 * syntax errors, transaction control and the parameters are certain; an
 * unknown table or column is not (the real database may have it) and is
 * left to open().
 */
/* Ends sqlite.init on check()'s scratch database when it runs too long. */
static int
check_progress(void *arg)
{
	long *left = arg;

	return --*left <= 0;
}

static int
sqlite_check(const struct ksink_host *host, struct ksink_ctx *ctx)
{
	static const char *const names[] = {
		"sqlite.init", "sqlite.statement", "sqlite.delete.statement"
	};
	const char *sql[3], *path, *opt;
	char *buf[3] = { NULL, NULL, NULL }, err[1024], fname[64];
	struct stmt_set set;
	sqlite3 *db = NULL;
	long steps = CHECK_INIT_STEPS;
	int i, bad = 0;

	if (!KSINK_HOST_HAS(host, report) || host->report == NULL)
		return KSINK_OK;
	path = host->conf_str(ctx, "sqlite.path");
	for (i = 0; i < 3; i++) {
		snprintf(fname, sizeof(fname), "%s.file", names[i]);
		if (ks_sqltext_option(host, ctx, names[i], 1, &sql[i], &buf[i],
		    NULL, err, sizeof(err)) != KSINK_OK) {
			ks_err_report(host, ctx, fname, err);
			sql[i] = NULL;
			bad = 1;
		}
	}
	if ((sql[0] != NULL || sql[1] != NULL || sql[2] != NULL) &&
	    sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		/* No scratch database (out of memory): open() will tell. */
		sqlite3_close(db);
		db = NULL;
	}
	if (db != NULL) {
		/* Nothing of sqlite.init may reach a file (ATTACH, VACUUM
		 * INTO), nor run for long: either ends it quietly. */
		sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
		sqlite3_progress_handler(db, 1000, check_progress, &steps);
	}
	if (db != NULL && sql[0] != NULL && exec_open(db, path ? path : "",
	    "sqlite.init", sql[0], err, sizeof(err)) != KSINK_OK &&
	    sql_syntax_error(db)) {
		ks_err_report(host, ctx, buf[0] ? "sqlite.init.file" :
		    "sqlite.init", err);
		bad = 1;
	}
	for (i = 1; db != NULL && i < 3; i++) {
		if (sql[i] == NULL)
			continue;
		snprintf(fname, sizeof(fname), "%s.file", names[i]);
		opt = buf[i] ? fname : names[i];
		memset(&set, 0, sizeof(set));
		if (sql_prepare_set(db, &set, opt, sql[i], 1, err, sizeof(err)) !=
		    KSINK_OK) {
			ks_err_report(host, ctx, opt, err);
			bad = 1;
		}
		sql_set_free(&set);
	}
	sqlite3_close(db);
	if (ks_mapping_wanted(host, ctx, "sqlite")) {
		for (i = 1; i < 3; i++)
			if (sql[i] != NULL) {
				snprintf(fname, sizeof(fname), "%s.file",
				    names[i]);
				host->report(ctx, buf[i] ? fname : names[i],
				    "%s", mapping_conflict);
				bad = 1;
			}
		if (ks_mapping_check(host, ctx, "sqlite") != KSINK_OK)
			bad = 1;
	}
	for (i = 0; i < 3; i++)
		free(buf[i]);
	return bad ? KSINK_CONFIG : KSINK_OK;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 2,		/* the lowest with check */
	.struct_size = sizeof(struct ksink_sink),
	.caps = KSINK_CAP_ATOMIC_OFFSETS,
	.name = "sqlite",
	.version = PACKAGE_VERSION,
	.description = "applies records to an SQLite database with SQL "
	    "statements, exactly once",
	.options = options,
	.open = sqlite_open,
	.load_offsets = sqlite_load_offsets,
	.begin = sqlite_begin,
	.write = sqlite_write,
	.commit = sqlite_commit,
	.abort = sqlite_abort,
	.close = sqlite_close,
	.reset_offsets = sqlite_reset_offsets,
	.check = sqlite_check,
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
