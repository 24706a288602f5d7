/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_http_send.c - unit tests of how the HTTP sink sends records
 * (connectors/http/send.c, request.c, body.c): the Idempotency-Key and
 * the bodies, requests by batch limits and formats, the classification
 * of outcomes and the retries, and a poison record isolated by splitting.
 *
 * Driven through the plugin's descriptor against the scripted HTTP server
 * of tests/unit/http-fx.h.
 */
#include "http-fx.h"

/*
 * Encoding.
 */

static void
test_sha256(void **state)
{
	static const char *const in[] = { "", "abc",
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq" };
	static const char *const out[] = {
	    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" };
	struct sha256 c;
	unsigned char md[32];
	char hex[65];
	size_t i, j;

	(void)state;
	for (i = 0; i < 3; i++) {
		sha256_init(&c);
		for (j = 0; in[i][j] != '\0'; j++)	/* byte by byte */
			sha256_update(&c, in[i] + j, 1);
		sha256_final(&c, md);
		for (j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", md[j]);
		assert_string_equal(hex, out[i]);
	}
}

static void
test_key(void **state)
{
	char k1[65], k2[65], k3[65];

	(void)state;
	/* The documented derivation, fixed forever: receivers may store
	 * keys across ksink upgrades. */
	idempotency_key("c1", "orders", 3, 100, 199, k1);
	assert_string_equal(k1, "e6f6911ff758f4cee838e65cc893493d6dc8cb1b9fd"
	    "af192723fd7c0b4cd971c");
	idempotency_key("c1", "orders", 3, 100, 200, k2);
	assert_string_equal(k2, "bba948fbfe01ae0c08b58ab0de27e1a23e08708bd26"
	    "c1b5252ab7e0b794a4c84");
	idempotency_key("c2", "orders", 3, 100, 199, k3);
	assert_string_not_equal(k1, k3);
	idempotency_key("c1", "orders", 3, 100, 199, k3);
	assert_string_equal(k1, k3);
}

static void
test_classify(void **state)
{
	struct sink s;
	char err[256];

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(classify_status(&s, 200), KSINK_OK);
	assert_int_equal(classify_status(&s, 201), KSINK_OK);
	assert_int_equal(classify_status(&s, 204), KSINK_OK);
	assert_int_equal(classify_status(&s, 408), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 429), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 500), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 502), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 503), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 599), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 401), KSINK_FATAL);
	assert_int_equal(classify_status(&s, 403), KSINK_FATAL);
	assert_int_equal(classify_status(&s, 404), KSINK_FATAL);
	assert_int_equal(classify_status(&s, 405), KSINK_FATAL);
	assert_int_equal(classify_status(&s, 415), KSINK_FATAL);
	assert_int_equal(classify_status(&s, 400), KSINK_POISON);
	assert_int_equal(classify_status(&s, 409), KSINK_POISON);
	assert_int_equal(classify_status(&s, 413), KSINK_POISON);
	assert_int_equal(classify_status(&s, 422), KSINK_POISON);
	assert_int_equal(classify_status(&s, 301), KSINK_FATAL);
	assert_int_equal(classify_status(&s, 100), KSINK_FATAL);
	assert_int_equal(classify_status(&s, 0), KSINK_FATAL);
	assert_int_equal(parse_retry_status(&s, "409, 425,401", err,
	    sizeof(err)), 0);
	assert_int_equal(classify_status(&s, 409), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 425), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 401), KSINK_RETRY);
	assert_int_equal(classify_status(&s, 400), KSINK_POISON);
	assert_int_equal(parse_retry_status(&s, "200", err, sizeof(err)), -1);
	assert_int_equal(parse_retry_status(&s, "4O9", err, sizeof(err)), -1);
	assert_int_equal(parse_retry_status(&s, "409;410", err, sizeof(err)),
	    -1);
	assert_int_equal(classify_curl(CURLE_COULDNT_CONNECT), KSINK_RETRY);
	assert_int_equal(classify_curl(CURLE_OPERATION_TIMEDOUT), KSINK_RETRY);
	assert_int_equal(classify_curl(CURLE_GOT_NOTHING), KSINK_RETRY);
	assert_int_equal(classify_curl(CURLE_PEER_FAILED_VERIFICATION),
	    KSINK_RETRY);
	assert_int_equal(classify_curl(CURLE_SSL_CERTPROBLEM), KSINK_FATAL);
	assert_int_equal(classify_curl(CURLE_URL_MALFORMAT), KSINK_FATAL);
}

