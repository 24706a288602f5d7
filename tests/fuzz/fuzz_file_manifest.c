/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/fuzz/fuzz_file_manifest.c - the file sink's manifest parser and
 * recovery, and its data formats, through the plugin's interface with
 * the daemon's host services (src/sink.c); the plugin's sources are
 * compiled in.
 *
 * Each input is: a flags byte, the content of an existing data file, up
 * to four records, and a manifest.  Unless flags say "raw", the manifest
 * gets a correct crc32 line, so that the parser behind the checksum is
 * reached.  In a fresh directory (under /dev/shm when it exists): the
 * files are written, the sink is opened (recovery), and when it opens,
 * the records are written as one batch and committed, the sink is closed
 * and opened again.
 *
 * Invariants: a refused manifest or a failed step comes with a message
 * ("file-message"); nothing is created outside the sink's directory
 * ("file-confined"); what a commit stored is there after a reopen: the
 * sink opens again, with offsets no lower than committed
 * ("file-reopen"), and in the value format with one data file, the file
 * ends with the values written, each followed by '\n', and in the json
 * format each line the batch added is JSON ("file-data").
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "../../connectors/file/file.h"

#include <dirent.h>
#include <ftw.h>

#include "log.h"
#include "sink.h"
#include "testing.h"

#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base[128], dir[160];
static int verbose;	/* KSINK_FUZZ_VERBOSE: say what each step did */
static const struct ksink_sink *sd;
static struct ksink_ctx *ctx;	/* the host's, made by configure() */

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	if (ftw->level == 0)
		return 0;
	return remove(path);
}

static void
cleanup(void)
{
	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(base);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");
	struct stat sb;

	(void)argc;
	(void)argv;
	if (stat("/dev/shm", &sb) == 0 && access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	snprintf(base, sizeof(base), "%s/ksink-fuzz-file.XXXXXX",
	    tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror(base);
		abort();
	}
	snprintf(dir, sizeof(dir), "%s/d", base);
	sd = ksink_sink_entry(&ks_sink_host);
	verbose = getenv("KSINK_FUZZ_VERBOSE") != NULL;
	/* The sink's messages only when asked for. */
	if (!verbose)
		ks_log_set_level(KSINK_LOG_ERROR - 1);
	atexit(cleanup);
	return 0;
}

static void
put_file(const char *name, const void *p, size_t n)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "wb")) == NULL)
		abort();
	if (n > 0 && fwrite(p, 1, n, fp) != n)
		abort();
	fclose(fp);
}

static char *
get_file(const char *name, size_t *n)
{
	char path[256], *p;
	struct stat sb;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fstat(fileno(fp), &sb) < 0 || (p = malloc((size_t)sb.st_size +
	    1)) == NULL)
		abort();
	*n = fread(p, 1, (size_t)sb.st_size, fp);
	fclose(fp);
	return p;
}

/* The host's context for connector fz, as flags say. */
static void
configure(uint8_t flags)
{
	char opt[256], err[1024];
	const char *settings[] = { opt, (flags & 1) ? "file.format=json" :
	    "file.format=value", (flags & 16) ? "file.rotate.bytes=40" : NULL,
	    NULL };

	snprintf(opt, sizeof(opt), "file.path=%s/%s", dir, (flags & 4) ?
	    "{topic}-{partition}.txt" : "out.txt");
	ks_sink_ctx_free(ctx);
	if ((ctx = ks_sink_ctx_test(sd, "fz", settings, err,
	    sizeof(err))) == NULL) {
		fprintf(stderr, "the host refuses the settings: %s\n", err);
		abort();
	}
}

