/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/options.c - checks of the option values that open()
 * cannot leave to the option table (URLs, headers, retry statuses), and
 * the secrets read from files, read again when the files change.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http.h"

/*
 * Options and secrets.
 */

/* An option's value; NULL when it is not set or empty. */
const char *
conf_opt(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char *name)
{
	const char *v = host->conf_str(ctx, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

const char *
opt_str(struct sink *s, const char *name)
{
	return conf_opt(s->host, s->ctx, name);
}

/* Checks a URL option; *logged (when logged is not NULL) gets the URL for
 * the logs: scheme, host, port and path, never the user information nor
 * the query. */
int
check_url(const char *opt, const char *url, char **logged, char *errbuf,
    size_t errlen)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL;
	char *user = NULL, *pass = NULL;
	int rc = -1;
	size_t n;

	if ((u = curl_url()) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		ks_err_set(errbuf, errlen, "%s: not a URL", opt);
		goto out;
	}
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &pass, 0);
	if (scheme == NULL || (strcasecmp(scheme, "http") != 0 &&
	    strcasecmp(scheme, "https") != 0)) {
		ks_err_set(errbuf, errlen, "%s: the scheme must be http or https",
		    opt);
		goto out;
	}
	if (user != NULL || pass != NULL) {
		ks_err_set(errbuf, errlen, "%s: credentials in the URL would be "
		    "logged; use http.basic.user and http.basic.password.file",
		    opt);
		goto out;
	}
	if (host == NULL) {
		ks_err_set(errbuf, errlen, "%s: the URL has no host", opt);
		goto out;
	}
	rc = 0;
	if (logged == NULL)
		goto out;
	rc = -1;
	n = strlen(scheme) + strlen(host) + (port ? strlen(port) : 0) +
	    (path ? strlen(path) : 0) + 8;
	if ((*logged = malloc(n)) == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		goto out;
	}
	snprintf(*logged, n, "%s://%s%s%s%s", scheme, host, port ? ":" : "",
	    port ? port : "", path ? path : "");
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(user);
	curl_free(pass);
	curl_url_cleanup(u);
	return rc;
}

static int
header_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Checks one http.header value; sets *ctype if it is a Content-Type. */
int
check_header(const char *h, int *ctype, char *errbuf, size_t errlen)
{
	static const char *const refused[] = {
		"authorization", "proxy-authorization", "idempotency-key",
		"content-length", "transfer-encoding", "expect", NULL
	};
	const char *colon = strchr(h, ':'), *v;
	size_t n, i;

	if (colon == NULL || colon == h) {
		ks_err_set(errbuf, errlen, "http.header = %.40s: expected "
		    "Name: value", h);
		return -1;
	}
	n = (size_t)(colon - h);
	for (i = 0; i < n; i++)
		if (!header_name_char((unsigned char)h[i])) {
			ks_err_set(errbuf, errlen, "http.header: invalid character "
			    "in the header name %.*s", (int)n, h);
			return -1;
		}
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	if (*v == '\0') {
		ks_err_set(errbuf, errlen, "http.header %.*s has no value",
		    (int)n, h);
		return -1;
	}
	for (; *v != '\0'; v++)
		if ((unsigned char)*v < 0x20 && *v != '\t') {
			ks_err_set(errbuf, errlen, "http.header %.*s: control "
			    "character (line break?) in the value", (int)n, h);
			return -1;
		}
	for (i = 0; refused[i] != NULL; i++)
		if (strlen(refused[i]) == n &&
		    strncasecmp(h, refused[i], n) == 0) {
			ks_err_set(errbuf, errlen, "http.header %.*s is set by the "
			    "sink%s", (int)n, h, i < 2 ? "; use "
			    "http.bearer.token.file or http.basic.user and "
			    "http.basic.password.file" : "");
			return -1;
		}
	if (n >= 6 && strncasecmp(h, "ksink-", 6) == 0) {
		ks_err_set(errbuf, errlen, "http.header %.*s: Ksink-* headers are "
		    "set by the sink", (int)n, h);
		return -1;
	}
	if (n == 12 && strncasecmp(h, "content-type", 12) == 0)
		*ctype = 1;
	return 0;
}

