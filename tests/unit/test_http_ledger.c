/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_http_ledger.c - unit tests of where the HTTP sink keeps the
 * partitions' next offsets (connectors/http/ledger.c, http.c): requests
 * in doubt re-sent from the ledger, a ledger of an older ksink upgraded,
 * the receiver's offset protocol, and ksink offsets --reset.
 *
 * Driven through the plugin's descriptor against the scripted HTTP server
 * of tests/unit/http-fx.h.
 */
#include "http-fx.h"

/* Request b was sent again as a: byte-identical, under the same key. */
static void
assert_resent(const struct req *b, const struct req *a)
{
	char ka[128], kb[128];

	assert_int_equal(b->len, a->len);
	assert_memory_equal(b->body, a->body, a->len);
	assert_string_equal(req_header(b, "Idempotency-Key", kb, sizeof(kb)),
	    req_header(a, "Idempotency-Key", ka, sizeof(ka)));
}

/* A request that may have been applied (the connection closed before the
 * answer) stays in doubt: it is re-sent byte-identical with its key before
 * anything else, by the next attempt or after a restart. */
static void
test_in_doubt(void **state)
{
	struct ksink_record r[4], more[2];
	char err[512];
	size_t done;
	void *s;

	(void)state;
	s = sink_open();
	r[0] = rec("t", 0, 5, "{\"n\":5}");
	r[1] = rec("t", 0, 6, "{\"n\":6}");
	r[2] = rec("t", 0, 8, "{\"n\":8}");	/* 7: an aborted record */
	r[3] = rec("t", 0, 9, "{\"n\":9}");
	srv_script(0, NULL, ACT_CLOSE, 0);
	assert_int_equal(step_write(s, r, 4, &done, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "127.0.0.1"));
	desc->abort(s);
	assert_int_equal(pending_intents(s), 1);
	assert_int_equal(load_offset(s, "t", 0), KSINK_OFFSET_NONE);
	desc->close(s);	/* as a crash would */

	/* After the restart the worker starts from the ledger's offset, with
	 * a batch that holds more records: the request in doubt goes first,
	 * as it was, then only the new records. */
	s = sink_open();
	assert_int_equal(load_offset(s, "t", 0), KSINK_OFFSET_NONE);
	more[0] = rec("t", 0, 10, "{\"n\":10}");
	more[1] = rec("t", 0, 11, "{\"n\":11}");
	{
		struct ksink_record all[6] = { r[0], r[1], r[2], r[3],
		    more[0], more[1] };

		assert_int_equal(step(s, all, 6, &done), KSINK_OK);
	}
	assert_int_equal(srv_nreqs(), 3);
	assert_resent(&srv.reqs[1], &srv.reqs[0]);
	assert_non_null(strstr(srv.reqs[2].body, "\"offset\":10"));
	assert_null(strstr(srv.reqs[2].body, "\"offset\":9"));
	assert_int_equal(pending_intents(s), 0);
	assert_int_equal(load_offset(s, "t", 0), 12);
	assert_non_null(strstr(logbuf, "in-doubt"));
	desc->close(s);
}

