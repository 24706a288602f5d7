/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/bench/sqlite_limit.c - the SQLite limit of `make bench`: what
 * SQLite itself takes on this machine for the rows the SQLite sink writes.
 *
 * usage: sqlite_limit -t TOPIC -i INIT -s STATEMENT [-b BATCH]
 *                     [-y full|normal] DATABASE RECORDS
 *
 * Reads RECORDS (tests/bench/limit.c) into memory, opens DATABASE as the
 * sink does (WAL, PRAGMA synchronous=FULL unless -y normal), runs INIT,
 * prepares STATEMENT once, and then, timed, inserts the records: BEGIN
 * IMMEDIATE, BATCH records (default 5,000; the bench gives the worker's
 * batch.max.records) each bound and stepped, COMMIT, again until the end.  The named parameters
 * :topic, :partition, :offset, :timestamp, :key, :value and :headers (or
 * @name, $name) are bound as the sink binds them: a key or value that is
 * UTF-8 as text, otherwise as a blob (decided before timing); the records
 * carry no headers, so :headers is null.  No offsets are stored and
 * nothing else is read: the loop is SQLite's work alone.  It prints
 * "rows N seconds S cpu C" for the timed loop (ks_limit_report); the
 * database is closed after it, untimed, as the sink's is after its run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/err.h"
#include "lib/utf8.h"
#include "limit.h"

enum field { F_TOPIC, F_PARTITION, F_OFFSET, F_TIMESTAMP, F_KEY, F_VALUE,
    F_HEADERS };

static const char *const field_names[] = {
	"topic", "partition", "offset", "timestamp", "key", "value", "headers"
};

/* Per record: key and value are text (bit 0 and bit 1). */
#define KEY_TEXT	1
#define VALUE_TEXT	2

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: sqlite_limit -t TOPIC -i INIT -s STATEMENT "
	    "[-b BATCH] [-y full|normal] DATABASE RECORDS\n");
	exit(2);
}

static int
exec(sqlite3 *db, const char *what, const char *sql, char *errbuf,
    size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s: %s", what, msg ? msg :
		    sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* The field of each parameter of st, as the sink maps them. */
static int
map_params(sqlite3_stmt *st, enum field *fields, char *errbuf,
    size_t errlen)
{
	const char *name;
	int i, n, f;

	n = sqlite3_bind_parameter_count(st);
	for (i = 1; i <= n; i++) {
		if ((name = sqlite3_bind_parameter_name(st, i)) == NULL) {
			ks_err_set(errbuf, errlen, "the statement has a "
			    "positional parameter (?); name it :topic, "
			    ":partition, :offset, :timestamp, :key, :value or "
			    ":headers");
			return -1;
		}
		for (f = 0; f <= F_HEADERS; f++)
			if (strcmp(name + 1, field_names[f]) == 0)
				break;
		if (f > F_HEADERS) {
			ks_err_set(errbuf, errlen, "the statement has the "
			    "parameter %s, which is not a field of a record",
			    name);
			return -1;
		}
		fields[i - 1] = (enum field)f;
	}
	return n;
}

/* A key or a value: null, text when UTF-8, a blob otherwise. */
static int
bind_bytes(sqlite3_stmt *st, int i, const void *p, size_t len, int text)
{
	if (p == NULL)
		return sqlite3_bind_null(st, i);
	if (text)
		return sqlite3_bind_text64(st, i, p, len, SQLITE_STATIC,
		    SQLITE_UTF8);
	return sqlite3_bind_blob64(st, i, p, len, SQLITE_STATIC);
}

static int
bind(sqlite3_stmt *st, const enum field *fields, int n,
    const struct ksink_record *r, unsigned char text)
{
	int i, rc = SQLITE_OK;

	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		switch (fields[i]) {
		case F_TOPIC:
			rc = sqlite3_bind_text(st, i + 1, r->topic, -1,
			    SQLITE_STATIC);
			break;
		case F_PARTITION:
			rc = sqlite3_bind_int(st, i + 1, r->partition);
			break;
		case F_OFFSET:
			rc = sqlite3_bind_int64(st, i + 1, r->offset);
			break;
		case F_TIMESTAMP:
			rc = r->timestamp == -1 ? sqlite3_bind_null(st, i + 1) :
			    sqlite3_bind_int64(st, i + 1, r->timestamp);
			break;
		case F_KEY:
			rc = bind_bytes(st, i + 1, r->key, r->key_len,
			    text & KEY_TEXT);
			break;
		case F_VALUE:
			rc = bind_bytes(st, i + 1, r->value, r->value_len,
			    text & VALUE_TEXT);
			break;
		case F_HEADERS:
			rc = sqlite3_bind_null(st, i + 1);
			break;
		}
	}
	return rc;
}