int
parse_retry_status(struct sink *s, const char *v, char *errbuf,
    size_t errlen)
{
	const char *p = v;
	char *end;
	long code;

	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		errno = 0;
		code = strtol(p, &end, 10);
		if (end == p || errno != 0 || code < 400 || code > 599 ||
		    (*end != '\0' && *end != ',' && *end != ' ')) {
			ks_err_set(errbuf, errlen, "http.retry.status = %s: expected "
			    "a comma-separated list of status codes from 400 "
			    "to 599", v);
			return -1;
		}
		if (s != NULL)
			s->retry_extra[code - 400] = 1;
		p = end;
	}
	return 0;
}

/*
 * The rules of the credential options together.  *opt gets the option a
 * problem is reported about.  The messages never quote a secret.
 */
int
check_auth(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char **opt, char *errbuf, size_t errlen)
{
	const char *user = conf_opt(host, ctx, "http.basic.user");
	const char *pass = conf_opt(host, ctx, "http.basic.password");
	const char *pass_file = conf_opt(host, ctx, "http.basic.password.file");
	const char *token = conf_opt(host, ctx, "http.bearer.token");
	const char *token_file = conf_opt(host, ctx, "http.bearer.token.file");

	if (pass != NULL && pass_file != NULL) {
		*opt = "http.basic.password.file";
		ks_err_set(errbuf, errlen, "http.basic.password and "
		    "http.basic.password.file are both set: keep one");
		return -1;
	}
	if (token != NULL && token_file != NULL) {
		*opt = "http.bearer.token.file";
		ks_err_set(errbuf, errlen, "http.bearer.token and "
		    "http.bearer.token.file are both set: keep one");
		return -1;
	}
	if ((pass != NULL || pass_file != NULL) && user == NULL) {
		*opt = pass != NULL ? "http.basic.password" :
		    "http.basic.password.file";
		ks_err_set(errbuf, errlen, "a Basic password is set but "
		    "http.basic.user is not");
		return -1;
	}
	if (user != NULL && (token != NULL || token_file != NULL)) {
		*opt = "http.basic.user";
		ks_err_set(errbuf, errlen, "http.basic.user and a bearer token are "
		    "both set: the receiver takes one Authorization header");
		return -1;
	}
	if (token != NULL && strpbrk(token, "\r\n") != NULL) {
		*opt = "http.bearer.token";
		ks_err_set(errbuf, errlen, "http.bearer.token holds a line "
		    "break");
		return -1;
	}
	return 0;
}

