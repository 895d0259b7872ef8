/*
 * config.c - the flat JSON config parser described in config.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest key the parser keeps; longer keys are reported as unknown. */
#define WCFG_KEY_MAX 64

struct wcfg_parser {
	const uint8_t *p;
	size_t len;
	size_t pos;
	char *err;
	size_t errlen;
};

static int fail(struct wcfg_parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct wcfg_parser *ps, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "parse config: offset %zu: %s", ps->pos, msg);
	return -1;
}

static void skip_space(struct wcfg_parser *ps)
{
	while (ps->pos < ps->len) {
		uint8_t c = ps->p[ps->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			return;
		ps->pos++;
	}
}

/* Describes the byte at the cursor for error messages. */
static const char *found(struct wcfg_parser *ps, char *buf, size_t n)
{
	if (ps->pos >= ps->len)
		return "end of input";
	uint8_t c = ps->p[ps->pos];
	if (c >= 0x20 && c < 0x7f)
		snprintf(buf, n, "'%c'", c);
	else
		snprintf(buf, n, "byte 0x%02x", c);
	return buf;
}

static int expect(struct wcfg_parser *ps, uint8_t want)
{
	char b[16];

	skip_space(ps);
	if (ps->pos >= ps->len || ps->p[ps->pos] != want)
		return fail(ps, "found %s, expected '%c'", found(ps, b, sizeof(b)), want);
	ps->pos++;
	return 0;
}

/* Reads a JSON string key into key (truncated to WCFG_KEY_MAX-1 bytes, with
 * *truncated set). Escapes other than \" and \\ are rejected: no accepted
 * key needs them. */
static int parse_key(struct wcfg_parser *ps, char *key, int *truncated)
{
	size_t n = 0;
	char b[16];

	*truncated = 0;
	skip_space(ps);
	if (ps->pos >= ps->len || ps->p[ps->pos] != '"')
		return fail(ps, "found %s, expected a key in double quotes", found(ps, b, sizeof(b)));
	ps->pos++;
	for (;;) {
		if (ps->pos >= ps->len)
			return fail(ps, "unterminated key");
		uint8_t c = ps->p[ps->pos];
		if (c == '"') {
			ps->pos++;
			break;
		}
		if (c < 0x20)
			return fail(ps, "control byte 0x%02x in key", c);
		if (c == '\\') {
			if (ps->pos + 1 >= ps->len)
				return fail(ps, "unterminated key");
			c = ps->p[ps->pos + 1];
			if (c != '"' && c != '\\')
				return fail(ps, "unsupported escape '\\%c' in key", c >= 0x20 && c < 0x7f ? c : '?');
			ps->pos++;
		}
		if (n < WCFG_KEY_MAX - 1)
			key[n++] = (char)c;
		else
			*truncated = 1;
		ps->pos++;
	}
	key[n] = '\0';
	return 0;
}

/* Reads a non-negative JSON integer no larger than max. */
static int parse_uint(struct wcfg_parser *ps, const char *key, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t start;
	char b[16];

	skip_space(ps);
	start = ps->pos;
	if (ps->pos < ps->len && ps->p[ps->pos] == '-')
		return fail(ps, "key \"%s\": negative number, expected 0..%llu", key, (unsigned long long)max);
	if (ps->pos >= ps->len || ps->p[ps->pos] < '0' || ps->p[ps->pos] > '9')
		return fail(ps, "key \"%s\": found %s, expected a non-negative integer", key, found(ps, b, sizeof(b)));
	while (ps->pos < ps->len && ps->p[ps->pos] >= '0' && ps->p[ps->pos] <= '9') {
		uint64_t d = (uint64_t)(ps->p[ps->pos] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return fail(ps, "key \"%s\": number too large, expected 0..%llu", key, (unsigned long long)max);
		v = v * 10 + d;
		ps->pos++;
	}
	if (ps->pos - start > 1 && ps->p[start] == '0') {
		ps->pos = start;
		return fail(ps, "key \"%s\": leading zero in number", key);
	}
	if (ps->pos < ps->len) {
		uint8_t c = ps->p[ps->pos];
		if (c == '.' || c == 'e' || c == 'E')
			return fail(ps, "key \"%s\": expected an integer, found a fraction or exponent", key);
	}
	if (v > max) {
		ps->pos = start;
		return fail(ps, "key \"%s\": %llu out of range 0..%llu", key, (unsigned long long)v,
			    (unsigned long long)max);
	}
	*out = v;
	return 0;
}

int wcfg_parse(const uint8_t *config, size_t len, struct wcfg_key *keys,
	       size_t n_keys, char *err, size_t errlen)
{
	struct wcfg_parser ps = {.p = config, .len = len, .pos = 0, .err = err, .errlen = errlen};
	char key[WCFG_KEY_MAX];
	char b[16];
	int truncated;

	if (errlen > 0)
		err[0] = '\0';
	if (config == NULL && len > 0)
		return fail(&ps, "config pointer is NULL but length is %zu", len);
	skip_space(&ps);
	if (ps.pos >= ps.len)
		return fail(&ps, "empty config, expected a JSON object such as {}");
	if (expect(&ps, '{') < 0)
		return -1;
	skip_space(&ps);
	if (ps.pos < ps.len && ps.p[ps.pos] == '}') {
		ps.pos++;
	} else {
		for (;;) {
			size_t key_pos;
			size_t i;
			struct wcfg_key *k = NULL;

			skip_space(&ps);
			key_pos = ps.pos;
			if (parse_key(&ps, key, &truncated) < 0)
				return -1;
			for (i = 0; i < n_keys && !truncated; i++) {
				if (strcmp(keys[i].name, key) == 0) {
					k = &keys[i];
					break;
				}
			}
			if (k == NULL) {
				ps.pos = key_pos;
				return fail(&ps, "unknown key \"%s%s\"", key, truncated ? "..." : "");
			}
			if (k->seen) {
				ps.pos = key_pos;
				return fail(&ps, "key \"%s\" given twice", key);
			}
			if (expect(&ps, ':') < 0)
				return -1;
			if (parse_uint(&ps, k->name, k->max, k->value) < 0)
				return -1;
			k->seen = 1;
			skip_space(&ps);
			if (ps.pos < ps.len && ps.p[ps.pos] == ',') {
				ps.pos++;
				continue;
			}
			if (ps.pos < ps.len && ps.p[ps.pos] == '}') {
				ps.pos++;
				break;
			}
			return fail(&ps, "found %s, expected ',' or '}'", found(&ps, b, sizeof(b)));
		}
	}
	skip_space(&ps);
	if (ps.pos < ps.len)
		return fail(&ps, "found %s after the object, expected end of input", found(&ps, b, sizeof(b)));
	return 0;
}
