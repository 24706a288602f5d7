/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * offsets_cli.c - what `ksink offsets` reads and writes: its usage, its
 * arguments (and the TOPIC:PARTITION=OFFSET specifications of --reset),
 * and its table or JSON output.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"
#include "offsets.h"
#include "testing.h"
#include "util.h"
#include "../connectors/lib/buf.h"
#include "../connectors/lib/json.h"

void
ks_offsets_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: ksink offsets -c FILE [--json] CONNECTOR\n"
	    "       ksink offsets -c FILE [--json] [--dry-run] [--force] "
	    "CONNECTOR --reset WHAT\n"
	    "WHAT is earliest, latest, or TOPIC:PARTITION=OFFSET[,...] where "
	    "OFFSET is a\nnumber, none, earliest or latest; --reset may be "
	    "repeated.  See ksink(8).\n");
}

/* ---- arguments ---- */

/* Kafka's rule for topic names. */
static int
topic_ok(const char *t, size_t len)
{
	size_t i;

	if (len == 0 || len > 249 || (len == 1 && t[0] == '.') ||
	    (len == 2 && t[0] == '.' && t[1] == '.'))
		return 0;
	for (i = 0; i < len; i++)
		if (!(t[i] >= 'a' && t[i] <= 'z') &&
		    !(t[i] >= 'A' && t[i] <= 'Z') &&
		    !(t[i] >= '0' && t[i] <= '9') && t[i] != '.' &&
		    t[i] != '_' && t[i] != '-')
			return 0;
	return 1;
}

