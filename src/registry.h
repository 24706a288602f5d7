/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * registry.h - a client of a Confluent-compatible Schema Registry: the
 * writer schema of an id, with libcurl.  No cache here: the converters
 * keep what they fetched (ids never change).
 */
#ifndef KS_REGISTRY_H
#define KS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct ks_buf;

enum ks_registry_auth { KS_REG_AUTH_NONE, KS_REG_AUTH_USER_INFO,
	KS_REG_AUTH_URL };

struct ks_registry_conf {
	const char *urls;		/* comma-separated, tried in turn */
	int auth;			/* enum ks_registry_auth */
	const char *user_info;		/* "user:password", a secret */
	const char *bearer_token;	/* a secret, or NULL */
	const char *ca, *cert, *key;	/* PEM files, or NULL */
	long timeout_ms;
};

struct ks_registry;

/* Copies conf.  KSINK_CONFIG with errbuf naming what is wrong (a URL
 * that is not http(s), USER_INFO without user info, ...).  Credentials in
 * a URL are used with KS_REG_AUTH_URL and KS_REG_AUTH_NONE (libcurl takes
 * them from the URL), refused with USER_INFO or a bearer token.
 * timeout_ms <= 0: 10000. */
int	ks_registry_new(struct ks_registry **out,
	    const struct ks_registry_conf *conf, char *errbuf, size_t errlen);
void	ks_registry_free(struct ks_registry *);

/* Whether every URL of a comma-separated list is one ks_registry_new()
 * takes, as far as the URLs alone tell (no I/O): 0 with *with_creds the
 * number holding user information, or -1 with errbuf saying why, the
 * URL masked. */
int	ks_registry_check_urls(const char *urls, size_t *with_creds,
	    char *errbuf, size_t errlen);

/*
 * GET <url>/schemas/ids/<id>: sets *type ("AVRO", also when the answer
 * has no schemaType) and the schema's text in schema (replacing what it
 * held).  KSINK_OK; KSINK_RETRY when no URL answers or they answer 5xx,
 * 429 or 408 (every URL is tried first, in turn, on each fetch; a
 * transport error or one of these moves on to the next); KSINK_POISON
 * when the id is unknown (404 with the registries' error_code 40403);
 * KSINK_FATAL on 401/403 or another answer (a 404 without 40403 is a URL
 * that is not the registry's API), and when no URL answers and one of
 * them failed in a way that only the operator can mend: the registry's
 * certificate does not verify with the CA (ssl.ca.location), the registry
 * refuses the client certificate or its absence, a PEM file is unusable;
 * and when memory runs out.
 * errbuf names the URL, never the credentials (user information in a URL,
 * the user info, the token).  Thread-safe: fetches of one object are
 * serialised; they reuse its connection.
 */
int	ks_registry_fetch(struct ks_registry *, int32_t id,
	    struct ks_buf *schema, char *type, size_t typelen,
	    char *errbuf, size_t errlen);

#endif
