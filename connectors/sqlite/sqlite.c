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
 * believes it owns the partition.  See ksink-sqlite(7).
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

#include <sqlite3.h>

#include "ksink/sink.h"

#include "../lib/buf.h"
#include "../lib/envelope.h"
#include "../lib/err.h"
#include "../lib/offcache.h"
#include "../lib/sqloffsets.h"
#include "../lib/utf8.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0"
#endif

/* The longest SQL file sqlite.*.file options accept. */
#define SQL_FILE_MAX (1024 * 1024)

/* Record fields that a statement can bind, by parameter name. */
enum field {
	F_TOPIC,
	F_PARTITION,
	F_OFFSET,
	F_TIMESTAMP,
	F_KEY,
	F_VALUE,
	F_HEADERS,
	F_COUNT
};

static const char *const field_names[F_COUNT] = {
	"topic", "partition", "offset", "timestamp", "key", "value", "headers"
};

/* One parameter of a prepared statement and the field bound to it. */
struct param {
	int idx;
	int field;
};

struct stmt {
	sqlite3_stmt *st;
	struct param *params;
	int nparams;
};

/* The statements run for one record, in order. */
struct stmt_set {
	const char *option; /* where they came from, for messages */
	struct stmt *v;
	int n;
	unsigned fields; /* bit (1 << F_*) for every field bound */
	int savepoint;   /* run each record inside a savepoint */
};

/* What one record binds, computed once for all its statements. */
struct bound {
	const struct ksink_record *r;
	int key_text;
	int value_text;
	const char *hdr;
	size_t hdr_len;
};

struct sink {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;
	sqlite3 *db;
	char *path;
	char *connector;

	struct stmt_set main;
	struct stmt_set del;

	sqlite3_stmt *begin;
	sqlite3_stmt *commit;
	sqlite3_stmt *rollback;
	sqlite3_stmt *sp;
	sqlite3_stmt *sp_release;
	sqlite3_stmt *sp_rollback;
	struct ks_sqloffsets offsets;

	struct ks_offcache fence;

	struct ks_buf json;	/* :headers */
};

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
		    "nor sqlite.statement.file is set, each record is "
		    "inserted into the table ksink_records, created when "
		    "missing.",
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
		    "to the same database before the batch is retried.",
	},
	{ .name = NULL }
};

/*
 * How a failed SQLite call is reported to the worker.  SQLITE_ERROR from
 * a statement step is an error caused by the record (json_extract() of
 * malformed JSON, a failed CAST, RAISE() in a trigger); write() checks
 * separately that the statement itself still compiles.
 */
static int
classify(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return KSINK_RETRY;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
	case SQLITE_ERROR:
		return KSINK_POISON;
	default:
		/* SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_READONLY,
		 * SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_FULL, SQLITE_PERM,
		 * SQLITE_NOMEM, ... */
		return KSINK_FATAL;
	}
}

/* Binds the record's fields to one statement. */
static int
bind_record(struct stmt *s, const struct bound *b)
{
	const struct ksink_record *r = b->r;
	sqlite3_stmt *st = s->st;
	int i, rc = SQLITE_OK, idx;

	for (i = 0; i < s->nparams && rc == SQLITE_OK; i++) {
		idx = s->params[i].idx;
		switch (s->params[i].field) {
		case F_TOPIC:
			rc = sqlite3_bind_text(st, idx, r->topic, -1,
			    SQLITE_STATIC);
			break;
		case F_PARTITION:
			rc = sqlite3_bind_int(st, idx, r->partition);
			break;
		case F_OFFSET:
			rc = sqlite3_bind_int64(st, idx, r->offset);
			break;
		case F_TIMESTAMP:
			if (r->timestamp == -1)
				rc = sqlite3_bind_null(st, idx);
			else
				rc = sqlite3_bind_int64(st, idx, r->timestamp);
			break;
		case F_KEY:
			if (r->key == NULL)
				rc = sqlite3_bind_null(st, idx);
			else if (b->key_text)
				rc = sqlite3_bind_text64(st, idx, r->key,
				    r->key_len, SQLITE_STATIC, SQLITE_UTF8);
			else
				rc = sqlite3_bind_blob64(st, idx, r->key,
				    r->key_len, SQLITE_STATIC);
			break;
		case F_VALUE:
			if (r->value == NULL)
				rc = sqlite3_bind_null(st, idx);
			else if (b->value_text)
				rc = sqlite3_bind_text64(st, idx, r->value,
				    r->value_len, SQLITE_STATIC, SQLITE_UTF8);
			else
				rc = sqlite3_bind_blob64(st, idx, r->value,
				    r->value_len, SQLITE_STATIC);
			break;
		case F_HEADERS:
			if (b->hdr == NULL)
				rc = sqlite3_bind_null(st, idx);
			else
				rc = sqlite3_bind_text64(st, idx, b->hdr,
				    b->hdr_len, SQLITE_STATIC, SQLITE_UTF8);
			break;
		}
	}
	return rc;
}

