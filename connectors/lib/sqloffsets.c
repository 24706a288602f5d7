/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/sqloffsets.c - the offsets table of SQLite databases.
 *
 * One row per connector and partition holds the next offset to read.
 * Sinks call these inside their own transactions, so that the offsets
 * change in the same atomic step as the effects.  Every function returns
 * an SQLite result code (SQLITE_OK on success), which the sink
 * classifies.
 */
#include <string.h>

#include <sqlite3.h>

#include "ksink/sink.h"

#include "err.h"
#include "sqloffsets.h"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS " KS_SQLOFFSETS_TABLE "(\n"
    "  \"connector\" TEXT NOT NULL,\n"
    "  \"topic\" TEXT NOT NULL,\n"
    "  \"partition\" INTEGER NOT NULL,\n"
    "  \"next_offset\" INTEGER NOT NULL,\n"
    "  PRIMARY KEY(\"connector\", \"topic\", \"partition\"))";

static const char sql_get[] =
    "SELECT \"next_offset\" FROM " KS_SQLOFFSETS_TABLE " "
    "WHERE \"connector\" = ?1 AND \"topic\" = ?2 AND \"partition\" = ?3";

/* Offsets only move forward in a step... */
static const char sql_advance[] =
    "INSERT INTO " KS_SQLOFFSETS_TABLE "(\"connector\", \"topic\", "
    "\"partition\", \"next_offset\") VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(\"connector\", \"topic\", \"partition\") DO UPDATE SET "
    "\"next_offset\" = MAX(\"next_offset\", excluded.\"next_offset\")";

/* ...and are replaced, lowered or forgotten by `ksink offsets --reset`. */
static const char sql_set[] =
    "INSERT INTO " KS_SQLOFFSETS_TABLE "(\"connector\", \"topic\", "
    "\"partition\", \"next_offset\") VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT(\"connector\", \"topic\", \"partition\") DO UPDATE SET "
    "\"next_offset\" = excluded.\"next_offset\"";

static const char sql_forget[] =
    "DELETE FROM " KS_SQLOFFSETS_TABLE " "
    "WHERE \"connector\" = ?1 AND \"topic\" = ?2 AND \"partition\" = ?3";

/*
 * Opens, read-write and created when missing, the database at path, which
 * the option names: on failure errbuf says what to check.  *db is set
 * even then (sqlite3_open_v2()), for the caller to close.
 */
