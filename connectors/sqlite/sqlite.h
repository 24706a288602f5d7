/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/sqlite/sqlite.h - what the SQLite sink's files share: the
 * sink's state, the user's statements, and the functions of sql.c that
 * read, prepare and run them.  Private to the plugin.
 */
#ifndef KS_SQLITE_H
#define KS_SQLITE_H

#include <stddef.h>

#include <sqlite3.h>

#include "ksink/sink.h"

#include "../lib/buf.h"
#include "../lib/offcache.h"
#include "../lib/sqloffsets.h"

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

/* The parameter name of each field, without its ':'. */
extern const char *const sql_field_names[F_COUNT];

/* How a failed SQLite call is reported to the worker: a KSINK_ code. */
int	sql_classify(int rc);
/* Runs one internal statement that takes no parameters. */
int	sql_step_once(sqlite3_stmt *st);
/* Runs the statements of a set for one record: a KSINK_ code. */
int	sql_run_set(struct sink *sq, struct stmt_set *set,
	    const struct ksink_record *r, char *errbuf, size_t errlen);
void	sql_set_free(struct stmt_set *set);
/* Prepares every statement of sql on db (see sql.c for certain). */
int	sql_prepare_set(sqlite3 *db, struct stmt_set *set, const char *option,
	    const char *sql, int certain, char *errbuf, size_t errlen);
/* Whether db's last error is one of SQL syntax. */
int	sql_syntax_error(sqlite3 *db);

#endif
