/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * tests/file/filedrive.c - drives a sink plugin through the ABI with a
 * deterministic record stream, the way the worker does after a restart:
 * open, load_offsets, then replay from the stored offsets in batches.
 * The plugin is loaded, its options (-o) checked and its host services
 * given by the daemon's own code (src/sink.c).
 *
 *   filedrive [-n records] [-t topics] [-p partitions] [-b batch]
 *       [-s seed] [-c connector] [-a K] [-k K] [-z] [-o NAME=VALUE]...
 *       PLUGIN.so
 *
 *   -a K   write every Kth batch, abort it, then write and commit it again
 *   -k K   stop cleanly after K batches
 *   -z     replay from offset 0, ignoring the stored offsets (the sink
 *          must skip what it already holds)
 *
 * The stream has offset gaps (as transaction markers and aborted records
 * leave), tombstones, null keys, JSON, text and binary values, headers.
 * Exit 0 when every batch was committed, 1 on a sink error, 2 on usage.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sink.h"
#include "testing.h"

struct rec {
	struct ksink_record r;
	struct ksink_header h[2];
};

static uint64_t rng;

/* The stream and the batch: file scope, so that they stay reachable (and
 * are not reported as leaks) until exit. */
static struct ksink_offset *offs, *co;
static struct rec *recs;
static struct ksink_record *run;
static int64_t *nextoff;
static struct ks_plugin *pl;
static struct ksink_ctx *ctx;

static uint32_t
next_rand(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ULL) >> 32);
}

static char *
xmalloc(size_t n)
{
	char *p = malloc(n ? n : 1);

	if (p == NULL) {
		perror("filedrive");
		exit(99);
	}
	return p;
}

static char *
gen_bytes(size_t *len, uint64_t i)
{
	char *p;
	size_t j, n;

	switch (next_rand() % 7) {
	case 0: /* JSON over several lines */
		p = xmalloc(96);
		n = (size_t)snprintf(p, 96, "{\"i\": %" PRIu64 ",\n \"s\": "
		    "\"caf\xc3\xa9 \\\"q\\\"\", \"a\": [1, 2.5e3, true, null]}", i);
		break;
	case 1: /* a JSON number */
		p = xmalloc(32);
		n = (size_t)snprintf(p, 32, "%" PRIu64, i * 7);
		break;
	case 2: /* binary */
		n = next_rand() % 40;
		p = xmalloc(n);
		for (j = 0; j < n; j++)
			p[j] = (char)next_rand();
		break;
	case 3: /* empty */
		n = 0;
		p = xmalloc(1);
		break;
	case 4: /* long text */
		n = 100 + next_rand() % 400;
		p = xmalloc(n);
		for (j = 0; j < n; j++)
			p[j] = (char)('a' + (i + j) % 26);
		break;
	default: /* text with quotes and a tab */
		p = xmalloc(64);
		n = (size_t)snprintf(p, 64, "record %" PRIu64 " \"x\"\ty", i);
		break;
	}
	*len = n;
	return p;
}

