/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * registry.c - the writer schema of an id, from a Confluent-compatible
 * Schema Registry (GET <url>/schemas/ids/<id>), with libcurl.
 *
 * One easy handle per registry object, behind a mutex: the connection to
 * the registry is kept between fetches, and the converters of several
 * connectors may share nothing else.  Credentials reach libcurl only:
 * every URL that a message names is the "shown" form (scheme, host, port,
 * path, never the user information), and the texts that come from libcurl
 * or from the registry are cleaned of every secret before they are put in
 * a message.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "ksink/sink.h"
#include "registry.h"
#include "util.h"
#include "../connectors/lib/buf.h"

#define REG_DEFAULT_TIMEOUT_MS	10000
#define REG_MAX_ANSWER		(16 * 1024 * 1024)
#define REG_MAX_QUOTE		160
/* Secrets shorter than this are not scrubbed from foreign texts: the
 * scrubbing would mangle every message, and no text of libcurl's or a
 * registry's is known to quote them. */
#define REG_MIN_SCRUB		4

struct reg_url {
	char	*url;		/* as given (credentials included), no '/' at the end */
	char	*shown;		/* for messages: no user information */
	int	 has_creds;	/* user information in url */
};

struct ks_registry {
	struct reg_url	*urls;
	size_t		 nurls;
	char		*user, *password;	/* USER_INFO, split */
	char		*bearer;
	char		*ca, *cert, *key;
	long		 timeout_ms;
	char		**secrets;	/* every secret, to scrub foreign texts */
	size_t		 nsecrets;
	pthread_mutex_t	 lock;
	CURL		*curl;
	char		 curl_err[CURL_ERROR_SIZE];
	struct ks_buf answer;
	int		 too_big;
	int		 global;	/* curl_global_init succeeded */
};

/*
 * Outcome of one URL: the registry's answer (the schema, an unknown id, a
 * refusal or nonsense) stands; without one the next URL is tried, and
 * when none answers the fetch is RETRY, or FATAL when a URL failed in a
 * way that only a change of the configuration cures (TRY_BROKEN).
 */
enum { TRY_OK, TRY_POISON, TRY_FATAL, TRY_NEXT, TRY_BROKEN };

static void
add_secret(struct ks_registry *r, const char *s)
{
	if (s == NULL || strlen(s) < REG_MIN_SCRUB)
		return;
	r->secrets = ks_util_xrealloc(r->secrets,
	    (r->nsecrets + 1) * sizeof(*r->secrets));
	r->secrets[r->nsecrets++] = ks_util_strdup(s);
}

/* Replaces every secret in s (in place) with "***". */
static void
scrub(const struct ks_registry *r, char *s)
{
	size_t i, n;
	char *p;

	for (i = 0; i < r->nsecrets; i++) {
		n = strlen(r->secrets[i]);
		while ((p = strstr(s, r->secrets[i])) != NULL) {
			memcpy(p, "***", 3);
			memmove(p + 3, p + n, strlen(p + n) + 1);
		}
	}
}

/*
 * What a message may say of a URL that libcurl does not take, or that is
 * refused: everything between the scheme and the last '@' is masked (a
 * password may hold a '/' or a '?' that ends the authority too early).
 */
static void
mask_url(const char *url, char *out, size_t outlen)
{
	const char *auth, *at;

	auth = strstr(url, "://");
	auth = auth != NULL ? auth + 3 : url;
	at = strrchr(auth, '@');
	if (at == NULL)
		snprintf(out, outlen, "\"%s\"", url);
	else
		snprintf(out, outlen, "\"%.*s***%s\"", (int)(auth - url), url,
		    at);
}

static int
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if (iscntrl((unsigned char)*s))
			return 1;
	return 0;
}

/*
 * Parses one URL of the list (len bytes at s) with libcurl: http or https,
 * a host, no query nor fragment.  On success *hp holds the parsed URL,
 * *text a copy of it and *has_creds whether it holds user information;
 * masked is the URL as a message may show it.
 */
