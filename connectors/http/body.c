/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * connectors/http/body.c - what goes over the wire besides the headers:
 * request bodies (record envelopes, ksink-record(7)), the Idempotency-Key
 * (SHA-256 of what a request carries), and the offset protocol's answer.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "http.h"

/*
 * Reads the answer of the offset protocol, {"next_offset": N} with N a
 * non-negative integer or null, from text v.  Other members are allowed.
 */
int
parse_next_offset_text(const char *v, size_t n, int64_t *next)
{
	struct ks_json_scan s = { .p = (const unsigned char *)v,
	    .end = (const unsigned char *)v + n };
	const unsigned char *name, *num;
	size_t name_len;
	int found = 0;
	char tmp[24];
	size_t len;

	*next = KSINK_OFFSET_NONE;
	ks_json_scan_ws(&s);
	if (s.p >= s.end || *s.p != '{')
		return -1;
	s.p++;
	ks_json_scan_ws(&s);
	if (s.p < s.end && *s.p == '}')
		return -1;
	for (;;) {
		if (s.p >= s.end || *s.p != '"')
			return -1;
		name = s.p;
		if (ks_json_scan_string(&s) == -1)
			return -1;
		name_len = (size_t)(s.p - name);
		ks_json_scan_ws(&s);
		if (s.p >= s.end || *s.p != ':')
			return -1;
		s.p++;
		ks_json_scan_ws(&s);
		if (name_len == 13 && memcmp(name, "\"next_offset\"", 13) == 0) {
			if (found)
				return -1;
			found = 1;
			if (ks_json_scan_word(&s, "null") == 0)
				*next = KSINK_OFFSET_NONE;
			else {
				num = s.p;
				if (ks_json_scan_digits(&s) == -1)
					return -1;
				len = (size_t)(s.p - num);
				if (len >= 19 || (len > 1 && *num == '0'))
					return -1;
				memcpy(tmp, num, len);
				tmp[len] = '\0';
				*next = strtoll(tmp, NULL, 10);
				if (s.p < s.end && (*s.p == '.' || *s.p == 'e' ||
				    *s.p == 'E'))
					return -1;
			}
		} else if (ks_json_scan_value(&s) == -1)
			return -1;
		ks_json_scan_ws(&s);
		if (s.p >= s.end)
			return -1;
		if (*s.p == '}')
			break;
		if (*s.p != ',')
			return -1;
		s.p++;
		ks_json_scan_ws(&s);
	}
	s.p++;
	ks_json_scan_ws(&s);
	return found && s.p == s.end ? 0 : -1;
}

void
body_begin(struct sink *s, struct ks_buf *b)
{
	ks_buf_reset(b);
	if (s->format == FMT_JSON)
		ks_buf_addc(b, '[');
}

/* Appends record r, the nth (from 0) of the request. */
void
body_add(struct sink *s, struct ks_buf *b, const struct ksink_record *r,
    size_t nth)
{
	switch (s->format) {
	case FMT_JSON:
		if (nth > 0)
			ks_buf_addc(b, ',');
		ks_envelope_add(b, r);
		break;
	case FMT_NDJSON:
		ks_envelope_add(b, r);
		ks_buf_addc(b, '\n');
		break;
	case FMT_VALUE:
		if (r->value != NULL)
			ks_buf_add(b, r->value, r->value_len);
		break;
	}
}

void
body_end(struct sink *s, struct ks_buf *b)
{
	if (s->format == FMT_JSON)
		ks_buf_addc(b, ']');
}

/*
 * The digest of a body that the ledger keeps instead of the body, to
 * prove that a body rebuilt after a restart is the one sent before.  It
 * guards against a change of configuration or of ksink, not against an
 * adversary, and runs over every body sent: a 64-bit multiply-xorshift
 * hash of little-endian 8-byte words in four independent lanes (a word
 * costs about a cycle), the same on every host.
 */
static uint64_t
digest_mix(uint64_t h, uint64_t w)
{
	h ^= w;
	h *= 0x9e3779b97f4a7c15ULL;
	return h ^ (h >> 29);
}