/* The only entry of base is dir: nothing escaped it. */
static void
check_confined(void)
{
	struct dirent *de;
	DIR *d;

	if ((d = opendir(base)) == NULL)
		abort();
	while ((de = readdir(d)) != NULL)
		FZ_CHECK("file-confined", strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, "d") == 0,
		    "%s/%s was created outside the sink's directory", base,
		    de->d_name);
	closedir(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = { data, size };
	struct ksink_offset offs[4], back[4];
	int64_t loaded[4];
	struct ksink_record recs[4];
	struct fz_rec x[4];
	const uint8_t *p;
	char err[1024], crc[32], *body, *out;
	size_t n, i, k, done, len, before = 0, blen;
	void *sink = NULL;
	uint8_t flags;
	int st, committed = 0;
	struct ks_expect {
		char *p;
		size_t n;
	} want = { NULL, 0 };

	nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	if (mkdir(dir, 0700) < 0)
		abort();
	flags = fz_u8(&f);
	configure(flags);

	/* An existing data file, when asked for. */
	p = fz_bytes(&f, 4096, &n);
	if (flags & 8)
		put_file((flags & 4) ? "t-0.txt" : "out.txt", p, n);
	k = fz_u8(&f) % 5;
	for (i = 0; i < k; i++) {
		fz_rec_read(&f, &x[i], (int64_t)fz_uint(&f, 2));
		/* A known finding: the topic "-" is taken for "no topic"
		 * when the manifest is read back. */
		if (strcmp(x[i].topic, "-") == 0 && fz_known("file-topic-dash"))
			x[i].topic[0] = 't';
		recs[i] = x[i].r;
	}
	/* The rest is the manifest. */
	if (!(flags & 32)) {
		blen = f.n;
		if ((body = malloc(blen + 32)) == NULL)
			abort();
		memcpy(body, f.p, blen);
		if (blen == 0 || body[blen - 1] != '\n')
			body[blen++] = '\n';
		if (!(flags & 2)) {
			snprintf(crc, sizeof(crc), "crc32 %08" PRIx32 "\n",
			    crc32_update(0, body, blen));
			memcpy(body + blen, crc, strlen(crc));
			blen += strlen(crc);
		}
		put_file("ksink-fz.manifest", body, blen);
		free(body);
	}

	err[0] = '\0';
	st = sd->open(&ks_sink_host, ctx, &sink, err, sizeof(err));
	if (verbose)
		fprintf(stderr, "open: %s %s\n", ksink_status_name(st), err);
	if (st != KSINK_OK) {
		FZ_CHECK("file-message", *err != '\0' && sink == NULL,
		    "open refused (%d) without a message", st);
		goto out;
	}
	for (i = 0; i < k; i++) {
		offs[i].topic = recs[i].topic;
		offs[i].partition = recs[i].partition;
		offs[i].next_offset = KSINK_OFFSET_NONE;
	}
	FZ_CHECK("file-message", sd->load_offsets(sink, offs, k, err,
	    sizeof(err)) == KSINK_OK, "load_offsets: %s", err);
	for (i = 0; i < k; i++)
		loaded[i] = offs[i].next_offset;
	if ((out = get_file("out.txt", &before)) != NULL)
		free(out);
	err[0] = '\0';
	if ((st = sd->begin(sink, err, sizeof(err))) == KSINK_OK)
		st = sd->write(sink, recs, k, &done, err, sizeof(err));
	if (st == KSINK_OK) {
		for (i = 0; i < k; i++)
			offs[i].next_offset = recs[i].offset + 1;
		st = sd->commit(sink, offs, k, err, sizeof(err));
		committed = st == KSINK_OK;
	}
	if (verbose)
		fprintf(stderr, "batch of %zu: %s %s\n", k,
		    ksink_status_name(st), err);
	if (st != KSINK_OK) {
		FZ_CHECK("file-message", *err != '\0',
		    "a step failed (%d) without a message", st);
		sd->abort(sink);
	}
	sd->close(sink);
	sink = NULL;
	check_confined();
	if (!committed)
		goto out;

	/* What the batch must have appended, in the value format with one
	 * data file and no rotation: the values of the records at or past
	 * their partition's stored next offset, each followed by '\n'. */
	if (!(flags & (1 | 4 | 16))) {
		int64_t next[4];

		if ((want.p = malloc(4 * (65536 + 1))) == NULL)
			abort();
		for (i = 0; i < k; i++)
			next[i] = loaded[i];
		for (i = 0; i < k; i++) {
			const struct ksink_record *r = &recs[i];
			size_t j;

			if (next[i] != KSINK_OFFSET_NONE && r->offset < next[i])
				continue;
			if (r->value != NULL) {
				memcpy(want.p + want.n, r->value, r->value_len);
				want.n += r->value_len;
				want.p[want.n++] = '\n';
			}
			/* The fence moves for every record of the
			 * partition. */
			for (j = i; j < k; j++)
				if (recs[j].partition == r->partition &&
				    strcmp(recs[j].topic, r->topic) == 0)
					next[j] = r->offset + 1;
		}
	}

	/* Open again: what was committed is there. */
	configure(flags);
	err[0] = '\0';
	st = sd->open(&ks_sink_host, ctx, &sink, err, sizeof(err));
	FZ_CHECK("file-reopen", st == KSINK_OK,
	    "the sink does not open after its own commit: %s", err);
	for (i = 0; i < k; i++) {
		back[i].topic = recs[i].topic;
		back[i].partition = recs[i].partition;
		back[i].next_offset = KSINK_OFFSET_NONE;
	}
	FZ_CHECK("file-reopen", sd->load_offsets(sink, back, k, err,
	    sizeof(err)) == KSINK_OK, "load_offsets: %s", err);
	for (i = 0; i < k; i++)
		FZ_CHECK("file-reopen", back[i].next_offset >=
		    recs[i].offset + 1, "%s/%d: next offset %lld after a "
		    "commit of offset %lld", recs[i].topic,
		    (int)recs[i].partition, (long long)back[i].next_offset,
		    (long long)recs[i].offset);
	sd->close(sink);
	sink = NULL;
	if (want.p != NULL && want.n > 0) {
		out = get_file("out.txt", &len);
		FZ_CHECK("file-data", out != NULL && len >= want.n &&
		    memcmp(out + len - want.n, want.p, want.n) == 0,
		    "out.txt does not end with the values written");
		free(out);
	}
	if ((flags & 1) && !(flags & (4 | 16))) {
		out = get_file("out.txt", &len);
		if (out != NULL) {
			char *l = out + (before < len ? before : len), *e;

			while (l < out + len) {
				e = memchr(l, '\n', (size_t)(out + len - l));
				FZ_CHECK("file-data", e != NULL,
				    "json: last line without newline");
				FZ_CHECK("file-data", fz_json_valid(l,
				    (size_t)(e - l)), "json: line not JSON");
				l = e + 1;
			}
			free(out);
		}
	}
out:
	free(want.p);
	for (i = 0; i < k; i++)
		fz_rec_free(&x[i]);
	check_confined();
	return 0;
}
