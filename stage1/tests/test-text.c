/* util/text: untrusted bytes quoted for a message, and the size of out that
 * shows N characters whole (TEXT_QUOTE_RESERVE, which nix/hash.c relies on
 * to cut a hash at 80 characters). */
#include "test.h"

#include "util/text.h"

static void quote_escapes(void)
{
	char out[64];
	CHECK_STR(text_quote("abc", 3, out, sizeof(out)), "abc");
	CHECK_STR(text_quote("a\"b\\c", 5, out, sizeof(out)), "a\\x22b\\x5cc");
	CHECK_STR(text_quote("\x00\x7f\xff", 3, out, sizeof(out)), "\\x00\\x7f\\xff");
	CHECK_STR(text_quote("", 0, out, sizeof(out)), "");
}

static void reserve_shows_n_characters(void)
{
	char text[100];
	memset(text, 'h', sizeof(text));
	char out[10 + TEXT_QUOTE_RESERVE];
	/* Exactly N characters: whole, no "...". */
	CHECK_STR(text_quote(text, 10, out, sizeof(out)), "hhhhhhhhhh");
	/* One more: N characters and "...". */
	CHECK_STR(text_quote(text, 11, out, sizeof(out)), "hhhhhhhhhh...");
	CHECK_STR(text_quote(text, sizeof(text), out, sizeof(out)), "hhhhhhhhhh...");
	/* Escapes take their room from the same budget; never past out. */
	char bytes[40];
	memset(bytes, 0x01, sizeof(bytes));
	text_quote(bytes, sizeof(bytes), out, sizeof(out));
	CHECK_INT(strlen(out), <, sizeof(out));
	CHECK(strstr(out, "...") != NULL);
}

TEST_MAIN("text",
	TEST_CASE(quote_escapes),
	TEST_CASE(reserve_shows_n_characters))