static void
test_next_offset_parse(void **state)
{
	int64_t n;

	(void)state;
	assert_int_equal(parse_next_offset_text("{\"next_offset\": 42}", 19,
	    &n), 0);
	assert_int_equal(n, 42);
	assert_int_equal(parse_next_offset_text(" {\"x\":[1,{}],"
	    "\"next_offset\":0 }\n", 31, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(parse_next_offset_text("{\"next_offset\":null}", 20,
	    &n), 0);
	assert_int_equal(n, KSINK_OFFSET_NONE);
	assert_int_equal(parse_next_offset_text("{\"next_offset\":-1}", 18,
	    &n), -1);
	assert_int_equal(parse_next_offset_text("{\"next_offset\":1.5}", 19,
	    &n), -1);
	assert_int_equal(parse_next_offset_text("{\"next_offset\":\"5\"}", 19,
	    &n), -1);
	assert_int_equal(parse_next_offset_text("{}", 2, &n), -1);
	assert_int_equal(parse_next_offset_text("[5]", 3, &n), -1);
	assert_int_equal(parse_next_offset_text("{\"next_offset\":5", 16,
	    &n), -1);
}

/*
 * Requests.
 */

static void
test_batches(void **state)
{
	struct ksink_record r[5];
	char v[5][64], h[256];
	struct req *q;
	size_t done, i;
	void *s;

	(void)state;
	conf_set("http.batch.max.records", "2");
	conf_set("http.header", "X-Tenant: blue");
	s = sink_open();
	for (i = 0; i < 5; i++) {
		snprintf(v[i], sizeof(v[i]), "{\"id\":%zu}", i);
		/* p0: 10, 11, 12; p1: 20, 21, interleaved */
		r[i] = rec("orders", i % 2 ? 1 : 0, i % 2 ? 20 + (int)i / 2 :
		    10 + (int)i / 2, v[i]);
	}
	assert_int_equal(step(s, r, 5, &done), KSINK_OK);
	assert_int_equal(done, 5);
	/* p0 as 2 + 1 records, then p1 as 2. */
	assert_int_equal(srv_nreqs(), 3);
	q = &srv.reqs[0];
	assert_string_equal(q->method, "POST");
	assert_string_equal(q->target, "/in");
	assert_string_equal(req_header(q, "Content-Type", h, sizeof(h)),
	    "application/json");
	assert_string_equal(req_header(q, "X-Tenant", h, sizeof(h)), "blue");
	assert_string_equal(req_header(q, "Ksink-Topic", h, sizeof(h)),
	    "orders");
	assert_string_equal(req_header(q, "Ksink-Partition", h, sizeof(h)),
	    "0");
	assert_string_equal(req_header(q, "Ksink-Offset-First", h, sizeof(h)),
	    "10");
	assert_string_equal(req_header(q, "Ksink-Offset-Last", h, sizeof(h)),
	    "11");
	assert_string_equal(req_header(q, "Ksink-Record-Count", h, sizeof(h)),
	    "2");
	assert_null(req_header(q, "Expect", h, sizeof(h)));
	assert_null(req_header(q, "Authorization", h, sizeof(h)));
	{
		char k[65], want[70];

		idempotency_key("c1", "orders", 0, 10, 11, k);
		snprintf(want, sizeof(want), "\"%s\"", k);
		assert_string_equal(req_header(q, "Idempotency-Key", h,
		    sizeof(h)), want);
	}
	assert_string_equal(q->body, "[{\"topic\":\"orders\",\"partition\":0,"
	    "\"offset\":10,\"timestamp\":1700000000010,\"key\":null,"
	    "\"value\":{\"id\":0},\"headers\":[]},{\"topic\":\"orders\","
	    "\"partition\":0,\"offset\":11,\"timestamp\":1700000000011,"
	    "\"key\":null,\"value\":{\"id\":2},\"headers\":[]}]");
	assert_string_equal(req_header(&srv.reqs[1], "Ksink-Offset-First", h,
	    sizeof(h)), "12");
	assert_string_equal(req_header(&srv.reqs[2], "Ksink-Partition", h,
	    sizeof(h)), "1");
	assert_string_equal(req_header(&srv.reqs[2], "Ksink-Offset-Last", h,
	    sizeof(h)), "21");
	/* One connection, kept alive. */
	assert_int_equal(srv.conns, 1);
	assert_int_equal(load_offset(s, "orders", 0), 13);
	assert_int_equal(load_offset(s, "orders", 1), 22);
	assert_int_equal(load_offset(s, "orders", 2), KSINK_OFFSET_NONE);
	assert_int_equal(pending_intents(s), 0);

	/* The same records again (a replay): fenced, nothing sent. */
	assert_int_equal(step(s, r, 5, &done), KSINK_OK);
	assert_int_equal(done, 5);
	assert_int_equal(srv_nreqs(), 3);
	desc->close(s);

	/* The ledger survives a restart. */
	s = sink_open();
	assert_int_equal(load_offset(s, "orders", 0), 13);
	assert_int_equal(step(s, r, 5, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 3);
	desc->close(s);
}

static void
test_formats(void **state)
{
	struct ksink_record r[3];
	char h[128];
	size_t done;
	void *s;

	(void)state;
	conf_set("http.body.format", "ndjson");
	conf_set("http.method", "PUT");
	s = sink_open();
	r[0] = rec("t", 0, 0, "{\"a\":\n1}");
	r[1] = rec("t", 0, 1, "plain");
	assert_int_equal(step(s, r, 2, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 1);
	assert_string_equal(srv.reqs[0].method, "PUT");
	assert_string_equal(req_header(&srv.reqs[0], "Content-Type", h,
	    sizeof(h)), "application/x-ndjson");
	assert_string_equal(srv.reqs[0].body, "{\"topic\":\"t\",\"partition\":0,"
	    "\"offset\":0,\"timestamp\":1700000000000,\"key\":null,"
	    "\"value\":{\"a\":1},\"headers\":[]}\n{\"topic\":\"t\","
	    "\"partition\":0,\"offset\":1,\"timestamp\":1700000000001,"
	    "\"key\":null,\"value\":\"plain\",\"value_encoding\":"
	    "\"string\",\"headers\":[]}\n");
	desc->close(s);

	/* value: one request per record, the value as it is, and a
	 * Content-Type given by http.header. */
	conf_set("http.body.format", "value");
	conf_set("http.method", "POST");
	conf_set("http.header", "content-type: text/plain");
	s = sink_open();
	r[0] = rec("t", 0, 2, "first");
	r[1] = rec("t", 0, 3, NULL);	/* tombstone: empty body */
	r[2] = rec("t", 0, 4, "\x01\x02");
	assert_int_equal(step(s, r, 3, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 4);
	assert_string_equal(srv.reqs[1].body, "first");
	assert_string_equal(req_header(&srv.reqs[1], "Content-Type", h,
	    sizeof(h)), "text/plain");
	assert_string_equal(req_header(&srv.reqs[1], "Ksink-Offset-First", h,
	    sizeof(h)), "2");
	assert_int_equal(srv.reqs[2].len, 0);
	assert_int_equal(srv.reqs[3].len, 2);
	assert_memory_equal(srv.reqs[3].body, "\x01\x02", 2);
	desc->close(s);
}

static void
test_max_bytes(void **state)
{
	static char big[3000], small[100];
	struct ksink_record r[6];
	size_t done, i;
	void *s;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	memset(small, 'y', sizeof(small) - 1);
	conf_set("http.batch.max.bytes", "1024");
	s = sink_open();
	/* Envelopes of about 230 bytes: 4 fit in 1024. */
	for (i = 0; i < 5; i++)
		r[i] = rec("t", 0, (int64_t)i, small);
	r[5] = rec("t", 0, 5, big);	/* alone, over the limit */
	assert_int_equal(step(s, r, 6, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 3);
	for (i = 0; i < 2; i++)
		assert_true(srv.reqs[i].len <= 1024);
	assert_true(srv.reqs[2].len > 3000);
	assert_non_null(strstr(srv.reqs[2].body, "\"offset\":5"));
	assert_int_equal(load_offset(s, "t", 0), 6);
	desc->close(s);
}

static void
test_retry_statuses(void **state)
{
	struct ksink_record r[1];
	char err[1024];
	size_t done;
	void *s;

	(void)state;
	conf_set("http.timeout.ms", "1000");
	s = sink_open();
	r[0] = rec("t", 0, 0, "{}");

	srv_script(500, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "HTTP 500"));
	assert_non_null(strstr(err, "scripted"));	/* the body, quoted */
	desc->abort(s);

	srv_script(0, NULL, ACT_DELAY, 1500);	/* beyond the timeout */
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "imed out"));
	desc->abort(s);
	usleep(600000);	/* the server serves one connection at a time */

	srv_script(408, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	assert_int_equal(pending_intents(s), 1);

	/* Every attempt re-sent the same request. */
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 4);
	assert_string_equal(srv.reqs[3].body, srv.reqs[0].body);
	assert_int_equal(pending_intents(s), 0);
	desc->close(s);

	/* A receiver that is down: a transport error. */
	conf_set("http.url", "http://127.0.0.1:1/in");
	s = sink_open();
	r[0] = rec("t", 0, 1, "{}");
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	desc->close(s);
}

/* A retried batch starts after the requests the receiver answered with
 * 2xx: they were applied (the ledger advanced, or the receiver stored
 * their offsets), so only the request in doubt, the failed one and those
 * after them go again; and the worker hears of them through *n_done
 * (KSINK_CAP_RETRY_PROGRESS), to restart its backoff.  With the offset
 * protocol, the receiver's answer at the next assignment decides alone. */
static void
resume_case(int offsets_mode)
{
	struct ksink_record r[6];
	char v[6][32], err[1024], h[32];
	size_t done, i, n0;
	void *s;

	if (offsets_mode) {
		conf_reset();
		conf_set("http.url", url);
		conf_set("http.offsets.url", offsets_url);
	}
	conf_set("http.batch.max.records", "2");
	conf_set("http.timeout.ms", "1000");
	s = sink_open();
	for (i = 0; i < 6; i++) {
		snprintf(v[i], sizeof(v[i]), "{\"n\":%zu}", i);
		r[i] = rec("t", 0, 10 + (int64_t)i, v[i]);
	}
	assert_int_equal(load_offset(s, "t", 0), KSINK_OFFSET_NONE);
	n0 = srv_nreqs();
	/* Attempt 1: 10-11 applied; 12-13 answered too late: in doubt.
	 * Attempt 2, the same batch: 12-13 again, answered this time, then
	 * 14-15 refused.  Each delivered 2 records. */
	for (i = 0; i < 2; i++) {
		srv_script(200, NULL, ACT_ANSWER, 0);
		srv_script(i == 0 ? 200 : 503, NULL, i == 0 ? ACT_DELAY :
		    ACT_ANSWER, 1500);
		assert_int_equal(step_write(s, r, 6, &done, err,
		    sizeof(err)), KSINK_RETRY);
		assert_int_equal(done, 2);
		desc->abort(s);
		if (i == 0)	/* the server serves one connection at a time */
			usleep(600000);
	}
	/* And the last: 14-15 only. */
	assert_int_equal(step(s, r, 6, &done), KSINK_OK);
	assert_int_equal(done, 6);
	assert_int_equal(srv_nreqs(), n0 + 5);
	{
		static const char *const first[] = { "10", "12", "12", "14",
		    "14" };

		for (i = 0; i < 5; i++)
			assert_string_equal(req_header(&srv.reqs[n0 + i],
			    "Ksink-Offset-First", h, sizeof(h)), first[i]);
	}
	if (offsets_mode) {
		/* Reassigned, and the receiver holds only up to 12 (another
		 * worker's, or a restored receiver): what it does not hold
		 * is sent again, whatever this worker saw. */
		srv.offsets_status = 200;
		srv.offsets_body = "{\"next_offset\": 12}";
		assert_int_equal(load_offset(s, "t", 0), 12);
		n0 = srv_nreqs();
		assert_int_equal(step(s, r, 6, &done), KSINK_OK);
		assert_int_equal(srv_nreqs(), n0 + 2);
		assert_string_equal(req_header(&srv.reqs[n0],
		    "Ksink-Offset-First", h, sizeof(h)), "12");
		/* It holds nothing: everything again. */
		srv.offsets_status = 404;
		assert_int_equal(load_offset(s, "t", 0), KSINK_OFFSET_NONE);
		n0 = srv_nreqs();
		assert_int_equal(step(s, r, 6, &done), KSINK_OK);
		assert_int_equal(srv_nreqs(), n0 + 3);
		assert_string_equal(req_header(&srv.reqs[n0],
		    "Ksink-Offset-First", h, sizeof(h)), "10");
	} else {
		assert_int_equal(pending_intents(s), 0);
		assert_int_equal(load_offset(s, "t", 0), 16);
	}
	desc->close(s);
}

static void
test_retry_resumes(void **state)
{
	(void)state;
	assert_true(desc->caps & KSINK_CAP_RETRY_PROGRESS);
	resume_case(0);
	resume_case(1);
}

static void
test_retry_after(void **state)
{
	struct ksink_record r[1];
	char err[1024];
	size_t done;
	int64_t t0, asked;
	void *s;

	(void)state;
	s = sink_open();
	r[0] = rec("t", 0, 0, "{}");
	srv_script(429, "Retry-After: 1\r\n", ACT_ANSWER, 0);
	t0 = ks_clock_mono_ms();
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "Retry-After"));
	/* The worker is told to come back in 1 s, not at its backoff. */
	asked = ks_sink_ctx_retry_after(ctxs[nctx - 1]);
	assert_true(asked > 0 && asked <= 1000);
	desc->abort(s);
	/* Too early: nothing is sent, and the rest of the wait is asked. */
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	asked = ks_sink_ctx_retry_after(ctxs[nctx - 1]);
	assert_true(asked >= 0 && asked <= 1000);
	desc->abort(s);
	assert_int_equal(srv_nreqs(), 1);
	while (ks_clock_mono_ms() - t0 < 1050)
		usleep(20000);
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 2);
	desc->close(s);

	/* http.retry.after.max.ms caps the wait. */
	conf_set("http.retry.after.max.ms", "0");
	s = sink_open();
	r[0] = rec("t", 0, 1, "{}");
	srv_script(503, "Retry-After: 3600\r\n", ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 4);
	desc->close(s);
}