/* Runs one internal statement that takes no parameters. */
static int
step_once(sqlite3_stmt *st)
{
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Describes a failed step of statement i of a set into errbuf, and tells
 * apart an error caused by the record (POISON) from a statement that no
 * longer compiles because the schema changed under it (FATAL: every
 * record would fail the same way).
 */
static int
stmt_error(struct sink *sq, const struct stmt_set *set, int i, int rc,
    char *errbuf, size_t errlen)
{
	sqlite3_stmt *probe = NULL;
	int status = classify(rc);
	char where[64] = "";

	if (set->n > 1)
		snprintf(where, sizeof(where), " (statement %d of %d)", i + 1,
		    set->n);
	ks_err_set(errbuf, errlen, "%s%s: %s", set->option, where,
	    sqlite3_errmsg(sq->db));
	if ((rc & 0xff) == SQLITE_ERROR) {
		if (sqlite3_prepare_v3(sq->db, sqlite3_sql(set->v[i].st), -1, 0,
		    &probe, NULL) != SQLITE_OK) {
			ks_err_set(errbuf, errlen, "%s%s no longer compiles: %s; "
			    "was the schema changed?", set->option, where,
			    sqlite3_errmsg(sq->db));
			status = KSINK_FATAL;
		}
		sqlite3_finalize(probe);
	}
	return status;
}

/* Runs the statements of a set for one record.  Returns a KSINK_ code. */
static int
run_set(struct sink *sq, struct stmt_set *set, const struct ksink_record *r,
    char *errbuf, size_t errlen)
{
	struct bound b = { .r = r };
	struct stmt *s;
	int i, rc, status;

	if ((set->fields & (1u << F_KEY)) && r->key)
		b.key_text = ks_utf8_check(r->key, r->key_len, 0);
	if ((set->fields & (1u << F_VALUE)) && r->value)
		b.value_text = ks_utf8_check(r->value, r->value_len, 0);
	if ((set->fields & (1u << F_HEADERS)) && r->header_count > 0) {
		ks_buf_reset(&sq->json);
		ks_envelope_add_headers(&sq->json, r);
		if (sq->json.oom) {
			ks_err_set(errbuf, errlen, "headers: out of memory");
			return KSINK_FATAL;
		}
		b.hdr = sq->json.p;
		b.hdr_len = sq->json.len;
	}

	if (set->savepoint && (rc = step_once(sq->sp)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "SAVEPOINT: %s", sqlite3_errmsg(sq->db));
		return classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
	}
	for (i = 0; i < set->n; i++) {
		s = &set->v[i];
		if ((rc = bind_record(s, &b)) == SQLITE_OK) {
			while ((rc = sqlite3_step(s->st)) == SQLITE_ROW)
				;
			if (rc == SQLITE_DONE)
				rc = SQLITE_OK;
		}
		if (rc != SQLITE_OK)
			break;
		sqlite3_reset(s->st);
		sqlite3_clear_bindings(s->st);
	}
	if (rc == SQLITE_OK) {
		if (set->savepoint && (rc = step_once(sq->sp_release)) !=
		    SQLITE_OK) {
			ks_err_set(errbuf, errlen, "RELEASE: %s",
			    sqlite3_errmsg(sq->db));
			return classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
		return KSINK_OK;
	}

	status = stmt_error(sq, set, i, rc, errbuf, errlen);
	sqlite3_reset(s->st);
	sqlite3_clear_bindings(s->st);
	if (status != KSINK_POISON)
		return status;
	/* Undo what this record's statements did; the transaction goes on. */
	if (sqlite3_get_autocommit(sq->db)) {
		ks_err_append(errbuf, errlen, "; the statement rolled back the whole "
		    "transaction (ON CONFLICT ROLLBACK or RAISE(ROLLBACK)): "
		    "use ABORT or FAIL so that one bad record does not undo "
		    "the batch");
		return KSINK_FATAL;
	}
	if (set->savepoint && (step_once(sq->sp_rollback) != SQLITE_OK ||
	    step_once(sq->sp_release) != SQLITE_OK)) {
		ks_err_set(errbuf, errlen, "ROLLBACK TO SAVEPOINT: %s",
		    sqlite3_errmsg(sq->db));
		return KSINK_FATAL;
	}
	return KSINK_POISON;
}

/* The fence entry of a record's partition, read once per transaction. */
static struct ks_offcache_entry *
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
	if (!sqlite3_get_autocommit(sq->db))
		step_once(sq->rollback);
	if ((rc = step_once(sq->begin)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "BEGIN IMMEDIATE on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
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
	for (i = 0; i < count; i++) {
		r = &records[i];
		if ((f = fence_get(sq, r, &rc)) == NULL) {
			*n_done = i;
			ks_err_set(errbuf, errlen, "reading ksink_offsets: %s",
			    rc == SQLITE_NOMEM ? "out of memory" :
			    sqlite3_errmsg(sq->db));
			return classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
		/* The zombie fence: already applied by this or another
		 * worker. */
		if (r->offset < f->next)
			continue;
		set = (r->value == NULL && sq->del.n > 0) ? &sq->del :
		    &sq->main;
		if ((status = run_set(sq, set, r, errbuf, errlen)) !=
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
			return classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
	}
	if ((rc = step_once(sq->commit)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "COMMIT on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
	}
	return KSINK_OK;
}

static void
sqlite_abort(void *sink)
{
	struct sink *sq = sink;
	sqlite3_stmt *st = NULL;
	int rc;

	if (sq->db == NULL || sqlite3_get_autocommit(sq->db))
		return;
	while ((st = sqlite3_next_stmt(sq->db, st)) != NULL)
		sqlite3_reset(st);
	if ((rc = step_once(sq->rollback)) != SQLITE_OK &&
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
			return classify(rc) == KSINK_RETRY ? KSINK_RETRY :
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
	if ((rc = step_once(sq->begin)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "BEGIN IMMEDIATE on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		return classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
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
			return classify(rc) == KSINK_RETRY ? KSINK_RETRY :
			    KSINK_FATAL;
		}
	}
	if ((rc = step_once(sq->commit)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "COMMIT on %s: %s", sq->path,
		    sqlite3_errmsg(sq->db));
		sqlite_abort(sq);
		return classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
	}
	sq->host->log(sq->ctx, KSINK_LOG_INFO, "reset the offsets of %zu "
	    "partition%s in %s", count, count == 1 ? "" : "s", sq->path);
	return KSINK_OK;
}

static void
set_free(struct stmt_set *set)
{
	int i;

	for (i = 0; i < set->n; i++) {
		sqlite3_finalize(set->v[i].st);
		free(set->v[i].params);
	}
	free(set->v);
	set->v = NULL;
	set->n = 0;
}

static void
sqlite_close(void *sink)
{
	struct sink *sq = sink;
	sqlite3_stmt *st;
	int rc;

	if (sq == NULL)
		return;
	if (sq->db) {
		sqlite_abort(sq);
		set_free(&sq->main);
		set_free(&sq->del);
		/* The internal statements, and any left by a failed open. */
		while ((st = sqlite3_next_stmt(sq->db, NULL)) != NULL)
			sqlite3_finalize(st);
		if ((rc = sqlite3_close(sq->db)) != SQLITE_OK)
			sq->host->log(sq->ctx, KSINK_LOG_WARN,
			    "closing %s: %s", sq->path, sqlite3_errstr(rc));
	}
	/* The statements of sq->offsets were finalized with the others. */
	ks_offcache_free(&sq->fence);
	ks_buf_free(&sq->json);
	free(sq->path);
	free(sq->connector);
	free(sq);
}

/* Skips white space and SQL comments. */
static const char *
sql_skip(const char *s)
{
	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' ||
		    *s == '\f' || *s == '\v')
			s++;
		if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			if ((s = strstr(s + 2, "*/")) == NULL)
				return "";
			s += 2;
		} else
			return s;
	}
}

/* Whether a statement controls the transaction ksink owns. */
static const char *
sql_forbidden(const char *sql)
{
	static const char *const words[] = {
		"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE",
		"ATTACH", "DETACH", "VACUUM", NULL
	};
	const char *s = sql_skip(sql);
	size_t i, n;

	for (n = 0; (s[n] >= 'a' && s[n] <= 'z') ||
	    (s[n] >= 'A' && s[n] <= 'Z'); n++)
		;
	for (i = 0; words[i]; i++)
		if (strlen(words[i]) == n && strncasecmp(s, words[i], n) == 0)
			return words[i];
	return NULL;
}

/* Maps the named parameters of a statement to record fields. */
static int
map_params(struct stmt_set *set, struct stmt *s, char *errbuf, size_t errlen)
{
	const char *name;
	int i, f, n;

	n = sqlite3_bind_parameter_count(s->st);
	if (n > 0 && (s->params = calloc(n, sizeof(*s->params))) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	for (i = 1; i <= n; i++) {
		if ((name = sqlite3_bind_parameter_name(s->st, i)) == NULL) {
			ks_err_set(errbuf, errlen, "%s: positional parameter ?%d: "
			    "use the named parameters :topic, :partition, "
			    ":offset, :timestamp, :key, :value and :headers",
			    set->option, i);
			return KSINK_CONFIG;
		}
		for (f = 0; f < F_COUNT; f++)
			if ((name[0] == ':' || name[0] == '@' ||
			    name[0] == '$') && strcmp(name + 1,
			    field_names[f]) == 0)
				break;
		if (f == F_COUNT) {
			ks_err_set(errbuf, errlen, "%s: unknown parameter %s: "
			    "known are :topic, :partition, :offset, "
			    ":timestamp, :key, :value and :headers",
			    set->option, name);
			return KSINK_CONFIG;
		}
		s->params[s->nparams].idx = i;
		s->params[s->nparams].field = f;
		s->nparams++;
		set->fields |= 1u << f;
	}
	return KSINK_OK;
}

/* Prepares every statement of sql, in order. */
static int
prepare_set(struct sink *sq, struct stmt_set *set, const char *option,
    const char *sql, char *errbuf, size_t errlen)
{
	struct stmt *v;
	sqlite3_stmt *st;
	const char *tail, *word;
	int rc, status;

	set->option = option;
	while (*sql) {
		st = NULL;
		rc = sqlite3_prepare_v3(sq->db, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &st, &tail);
		if (rc != SQLITE_OK) {
			ks_err_set(errbuf, errlen, "%s: statement %d: %s", option,
			    set->n + 1, sqlite3_errmsg(sq->db));
			return classify(rc) == KSINK_POISON ? KSINK_CONFIG :
			    KSINK_FATAL;
		}
		if (st == NULL)
			break; /* only white space or comments were left */
		sql = tail;
		if ((word = sql_forbidden(sqlite3_sql(st))) != NULL) {
			sqlite3_finalize(st);
			ks_err_set(errbuf, errlen, "%s: statement %d: %s is not "
			    "allowed: ksink runs each batch in its own "
			    "transaction", option, set->n + 1, word);
			return KSINK_CONFIG;
		}
		if ((v = realloc(set->v, (set->n + 1) * sizeof(*v))) == NULL) {
			sqlite3_finalize(st);
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		set->v = v;
		memset(&v[set->n], 0, sizeof(*v));
		v[set->n++].st = st;
		if ((status = map_params(set, &v[set->n - 1], errbuf,
		    errlen)) != KSINK_OK)
			return status;
	}
	if (set->n == 0) {
		ks_err_set(errbuf, errlen, "%s holds no SQL statement", option);
		return KSINK_CONFIG;
	}
	/* One statement is atomic by itself in SQLite; several need a
	 * savepoint so that a failing record leaves nothing behind. */
	set->savepoint = set->n > 1;
	return KSINK_OK;
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

/*
 * The text of an SQL option: its value, or the content of its .file
 * variant.  *sql is NULL when neither is set; free *buf.
 */
static int
sql_option(struct sink *sq, const char *name, const char **sql, char **buf,
    char *errbuf, size_t errlen)
{
	char fname[64];
	const char *text, *path;
	FILE *fp;
	size_t n;
	char *p;

	*sql = NULL;
	*buf = NULL;
	snprintf(fname, sizeof(fname), "%s.file", name);
	text = sq->host->conf_str(sq->ctx, name);
	path = sq->host->conf_str(sq->ctx, fname);
	if (text && path) {
		ks_err_set(errbuf, errlen, "%s and %s are both set: keep one",
		    name, fname);
		return KSINK_CONFIG;
	}
	if (path == NULL) {
		*sql = text;
		return KSINK_OK;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		ks_err_set(errbuf, errlen, "%s: %s: %s", fname, path,
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
		ks_err_set(errbuf, errlen, "%s: %s: %s", fname, path,
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

/* Runs SQL at open: a statement that does not compile or fails is a
 * configuration error, a failing database is fatal. */
static int
exec_open(struct sink *sq, const char *what, const char *sql, char *errbuf,
    size_t errlen)
{
	int rc;

	if ((rc = sqlite3_exec(sq->db, sql, NULL, NULL, NULL)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s on %s: %s", what, sq->path,
		    sqlite3_errmsg(sq->db));
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

	if ((status = sql_option(sq, "sqlite.init", &init, &init_buf,
	    errbuf, errlen)) != KSINK_OK ||
	    (status = sql_option(sq, "sqlite.statement", &stmt, &stmt_buf,
	    errbuf, errlen)) != KSINK_OK ||
	    (status = sql_option(sq, "sqlite.delete.statement", &del,
	    &del_buf, errbuf, errlen)) != KSINK_OK)
		goto out;

	rc = sqlite3_open_v2(sq->path, &sq->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "sqlite.path %s: %s; check that its "
		    "directory exists and that ksink may write there (SQLite "
		    "also writes -wal and -shm files beside it)", sq->path,
		    sq->db ? sqlite3_errmsg(sq->db) : sqlite3_errstr(rc));
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
	if ((status = exec_open(sq, "PRAGMA synchronous",
	    sync && strcmp(sync, "normal") == 0 ?
	    "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL",
	    errbuf, errlen)) != KSINK_OK)
		goto out;

	if (init && (status = exec_open(sq, "sqlite.init", init, errbuf,
	    errlen)) != KSINK_OK)
		goto out;
	if ((rc = ks_sqloffsets_create(sq->db, NULL, msg, sizeof(msg))) !=
	    SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s on %s", msg, sq->path);
		status = (rc & 0xff) == SQLITE_ERROR ? KSINK_CONFIG :
		    KSINK_FATAL;
		goto out;
	}
	if (stmt == NULL && (status = exec_open(sq, "creating ksink_records",
	    default_table, errbuf, errlen)) != KSINK_OK)
		goto out;

	if ((status = prepare_set(sq, &sq->main, stmt_buf ?
	    "sqlite.statement.file" : "sqlite.statement",
	    stmt ? stmt : default_statement, errbuf, errlen)) != KSINK_OK)
		goto out;
	if (del && (status = prepare_set(sq, &sq->del, del_buf ?
	    "sqlite.delete.statement.file" : "sqlite.delete.statement", del,
	    errbuf, errlen)) != KSINK_OK)
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
	int status;

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
	if ((status = sq_open_db(sq, errbuf, errlen)) != KSINK_OK) {
		sqlite_close(sq);
		return status;
	}
	*sink = sq;
	return KSINK_OK;
}

static const struct ksink_sink desc = {
	.abi_major = KSINK_ABI_MAJOR,
	.abi_minor = 1,		/* the lowest with reset_offsets */
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
};

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return &desc;
}
