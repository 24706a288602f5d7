/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/bench/limit.c - the records file of the limit programs and the
 * clock of their timed loop.
 *
 * The file is what `kcat -C -e -f '%p %o %T %K %S\n%k%s'` writes for a
 * topic read with read_committed (tests/bench/bench_limits.py): for each
 * record a line "PARTITION OFFSET TIMESTAMP KEYLEN VALUELEN", then
 * KEYLEN bytes of key and VALUELEN bytes of value, a length of -1 meaning
 * null.  It is read whole into memory before the timed loop, and the
 * records point into it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/err.h"
#include "limit.h"

static int
slurp(struct ks_limit_records *rs, const char *path, char *errbuf,
    size_t errlen)
{
	struct stat sb;
	FILE *f;
	size_t got;

	if ((f = fopen(path, "rb")) == NULL) {
		ks_err_set(errbuf, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &sb) == -1 ||
	    (rs->data = malloc((size_t)sb.st_size + 1)) == NULL) {
		ks_err_set(errbuf, errlen, "%s: %s", path, strerror(errno));
		fclose(f);
		return -1;
	}
	rs->len = (size_t)sb.st_size;
	got = fread(rs->data, 1, rs->len, f);
	fclose(f);
	if (got != rs->len) {
		ks_err_set(errbuf, errlen, "%s: read %zu of %zu bytes", path,
		    got, rs->len);
		return -1;
	}
	rs->data[rs->len] = '\0';
	return 0;
}

/* Takes the bytes of a key or a value of length n (-1: null) at *pp. */
static int
take(char **pp, const char *end, long long n, const void **v, size_t *len)
{
	if (n < 0) {
		*v = NULL;
		*len = 0;
		return 0;
	}
	if ((unsigned long long)(end - *pp) < (unsigned long long)n)
		return -1;
	*v = *pp;
	*len = (size_t)n;
	*pp += n;
	return 0;
}

/* An integer of the line ending at nl, after one space unless first. */
static int
field(char **pp, const char *nl, long long *v)
{
	char *p = *pp, *e;

	if (*p == ' ')
		p++;
	if (p >= nl || (*p != '-' && (*p < '0' || *p > '9')))
		return -1;
	errno = 0;
	*v = strtoll(p, &e, 10);
	if (errno || e == p || e > nl)
		return -1;
	*pp = e;
	return 0;
}

int
ks_limit_read(struct ks_limit_records *rs, const char *path,
    const char *topic, char *errbuf, size_t errlen)
{
	struct ksink_record *r, *nv;
	size_t cap = 0;
	char *p, *end, *nl, *line;
	long long part, off, ts, klen, vlen;

	memset(rs, 0, sizeof(*rs));
	if (slurp(rs, path, errbuf, errlen) == -1)
		return -1;
	p = rs->data;
	end = rs->data + rs->len;
	while (p < end) {
		line = p;
		/* Not sscanf(), which takes the length of the whole rest. */
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL ||
		    field(&p, nl, &part) == -1 || field(&p, nl, &off) == -1 ||
		    field(&p, nl, &ts) == -1 || field(&p, nl, &klen) == -1 ||
		    field(&p, nl, &vlen) == -1 || p != nl ||
		    part < 0 || part > INT32_MAX || off < 0) {
			ks_err_set(errbuf, errlen, "%s: record %zu (byte %zu): "
			    "not a line \"PARTITION OFFSET TIMESTAMP KEYLEN "
			    "VALUELEN\" as kcat -f '%%p %%o %%T %%K %%S\\n%%k%%s' "
			    "writes it; write the file again", path, rs->n,
			    (size_t)(line - rs->data));
			return -1;
		}
		if (rs->n == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((nv = realloc(rs->v, cap * sizeof(*nv))) == NULL) {
				ks_err_set(errbuf, errlen, "out of memory "
				    "reading %s", path);
				return -1;
			}
			rs->v = nv;
		}
		r = &rs->v[rs->n];
		memset(r, 0, sizeof(*r));
		r->topic = topic;
		r->partition = (int32_t)part;
		r->offset = off;
		r->timestamp = ts < 0 ? -1 : ts;
		p = nl + 1;
		if (take(&p, end, klen, &r->key, &r->key_len) == -1 ||
		    take(&p, end, vlen, &r->value, &r->value_len) == -1) {
			ks_err_set(errbuf, errlen, "%s: record %zu: %lld bytes "
			    "of key and %lld of value announced, the file ends "
			    "first; write it again", path, rs->n, klen, vlen);
			return -1;
		}
		rs->n++;
	}
	return 0;
}

void
ks_limit_free(struct ks_limit_records *rs)
{
	free(rs->v);
	free(rs->data);
	memset(rs, 0, sizeof(*rs));
}

static void
now(struct ks_limit_clock *c)
{
	struct timespec ts;
	struct rusage ru;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	c->wall = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	getrusage(RUSAGE_SELF, &ru);
	c->cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void
ks_limit_start(struct ks_limit_clock *c)
{
	now(c);
}

/* Prints the figures of the timed loop that started at c, on one line
 * that tests/bench/bench_limits.py reads. */
void
ks_limit_report(const struct ks_limit_clock *c, size_t rows, const char *what)
{
	struct ks_limit_clock e;

	now(&e);
	printf("rows %zu seconds %.6f cpu %.6f %s\n", rows, e.wall - c->wall,
	    e.cpu - c->cpu, what);
	fflush(stdout);
}
