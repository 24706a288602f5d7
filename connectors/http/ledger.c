/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/ledger.c - the ledger (http.state.path): the intent of
 * each request made durable before it is sent (its range, key, content
 * type, and its body's length and digest: the body itself is rebuilt from
 * the records, doubt.c), and the partitions' next
 * offsets in ksink_offsets (connectors/lib/sqloffsets.c); and the fences,
 * the next offsets cached in memory.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http.h"

/*
 * The ledger.
 */

int
db_fail(struct sink *s, const char *what, char *errbuf, size_t errlen)
{
	int rc = sqlite3_extended_errcode(s->db);

	ks_err_set(errbuf, errlen, "ledger %s: %s: %s", s->state_path, what,
	    sqlite3_errmsg(s->db));
	/* A busy ledger is another process's: everything else, disk full
	 * and I/O errors (fsync) included, stops the connector. */
	return (rc & 0xff) == SQLITE_BUSY ? KSINK_RETRY : KSINK_FATAL;
}

int
db_exec(struct sink *s, const char *sql, char *errbuf, size_t errlen)
{
	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(s, sql, errbuf, errlen);
	return KSINK_OK;
}

/* Runs a prepared statement without result (BEGIN, COMMIT). */
static int
db_step(struct sink *s, sqlite3_stmt *st, const char *what, char *errbuf,
    size_t errlen)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, what, errbuf, errlen);
	return KSINK_OK;
}

void
db_rollback(struct sink *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int
ledger_open(struct sink *s, char *errbuf, size_t errlen)
{
	static const char *const schema =
	    "CREATE TABLE IF NOT EXISTS ksink_http_intents ("
	    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " connector TEXT NOT NULL, topic TEXT NOT NULL,"
	    " partition INTEGER NOT NULL, first_offset INTEGER NOT NULL,"
	    " last_offset INTEGER NOT NULL, records INTEGER NOT NULL,"
	    " idempotency_key TEXT NOT NULL, content_type TEXT,"
	    " body BLOB NOT NULL, created_ms INTEGER NOT NULL);";
	/* Version 3: the body's length and digest; the body is then empty.
	 * Rows of version 2 keep their body and NULL here. */
	static const char *const schema3 =
	    "ALTER TABLE ksink_http_intents ADD COLUMN body_len INTEGER;"
	    "ALTER TABLE ksink_http_intents ADD COLUMN body_digest INTEGER;";
	char msg[512], pragma[40];
	sqlite3_stmt *st;
	int version;

	if (ks_sqloffsets_opendb(&s->db, "http.state.path", s->state_path,
	    errbuf, errlen) != SQLITE_OK)
		return KSINK_FATAL;
	sqlite3_extended_result_codes(s->db, 1);
	/* A process that just died has released its lock; a live one
	 * keeps it. */
	sqlite3_busy_timeout(s->db, 2000);
	/* One process at a time: the lock is taken by the first
	 * transaction and kept until close. */
	if (db_exec(s, "PRAGMA locking_mode = EXCLUSIVE", errbuf, errlen) ||
	    db_exec(s, "PRAGMA journal_mode = WAL", errbuf, errlen) ||
	    db_exec(s, "PRAGMA synchronous = FULL", errbuf, errlen) ||
	    db_exec(s, "BEGIN IMMEDIATE", errbuf, errlen)) {
		if ((sqlite3_extended_errcode(s->db) & 0xff) == SQLITE_BUSY)
			ks_err_set(errbuf, errlen, "ledger %s is in use by another "
			    "process or connector; give each connector its "
			    "own http.state.path", s->state_path);
		return KSINK_FATAL;
	}
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st,
	    NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		db_rollback(s);
		db_fail(s, "reading the schema version", errbuf, errlen);
		return KSINK_FATAL;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > HTTP_LEDGER_VERSION) {
		db_rollback(s);
		ks_err_set(errbuf, errlen, "ledger %s has schema version %d, newer "
		    "than this ksink's (%d): use a newer ksink",
		    s->state_path, version, HTTP_LEDGER_VERSION);
		return KSINK_FATAL;
	}
	/* A ledger of version 1 has its offsets moved into ksink_offsets
	 * in this same transaction. */
	if (db_exec(s, schema, errbuf, errlen) != KSINK_OK ||
	    (version < 3 && db_exec(s, schema3, errbuf, errlen) != KSINK_OK)) {
		db_rollback(s);
		return KSINK_FATAL;
	}
	if (ks_sqloffsets_create(s->db, HTTP_LEDGER_OLD_OFFSETS, msg,
	    sizeof(msg)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "ledger %s: %s", s->state_path, msg);
		db_rollback(s);
		return KSINK_FATAL;
	}
	snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
	    HTTP_LEDGER_VERSION);
	if (db_exec(s, pragma, errbuf, errlen) ||
	    db_exec(s, "COMMIT", errbuf, errlen)) {
		db_rollback(s);
		return KSINK_FATAL;
	}
	if (version < HTTP_LEDGER_VERSION && version > 0)
		s->host->log(s->ctx, KSINK_LOG_INFO, "ledger %s: schema "
		    "version %d upgraded to %d, stored offsets kept",
		    s->state_path, version, HTTP_LEDGER_VERSION);
	if (ks_sqloffsets_open(&s->offsets, s->db, s->connector) !=
	    SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "INSERT INTO ksink_http_intents "
	    "(connector, topic, partition, first_offset, last_offset, "
	    "records, idempotency_key, content_type, body, created_ms, "
	    "body_len, body_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
	    "x'', ?9, ?10, ?11)", -1, &s->st_intent, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "BEGIN IMMEDIATE", -1, &s->st_begin,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "COMMIT", -1, &s->st_commit,
	    NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "DELETE FROM ksink_http_intents "
	    "WHERE id = ?1", -1, &s->st_drop, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(s->db, "SELECT id, topic, partition, "
	    "first_offset, last_offset, records, idempotency_key, "
	    "content_type, body, body_len, body_digest FROM "
	    "ksink_http_intents WHERE connector = ?1 ORDER BY id", -1,
	    &s->st_pending, NULL) != SQLITE_OK) {
		db_fail(s, "preparing statements", errbuf, errlen);
		return KSINK_FATAL;
	}
	return ledger_doubts(s, errbuf, errlen);
}

