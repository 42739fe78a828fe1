/* Nix's base-32 (src/libutil/hash.cc): an alphabet without e, o, t, u, and
 * the bits taken from the *end* of the byte string first, so the text reads
 * backwards compared with RFC 4648 base32. */
#include "nix/hash.h"

#include <string.h>

static const char nix_base32_chars[32] = "0123456789abcdfghijklmnpqrsvwxyz";

/* Character -> digit + 1; 0 for characters outside the alphabet. */
static const unsigned char nix_base32_digit1[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7,
	['7'] = 8, ['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14,
	['f'] = 15, ['g'] = 16, ['h'] = 17, ['i'] = 18, ['j'] = 19, ['k'] = 20,
	['l'] = 21, ['m'] = 22, ['n'] = 23, ['p'] = 24, ['q'] = 25, ['r'] = 26,
	['s'] = 27, ['v'] = 28, ['w'] = 29, ['x'] = 30, ['y'] = 31, ['z'] = 32,
};

bool nix_base32_valid_char(char c)
{
	return nix_base32_digit1[(unsigned char)c] != 0;
}

size_t nix_base32_len(size_t nbytes)
{
	return nbytes == 0 ? 0 : (nbytes * 8 - 1) / 5 + 1;
}

void nix_base32_encode(const uint8_t *bytes, size_t n, char *out)
{
	size_t len = nix_base32_len(n);
	/* Output position k (counted from the end of the text) holds bits
	 * k*5 .. k*5+4 of the little-endian bit string. */
	for (size_t k = 0; k < len; k++) {
		size_t b = k * 5, i = b / 8;
		unsigned j = b % 8;
		unsigned v = bytes[i] >> j;
		if (i + 1 < n)
			v |= (unsigned)bytes[i + 1] << (8 - j);
		out[len - 1 - k] = nix_base32_chars[v & 31];
	}
	out[len] = '\0';
}

int nix_base32_decode(const char *text, size_t text_len, uint8_t *out, size_t n)
{
	if (text_len != nix_base32_len(n))
		return -EINVAL;
	memset(out, 0, n);
	for (size_t k = 0; k < text_len; k++) {
		int d = nix_base32_digit1[(unsigned char)text[text_len - 1 - k]] - 1;
		if (d < 0)
			return -EINVAL;
		size_t b = k * 5, i = b / 8;
		unsigned j = b % 8;
		out[i] |= (uint8_t)(d << j);
		unsigned carry = (unsigned)d >> (8 - j);
		if (i + 1 < n)
			out[i + 1] |= (uint8_t)carry;
		else if (carry)
			return -EINVAL; /* bits beyond the last byte: not a canonical encoding */
	}
	return 0;
}
