/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/unit/decoded-fx.h - what a converter makes of a record, for the
 * tests that give a sink a host whose decoded() answers with schemas
 * (test_sqlite_map.c, tests/postgres/typed.c).
 */
#ifndef KS_TEST_DECODED_FX_H
#define KS_TEST_DECODED_FX_H

#include <string.h>

#include "ksink/sink.h"

/* A decoded record with key schema kf[0..nk) (id 1) and value schema
 * vf[0..nv) (id 2, or 3 when grown); valid until the next call. */
static const struct ksink_decoded *
fx_decoded(const struct ksink_field *kf, size_t nk,
    const struct ksink_field *vf, size_t nv, int grown)
{
	static struct ksink_decoded d;

	memset(&d, 0, sizeof(d));
	d.struct_size = sizeof(d);
	d.key_schema_id = 1;
	d.value_schema_id = grown ? 3 : 2;
	d.key_fields = kf;
	d.key_field_count = nk;
	d.value_fields = vf;
	d.value_field_count = nv;
	return &d;
}

#endif