/* Whether the secret file of option opt (path, if set) can be read. */
int
check_secret_file(const char *opt, const char *path, char *errbuf,
    size_t errlen)
{
	if (path != NULL && access(path, R_OK) == -1) {
		ks_err_set(errbuf, errlen, "%s %s: %s", opt, path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The TLS files: the certificate and its key go together, and each file
 * can be read (libcurl reads them only at the first request: find a
 * missing one now, not when records wait).  *opt gets the option at fault.
 */
int
check_tls(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char **opt, char *errbuf, size_t errlen)
{
	static const char *const tls[] = { "http.tls.ca.file",
	    "http.tls.ca.path", "http.tls.cert.file", "http.tls.key.file" };
	const char *v;
	size_t t;

	if ((conf_opt(host, ctx, "http.tls.key.file") != NULL) !=
	    (conf_opt(host, ctx, "http.tls.cert.file") != NULL)) {
		*opt = conf_opt(host, ctx, "http.tls.key.file") != NULL ?
		    "http.tls.key.file" : "http.tls.cert.file";
		ks_err_set(errbuf, errlen, "http.tls.cert.file and "
		    "http.tls.key.file go together");
		return -1;
	}
	for (t = 0; t < sizeof(tls) / sizeof(tls[0]); t++)
		if ((v = conf_opt(host, ctx, tls[t])) != NULL &&
		    access(v, R_OK) == -1) {
			*opt = tls[t];
			ks_err_set(errbuf, errlen, "%s = %s: %s", tls[t], v,
			    strerror(errno));
			return -1;
		}
	return 0;
}

/* Exactly once needs one of the ledger and the receiver's offsets, not
 * both.  *opt gets the option at fault (NULL: the connector). */
int
check_ledger(const struct ksink_host *host, struct ksink_ctx *ctx,
    const char **opt, char *errbuf, size_t errlen)
{
	const char *state = conf_opt(host, ctx, "http.state.path");
	const char *offsets_url = conf_opt(host, ctx, "http.offsets.url");

	if (state != NULL && offsets_url != NULL) {
		*opt = "http.offsets.url";
		ks_err_set(errbuf, errlen, "http.state.path and "
		    "http.offsets.url are both set: with the offset "
		    "protocol the receiver keeps the offsets and no "
		    "ledger is used; remove one");
		return -1;
	}
	if (state == NULL && offsets_url == NULL) {
		*opt = NULL;
		ks_err_set(errbuf, errlen, "http.state.path (the ledger) is "
		    "required unless the receiver keeps offsets "
		    "(http.offsets.url)");
		return -1;
	}
	return 0;
}

void
secret_clear(struct secret *sec)
{
	if (sec->value != NULL) {
		explicit_bzero(sec->value, strlen(sec->value));
		free(sec->value);
		sec->value = NULL;
	}
}

/* Reads sec->path if it changed since the last read; *changed tells. */
int
secret_load(struct sink *s, const char *opt, struct secret *sec,
    int *changed, char *errbuf, size_t errlen)
{
	struct stat st;
	char *v;
	ssize_t n;
	size_t len = 0;
	int fd, e;

	*changed = 0;
	if (sec->path == NULL)
		return 0;
	if ((fd = open(sec->path, O_RDONLY | O_CLOEXEC)) == -1) {
		ks_err_set(errbuf, errlen, "%s %s: %s", opt, sec->path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		e = errno;
		close(fd);
		ks_err_set(errbuf, errlen, "%s %s: %s", opt, sec->path, strerror(e));
		return -1;
	}
	if (sec->value != NULL && st.st_dev == sec->dev &&
	    st.st_ino == sec->ino && st.st_size == sec->size &&
	    st.st_mtim.tv_sec == sec->mtime.tv_sec &&
	    st.st_mtim.tv_nsec == sec->mtime.tv_nsec) {
		close(fd);
		return 0;
	}
	if ((v = malloc(HTTP_SECRET_MAX + 1)) == NULL) {
		close(fd);
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	while (len < HTTP_SECRET_MAX &&
	    (n = read(fd, v + len, HTTP_SECRET_MAX - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			e = errno;
			close(fd);
			explicit_bzero(v, len);
			free(v);
			ks_err_set(errbuf, errlen, "%s %s: %s", opt, sec->path,
			    strerror(e));
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	v[len] = '\0';
	if (len > 0 && v[len - 1] == '\n')
		v[--len] = '\0';
	if (len > 0 && v[len - 1] == '\r')
		v[--len] = '\0';
	if (len == 0 || len == HTTP_SECRET_MAX || strlen(v) != len ||
	    strpbrk(v, "\r\n") != NULL) {
		explicit_bzero(v, len);
		free(v);
		ks_err_set(errbuf, errlen, "%s %s: expected one line of text, not "
		    "empty, shorter than %d bytes", opt, sec->path,
		    HTTP_SECRET_MAX);
		return -1;
	}
	if (sec->value == NULL && (st.st_mode & S_IROTH))
		s->host->log(s->ctx, KSINK_LOG_WARN, "%s %s is readable by "
		    "every user; chmod o-r it", opt, sec->path);
	secret_clear(sec);
	sec->value = v;
	sec->dev = st.st_dev;
	sec->ino = st.st_ino;
	sec->size = st.st_size;
	sec->mtime = st.st_mtim;
	*changed = 1;
	return 0;
}

/* Hands the current credentials to libcurl. */
void
apply_auth(struct sink *s)
{
	if (s->token.value != NULL) {
		curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(s->curl, CURLOPT_XOAUTH2_BEARER,
		    s->token.value);
	} else if (s->basic_user != NULL) {
		curl_easy_setopt(s->curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->basic_user);
		curl_easy_setopt(s->curl, CURLOPT_PASSWORD,
		    s->password.value != NULL ? s->password.value : "");
	}
}

/* Reads the secret files again if they changed. */
int
refresh_secrets(struct sink *s, char *errbuf, size_t errlen)
{
	int a = 0, b = 0;

	if (secret_load(s, "http.bearer.token.file", &s->token, &a, errbuf,
	    errlen) == -1 ||
	    secret_load(s, "http.basic.password.file", &s->password, &b,
	    errbuf, errlen) == -1)
		return -1;
	if (a || b)
		apply_auth(s);
	return 0;
}
