/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * avronode.h - a parsed Avro writer schema as avroschema.c builds it and
 * avrodec.c walks it (private to the two).  Immutable once built.
 */
#ifndef KS_AVRONODE_H
#define KS_AVRONODE_H

#include <stddef.h>
#include <stdint.h>

#include "fields.h"

/* The deepest nesting a body may have, and the most values that take no
 * bytes (nulls, records of nulls) one body may hold. */
#define KS_AVRO_MAX_DEPTH	128
#define KS_AVRO_MAX_EMPTY	65536
/* The most entries a schema's field list may have. */
#define KS_AVRO_MAX_FIELDS	10000

enum ks_avro_kind {
	KA_NULL, KA_BOOLEAN, KA_INT, KA_LONG, KA_FLOAT, KA_DOUBLE, KA_STRING,
	KA_BYTES, KA_FIXED, KA_ENUM, KA_RECORD, KA_ARRAY, KA_MAP, KA_UNION
};

enum ks_avro_logical {
	KL_NONE, KL_DECIMAL, KL_DATE, KL_TIME_MILLIS, KL_TIME_MICROS,
	KL_TIMESTAMP_MILLIS, KL_TIMESTAMP_MICROS, KL_LOCAL_TIMESTAMP_MILLIS,
	KL_LOCAL_TIMESTAMP_MICROS, KL_UUID
};

struct ks_avro_node {
	int kind;			/* enum ks_avro_kind */
	int logical;			/* enum ks_avro_logical */
	int32_t precision, scale;	/* KL_DECIMAL */
	int64_t size;			/* KA_FIXED */
	char *name;			/* full name of a record, enum, fixed */
	/* Record fields, enum symbols, union branches.  labels are the
	 * field names as JSON members ("\"a\":") and the enum symbols as
	 * JSON strings; sub the types of fields and branches, sub[0] the
	 * items of an array and the values of a map. */
	size_t n;
	char **names;
	char **labels;
	struct ks_avro_node **sub;
	size_t minsize;			/* the fewest bytes a value takes */
	int state;			/* while building: 1 visiting, 2 done */
	void *json;			/* while parsing: its JSON (json_t) */
	void **defaults;		/* while parsing: fields' defaults */
};

struct ks_avro_schema {
	struct ks_avro_node **nodes;	/* all of them, to free */
	size_t nnodes;
	struct ks_avro_node *root;
	struct ks_fields fields;
};

#endif
