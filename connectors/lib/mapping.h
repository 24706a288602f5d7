/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/mapping.h - the table mapping of the SQL sinks, after
 * Kafka Connect's JDBC sink (ksink-mapping(7)): its options under a sink's
 * prefix, the rules that span them, a record's schemaless JSON key and
 * value turned into named column values, the type of each value, the
 * SQL text of each dialect, and the reduction of a batch that repeats a
 * key.  Nothing here talks to a database: the sinks run the text.
 */
#ifndef KS_MAPPING_H
#define KS_MAPPING_H

#include <stddef.h>
#include <stdint.h>

#include "ksink/sink.h"

#include "buf.h"

enum ks_mapping_insert { KS_MAP_INSERT, KS_MAP_UPSERT, KS_MAP_UPDATE };
enum ks_mapping_pk {
	KS_MAP_PK_NONE, KS_MAP_PK_KAFKA, KS_MAP_PK_RECORD_KEY,
	KS_MAP_PK_RECORD_VALUE
};
enum ks_mapping_dialect { KS_MAP_SQLITE, KS_MAP_POSTGRES };

/*
 * The type of a value, and the class of a column (KS_MAP_T_ANY: a column
 * whose declared type accepts anything, such as SQLite's BLOB or no
 * type).  KS_MAP_T_NULL is a JSON null: it fits every nullable column
 * and creates none.  The types after KS_MAP_T_ANY come from a schema
 * (struct ksink_field) only: a schemaless value is one of the first six.
 * KS_MAP_T_INTEGER is a 64-bit integer, KS_MAP_T_NUMBER a double.
 */
enum ks_mapping_type {
	KS_MAP_T_NULL, KS_MAP_T_INTEGER, KS_MAP_T_NUMBER, KS_MAP_T_BOOLEAN,
	KS_MAP_T_STRING, KS_MAP_T_JSON, KS_MAP_T_ANY,
	KS_MAP_T_INT32, KS_MAP_T_FLOAT32, KS_MAP_T_DECIMAL, KS_MAP_T_DATE,
	KS_MAP_T_TIME, KS_MAP_T_TIMESTAMP, KS_MAP_T_UUID, KS_MAP_T_BYTES
};

/* What a value can do to a column (ks_mapping_fits). */
enum ks_mapping_fit {
	KS_MAP_FIT,	/* stored as is */
	KS_MAP_RETYPE,	/* the column would have to become wider: a stop */
	KS_MAP_MISFIT	/* this value cannot be stored there: poison */
};

/* The options of the mapping under a sink's prefix P ("sqlite"), for the
 * sink's option table.  None has a default in the table, so that the
 * sink can tell whether any is set (ks_mapping_wanted); the defaults the
 * docs state are applied by ks_mapping_conf. */
#define KS_MAPPING_OPTIONS(P) \
	{ .name = P ".table.name.format", .type = KSINK_OPT_STRING, \
	  .doc = "Mapping mode (ksink-mapping(7)): the table a record " \
	  "goes to; ${topic} is replaced by the record's topic.  " \
	  "Default: ${topic}." }, \
	{ .name = P ".insert.mode", .type = KSINK_OPT_ENUM, \
	  .values = "insert|upsert|update", \
	  .doc = "Mapping mode: insert adds a row per record, upsert " \
	  "inserts or updates the row of the record's key, update " \
	  "updates it only.  Default: insert." }, \
	{ .name = P ".pk.mode", .type = KSINK_OPT_ENUM, \
	  .values = "none|kafka|record_key|record_value", \
	  .doc = "Mapping mode: where the primary key comes from: " \
	  "nowhere, the record's topic, partition and offset, the " \
	  "record's key, or fields of its value.  Default: none." }, \
	{ .name = P ".pk.fields", .type = KSINK_OPT_STRING, \
	  .doc = "Mapping mode: the primary key's columns, separated by " \
	  "commas; see ksink-mapping(7) for each pk.mode." }, \
	{ .name = P ".fields.include", .type = KSINK_OPT_STRING, \
	  .doc = "Mapping mode: the only value fields written, separated " \
	  "by commas (after flatten).  Default: all." }, \
	{ .name = P ".fields.exclude", .type = KSINK_OPT_STRING, \
	  .doc = "Mapping mode: value fields never written, separated by " \
	  "commas (after flatten)." }, \
	{ .name = P ".delete.enabled", .type = KSINK_OPT_BOOL, \
	  .doc = "Mapping mode: a tombstone (a null value) deletes the " \
	  "row of its key; needs pk.mode record_key.  Default: false." }, \
	{ .name = P ".auto.create", .type = KSINK_OPT_BOOL, \
	  .doc = "Mapping mode: create a missing table, with columns " \
	  "typed from the record (ksink-mapping(7)).  Default: false." }, \
	{ .name = P ".auto.evolve", .type = KSINK_OPT_BOOL, \
	  .doc = "Mapping mode: add a nullable column for a field the " \
	  "table lacks; never drops or retypes one.  Default: false." }, \
	{ .name = P ".flatten", .type = KSINK_OPT_BOOL, \
	  .doc = "Mapping mode: nested objects become columns named " \
	  "outer, delimiter, inner; otherwise an object is stored as " \
	  "its JSON text.  Default: false." }, \
	{ .name = P ".flatten.delimiter", .type = KSINK_OPT_STRING, \
	  .doc = "Mapping mode: what joins the names of nested fields " \
	  "with flatten.  Default: _." }, \
	{ .name = P ".quote.identifiers", .type = KSINK_OPT_BOOL, \
	  .doc = "Mapping mode: quote table and column names, so that " \
	  "mixed case and reserved words are kept exactly; when off, a " \
	  "name must be a plain identifier.  Default: true." }

