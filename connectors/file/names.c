/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/file/names.c - file names: the file.path pattern with
 * {topic} and {partition}, the names of closed files, and matching names
 * against a pattern.
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
 * Names: the file name pattern, closed names, matching
 */

int
is_topic_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* Length of the placeholder at p, 0 if none; *kind gets its letter. */
size_t
placeholder(const char *p, char *kind)
{
	static const struct {
		const char *text;
		char kind;
	} ph[] = {
		{ "{topic}", 't' }, { "{partition}", 'p' }, { "{range}", 'r' },
	};
	size_t i, n;

	for (i = 0; i < sizeof(ph) / sizeof(ph[0]); i++) {
		n = strlen(ph[i].text);
		if (strncmp(p, ph[i].text, n) == 0) {
			*kind = ph[i].kind;
			return n;
		}
	}
	return 0;
}

/* The file name pattern with {topic} and {partition} replaced. */
int
active_name(struct sink *fs, char *out, size_t outlen, const char *topic,
    int32_t partition)
{
	const char *pat = fs->pattern;
	size_t pos = 0, n;
	char kind;
	int w;

	while (*pat != '\0') {
		n = *pat == '{' ? placeholder(pat, &kind) : 0;
		if (n > 0 && kind == 't')
			w = snprintf(out + pos, outlen - pos, "%s", topic);
		else if (n > 0 && kind == 'p')
			w = snprintf(out + pos, outlen - pos, "%" PRId32,
			    partition);
		else {
			w = snprintf(out + pos, outlen - pos, "%c", *pat);
			n = 1;
		}
		if (w < 0 || (size_t)w >= outlen - pos)
			return -1;
		pos += (size_t)w;
		pat += n;
	}
	return pos > NAME_MAX ? -1 : 0;
}

/* STEM.TOPIC+RANGE+OFFSET.EXT: the active name with the topic of the
 * file's first record, the range of that topic's partitions in the file
 * and the first offset of the lowest of them inserted before the
 * extension (which has no placeholders). */
int
closed_name(struct sink *fs, char *out, size_t outlen, const char *active,
    const struct meta *m)
{
	size_t extlen = strlen(fs->pattern) - fs->stem_len;
	size_t stemlen = strlen(active) - extlen;
	char range[32];
	int w;

	if (m->pmin == m->pmax)
		snprintf(range, sizeof(range), "%" PRId32, m->pmin);
	else
		snprintf(range, sizeof(range), "%" PRId32 "-%" PRId32, m->pmin,
		    m->pmax);
	w = snprintf(out, outlen, "%.*s.%s+%s+%019" PRId64 "%s", (int)stemlen,
	    active, m->topic, range, m->minoff, active + stemlen);
	if (w < 0 || (size_t)w >= outlen || w > NAME_MAX)
		return -1;
	return 0;
}

/* Whether name matches a pattern of literals, {topic}, {partition} and
 * {range}. */
int
name_match(const char *p, const char *s)
{
	size_t n, k, len;
	char kind;

	while (*p != '\0') {
		len = *p == '{' ? placeholder(p, &kind) : 0;
		if (len == 0) {
			if (*p != *s)
				return 0;
			p++;
			s++;
			continue;
		}
		p += len;
		for (n = 0; s[n] != '\0'; n++) {
			if (kind == 't' && !is_topic_char((unsigned char)s[n]))
				break;
			if (kind == 'p' && !(s[n] >= '0' && s[n] <= '9'))
				break;
			if (kind == 'r' && !((s[n] >= '0' && s[n] <= '9') ||
			    s[n] == '-'))
				break;
		}
		for (k = n; k >= 1; k--)
			if (name_match(p, s + k))
				return 1;
		return 0;
	}
	return *s == '\0';
}

int
is_manifest_name(struct sink *fs, const char *name)
{
	return fs->same_dir && (strcmp(name, fs->mf.name) == 0 ||
	    strcmp(name, fs->mf.tmp) == 0 || strcmp(name, fs->mf.lock) == 0);
}

/* Splits the file name pattern into stem and extension and checks its
 * placeholders. */
int
parse_pattern(struct sink *fs, const char *path, char *errbuf, size_t errlen)
{
	const char *slash = strrchr(path, '/');
	const char *fname = slash ? slash + 1 : path;
	const char *p, *dot = NULL, *lastph = fname;
	size_t n;
	char kind;

	if (*fname == '\0' || strcmp(fname, ".") == 0 ||
	    strcmp(fname, "..") == 0) {
		ks_err_set(errbuf, errlen, "file.path = %s: names a directory, not "
		    "a file", path);
		return -1;
	}
	if (slash != NULL && memchr(path, '{', (size_t)(fname - path))) {
		ks_err_set(errbuf, errlen, "file.path = %s: {topic} and {partition} "
		    "may only appear in the file name, not in the directory",
		    path);
		return -1;
	}
	for (p = fname; *p != '\0'; p++) {
		if (*p == '.')
			dot = p;
		if (*p != '{')
			continue;
		n = placeholder(p, &kind);
		if (n == 0 || kind == 'r') {
			ks_err_set(errbuf, errlen, "file.path = %s: unknown "
			    "placeholder at \"%.20s\"; only {topic} and "
			    "{partition} are replaced", path, p);
			return -1;
		}
		p += n - 1;
		lastph = p + 1;
	}
	if (slash == NULL)
		fs->ddir = strdup(".");
	else if (slash == path)
		fs->ddir = strdup("/");
	else
		fs->ddir = strndup(path, (size_t)(slash - path));
	fs->pattern = strdup(fname);
	if (fs->ddir == NULL || fs->pattern == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	/* The extension is the last ".xxx" after every placeholder. */
	if (dot != NULL && dot > fname && dot >= lastph)
		fs->stem_len = (size_t)(dot - fname);
	else
		fs->stem_len = strlen(fname);
	fs->closed_pattern = xasprintf("%.*s.{topic}+{range}+{partition}%s",
	    (int)fs->stem_len, fs->pattern, fs->pattern + fs->stem_len);
	if (fs->closed_pattern == NULL) {
		ks_err_set(errbuf, errlen, "out of memory");
		return -1;
	}
	return 0;
}
