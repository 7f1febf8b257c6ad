/* Time-series charts (ui/chart.h): braille dots fill from the bottom, two
 * samples a cell, four levels a row; the ASCII fallback uses '#' and '.';
 * a young series sits on the right of a fixed window; samples that share a
 * point are averaged or, for tails, keep their worst; unknown samples are
 * gaps; a tiny non-zero value still shows; and the axis labels. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "ui/chart.h"

#define ROWS 4
#define WIDTH 16

struct canvas {
    char buf[ROWS][CHART_ROW_BYTES(WIDTH)];
    char *rows[ROWS];
};

static char **canvas(struct canvas *c)
{
    for (int i = 0; i < ROWS; i++)
        c->rows[i] = c->buf[i];
    return c->rows;
}

static void braille_cell_holds_two_samples_of_four_levels(void **state)
{
    (void)state;
    struct canvas c;
    double full[] = {1, 1};
    assert_true(chart_render(full, 2, 2, 1, 1, true, CHART_MEAN, canvas(&c)) == 1);
    assert_string_equal(c.rows[0], "⣿");                  /* all eight dots */
    double half[] = {0.5, 1};                              /* left: 2 dots, right: 4 */
    chart_render(half, 2, 2, 1, 1, true, CHART_MEAN, canvas(&c));
    assert_string_equal(c.rows[0], "⣼");                  /* U+28FC: dots 3,7 + 4,5,6,8 */
}

static void rows_fill_from_the_bottom(void **state)
{
    (void)state;
    struct canvas c;
    double v[] = {1, 2, 3, 4};                             /* 2 rows of 4 levels: 2, 4, 6, 8 dots high */
    assert_true(chart_render(v, 4, 4, 2, 2, true, CHART_MEAN, canvas(&c)) == 4);
    assert_string_equal(c.rows[0], " ⣼");                 /* the top row holds what is above 4 */
    assert_string_equal(c.rows[1], "⣼⣿");
}

static void ascii_fallback_uses_hash_and_dot(void **state)
{
    (void)state;
    struct canvas c;
    double v[] = {1, 0.5, 0, NAN};
    chart_render(v, 4, 4, 4, 1, false, CHART_MEAN, canvas(&c));
    assert_string_equal(c.rows[0], "#.  ");
}

static void young_series_sits_on_the_right_of_the_window(void **state)
{
    (void)state;
    struct canvas c;
    double v[] = {3};
    chart_render(v, 1, 600, 4, 1, false, CHART_MEAN, canvas(&c));
    assert_string_equal(c.rows[0], "   #");
    chart_render(v, 1, 4, 4, 1, false, CHART_MEAN, canvas(&c));
    assert_string_equal(c.rows[0], "   #");
}

static void shared_points_average_or_keep_the_worst(void **state)
{
    (void)state;
    struct canvas c;
    double v[] = {0, 4, 4, 4, 0, 0, 2, 2};                 /* 8 samples, 4 points of 2 */
    assert_true(chart_render(v, 8, 8, 4, 2, false, CHART_MEAN, canvas(&c)) == 4);
    assert_string_equal(c.rows[0], " #  ");
    assert_string_equal(c.rows[1], "## #");
    assert_true(chart_render(v, 8, 8, 4, 2, false, CHART_MAX, canvas(&c)) == 4);
    assert_string_equal(c.rows[0], "##  ");
    assert_string_equal(c.rows[1], "## #");
}

static void unknown_is_a_gap_and_tiny_still_shows(void **state)
{
    (void)state;
    struct canvas c;
    double v[] = {1000, NAN, 0.001, 0};
    chart_render(v, 4, 4, 4, 2, false, CHART_MEAN, canvas(&c));
    assert_string_equal(c.rows[0], "#   ");
    assert_string_equal(c.rows[1], "# . ");
    double none[] = {NAN, NAN};
    assert_true(chart_render(none, 2, 2, 2, 1, true, CHART_MEAN, canvas(&c)) == 0);
    assert_string_equal(c.rows[0], "  ");
    assert_true(chart_render(none, 0, 600, 2, 1, true, CHART_MEAN, canvas(&c)) == 0);
}

static void axis_labels(void **state)
{
    (void)state;
    char b[32];
    chart_format_number(0, b, sizeof b), assert_string_equal(b, "0");
    chart_format_number(0.25, b, sizeof b), assert_string_equal(b, "0.25");
    chart_format_number(3.5, b, sizeof b), assert_string_equal(b, "3.5");
    chart_format_number(12.4, b, sizeof b), assert_string_equal(b, "12");
    chart_format_number(1234, b, sizeof b), assert_string_equal(b, "1.2k");
    chart_format_number(3.4e6, b, sizeof b), assert_string_equal(b, "3.4M");
    chart_format_span(45, b, sizeof b), assert_string_equal(b, "45s");
    chart_format_span(600, b, sizeof b), assert_string_equal(b, "10m");
    chart_format_span(90, b, sizeof b), assert_string_equal(b, "1m30s");
    chart_format_span(5400, b, sizeof b), assert_string_equal(b, "1h30m");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(braille_cell_holds_two_samples_of_four_levels),
        cmocka_unit_test(rows_fill_from_the_bottom),
        cmocka_unit_test(ascii_fallback_uses_hash_and_dot),
        cmocka_unit_test(young_series_sits_on_the_right_of_the_window),
        cmocka_unit_test(shared_points_average_or_keep_the_worst),
        cmocka_unit_test(unknown_is_a_gap_and_tiny_still_shows),
        cmocka_unit_test(axis_labels),
    };
    return cmocka_run_group_tests_name("chart", tests, NULL, NULL);
}
