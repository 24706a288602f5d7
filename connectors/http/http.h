/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/http.h - the HTTP sink's private declarations, shared by
 * its files: http.c (options, callbacks, descriptor), send.c, request.c,
 * body.c, ledger.c and options.c.  Not installed; nothing here is exported
 * from http.so (only ksink_sink_entry is).
 */
#ifndef KS_HTTP_H
#define KS_HTTP_H

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sqlite3.h>

#include "ksink/sink.h"

#include "../lib/buf.h"
#include "../lib/clock.h"
#include "../lib/envelope.h"
#include "../lib/err.h"
#include "../lib/json.h"
#include "../lib/offcache.h"
#include "../lib/sqloffsets.h"

#define HTTP_KEY_VERSION	"ksink-http-v1"
/* 1: offsets in ksink_http_offsets; 2: in ksink_offsets, the table of
 * every SQLite database of ksink (connectors/lib/sqloffsets.c); 3: an
 * intent keeps its body's length and digest instead of the body (an
 * intent of version 2 with its body is still re-sent as it is). */
#define HTTP_LEDGER_VERSION	3
#define HTTP_LEDGER_OLD_OFFSETS	"ksink_http_offsets"
#define HTTP_OFFSETS_BODY_MAX	65536
#define HTTP_SECRET_MAX		16384

enum http_format { FMT_JSON, FMT_NDJSON, FMT_VALUE };

/* A secret read from a file, read again when the file changes. */
struct secret {
	const char *path;	/* NULL: a value from the INI, or none */
	char *value;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
};

/* One partition's records within a write() call. */
struct group {
	const char *topic;
	int32_t partition;
	size_t first;	/* position of its first record in order[] */
	size_t count;
};

/* What one request carries, for the headers and the messages. */
struct request {
	const char *topic;
	int32_t partition;
	int64_t first, last;
	size_t nrec;
	const char *key;	/* hex, without quotes */
	const char *ctype;
	const char *body;
	size_t len;
};

/*
 * A request in doubt: its intent is in the ledger, and the receiver may or
 * may not have applied it.  The body is in memory when this process built
 * it (or an older ledger stored it); after a restart it is rebuilt from
 * the records of its range, which the worker reads again from the ledger's
 * offset, and must match the stored length and digest.
 */
struct doubt {
	int64_t id;		/* the intent's row */
	char *topic;
	int32_t partition;
	int64_t first, last;
	size_t nrec;
	char key[65];
	char *ctype;		/* NULL: none */
	size_t len;		/* of the body */
	int64_t digest;		/* body_digest() of the body */
	int complete;		/* body holds the whole request */
	struct ks_buf body;
	size_t have;		/* records in body, while rebuilding */
	int64_t next;		/* offset after the last one in body */
};

/* A request answered 2xx whose intent is still in the ledger: it is
 * settled (intent deleted, offset raised) in the ledger's next
 * transaction, the next intent's or commit()'s. */
struct settle {
	int64_t id;
	struct ks_offcache_entry *f;
	int64_t next;
};

struct sink {
	const struct ksink_host *host;
	struct ksink_ctx *ctx;
	char *connector;

	/* Options. */
	char *url, *url_log;
	char *offsets_url, *offsets_url_log;
	int put;
	enum http_format format;
	size_t max_records, max_bytes;
	long timeout_ms, connect_timeout_ms;
	int64_t retry_after_max_ms;
	size_t log_body_max;
	unsigned char retry_extra[200];	/* 400..599 */
	const char *ctype;		/* default Content-Type */
	struct curl_slist *headers;	/* http.header, Expect:, Content-Type */
	char *basic_user;
	struct secret password, token;
	int insecure;

	CURL *curl;
	int curl_global;
	char curl_err[CURL_ERROR_SIZE];
	struct ks_buf resp;
	size_t resp_max;
	int64_t not_before;	/* monotonic ms; 0: none */

	/* Ledger. */
	char *state_path;
	sqlite3 *db;
	struct ks_sqloffsets offsets;
	sqlite3_stmt *st_intent, *st_drop,
	    *st_pending, *st_begin, *st_commit;
	struct doubt *doubts;	/* at most one per partition */
	size_t ndoubts;
	struct settle *settles;
	size_t nsettles, settles_cap;

	struct ks_offcache fences;
	size_t delivered;	/* records answered 2xx in this write() */

	/* The step and write()'s scratch space. */
	int in_step;
	struct ks_buf body;
	struct group *groups;
	size_t ngroups;
	size_t *order, *gidx;
	size_t order_cap;
};

/* SHA-256 (FIPS 180-4), for the Idempotency-Key. */
struct sha256 {
	uint32_t h[8];
	uint64_t n;
	unsigned char blk[64];
	size_t used;
};

/* body.c */
int	parse_next_offset_text(const char *v, size_t n, int64_t *next);
void	body_begin(struct sink *s, struct ks_buf *b);
void	body_add(struct sink *s, struct ks_buf *b,
	    const struct ksink_record *r, size_t nth);
