/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_http.c - unit tests of the HTTP sink (connectors/http/http.c).
 *
 * The plugin's sources are linked in and its private header included, so
 * that its functions can be tested one by one; the callbacks are driven
 * through its descriptor and the daemon's host services (src/sink.c),
 * against a small scripted HTTP server running in a thread of this
 * program.  The TLS test runs the reference receiver
 * (tests/http/receiver.py) and is skipped when python3 or openssl is
 * missing.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "../../connectors/http/http.h"

#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"
#include "options.h"
#include "sink.h"
#include "testing.h"

/*
 * The connector's settings, given to the plugin through the daemon's host
 * services (ks_sink_host) as connector c1.
 */

static const char *conf_k[64], *conf_v[64];
static size_t nconf;
/* What the daemon logged since setup(). */
static char logbuf[1 << 18];
/* The host's contexts made by a test, freed after it. */
static struct ksink_ctx *ctxs[32];
static size_t nctx;

static const struct ksink_sink *desc;

static void
conf_reset(void)
{
	nconf = 0;
}

/* Sets k to v; an option that may be repeated gets one value more. */
static void
conf_set(const char *k, const char *v)
{
	const struct ksink_option *o = ks_options_find(desc->options, k);
	size_t i;

	if (o != NULL && !(o->flags & KSINK_OPT_MULTI))
		for (i = 0; i < nconf; i++)
			if (strcmp(conf_k[i], k) == 0) {
				conf_v[i] = v;
				return;
			}
	assert_true(nconf < 64);
	conf_k[nconf] = k;
	conf_v[nconf++] = v;
}

/* The daemon's context for the settings; NULL with err filled where the
 * daemon would refuse them. */
static struct ksink_ctx *
make_ctx(char *err, size_t errlen)
{
	const char *kv[65];
	struct ksink_ctx *ctx;
	size_t i;

	assert_true(nctx < sizeof(ctxs) / sizeof(ctxs[0]));
	for (i = 0; i < nconf; i++)
		if (asprintf((char **)&kv[i], "%s=%s", conf_k[i],
		    conf_v[i]) == -1)
			fail_msg("asprintf");
	kv[i] = NULL;
	ctx = ks_sink_ctx_test(desc, "c1", kv, err, errlen);
	for (i = 0; i < nconf; i++)
		free((char *)kv[i]);
	if (ctx != NULL)
		ctxs[nctx++] = ctx;
	return ctx;
}


/*
 * A scripted HTTP/1.1 server, one connection at a time, keep-alive.
 */

enum { ACT_ANSWER, ACT_CLOSE, ACT_DELAY };

struct step {
	int status;
	const char *headers;	/* "Name: value\r\n"... */
	const char *body;
	int action;
	int delay_ms;
};

struct req {
	char method[8];
	char target[512];
	char head[4096];
	char *body;
	size_t len;
};

static struct {
	int lfd, port;
	pthread_t th;
	pthread_mutex_t mu;
	volatile int stop;
	struct step script[64];
	size_t nscript, next;
	const char *reject;	/* 400 to a body holding this */
	int offsets_status;	/* answer to GET */
	const char *offsets_body;
	struct req reqs[1024];
	size_t nreqs;
	int conns;
} srv;

static void
srv_send(int fd, int status, const char *headers, const char *body)
{
	char head[1024];
	int n;

	if (body == NULL)
		body = "";
	n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: "
	    "%zu\r\n%s\r\n", status, strlen(body), headers ? headers : "");
	(void)!send(fd, head, (size_t)n, MSG_NOSIGNAL);
	(void)!send(fd, body, strlen(body), MSG_NOSIGNAL);
}

/* Reads more bytes into in; 0 on EOF, error or stop. */
static int
srv_fill(int fd, char **in, size_t *len, size_t *cap)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	for (;;) {
		if (srv.stop)
			return 0;
		if (poll(&p, 1, 50) <= 0)
			continue;
		if (*len + 65536 > *cap) {
			*cap = (*len + 65536) * 2;
			*in = realloc(*in, *cap);
		}
		n = read(fd, *in + *len, *cap - *len - 1);
		if (n <= 0)
			return 0;
		*len += (size_t)n;
		(*in)[*len] = '\0';
		return 1;
	}
}

