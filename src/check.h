/* SPDX-License-Identifier: BSD-2-Clause */
/* check.h - rules of the configuration that span several keys. */
#ifndef KS_CHECK_H
#define KS_CHECK_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "ksink/sink.h"

struct ks_conf;
struct ks_section;
struct ks_errors;

/* [worker] (its keys, admin.listen) and [kafka] on its own, so that
 * their problems are found even when no connector can be set up. */
void	ks_check_worker(const struct ks_conf *conf, struct ks_errors *errs);
/* One [connector NAME]: brokers, topics, a client librdkafka accepts
 * (rkconf, NULL when its settings were refused), a sink that can keep
 * exactly-once (desc, NULL when not loaded), a dead letter queue only
 * with errors.tolerance = all. */
void	ks_check_connector(const struct ks_conf *conf,
	    const struct ks_section *sec, const rd_kafka_conf_t *rkconf,
	    const struct ksink_sink *desc, struct ks_errors *errs);
/* A consumer group that no earlier connector uses. */
void	ks_check_group(const struct ks_conf *conf, const struct ks_section *s,
	    struct ks_errors *errs);
/* No secret in a file every user may read: secs[i] is a connector whose
 * plugin's options are opts[i] (NULL: not loaded). */
void	ks_check_secrets(const struct ks_conf *conf,
	    const struct ks_section *const *secs,
	    const struct ksink_option *const *opts, size_t n,
	    struct ks_errors *errs);

#endif
