/* SPDX-License-Identifier: BSD-2-Clause */
/* log.h - logging to stderr, readable under systemd-journald. */
#ifndef KS_LOG_H
#define KS_LOG_H

#include <stdarg.h>

#include "ksink/sink.h"

/* Levels are those of the plugin ABI: KSINK_LOG_ERROR .. KSINK_LOG_DEBUG. */
void	ks_log_init(void);
void	ks_log_set_level(int level);
int	ks_log_get_level(void);
int	ks_log_level_parse(const char *name);
void	ks_log_msg(int level, const char *who, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* librdkafka's log callback (rd_kafka_conf_set_log_cb). */
struct rd_kafka_s;
void	ks_log_kafka(const struct rd_kafka_s *rk, int level, const char *fac,
	    const char *buf);
void	ks_log_vmsg(int level, const char *who, const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));

#define log_error(...) ks_log_msg(KSINK_LOG_ERROR, NULL, __VA_ARGS__)
#define log_warn(...) ks_log_msg(KSINK_LOG_WARN, NULL, __VA_ARGS__)
#define log_info(...) ks_log_msg(KSINK_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) ks_log_msg(KSINK_LOG_DEBUG, NULL, __VA_ARGS__)

#endif