/* The mapping's options, read and checked. */
struct ks_mapping {
	int dialect;		/* enum ks_mapping_dialect */
	char *table_format;
	int insert_mode;	/* enum ks_mapping_insert */
	int pk_mode;		/* enum ks_mapping_pk */
	char **pk_fields;
	size_t npk_fields;
	char **include, **exclude;
	size_t ninclude, nexclude;
	int delete_enabled, auto_create, auto_evolve, flatten, quote;
	char *delimiter;
};

/* One column value of a row.  Strings are decoded UTF-8 (never holding
 * NUL), JSON is compact text, numbers keep their JSON text (a float's
 * "NaN", "Infinity" or "-Infinity" too), BYTES are the decoded bytes,
 * the other types of a schema their ISO text ("-12.30", "2024-02-29"). */
struct ks_mapping_col {
	const char *name;
	int type;		/* enum ks_mapping_type; NULL for a null */
	const char *text;	/* all but NULL and BOOLEAN */
	size_t len;
	int64_t i;		/* INTEGER, INT32, BOOLEAN (0 or 1) */
	double d;		/* NUMBER, FLOAT32, INTEGER, INT32 */
	int pk;
	/* The column a table gets for it: without a schema the value's
	 * type (NULL: none), with one the field's, NOT NULL when the field
	 * is required, and the field's default (JSON, or NULL). */
	int decl;		/* enum ks_mapping_type */
	int notnull;
	int32_t precision, scale;	/* KS_MAP_T_DECIMAL */
	const char *def;
};

enum ks_mapping_op { KS_MAP_OP_WRITE, KS_MAP_OP_DELETE };

/* One record as a row of a table: the primary key's columns first. */
struct ks_mapping_row {
	size_t index;		/* the record's index in its batch */
	int op;			/* enum ks_mapping_op */
	char *table;
	struct ks_mapping_col *cols;
	size_t ncols, npk, cap;
	struct ks_buf arena;	/* the names and the texts */
};

/* Whether any of the mapping's options is set under prefix. */
int	ks_mapping_wanted(const struct ksink_host *, struct ksink_ctx *,
	    const char *prefix);
/* Reads the options under prefix into m; KSINK_CONFIG naming the option
 * whose value cannot work with the others (the first of
 * ks_mapping_check's findings), KSINK_FATAL when out of memory. */
int	ks_mapping_conf(struct ks_mapping *m, const struct ksink_host *,
	    struct ksink_ctx *, const char *prefix, int dialect, char *errbuf,
	    size_t errlen);
/* For check(): reports through host->report() every combination of the
 * options under prefix that cannot work; KSINK_CONFIG when any. */
int	ks_mapping_check(const struct ksink_host *, struct ksink_ctx *,
	    const char *prefix);
void	ks_mapping_free(struct ks_mapping *);
/* Whether s is one of v[0..n). */
int	ks_mapping_in_list(char *const *v, size_t n, const char *s);

/* The schemas of a record's key and value (NULL, 0: none), from its
 * converters (ksink-converters(7)). */
struct ks_mapping_schema {
	const struct ksink_field *key, *value;
	size_t nkey, nvalue;
};

/* The schemas host->decoded() gives for r (none when the host predates
 * ABI 1.3 or the record has no converter): call it from write() only. */
void	ks_mapping_schema_get(const struct ksink_host *, struct ksink_ctx *,
	    const struct ksink_record *r, struct ks_mapping_schema *);

