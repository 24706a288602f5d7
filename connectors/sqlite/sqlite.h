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
#include "../lib/mapping.h"
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

/* The table mapping (map.c). */
struct map_stmt {
	char *key;		/* ks_mapping_sql_key */
	sqlite3_stmt *st;
};

struct map {
	struct ks_mapping m;
	struct ks_mapping_rows rows;
	struct ks_mapping_tables tables;	/* known in this transaction */
	struct ks_mapping_db db;
	struct map_stmt *stmts;
	size_t nstmts;
	sqlite3_stmt *info;	/* the columns of a table */
	sqlite3_stmt *sp, *sp_release, *sp_rollback;
	struct ks_buf sql;
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

	struct map *map;	/* the table mapping, when it is used */
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

/* The fence entry of a record's partition, read once per transaction;
 * NULL with *rcp set when it cannot be read. */
struct ks_offcache_entry *fence_get(struct sink *sq,
	    const struct ksink_record *r, int *rcp);

/* map.c: the table mapping mode (ksink-mapping(7)). */
int	map_open(struct sink *sq, char *errbuf, size_t errlen);
/* Forgets what it knows of the tables: at begin and abort. */
void	map_forget(struct sink *sq);
int	map_write(struct sink *sq, const struct ksink_record *records,
	    size_t count, size_t *n_done, char *errbuf, size_t errlen);
void	map_close(struct sink *sq);

#endif
