/* The report's JSON writer. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "test.h"
#include "util/json.h"

static void document(void)
{
	struct json_writer w;
	json_init(&w);
	json_begin_object(&w, NULL);
	json_bool(&w, "ok", true);
	json_string(&w, "error", NULL);
	json_string(&w, "s", "a\"b\\c\n\x01");
	json_uint(&w, "u", 18446744073709551615ull);
	json_int(&w, "i", -3);
	json_double(&w, "d", 1.23456, 2);
	json_double(&w, "nan", NAN, 2);
	json_begin_array(&w, "list");
	json_uint(&w, NULL, 1);
	json_begin_object(&w, NULL);
	json_end_object(&w);
	json_end_array(&w);
	json_begin_array(&w, "empty");
	json_end_array(&w);
	json_end_object(&w);
	const char *text;
	CHECK_INT(json_finish(&w, &text, NULL), ==, 0);
	CHECK_STR(text, "{\n"
			"  \"ok\": true,\n"
			"  \"error\": null,\n"
			"  \"s\": \"a\\\"b\\\\c\\n\\u0001\",\n"
			"  \"u\": 18446744073709551615,\n"
			"  \"i\": -3,\n"
			"  \"d\": 1.23,\n"
			"  \"nan\": null,\n"
			"  \"list\": [\n"
			"    1,\n"
			"    {}\n"
			"  ],\n"
			"  \"empty\": []\n"
			"}\n");
	json_free(&w);
}

static void misuse_is_an_error(void)
{
	struct json_writer w;
	const char *text;
	json_init(&w);
	json_begin_object(&w, NULL);
	CHECK_INT(json_finish(&w, &text, NULL), ==, -EINVAL); /* unclosed */
	json_free(&w);
	json_init(&w);
	json_end_array(&w);
	CHECK_INT(json_finish(&w, &text, NULL), ==, -EINVAL); /* nothing open */
	json_free(&w);
	json_init(&w);
	for (int i = 0; i < JSON_MAX_DEPTH + 1; i++)
		json_begin_array(&w, NULL);
	CHECK_INT(json_finish(&w, &text, NULL), ==, -EINVAL); /* too deep */
	json_free(&w);
}

TEST_MAIN("json",
	  TEST_CASE(document),
	  TEST_CASE(misuse_is_an_error))
