/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fields.c - a schema as the list of fields the ABI hands a sink.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fields.h"
#include "util.h"

int32_t
ks_fields_add(struct ks_fields *f, const char *name, int32_t parent,
    int type, unsigned flags, int32_t precision, int32_t scale,
    const char *default_json)
{
	struct ksink_field *x;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 16;
		f->v = ks_util_xrealloc(f->v, f->cap * sizeof(*f->v));
	}
	x = &f->v[f->n];
	x->name = ks_util_strdup(name != NULL ? name : "");
	x->parent = parent;
	x->type = type;
	x->flags = flags;
	x->precision = precision;
	x->scale = scale;
	x->default_json = default_json != NULL ?
	    ks_util_strdup(default_json) : NULL;
	return (int32_t)f->n++;
}

void
ks_fields_free(struct ks_fields *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		free((char *)f->v[i].name);
		free((char *)f->v[i].default_json);
	}
	free(f->v);
	f->v = NULL;
	f->n = f->cap = 0;
}

void
ks_fields_errf(char *errbuf, size_t errlen, const char *const *names,
    int depth, const char *fmt, ...)
{
	char what[256], path[160];
	size_t n = 0;
	va_list ap;
	int i, w;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	path[0] = '\0';
	for (i = 1; i <= depth; i++) {
		if (names[i] == NULL || n >= sizeof(path) - 1)
			continue;
		w = snprintf(path + n, sizeof(path) - n, "%s%s", n > 0 &&
		    names[i][0] != '[' ? "." : "", names[i]);
		if (w > 0)
			n = n + (size_t)w >= sizeof(path) ? sizeof(path) - 1 :
			    n + (size_t)w;
	}
	if (n > 0)
		ks_util_errf(errbuf, errlen, "field %s: %s", path, what);
	else
		ks_util_errf(errbuf, errlen, "%s", what);
}
