/* SPDX-License-Identifier: BSD-2-Clause */
/* options.h - the daemon's own option tables and table-driven checks. */
#ifndef KS_OPTIONS_H
#define KS_OPTIONS_H

#include <stdio.h>

#include "ksink/sink.h"

extern const struct ksink_option ks_options_worker[];	 /* [worker] */
extern const struct ksink_option ks_options_connector[]; /* [connector NAME] */

const struct ksink_option *ks_options_find(const struct ksink_option *tab,
	    const char *name);
int	ks_options_check(const struct ksink_option *opt, const char *value,
	    char *errbuf, size_t errlen);
const char *ks_options_nearest(const char *name,
	    const struct ksink_option *const *tabs, size_t ntabs);
void	ks_options_print(FILE *fp, const struct ksink_option *tab, int mdoc);
int	ks_options_kafka_secret(const char *key);

#endif
