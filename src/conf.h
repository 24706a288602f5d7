/* SPDX-License-Identifier: BSD-2-Clause */
/* conf.h - the INI file: parsing (inih) and table-driven validation. */
#ifndef KS_CONF_H
#define KS_CONF_H

#include <stddef.h>
#include <stdio.h>

#include "ksink/sink.h"

enum ks_conf_kind {
	KS_SEC_WORKER,
	KS_SEC_KAFKA,
	KS_SEC_CONNECTOR
};

struct ks_kv {
	char *key;
	char *value;
	int line;
	struct ks_kv *next;
};

struct ks_section {
	int kind;		/* enum ks_conf_kind */
	char *name;		/* connector name, NULL for others */
	int line;
	struct ks_kv *kvs;
	struct ks_kv **kvtail;
	struct ks_section *next;
};

struct ks_conf {
	char *path;
	struct ks_section *sections;
	struct ks_section **sectail;
};

/* Problems found, each one line "FILE:LINE: what; what to do"; at most
 * KS_ERRORS_MAX are kept. */
#define KS_ERRORS_MAX 100
struct ks_errors {
	char **msg;
	size_t count;
};

void	ks_errors_add(struct ks_errors *errs, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	ks_errors_print(const struct ks_errors *errs, FILE *fp);
void	ks_errors_free(struct ks_errors *errs);

struct ks_conf *ks_conf_parse_file(const char *path, struct ks_errors *errs);
struct ks_conf *ks_conf_parse_fp(FILE *fp, const char *name,
	    struct ks_errors *errs);
void	ks_conf_free(struct ks_conf *conf);

struct ks_section *ks_conf_section(const struct ks_conf *conf, int kind);
const struct ks_kv *ks_conf_kv(const struct ks_section *sec, const char *key);
/* Value of key, or the option's default from tab, or NULL. */
const char *ks_conf_str(const struct ks_section *sec,
	    const struct ksink_option *tab, const char *key);
int64_t	ks_conf_int(const struct ks_section *sec,
	    const struct ksink_option *tab, const char *key);
int	ks_conf_bool(const struct ks_section *sec,
	    const struct ksink_option *tab, const char *key);
size_t	ks_conf_count(const struct ks_section *sec, const char *key);
const char *ks_conf_str_at(const struct ks_section *sec, const char *key,
	    size_t index);

/*
 * Checks every key of sec against the tables: unknown keys (with the
 * nearest valid name), malformed values, missing required keys, repeated
 * keys that may not repeat.  Keys starting with skip_prefix (such as
 * "kafka.") are left to the caller; with ignore_unknown, so are keys in no
 * table.  Returns the number of problems.
 */
int	ks_conf_validate(const struct ks_conf *conf,
	    const struct ks_section *sec,
	    const struct ksink_option *const *tabs, size_t ntabs,
	    const char *skip_prefix, int ignore_unknown,
	    struct ks_errors *errs);

#endif
