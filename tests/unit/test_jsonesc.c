/* test_jsonesc.c - escaping output as the body of a JSON string */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonesc.h"

/* What s escapes to, quoted, decoded again by jansson: s itself. */
static void
assert_round_trip(const char *s, size_t len)
{
	struct buf b = BUF_INIT;
	json_error_t err;
	json_t *v;

	buf_puts(&b, "\"");
	json_escape(&b, s, len);
	buf_puts(&b, "\"");
	v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	ck_assert_msg(v != NULL, "not JSON (%s): %s", err.text, b.data);
	ck_assert_uint_eq(json_string_length(v), len);
	ck_assert(!memcmp(json_string_value(v), s, len));
	json_decref(v);
	buf_free(&b);
}

START_TEST(test_escapes)
{
	struct buf b = BUF_INIT;

	json_escape(&b, "a\"b\\c\nd\re\tf\x01g\x1f", 14);
	ck_assert_str_eq(b.data, "a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001f");
	buf_clear(&b);
	json_escape(&b, "", 0);
	ck_assert_uint_eq(b.len, 0);
	/* UTF-8 and DEL as they are */
	json_escape(&b, "caf\xc3\xa9 \xe2\x82\xac\x7f", 10);
	ck_assert_str_eq(b.data, "caf\xc3\xa9 \xe2\x82\xac\x7f");
	buf_free(&b);
}
END_TEST

/* Every byte that needs escaping, at every offset of a word and around it,
 * in text long enough for the word-at-a-time scan. */
START_TEST(test_every_position)
{
	static const char special[] = {'"', '\\', '\n', '\0', 0x1f, 0x01, '\t'};
	char s[64];
	size_t k, pos, len;

	for (k = 0; k < sizeof(special); k++)
		for (len = 1; len <= sizeof(s); len += 7)
			for (pos = 0; pos < len; pos++) {
				memset(s, 'x', sizeof(s));
				/* the bytes just above and below the limits */
				s[(pos + 3) % len] = ' ';
				s[(pos + 5) % len] = '#';
				s[(pos + 6) % len] = '[';
				s[(pos + 7) % len] = ']';
				s[pos] = special[k];
				assert_round_trip(s, len);
			}
}
END_TEST

/* Random bytes below 0x80 (valid UTF-8 whatever they are), and plain
 * high bytes of UTF-8 sequences around them. */
START_TEST(test_random)
{
	char s[300];
	int round;
	size_t i;

	srand(7);
	for (round = 0; round < 2000; round++) {
		size_t len = (size_t)(rand() % (int)sizeof(s));

		for (i = 0; i < len; i++)
			s[i] = (char)(rand() % 0x80);
		if (len >= 2 && round % 2) {
			s[len / 2 - 1] = (char)0xc3;
			s[len / 2] = (char)0xa9;
		}
		assert_round_trip(s, len);
	}
}
END_TEST

static Suite *
jsonesc_suite(void)
{
	Suite *s = suite_create("jsonesc");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_every_position);
	tcase_add_test(tc, test_random);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(jsonesc_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
