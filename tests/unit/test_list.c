/* The list widget every table view uses (ui/list.h): a filter keeps the
 * matching rows and sends the selection to the top; sorting by a column
 * (by any of its names, as :sort takes them) puts numbers largest first
 * and i inverts; the selection follows its row's key across rebuilds and
 * re-sorts; the moves clamp; marks are kept by key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curses.h>
#include <string.h>
#include <strings.h>

#include "ui/list.h"

struct fruit {
    const char *name;
    int count;
};
static struct fruit fruits[] = {{"apple", 5}, {"banana", 12}, {"cherry", 1}, {"date", 7}};

static size_t count(void *ctx) { (void)ctx; return 4; }
static const char *key(void *ctx, size_t i) { (void)ctx; return fruits[i].name; }
static bool matches(void *ctx, size_t i, const char *f) { (void)ctx; return strcasestr(fruits[i].name, f) != NULL; }
static int compare(void *ctx, size_t a, size_t b, int c)
{
    (void)ctx;
    if (c == 0)
        return strcmp(fruits[a].name, fruits[b].name);
    return (fruits[a].count > fruits[b].count) - (fruits[a].count < fruits[b].count);
}
static const struct list_model model = {count, key, matches, compare};
static const struct list_column columns[] = {{"name fruit", false}, {"count depth", true}};

static const char *shown(const struct list *l, size_t i) { return fruits[list_row(l, i)].name; }

static void sorts_by_any_name_numbers_largest_first(void **state)
{
    (void)state;
    struct list l;
    char msg[256];
    list_init(&l, columns, 2, 0);
    list_build(&l, &model, NULL);
    assert_string_equal(shown(&l, 0), "apple");
    assert_true(list_sort_named(&l, "depth", msg, sizeof msg));
    assert_string_equal(msg, "sorted by count, descending");
    list_build(&l, &model, NULL);
    assert_string_equal(shown(&l, 0), "banana");
    assert_string_equal(shown(&l, 3), "cherry");
    assert_string_equal(list_arrow(&l, 1), "↓");
    list_invert(&l, msg, sizeof msg);
    list_build(&l, &model, NULL);
    assert_string_equal(shown(&l, 0), "cherry");
    assert_false(list_sort_named(&l, "colour", msg, sizeof msg));
    assert_string_equal(msg, "no column 'colour' here (name count)");
    list_free(&l);
}

static void selection_follows_its_row_and_a_filter_resets_it(void **state)
{
    (void)state;
    struct list l;
    char msg[256];
    list_init(&l, columns, 2, 0);
    list_build(&l, &model, NULL);
    assert_true(list_move_key(&l, KEY_DOWN));
    assert_true(list_move_key(&l, 'j'));          /* cherry */
    list_sort_step(&l, 1, msg, sizeof msg);       /* by count: banana date apple cherry */
    list_build(&l, &model, NULL);
    size_t row;
    assert_true(list_selected(&l, &row));
    assert_string_equal(fruits[row].name, "cherry");
    assert_int_equal(l.selected, 3);
    list_move_key(&l, KEY_END);
    list_move_key(&l, KEY_DOWN);                  /* clamped */
    assert_int_equal(l.selected, 3);
    list_set_filter(&l, "an");                    /* banana only */
    list_build(&l, &model, NULL);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.selected, 0);
    list_set_filter(&l, "");
    list_build(&l, &model, NULL);
    assert_int_equal(l.n, 4);
    assert_int_equal(l.selected, 0);              /* back at the top, not on the old row */
    list_free(&l);
}

static void marks_are_kept_by_key(void **state)
{
    (void)state;
    struct list l;
    list_init(&l, columns, 2, -1);
    list_toggle_mark(&l, "apple");
    list_toggle_mark(&l, "date");
    list_toggle_mark(&l, "apple");
    assert_int_equal(l.nmarks, 1);
    assert_true(list_marked(&l, "date"));
    assert_false(list_marked(&l, "apple"));
    list_clear_marks(&l);
    assert_int_equal(l.nmarks, 0);
    list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sorts_by_any_name_numbers_largest_first),
        cmocka_unit_test(selection_follows_its_row_and_a_filter_resets_it),
        cmocka_unit_test(marks_are_kept_by_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
