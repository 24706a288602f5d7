/* SPDX-License-Identifier: BSD-2-Clause */
/* tests/plugins/null_entry.c - its entry refuses the daemon: NULL. */
#include "ksink/sink.h"

const struct ksink_sink *
ksink_sink_entry(const struct ksink_host *host)
{
	(void)host;
	return NULL;
}
