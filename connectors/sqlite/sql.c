/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/sqlite/sql.c - the SQLite sink's statements: reading the
 * SQL options, preparing them with their named parameters mapped to the
 * record's fields, and running them for one record, with a record's
 * failure told apart from the statement's.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "../lib/envelope.h"
#include "../lib/err.h"
#include "../lib/sqltext.h"
#include "../lib/utf8.h"
#include "sqlite.h"

const char *const sql_field_names[F_COUNT] = {
	"topic", "partition", "offset", "timestamp", "key", "value", "headers"
};

/*
 * How a failed SQLite call is reported to the worker.  SQLITE_ERROR from
 * a statement step is an error caused by the record (json_extract() of
 * malformed JSON, a failed CAST, RAISE() in a trigger); write() checks
 * separately that the statement itself still compiles.
 */
int
sql_classify(int rc)
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
int
sql_step_once(sqlite3_stmt *st)
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
	int status = sql_classify(rc);
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
int
sql_run_set(struct sink *sq, struct stmt_set *set, const struct ksink_record *r,
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

	if (set->savepoint && (rc = sql_step_once(sq->sp)) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "SAVEPOINT: %s", sqlite3_errmsg(sq->db));
		return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY : KSINK_FATAL;
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
		if (set->savepoint && (rc = sql_step_once(sq->sp_release)) !=
		    SQLITE_OK) {
			ks_err_set(errbuf, errlen, "RELEASE: %s",
			    sqlite3_errmsg(sq->db));
			return sql_classify(rc) == KSINK_RETRY ? KSINK_RETRY :
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
	if (set->savepoint && (sql_step_once(sq->sp_rollback) != SQLITE_OK ||
	    sql_step_once(sq->sp_release) != SQLITE_OK)) {
		ks_err_set(errbuf, errlen, "ROLLBACK TO SAVEPOINT: %s",
		    sqlite3_errmsg(sq->db));
		return KSINK_FATAL;
	}
	return KSINK_POISON;
}

void
sql_set_free(struct stmt_set *set)
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

/* Statements that control the transaction ksink owns. */
static const char *const sql_forbidden[] = {
	"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE", "ATTACH",
	"DETACH", "VACUUM", NULL
};

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
			    sql_field_names[f]) == 0)
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

/*
 * Whether the last error on db is one of SQL syntax, which no schema can
 * cure (as opposed to "no such table", which the real database may not
 * give).
 */
int
sql_syntax_error(sqlite3 *db)
{
	const char *m = sqlite3_errmsg(db);

	return (sqlite3_errcode(db) & 0xff) == SQLITE_ERROR &&
	    (strncmp(m, "near \"", 6) == 0 ||
	    strncmp(m, "unrecognized token", 18) == 0 ||
	    strcmp(m, "incomplete input") == 0);
}

/*
 * Prepares every statement of sql, in order, on db.  With certain set (by
 * check(), on a scratch database) a statement that does not compile for
 * another reason than its syntax ends the work quietly: the tables it
 * needs may exist in the real database.
 */
int
sql_prepare_set(sqlite3 *db, struct stmt_set *set, const char *option,
    const char *sql, int certain, char *errbuf, size_t errlen)
{
	struct stmt *v;
	sqlite3_stmt *st;
	const char *tail, *word;
	int rc, status;

	set->option = option;
	while (*sql) {
		st = NULL;
		rc = sqlite3_prepare_v3(db, sql, -1,
		    SQLITE_PREPARE_PERSISTENT, &st, &tail);
		if (rc != SQLITE_OK) {
			if (certain && !sql_syntax_error(db))
				return KSINK_OK;
			ks_err_set(errbuf, errlen, "%s: statement %d: %s", option,
			    set->n + 1, sqlite3_errmsg(db));
			return sql_classify(rc) == KSINK_POISON ? KSINK_CONFIG :
			    KSINK_FATAL;
		}
		if (st == NULL)
			break; /* only white space or comments were left */
		sql = tail;
		if ((word = ks_sqltext_keyword(sql_skip(sqlite3_sql(st)),
		    sql_forbidden)) != NULL) {
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
