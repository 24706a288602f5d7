/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/test_sqlite.c - the SQLite sink (connectors/sqlite/sqlite.c),
 * driven through its descriptor and the daemon's host services
 * (src/sink.c) as the daemon drives it: its descriptor, the offsets
 * stored in the batch's transaction and fenced, the database busy,
 * not a database or read-only, reset_offsets() and check().  Results are
 * checked with a separate SQLite connection (tests/unit/sqlite-fx.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "ksink/sink.h"

#include "options.h"
#include "sink.h"
#include "testing.h"

#include "sqlite-fx.h"

static int64_t
stored_offset(struct fx *fx, void *sink, const char *topic, int32_t p)
{
	struct ksink_offset o = { topic, p, KSINK_OFFSET_NONE };
	char err[256];

	assert_int_equal(fx->desc->load_offsets(sink, &o, 1, err,
	    sizeof(err)), KSINK_OK);
	return o.next_offset;
}

static void
test_descriptor(void **state)
{
	struct fx *fx = *state;
	const struct ksink_option *o;

	assert_int_equal(fx->desc->abi_major, KSINK_ABI_MAJOR);
	assert_int_equal(fx->desc->struct_size, sizeof(struct ksink_sink));
	assert_int_equal(fx->desc->caps, KSINK_CAP_ATOMIC_OFFSETS);
	assert_string_equal(fx->desc->name, "sqlite");
	for (o = fx->desc->options; o->name; o++) {
		assert_true(strncmp(o->name, "sqlite.", 7) == 0);
		assert_non_null(o->doc);
	}
	o = fx->desc->options;
	assert_true(ks_options_find(o, "sqlite.path")->flags &
	    KSINK_OPT_REQUIRED);
	assert_string_equal(ks_options_find(o, "sqlite.synchronous")->values,
	    "full|normal");
	assert_int_equal(ks_options_find(o, "sqlite.busy.timeout.ms")->max,
	    600000);
}

static void
test_abort_and_atomic_offsets(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[2] = { rec(0, 0, "a"), rec(0, 1, "b") };
	struct ksink_offset off = { "t", 0, 2 };
	char err[256];
	size_t done;
	void *sink;

	sink = open_ok(fx, &fx->ctx);

	/* Abort: neither the records nor the offsets. */
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 2, &done, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(done, 2);
	fx->desc->abort(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_records"), 0);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_offsets"), 0);
	assert_int_equal(stored_offset(fx, sink, "t", 0), KSINK_OFFSET_NONE);

	/* Until COMMIT another connection sees nothing; then both. */
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 2, &done, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_records"), 0);
	assert_int_equal(fx->desc->commit(sink, &off, 1, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_records"), 2);
	assert_int_equal(q_int(fx, "SELECT next_offset FROM ksink_offsets"), 2);

	/* close() abandons an open step. */
	r[0] = rec(0, 2, "c");
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 1, &done, err, sizeof(err)),
	    KSINK_OK);
	fx->desc->close(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_records"), 2);
}

static void
test_zombie_fence(void **state)
{
	struct fx *fx = *state;
	struct ksink_record ra[10], rb[8];
	struct ksink_offset off = { "t", 0, KSINK_OFFSET_NONE };
	char err[256], buf[128];
	size_t done, i;
	void *a, *b;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE IF NOT EXISTS "
	    "applied(o INTEGER, who TEXT)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO applied VALUES (:offset, :value)");
	a = open_ok(fx, &fx->ctx);
	b = open_ok(fx, &fx->ctx);

	/* Both believe they own the partition and start from nothing. */
	assert_int_equal(stored_offset(fx, a, "t", 0), KSINK_OFFSET_NONE);
	assert_int_equal(stored_offset(fx, b, "t", 0), KSINK_OFFSET_NONE);

	for (i = 0; i < 10; i++)
		ra[i] = rec(0, i, "A");
	apply(fx, a, ra, 10);

	/* B, the zombie, replays 5..12: only 10..12 take effect. */
	for (i = 0; i < 8; i++)
		rb[i] = rec(0, 5 + i, "B");
	assert_int_equal(fx->desc->begin(b, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(b, rb, 8, &done, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(done, 8);
	off.next_offset = 13;
	assert_int_equal(fx->desc->commit(b, &off, 1, err, sizeof(err)),
	    KSINK_OK);

	assert_int_equal(q_int(fx, "SELECT count(*) FROM applied"), 13);
	assert_int_equal(q_int(fx, "SELECT count(DISTINCT o) FROM applied"),
	    13);
	assert_string_equal(q_text(fx, "SELECT group_concat(o || who, ',') "
	    "FROM (SELECT * FROM applied WHERE o >= 8 ORDER BY o)", buf,
	    sizeof(buf)), "8A,9A,10B,11B,12B");
	assert_int_equal(stored_offset(fx, a, "t", 0), 13);

	/* Within one step, a record replayed twice is applied once. */
	rb[0] = rec(0, 13, "B");
	rb[1] = rec(0, 13, "B");
	assert_int_equal(fx->desc->begin(b, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(b, rb, 1, &done, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(fx->desc->write(b, rb + 1, 1, &done, err,
	    sizeof(err)), KSINK_OK);
	off.next_offset = 14;
	assert_int_equal(fx->desc->commit(b, &off, 1, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM applied WHERE "
	    "o = 13"), 1);

	fx->desc->close(a);
	fx->desc->close(b);
}

static void
test_retry_busy(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r = rec(0, 0, "x");
	sqlite3 *other;
	char err[256];
	void *sink;

	ctx_set(&fx->ctx, "sqlite.busy.timeout.ms", "0");
	sink = open_ok(fx, &fx->ctx);
	other = db_open(fx);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "locked"));
	fx->desc->abort(sink);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	apply(fx, sink, &r, 1);
	fx->desc->close(sink);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_records"), 1);
}

static void
test_fatal_not_a_database(void **state)
{
	struct fx *fx = *state;
	char err[512], junk[4096];
	FILE *fp;

	memset(junk, 'x', sizeof(junk));
	assert_non_null(fp = fopen(fx->db, "w"));
	fwrite(junk, 1, sizeof(junk), fp);
	fclose(fp);
	assert_int_equal(open_err(fx, &fx->ctx, err, sizeof(err)),
	    KSINK_FATAL);
	assert_non_null(strstr(err, "not a database"));
	assert_non_null(strstr(err, fx->db));
}

static void
test_fatal_read_only(void **state)
{
	struct fx *fx = *state;
	struct conf c = { .name = "conn" };
	char err[512];
	void *sink;

	/* A new database that cannot be written: fatal at open. */
	ctx_set(&c, "sqlite.path", fx->db);
	ctx_set(&c, "sqlite.init", "PRAGMA query_only = 1");
	assert_int_equal(open_err(fx, &c, err, sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "readonly"));

	/* An existing one: fatal when the batch starts. */
	fx->desc->close(open_ok(fx, &fx->ctx));
	sink = open_ok(fx, &c);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "readonly"));
	fx->desc->abort(sink);
	fx->desc->close(sink);

	/* File permissions (root ignores them). */
	if (geteuid() != 0) {
		assert_int_equal(chmod(fx->db, 0444), 0);
		assert_int_equal(open_err(fx, &fx->ctx, err, sizeof(err)),
		    KSINK_FATAL);
		assert_non_null(strstr(err, "read"));
	}
}

static void
test_load_offsets(void **state)
{
	struct fx *fx = *state;
	struct conf other = { .name = "other" };
	struct ksink_record r[2] = { rec(0, 41, "x"), rec(2, 7, "y") };
	struct ksink_offset o[3] = {
		{ "t", 0, KSINK_OFFSET_NONE },
		{ "t", 1, KSINK_OFFSET_NONE },
		{ "u", 0, KSINK_OFFSET_NONE },
	};
	char err[256];
	void *sink, *sink2;

	sink = open_ok(fx, &fx->ctx);
	apply(fx, sink, r, 2);
	assert_int_equal(fx->desc->load_offsets(sink, o, 3, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(o[0].next_offset, 42);
	assert_int_equal(o[1].next_offset, KSINK_OFFSET_NONE);
	assert_int_equal(o[2].next_offset, KSINK_OFFSET_NONE);
	assert_int_equal(stored_offset(fx, sink, "t", 2), 8);

	/* Offsets belong to one connector. */
	ctx_set(&other, "sqlite.path", fx->db);
	sink2 = open_ok(fx, &other);
	assert_int_equal(stored_offset(fx, sink2, "t", 0), KSINK_OFFSET_NONE);
	fx->desc->close(sink2);
	fx->desc->close(sink);
}

static void
test_commit_never_lowers(void **state)
{
	struct fx *fx = *state;
	struct ksink_offset hi = { "t", 0, 100 }, lo = { "t", 0, 50 },
	    none = { "t", 0, KSINK_OFFSET_NONE };
	char err[256];
	void *sink;

	sink = open_ok(fx, &fx->ctx);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->commit(sink, &hi, 1, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->commit(sink, &lo, 1, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 100);
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->commit(sink, &none, 1, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 100);
	hi.next_offset = 150;
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->commit(sink, &hi, 1, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 150);
	fx->desc->close(sink);
}

/* reset_offsets() (ABI 1.1): lowers, forgets, sets a new partition, and
 * what is applied next follows. */
static void
test_reset_offsets(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[12];
	struct ksink_offset set[3] = {
		{ "t", 0, 5 },
		{ "t", 1, KSINK_OFFSET_NONE },
		{ "t", 2, 7 },
	};
	char err[256], buf[256];
	size_t i;
	void *sink;

	ctx_set(&fx->ctx, "sqlite.init", "CREATE TABLE IF NOT EXISTS "
	    "applied(p INTEGER, o INTEGER)");
	ctx_set(&fx->ctx, "sqlite.statement",
	    "INSERT INTO applied VALUES (:partition, :offset)");
	sink = open_ok(fx, &fx->ctx);
	assert_true(KSINK_SINK_HAS(fx->desc, reset_offsets, 1));
	assert_non_null(fx->desc->reset_offsets);
	for (i = 0; i < 10; i++)
		r[i] = rec(0, i, "x");
	apply(fx, sink, r, 10);
	for (i = 0; i < 5; i++)
		r[i] = rec(1, i, "x");
	apply(fx, sink, r, 5);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 10);

	assert_int_equal(fx->desc->reset_offsets(sink, set, 3, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 5);
	assert_int_equal(stored_offset(fx, sink, "t", 1), KSINK_OFFSET_NONE);
	assert_int_equal(stored_offset(fx, sink, "t", 2), 7);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_offsets"), 2);
	/* Another connection sees the same. */
	assert_int_equal(q_int(fx, "SELECT next_offset FROM ksink_offsets "
	    "WHERE partition = 0"), 5);

	/* Replays: t/0 from 5 on again, all of t/1, t/2 from 7 on. */
	for (i = 0; i < 12; i++)
		r[i] = rec(0, i, "x");
	apply(fx, sink, r, 12);
	for (i = 0; i < 5; i++)
		r[i] = rec(1, i, "x");
	apply(fx, sink, r, 5);
	for (i = 0; i < 4; i++)
		r[i] = rec(2, 5 + i, "x");
	apply(fx, sink, r, 4);
	assert_string_equal(q_text(fx, "SELECT group_concat(p || ':' || o, "
	    "',') FROM (SELECT * FROM applied WHERE rowid > 15 ORDER BY "
	    "rowid)", buf, sizeof(buf)),
	    "0:5,0:6,0:7,0:8,0:9,0:10,0:11,1:0,1:1,1:2,1:3,1:4,2:7,2:8");
	assert_int_equal(stored_offset(fx, sink, "t", 0), 12);
	assert_int_equal(stored_offset(fx, sink, "t", 2), 9);

	/* Forgetting a partition never seen, and an empty reset. */
	set[0].topic = "never";
	set[0].next_offset = KSINK_OFFSET_NONE;
	assert_int_equal(fx->desc->reset_offsets(sink, set, 1, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->reset_offsets(sink, set, 0, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(q_int(fx, "SELECT count(*) FROM ksink_offsets"), 3);
	fx->desc->close(sink);
}

/* One transaction: a failing entry leaves every offset as it was. */
static void
test_reset_offsets_atomic(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r[2] = { rec(0, 0, "a"), rec(1, 0, "b") };
	struct ksink_offset set[3] = {
		{ "t", 0, 0 },
		{ "t", 1, KSINK_OFFSET_NONE },
		{ "bad", 0, 3 },
	};
	struct ksink_offset neg = { "t", 0, -7 };
	char err[256];
	size_t done;
	void *sink;

	sink = open_ok(fx, &fx->ctx);
	apply(fx, sink, r, 2);
	q_exec(fx, "CREATE TRIGGER no_bad BEFORE INSERT ON ksink_offsets "
	    "WHEN NEW.topic = 'bad' BEGIN SELECT RAISE(ABORT, 'no bad topic'); "
	    "END");
	err[0] = '\0';
	assert_int_equal(fx->desc->reset_offsets(sink, set, 3, err,
	    sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "bad/0"));
	assert_non_null(strstr(err, "no bad topic"));
	assert_int_equal(stored_offset(fx, sink, "t", 0), 1);
	assert_int_equal(stored_offset(fx, sink, "t", 1), 1);

	/* Not an offset: refused before anything is done. */
	assert_int_equal(fx->desc->reset_offsets(sink, &neg, 1, err,
	    sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "-7"));

	/* Not inside a batch. */
	assert_int_equal(fx->desc->begin(sink, err, sizeof(err)), KSINK_OK);
	assert_int_equal(fx->desc->write(sink, r, 1, &done, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(fx->desc->reset_offsets(sink, set, 1, err,
	    sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "batch is open"));
	fx->desc->abort(sink);

	/* The sink still works. */
	assert_int_equal(fx->desc->reset_offsets(sink, set, 2, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 0);
	assert_int_equal(stored_offset(fx, sink, "t", 1), KSINK_OFFSET_NONE);
	fx->desc->close(sink);
}

/* A database locked by another connection: retry, nothing changed. */
static void
test_reset_offsets_busy(void **state)
{
	struct fx *fx = *state;
	struct ksink_record r = rec(0, 0, "x");
	struct ksink_offset set = { "t", 0, 0 };
	sqlite3 *other;
	char err[256];
	void *sink;

	ctx_set(&fx->ctx, "sqlite.busy.timeout.ms", "0");
	sink = open_ok(fx, &fx->ctx);
	apply(fx, sink, &r, 1);
	other = db_open(fx);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL,
	    NULL), SQLITE_OK);
	assert_int_equal(fx->desc->reset_offsets(sink, &set, 1, err,
	    sizeof(err)), KSINK_RETRY);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(other);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 1);
	assert_int_equal(fx->desc->reset_offsets(sink, &set, 1, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(stored_offset(fx, sink, "t", 0), 0);
	fx->desc->close(sink);
}

/*
 * check() finds what open() would refuse, with open()'s words, without
 * touching sqlite.path; it stays silent on a table that only the real
 * database may have.
 */
static void
test_check(void **state)
{
	struct fx *fx = *state;
	struct conf bad = fx->ctx, schema = fx->ctx, good = fx->ctx;
	struct conf files = fx->ctx;
	char sql[400], want[256];
	int n;

	assert_int_equal(fx->desc->abi_minor, 2);
	assert_non_null(fx->desc->check);

	snprintf(sql, sizeof(sql), "%s/del.sql", fx->dir);
	ctx_set(&bad, "sqlite.init", "CREATE TABLE kv(k, v)");
	ctx_set(&bad, "sqlite.statement", "INSERT INTO kv VALUES (:key, "
	    ":vlaue)");
	ctx_set(&bad, "sqlite.delete.statement", "DELETE FROM kv");
	ctx_set(&bad, "sqlite.delete.statement.file", sql);
	assert_int_equal(check(fx, &bad, &n), KSINK_CONFIG);
	assert_int_equal(n, 2);
	assert_non_null(strstr(logbuf, "ksink: error: connector conn: "
	    "sqlite.delete.statement.file: sqlite.delete.statement and "
	    "sqlite.delete.statement.file are both set: keep one\n"));
	assert_non_null(strstr(logbuf, "ksink: error: connector conn: "
	    "sqlite.statement: unknown parameter :vlaue: known are"));

	/* A syntax error after an unknown table: the first statement ends
	 * the work quietly, it may compile on the real database. */
	ctx_set(&schema, "sqlite.statement", "INSERT INTO nosuch VALUES "
	    "(:value); INSRT INTO kv VALUES (:key)");
	ctx_set(&schema, "sqlite.init", "CREATE TABL kv(v)");
	assert_int_equal(check(fx, &schema, &n), KSINK_CONFIG);
	assert_int_equal(n, 1);
	snprintf(want, sizeof(want), "ksink: error: connector conn: "
	    "sqlite.init: sqlite.init on %s: near \"TABL\": syntax error\n",
	    fx->db);
	assert_string_equal(logbuf, want);

	ctx_set(&good, "sqlite.init", "CREATE TABLE IF NOT EXISTS kv(v)");
	ctx_set(&good, "sqlite.statement", "INSERT INTO kv VALUES (:value)");
	assert_int_equal(check(fx, &good, &n), KSINK_OK);
	assert_int_equal(n, 0);
	assert_int_equal(access(fx->db, F_OK), -1);
	assert_int_equal(errno, ENOENT);

	/* sqlite.init runs on the scratch database, but reaches no file. */
	snprintf(sql, sizeof(sql), "VACUUM INTO '%s/copy.db'; ATTACH "
	    "'%s/att.db' AS a", fx->dir, fx->dir);
	ctx_set(&files, "sqlite.init", sql);
	assert_int_equal(check(fx, &files, &n), KSINK_OK);
	assert_int_equal(n, 0);
	snprintf(want, sizeof(want), "%s/copy.db", fx->dir);
	assert_int_equal(access(want, F_OK), -1);
	snprintf(want, sizeof(want), "%s/att.db", fx->dir);
	assert_int_equal(access(want, F_OK), -1);
}

/*
 * Workers started at once on one new file: SQLite answers some of them
 * SQLITE_BUSY without waiting while another puts the file in WAL mode;
 * every open must still succeed within sqlite.busy.timeout.ms.  Child
 * processes, as separate workers are, released together by closing a
 * pipe; 4 openers on 25 new files.
 */
static void
test_open_concurrent(void **state)
{
	struct fx *fx = *state;
	char path[160], c, err[512];
	struct ksink_ctx *ctx;
	int round, i, fd[2], status, failed = 0;
	pid_t pid[4];
	void *sink;

	ctx_set(&fx->ctx, "sqlite.busy.timeout.ms", "5000");
	for (round = 0; round < 25; round++) {
		snprintf(path, sizeof(path), "%s/new%d.db", fx->dir, round);
		fx->ctx.values[0] = path;
		ctx = make_ctx(fx, &fx->ctx);
		assert_int_equal(pipe(fd), 0);
		for (i = 0; i < 4; i++) {
			assert_true((pid[i] = fork()) != -1);
			if (pid[i] != 0)
				continue;
			close(fd[1]);
			(void)read(fd[0], &c, 1);
			sink = NULL;
			if (fx->desc->open(&ks_sink_host, ctx, &sink, err,
			    sizeof(err)) != KSINK_OK) {
				fprintf(stderr, "open: %s\n", err);
				_exit(1);
			}
			fx->desc->close(sink);
			_exit(0);
		}
		close(fd[0]);
		close(fd[1]);
		for (i = 0; i < 4; i++) {
			assert_int_equal(waitpid(pid[i], &status, 0), pid[i]);
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed++;
		}
	}
	fx->ctx.values[0] = fx->db;
	assert_int_equal(failed, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_descriptor),
		T(test_abort_and_atomic_offsets),
		T(test_zombie_fence),
		T(test_retry_busy),
		T(test_open_concurrent),
		T(test_fatal_not_a_database),
		T(test_fatal_read_only),
		T(test_load_offsets),
		T(test_commit_never_lowers),
		T(test_reset_offsets),
		T(test_reset_offsets_atomic),
		T(test_reset_offsets_busy),
		T(test_check),
	};

	return cmocka_run_group_tests_name("sqlite", tests, NULL, NULL);
}
