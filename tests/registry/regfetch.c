/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/registry/regfetch.c - the registry client (src/registry.c) on the
 * command line, for the tests against a real Schema Registry.
 *
 * usage: regfetch -u URLS [-a none|USER_INFO|URL] [-i USERINFO_FILE]
 *                 [-b TOKEN_FILE] [-c CA] [-C CERT] [-K KEY]
 *                 [-t TIMEOUT_MS] [-n COUNT] ID
 *
 * Fetches the schema of ID COUNT times (default once) with one registry
 * object and prints, for the last fetch, the result's name on the first
 * line ("OK TYPE", or "RETRY", "POISON", "FATAL", "CONFIG" followed by the
 * error message) and on OK the schema's text on the second.  The exit
 * status is the result code (KSINK_OK 0, KSINK_RETRY 1, KSINK_POISON 2,
 * KSINK_FATAL 3, KSINK_CONFIG 4), 64 on a usage error.  The secrets are
 * read from files (their first line), as ksink reads them, so that they
 * are in no command line.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ksink/sink.h"
#include "registry.h"
#include "../connectors/lib/buf.h"
#include "util.h"

static const char *names[] = { "OK", "RETRY", "POISON", "FATAL", "CONFIG" };

static char *
first_line(const char *path)
{
	char line[4096];
	FILE *f;

	if ((f = fopen(path, "r")) == NULL) {
		perror(path);
		exit(64);
	}
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return ks_util_strdup(line);
}

static void
usage(void)
{
	fprintf(stderr, "usage: regfetch -u URLS [-a none|USER_INFO|URL] "
	    "[-i USERINFO_FILE] [-b TOKEN_FILE] [-c CA] [-C CERT] [-K KEY] "
	    "[-t TIMEOUT_MS] [-n COUNT] ID\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	struct ks_registry_conf conf;
	struct ks_registry *r;
	struct ks_buf schema = { 0 };
	char type[16], errbuf[1024];
	int64_t id, n = 1, v;
	int c, rc;

	memset(&conf, 0, sizeof(conf));
	conf.auth = KS_REG_AUTH_URL;
	while ((c = getopt(argc, argv, "u:a:i:b:c:C:K:t:n:")) != -1) {
		switch (c) {
		case 'u': conf.urls = optarg; break;
		case 'a':
			if (strcmp(optarg, "none") == 0)
				conf.auth = KS_REG_AUTH_NONE;
			else if (strcmp(optarg, "USER_INFO") == 0)
				conf.auth = KS_REG_AUTH_USER_INFO;
			else if (strcmp(optarg, "URL") == 0)
				conf.auth = KS_REG_AUTH_URL;
			else
				usage();
			break;
		case 'i': conf.user_info = first_line(optarg); break;
		case 'b': conf.bearer_token = first_line(optarg); break;
		case 'c': conf.ca = optarg; break;
		case 'C': conf.cert = optarg; break;
		case 'K': conf.key = optarg; break;
		case 't':
			if (ks_util_parse_int(optarg, &v) == -1)
				usage();
			conf.timeout_ms = (long)v;
			break;
		case 'n':
			if (ks_util_parse_int(optarg, &n) == -1 || n < 1)
				usage();
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || ks_util_parse_int(argv[optind], &id) == -1 ||
	    id < 0 || id > INT32_MAX)
		usage();
	rc = ks_registry_new(&r, &conf, errbuf, sizeof(errbuf));
	if (rc == KSINK_OK) {
		while (n-- > 0)
			rc = ks_registry_fetch(r, (int32_t)id, &schema, type,
			    sizeof(type), errbuf, sizeof(errbuf));
		ks_registry_free(r);
	}
	if (rc == KSINK_OK)
		printf("OK %s\n%.*s\n", type, (int)schema.len, schema.p);
	else
		printf("%s %s\n", names[rc], errbuf);
	ks_buf_free(&schema);
	free((char *)conf.user_info);
	free((char *)conf.bearer_token);
	return rc;
}