/* Reads the intents left by an earlier run: its requests in doubt. */
int
ledger_doubts(struct sink *s, char *errbuf, size_t errlen)
{
	sqlite3_stmt *st = s->st_pending;
	struct request rq;
	struct doubt *d;
	const char *key;
	int rc;

	doubt_clear(s);
	sqlite3_bind_text(st, 1, s->connector, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		memset(&rq, 0, sizeof(rq));
		rq.topic = (const char *)sqlite3_column_text(st, 1);
		rq.partition = sqlite3_column_int(st, 2);
		rq.first = sqlite3_column_int64(st, 3);
		rq.last = sqlite3_column_int64(st, 4);
		rq.nrec = (size_t)sqlite3_column_int64(st, 5);
		key = (const char *)sqlite3_column_text(st, 6);
		rq.key = key != NULL ? key : "";
		rq.ctype = (const char *)sqlite3_column_text(st, 7);
		rq.topic = rq.topic != NULL ? rq.topic : "";
		if (sqlite3_column_type(st, 10) == SQLITE_NULL) {
			/* Version 2: the body itself. */
			rq.body = sqlite3_column_blob(st, 8);
			rq.len = (size_t)sqlite3_column_bytes(st, 8);
			if (rq.body == NULL)
				rq.body = "";
		}
		if (doubt_keep(s, &rq, sqlite3_column_int64(st, 0)) == -1) {
			sqlite3_reset(st);
			ks_err_set(errbuf, errlen, "out of memory");
			return KSINK_FATAL;
		}
		d = &s->doubts[s->ndoubts - 1];
		if (sqlite3_column_type(st, 10) != SQLITE_NULL) {
			ks_buf_reset(&d->body);
			d->complete = 0;
			d->len = (size_t)sqlite3_column_int64(st, 9);
			d->digest = sqlite3_column_int64(st, 10);
		}
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_fail(s, "reading intents", errbuf, errlen);
	return KSINK_OK;
}

void
ledger_close(struct sink *s)
{
	ks_sqloffsets_close(&s->offsets);
	sqlite3_finalize(s->st_intent);
	sqlite3_finalize(s->st_drop);
	sqlite3_finalize(s->st_pending);
	sqlite3_finalize(s->st_begin);
	sqlite3_finalize(s->st_commit);
	s->st_intent = s->st_drop = s->st_pending = NULL;
	s->st_begin = s->st_commit = NULL;
	if (s->db != NULL)
		sqlite3_close(s->db);
	s->db = NULL;
}

int
ledger_get(struct sink *s, const char *topic, int32_t partition,
    int64_t *next, char *errbuf, size_t errlen)
{
	if (ks_sqloffsets_get(&s->offsets, topic, partition, next) !=
	    SQLITE_OK)
		return db_fail(s, "reading offsets", errbuf, errlen);
	return KSINK_OK;
}

/* Within a transaction. */
int
ledger_advance(struct sink *s, const char *topic, int32_t partition,
    int64_t next, char *errbuf, size_t errlen)
{
	if (ks_sqloffsets_advance(&s->offsets, topic, partition, next) !=
	    SQLITE_OK)
		return db_fail(s, "storing offsets", errbuf, errlen);
	return KSINK_OK;
}

/* Makes the intent of rq durable, with the delivered requests settled in
 * the same transaction; *id is its row. */
int
ledger_intent(struct sink *s, const struct request *rq, int64_t *id,
    char *errbuf, size_t errlen)
{
	int rc;

	if ((rc = db_step(s, s->st_begin, "BEGIN IMMEDIATE", errbuf,
	    errlen)) != KSINK_OK)
		return rc;
	if ((rc = ledger_settle_rows(s, errbuf, errlen)) != KSINK_OK) {
		db_rollback(s);
		return rc;
	}
	sqlite3_bind_text(s->st_intent, 1, s->connector, -1, SQLITE_STATIC);
	sqlite3_bind_text(s->st_intent, 2, rq->topic, -1, SQLITE_STATIC);
	sqlite3_bind_int(s->st_intent, 3, rq->partition);
	sqlite3_bind_int64(s->st_intent, 4, rq->first);
	sqlite3_bind_int64(s->st_intent, 5, rq->last);
	sqlite3_bind_int64(s->st_intent, 6, (sqlite3_int64)rq->nrec);
	sqlite3_bind_text(s->st_intent, 7, rq->key, -1, SQLITE_STATIC);
	if (rq->ctype != NULL)
		sqlite3_bind_text(s->st_intent, 8, rq->ctype, -1,
		    SQLITE_STATIC);
	sqlite3_bind_int64(s->st_intent, 9, ks_clock_wall_ms());
	sqlite3_bind_int64(s->st_intent, 10, (sqlite3_int64)rq->len);
	sqlite3_bind_int64(s->st_intent, 11, body_digest(rq->body, rq->len));
	rc = sqlite3_step(s->st_intent);
	sqlite3_reset(s->st_intent);
	sqlite3_clear_bindings(s->st_intent);
	if (rc != SQLITE_DONE) {
		rc = db_fail(s, "storing a request's intent", errbuf, errlen);
		db_rollback(s);
		return rc;
	}
	*id = sqlite3_last_insert_rowid(s->db);
	if ((rc = db_step(s, s->st_commit, "COMMIT", errbuf, errlen)) !=
	    KSINK_OK) {
		db_rollback(s);
		return rc;
	}
	s->nsettles = 0;
	return KSINK_OK;
}

/* Removes the intent of a request the receiver rejected: it took no
 * effect, and its records are sent again. */
int
ledger_drop(struct sink *s, int64_t id, char *errbuf, size_t errlen)
{
	int rc;

	if ((rc = db_step(s, s->st_begin, "BEGIN IMMEDIATE", errbuf,
	    errlen)) != KSINK_OK)
		return rc;
	sqlite3_bind_int64(s->st_drop, 1, id);
	rc = sqlite3_step(s->st_drop);
	sqlite3_reset(s->st_drop);
	if (rc != SQLITE_DONE) {
		rc = db_fail(s, "settling a request's intent", errbuf, errlen);
		db_rollback(s);
		return rc;
	}
	if ((rc = db_step(s, s->st_commit, "COMMIT", errbuf, errlen)) !=
	    KSINK_OK) {
		db_rollback(s);
		return rc;
	}
	return KSINK_OK;
}

/*
 * A request answered 2xx is settled (its intent deleted and its
 * partition's next offset raised past it, in one transaction) in the
 * ledger's next transaction rather than in one of its own: that of the
 * next intent, of commit(), or of the assignment.  Until then its intent
 * is in the ledger, and a crash leaves it in doubt: it is sent again under
 * its key, as a request whose answer was lost would be.  The fence (in
 * memory) skips its records meanwhile.  -1: out of memory.
 */
int
ledger_delivered(struct sink *s, int64_t id, struct ks_offcache_entry *f,
    int64_t next)
{
	struct settle *v;
	size_t cap;

	if (s->nsettles == s->settles_cap) {
		cap = s->settles_cap ? 2 * s->settles_cap : 16;
		if ((v = realloc(s->settles, cap * sizeof(*v))) == NULL)
			return -1;
		s->settles = v;
		s->settles_cap = cap;
	}
	s->settles[s->nsettles].id = id;
	s->settles[s->nsettles].f = f;
	s->settles[s->nsettles].next = next;
	s->nsettles++;
	return 0;
}

/* Within a transaction: settles the delivered requests.  The caller
 * empties the list once the transaction is committed. */
int
ledger_settle_rows(struct sink *s, char *errbuf, size_t errlen)
{
	struct settle *t;
	size_t i;
	int rc;

	for (i = 0; i < s->nsettles; i++) {
		t = &s->settles[i];
		sqlite3_bind_int64(s->st_drop, 1, t->id);
		rc = sqlite3_step(s->st_drop);
		sqlite3_reset(s->st_drop);
		if (rc != SQLITE_DONE)
			return db_fail(s, "settling a request's intent", errbuf,
			    errlen);
		if ((rc = ledger_advance(s, t->f->topic, t->f->partition,
		    t->next, errbuf, errlen)) != KSINK_OK)
			return rc;
	}
	return KSINK_OK;
}

/* Settles the delivered requests in a transaction of their own. */
int
ledger_flush(struct sink *s, char *errbuf, size_t errlen)
{
	int rc;

	if (s->db == NULL || s->nsettles == 0)
		return KSINK_OK;
	if ((rc = db_step(s, s->st_begin, "BEGIN IMMEDIATE", errbuf,
	    errlen)) != KSINK_OK)
		return rc;
	if ((rc = ledger_settle_rows(s, errbuf, errlen)) != KSINK_OK ||
	    (rc = db_step(s, s->st_commit, "COMMIT", errbuf, errlen)) !=
	    KSINK_OK) {
		db_rollback(s);
		return rc;
	}
	s->nsettles = 0;
	return KSINK_OK;
}

/*
 * Fences: the next offset of each partition, cached.
 */

/* The cached fence of a partition, read from the ledger the first time. */
int
fence_get(struct sink *s, const char *topic, int32_t partition,
    struct ks_offcache_entry **out, char *errbuf, size_t errlen)
{
	int64_t next = KSINK_OFFSET_NONE;
	int rc;

	if ((*out = ks_offcache_find(&s->fences, topic, partition)) != NULL)
		return KSINK_OK;
	if (s->db != NULL &&
	    (rc = ledger_get(s, topic, partition, &next, errbuf, errlen)) !=
	    KSINK_OK)
		return rc;
	if ((*out = ks_offcache_add(&s->fences, topic, partition, next)) ==
	    NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return KSINK_FATAL;
	}
	return KSINK_OK;
}

void
fence_raise(struct ks_offcache_entry *f, int64_t next)
{
	if (f->next == KSINK_OFFSET_NONE || next > f->next)
		f->next = next;
}
