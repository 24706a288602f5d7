/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/file/manifest.c - the manifest: the committed length of
 * every data file and the next offset of every partition, written to a
 * temporary file, fsynced and renamed over the manifest, and read back.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#else
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#endif

#include "file.h"

/* ---------------------------------------------------------------------
 * The manifest
 */

/* CRC-32 (IEEE 802.3, reflected, polynomial 0xedb88320), the table
 * computed at compile time so that nothing is written at run time. */
static const uint32_t crc32_table[256] = {
	0x00000000u, 0x77073096u, 0xee0e612cu, 0x990951bau,
	0x076dc419u, 0x706af48fu, 0xe963a535u, 0x9e6495a3u,
	0x0edb8832u, 0x79dcb8a4u, 0xe0d5e91eu, 0x97d2d988u,
	0x09b64c2bu, 0x7eb17cbdu, 0xe7b82d07u, 0x90bf1d91u,
	0x1db71064u, 0x6ab020f2u, 0xf3b97148u, 0x84be41deu,
	0x1adad47du, 0x6ddde4ebu, 0xf4d4b551u, 0x83d385c7u,
	0x136c9856u, 0x646ba8c0u, 0xfd62f97au, 0x8a65c9ecu,
	0x14015c4fu, 0x63066cd9u, 0xfa0f3d63u, 0x8d080df5u,
	0x3b6e20c8u, 0x4c69105eu, 0xd56041e4u, 0xa2677172u,
	0x3c03e4d1u, 0x4b04d447u, 0xd20d85fdu, 0xa50ab56bu,
	0x35b5a8fau, 0x42b2986cu, 0xdbbbc9d6u, 0xacbcf940u,
	0x32d86ce3u, 0x45df5c75u, 0xdcd60dcfu, 0xabd13d59u,
	0x26d930acu, 0x51de003au, 0xc8d75180u, 0xbfd06116u,
	0x21b4f4b5u, 0x56b3c423u, 0xcfba9599u, 0xb8bda50fu,
	0x2802b89eu, 0x5f058808u, 0xc60cd9b2u, 0xb10be924u,
	0x2f6f7c87u, 0x58684c11u, 0xc1611dabu, 0xb6662d3du,
	0x76dc4190u, 0x01db7106u, 0x98d220bcu, 0xefd5102au,
	0x71b18589u, 0x06b6b51fu, 0x9fbfe4a5u, 0xe8b8d433u,
	0x7807c9a2u, 0x0f00f934u, 0x9609a88eu, 0xe10e9818u,
	0x7f6a0dbbu, 0x086d3d2du, 0x91646c97u, 0xe6635c01u,
	0x6b6b51f4u, 0x1c6c6162u, 0x856530d8u, 0xf262004eu,
	0x6c0695edu, 0x1b01a57bu, 0x8208f4c1u, 0xf50fc457u,
	0x65b0d9c6u, 0x12b7e950u, 0x8bbeb8eau, 0xfcb9887cu,
	0x62dd1ddfu, 0x15da2d49u, 0x8cd37cf3u, 0xfbd44c65u,
	0x4db26158u, 0x3ab551ceu, 0xa3bc0074u, 0xd4bb30e2u,
	0x4adfa541u, 0x3dd895d7u, 0xa4d1c46du, 0xd3d6f4fbu,
	0x4369e96au, 0x346ed9fcu, 0xad678846u, 0xda60b8d0u,
	0x44042d73u, 0x33031de5u, 0xaa0a4c5fu, 0xdd0d7cc9u,
	0x5005713cu, 0x270241aau, 0xbe0b1010u, 0xc90c2086u,
	0x5768b525u, 0x206f85b3u, 0xb966d409u, 0xce61e49fu,
	0x5edef90eu, 0x29d9c998u, 0xb0d09822u, 0xc7d7a8b4u,
	0x59b33d17u, 0x2eb40d81u, 0xb7bd5c3bu, 0xc0ba6cadu,
	0xedb88320u, 0x9abfb3b6u, 0x03b6e20cu, 0x74b1d29au,
	0xead54739u, 0x9dd277afu, 0x04db2615u, 0x73dc1683u,
	0xe3630b12u, 0x94643b84u, 0x0d6d6a3eu, 0x7a6a5aa8u,
	0xe40ecf0bu, 0x9309ff9du, 0x0a00ae27u, 0x7d079eb1u,
	0xf00f9344u, 0x8708a3d2u, 0x1e01f268u, 0x6906c2feu,
	0xf762575du, 0x806567cbu, 0x196c3671u, 0x6e6b06e7u,
	0xfed41b76u, 0x89d32be0u, 0x10da7a5au, 0x67dd4accu,
	0xf9b9df6fu, 0x8ebeeff9u, 0x17b7be43u, 0x60b08ed5u,
	0xd6d6a3e8u, 0xa1d1937eu, 0x38d8c2c4u, 0x4fdff252u,
	0xd1bb67f1u, 0xa6bc5767u, 0x3fb506ddu, 0x48b2364bu,
	0xd80d2bdau, 0xaf0a1b4cu, 0x36034af6u, 0x41047a60u,
	0xdf60efc3u, 0xa867df55u, 0x316e8eefu, 0x4669be79u,
	0xcb61b38cu, 0xbc66831au, 0x256fd2a0u, 0x5268e236u,
	0xcc0c7795u, 0xbb0b4703u, 0x220216b9u, 0x5505262fu,
	0xc5ba3bbeu, 0xb2bd0b28u, 0x2bb45a92u, 0x5cb36a04u,
	0xc2d7ffa7u, 0xb5d0cf31u, 0x2cd99e8bu, 0x5bdeae1du,
	0x9b64c2b0u, 0xec63f226u, 0x756aa39cu, 0x026d930au,
	0x9c0906a9u, 0xeb0e363fu, 0x72076785u, 0x05005713u,
	0x95bf4a82u, 0xe2b87a14u, 0x7bb12baeu, 0x0cb61b38u,
	0x92d28e9bu, 0xe5d5be0du, 0x7cdcefb7u, 0x0bdbdf21u,
	0x86d3d2d4u, 0xf1d4e242u, 0x68ddb3f8u, 0x1fda836eu,
	0x81be16cdu, 0xf6b9265bu, 0x6fb077e1u, 0x18b74777u,
	0x88085ae6u, 0xff0f6a70u, 0x66063bcau, 0x11010b5cu,
	0x8f659effu, 0xf862ae69u, 0x616bffd3u, 0x166ccf45u,
	0xa00ae278u, 0xd70dd2eeu, 0x4e048354u, 0x3903b3c2u,
	0xa7672661u, 0xd06016f7u, 0x4969474du, 0x3e6e77dbu,
	0xaed16a4au, 0xd9d65adcu, 0x40df0b66u, 0x37d83bf0u,
	0xa9bcae53u, 0xdebb9ec5u, 0x47b2cf7fu, 0x30b5ffe9u,
	0xbdbdf21cu, 0xcabac28au, 0x53b39330u, 0x24b4a3a6u,
	0xbad03605u, 0xcdd70693u, 0x54de5729u, 0x23d967bfu,
	0xb3667a2eu, 0xc4614ab8u, 0x5d681b02u, 0x2a6f2b94u,
	0xb40bbe37u, 0xc30c8ea1u, 0x5a05df1bu, 0x2d02ef8du,
};