static uint64_t
load64le(const unsigned char *p)
{
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
	    (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 |
	    (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 |
	    (uint64_t)p[7] << 56;
}

int64_t
body_digest(const void *v, size_t n)
{
	const unsigned char *p = v;
	uint64_t h[4] = { 0x6a09e667f3bcc909ULL, 0xbb67ae8584caa73bULL,
	    0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL }, w;
	size_t i, k;

	for (i = 0; i + 32 <= n; i += 32) {
		h[0] = digest_mix(h[0], load64le(p + i));
		h[1] = digest_mix(h[1], load64le(p + i + 8));
		h[2] = digest_mix(h[2], load64le(p + i + 16));
		h[3] = digest_mix(h[3], load64le(p + i + 24));
	}
	for (k = 0; i + 8 <= n; i += 8, k++)
		h[k] = digest_mix(h[k], load64le(p + i));
	for (w = 0, k = 0; i < n; i++, k += 8)
		w |= (uint64_t)p[i] << k;
	h[0] = digest_mix(h[0], w);
	h[0] = digest_mix(h[0], h[1]);
	h[0] = digest_mix(h[0], h[2]);
	h[0] = digest_mix(h[0], h[3]);
	h[0] = digest_mix(h[0], (uint64_t)n);
	return (int64_t)(h[0] * 0xbf58476d1ce4e5b9ULL);
}

/*
 * SHA-256 (FIPS 180-4), for the Idempotency-Key.
 */

static const uint32_t sha256_k[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
sha256_block(struct sha256 *c, const unsigned char *p)
{
	uint32_t w[64], a, b, d, e, f, g, h, cc, t1, t2;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (i = 16; i < 64; i++)
		w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
		    (w[i - 15] >> 3)) + w[i - 7] + (ROR(w[i - 2], 17) ^
		    ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
	e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
	for (i = 0; i < 64; i++) {
		t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
		    ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
		t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
		    ((a & b) ^ (a & cc) ^ (b & cc));
		h = g; g = f; f = e; e = d + t1;
		d = cc; cc = b; b = a; a = t1 + t2;
	}
	c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
	c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

void
sha256_init(struct sha256 *c)
{
	static const uint32_t iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memcpy(c->h, iv, sizeof(iv));
	c->n = 0;
	c->used = 0;
}

void
sha256_update(struct sha256 *c, const void *v, size_t n)
{
	const unsigned char *p = v;
	size_t k;

	c->n += n;
	while (n > 0) {
		k = 64 - c->used;
		if (k > n)
			k = n;
		memcpy(c->blk + c->used, p, k);
		c->used += k;
		p += k;
		n -= k;
		if (c->used == 64) {
			sha256_block(c, c->blk);
			c->used = 0;
		}
	}
}

void
sha256_final(struct sha256 *c, unsigned char out[32])
{
	uint64_t bits = c->n * 8;
	unsigned char pad = 0x80, len[8];
	int i;

	sha256_update(c, &pad, 1);
	pad = 0;
	while (c->used != 56)
		sha256_update(c, &pad, 1);
	for (i = 0; i < 8; i++)
		len[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha256_update(c, len, 8);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (unsigned char)(c->h[i] >> 24);
		out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
		out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
		out[4 * i + 3] = (unsigned char)c->h[i];
	}
}

/*
 * The Idempotency-Key of a request: the lowercase hexadecimal SHA-256 of
 * "ksink-http-v1", the connector's name, the topic, the partition, the
 * first and the last offset, each followed by a NUL byte, numbers in
 * decimal.  It depends only on which records the request carries, so a
 * request rebuilt from the same records after a crash has the same key.
 */
void
idempotency_key(const char *connector, const char *topic, int32_t partition,
    int64_t first, int64_t last, char out[65])
{
	static const char hex[] = "0123456789abcdef";
	struct sha256 c;
	unsigned char md[32];
	char num[32];
	int i;

	sha256_init(&c);
	sha256_update(&c, HTTP_KEY_VERSION, sizeof(HTTP_KEY_VERSION));
	sha256_update(&c, connector, strlen(connector) + 1);
	sha256_update(&c, topic, strlen(topic) + 1);
	snprintf(num, sizeof(num), "%" PRId32, partition);
	sha256_update(&c, num, strlen(num) + 1);
	snprintf(num, sizeof(num), "%" PRId64, first);
	sha256_update(&c, num, strlen(num) + 1);
	snprintf(num, sizeof(num), "%" PRId64, last);
	sha256_update(&c, num, strlen(num) + 1);
	sha256_final(&c, md);
	for (i = 0; i < 32; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0xf];
	}
	out[64] = '\0';
}