/* The timed loop: every record, batch records per transaction. */
static int
insert_all(sqlite3 *db, sqlite3_stmt *st, const enum field *fields,
    int nparams, const struct ks_limit_records *rs,
    const unsigned char *text, size_t batch, char *errbuf, size_t errlen)
{
	sqlite3_stmt *begin, *commit;
	size_t i, j;
	int rc;

	if (sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) !=
	    SQLITE_OK || sqlite3_prepare_v2(db, "COMMIT", -1, &commit,
	    NULL) != SQLITE_OK) {
		ks_err_set(errbuf, errlen, "%s", sqlite3_errmsg(db));
		return -1;
	}
	for (i = j = 0; i < rs->n; i = j) {
		if ((rc = sqlite3_step(begin)) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(begin);
		for (j = i; j < rs->n && j - i < batch; j++) {
			if ((rc = bind(st, fields, nparams, &rs->v[j],
			    text[j])) != SQLITE_OK)
				goto fail;
			while ((rc = sqlite3_step(st)) == SQLITE_ROW)
				;
			if (rc != SQLITE_DONE)
				goto fail;
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
		}
		if ((rc = sqlite3_step(commit)) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(commit);
	}
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	return 0;
fail:
	ks_err_set(errbuf, errlen, "record %zu (partition %d, offset %lld): "
	    "%s", j, (int)rs->v[j < rs->n ? j : i].partition,
	    (long long)rs->v[j < rs->n ? j : i].offset, sqlite3_errmsg(db));
	sqlite3_finalize(begin);
	sqlite3_finalize(commit);
	return -1;
}

int
main(int argc, char *argv[])
{
	const char *topic = NULL, *init = NULL, *stmt = NULL, *sync = "full";
	struct ks_limit_records rs;
	struct ks_limit_clock clock;
	enum field fields[64];
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	unsigned char *text;
	char errbuf[1024], *end;
	size_t batch = 5000, i;
	int ch, nparams;

	while ((ch = getopt(argc, argv, "b:i:s:t:y:")) != -1) {
		switch (ch) {
		case 'b':
			errno = 0;
			batch = strtoul(optarg, &end, 10);
			if (errno || *end || batch == 0)
				usage();
			break;
		case 'i':
			init = optarg;
			break;
		case 's':
			stmt = optarg;
			break;
		case 't':
			topic = optarg;
			break;
		case 'y':
			sync = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc != 2 || topic == NULL || init == NULL || stmt == NULL ||
	    (strcmp(sync, "full") != 0 && strcmp(sync, "normal") != 0))
		usage();

	if (ks_limit_read(&rs, argv[1], topic, errbuf, sizeof(errbuf)) == -1)
		goto fail;
	if ((text = calloc(rs.n ? rs.n : 1, 1)) == NULL) {
		ks_err_set(errbuf, sizeof(errbuf), "out of memory");
		goto fail;
	}
	for (i = 0; i < rs.n; i++)
		text[i] = (rs.v[i].key && ks_utf8_check(rs.v[i].key,
		    rs.v[i].key_len, 0) ? KEY_TEXT : 0) | (rs.v[i].value &&
		    ks_utf8_check(rs.v[i].value, rs.v[i].value_len, 0) ?
		    VALUE_TEXT : 0);

	if (sqlite3_open_v2(argv[0], &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		ks_err_set(errbuf, sizeof(errbuf), "%s: %s", argv[0],
		    db ? sqlite3_errmsg(db) : "cannot open");
		goto fail;
	}
	if (exec(db, "PRAGMA journal_mode", "PRAGMA journal_mode=WAL", errbuf,
	    sizeof(errbuf)) == -1 || exec(db, "PRAGMA synchronous",
	    strcmp(sync, "normal") == 0 ? "PRAGMA synchronous=NORMAL" :
	    "PRAGMA synchronous=FULL", errbuf, sizeof(errbuf)) == -1 ||
	    exec(db, "-i", init, errbuf, sizeof(errbuf)) == -1)
		goto fail;
	if (sqlite3_prepare_v2(db, stmt, -1, &st, NULL) != SQLITE_OK) {
		ks_err_set(errbuf, sizeof(errbuf), "-s: %s", sqlite3_errmsg(db));
		goto fail;
	}
	if (sqlite3_bind_parameter_count(st) > (int)(sizeof(fields) /
	    sizeof(fields[0]))) {
		ks_err_set(errbuf, sizeof(errbuf), "-s: more than %zu "
		    "parameters", sizeof(fields) / sizeof(fields[0]));
		goto fail;
	}
	if ((nparams = map_params(st, fields, errbuf, sizeof(errbuf))) == -1)
		goto fail;

	ks_limit_start(&clock);
	if (insert_all(db, st, fields, nparams, &rs, text, batch, errbuf,
	    sizeof(errbuf)) == -1)
		goto fail;
	ks_limit_report(&clock, rs.n, "sqlite");

	sqlite3_finalize(st);
	if (sqlite3_close(db) != SQLITE_OK) {
		ks_err_set(errbuf, sizeof(errbuf), "%s: closing: %s", argv[0],
		    sqlite3_errmsg(db));
		goto fail;
	}
	free(text);
	ks_limit_free(&rs);
	return 0;
fail:
	fprintf(stderr, "sqlite_limit: %s\n", errbuf);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 1;
}