int
ks_offsets_parse_spec(const char *s, struct ks_offsets_spec *out,
    char *errbuf, size_t errlen)
{
	const char *eq, *colon, *val;
	char num[32];
	int64_t v;
	size_t n;

	memset(out, 0, sizeof(*out));
	if ((eq = strchr(s, '=')) == NULL) {
		ks_util_errf(errbuf, errlen, "--reset %s: expected earliest, "
		    "latest or TOPIC:PARTITION=OFFSET", s);
		return -1;
	}
	for (colon = eq; colon > s && colon[-1] != ':'; colon--)
		;
	if (colon == s) {
		ks_util_errf(errbuf, errlen, "--reset %s: no partition: "
		    "write TOPIC:PARTITION=OFFSET", s);
		return -1;
	}
	colon--;
	if (!topic_ok(s, (size_t)(colon - s))) {
		ks_util_errf(errbuf, errlen, "--reset %s: \"%.*s\" is not a "
		    "Kafka topic name (1 to 249 letters, digits, '.', '_', "
		    "'-')", s, (int)(colon - s), s);
		return -1;
	}
	n = (size_t)(eq - colon - 1);
	if (n == 0 || n >= sizeof(num)) {
		ks_util_errf(errbuf, errlen, "--reset %s: partition %s: "
		    "expected a number from 0", s, n ? "too long" : "missing");
		return -1;
	}
	memcpy(num, colon + 1, n);
	num[n] = '\0';
	if (!(num[0] >= '0' && num[0] <= '9') ||
	    ks_util_parse_int(num, &v) == -1 || v < 0 || v > INT32_MAX) {
		ks_util_errf(errbuf, errlen, "--reset %s: partition \"%s\" is "
		    "not a number from 0 to %d", s, num, INT32_MAX);
		return -1;
	}
	out->partition = (int32_t)v;
	val = eq + 1;
	if (strcmp(val, "none") == 0)
		out->offset = KS_OFFSETS_TO_NONE;
	else if (strcmp(val, "earliest") == 0)
		out->offset = KS_OFFSETS_TO_EARLIEST;
	else if (strcmp(val, "latest") == 0)
		out->offset = KS_OFFSETS_TO_LATEST;
	else if ((val[0] >= '0' && val[0] <= '9') &&
	    ks_util_parse_int(val, &v) == 0 && v >= 0)
		out->offset = v;
	else {
		ks_util_errf(errbuf, errlen, "--reset %s: offset \"%s\" is not "
		    "a number from 0, nor none, earliest or latest", s, val);
		return -1;
	}
	if ((out->topic = strndup(s, (size_t)(colon - s))) == NULL) {
		ks_util_errf(errbuf, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* Adds the specs of one --reset value (a comma list). */
static int
add_specs(struct ks_offsets_args *a, const char *value, char *errbuf,
    size_t errlen)
{
	struct ks_offsets_spec sp;
	char *copy, *tok, *save;
	size_t i;
	int rc = 0;

	if (strcmp(value, "earliest") == 0 || strcmp(value, "latest") == 0) {
		if (a->mode != KS_OFFSETS_LIST) {
			ks_util_errf(errbuf, errlen, "--reset %s applies to "
			    "every partition: give it alone, once", value);
			return -1;
		}
		a->mode = value[0] == 'e' ? KS_OFFSETS_EARLIEST :
		    KS_OFFSETS_LATEST;
		return 0;
	}
	if (a->mode == KS_OFFSETS_EARLIEST || a->mode == KS_OFFSETS_LATEST) {
		ks_util_errf(errbuf, errlen, "--reset %s applies to every "
		    "partition: give it alone, once", a->mode ==
		    KS_OFFSETS_EARLIEST ? "earliest" : "latest");
		return -1;
	}
	a->mode = KS_OFFSETS_EXPLICIT;
	copy = ks_util_strdup(value);
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	    tok = strtok_r(NULL, ",", &save)) {
		if (ks_offsets_parse_spec(tok, &sp, errbuf, errlen) == -1) {
			rc = -1;
			break;
		}
		for (i = 0; i < a->nspecs; i++)
			if (a->specs[i].partition == sp.partition &&
			    strcmp(a->specs[i].topic, sp.topic) == 0) {
				ks_util_errf(errbuf, errlen, "--reset: %s:%" PRId32
				    " is given twice", sp.topic, sp.partition);
				free(sp.topic);
				rc = -1;
				break;
			}
		if (rc == 0) {
			a->specs = ks_util_xrealloc(a->specs,
			    (a->nspecs + 1) * sizeof(*a->specs));
			a->specs[a->nspecs++] = sp;
		}
	}
	if (rc == 0 && a->nspecs == 0) {
		ks_util_errf(errbuf, errlen, "--reset \"%s\" names no "
		    "partition", value);
		rc = -1;
	}
	free(copy);
	return rc;
}

int
ks_offsets_parse_args(int argc, char **argv, struct ks_offsets_args *a,
    char *errbuf, size_t errlen)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "reset", required_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	memset(a, 0, sizeof(*a));
	a->mode = KS_OFFSETS_LIST;
	optind = 0;	/* GNU: start afresh */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->config = optarg;
			break;
		case 'r':
			if (add_specs(a, optarg, errbuf, errlen) == -1)
				return -1;
			break;
		case 'n':
			a->dry_run = 1;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'f':
			a->force = 1;
			break;
		case 'h':
			a->help = 1;
			return 0;
		case ':':
			ks_util_errf(errbuf, errlen, "option %s needs a value",
			    argv[optind - 1]);
			return -1;
		default:
			if (optopt != 0)
				ks_util_errf(errbuf, errlen, "unknown option "
				    "-%c", optopt);
			else
				ks_util_errf(errbuf, errlen, "unknown option "
				    "%s", argv[optind - 1]);
			return -1;
		}
	}
	/* GNU getopt moved the operands to the end. */
	if (argc - optind > 1) {
		ks_util_errf(errbuf, errlen, "one connector at a time: %s and "
		    "%s", argv[optind], argv[optind + 1]);
		return -1;
	}
	if (optind < argc)
		a->connector = argv[optind];
	if (a->config == NULL) {
		ks_util_errf(errbuf, errlen, "-c FILE is required");
		return -1;
	}
	if (a->connector == NULL) {
		ks_util_errf(errbuf, errlen, "which connector? name one of "
		    "the [connector NAME] sections of %s", a->config);
		return -1;
	}
	if (a->mode == KS_OFFSETS_LIST && (a->dry_run || a->force)) {
		ks_util_errf(errbuf, errlen, "%s only goes with --reset",
		    a->dry_run ? "--dry-run" : "--force");
		return -1;
	}
	return 0;
}

void
ks_offsets_args_free(struct ks_offsets_args *a)
{
	size_t i;

	for (i = 0; i < a->nspecs; i++)
		free(a->specs[i].topic);
	free(a->specs);
	a->specs = NULL;
	a->nspecs = 0;
}

/* ---- the output ---- */

static void
json_str(FILE *fp, const char *s)
{
	struct ks_buf b = { 0 };

	if (s == NULL) {
		fputs("null", fp);
		return;
	}
	ks_json_add_string(&b, s, strlen(s));
	if (b.oom)
		ks_util_oom();
	fwrite(b.p, 1, b.len, fp);
	ks_buf_free(&b);
}

static void
json_off(FILE *fp, int64_t v)
{
	if (v < 0)
		fputs("null", fp);
	else
		fprintf(fp, "%" PRId64, v);
}