/*
 * Turns record r (index i of its batch) into row (reset first): the table
 * name, the op, and the columns.  With schema s (or NULL), every field of
 * the schema becomes a column typed by the schema, present or null;
 * without, the types are the JSON values'.  KSINK_POISON with errbuf
 * naming the record and the field, KSINK_FATAL when out of memory.
 */
int	ks_mapping_row(const struct ks_mapping *, const struct ksink_record *r,
	    size_t i, struct ks_mapping_row *row, char *errbuf, size_t errlen);
int	ks_mapping_row_schema(const struct ks_mapping *,
	    const struct ksink_record *r, const struct ks_mapping_schema *s,
	    size_t i, struct ks_mapping_row *row, char *errbuf, size_t errlen);
void	ks_mapping_row_free(struct ks_mapping_row *);

/* The rows of a sink's batches, kept from one write() to the next. */
struct ks_mapping_rows {
	struct ks_mapping_row *v;
	size_t n;
};
/* Makes rows hold at least n (new ones zeroed); -1 when out of memory. */
int	ks_mapping_rows_grow(struct ks_mapping_rows *, size_t n);
void	ks_mapping_rows_free(struct ks_mapping_rows *);
/* A column of row by name (in the dialect's comparison), or NULL. */
struct ks_mapping_col *ks_mapping_row_col(const struct ks_mapping *,
	    struct ks_mapping_row *, const char *name);

/* "topic/partition@offset" of r, in buf, for the messages. */
const char *ks_mapping_where(const struct ksink_record *r, char *buf,
	    size_t len);

/* Whether two names are the same identifier in the dialect: SQLite's
 * names ignore ASCII case; PostgreSQL's quoted names are exact, and its
 * unquoted names (quote.identifiers off) fold to lower case. */
int	ks_mapping_same_name(const struct ks_mapping *, const char *,
	    const char *);

/*
 * Reduction of one batch: rows[0..n) of the same batch, in order.  Sets
 * *out to rows to apply in their stead (pointers to rows[] or to rows
 * the reduction made, which ks_mapping_reduce_free releases) and *nout.
 * Applying *out gives what applying rows[] in order gives.  Rows are only
 * reduced in upsert and update modes with a key; otherwise *out is rows[]
 * in order.  KSINK_FATAL when out of memory.
 */
struct ks_mapping_reduced {
	struct ks_mapping_row **v;
	size_t n;
	struct ks_mapping_row *made;
	size_t nmade;
};
int	ks_mapping_reduce(const struct ks_mapping *, struct ks_mapping_row *rows,
	    size_t n, struct ks_mapping_reduced *out);
void	ks_mapping_reduce_free(struct ks_mapping_reduced *);

/* mapsql.c: the dialects. */

/* The name of a type in a message, and as a column's type in the
 * dialect's CREATE TABLE (KS_MAP_T_DECIMAL: without its precision). */
const char *ks_mapping_type_name(int type);
const char *ks_mapping_sql_type(int dialect, int type);
/* Appends the type of the column made for c (c->decl, with a decimal's
 * precision and scale). */
void	ks_mapping_sql_coltype(struct ks_buf *, int dialect,
	    const struct ks_mapping_col *c);
/* The schema's type of field f as a mapping type. */
int	ks_mapping_field_type(const struct ksink_field *f);
/* Decodes the JSON string text[0..n) (quotes included) into o; -1 when
 * it is not one JSON string, or holds U+0000. */
int	ks_mapping_json_string(struct ks_buf *o, const char *text, size_t n);
/* The class of a column from its declared type in the dialect. */
int	ks_mapping_class(int dialect, const char *decl);
/* What a class after KS_MAP_T_ANY was before schemas (as a JSON value
 * sees it): integer, number or any. */
int	ks_mapping_json_class(int ct);
/* What a value of type vt does to a column of class ct. */
int	ks_mapping_fits(int vt, int ct);
/* Whether name can be written as an identifier without quotes:
 * [A-Za-z_][A-Za-z0-9_]*. */
int	ks_mapping_plain(const char *name);
/* Appends name as an identifier: quoted (always, when quote is set) or as
 * it is; -1 when it cannot be written unquoted. */
int	ks_mapping_ident(struct ks_buf *, const struct ks_mapping *,
	    const char *name);
/* Appends a table's name: as ks_mapping_ident, but for PostgreSQL a name
 * "schema.table" is split at its first dot, each part quoted. */
void	ks_mapping_table_ident(struct ks_buf *, const struct ks_mapping *,
	    const char *name);
