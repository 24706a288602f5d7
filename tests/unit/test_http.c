/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_http.c - unit tests of the HTTP sink (connectors/http/http.c,
 * connectors/http/options.c): its settings refused by open() and found
 * by check(), credentials read from files, and TLS.
 *
 * The plugin's sources are linked in and its private header included
 * (tests/unit/http-fx.h); the callbacks are driven through its descriptor
 * and the daemon's host services (src/sink.c), against a small scripted
 * HTTP server running in a thread of this program.  The TLS test runs the
 * reference receiver (tests/http/receiver.py) and is skipped when python3
 * or openssl is missing.
 */
#include "http-fx.h"

static int
sink_open_err(char *err, size_t errlen)
{
	struct ksink_ctx *ctx;
	void *s = NULL;
	int rc;

	err[0] = '\0';
	if ((ctx = make_ctx(err, errlen)) == NULL)
		return KSINK_CONFIG;
	rc = desc->open(&ks_sink_host, ctx, &s, err, errlen);
	if (rc == KSINK_OK)
		desc->close(s);
	return rc;
}

/*
 * Configuration.
 */

static void
expect_config_error(const char *want)
{
	char err[512];

	assert_int_equal(sink_open_err(err, sizeof(err)), KSINK_CONFIG);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void
test_config(void **state)
{
	char path[400], err[512];
	FILE *fp;

	(void)state;
	conf_reset();
	conf_set("http.url", url);
	expect_config_error("http.state.path");
	conf_set("http.offsets.url", offsets_url);
	conf_set("http.state.path", ledger);
	expect_config_error("both set");

	conf_reset();
	conf_set("http.state.path", ledger);
	conf_set("http.url", "ftp://127.0.0.1/x");
	expect_config_error("http or https");
	conf_set("http.url", "http://alice:pw@127.0.0.1/x");
	expect_config_error("credentials in the URL");
	conf_set("http.url", url);
	conf_set("http.header", "Authorization: Bearer xyz");
	expect_config_error("http.bearer.token.file");

	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.header", "Ksink-Offset-First: 1");
	expect_config_error("Ksink-*");
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.header", "NoColon");
	expect_config_error("Name: value");
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.header", "X-A: 1\nX-B: 2");
	expect_config_error("control character");
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.retry.status", "200");
	expect_config_error("http.retry.status");
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.basic.password", "pw");
	expect_config_error("http.basic.user");
	conf_set("http.basic.user", "alice");
	conf_set("http.bearer.token", "tok");
	expect_config_error("both set");
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.tls.cert.file", "/nonexistent");
	expect_config_error("go together");

	/* A secret file that is missing or empty. */
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.bearer.token.file", "/nonexistent/token");
	expect_config_error("/nonexistent/token");
	snprintf(path, sizeof(path), "%s/empty", tmpdir);
	fp = fopen(path, "w");
	fclose(fp);
	conf_set("http.bearer.token.file", path);
	expect_config_error("one line");

	/* The ledger is held by one connector at a time. */
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	{
		void *s = sink_open();

		assert_int_equal(sink_open_err(err, sizeof(err)), KSINK_FATAL);
		assert_non_null(strstr(err, "in use"));
		desc->close(s);
	}
}

static void
write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	chmod(path, 0600);
}