uint32_t
crc32_update(uint32_t crc, const void *data, size_t n)
{
	const unsigned char *s = data;
	size_t i;

	crc = ~crc;
	for (i = 0; i < n; i++)
		crc = crc32_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int
mtext_printf(struct sink *fs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
mtext_printf(struct sink *fs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ks_buf_vaddf(&fs->mtext, fmt, ap);
	va_end(ap);
	return fs->mtext.oom ? -1 : 0;
}

/* Names are written with bytes below 0x21, 0x7f and '%' as %XX. */
static int
mtext_name(struct sink *fs, const char *s)
{
	const unsigned char *p;

	if (mtext_printf(fs, " ") < 0)
		return -1;
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p <= 0x20 || *p == 0x7f || *p == '%') {
			if (mtext_printf(fs, "%%%02X", *p) < 0)
				return -1;
		} else if (mtext_printf(fs, "%c", *p) < 0)
			return -1;
	}
	return 0;
}

static int
unescape_name(char *s)
{
	char *r = s, *w = s;
	unsigned v;

	while (*r != '\0') {
		if (*r != '%') {
			*w++ = *r++;
			continue;
		}
		if (!isxdigit((unsigned char)r[1]) ||
		    !isxdigit((unsigned char)r[2]) ||
		    sscanf(r + 1, "%2x", &v) != 1 || v == 0)
			return -1;
		*w++ = (char)v;
		r += 3;
	}
	*w = '\0';
	return 0;
}