int
ks_sqloffsets_opendb(sqlite3 **db, const char *option, const char *path,
    char *errbuf, size_t errlen)
{
	int rc;

	rc = sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		ks_err_set(errbuf, errlen, "%s %s: %s; check that its "
		    "directory exists and that ksink may write there (SQLite "
		    "also writes -wal and -shm files beside it)", option, path,
		    *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
	return rc;
}

static int
table_exists(sqlite3 *db, const char *name, int *exists)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE "
	    "type = 'table' AND name = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*exists = rc == SQLITE_ROW;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/*
 * Creates the table when missing.  With legacy, the name of a table of
 * the same columns that an older ksink used instead, moves that table's
 * rows into it (the higher offset wins where both hold a partition) and
 * drops it, all in one savepoint: the stored offsets are either all
 * moved or left where they were.
 */
int
ks_sqloffsets_create(sqlite3 *db, const char *legacy, char *errbuf,
    size_t errlen)
{
	char *sql = NULL;
	int rc, exists = 0;
	const char *what = "creating " KS_SQLOFFSETS_TABLE;

	if ((rc = sqlite3_exec(db, "SAVEPOINT ks_sqloffsets", NULL, NULL,
	    NULL)) != SQLITE_OK)
		goto fail;
	if ((rc = sqlite3_exec(db, schema, NULL, NULL, NULL)) != SQLITE_OK)
		goto undo;
	if (legacy != NULL &&
	    (rc = table_exists(db, legacy, &exists)) != SQLITE_OK)
		goto undo;
	if (exists) {
		what = "moving the offsets of an older ksink into "
		    KS_SQLOFFSETS_TABLE;
		sql = sqlite3_mprintf("INSERT INTO " KS_SQLOFFSETS_TABLE
		    "(\"connector\", \"topic\", \"partition\", \"next_offset\") "
		    "SELECT \"connector\", \"topic\", \"partition\", "
		    "\"next_offset\" FROM \"%w\" WHERE true "
		    "ON CONFLICT(\"connector\", \"topic\", \"partition\") DO "
		    "UPDATE SET \"next_offset\" = MAX(\"next_offset\", "
		    "excluded.\"next_offset\"); DROP TABLE \"%w\"", legacy,
		    legacy);
		if (sql == NULL) {
			rc = SQLITE_NOMEM;
			goto undo;
		}
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		sqlite3_free(sql);
		if (rc != SQLITE_OK)
			goto undo;
	}
	if ((rc = sqlite3_exec(db, "RELEASE ks_sqloffsets", NULL, NULL,
	    NULL)) != SQLITE_OK)
		goto undo;
	return SQLITE_OK;
undo:
	ks_err_set(errbuf, errlen, "%s: %s", what, sqlite3_errmsg(db));
	sqlite3_exec(db, "ROLLBACK TO ks_sqloffsets", NULL, NULL, NULL);
	sqlite3_exec(db, "RELEASE ks_sqloffsets", NULL, NULL, NULL);
	return rc;
fail:
	ks_err_set(errbuf, errlen, "%s: %s", what, sqlite3_errmsg(db));
	return rc;
}

/* Prepares the statements of one connector; connector must outlive o. */
int
ks_sqloffsets_open(struct ks_sqloffsets *o, sqlite3 *db,
    const char *connector)
{
	sqlite3_stmt **sts[4] = { &o->get, &o->advance, &o->set, &o->forget };
	const char *sql[4] = { sql_get, sql_advance, sql_set, sql_forget };
	int i, rc;

	memset(o, 0, sizeof(*o));
	o->db = db;
	for (i = 0; i < 4; i++) {
		if ((rc = sqlite3_prepare_v3(db, sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, sts[i], NULL)) != SQLITE_OK) {
			ks_sqloffsets_close(o);
			o->db = db;
			return rc;
		}
		/* The connector is bound once and stays bound. */
		sqlite3_bind_text(*sts[i], 1, connector, -1, SQLITE_STATIC);
	}
	return SQLITE_OK;
}

static int
step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The stored next offset; KSINK_OFFSET_NONE when none is. */
int
ks_sqloffsets_get(struct ks_sqloffsets *o, const char *topic,
    int32_t partition, int64_t *next)
{
	int rc;

	*next = KSINK_OFFSET_NONE;
	sqlite3_bind_text(o->get, 2, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(o->get, 3, partition);
	rc = sqlite3_step(o->get);
	if (rc == SQLITE_ROW)
		*next = sqlite3_column_int64(o->get, 0);
	sqlite3_reset(o->get);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Stores next unless a higher offset is stored. */
int
ks_sqloffsets_advance(struct ks_sqloffsets *o, const char *topic,
    int32_t partition, int64_t next)
{
	sqlite3_bind_text(o->advance, 2, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(o->advance, 3, partition);
	sqlite3_bind_int64(o->advance, 4, next);
	return step(o->advance);
}

/* Stores next as it is; KSINK_OFFSET_NONE forgets the partition. */
int
ks_sqloffsets_set(struct ks_sqloffsets *o, const char *topic,
    int32_t partition, int64_t next)
{
	sqlite3_stmt *st = next == KSINK_OFFSET_NONE ? o->forget : o->set;

	sqlite3_bind_text(st, 2, topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, partition);
	if (st == o->set)
		sqlite3_bind_int64(st, 4, next);
	return step(st);
}

void
ks_sqloffsets_close(struct ks_sqloffsets *o)
{
	sqlite3_finalize(o->get);
	sqlite3_finalize(o->advance);
	sqlite3_finalize(o->set);
	sqlite3_finalize(o->forget);
	memset(o, 0, sizeof(*o));
}