static void
cell(char *buf, size_t len, int64_t v)
{
	if (v < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%" PRId64, v);
}

/* The lag after the sink's offset: offsets, not records (transaction
 * markers and aborted records count). */
static int64_t
lag(const struct ks_offsets_row *r, int64_t stored)
{
	if (stored < 0 || r->high < 0)
		return -1;
	return stored > r->high ? 0 : r->high - stored;
}

static void
print_group_line(FILE *fp, const struct ks_offsets_run *rn)
{
	const struct ks_offsets_group *g = &rn->group;

	fprintf(fp, "connector %s: sink %s, consumer group %s ",
	    rn->sec->name, rn->desc->name, g->id);
	if (!g->known)
		fprintf(fp, "(state unknown: %s)\n", g->error);
	else if (!g->exists)
		fprintf(fp, "(unknown to the brokers)\n");
	else if (g->members == 0)
		fprintf(fp, "(%s, no members)\n", g->state);
	else
		fprintf(fp, "(%s, %d member%s: %s)\n", g->state, g->members,
		    g->members == 1 ? "" : "s", g->clients);
}

/* The cells of one row of the table. */
struct cells {
	const char *v[7];
	char buf[6][32];
};

static size_t
row_cells(const struct ks_offsets_row *r, int reset, struct cells *c)
{
	size_t n = 0;

	c->v[n++] = r->topic;
	snprintf(c->buf[0], sizeof(c->buf[0]), "%" PRId32, r->partition);
	c->v[n++] = c->buf[0];
	if (reset) {
		cell(c->buf[1], sizeof(c->buf[1]), r->before);
		c->v[n++] = c->buf[1];
	}
	cell(c->buf[2], sizeof(c->buf[2]), r->after);
	c->v[n++] = c->buf[2];
	cell(c->buf[3], sizeof(c->buf[3]), r->low);
	c->v[n++] = c->buf[3];
	cell(c->buf[4], sizeof(c->buf[4]), r->high);
	c->v[n++] = c->buf[4];
	cell(c->buf[5], sizeof(c->buf[5]), lag(r, r->after));
	c->v[n++] = c->buf[5];
	return n;
}

void
ks_offsets_print_table(const struct ks_offsets_run *rn)
{
	static const char *const list_hdr[] = { "TOPIC", "PARTITION",
	    "STORED", "LOW", "HIGH", "LAG" };
	static const char *const reset_hdr[] = { "TOPIC", "PARTITION",
	    "BEFORE", "AFTER", "LOW", "HIGH", "LAG" };
	int reset = rn->a->mode != KS_OFFSETS_LIST;
	const char *const *hdr = reset ? reset_hdr : list_hdr;
	size_t i, j, ncol = reset ? 7 : 6, w[7];
	struct cells c;

	print_group_line(stdout, rn);
	if (rn->nrows == 0) {
		printf("no partitions: topics = %s matches no topic of the "
		    "cluster\n", rn->topics);
		return;
	}
	for (j = 0; j < ncol; j++)
		w[j] = strlen(hdr[j]);
	for (i = 0; i < rn->nrows; i++) {
		row_cells(&rn->rows[i], reset, &c);
		for (j = 0; j < ncol; j++)
			if (strlen(c.v[j]) > w[j])
				w[j] = strlen(c.v[j]);
	}
	for (j = 0; j < ncol; j++)
		printf(j == 0 ? "%-*s" : "  %*s", (int)w[j], hdr[j]);
	printf("\n");
	for (i = 0; i < rn->nrows; i++) {
		row_cells(&rn->rows[i], reset, &c);
		for (j = 0; j < ncol; j++)
			printf(j == 0 ? "%-*s" : "  %*s", (int)w[j], c.v[j]);
		printf("\n");
	}
}

void
ks_offsets_print_json(const struct ks_offsets_run *rn)
{
	const struct ks_offsets_group *g = &rn->group;
	const struct ks_offsets_row *r;
	int reset = rn->a->mode != KS_OFFSETS_LIST;
	size_t i;

	printf("{\"connector\":");
	json_str(stdout, rn->sec->name);
	printf(",\"sink\":");
	json_str(stdout, rn->desc->name);
	printf(",\"topics\":");
	json_str(stdout, rn->topics);
	printf(",\"group\":{\"id\":");
	json_str(stdout, g->id);
	printf(",\"state\":");
	json_str(stdout, !g->known ? NULL : g->exists ? g->state : "none");
	if (g->known)
		printf(",\"members\":%d", g->members);
	else {
		printf(",\"error\":");
		json_str(stdout, g->error);
	}
	printf("}");
	if (reset)
		printf(",\"reset\":true,\"dry_run\":%s,"
		    "\"group_offsets_committed\":%s",
		    rn->a->dry_run ? "true" : "false",
		    rn->committed ? "true" : "false");
	printf(",\"partitions\":[");
	for (i = 0; i < rn->nrows; i++) {
		r = &rn->rows[i];
		printf("%s{\"topic\":", i ? "," : "");
		json_str(stdout, r->topic);
		printf(",\"partition\":%" PRId32, r->partition);
		if (reset) {
			printf(",\"before\":");
			json_off(stdout, r->before);
			printf(",\"after\":");
		} else
			printf(",\"stored\":");
		json_off(stdout, r->after);
		printf(",\"low\":");
		json_off(stdout, r->low);
		printf(",\"high\":");
		json_off(stdout, r->high);
		printf(",\"lag\":");
		json_off(stdout, lag(r, r->after));
		printf("}");
	}
	printf("]}\n");
}