static void
test_auth(void **state)
{
	struct ksink_record r[2];
	char path[400], h[256];
	size_t done;
	void *s;

	(void)state;
	snprintf(path, sizeof(path), "%s/token", tmpdir);
	write_file(path, "s3cr3t-token-1\n");
	conf_set("http.bearer.token.file", path);
	s = sink_open();
	r[0] = rec("t", 0, 0, "{}");
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	assert_string_equal(req_header(&srv.reqs[0], "Authorization", h,
	    sizeof(h)), "Bearer s3cr3t-token-1");
	/* A rotated token is read again. */
	usleep(20000);
	write_file(path, "s3cr3t-token-22\n");
	r[0] = rec("t", 0, 1, "{}");
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	assert_string_equal(req_header(&srv.reqs[1], "Authorization", h,
	    sizeof(h)), "Bearer s3cr3t-token-22");
	/* A failure is reported without the token. */
	srv_script(401, NULL, ACT_ANSWER, 0);
	{
		char err[1024];

		r[0] = rec("t", 0, 2, "{}");
		assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
		    KSINK_FATAL);
		assert_null(strstr(err, "s3cr3t"));
		desc->abort(s);
	}
	desc->close(s);

	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	snprintf(path, sizeof(path), "%s/password", tmpdir);
	write_file(path, "pa55w0rd-x\n");
	conf_set("http.basic.user", "alice");
	conf_set("http.basic.password.file", path);
	s = sink_open();
	/* From the ledger's offset: the request in doubt is rebuilt. */
	r[0] = rec("t", 0, 2, "{}");
	r[1] = rec("t", 0, 3, "{}");
	assert_int_equal(step(s, r, 2, &done), KSINK_OK);
	/* alice:pa55w0rd-x; the request in doubt after the 401 went
	 * first. */
	assert_int_equal(srv_nreqs(), 5);
	assert_string_equal(req_header(&srv.reqs[4], "Authorization", h,
	    sizeof(h)), "Basic YWxpY2U6cGE1NXcwcmQteA==");
	desc->close(s);

	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	conf_set("http.bearer.token", "inline-t0ken");
	s = sink_open();
	r[0] = rec("t", 0, 4, "{}");
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	assert_int_equal(srv_nreqs(), 6);
	assert_string_equal(req_header(&srv.reqs[5], "Authorization", h,
	    sizeof(h)), "Bearer inline-t0ken");
	desc->close(s);

	/* Never in the logs, debug included. */
	assert_null(strstr(logbuf, "s3cr3t"));
	assert_null(strstr(logbuf, "pa55w0rd"));
	assert_null(strstr(logbuf, "YWxpY2U6"));
	assert_null(strstr(logbuf, "inline-t0ken"));
	assert_non_null(strstr(logbuf, "POST http://127.0.0.1"));
}

/*
 * TLS, against the reference receiver.
 */

