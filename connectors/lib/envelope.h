/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/lib/envelope.h - the record envelope: one JSON shape for a
 * record wherever a sink writes one (ksink-record(7)).
 */
#ifndef KS_ENVELOPE_H
#define KS_ENVELOPE_H

struct ks_buf;
struct ksink_record;

void	ks_envelope_add(struct ks_buf *, const struct ksink_record *);
void	ks_envelope_add_headers(struct ks_buf *, const struct ksink_record *);

#endif