/*
 * The statements of a row's table and columns, appended to b.  Parameter
 * k (1-based) is always column k-1 of the row, in both dialects ("?k" or
 * "$k"), so one binding serves every statement.  DDL: CREATE TABLE with
 * the columns whose decl is not null (the key NOT NULL, as PRIMARY KEY;
 * with a schema, required fields NOT NULL and defaults as DEFAULT) and
 * ALTER TABLE ADD COLUMN (nullable, with its DEFAULT) for column k.  The
 * caller checks b->oom.
 */
void	ks_mapping_sql_create(struct ks_buf *b, const struct ks_mapping *,
	    const struct ks_mapping_row *);
void	ks_mapping_sql_add_column(struct ks_buf *b, const struct ks_mapping *,
	    const char *table, const struct ks_mapping_col *);
/* The DML of row: insert, upsert or update by insert.mode for a write,
 * delete by key for a delete. */
void	ks_mapping_sql_dml(struct ks_buf *b, const struct ks_mapping *,
	    const struct ks_mapping_row *, int op);
/* The statement cache's key of that DML: op, table and column names. */
void	ks_mapping_sql_key(struct ks_buf *b, const struct ks_mapping_row *,
	    int op);

/* mapfit.c: a row fitted to its table. */

/* A column of a table as the database has it. */
struct ks_mapping_tcol {
	char *name;
	char *decl;		/* its declared type, "" for none */
	int cls;		/* enum ks_mapping_type */
};

struct ks_mapping_table {
	char *name;		/* as the rows name it */
	int exists;		/* -1: unknown, read again */
	struct ks_mapping_tcol *cols;
	size_t ncols;
};

/* The tables a sink knows, read once each until it forgets them. */
struct ks_mapping_tables {
	struct ks_mapping_table *v;
	size_t n;
};

/* What a sink gives ks_mapping_fit(): its database's side. */
struct ks_mapping_db {
	const struct ks_mapping *m;
	const char *prefix;	/* "sqlite", for the messages */
	const char *where;	/* the database, for the messages */
	struct ks_mapping_tables *tables;
	struct ks_buf *sql;	/* scratch for the DDL's text */
	void *arg;
	/* Reads the columns of t->name into t (empty on entry); a table
	 * that does not exist leaves t->exists 0. */
	int	(*read)(void *arg, struct ks_mapping_table *t, char *errbuf,
		    size_t errlen);
	/* NULL, or takes the lock under which the table's DDL runs (until
	 * the transaction ends); t is read again after it. */
	int	(*lock)(void *arg, struct ks_mapping_table *t, char *errbuf,
		    size_t errlen);
	/* Runs DDL text in the open transaction. */
	int	(*ddl)(void *arg, const char *sql, char *errbuf,
		    size_t errlen);
	/* NULL, or called for each value that fits its column. */
	int	(*value)(void *arg, struct ks_mapping_col *,
		    const struct ks_mapping_tcol *, char *errbuf,
		    size_t errlen);
	/* NULL, or logs what another session made meanwhile. */
	void	(*log)(void *arg, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));
};

/* What db knows of table name, read through db->read the first time. */
int	ks_mapping_table_get(struct ks_mapping_db *db, const char *name,
	    struct ks_mapping_table **, char *errbuf, size_t errlen);
int	ks_mapping_tcol_add(struct ks_mapping_table *, int dialect,
	    const char *name, const char *decl);
void	ks_mapping_table_clear(struct ks_mapping_table *);
void	ks_mapping_tables_free(struct ks_mapping_tables *);
/*
 * Makes the table of row fit it: creates it (auto.create), adds the
 * columns it lacks (auto.evolve), leaves out the null fields it has no
 * column for, and checks every value against its column.  A delete on a
 * table that does not exist sets *skip.  KSINK_POISON for a value its
 * column cannot store, KSINK_FATAL for a stop (errbuf naming record r
 * and the field or column), or the failure of db's functions.
 */
int	ks_mapping_fit(struct ks_mapping_db *db, struct ks_mapping_row *row,
	    const struct ksink_record *r, int *skip, char *errbuf,
	    size_t errlen);

/*
 * mapopen.c: at open, without auto.create, the table of a fixed
 * table.name.format, or those that records of the topics listed by name
 * in `topics` go to, must exist (read through db); KSINK_CONFIG naming
 * the first that does not, with the CREATE TABLE that auto.create would
 * run, or the failure of db->read.
 */
int	ks_mapping_tables_exist(struct ks_mapping_db *db,
	    const struct ksink_host *, struct ksink_ctx *, char *errbuf,
	    size_t errlen);

#endif
