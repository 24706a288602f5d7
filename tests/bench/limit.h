/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/bench/limit.h - what the limit programs of `make bench`
 * (sqlite_limit, http_limit) share: the records of a topic, read into
 * memory from a file written by kcat before timing, and the clock of the
 * timed loop.
 */
#ifndef KS_LIMIT_H
#define KS_LIMIT_H

#include <stddef.h>

#include "ksink/sink.h"

struct ks_limit_records {
	struct ksink_record *v;
	size_t n;
	char *data;		/* the file, which the records point into */
	size_t len;
};

struct ks_limit_clock {
	double wall, cpu;
};

int	ks_limit_read(struct ks_limit_records *, const char *path,
	    const char *topic, char *errbuf, size_t errlen);
void	ks_limit_free(struct ks_limit_records *);
void	ks_limit_start(struct ks_limit_clock *);
void	ks_limit_report(const struct ks_limit_clock *, size_t rows,
	    const char *what);

#endif