/* The bytes of the ledger's intents: what they keep of the bodies. */
static sqlite3_int64
intent_body_bytes(void *s)
{
	sqlite3 *db = ((struct sink *)s)->db;
	sqlite3_stmt *st;
	sqlite3_int64 n = -1;

	if (sqlite3_prepare_v2(db, "SELECT total(length(body)) FROM "
	    "ksink_http_intents", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* A first attempt at records r[0..n) whose connection closes before the
 * answer, then a crash: the request stays in doubt, its body not kept. */
static void
leave_in_doubt(const struct ksink_record *r, size_t n)
{
	char err[512];
	size_t done;
	void *s;

	s = sink_open();
	srv_script(0, NULL, ACT_CLOSE, 0);
	assert_int_equal(step_write(s, r, n, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	assert_int_equal(pending_intents(s), 1);
	assert_int_equal(intent_body_bytes(s), 0);
	desc->close(s);
}

/* The ledger keeps what re-creates a request, not its body: after a
 * restart the body is rebuilt from the records of its range, which may
 * come in several batches.  Until the last one comes, the records are
 * held and the partition's offset stays where the request starts, so that
 * a second crash reads them again. */
static void
test_in_doubt_rebuilt(void **state)
{
	struct ksink_record r[4], x[1];
	size_t done;
	void *s;

	(void)state;
	r[0] = rec("t", 1, 20, "{\"n\":20}");
	r[1] = rec("t", 1, 21, "\x01binary");
	r[2] = rec("t", 1, 23, "{\"n\":23}");
	r[3] = rec("t", 1, 24, "{\"n\":24}");
	leave_in_doubt(r, 3);

	/* Restart; the first batch holds only part of the range. */
	s = sink_open();
	assert_int_equal(load_offset(s, "t", 1), KSINK_OFFSET_NONE);
	assert_int_equal(step(s, r, 2, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 1);
	assert_int_equal(pending_intents(s), 1);
	assert_int_equal(load_offset(s, "t", 1), KSINK_OFFSET_NONE);
	desc->close(s);	/* a second crash */

	s = sink_open();
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 1);
	/* The worker replays a batch: what is held is not taken twice. */
	assert_int_equal(step(s, r, 2, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 1);
	assert_int_equal(step(s, r + 2, 2, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 3);
	assert_resent(&srv.reqs[1], &srv.reqs[0]);
	assert_non_null(strstr(srv.reqs[2].body, "\"offset\":24"));
	assert_null(strstr(srv.reqs[2].body, "\"offset\":23"));
	assert_int_equal(pending_intents(s), 0);
	assert_int_equal(load_offset(s, "t", 1), 25);
	/* The fence holds. */
	x[0] = rec("t", 1, 23, "{\"n\":23}");
	assert_int_equal(step(s, x, 1, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 3);
	desc->close(s);
}

/* A request in doubt whose records now make another body (the body
 * format changed meanwhile) is not sent under its key: the connector
 * stops and says what to do. */
static void
test_in_doubt_changed(void **state)
{
	struct ksink_record r[2];
	char err[1024];
	size_t done;
	void *s;

	(void)state;
	r[0] = rec("t", 0, 7, "{\"n\":7}");
	r[1] = rec("t", 0, 8, "{\"n\":8}");
	leave_in_doubt(r, 2);

	conf_set("http.body.format", "ndjson");
	s = sink_open();
	assert_int_equal(step_write(s, r, 2, &done, err, sizeof(err)),
	    KSINK_FATAL);
	desc->abort(s);
	assert_non_null(strstr(err, "t/0 offsets 7-8"));
	assert_non_null(strstr(err, "cannot be rebuilt byte-identical"));
	assert_non_null(strstr(err, "--reset"));
	assert_int_equal(srv_nreqs(), 1);
	assert_int_equal(pending_intents(s), 1);
	/* Nor when its first record is gone (compaction, retention). */
	desc->close(s);
	conf_set("http.body.format", "json");
	s = sink_open();
	assert_int_equal(step_write(s, r + 1, 1, &done, err, sizeof(err)),
	    KSINK_FATAL);
	desc->abort(s);
	assert_non_null(strstr(err, "its first record is gone"));
	assert_int_equal(srv_nreqs(), 1);
	desc->close(s);
}

/* A request answered 2xx is settled in the ledger's next transaction,
 * not in one of its own: a crash before it leaves the request in doubt,
 * sent again byte-identical under its key. */
static void
test_settle_deferred(void **state)
{
	struct ksink_record r[3];
	size_t done;
	void *s;

	(void)state;
	s = sink_open();
	r[0] = rec("t", 2, 0, "{\"n\":0}");
	r[1] = rec("t", 2, 1, "{\"n\":1}");
	r[2] = rec("t", 2, 2, "{\"n\":2}");
	assert_int_equal(step(s, r, 2, &done), KSINK_OK);
	assert_int_equal(ledger_intents(s), 1);
	assert_int_equal(pending_intents(s), 0);
	/* The next intent settles it. */
	assert_int_equal(step(s, r + 2, 1, &done), KSINK_OK);
	assert_int_equal(ledger_intents(s), 1);
	assert_int_equal(srv_nreqs(), 2);
	((struct sink *)s)->nsettles = 0;	/* as a crash would */
	desc->close(s);

	s = sink_open();
	assert_int_equal(load_offset(s, "t", 2), 2);
	assert_int_equal(pending_intents(s), 1);
	assert_int_equal(step(s, r + 2, 1, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 3);
	assert_resent(&srv.reqs[2], &srv.reqs[1]);
	/* A clean stop settles what was delivered. */
	desc->close(s);
	s = sink_open();
	assert_int_equal(ledger_intents(s), 0);
	assert_int_equal(load_offset(s, "t", 2), 3);
	desc->close(s);
}

/* The offset protocol: the receiver says where to start and keeps the
 * offsets; no ledger. */
static void
test_offsets_mode(void **state)
{
	struct ksink_record r[4];
	struct ksink_offset o[2] = {
		{ .topic = "my topic", .partition = 0 },
		{ .topic = "my topic", .partition = 1 },
	};
	char err[512], h[128];
	size_t done;
	void *s;

	(void)state;
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.offsets.url", offsets_url);
	s = sink_open();
	srv.offsets_status = 200;
	srv.offsets_body = "{\"next_offset\": 7}";
	if (desc->load_offsets(s, o, 1, err, sizeof(err)) !=
	    KSINK_OK)
		fail_msg("load_offsets: %s", err);
	assert_int_equal(o[0].next_offset, 7);
	assert_string_equal(srv.reqs[0].method, "GET");
	assert_string_equal(srv.reqs[0].target,
	    "/offsets?topic=my%20topic&partition=0");
	srv.offsets_status = 404;
	assert_int_equal(desc->load_offsets(s, o + 1, 1, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(o[1].next_offset, KSINK_OFFSET_NONE);

	r[0] = rec("my topic", 0, 6, "{}");	/* below the receiver's */
	r[1] = rec("my topic", 0, 7, "{}");
	r[2] = rec("my topic", 0, 9, "{}");
	r[3] = rec("my topic", 1, 0, "{}");
	assert_int_equal(step(s, r, 4, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 4);
	assert_string_equal(req_header(&srv.reqs[2], "Ksink-Offset-First", h,
	    sizeof(h)), "7");
	assert_string_equal(req_header(&srv.reqs[2], "Ksink-Offset-Last", h,
	    sizeof(h)), "9");
	assert_string_equal(req_header(&srv.reqs[2], "Ksink-Topic", h,
	    sizeof(h)), "my topic");
	assert_string_equal(req_header(&srv.reqs[3], "Ksink-Partition", h,
	    sizeof(h)), "1");

	/* Errors of the offset request. */
	srv.offsets_status = 200;
	srv.offsets_body = "{\"offset\": 3}";
	assert_int_equal(desc->load_offsets(s, o, 1, err,
	    sizeof(err)), KSINK_FATAL);
	assert_non_null(strstr(err, "next_offset"));
	srv.offsets_status = 503;
	assert_int_equal(desc->load_offsets(s, o, 1, err,
	    sizeof(err)), KSINK_RETRY);
	srv.offsets_status = 401;
	assert_int_equal(desc->load_offsets(s, o, 1, err,
	    sizeof(err)), KSINK_FATAL);
	desc->close(s);
	/* No ledger file was made. */
	assert_int_equal(access(ledger, F_OK), -1);
}

/* ksink offsets --reset: offsets replaced, lowered, forgotten; requests
 * in doubt of those partitions dropped. */
static void
test_reset_offsets(void **state)
{
	struct ksink_record r[3];
	struct ksink_offset o[2] = {
		{ .topic = "t", .partition = 0, .next_offset = 1 },
		{ .topic = "t", .partition = 1,
		  .next_offset = KSINK_OFFSET_NONE },
	};
	char err[512];
	size_t done;
	void *s;

	(void)state;
	s = sink_open();
	r[0] = rec("t", 0, 0, "{}");
	r[1] = rec("t", 0, 1, "{}");
	r[2] = rec("t", 1, 5, "{}");
	assert_int_equal(step(s, r, 3, &done), KSINK_OK);
	assert_int_equal(load_offset(s, "t", 0), 2);
	assert_int_equal(load_offset(s, "t", 1), 6);
	r[0] = rec("t", 1, 6, "{}");
	srv_script(500, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	assert_int_equal(pending_intents(s), 1);
	assert_int_equal(desc->reset_offsets(s, o, 2, err,
	    sizeof(err)), KSINK_OK);
	assert_int_equal(pending_intents(s), 0);
	assert_non_null(strstr(logbuf, "dropped 1 request in doubt"));
	assert_int_equal(load_offset(s, "t", 0), 1);
	assert_int_equal(load_offset(s, "t", 1), KSINK_OFFSET_NONE);
	/* Offset 1 goes again; nothing of partition 1 is fenced. */
	r[0] = rec("t", 0, 0, "{}");
	r[1] = rec("t", 0, 1, "{}");
	r[2] = rec("t", 1, 5, "{}");
	assert_int_equal(step(s, r, 3, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 5);
	assert_non_null(strstr(srv.reqs[3].body, "\"offset\":1,"));
	assert_null(strstr(srv.reqs[3].body, "\"offset\":0,"));
	assert_non_null(strstr(srv.reqs[4].body, "\"offset\":5,"));
	desc->close(s);

	/* With the offset protocol the receiver keeps them. */
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.offsets.url", offsets_url);
	s = sink_open();
	assert_int_equal(desc->reset_offsets(s, o, 2, err,
	    sizeof(err)), KSINK_CONFIG);
	assert_non_null(strstr(err, "receiver"));
	desc->close(s);
}

/*
 * A ledger written by an older ksink (schema version 1, offsets in
 * ksink_http_offsets) is upgraded on open: its offsets move into
 * ksink_offsets, intact, and its request in doubt is still re-sent.
 */
static void
test_ledger_upgrade(void **state)
{
	struct ksink_record r[2];
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t done;
	void *s;

	(void)state;
	assert_int_equal(sqlite3_open(ledger, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
	    "CREATE TABLE ksink_http_offsets ("
	    " connector TEXT NOT NULL, topic TEXT NOT NULL,"
	    " partition INTEGER NOT NULL, next_offset INTEGER NOT NULL,"
	    " PRIMARY KEY (connector, topic, partition));"
	    "CREATE TABLE ksink_http_intents ("
	    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " connector TEXT NOT NULL, topic TEXT NOT NULL,"
	    " partition INTEGER NOT NULL, first_offset INTEGER NOT NULL,"
	    " last_offset INTEGER NOT NULL, records INTEGER NOT NULL,"
	    " idempotency_key TEXT NOT NULL, content_type TEXT,"
	    " body BLOB NOT NULL, created_ms INTEGER NOT NULL);"
	    "INSERT INTO ksink_http_offsets VALUES ('c1', 'orders', 0, 1200),"
	    " ('c1', 'orders', 1, 7), ('other', 'orders', 0, 3);"
	    "INSERT INTO ksink_http_intents (connector, topic, partition,"
	    " first_offset, last_offset, records, idempotency_key,"
	    " content_type, body, created_ms) VALUES ('c1', 'orders', 2, 40,"
	    " 41, 2, 'k', 'application/json', '[1,2]', 0);"
	    "PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	s = sink_open();
	assert_int_equal(load_offset(s, "orders", 0), 1200);
	assert_int_equal(load_offset(s, "orders", 1), 7);
	assert_int_equal(load_offset(s, "orders", 3), KSINK_OFFSET_NONE);
	assert_int_equal(pending_intents(s), 1);
	/* The request in doubt goes first, then the fence holds. */
	r[0] = rec("orders", 2, 41, "{\"id\":1}");
	r[1] = rec("orders", 0, 1199, "{\"id\":2}");
	assert_int_equal(step(s, r, 2, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 1);
	assert_string_equal(srv.reqs[0].body, "[1,2]");
	assert_int_equal(load_offset(s, "orders", 2), 42);
	assert_int_equal(load_offset(s, "orders", 0), 1200);
	desc->close(s);

	/* One table now, version 3, the other connector's row kept. */
	assert_int_equal(sqlite3_open(ledger, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM "
	    "sqlite_master WHERE name = 'ksink_http_offsets'), (SELECT "
	    "next_offset FROM ksink_offsets WHERE connector = 'other'), "
	    "(SELECT user_version FROM pragma_user_version)", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	assert_int_equal(sqlite3_column_int(st, 1), 3);
	assert_int_equal(sqlite3_column_int(st, 2), 3);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_doubt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_doubt_rebuilt, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_in_doubt_changed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_settle_deferred, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ledger_upgrade, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_offsets_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets, setup,
		    teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
