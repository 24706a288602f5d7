/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/clock.c - milliseconds of the wall clock and of a
 * monotonic clock.
 */
#include <time.h>

#include "clock.h"

static int64_t
ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds since the epoch. */
int64_t
ks_clock_wall_ms(void)
{
	return ms(CLOCK_REALTIME);
}

/* Milliseconds since an arbitrary moment; never goes back. */
int64_t
ks_clock_mono_ms(void)
{
	return ms(CLOCK_MONOTONIC);
}
