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

const char *
opt_str(struct sink *s, const char *name)
{
	const char *v = s->host->conf_str(s->ctx, name);

	return v != NULL && *v != '\0' ? v : NULL;
}

/* A URL for the logs: scheme, host, port and path, never the user
 * information nor the query. */
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
		s->retry_extra[code - 400] = 1;
		p = end;
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