static void
srv_conn(int fd)
{
	char *in = NULL, *end, *cl;
	size_t len = 0, cap = 0, hlen, blen;
	struct step st;
	struct req *r;

	for (;;) {
		while (in == NULL || (end = strstr(in, "\r\n\r\n")) == NULL)
			if (!srv_fill(fd, &in, &len, &cap))
				goto out;
		hlen = (size_t)(end - in) + 4;
		blen = 0;
		if ((cl = strcasestr(in, "\r\ncontent-length:")) != NULL &&
		    cl < end)
			blen = strtoul(cl + 17, NULL, 10);
		while (len < hlen + blen)
			if (!srv_fill(fd, &in, &len, &cap))
				goto out;
		pthread_mutex_lock(&srv.mu);
		r = &srv.reqs[srv.nreqs < 1023 ? srv.nreqs++ : 1023];
		sscanf(in, "%7s %511s", r->method, r->target);
		snprintf(r->head, sizeof(r->head), "%.*s", (int)hlen, in);
		free(r->body);
		r->body = malloc(blen + 1);
		memcpy(r->body, in + hlen, blen);
		r->body[blen] = '\0';
		r->len = blen;
		if (strcmp(r->method, "GET") == 0) {
			st.status = srv.offsets_status;
			st.headers = NULL;
			st.body = srv.offsets_body;
			st.action = ACT_ANSWER;
		} else if (srv.next < srv.nscript)
			st = srv.script[srv.next++];
		else if (srv.reject != NULL && memmem(r->body, blen,
		    srv.reject, strlen(srv.reject)) != NULL) {
			st.status = 400;
			st.headers = NULL;
			st.body = "{\"error\":\"record rejected\"}";
			st.action = ACT_ANSWER;
		} else {
			st.status = 200;
			st.headers = NULL;
			st.body = "{\"ok\":true}";
			st.action = ACT_ANSWER;
		}
		pthread_mutex_unlock(&srv.mu);
		memmove(in, in + hlen + blen, len - hlen - blen);
		len -= hlen + blen;
		in[len] = '\0';
		if (st.action == ACT_CLOSE)
			goto out;
		if (st.action == ACT_DELAY)
			usleep((useconds_t)st.delay_ms * 1000);
		srv_send(fd, st.status, st.headers, st.body);
	}
out:
	free(in);
}

static void *
srv_main(void *arg)
{
	struct pollfd p;
	int fd;

	(void)arg;
	while (!srv.stop) {
		p.fd = srv.lfd;
		p.events = POLLIN;
		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept(srv.lfd, NULL, NULL)) == -1)
			continue;
		pthread_mutex_lock(&srv.mu);
		srv.conns++;
		pthread_mutex_unlock(&srv.mu);
		srv_conn(fd);
		close(fd);
	}
	return NULL;
}

static void
srv_start(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int one = 1;

	memset(&srv, 0, sizeof(srv));
	pthread_mutex_init(&srv.mu, NULL);
	srv.offsets_status = 404;
	srv.offsets_body = "{}";
	srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(srv.lfd >= 0);
	setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(srv.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(srv.lfd, 16), 0);
	getsockname(srv.lfd, (struct sockaddr *)&a, &alen);
	srv.port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&srv.th, NULL, srv_main, NULL), 0);
}

static void
srv_stop(void)
{
	size_t i;

	srv.stop = 1;
	pthread_join(srv.th, NULL);
	close(srv.lfd);
	for (i = 0; i < 1024; i++)
		free(srv.reqs[i].body);
	pthread_mutex_destroy(&srv.mu);
}

static void
srv_script(int status, const char *headers, int action, int delay_ms)
{
	pthread_mutex_lock(&srv.mu);
	srv.script[srv.nscript].status = status;
	srv.script[srv.nscript].headers = headers;
	srv.script[srv.nscript].body = "{\"error\":\"scripted\"}";
	srv.script[srv.nscript].action = action;
	srv.script[srv.nscript].delay_ms = delay_ms;
	srv.nscript++;
	pthread_mutex_unlock(&srv.mu);
}

static size_t
srv_nreqs(void)
{
	size_t n;

	pthread_mutex_lock(&srv.mu);
	n = srv.nreqs;
	pthread_mutex_unlock(&srv.mu);
	return n;
}

