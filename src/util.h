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
uint64_t ks_util_rand64(void);

/* A growing text buffer. */
struct ks_util_buf {
	char *p;
	size_t len, cap;
};

void	ks_util_buf_printf(struct ks_util_buf *b, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	ks_util_buf_add(struct ks_util_buf *b, const void *p, size_t n);
void	ks_util_buf_json_str(struct ks_util_buf *b, const char *s);
void	ks_util_buf_free(struct ks_util_buf *b);

#endif
