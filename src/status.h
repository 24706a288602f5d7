/* SPDX-License-Identifier: BSD-2-Clause */
/* status.h - `ksink status`: a running daemon's connectors, as a table. */
#ifndef KS_STATUS_H
#define KS_STATUS_H

int	ks_status_main(int argc, char **argv);

#endif