static void
usage(void)
{
	fprintf(stderr, "usage: filedrive [-n records] [-t topics] "
	    "[-p partitions] [-b batch] [-s seed] [-c connector] [-a K] "
	    "[-k K] [-z] [-o NAME=VALUE]... PLUGIN.so\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	long nrec = 2000, ntopics = 2, nparts = 3, batch = 50, abort_every = 0,
	    stop_after = -1, nb = 0;
	const char *connector = "drive", *sets[65];
	char errbuf[1024], tname[64];
	const struct ksink_sink *sink;
	void *s;
	size_t nsets = 0, ntp, i, j, k, n, done, nrun, nco;
	int c, rc, zero = 0, again;

	rng = 88172645463325252ULL;
	while ((c = getopt(argc, argv, "n:t:p:b:s:c:a:k:zo:")) != -1) {
		switch (c) {
		case 'n': nrec = atol(optarg); break;
		case 't': ntopics = atol(optarg); break;
		case 'p': nparts = atol(optarg); break;
		case 'b': batch = atol(optarg); break;
		case 's': rng ^= strtoull(optarg, NULL, 10) * 0x9e3779b97f4a7c15ULL; break;
		case 'c': connector = optarg; break;
		case 'a': abort_every = atol(optarg); break;
		case 'k': stop_after = atol(optarg); break;
		case 'z': zero = 1; break;
		case 'o':
			if (nsets == 64)
				usage();
			sets[nsets++] = optarg;
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || nrec < 0 || ntopics < 1 || nparts < 1 ||
	    batch < 1)
		usage();
	if ((pl = ks_sink_load(argv[optind], errbuf, sizeof(errbuf))) ==
	    NULL) {
		fprintf(stderr, "filedrive: %s\n", errbuf);
		return 99;
	}
	sink = pl->desc;
	sets[nsets] = NULL;
	if ((ctx = ks_sink_ctx_test(sink, connector, sets, errbuf,
	    sizeof(errbuf))) == NULL) {
		fprintf(stderr, "filedrive: -o: %s\n", errbuf);
		return 2;
	}

	/* The record stream. */
	ntp = (size_t)(ntopics * nparts);
	offs = calloc(ntp, sizeof(*offs));
	co = calloc(ntp, sizeof(*co));
	nextoff = calloc(ntp, sizeof(*nextoff));
	recs = calloc((size_t)nrec + 1, sizeof(*recs));
	run = calloc((size_t)batch, sizeof(*run));
	if (offs == NULL || co == NULL || nextoff == NULL || recs == NULL ||
	    run == NULL)
		return 99;
	for (i = 0; i < ntp; i++) {
		snprintf(tname, sizeof(tname), "topic%zu", i / (size_t)nparts);
		offs[i].topic = strdup(tname);
		offs[i].partition = (int32_t)(i % (size_t)nparts);
		nextoff[i] = (int64_t)(next_rand() % 3);
	}
	for (i = 0; i < (size_t)nrec; i++) {
		struct ksink_record *r = &recs[i].r;

		j = next_rand() % ntp;
		r->topic = offs[j].topic;
		r->partition = offs[j].partition;
		r->offset = nextoff[j];
		nextoff[j] += next_rand() % 8 == 0 ? 2 + next_rand() % 3 : 1;
		r->timestamp = next_rand() % 16 == 0 ? -1 :
		    1700000000000LL + (int64_t)i;
		if (next_rand() % 5 == 0) {
			r->key = NULL;
		} else {
			char *key = xmalloc(16);

			r->key_len = (size_t)snprintf(key, 16, "k%zu", i % 37);
			r->key = key;
		}
		if (next_rand() % 11 == 0)
			r->value = NULL;
		else
			r->value = gen_bytes(&r->value_len, i);
		r->header_count = next_rand() % 3;
		for (k = 0; k < r->header_count; k++) {
			recs[i].h[k].name = k == 0 ? "trace" : "bin";
			if (next_rand() % 4 == 0)
				recs[i].h[k].value = NULL;
			else
				recs[i].h[k].value = gen_bytes(
				    &recs[i].h[k].value_len, i + 1000 * k);
		}
		r->headers = recs[i].h;
	}

	if ((rc = sink->open(&ks_sink_host, ctx, &s, errbuf,
	    sizeof(errbuf))) != KSINK_OK) {
		fprintf(stderr, "filedrive: open: %s: %s\n",
		    ksink_status_name(rc), errbuf);
		return 1;
	}
	for (i = 0; i < ntp; i++)
		offs[i].next_offset = KSINK_OFFSET_NONE;
	if ((rc = sink->load_offsets(s, offs, ntp, errbuf,
	    sizeof(errbuf))) != KSINK_OK) {
		fprintf(stderr, "filedrive: load_offsets: %s\n", errbuf);
		return 1;
	}

	/* Replay from the stored offsets, in batches. */
	i = 0;
	while (i < (size_t)nrec && nb != stop_after) {
		nrun = 0;
		for (; i < (size_t)nrec && nrun < (size_t)batch; i++) {
			const struct ksink_record *r = &recs[i].r;

			j = (size_t)(strtol(r->topic + 5, NULL, 10) * nparts +
			    r->partition);
			if (!zero && offs[j].next_offset != KSINK_OFFSET_NONE &&
			    r->offset < offs[j].next_offset)
				continue;
			run[nrun++] = *r;
		}
		if (nrun == 0)
			break;
		nb++;
		/* The next offset of every partition of the batch. */
		nco = 0;
		for (k = 0; k < nrun; k++) {
			for (n = 0; n < nco; n++)
				if (co[n].partition == run[k].partition &&
				    strcmp(co[n].topic, run[k].topic) == 0)
					break;
			if (n == nco) {
				co[nco].topic = run[k].topic;
				co[nco].partition = run[k].partition;
				nco++;
			}
			co[n].next_offset = run[k].offset + 1;
		}
		again = abort_every > 0 && nb % abort_every == 0;
		do {
			if ((rc = sink->begin(s, errbuf, sizeof(errbuf))) !=
			    KSINK_OK)
				goto fail;
			rc = sink->write(s, run, nrun, &done, errbuf,
			    sizeof(errbuf));
			if (rc != KSINK_OK)
				goto fail;
			if (again) {
				sink->abort(s);
				continue;
			}
			if ((rc = sink->commit(s, co, nco, errbuf,
			    sizeof(errbuf))) != KSINK_OK)
				goto fail;
		} while (again--);
	}
	sink->close(s);
	printf("filedrive: %ld batches committed\n", nb);
	return 0;
fail:
	fprintf(stderr, "filedrive: batch %ld: %s: %s\n", nb,
	    ksink_status_name(rc), errbuf);
	sink->close(s);
	return 1;
}
