/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/bisect.h - the search for the poison record of a
 * batch that a set-based statement refused (batch.c), without a server:
 * the records are tried in runs of halving size.
 */
#ifndef KS_PG_BISECT_H
#define KS_PG_BISECT_H

#include <stddef.h>

/*
 * Applies records [0, count) through attempt(arg, lo, hi, &exact), which
 * tries records [lo, hi) as one run: it returns KSINK_OK when they are
 * applied (and stay so), KSINK_POISON when the run failed with a data
 * error and was undone, exact set to the record that cannot even be
 * staged, or left (size_t)-1 when the error does not tell; any other
 * status is a failure that ends the search.  Runs of halving size: a
 * run that fails is undone and halved, one that passes is kept, until a
 * run of one record fails.  known is a record already known to be poison
 * ((size_t)-1: none).  Returns KSINK_OK when every record was applied
 * (a failure that no single record causes ends so); KSINK_POISON with
 * records [0, *bad) applied and *bad the first poison record, *exact
 * saying whether attempt() named it; another status of attempt() with *bad the
 * first record not applied.
 */
int	pg_bisect(size_t count, size_t known, int (*attempt)(void *, size_t,
	    size_t, size_t *), void *arg, size_t *bad, int *exact);

#endif