void	body_end(struct sink *s, struct ks_buf *b);
int64_t	body_digest(const void *v, size_t n);
void	sha256_init(struct sha256 *c);
void	sha256_update(struct sha256 *c, const void *v, size_t n);
void	sha256_final(struct sha256 *c, unsigned char out[32]);
void	idempotency_key(const char *connector, const char *topic,
	    int32_t partition, int64_t first, int64_t last, char out[65]);

/* request.c */
int	classify_status(const struct sink *s, long code);
void	retry_after_hint(struct sink *s);
int	classify_curl(CURLcode rc);
size_t	on_body(char *data, size_t size, size_t n, void *arg);
void	quote_response(struct sink *s, char *out, size_t outlen, size_t max);
int	perform(struct sink *s, const char *url, const char *url_log,
	    const struct request *rq, long *code, char *errbuf, size_t errlen);

/* options.c */
const char	*conf_opt(const struct ksink_host *host, struct ksink_ctx *ctx,
	    const char *name);
const char	*opt_str(struct sink *s, const char *name);
int	check_url(const char *opt, const char *url, char **logged,
	    char *errbuf, size_t errlen);
int	check_header(const char *h, int *ctype, char *errbuf, size_t errlen);
int	parse_retry_status(struct sink *s, const char *v, char *errbuf,
	    size_t errlen);
int	check_auth(const struct ksink_host *host, struct ksink_ctx *ctx,
	    const char **opt, char *errbuf, size_t errlen);
int	check_secret_file(const char *opt, const char *path, char *errbuf,
	    size_t errlen);
int	check_tls(const struct ksink_host *host, struct ksink_ctx *ctx,
	    const char **opt, char *errbuf, size_t errlen);
int	check_ledger(const struct ksink_host *host, struct ksink_ctx *ctx,
	    const char **opt, char *errbuf, size_t errlen);
void	secret_clear(struct secret *sec);
int	secret_load(struct sink *s, const char *opt, struct secret *sec,
	    int *changed, char *errbuf, size_t errlen);
void	apply_auth(struct sink *s);
int	refresh_secrets(struct sink *s, char *errbuf, size_t errlen);

/* ledger.c */
int	db_fail(struct sink *s, const char *what, char *errbuf, size_t errlen);
int	db_exec(struct sink *s, const char *sql, char *errbuf, size_t errlen);
void	db_rollback(struct sink *s);
int	ledger_open(struct sink *s, char *errbuf, size_t errlen);
void	ledger_close(struct sink *s);
int	ledger_get(struct sink *s, const char *topic, int32_t partition,
	    int64_t *next, char *errbuf, size_t errlen);
int	ledger_advance(struct sink *s, const char *topic, int32_t partition,
	    int64_t next, char *errbuf, size_t errlen);
int	ledger_intent(struct sink *s, const struct request *rq, int64_t *id,
	    char *errbuf, size_t errlen);
int	ledger_doubts(struct sink *s, char *errbuf, size_t errlen);
int	ledger_drop(struct sink *s, int64_t id, char *errbuf, size_t errlen);
int	ledger_delivered(struct sink *s, int64_t id,
	    struct ks_offcache_entry *f, int64_t next);
int	ledger_settle_rows(struct sink *s, char *errbuf, size_t errlen);
int	ledger_flush(struct sink *s, char *errbuf, size_t errlen);
int	fence_get(struct sink *s, const char *topic, int32_t partition,
	    struct ks_offcache_entry **out, char *errbuf, size_t errlen);
void	fence_raise(struct ks_offcache_entry *f, int64_t next);

/* doubt.c */
struct doubt	*doubt_find(struct sink *s, const char *topic,
	    int32_t partition);
int	doubt_keep(struct sink *s, const struct request *rq, int64_t id);
void	doubt_drop(struct sink *s, struct doubt *d);
void	doubt_clear(struct sink *s);
void	doubt_restart(struct sink *s, const char *topic, int32_t partition);
int	doubt_send(struct sink *s, struct doubt *d, char *errbuf,
	    size_t errlen);
int	doubt_group(struct sink *s, const struct ksink_record *recs,
	    size_t lo, size_t hi, size_t *poison, char *errbuf, size_t errlen);

/* send.c */
int	deliver(struct sink *s, const struct request *rq, int64_t id,
	    char *errbuf, size_t errlen);
int	resend_pending(struct sink *s, char *errbuf, size_t errlen);
int	send_range(struct sink *s, const struct ksink_record *recs, size_t lo,
	    size_t hi, size_t *poison, int built, char *errbuf, size_t errlen);
size_t	body_append(struct sink *s, const struct ksink_record *r, size_t nth);
int	send_group(struct sink *s, const struct ksink_record *recs, size_t lo,
	    size_t hi, size_t *poison, char *errbuf, size_t errlen);
int	scratch(struct sink *s, size_t n);

#endif
