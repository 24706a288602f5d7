/* offsets.h - `ksink offsets`: list and reset the offsets a sink stored. */
#ifndef KS_OFFSETS_H
#define KS_OFFSETS_H

#include <stddef.h>
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

/* Parses TOPIC:PARTITION=OFFSET|none|earliest|latest; -1 with errbuf. */
int	ks_offsets_parse_spec(const char *s, struct ks_offsets_spec *out,
	    char *errbuf, size_t errlen);
/* Parses the arguments after "offsets"; -1 with errbuf on a usage
 * error.  Free with ks_offsets_args_free() either way. */
int	ks_offsets_parse_args(int argc, char **argv, struct ks_offsets_args *a,
	    char *errbuf, size_t errlen);
void	ks_offsets_args_free(struct ks_offsets_args *a);

/* `ksink offsets ...`; argv[0] is "offsets".  Returns the exit code. */
int	ks_offsets_main(int argc, char **argv);

#endif
