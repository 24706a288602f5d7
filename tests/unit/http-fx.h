/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/http-fx.h - the fixture of the HTTP sink's unit tests
 * (test_http.c, test_http_send.c, test_http_ledger.c): the connector's
 * settings given through the daemon's host services, a small scripted
 * HTTP server running in a thread of the test program, a scratch
 * directory for the ledger, and steps driven through the plugin's
 * descriptor.  Included once by each test program, first.
 */
#ifndef KS_TEST_HTTP_FX_H
#define KS_TEST_HTTP_FX_H

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

static int64_t __attribute__((unused))
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

/* The number of intents in the ledger of sink s (the file is locked by
 * it), those of requests in doubt and those of delivered requests that
 * the ledger's next transaction settles. */
static int __attribute__((unused))
ledger_intents(void *s)
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

/* The number of requests in doubt: intents not delivered. */
static int __attribute__((unused))
pending_intents(void *s)
{
	return ledger_intents(s) - (int)((struct sink *)s)->nsettles;
}

#endif /* KS_TEST_HTTP_FX_H */
