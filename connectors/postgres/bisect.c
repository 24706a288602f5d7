/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/postgres/bisect.c - the poison record of a batch that a
 * set-based statement refused, found by runs of halving size (see
 * bisect.h).  For one poison record among n, at most about 2 log2(n)
 * runs whose sizes halve (for n = 5,000: 9 to 24, 18 on average), which
 * hold 1 to 2 times the batch's records between them.
 */
#include <stddef.h>
#include <stdint.h>

#include "ksink/sink.h"
#include "bisect.h"

int
pg_bisect(size_t count, size_t known, int (*attempt)(void *, size_t, size_t,
    size_t *), void *arg, size_t *bad, int *exact)
{
	size_t lo = 0, k, size, b;
	int st;

	*exact = known != SIZE_MAX;
	size = count / 2 > 0 ? count / 2 : 1;
	while (lo < count) {
		k = size < count - lo ? size : count - lo;
		if (known >= lo && known < lo + k) {
			if (known == lo) {
				*bad = lo;
				return KSINK_POISON;
			}
			k = known - lo;
		}
		b = SIZE_MAX;
		st = attempt(arg, lo, lo + k, &b);
		if (st == KSINK_OK) {
			lo += k;
			continue;
		}
		if (st != KSINK_POISON) {
			*bad = lo;
			return st;
		}
		if (b != SIZE_MAX && b >= lo && b < lo + k) {
			known = b;
			*exact = 1;
		} else if (k == 1) {
			known = lo;
			*exact = 0;
		}
		size = k / 2 > 0 ? k / 2 : 1;
	}
	return KSINK_OK;
}
