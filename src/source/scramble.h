/* source/scramble: MySQL 4.1 "scramble411" as Canal checks it:
 * hex(SHA1(pw) XOR SHA1(seed || SHA1(SHA1(pw)))), lowercase. */
#ifndef CE_SOURCE_SCRAMBLE_H
#define CE_SOURCE_SCRAMBLE_H

#include <stddef.h>
#include <stdint.h>

#define SCRAMBLE_HEX_LEN 40

/* Writes the 40 hex digits and a NUL into out; an empty password gives "". */
void scramble411_hex(const char *password, const uint8_t *seed, size_t seed_len, char out[SCRAMBLE_HEX_LEN + 1]);

#endif
