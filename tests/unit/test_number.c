/* The strict whole-number parser every flag and config value goes through:
 * what it takes, and that it refuses exponents, trailing junk, blanks,
 * values out of range and overflow with a line naming flag and value. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "core/number.h"

static void takes_plain_decimal(void **state)
{
    (void)state;
    long v = 0;
    assert_int_equal(number_parse_long("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(number_parse_long("100000", 1, 1000000, &v), 0);
    assert_int_equal(v, 100000);
    assert_int_equal(number_parse_long("-5", -10, 10, &v), 0);
    assert_int_equal(v, -5);
    assert_int_equal(number_parse_long("+7", 0, 10, &v), 0);
    assert_int_equal(v, 7);
    assert_int_equal(number_parse_long("007", 0, 10, &v), 0);
    assert_int_equal(v, 7);
}

static void refuses_what_strtol_would_guess(void **state)
{
    (void)state;
    const char *bad[] = {"1e9", "12abc", "", " 5", "5 ", "0x10", "1.5", "--1", "+-1", "abc", "1,000", "٣"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        long v = 42;
        assert_int_equal(number_parse_long(bad[i], LONG_MIN, LONG_MAX, &v), -1);
        assert_int_equal(v, 42);   /* untouched on failure */
    }
    long v = 42;
    assert_int_equal(number_parse_long(NULL, 0, 10, &v), -1);
}

static void refuses_out_of_range_and_overflow(void **state)
{
    (void)state;
    long v = 42;
    assert_int_equal(number_parse_long("-1", 0, 10, &v), -1);
    assert_int_equal(number_parse_long("11", 0, 10, &v), -1);
    assert_int_equal(number_parse_long("0", 1, 10, &v), -1);
    assert_int_equal(number_parse_long("99999999999999999999999", LONG_MIN, LONG_MAX, &v), -1);
    assert_int_equal(number_parse_long("-99999999999999999999999", LONG_MIN, LONG_MAX, &v), -1);
    assert_int_equal(v, 42);
    char max[32];
    snprintf(max, sizeof max, "%ld", LONG_MAX);
    assert_int_equal(number_parse_long(max, LONG_MIN, LONG_MAX, &v), 0);
    assert_true(v == LONG_MAX);
}

static void error_line_names_flag_and_value(void **state)
{
    (void)state;
    long v = 0;
    char why[200] = "";
    assert_int_equal(number_parse_flag("--count", "1e9", 1, 1000000000, &v, why, sizeof why), -1);
    assert_string_equal(why, "--count wants a whole number from 1 to 1000000000, got '1e9'");
    assert_null(strchr(why, '\n'));
    why[0] = '\0';
    assert_int_equal(number_parse_flag("--count", "3", 1, 10, &v, why, sizeof why), 0);
    assert_int_equal(v, 3);
    assert_string_equal(why, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(takes_plain_decimal),
        cmocka_unit_test(refuses_what_strtol_would_guess),
        cmocka_unit_test(refuses_out_of_range_and_overflow),
        cmocka_unit_test(error_line_names_flag_and_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
