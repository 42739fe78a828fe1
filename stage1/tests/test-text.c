/* util/text: untrusted bytes quoted for a message, the size of out that
 * shows N characters whole (TEXT_QUOTE_RESERVE, which nix/hash.c relies on
 * to cut a hash at 80 characters), and splitting a text into lines. */
#include "test.h"

#include "util/text.h"

#include <stdio.h>
#include <stdlib.h>

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

/* Joins the lines text_next_line finds as "[line]" for comparison. */
static void split(const char *text, size_t len, char *out, size_t cap)
{
	size_t off = 0, n, o = 0;
	const char *line;
	out[0] = '\0';
	while (text_next_line(text, len, &off, &line, &n) && o + n + 3 < cap)
		o += (size_t)snprintf(out + o, cap - o, "[%.*s]", (int)n, line);
}

static void next_line(void)
{
	static const struct { const char *text, *want; } rows[] = {
		{ "", "" },
		{ "a", "[a]" },
		{ "a\n", "[a]" },
		{ "a\nb", "[a][b]" },
		{ "a\n\nb\n", "[a][][b]" },
		{ "\n", "[]" },
		{ "\n\n", "[][]" },
		{ "a\r\nb", "[a\r][b]" },   /* '\r' is the caller's to strip */
	};
	char got[64];
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		split(rows[i].text, strlen(rows[i].text), got, sizeof(got));
		CHECK_STR(got, rows[i].want);
	}
	/* A NUL is part of a line; the end is len, not a NUL. */
	size_t off = 0, n;
	const char *line;
	CHECK(text_next_line("a\0b\nc", 5, &off, &line, &n));
	CHECK_INT(n, ==, 3);
	CHECK_INT(off, ==, 4);
	CHECK(text_next_line("a\0b\nc", 5, &off, &line, &n));
	CHECK_INT(n, ==, 1);
	CHECK(line[0] == 'c');
	CHECK(!text_next_line("a\0b\nc", 5, &off, &line, &n));
}

/* Growing across several reallocations keeps every byte and the NUL. */
static void append_grows(void)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	CHECK_INT(text_append(&buf, &len, &cap, "", 0), ==, 0);
	CHECK(buf != NULL);
	CHECK_STR(buf, "");
	char piece[300];
	for (size_t i = 0; i < sizeof(piece); i++)
		piece[i] = (char)('a' + i % 26);
	for (int k = 0; k < 40; k++) {
		if (text_append(&buf, &len, &cap, piece, sizeof(piece)) < 0) {
			free(buf);
			CHECK(!"text_append failed");
		}
	}
	CHECK_INT(len, ==, 40 * sizeof(piece));
	CHECK_INT(cap, >, len);
	CHECK_INT(buf[len], ==, '\0');
	CHECK_INT(strlen(buf), ==, len);
	CHECK(memcmp(buf + 39 * sizeof(piece), piece, sizeof(piece)) == 0);
	free(buf);

	struct text_buf t = { 0 };
	CHECK_INT(text_buf_put(&t, "ab", 2), ==, 0);
	CHECK_INT(text_buf_put(&t, "cd", 2), ==, 0);
	CHECK_STR(t.buf, "abcd");
	CHECK_INT(t.len, ==, 4);
	free(t.buf);
}

TEST_MAIN("text",
	TEST_CASE(quote_escapes),
	TEST_CASE(reserve_shows_n_characters),
	TEST_CASE(next_line),
	TEST_CASE(append_grows))