static int
url_parse(const char *s, size_t len, CURLU **hp, char **text,
    int *has_creds, char *masked, size_t maskedlen, char *errbuf,
    size_t errlen)
{
	CURLU *h = NULL;
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL;
	char *query = NULL, *frag = NULL;
	int rc = -1;

	*text = ks_util_xmalloc(len + 1);
	memcpy(*text, s, len);
	(*text)[len] = '\0';
	mask_url(*text, masked, maskedlen);
	if ((h = curl_url()) == NULL) {
		ks_util_errf(errbuf, errlen, "out of memory");
		goto out;
	}
	if (has_ctl(*text) || curl_url_set(h, CURLUPART_URL, *text, 0) !=
	    CURLUE_OK) {
		ks_util_errf(errbuf, errlen, "schema registry URL %s is not a "
		    "URL: give http://HOST:PORT/PATH or https://...", masked);
		goto out;
	}
	curl_url_get(h, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(h, CURLUPART_HOST, &host, 0);
	curl_url_get(h, CURLUPART_USER, &user, 0);
	curl_url_get(h, CURLUPART_PASSWORD, &pass, 0);
	curl_url_get(h, CURLUPART_QUERY, &query, 0);
	curl_url_get(h, CURLUPART_FRAGMENT, &frag, 0);
	if (scheme == NULL || (strcmp(scheme, "http") != 0 &&
	    strcmp(scheme, "https") != 0)) {
		ks_util_errf(errbuf, errlen, "schema registry URL %s: the "
		    "scheme must be http or https", masked);
		goto out;
	}
	if (host == NULL || *host == '\0') {
		ks_util_errf(errbuf, errlen, "schema registry URL %s has no "
		    "host", masked);
		goto out;
	}
	if (query != NULL || frag != NULL) {
		ks_util_errf(errbuf, errlen, "schema registry URL %s: remove "
		    "the query or fragment (the client appends "
		    "/schemas/ids/ID)", masked);
		goto out;
	}
	*has_creds = user != NULL || pass != NULL;
	*hp = h;
	h = NULL;
	rc = 0;
out:
	if (rc == -1) {
		free(*text);
		*text = NULL;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(pass);
	curl_free(query);
	curl_free(frag);
	curl_url_cleanup(h);
	return rc;
}

/*
 * One URL of the list, for use: url_parse(), the credentials checked
 * against conf and kept as secrets, and the URL as logs show it.
 */
static int
parse_url(struct ks_registry *r, const struct ks_registry_conf *conf,
    const char *s, size_t len, struct reg_url *u, char *errbuf,
    size_t errlen)
{
	CURLU *h = NULL;
	char *text = NULL, *shown = NULL, *pass = NULL, *dec = NULL;
	char masked[256];
	int rc = -1, creds;
	size_t n;

	if (url_parse(s, len, &h, &text, &creds, masked, sizeof(masked),
	    errbuf, errlen) == -1)
		return -1;
	if (creds && conf->auth == KS_REG_AUTH_USER_INFO) {
		ks_util_errf(errbuf, errlen, "schema registry URL %s has "
		    "credentials but basic.auth.credentials.source is "
		    "USER_INFO: remove them from the URL, or use the source "
		    "URL", masked);
		goto out;
	}
	if (creds && conf->bearer_token != NULL) {
		ks_util_errf(errbuf, errlen, "schema registry URL %s has "
		    "credentials and a bearer token is set too: use one of "
		    "them", masked);
		goto out;
	}
	u->has_creds = creds;
	curl_url_get(h, CURLUPART_PASSWORD, &pass, 0);
	add_secret(r, pass);
	/* Also the decoded form: libcurl may quote either. */
	curl_url_get(h, CURLUPART_PASSWORD, &dec, CURLU_URLDECODE);
	add_secret(r, dec);
	/* The shown URL: the same without its user information. */
	if (curl_url_set(h, CURLUPART_USER, NULL, 0) != CURLUE_OK ||
	    curl_url_set(h, CURLUPART_PASSWORD, NULL, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_URL, &shown, 0) != CURLUE_OK) {
		ks_util_errf(errbuf, errlen, "schema registry URL %s: cannot "
		    "be used by libcurl", masked);
		goto out;
	}
	u->shown = ks_util_strdup(shown);
	n = strlen(u->shown);
	while (n > 0 && u->shown[n - 1] == '/')
		u->shown[--n] = '\0';
	n = strlen(text);
	while (n > 0 && text[n - 1] == '/')
		text[--n] = '\0';
	u->url = text;
	text = NULL;
	rc = 0;
out:
	free(text);
	curl_free(shown);
	curl_free(pass);
	curl_free(dec);
	curl_url_cleanup(h);
	return rc;
}

static int
no_urls(char *errbuf, size_t errlen)
{
	ks_util_errf(errbuf, errlen, "no schema registry URL: set "
	    "schema.registry.url to one or more comma-separated http(s) "
	    "URLs");
	return -1;
}

/* The next URL of a comma-separated list, without the blanks around it:
 * 1 with *s and *len set, 0 at the end.  Empty entries are skipped. */
static int
url_next(const char **pp, const char **s, size_t *len)
{
	const char *p = *pp, *q;

	while (p != NULL) {
		while (*p == ' ' || *p == '\t')
			p++;
		q = p + strcspn(p, ",");
		*s = p;
		*len = (size_t)(q - p);
		while (*len > 0 && (p[*len - 1] == ' ' ||
		    p[*len - 1] == '\t'))
			(*len)--;
		p = *q == '\0' ? NULL : q + 1;
		if (*len > 0) {
			*pp = p;
			return 1;
		}
	}
	*pp = NULL;
	return 0;
}

int
ks_registry_check_urls(const char *urls, size_t *with_creds, char *errbuf,
    size_t errlen)
{
	const char *p = urls != NULL ? urls : "", *s;
	char *text, masked[256];
	size_t len, n = 0;
	CURLU *h;
	int creds;

	*with_creds = 0;
	while (url_next(&p, &s, &len)) {
		n++;
		if (url_parse(s, len, &h, &text, &creds, masked,
		    sizeof(masked), errbuf, errlen) == -1)
			return -1;
		*with_creds += creds != 0;
		free(text);
		curl_url_cleanup(h);
	}
	if (n == 0) {
		return no_urls(errbuf, errlen);
	}
	return 0;
}

static int
parse_urls(struct ks_registry *r, const struct ks_registry_conf *conf,
    char *errbuf, size_t errlen)
{
	const char *p = conf->urls != NULL ? conf->urls : "", *s;
	size_t len;

	while (url_next(&p, &s, &len)) {
		r->urls = ks_util_xrealloc(r->urls,
		    (r->nurls + 1) * sizeof(*r->urls));
		memset(&r->urls[r->nurls], 0, sizeof(*r->urls));
		if (parse_url(r, conf, s, len, &r->urls[r->nurls], errbuf,
		    errlen) == -1)
			return -1;
		r->nurls++;
	}
	if (r->nurls == 0) {
		return no_urls(errbuf, errlen);
	}
	return 0;
}

static int
check_file(const char *what, const char *path, char *errbuf, size_t errlen)
{
	if (path == NULL)
		return 0;
	if (access(path, R_OK) == -1) {
		ks_util_errf(errbuf, errlen, "schema registry %s %s: %s", what,
		    path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
set_auth(struct ks_registry *r, const struct ks_registry_conf *conf,
    char *errbuf, size_t errlen)
{
	const char *colon;

	if (conf->bearer_token != NULL) {
		if (*conf->bearer_token == '\0' ||
		    has_ctl(conf->bearer_token)) {
			ks_util_errf(errbuf, errlen, "the schema registry's "
			    "bearer token is empty or has control "
			    "characters: the token file's first line must "
			    "hold the token alone");
			return -1;
		}
		if (conf->auth == KS_REG_AUTH_USER_INFO) {
			ks_util_errf(errbuf, errlen, "both basic "
			    "authentication (USER_INFO) and a bearer token "
			    "are set for the schema registry: use one");
			return -1;
		}
		r->bearer = ks_util_strdup(conf->bearer_token);
		add_secret(r, r->bearer);
	}
	if (conf->auth != KS_REG_AUTH_USER_INFO)
		return 0;
	if (conf->user_info == NULL || *conf->user_info == '\0') {
		ks_util_errf(errbuf, errlen, "basic.auth.credentials.source is "
		    "USER_INFO but no user info is set: set "
		    "basic.auth.user.info or basic.auth.user.info.file "
		    "(\"USER:PASSWORD\")");
		return -1;
	}
	if ((colon = strchr(conf->user_info, ':')) == NULL ||
	    colon == conf->user_info || has_ctl(conf->user_info)) {
		/* Never quoted: it may be the password alone. */
		ks_util_errf(errbuf, errlen, "the schema registry's user info "
		    "must be \"USER:PASSWORD\" on one line (what is set has "
		    "%s)", colon == NULL ? "no ':'" : colon == conf->user_info ?
		    "no user before the ':'" : "control characters");
		return -1;
	}
	r->user = ks_util_xmalloc((size_t)(colon - conf->user_info) + 1);
	memcpy(r->user, conf->user_info, (size_t)(colon - conf->user_info));
	r->user[colon - conf->user_info] = '\0';
	r->password = ks_util_strdup(colon + 1);
	add_secret(r, r->password);
	add_secret(r, conf->user_info);
	return 0;
}

static size_t
on_answer(char *data, size_t size, size_t n, void *arg)
{
	struct ks_registry *r = arg;
	size_t len = size * n;

	if (r->answer.len + len > REG_MAX_ANSWER) {
		r->too_big = 1;
		return 0;	/* libcurl stops: CURLE_WRITE_ERROR */
	}
	ks_buf_add(&r->answer, data, len);
	return r->answer.oom ? 0 : len;
}

static int
setup_curl(struct ks_registry *r, char *errbuf, size_t errlen)
{
	CURL *c;
	CURLcode rc = CURLE_OK;

	if ((c = r->curl = curl_easy_init()) == NULL) {
		ks_util_errf(errbuf, errlen, "cannot create a libcurl handle");
		return -1;
	}
#define SET(opt, val) do { if (rc == CURLE_OK) \
		rc = curl_easy_setopt(c, opt, val); } while (0)
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_ERRORBUFFER, r->curl_err);
	SET(CURLOPT_WRITEFUNCTION, on_answer);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_TIMEOUT_MS, r->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, r->timeout_ms);
	SET(CURLOPT_USERAGENT, "ksink/" PACKAGE_VERSION);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (r->ca != NULL)
		SET(CURLOPT_CAINFO, r->ca);
	if (r->cert != NULL) {
		SET(CURLOPT_SSLCERT, r->cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
	}
	if (r->key != NULL) {
		SET(CURLOPT_SSLKEY, r->key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (r->user != NULL) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		SET(CURLOPT_USERNAME, r->user);
		SET(CURLOPT_PASSWORD, r->password);
	} else if (r->bearer != NULL) {
		SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		SET(CURLOPT_XOAUTH2_BEARER, r->bearer);
	}
#undef SET
	if (rc != CURLE_OK) {
		ks_util_errf(errbuf, errlen, "cannot set up libcurl: %s",
		    curl_easy_strerror(rc));
		return -1;
	}
	return 0;
}

int
ks_registry_new(struct ks_registry **out, const struct ks_registry_conf *conf,
    char *errbuf, size_t errlen)
{
	struct ks_registry *r;

	*out = NULL;
	r = ks_util_xcalloc(1, sizeof(*r));
	if (pthread_mutex_init(&r->lock, NULL) != 0) {
		free(r);
		ks_util_errf(errbuf, errlen, "cannot create a mutex");
		return KSINK_FATAL;
	}
	r->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms :
	    REG_DEFAULT_TIMEOUT_MS;
	if (conf->auth != KS_REG_AUTH_NONE &&
	    conf->auth != KS_REG_AUTH_USER_INFO &&
	    conf->auth != KS_REG_AUTH_URL) {
		ks_util_errf(errbuf, errlen, "basic.auth.credentials.source "
		    "must be USER_INFO or URL");
		goto config;
	}
	if (set_auth(r, conf, errbuf, errlen) == -1 ||
	    parse_urls(r, conf, errbuf, errlen) == -1)
		goto config;
	if (conf->key != NULL && conf->cert == NULL) {
		ks_util_errf(errbuf, errlen, "a schema registry client key %s "
		    "without a certificate: set ssl.certificate.location too",
		    conf->key);
		goto config;
	}
	if (check_file("CA file (ssl.ca.location)", conf->ca, errbuf,
	    errlen) == -1 ||
	    check_file("client certificate (ssl.certificate.location)",
	    conf->cert, errbuf, errlen) == -1 ||
	    check_file("client key (ssl.key.location)", conf->key, errbuf,
	    errlen) == -1)
		goto config;
	r->ca = conf->ca ? ks_util_strdup(conf->ca) : NULL;
	r->cert = conf->cert ? ks_util_strdup(conf->cert) : NULL;
	r->key = conf->key ? ks_util_strdup(conf->key) : NULL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		ks_util_errf(errbuf, errlen, "cannot initialise libcurl");
		ks_registry_free(r);
		return KSINK_FATAL;
	}
	r->global = 1;
	if (setup_curl(r, errbuf, errlen) == -1) {
		ks_registry_free(r);
		return KSINK_FATAL;
	}
	*out = r;
	return KSINK_OK;
config:
	ks_registry_free(r);
	return KSINK_CONFIG;
}

void
ks_registry_free(struct ks_registry *r)
{
	size_t i;

	if (r == NULL)
		return;
	if (r->curl != NULL)
		curl_easy_cleanup(r->curl);
	if (r->global)
		curl_global_cleanup();
	for (i = 0; i < r->nurls; i++) {
		free(r->urls[i].url);
		free(r->urls[i].shown);
	}
	free(r->urls);
	for (i = 0; i < r->nsecrets; i++) {
		explicit_bzero(r->secrets[i], strlen(r->secrets[i]));
		free(r->secrets[i]);
	}
	free(r->secrets);
	if (r->password != NULL)
		explicit_bzero(r->password, strlen(r->password));
	if (r->bearer != NULL)
		explicit_bzero(r->bearer, strlen(r->bearer));
	free(r->user);
	free(r->password);
	free(r->bearer);
	free(r->ca);
	free(r->cert);
	free(r->key);
	ks_buf_free(&r->answer);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/*
 * Transport errors that only a change of the configuration (or of the
 * registry's certificate) cures: a TLS verification failure is an
 * operator's CA mistake, which never heals by itself.
 */
static int
curl_is_fatal(CURLcode rc)
{
	switch (rc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_NOT_BUILT_IN:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_LOGIN_DENIED:
	case CURLE_OUT_OF_MEMORY:
	case CURLE_BAD_FUNCTION_ARGUMENT:
	case CURLE_UNKNOWN_OPTION:
		return 1;
	default:
		return 0;
	}
}

/*
 * A TLS alert of the registry's about the client certificate (its absence,
 * or one the registry does not trust): OpenSSL's reason texts, which
 * libcurl only passes on in its error message.
 */
static int
client_cert_refused(CURLcode rc, const char *text)
{
	static const char *alerts[] = { "alert certificate required",
	    "alert unknown ca", "alert bad certificate",
	    "alert certificate unknown", "alert certificate revoked",
	    "alert certificate expired", "alert unsupported certificate" };
	size_t i;

	if (rc != CURLE_SSL_CONNECT_ERROR && rc != CURLE_RECV_ERROR &&
	    rc != CURLE_SEND_ERROR)
		return 0;
	for (i = 0; i < KS_ARRAY_SIZE(alerts); i++)
		if (strstr(text, alerts[i]) != NULL)
			return 1;
	return 0;
}

/* The registry's own words from an error answer ({"error_code": N,
 * "message": "..."}), printable, short and free of secrets; *code gets
 * error_code (0 without one). */
static void
quote_error(const struct ks_registry *r, long *code, char *out,
    size_t outlen)
{
	json_t *root, *msg, *ec;
	const char *s;
	size_t i, o = 0;

	*code = 0;
	out[0] = '\0';
	root = json_loadb(r->answer.p ? r->answer.p : "", r->answer.len, 0,
	    NULL);
	if (root == NULL)
		return;
	if ((ec = json_object_get(root, "error_code")) != NULL &&
	    json_is_integer(ec))
		*code = (long)json_integer_value(ec);
	if ((msg = json_object_get(root, "message")) != NULL &&
	    (s = json_string_value(msg)) != NULL) {
		for (i = 0; s[i] != '\0' && o + 5 < outlen &&
		    i < REG_MAX_QUOTE; i++)
			out[o++] = ((unsigned char)s[i] >= 0x20 &&
			    (unsigned char)s[i] < 0x7f) ? s[i] : ' ';
		if (s[i] != '\0' && o + 4 < outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
		out[o] = '\0';
		scrub(r, out);
	}
	json_decref(root);
}

/* Reads {"schema": "...", "schemaType": "..."}. */
static int
read_answer(struct ks_registry *r, const struct reg_url *u, int32_t id,
    struct ks_buf *schema, char *type, size_t typelen, char *errbuf,
    size_t errlen)
{
	json_t *root, *js, *jt;
	json_error_t jerr;
	const char *t = "AVRO";
	int rc = TRY_FATAL;

	root = json_loadb(r->answer.p ? r->answer.p : "", r->answer.len, 0,
	    &jerr);
	if (root == NULL || !json_is_object(root)) {
		ks_util_errf(errbuf, errlen, "schema registry %s: the answer "
		    "for schema id %d is not a JSON object: is the URL the "
		    "registry's Confluent-compatible API (for Apicurio "
		    "2.x, .../apis/ccompat/v7)?", u->shown, id);
		goto out;
	}
	js = json_object_get(root, "schema");
	if (!json_is_string(js)) {
		ks_util_errf(errbuf, errlen, "schema registry %s: the answer "
		    "for schema id %d has no \"schema\" string: is the URL "
		    "the registry's Confluent-compatible API?", u->shown, id);
		goto out;
	}
	if ((jt = json_object_get(root, "schemaType")) != NULL &&
	    !json_is_null(jt)) {
		if (!json_is_string(jt)) {
			ks_util_errf(errbuf, errlen, "schema registry %s: the "
			    "answer for schema id %d has a schemaType that is "
			    "not a string", u->shown, id);
			goto out;
		}
		t = json_string_value(jt);
	}
	if (strlen(t) >= typelen) {
		ks_util_errf(errbuf, errlen, "schema registry %s: schema id %d "
		    "has the unknown type \"%.32s\"", u->shown, id, t);
		goto out;
	}
	memcpy(type, t, strlen(t) + 1);
	ks_buf_reset(schema);
	ks_buf_adds(schema, json_string_value(js));
	if (schema->oom) {
		ks_util_errf(errbuf, errlen, "schema registry %s: out of "
		    "memory for schema id %d", u->shown, id);
		goto out;
	}
	rc = TRY_OK;
out:
	if (root != NULL)
		json_decref(root);
	return rc;
}

/* One GET; TRY_NEXT leaves in errbuf why this URL did not do. */
static int
try_url(struct ks_registry *r, const struct reg_url *u, int32_t id,
    struct ks_buf *schema, char *type, size_t typelen, char *errbuf,
    size_t errlen)
{
	struct ks_buf url = { 0 };
	char words[CURL_ERROR_SIZE + REG_MAX_QUOTE];
	CURLcode rc;
	long status = 0, ecode;

	ks_buf_addf(&url, "%s/schemas/ids/%d", u->url, id);
	if (url.oom) {
		ks_buf_free(&url);
		ks_util_errf(errbuf, errlen, "schema registry %s: out of "
		    "memory", u->shown);
		return TRY_FATAL;
	}
	ks_buf_reset(&r->answer);
	r->too_big = 0;
	r->curl_err[0] = '\0';
	curl_easy_setopt(r->curl, CURLOPT_URL, url.p);
	rc = curl_easy_perform(r->curl);
	explicit_bzero(url.p, url.len);
	ks_buf_free(&url);
	if (rc != CURLE_OK) {
		if (r->answer.oom) {
			ks_util_errf(errbuf, errlen, "schema registry %s: out "
			    "of memory for the answer for schema id %d",
			    u->shown, id);
			return TRY_FATAL;
		}
		if (r->too_big) {
			ks_util_errf(errbuf, errlen, "schema registry %s: the "
			    "answer for schema id %d is larger than %d MiB",
			    u->shown, id, REG_MAX_ANSWER >> 20);
			return TRY_FATAL;
		}
		snprintf(words, sizeof(words), "%s", r->curl_err[0] ?
		    r->curl_err : curl_easy_strerror(rc));
		scrub(r, words);
		if (client_cert_refused(rc, words)) {
			ks_util_errf(errbuf, errlen, "schema registry %s "
			    "refuses the client certificate%s: %s (check "
			    "ssl.certificate.location and ssl.key.location; "
			    "this does not heal by itself)", u->shown,
			    r->cert == NULL ? " (none is set)" : "", words);
			return TRY_BROKEN;
		}
		if (curl_is_fatal(rc)) {
			ks_util_errf(errbuf, errlen, "schema registry %s: %s "
			    "(fix the configuration or the registry's "
			    "certificate: this does not heal by itself)",
			    u->shown, words);
			return TRY_BROKEN;
		}
		ks_util_errf(errbuf, errlen, "schema registry %s: %s",
		    u->shown, words);
		return TRY_NEXT;
	}
	curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
	if (status == 200)
		return read_answer(r, u, id, schema, type, typelen, errbuf,
		    errlen);
	if (status == 401 || status == 403) {
		ks_util_errf(errbuf, errlen, "schema registry %s: HTTP %ld: "
		    "the registry refuses %s: check the credentials", u->shown,
		    status, r->user != NULL ? "the basic authentication "
		    "user info" : r->bearer != NULL ? "the bearer token" :
		    u->has_creds ? "the user and password in the URL" :
		    "a client without credentials");
		return TRY_FATAL;
	}
	quote_error(r, &ecode, words, sizeof(words));
	if (status == 404 && ecode == 40403) {
		ks_util_errf(errbuf, errlen, "schema registry %s: no schema "
		    "has id %d (%s)", u->shown, id, words);
		return TRY_POISON;
	}
	if (status == 429 || status == 408 || (status >= 500 &&
	    status <= 599)) {
		ks_util_errf(errbuf, errlen, "schema registry %s: HTTP %ld%s%s",
		    u->shown, status, words[0] ? ": " : "", words);
		return TRY_NEXT;
	}
	ks_util_errf(errbuf, errlen, "schema registry %s: HTTP %ld for schema "
	    "id %d%s%s%s", u->shown, status, id, words[0] ? ": " : "", words,
	    status == 404 ? " (not a registry's answer: is the URL the "
	    "registry's Confluent-compatible API? For Apicurio 2.x it ends "
	    "in /apis/ccompat/v7)" : "");
	return TRY_FATAL;
}

int
ks_registry_fetch(struct ks_registry *r, int32_t id,
    struct ks_buf *schema, char *type, size_t typelen, char *errbuf,
    size_t errlen)
{
	char one[512];
	struct ks_buf why = { 0 };
	size_t i;
	int t, fatal = 0;

	if (typelen == 0) {
		ks_util_errf(errbuf, errlen, "no room for the schema type");
		return KSINK_FATAL;
	}
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	pthread_mutex_lock(&r->lock);
	for (i = 0; i < r->nurls; i++) {
		t = try_url(r, &r->urls[i], id, schema, type, typelen, one,
		    sizeof(one));
		if (t == TRY_OK || t == TRY_POISON || t == TRY_FATAL) {
			/* An answer of the registry's: it stands. */
			pthread_mutex_unlock(&r->lock);
			ks_buf_free(&why);
			if (t == TRY_OK)
				return KSINK_OK;
			ks_util_errf(errbuf, errlen, "%s", one);
			return t == TRY_POISON ? KSINK_POISON : KSINK_FATAL;
		}
		/* No answer from this URL: the next may give one. */
		if (t == TRY_BROKEN && !fatal) {
			fatal = 1;
			ks_buf_truncate(&why, 0);
		}
		if (t == TRY_BROKEN || !fatal)
			ks_buf_addf(&why, "%s%s", why.len ? "; " : "",
			    one);
	}
	pthread_mutex_unlock(&r->lock);
	if (why.oom) {
		ks_buf_free(&why);
		ks_util_errf(errbuf, errlen, "schema registry: out of memory");
		return KSINK_FATAL;
	}
	if (fatal)
		ks_util_errf(errbuf, errlen, "%s", why.p);
	else
		ks_util_errf(errbuf, errlen, "no schema registry answered for "
		    "schema id %d: %s", id, why.p ? why.p : "no URL");
	ks_buf_free(&why);
	return fatal ? KSINK_FATAL : KSINK_RETRY;
}
