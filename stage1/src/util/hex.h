/* Hexadecimal digits, both ways, for every parser and formatter that needs
 * them (hashes, percent-encoding, JSON \u escapes). */
#ifndef IP_UTIL_HEX_H
#define IP_UTIL_HEX_H

#include <stddef.h>
#include <stdint.h>

/* The value of one hex digit (0-9, a-f, A-F), or -1 for anything else. */
int hex_digit_value(char c);

/* bytes[0..n) as 2n lowercase hex digits and a NUL into out[2n + 1]. */
void hex_encode_lower(const uint8_t *bytes, size_t n, char *out);

#endif
