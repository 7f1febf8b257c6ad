/* Sparklines: known series give known block strings, scaled from 0 (or a
 * negative minimum) to the window's maximum; short series are right-aligned;
 * unknown samples are blanks; the ASCII fallback for non-UTF-8 locales; and
 * a small output buffer never receives half a UTF-8 character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "ui/sparkline.h"

static void rising_series_uses_every_block(void **state)
{
    (void)state;
    char out[256];
    double rising[] = {0, 1, 2, 3, 4, 5, 6, 7};
    sparkline_render(rising, 8, 8, true, out, sizeof out);
    assert_string_equal(out, "▁▂▃▄▅▆▇█");
    double falling[] = {70, 60, 50, 40, 30, 20, 10, 0};
    sparkline_render(falling, 8, 8, true, out, sizeof out);
    assert_string_equal(out, "█▇▆▅▄▃▂▁");
}

/* Only the newest `width` samples are drawn, scaled to their own maximum
 * but from 0: a queue sitting between 4 and 7 is not drawn as a swing. */
static void narrow_width_shows_the_newest_samples(void **state)
{
    (void)state;
    char out[256];
    double rising[] = {0, 1, 2, 3, 4, 5, 6, 7};
    sparkline_render(rising, 8, 4, true, out, sizeof out);
    assert_string_equal(out, "▅▆▇█");
    double spike[] = {100, 0, 1, 2};
    sparkline_render(spike, 4, 3, true, out, sizeof out);      /* the 100 scrolled out */
    assert_string_equal(out, "▁▅█");
}

static void short_series_is_right_aligned_and_nan_is_blank(void **state)
{
    (void)state;
    char out[256];
    double two[] = {1, 2};
    sparkline_render(two, 2, 5, true, out, sizeof out);
    assert_string_equal(out, "   ▅█");
    double gap[] = {8, NAN, 4, 8};
    sparkline_render(gap, 4, 4, true, out, sizeof out);
    assert_string_equal(out, "█ ▅█");
    double unknown[] = {NAN, NAN};
    sparkline_render(unknown, 2, 2, true, out, sizeof out);
    assert_string_equal(out, "  ");
    sparkline_render(NULL, 0, 3, true, out, sizeof out);
    assert_string_equal(out, "   ");
}

static void flat_series(void **state)
{
    (void)state;
    char out[256];
    double zeros[] = {0, 0, 0};
    sparkline_render(zeros, 3, 3, true, out, sizeof out);
    assert_string_equal(out, "▁▁▁");                /* empty queue: the lowest bar */
    double busy[] = {42, 42, 42};
    sparkline_render(busy, 3, 3, true, out, sizeof out);
    assert_string_equal(out, "███");                /* steady non-zero depth: full */
}

static void negative_values_scale_from_the_minimum(void **state)
{
    (void)state;
    char out[256];
    double growth[] = {-7, 0, 7};
    sparkline_render(growth, 3, 3, true, out, sizeof out);
    assert_string_equal(out, "▁▅█");
}

static void ascii_fallback(void **state)
{
    (void)state;
    char out[256];
    double steps[] = {0, 1, 2, 3, 4};
    sparkline_render(steps, 5, 5, false, out, sizeof out);
    assert_string_equal(out, "_.-=#");
    double short_series[] = {5, NAN, 10};
    sparkline_render(short_series, 3, 5, false, out, sizeof out);
    assert_string_equal(out, "  - #");
}

static void output_is_bounded_and_whole_characters(void **state)
{
    (void)state;
    char out[8];
    double rising[] = {0, 1, 2, 3, 4, 5, 6, 7};
    /* 3 bytes per block: 2 blocks and the NUL fit in 8 bytes, not a third */
    sparkline_render(rising, 8, 8, true, out, sizeof out);
    assert_string_equal(out, "▁▂");
    sparkline_render(rising, 8, 0, true, out, sizeof out);
    assert_string_equal(out, "");
    sparkline_render(rising, 8, -3, true, out, sizeof out);
    assert_string_equal(out, "");
    char one[1];
    sparkline_render(rising, 8, 8, false, one, sizeof one);
    assert_string_equal(one, "");
}

/* A window longer than the width: each cell the largest of its values. */
static void long_window_fits_keeping_the_largest(void **state)
{
    (void)state;
    char out[256];
    double window[] = {0, 1, NAN, NAN, 2, 7, 3, 3};
    sparkline_render_fit(window, 8, 4, false, out, sizeof out);   /* cells 1, unknown, 7, 3 of 7 */
    assert_string_equal(out, ". #-");
    sparkline_render_fit(window, 8, 8, true, out, sizeof out);    /* fits: as sparkline_render */
    assert_string_equal(out, "▁▂  ▃█▄▄");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(long_window_fits_keeping_the_largest),
        cmocka_unit_test(rising_series_uses_every_block),
        cmocka_unit_test(narrow_width_shows_the_newest_samples),
        cmocka_unit_test(short_series_is_right_aligned_and_nan_is_blank),
        cmocka_unit_test(flat_series),
        cmocka_unit_test(negative_values_scale_from_the_minimum),
        cmocka_unit_test(ascii_fallback),
        cmocka_unit_test(output_is_bounded_and_whole_characters),
    };
    return cmocka_run_group_tests_name("sparklines", tests, NULL, NULL);
}
