/* util/hex: one hex digit's value, and bytes as lowercase hex. */
#include "test.h"

#include "util/hex.h"

static void digit_values(void)
{
	static const struct { char c; int want; } rows[] = {
		{ '0', 0 }, { '9', 9 }, { 'a', 10 }, { 'f', 15 }, { 'A', 10 }, { 'F', 15 },
		{ 'g', -1 }, { 'G', -1 }, { '/', -1 }, { ':', -1 }, { '@', -1 }, { '`', -1 },
		{ ' ', -1 }, { '\0', -1 }, { (char)0xff, -1 },
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK_INT(hex_digit_value(rows[i].c), ==, rows[i].want);
	/* Exactly 22 characters are hex digits. */
	int n = 0;
	for (int c = 0; c < 256; c++)
		n += hex_digit_value((char)c) >= 0;
	CHECK_INT(n, ==, 22);
}

static void encode_lower(void)
{
	static const uint8_t bytes[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(bytes) + 1];
	memset(out, 'x', sizeof(out));
	hex_encode_lower(bytes, sizeof(bytes), out);
	CHECK_STR(out, "00017f80abff");
	hex_encode_lower(bytes, 0, out);
	CHECK_STR(out, "");
	/* Round trip through the digit values. */
	hex_encode_lower(bytes, sizeof(bytes), out);
	for (size_t i = 0; i < sizeof(bytes); i++)
		CHECK_INT(hex_digit_value(out[2 * i]) * 16 + hex_digit_value(out[2 * i + 1]), ==, bytes[i]);
}

TEST_MAIN("hex",
	TEST_CASE(digit_values),
	TEST_CASE(encode_lower))
