/* SPDX-License-Identifier: BSD-2-Clause */
/* offsets.h - `ksink offsets`: list and reset the offsets a sink stored. */
#ifndef KS_OFFSETS_H
#define KS_OFFSETS_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

/* What --reset asks for. */
enum ks_offsets_mode {
	KS_OFFSETS_LIST,	/* no --reset: list only */
	KS_OFFSETS_EARLIEST,	/* every partition to its low watermark */
	KS_OFFSETS_LATEST,	/* every partition to its high watermark */
	KS_OFFSETS_EXPLICIT	/* the partitions of specs[] */
};

/* Target of one TOPIC:PARTITION=VALUE: an offset >= 0, or one of these. */
#define KS_OFFSETS_TO_NONE (-1)		/* forget (KSINK_OFFSET_NONE) */
#define KS_OFFSETS_TO_EARLIEST (-2)	/* the partition's low watermark */
#define KS_OFFSETS_TO_LATEST (-3)	/* the partition's high watermark */

struct ks_offsets_spec {
	char *topic;
	int32_t partition;
	int64_t offset;		/* >= 0 or KS_OFFSETS_TO_* */
};

struct ks_offsets_args {
	const char *config;
	const char *connector;
	int mode;		/* enum ks_offsets_mode */
	struct ks_offsets_spec *specs;
	size_t nspecs;
	int json;
	int dry_run;
	int force;
	int help;
};

/* Parses the arguments after "offsets"; -1 with errbuf on a usage
 * error.  Free with ks_offsets_args_free() either way. */
int	ks_offsets_parse_args(int argc, char **argv, struct ks_offsets_args *a,
	    char *errbuf, size_t errlen);
void	ks_offsets_args_free(struct ks_offsets_args *a);
void	ks_offsets_usage(FILE *fp);

/* `ksink offsets ...`; argv[0] is "offsets".  Returns the exit code. */
int	ks_offsets_main(int argc, char **argv);

/* ---- internal to `ksink offsets` (offsets.c, offsets_cli.c) ---- */

struct ks_conf;
struct ks_section;
struct ks_worker;
struct ksink_sink;
struct rd_kafka_s;

/* One partition of the connector's topics. */
struct ks_offsets_row {
	char *topic;
	int32_t partition;
	int64_t low, high;	/* watermarks, -1 when unknown */
	int64_t before;		/* the sink's offset, KSINK_OFFSET_NONE */
	int64_t target;		/* --reset: what it becomes */
	int64_t after;		/* read back from the sink */
	int reset;		/* part of the reset */
};

/* The connector's consumer group, as the brokers describe it. */
struct ks_offsets_group {
	char id[256];
	int known;		/* the brokers answered */
	int exists;		/* the brokers know the group */
	char state[64];
	int members;
	char *clients;		/* "client-id (host), ..." */
	char error[512];	/* when !known */
};

struct ks_offsets_run {
	const struct ks_offsets_args *a;
	struct ks_conf *conf;
	const struct ks_section *sec;
	char who[300];
	/* The connectors as the daemon loads them; w is the one asked for,
	 * its sink opened as the daemon opens it. */
	struct ks_worker **ws;
	size_t nws;
	struct ks_worker *w;
	const struct ksink_sink *desc;
	void *sink;
	struct rd_kafka_s *rk;
	char bootstrap[512];
	char *topics;
	char *blacklist;	/* librdkafka's topic.blacklist, or NULL */
	struct ks_offsets_row *rows;
	size_t nrows;
	struct ks_offsets_group group;
	int committed;		/* group offsets updated after the reset */
};

void	ks_offsets_print_table(const struct ks_offsets_run *rn);
void	ks_offsets_print_json(const struct ks_offsets_run *rn);

#endif