static int
run(const char *cmd)
{
	int rc = system(cmd);

	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static pid_t
receiver_start(const char *args, int *port)
{
	char cmd[4096], line[32];
	const char *py = getenv("PYTHON3"), *top = getenv("top_srcdir");
	int fds[2];
	pid_t pid;
	FILE *fp;

	if (py == NULL || *py == '\0')
		py = "python3";
	if (top == NULL)
		top = "../..";
	snprintf(cmd, sizeof(cmd), "exec %s %s/tests/http/receiver.py --port 0 "
	    "--db %s/receiver.db %s", py, top, tmpdir, args);
	if (pipe(fds) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	fp = fdopen(fds[0], "r");
	if (fgets(line, sizeof(line), fp) == NULL) {
		fclose(fp);
		waitpid(pid, NULL, 0);
		return -1;
	}
	fclose(fp);
	*port = atoi(line);
	return pid;
}

static void
receiver_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

static void
test_tls(void **state)
{
	char cmd[4096], u[128], ca[400], cert[400], key[400], ccert[400];
	char ckey[400], args[2048], err[1024];
	struct ksink_record r[1];
	size_t done;
	int port;
	pid_t pid;
	void *s;

	(void)state;
	if (run("command -v openssl >/dev/null 2>&1") != 0) {
		skip();
		return;
	}
	snprintf(ca, sizeof(ca), "%s/ca.pem", tmpdir);
	snprintf(cert, sizeof(cert), "%s/srv.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/srv.key", tmpdir);
	snprintf(ccert, sizeof(ccert), "%s/cli.pem", tmpdir);
	snprintf(ckey, sizeof(ckey), "%s/cli.key", tmpdir);
	snprintf(cmd, sizeof(cmd), "(cd %s && "
	    "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=ca "
	    "-keyout ca.key -out ca.pem && "
	    "openssl req -newkey rsa:2048 -nodes -subj /CN=localhost "
	    "-keyout srv.key -out srv.csr && "
	    "printf 'subjectAltName=IP:127.0.0.1\\n' > san.ext && "
	    "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -days 2 -extfile san.ext -out srv.pem && "
	    "openssl req -newkey rsa:2048 -nodes -subj /CN=ksink "
	    "-keyout cli.key -out cli.csr && "
	    "openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key "
	    "-CAcreateserial -days 2 -out cli.pem", tmpdir);
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
	    ") >/dev/null 2>&1");
	assert_int_equal(run(cmd), 0);
	snprintf(args, sizeof(args), "--tls-cert %s --tls-key %s "
	    "--tls-client-ca %s", cert, key, ca);
	if ((pid = receiver_start(args, &port)) == -1) {
		skip();
		return;
	}
	snprintf(u, sizeof(u), "https://127.0.0.1:%d/in", port);
	r[0] = rec("t", 0, 0, "{\"id\":\"x\"}");

	/* Verification is on by default: an unknown CA fails. */
	conf_reset();
	conf_set("http.url", u);
	conf_set("http.state.path", ledger);
	conf_set("http.tls.cert.file", ccert);
	conf_set("http.tls.key.file", ckey);
	s = sink_open();
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	desc->close(s);

	/* With the CA: delivered. */
	conf_set("http.tls.ca.file", ca);
	s = sink_open();
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	desc->close(s);

	/* Without the client certificate the receiver refuses. */
	conf_reset();
	conf_set("http.url", u);
	conf_set("http.state.path", ledger);
	conf_set("http.tls.ca.file", ca);
	s = sink_open();
	r[0] = rec("t", 0, 1, "{\"id\":\"y\"}");
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	desc->abort(s);
	desc->close(s);

	/* The insecure switch skips verification, and says so. */
	conf_reset();
	conf_set("http.url", u);
	conf_set("http.state.path", ledger);
	conf_set("http.tls.cert.file", ccert);
	conf_set("http.tls.key.file", ckey);
	conf_set("http.tls.insecure.skip.verify", "true");
	s = sink_open();
	assert_non_null(strstr(logbuf, "insecure"));
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
	desc->close(s);
	receiver_stop(pid);

	/* The receiver applied two records. */
	snprintf(cmd, sizeof(cmd), "test \"$(%s -c \"import sqlite3; print("
	    "sqlite3.connect('%s/receiver.db').execute('SELECT count(*) FROM "
	    "applied').fetchone()[0])\")\" = 2", getenv("PYTHON3") &&
	    *getenv("PYTHON3") ? getenv("PYTHON3") : "python3", tmpdir);
	assert_int_equal(run(cmd), 0);
}

/* check() on the settings, its reports in logbuf (each starts with R). */
#define R "ksink: error: connector c1: "
static int
check(void)
{
	char err[1024];
	struct ksink_ctx *ctx;

	if ((ctx = make_ctx(err, sizeof(err))) == NULL)
		fail_msg("the host refuses the settings: %s", err);
	ks_log_capture(logbuf, sizeof(logbuf));
	return desc->check(&ks_sink_host, ctx);
}

/*
 * check() finds what open() would refuse, with open()'s words, never
 * quoting a secret, without creating the ledger or sending anything.
 */
static void
test_check(void **state)
{
	char missing[300];

	(void)state;
	assert_int_equal(desc->abi_minor, 2);
	assert_non_null(desc->check);

	snprintf(missing, sizeof(missing), "%s/nosuch-token", tmpdir);
	conf_set("http.url", "http://user:s3cret@127.0.0.1:9/x");
	conf_set("http.header", "X-Ok: yes");
	conf_set("http.header", "Authorization: Bearer sekrit");
	conf_set("http.basic.password", "hunter2");
	conf_set("http.bearer.token.file", missing);
	conf_set("http.retry.status", "200");
	assert_int_equal(check(), KSINK_CONFIG);
	assert_non_null(strstr(logbuf, R "http.url: credentials in the URL "
	    "would be logged; use http.basic.user"));
	assert_non_null(strstr(logbuf, R "http.header: http.header "
	    "Authorization is set by the sink; use"));
	assert_non_null(strstr(logbuf, R "http.basic.password: a Basic "
	    "password is set but http.basic.user is not\n"));
	assert_non_null(strstr(logbuf, R "http.bearer.token.file: "
	    "http.bearer.token.file "));
	assert_non_null(strstr(logbuf, "nosuch-token: No such file or "
	    "directory\n"));
	assert_non_null(strstr(logbuf, R "http.retry.status: "
	    "http.retry.status = 200: expected a comma-separated list"));
	assert_null(strstr(logbuf, "s3cret"));
	assert_null(strstr(logbuf, "sekrit"));
	assert_null(strstr(logbuf, "hunter2"));

	/* Neither a ledger nor the receiver's offsets. */
	conf_reset();
	conf_set("http.url", url);
	assert_int_equal(check(), KSINK_CONFIG);
	assert_string_equal(logbuf, R "http.state.path (the ledger) is "
	    "required unless the receiver keeps offsets (http.offsets.url)\n");

	/* The configuration of setup(): fine, and nothing was created. */
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	assert_int_equal(check(), KSINK_OK);
	assert_string_equal(logbuf, "");
	assert_int_equal(access(ledger, F_OK), -1);
	assert_int_equal(srv_nreqs(), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