static int
build_manifest(struct sink *fs, int which, const struct stream *closing,
    const char *closed)
{
	const struct stream *st;
	const struct meta *m;
	const struct part *p;
	uint64_t len;
	int64_t next;
	size_t i;
	int rc = 0;

	ks_buf_reset(&fs->mtext);
	rc |= mtext_printf(fs, "%s %d\n", MANIFEST_MAGIC, MANIFEST_VERSION);
	rc |= mtext_printf(fs, "# ksink file sink manifest, see ksink-file(7);"
	    " replaced atomically, do not edit\n");
	rc |= mtext_printf(fs, "connector");
	rc |= mtext_name(fs, fs->host->connector_name(fs->ctx));
	rc |= mtext_printf(fs, "\npattern");
	rc |= mtext_name(fs, fs->pattern);
	rc |= mtext_printf(fs, "\nformat %s\nsequence %" PRIu64 "\n",
	    fs->format == FMT_JSON ? "json" : "value", fs->sequence + 1);
	for (i = 0; i < fs->nstreams; i++) {
		st = fs->streams[i];
		len = which == M_PENDING ? st->plen : st->clen;
		m = which == M_PENDING ? &st->pmeta : &st->cmeta;
		if (st == closing) {
			rc |= mtext_printf(fs, "close");
			rc |= mtext_name(fs, st->name);
			rc |= mtext_printf(fs, " %" PRIu64, len);
			rc |= mtext_name(fs, closed);
			rc |= mtext_printf(fs, "\n");
			continue;
		}
		rc |= mtext_printf(fs, "file");
		rc |= mtext_name(fs, st->name);
		if (m->topic == NULL || len == 0)
			rc |= mtext_printf(fs, " %" PRIu64 " - - - - -\n", len);
		else
			rc |= mtext_printf(fs, " %" PRIu64 " %s %" PRId32 " %"
			    PRId32 " %" PRId64 " %" PRId64 "\n", len, m->topic,
			    m->pmin, m->pmax, m->minoff, m->opened_ms);
	}
	for (i = 0; i < fs->nparts; i++) {
		p = fs->parts[i];
		next = which == M_PENDING ? p->pnext : p->cnext;
		if (next == KSINK_OFFSET_NONE)
			continue;
		rc |= mtext_printf(fs, "offset %s %" PRId32 " %" PRId64 "\n",
		    p->topic, p->partition, next);
	}
	if (rc != 0)
		return -1;
	return mtext_printf(fs, "crc32 %08" PRIx32 "\n",
	    crc32_update(0, fs->mtext.p, fs->mtext.len));
}

/* Replaces the manifest (connectors/lib/atomicfile.c: temp file, fsync,
 * rename, fsync of the directory).  Out of space for the temp file is a
 * retry; any other failure is fatal, and stops the connector. */
int
manifest_write(struct sink *fs, int which, const struct stream *closing,
    const char *closed, char *errbuf, size_t errlen)
{
	char msg[512];
	int rc;

	if (build_manifest(fs, which, closing, closed) < 0)
		return fatal(fs, errbuf, errlen, "out of memory building the "
		    "manifest");
	rc = ks_atomicfile_replace(&fs->mf, fs->mtext.p, fs->mtext.len, msg,
	    sizeof(msg));
	if (rc == KSINK_RETRY) {
		ks_err_set(errbuf, errlen, "%s", msg);
		return rc;
	}
	if (rc != KSINK_OK)
		return fatal(fs, errbuf, errlen, "%s", msg);
	fs->sequence++;
	return KSINK_OK;
}

