/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/clock.h - milliseconds: the wall clock (what is stored
 * or compared across restarts) and a monotonic clock (durations).
 */
#ifndef KS_CLOCK_H
#define KS_CLOCK_H

#include <stdint.h>

int64_t	ks_clock_wall_ms(void);
int64_t	ks_clock_mono_ms(void);

#endif
