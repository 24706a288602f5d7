/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/stmt.h - the SQL text of postgres.statement and
 * friends: split into statements, named parameters (:topic, :value, ...)
 * turned into PostgreSQL's $n, without a server.
 */
#ifndef KS_PG_STMT_H
#define KS_PG_STMT_H

#include <stddef.h>

/* Record fields that a statement can bind, by parameter name. */
enum pg_field {
	PG_F_TOPIC,
	PG_F_PARTITION,
	PG_F_OFFSET,
	PG_F_TIMESTAMP,
	PG_F_KEY,
	PG_F_VALUE,
	PG_F_HEADERS,
	PG_F_COUNT
};

extern const char *const pg_field_names[PG_F_COUNT];

/* One statement with its parameters numbered $1..$nparams. */
struct pg_stmt_text {
	char *sql;		/* with $n in place of :name */
	int nparams;
	int field[PG_F_COUNT];	/* field of $i+1 */
};

/* The statements of one option. */
struct pg_stmt_list {
	struct pg_stmt_text *v;
	int n;
};

/*
 * Splits sql at top-level semicolons and maps the named parameters.
 * Returns 0, or -1 with errbuf saying what is wrong (an unknown
 * parameter, a positional one, a statement that controls the
 * transaction, nothing but comments).
 */
int	pg_stmt_parse(const char *sql, struct pg_stmt_list *, char *errbuf,
	    size_t errlen);
void	pg_stmt_free(struct pg_stmt_list *);

/* Whether name is a table name ksink may quote into SQL as it is:
 * identifiers, optionally schema-qualified, optionally double-quoted. */
int	pg_stmt_valid_table(const char *name);

/* What COPY can do with a statement (classify.c). */
enum pg_copy_kind {
	PG_COPY_NONE,		/* not plain: the pipeline */
	PG_COPY_INSERT,		/* COPY into the table */
	PG_COPY_UPSERT,		/* ON CONFLICT (keys) DO UPDATE SET c =
				 * EXCLUDED.c: a staging table, the last
				 * record of a key wins */
	PG_COPY_NOTHING		/* ON CONFLICT ... DO NOTHING: a staging
				 * table, the first record of a key wins */
};

struct pg_copy_plan {
	enum pg_copy_kind kind;
	char *table;		/* as written: quoted, qualified */
	int ncols;
	char **cols;		/* the columns as written */
	char **names;		/* and as the catalog holds them */
	int *param;		/* the parameter of each column: $param+1 */
	int nkeys;		/* the conflict target, if any */
	char **keys, **keytexts;
	char *tail;		/* "ON CONFLICT ..." as written */
	char reason[128];	/* why it is not plain */
};

/*
 * Whether t (parsed by pg_stmt_parse()) is a plain insert or upsert that
 * COPY can apply.  Returns 0 with cp filled, or -1 with cp->kind
 * PG_COPY_NONE and cp->reason saying why not.
 */
int	pg_copy_classify(const struct pg_stmt_text *t, struct pg_copy_plan *cp);
void	pg_copy_plan_free(struct pg_copy_plan *cp);

#endif
