/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * status.c - `ksink status -c FILE [--json]`: asks the admin endpoint of
 * the daemon running FILE ([worker] admin.listen) for its connectors.
 *
 * Exit status: 0 every connector runs, 1 a connector has failed, 69 no
 * daemon answers, 64 usage, 78 the file has no usable admin.listen.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "admin.h"
#include "conf.h"
#include "options.h"
#include "status.h"
#include "util.h"
#include "../connectors/lib/buf.h"

#define EXIT_UNAVAILABLE 69

struct reply {
	struct ks_buf body;
	int failed;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	ks_buf_add(&r->body, p, size * n);
	return r->body.oom ? 0 : size * n;	/* 0: libcurl stops */
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	static const char name[] = "Ksink-Failed-Connectors:";
	struct reply *r = arg;

	if (size * n > sizeof(name) - 1 &&
	    strncasecmp(p, name, sizeof(name) - 1) == 0)
		r->failed = atoi(p + sizeof(name) - 1);
	return size * n;
}

int
ks_status_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	struct ks_errors errs = { 0 };
	struct sockaddr_storage ss;
	struct reply r = { { 0 }, 0 };
	struct ks_conf *conf;
	const char *path = NULL, *listen;
	char url[512], err[512], cerr[CURL_ERROR_SIZE] = "";
	socklen_t sl;
	long code = 0;
	CURL *h;
	CURLcode rc;
	int ch, json = 0, ret;

	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		if (ch == 'c')
			path = optarg;
		else if (ch == 'j')
			json = 1;
		else
			goto usage;
	}
	if (path == NULL || optind != argc)
		goto usage;
	if ((conf = ks_conf_parse_file(path, &errs)) == NULL ||
	    errs.count > 0) {
		ks_errors_print(&errs, stderr);
		ks_errors_free(&errs);
		ks_conf_free(conf);
		return KS_EXIT_CONFIG;
	}
	listen = ks_conf_str(ks_conf_section(conf, KS_SEC_WORKER),
	    ks_options_worker, "admin.listen");
	if (listen == NULL || *listen == '\0') {
		fprintf(stderr, "ksink: status: %s sets no admin.listen in "
		    "[worker]; the daemon serves its status only there\n",
		    path);
		ks_conf_free(conf);
		return KS_EXIT_CONFIG;
	}
	if (ks_admin_parse_listen(listen, &ss, &sl, err, sizeof(err)) == -1) {
		fprintf(stderr, "ksink: status: %s: %s\n", path, err);
		ks_conf_free(conf);
		return KS_EXIT_CONFIG;
	}
	/* A wildcard address is reached through the loopback. */
	if (strncmp(listen, "0.0.0.0:", 8) == 0)
		snprintf(url, sizeof(url), "http://127.0.0.1:%s/%s",
		    listen + 8, json ? "connectors" : "status");
	else if (strncmp(listen, "[::]:", 5) == 0)
		snprintf(url, sizeof(url), "http://[::1]:%s/%s", listen + 5,
		    json ? "connectors" : "status");
	else
		snprintf(url, sizeof(url), "http://%s/%s", listen,
		    json ? "connectors" : "status");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	h = curl_easy_init();
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	if (r.body.oom)
		ks_util_oom();
	if (rc != CURLE_OK || code != 200) {
		fprintf(stderr, "ksink: status: no ksink answers at %s "
		    "(admin.listen in %s): %s\n", listen, path,
		    rc != CURLE_OK ? (*cerr ? cerr : curl_easy_strerror(rc)) :
		    "unexpected HTTP status");
		ret = EXIT_UNAVAILABLE;
	} else {
		if (r.body.len > 0)
			fwrite(r.body.p, 1, r.body.len, stdout);
		ret = r.failed > 0 ? KS_EXIT_FAILURE : KS_EXIT_OK;
	}
	ks_buf_free(&r.body);
	ks_conf_free(conf);
	curl_global_cleanup();
	return ret;
usage:
	fprintf(stderr, "usage: ksink status -c FILE [--json]\n");
	return KS_EXIT_USAGE;
}