/* The value of header name in request r, or NULL. */
static const char *
req_header(const struct req *r, const char *name, char *out, size_t n)
{
	char pat[128];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\r\n%s:", name);
	if ((p = strcasestr(r->head, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ')
		p++;
	e = strstr(p, "\r\n");
	snprintf(out, n, "%.*s", (int)(e - p), p);
	return out;
}

/*
 * Fixtures.
 */

static char tmpdir[256], ledger[300], url[128], offsets_url[128];

static void
rm_tree(const char *dir)
{
	char path[512];
	struct dirent *de;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_http.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(ledger, sizeof(ledger), "%s/ledger.db", tmpdir);
	srv_start();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/in", srv.port);
	snprintf(offsets_url, sizeof(offsets_url),
	    "http://127.0.0.1:%d/offsets", srv.port);
	conf_reset();
	conf_set("http.url", url);
	conf_set("http.state.path", ledger);
	/* Every level, for the tests that secrets are never logged. */
	ks_log_set_level(KSINK_LOG_DEBUG);
	ks_log_capture(logbuf, sizeof(logbuf));
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	srv_stop();
	rm_tree(tmpdir);
	while (nctx > 0)
		ks_sink_ctx_free(ctxs[--nctx]);
	ks_log_capture(NULL, 0);
	ks_log_set_level(KSINK_LOG_INFO);
	return 0;
}

static void *
sink_open(void)
{
	char err[1024] = "";
	struct ksink_ctx *ctx;
	void *s = NULL;
	int rc;

	if ((ctx = make_ctx(err, sizeof(err))) == NULL)
		fail_msg("the host refuses the settings: %s", err);
	rc = desc->open(&ks_sink_host, ctx, &s, err, sizeof(err));
	if (rc != KSINK_OK)
		fail_msg("open: %s: %s", ksink_status_name(rc), err);
	return s;
}

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

static struct ksink_record
rec(const char *topic, int32_t partition, int64_t offset, const char *value)
{
	struct ksink_record r;

	memset(&r, 0, sizeof(r));
	r.topic = topic;
	r.partition = partition;
	r.offset = offset;
	r.timestamp = 1700000000000 + offset;
	r.value = value;
	r.value_len = value ? strlen(value) : 0;
	return r;
}

/* begin, write; returns write's status. */
static int
step_write(void *s, const struct ksink_record *r, size_t n, size_t *done,
    char *err, size_t errlen)
{
	int rc;

	err[0] = '\0';
	assert_int_equal(desc->begin(s, err, errlen), KSINK_OK);
	rc = desc->write(s, r, n, done, err, errlen);
	return rc;
}

/* A whole step; returns write's or commit's status. */
static int
step(void *s, const struct ksink_record *r, size_t n, size_t *done)
{
	struct ksink_offset offs[16];
	size_t i, j, no = 0;
	char err[1024];
	int rc;

	rc = step_write(s, r, n, done, err, sizeof(err));
	if (rc != KSINK_OK) {
		desc->abort(s);
		return rc;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < no; j++)
			if (offs[j].partition == r[i].partition &&
			    strcmp(offs[j].topic, r[i].topic) == 0)
				break;
		if (j == no) {
			offs[no].topic = r[i].topic;
			offs[no].partition = r[i].partition;
			no++;
		}
		offs[j].next_offset = r[i].offset + 1;
	}
	rc = desc->commit(s, offs, no, err, sizeof(err));
	if (rc != KSINK_OK)
		fail_msg("commit: %s", err);
	return rc;
}

static int64_t
load_offset(void *s, const char *topic, int32_t partition)
{
	struct ksink_offset o = { .topic = topic, .partition = partition,
	    .next_offset = KSINK_OFFSET_NONE };
	char err[512];
	int rc;

	rc = desc->load_offsets(s, &o, 1, err, sizeof(err));
	if (rc != KSINK_OK)
		fail_msg("load_offsets: %s", err);
	return o.next_offset;
}

/* The number of pending intents in the ledger of sink s (the file is
 * locked by it). */
static int
pending_intents(void *s)
{
	sqlite3 *db = ((struct sink *)s)->db;
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM ksink_http_intents",
	    -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

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

/* A request that may have been applied (the connection closed before the
 * answer) stays in doubt: it is re-sent byte-identical with its key before
 * anything else, by the next attempt or after a restart. */
static void
test_in_doubt(void **state)
{
	struct ksink_record r[4], more[2];
	char err[512], k0[128], k1[128];
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
	assert_int_equal(srv.reqs[1].len, srv.reqs[0].len);
	assert_memory_equal(srv.reqs[1].body, srv.reqs[0].body,
	    srv.reqs[0].len);
	assert_string_equal(req_header(&srv.reqs[1], "Idempotency-Key", k1,
	    sizeof(k1)), req_header(&srv.reqs[0], "Idempotency-Key", k0,
	    sizeof(k0)));
	assert_non_null(strstr(srv.reqs[2].body, "\"offset\":10"));
	assert_null(strstr(srv.reqs[2].body, "\"offset\":9"));
	assert_int_equal(pending_intents(s), 0);
	assert_int_equal(load_offset(s, "t", 0), 12);
	assert_non_null(strstr(logbuf, "in-doubt"));
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
	int64_t t0;
	void *s;

	(void)state;
	s = sink_open();
	r[0] = rec("t", 0, 0, "{}");
	srv_script(429, "Retry-After: 1\r\n", ACT_ANSWER, 0);
	t0 = ks_clock_mono_ms();
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
	assert_non_null(strstr(err, "Retry-After"));
	desc->abort(s);
	/* Too early: nothing is sent. */
	assert_int_equal(step_write(s, r, 1, &done, err, sizeof(err)),
	    KSINK_RETRY);
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
	struct ksink_record r[1];
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
	r[0] = rec("t", 0, 3, "{}");
	assert_int_equal(step(s, r, 1, &done), KSINK_OK);
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

	/* One table now, version 2, the other connector's row kept. */
	assert_int_equal(sqlite3_open(ledger, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) FROM "
	    "sqlite_master WHERE name = 'ksink_http_offsets'), (SELECT "
	    "next_offset FROM ksink_offsets WHERE connector = 'other'), "
	    "(SELECT user_version FROM pragma_user_version)", -1, &st, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 0);
	assert_int_equal(sqlite3_column_int(st, 1), 3);
	assert_int_equal(sqlite3_column_int(st, 2), 2);
	sqlite3_finalize(st);
	sqlite3_close(db);
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
		cmocka_unit_test(test_sha256),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_next_offset_parse),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_in_doubt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ledger_upgrade, setup,
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
		cmocka_unit_test_setup_teardown(test_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_mode, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reset_offsets, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	desc = ksink_sink_entry(&ks_sink_host);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