static int
parse_i64(const char *s, int64_t min, int64_t *out)
{
	char *end;
	long long v;

	if (*s == '\0' || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min)
		return -1;
	*out = v;
	return 0;
}

/* Reads the manifest into the partition table and files[].  Returns 0,
 * 1 when it does not exist, or -1 with errbuf filled. */
int
manifest_read(struct sink *fs, struct mfile **filesp, size_t *nfilesp,
    char *errbuf, size_t errlen)
{
	struct mfile *files = NULL, *mf;
	size_t nfiles = 0, ntok, lineno = 0;
	char *text = NULL, *line, *next, *tok[10], *crcline, *fmt = NULL;
	const char *topic, *why = NULL;
	struct stat sb;
	ssize_t n = 0;
	size_t off = 0;
	int64_t v[5];
	uint32_t crc;
	int fd, ok = 0, havepat = 0;

	*filesp = NULL;
	*nfilesp = 0;
	fd = openat(fs->mf.dir_fd, fs->mf.name, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 1;
	if (fd < 0 || fstat(fd, &sb) < 0) {
		ks_err_set(errbuf, errlen, "cannot read manifest %s: %s", fs->mf.path,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (sb.st_size > MANIFEST_MAX ||
	    (text = malloc((size_t)sb.st_size + 1)) == NULL) {
		ks_err_set(errbuf, errlen, "manifest %s is too large (%jd bytes)",
		    fs->mf.path, (intmax_t)sb.st_size);
		close(fd);
		return -1;
	}
	while (off < (size_t)sb.st_size) {
		n = read(fd, text + off, (size_t)sb.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	text[off] = '\0';
	if (off != (size_t)sb.st_size) {
		ks_err_set(errbuf, errlen, "cannot read manifest %s: %s", fs->mf.path,
		    n < 0 ? strerror(errno) : "short read");
		goto out;
	}

	/* The last line is "crc32 X" over everything before it. */
	if (off == 0 || text[off - 1] != '\n') {
		why = "it is empty or its last line is incomplete";
		goto corrupt;
	}
	text[off - 1] = '\0';
	crcline = strrchr(text, '\n');
	crcline = crcline ? crcline + 1 : text;
	if (sscanf(crcline, "crc32 %8" SCNx32, &crc) != 1 ||
	    strlen(crcline) != 14) {
		why = "its last line is not a crc32 checksum";
		goto corrupt;
	}
	if (crc32_update(0, text, (size_t)(crcline - text)) != crc) {
		why = "its checksum does not match its contents";
		goto corrupt;
	}
	crcline[0] = '\0';

	for (line = text; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		lineno++;
		if (*line == '#' && lineno > 1)
			continue;
		for (ntok = 0; ntok < 10; ntok++) {
			if ((tok[ntok] = strsep(&line, " ")) == NULL)
				break;
		}
		if (lineno == 1) {
			if (ntok != 2 || strcmp(tok[0], MANIFEST_MAGIC) != 0) {
				why = "it does not start with " MANIFEST_MAGIC;
				goto corrupt;
			}
			if (strcmp(tok[1], "1") != 0) {
				ks_err_set(errbuf, errlen, "manifest %s has "
				    "version %s; this ksink reads version %d: "
				    "run the ksink that wrote it", fs->mf.path,
				    tok[1], MANIFEST_VERSION);
				goto out;
			}
			continue;
		}
		if (strcmp(tok[0], "connector") == 0 && ntok == 2)
			continue;
		if (strcmp(tok[0], "sequence") == 0 && ntok == 2 &&
		    parse_i64(tok[1], 0, &v[0]) == 0) {
			fs->sequence = (uint64_t)v[0];
			continue;
		}
		if (strcmp(tok[0], "pattern") == 0 && ntok == 2 &&
		    unescape_name(tok[1]) == 0) {
			if (strcmp(tok[1], fs->pattern) != 0) {
				ks_err_set(errbuf, errlen, "manifest %s was written "
				    "for file names %s but file.path now gives "
				    "%s: restore file.path, or use a new "
				    "directory and manifest (the connector then "
				    "starts without stored offsets)", fs->mf.path,
				    tok[1], fs->pattern);
				goto out;
			}
			havepat = 1;
			continue;
		}
		if (strcmp(tok[0], "format") == 0 && ntok == 2) {
			fmt = tok[1];
			if (strcmp(fmt, fs->format == FMT_JSON ? "json" :
			    "value") != 0) {
				ks_err_set(errbuf, errlen, "manifest %s was written "
				    "with file.format = %s, which is now %s: "
				    "restore file.format, or use a new directory "
				    "and manifest", fs->mf.path, fmt,
				    fs->format == FMT_JSON ? "json" : "value");
				goto out;
			}
			continue;
		}
		if (strcmp(tok[0], "offset") == 0 && ntok == 4 &&
		    parse_i64(tok[2], 0, &v[0]) == 0 && v[0] <= INT32_MAX &&
		    parse_i64(tok[3], 0, &v[1]) == 0) {
			struct part *p = part_get(fs, tok[1], (int32_t)v[0]);

			if (p == NULL && errno == EINVAL)
				goto badline;
			if (p == NULL) {
				ks_err_set(errbuf, errlen, "out of memory");
				goto out;
			}
			p->cnext = p->pnext = v[1];
			continue;
		}
		if ((strcmp(tok[0], "file") == 0 && ntok == 8) ||
		    (strcmp(tok[0], "close") == 0 && ntok == 4)) {
			if (unescape_name(tok[1]) < 0 ||
			    parse_i64(tok[2], 0, &v[0]) < 0 ||
			    strchr(tok[1], '/') != NULL)
				goto badline;
			mf = realloc(files, (nfiles + 1) * sizeof(*files));
			if (mf == NULL) {
				ks_err_set(errbuf, errlen, "out of memory");
				goto out;
			}
			files = mf;
			mf = &files[nfiles++];
			memset(mf, 0, sizeof(*mf));
			mf->name = strdup(tok[1]);
			mf->len = (uint64_t)v[0];
			if (tok[0][0] == 'c') {
				if (unescape_name(tok[3]) < 0 ||
				    strchr(tok[3], '/') != NULL)
					goto badline;
				mf->closed = strdup(tok[3]);
				continue;
			}
			/* "- - - - -": no topic yet.  A topic may be named
			 * "-": the partition field tells them apart. */
			if (strcmp(tok[4], "-") == 0) {
				if (strcmp(tok[3], "-") != 0 || mf->len != 0)
					goto badline;
				continue;
			}
			if (parse_i64(tok[4], 0, &v[1]) < 0 ||
			    parse_i64(tok[5], 0, &v[2]) < 0 ||
			    parse_i64(tok[6], 0, &v[3]) < 0 ||
			    parse_i64(tok[7], INT64_MIN, &v[4]) < 0 ||
			    v[1] > INT32_MAX || v[2] > INT32_MAX ||
			    (topic = intern(fs, tok[3])) == NULL)
				goto badline;
			mf->meta.topic = topic;
			mf->meta.pmin = (int32_t)v[1];
			mf->meta.pmax = (int32_t)v[2];
			mf->meta.minoff = v[3];
			mf->meta.opened_ms = v[4];
			continue;
		}
		goto badline;
	}
	if (!havepat || fmt == NULL) {
		why = "it lacks the pattern or format line";
		goto corrupt;
	}
	ok = 1;
	goto out;

badline:
	ks_err_set(errbuf, errlen, "manifest %s line %zu is not understood; it "
	    "is corrupt or was edited.  ksink does not guess what was "
	    "committed: restore the manifest from a backup, or see RECOVERY "
	    "in ksink-file(7)", fs->mf.path, lineno);
	goto out;
corrupt:
	ks_err_set(errbuf, errlen, "manifest %s is unreadable: %s.  ksink does not "
	    "guess what was committed: restore the manifest from a backup, or "
	    "see RECOVERY in ksink-file(7)", fs->mf.path, why);
out:
	free(text);
	if (!ok) {
		while (nfiles > 0) {
			nfiles--;
			free(files[nfiles].name);
			free(files[nfiles].closed);
		}
		free(files);
		return -1;
	}
	*filesp = files;
	*nfilesp = nfiles;
	return 0;
}
