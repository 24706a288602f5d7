/* SPDX-License-Identifier: BSD-2-Clause */
/* util.h - small helpers shared by the daemon's modules. */
#ifndef KS_UTIL_H
#define KS_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define KS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit codes (sysexits.h names). */
#define KS_EXIT_OK 0
#define KS_EXIT_FAILURE 1
#define KS_EXIT_USAGE 64
#define KS_EXIT_CONFIG 78

void	 ks_util_errf(char *errbuf, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int64_t	 ks_util_now_ms(void);	/* monotonic: durations */
int64_t	 ks_util_wall_ms(void);	/* realtime: when */
void	 ks_util_sleep_ms(int64_t ms);
int	 ks_util_parse_int(const char *s, int64_t *out);
int	 ks_util_parse_bool(const char *s, int *out);
size_t	 ks_util_edit_distance(const char *a, const char *b);
char	*ks_util_strdup(const char *s);
void	*ks_util_xmalloc(size_t n);
void	*ks_util_xcalloc(size_t n, size_t size);
void	*ks_util_xrealloc(void *p, size_t n);
/* What those do when memory runs out: says so on stderr and aborts. */
void	 ks_util_oom(void) __attribute__((noreturn));
uint64_t ks_util_rand64(void);

#endif