static void
test_fatal(void **state)
{
	struct ksink_record r[1];
	char err[1024];
	size_t done;
	void *s;

	(void)state;
	s = sink_open();
	r[0] = rec("t", 0, 0, "{}");
	srv_script(401, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_FATAL);
	assert_non_null(strstr(err, "HTTP 401"));
	desc->abort(s);
	srv_script(403, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_FATAL);
	desc->abort(s);
	srv_script(404, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_FATAL);
	desc->abort(s);
	srv_script(302, "Location: http://elsewhere/\r\n", ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_FATAL);
	desc->abort(s);
	/* Nothing is lost: the request is still in doubt. */
	assert_int_equal(pending_intents(s), 1);
	desc->close(s);
}

/* A batch with a record that the receiver rejects: the request is split
 * until the record is isolated; every record before it is delivered. */
static void
test_poison(void **state)
{
	struct ksink_record r[8];
	struct ksink_offset o = { .topic = "t", .partition = 0 };
	char v[8][32], err[1024];
	size_t done, i, n0;
	void *s;

	(void)state;
	srv.reject = "BAD";
	s = sink_open();
	for (i = 0; i < 8; i++) {
		snprintf(v[i], sizeof(v[i]), "{\"n\":\"%s%zu\"}", i == 5 ?
		    "BAD" : "ok", i);
		r[i] = rec("t", 0, 100 + (int64_t)i, v[i]);
	}
	assert_int_equal(step_write(s, r, 8, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 5);
	assert_non_null(strstr(err, "HTTP 400"));
	assert_non_null(strstr(err, "offsets 105-105"));
	assert_non_null(strstr(err, "record rejected"));
	assert_int_equal(pending_intents(s), 0);
	/* 100-104 are delivered, each exactly once. */
	assert_int_equal(load_offset(s, "t", 0), 105);
	n0 = srv_nreqs();
	/* The worker skips the record and writes the rest. */
	assert_int_equal(desc->write(s, r + 6, 2, &done, err,
	    sizeof(err)), KSINK_OK);
	o.next_offset = 108;
	assert_int_equal(desc->commit(s, &o, 1, err, sizeof(err)),
	    KSINK_OK);
	assert_int_equal(srv_nreqs(), n0 + 1);
	assert_non_null(strstr(srv.reqs[n0].body, "\"offset\":106"));
	assert_int_equal(load_offset(s, "t", 0), 108);
	{
		/* Every record 100..107 but 105 was accepted once. */
		int seen[8] = { 0 };
		size_t j;
		char pat[32];

		for (j = 0; j < srv_nreqs(); j++) {
			if (strstr(srv.reqs[j].body, "BAD") != NULL)
				continue;
			for (i = 0; i < 8; i++) {
				snprintf(pat, sizeof(pat), "\"offset\":%zu,",
				    100 + i);
				if (strstr(srv.reqs[j].body, pat))
					seen[i]++;
			}
		}
		for (i = 0; i < 8; i++)
			assert_int_equal(seen[i], i == 5 ? 0 : 1);
	}
	desc->close(s);

	/* With the value format the poison record is known at once. */
	conf_set("http.body.format", "value");
	s = sink_open();
	for (i = 0; i < 3; i++)
		r[i] = rec("u", 0, (int64_t)i, v[i + 4]);
	n0 = srv_nreqs();
	assert_int_equal(step_write(s, r, 3, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 1);
	assert_int_equal(srv_nreqs(), n0 + 2);
	desc->abort(s);
	desc->close(s);
}

/* Poison in one partition; records of another partition that come before
 * it in the batch are delivered too. */
static void
test_poison_partitions(void **state)
{
	struct ksink_record r[6];
	char err[1024];
	size_t done;
	void *s;

	(void)state;
	srv.reject = "BAD";
	s = sink_open();
	r[0] = rec("t", 0, 0, "{\"v\":\"a\"}");
	r[1] = rec("t", 1, 0, "{\"v\":\"b\"}");
	r[2] = rec("t", 1, 1, "{\"v\":\"BAD\"}");
	r[3] = rec("t", 0, 1, "{\"v\":\"c\"}");
	r[4] = rec("t", 1, 2, "{\"v\":\"d\"}");
	r[5] = rec("t", 0, 2, "{\"v\":\"e\"}");
	assert_int_equal(step_write(s, r, 6, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 2);
	assert_int_equal(load_offset(s, "t", 1), 1);
	/* p0 went first and whole: harmless, the fence skips it later. */
	assert_int_equal(load_offset(s, "t", 0), 3);
	desc->abort(s);
	desc->close(s);

	/* The poison record in the second partition sent comes first in the
	 * batch: the first partition is sent only up to it. */
	s = sink_open();
	r[0] = rec("v", 1, 0, "{\"v\":\"BAD\"}");
	r[1] = rec("v", 0, 0, "{\"v\":\"a\"}");
	r[2] = rec("v", 0, 1, "{\"v\":\"b\"}");
	r[3] = rec("v", 1, 1, "{\"v\":\"c\"}");
	/* Group order follows the first record: p1 first; poison at 0. */
	assert_int_equal(step_write(s, r, 4, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 0);
	assert_int_equal(load_offset(s, "v", 0), KSINK_OFFSET_NONE);
	desc->abort(s);
	desc->close(s);
}

static void
test_retry_status_option(void **state)
{
	struct ksink_record r[1];
	char err[512];
	size_t done;
	void *s;

	(void)state;
	conf_set("http.retry.status", "409");
	s = sink_open();
	r[0] = rec("t", 0, 0, "{}");
	srv_script(409, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	/* The request in doubt is re-sent first and rejected; the record
	 * is then sent again and rejected. */
	srv_script(422, NULL, ACT_ANSWER, 0);
	srv_script(422, NULL, ACT_ANSWER, 0);
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_POISON);
	assert_int_equal(done, 0);
	desc->abort(s);
	desc->close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_next_offset_parse),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_statuses, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_after, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_resumes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fatal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison, setup, teardown),
		cmocka_unit_test_setup_teardown(test_poison_partitions, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_retry_status_option,
		    setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
