/* Wrapping long values in the console's detail panes (ui/crt.h): a line
 * breaks after the last space that fits, inside a word only when the word
 * is longer than the line, never inside a UTF-8 character, and counts wide
 * characters as two columns; an indent is kept, not taken for a break. In
 * a locale that is not UTF-8, every character is one column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <locale.h>
#include <string.h>

#include "ui/crt.h"

/* All the lines of s at width, joined with '|'. */
static void wrap_all(const char *s, int width, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    do {
        const char *next;
        size_t n = crt_wrap_line(s, width, &next);
        used += (size_t)snprintf(out + used, len - used, "%s%.*s", used ? "|" : "", (int)n, s);
        s = next;
    } while (*s && used < len);
}

static void breaks_at_spaces_else_inside_long_words(void **state)
{
    (void)state;
    char out[512];
    wrap_all("3 ready  0 unacked  3 total", 22, out, sizeof out);
    assert_string_equal(out, "3 ready  0 unacked  3|total");
    wrap_all("amqp:delta.dead-letters-for-the-night-shift-xyz", 22, out, sizeof out);
    assert_string_equal(out, "amqp:delta.dead-letter|s-for-the-night-shift-|xyz");
    wrap_all("short", 22, out, sizeof out);
    assert_string_equal(out, "short");
    wrap_all("", 22, out, sizeof out);
    assert_string_equal(out, "");
    wrap_all("    \"error\": \"a very long message\"", 20, out, sizeof out);
    assert_string_equal(out, "    \"error\": \"a very|long message\"");
}

static void counts_columns_not_bytes(void **state)
{
    (void)state;
    char out[512];
    wrap_all("ééééé ééééé", 5, out, sizeof out);          /* 2 bytes, 1 column each */
    assert_string_equal(out, "ééééé|ééééé");
    wrap_all("日本語テキスト", 6, out, sizeof out);        /* 2 columns each */
    assert_string_equal(out, "日本語|テキス|ト");
    wrap_all("日本", 1, out, sizeof out);                  /* wider than the line: one each */
    assert_string_equal(out, "日|本");
}

/* A terminal that is not UTF-8: each UTF-8 character is one ASCII column,
 * as wide as it is in UTF-8, so the layout holds ('??' took two before). */
static void non_utf8_locale_keeps_one_column_per_character(void **state)
{
    (void)state;
    setlocale(LC_ALL, "C");
    assert_int_equal(crt_width("a · b"), 5);
    assert_int_equal(crt_width("12 ms — 3↑…"), 11);
    char out[512];
    wrap_all("ab · cd", 4, out, sizeof out);
    assert_string_equal(out, "ab ·|cd");
    setlocale(LC_ALL, "C.UTF-8");
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(breaks_at_spaces_else_inside_long_words),
        cmocka_unit_test(counts_columns_not_bytes),
        cmocka_unit_test(non_utf8_locale_keeps_one_column_per_character),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
