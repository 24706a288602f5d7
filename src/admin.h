/* SPDX-License-Identifier: BSD-2-Clause */
/* admin.h - the admin endpoint: metrics, status, pause and resume. */
#ifndef KS_ADMIN_H
#define KS_ADMIN_H

#include <stddef.h>
#include <sys/socket.h>

struct ks_admin;
struct ks_worker;

/* Parses "HOST:PORT" ("[::1]:PORT" for IPv6); -1 with errbuf filled. */
int	ks_admin_parse_listen(const char *listen, struct sockaddr_storage *ss,
	    socklen_t *len, char *errbuf, size_t errlen);
struct ks_admin *ks_admin_start(const char *listen, struct ks_worker **ws,
	    size_t n, char *errbuf, size_t errlen);
void	ks_admin_stop(struct ks_admin *a);

#endif
