/*
 * config.h - a tiny parser for the flat JSON configs of weir's C plugins.
 *
 * SPDX-License-Identifier: Apache-2.0
 *
 * A config is one JSON object whose values are all non-negative integers,
 * for example {"size":64,"rate":0,"count":1000000}. The caller lists the
 * keys it accepts; anything else (an unknown or repeated key, a negative,
 * fractional or too large number, a string value, trailing bytes) is
 * rejected with a message that names the byte offset and what was wrong.
 */
#ifndef WEIR_PLUGIN_CONFIG_H
#define WEIR_PLUGIN_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* One accepted key. The parser stores the value in *value and sets *seen
 * when the key appears; keys that do not appear keep their defaults. */
struct wcfg_key {
	const char *name;
	uint64_t max;     /* largest accepted value */
	uint64_t *value;  /* where the value goes */
	int seen;         /* set to 1 by the parser when the key was given */
};

/* Parses config (len bytes, not NUL-terminated) against keys[0..n_keys).
 * Returns 0 on success. On failure returns -1 and writes a NUL-terminated
 * message of at most errlen bytes to err. */
int wcfg_parse(const uint8_t *config, size_t len, struct wcfg_key *keys,
	       size_t n_keys, char *err, size_t errlen);

#endif /* WEIR_PLUGIN_CONFIG_H */
