/* Cron expressions: parsing (lists, ranges, steps, names, macros, errors)
 * and next-run computation across hour, day, month and year ends, month
 * lengths, leap years and Vixie's day-of-month OR day-of-week rule. All in
 * UTC so the figures are the same on every machine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/cron.h"

static time_t utc(int y, int mon, int d, int h, int min)
{
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mon - 1, .tm_mday = d, .tm_hour = h, .tm_min = min};
    return timegm(&tm);
}

static void fmt(time_t t, char *buf, size_t len)
{
    if (t == (time_t)-1) {
        snprintf(buf, len, "never");
        return;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M %a", &tm);
}

/* The next run after `from` (as "YYYY-MM-DD HH:MM Day"). */
static void expect_next(const char *expr, time_t from, const char *want)
{
    struct cron_expr e;
    char err[256], got[64];
    if (cron_parse(expr, &e, err, sizeof err) < 0)
        fail_msg("%s: %s", expr, err);
    fmt(cron_next(&e, from), got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s after %ld: want %s, got %s", expr, (long)from, want, got);
}

static void expect_error(const char *expr, const char *fragment)
{
    struct cron_expr e;
    char err[256] = "";
    assert_int_equal(cron_parse(expr, &e, err, sizeof err), -1);
    if (!strstr(err, fragment))
        fail_msg("%s: want an error containing '%s', got '%s'", expr, fragment, err);
}

static void every_minute_is_strictly_after(void **state)
{
    (void)state;
    expect_next("* * * * *", utc(2026, 11, 25, 6, 30), "2026-11-25 06:31 Wed");
    /* seconds into a minute: the next whole minute, never the same one */
    expect_next("* * * * *", utc(2026, 11, 25, 6, 30) + 59, "2026-11-25 06:31 Wed");
    expect_next("* * * * *", utc(2026, 12, 31, 23, 59), "2027-01-01 00:00 Fri");
}

static void lists_ranges_steps(void **state)
{
    (void)state;
    time_t t = utc(2026, 11, 25, 6, 30);
    expect_next("*/15 * * * *", t, "2026-11-25 06:45 Wed");
    expect_next("*/15 * * * *", utc(2026, 11, 25, 6, 45), "2026-11-25 07:00 Wed");
    expect_next("0,20,40 * * * *", t, "2026-11-25 06:40 Wed");
    expect_next("10-40/10 * * * *", utc(2026, 11, 25, 6, 40), "2026-11-25 07:10 Wed");
    expect_next("7/20 * * * *", t, "2026-11-25 06:47 Wed");   /* 7, 27, 47 */
    expect_next("7/20 * * * *", utc(2026, 11, 25, 6, 47), "2026-11-25 07:07 Wed");
    expect_next("0 9-17/4 * * *", t, "2026-11-25 09:00 Wed");
    expect_next("0 9-17/4 * * *", utc(2026, 11, 25, 13, 0), "2026-11-25 17:00 Wed");
    expect_next("0 9-17/4 * * *", utc(2026, 11, 25, 17, 0), "2026-11-26 09:00 Thu");
    expect_next("30 6 * * *", t, "2026-11-26 06:30 Thu");
    expect_next("1-3,58 * * * *", utc(2026, 11, 25, 6, 58), "2026-11-25 07:01 Wed");
}

static void names_and_sunday_as_seven(void **state)
{
    (void)state;
    time_t wed = utc(2026, 11, 25, 12, 0);
    expect_next("0 8 * * MON-FRI", wed, "2026-11-26 08:00 Thu");
    expect_next("0 8 * * mon-fri", utc(2026, 11, 27, 9, 0), "2026-11-30 08:00 Mon");
    expect_next("0 0 * * SUN", wed, "2026-11-29 00:00 Sun");
    expect_next("0 0 * * 7", wed, "2026-11-29 00:00 Sun");
    expect_next("0 0 * * 0", wed, "2026-11-29 00:00 Sun");
    expect_next("0 0 * * 5-7", wed, "2026-11-27 00:00 Fri");
    expect_next("0 0 1 JAN,jul *", wed, "2027-01-01 00:00 Fri");
    expect_next("0 0 1 jun-aug *", wed, "2027-06-01 00:00 Tue");
}

static void month_ends_and_leap_years(void **state)
{
    (void)state;
    /* the 31st skips months that have none */
    expect_next("0 0 31 * *", utc(2026, 1, 31, 0, 0), "2026-03-31 00:00 Tue");
    expect_next("0 0 31 * *", utc(2026, 5, 31, 12, 0), "2026-07-31 00:00 Fri");
    expect_next("0 12 30 * *", utc(2026, 1, 30, 13, 0), "2026-03-30 12:00 Mon");
    /* 29 February only in leap years: 2028, then 2032 */
    expect_next("0 0 29 2 *", utc(2026, 11, 25, 0, 0), "2028-02-29 00:00 Tue");
    expect_next("0 0 29 2 *", utc(2028, 2, 29, 0, 0), "2032-02-29 00:00 Sun");
    /* the last day of February in a leap year vs a common one */
    expect_next("59 23 28,29 2 *", utc(2027, 2, 28, 23, 59), "2028-02-28 23:59 Mon");
    expect_next("59 23 28,29 2 *", utc(2028, 2, 28, 23, 59), "2028-02-29 23:59 Tue");
    /* 2100 is not a leap year (divisible by 100, not by 400); 2000 was */
    expect_next("0 0 29 2 *", utc(2096, 3, 1, 0, 0), "2104-02-29 00:00 Fri");
    /* a date that never exists: none within the search horizon */
    expect_next("0 0 30 2 *", utc(2026, 1, 1, 0, 0), "never");
    expect_next("0 0 31 4 *", utc(2026, 1, 1, 0, 0), "never");
}

static void vixie_day_rule(void **state)
{
    (void)state;
    time_t wed = utc(2026, 11, 25, 12, 0);
    /* both restricted: the 1st OR any Monday, whichever comes first */
    expect_next("0 0 1 * MON", wed, "2026-11-30 00:00 Mon");
    expect_next("0 0 1 * MON", utc(2026, 11, 30, 0, 0), "2026-12-01 00:00 Tue");
    expect_next("0 0 13 * FRI", utc(2026, 11, 1, 0, 0), "2026-11-06 00:00 Fri");
    /* day of week starts with a star: both must match (the 13th, on any weekday) */
    expect_next("0 0 13 * */1", utc(2026, 11, 1, 0, 0), "2026-11-13 00:00 Fri");
    /* day of month is '*': only the weekday counts */
    expect_next("0 0 * * FRI", utc(2026, 11, 1, 0, 0), "2026-11-06 00:00 Fri");
    /* Friday the 13th needs both: cron cannot say it, the rule gives OR */
    struct cron_expr e;
    char err[128];
    assert_int_equal(cron_parse("0 0 13 * 5", &e, err, sizeof err), 0);
    assert_true(cron_matches(&e, utc(2026, 11, 13, 0, 0)));   /* Fri 13th */
    assert_true(cron_matches(&e, utc(2026, 11, 6, 0, 0)));    /* a Friday */
    assert_true(cron_matches(&e, utc(2026, 10, 13, 0, 0)));   /* a Tuesday the 13th */
    assert_false(cron_matches(&e, utc(2026, 10, 14, 0, 0)));
}

static void macros_expand(void **state)
{
    (void)state;
    time_t t = utc(2026, 11, 25, 6, 30);
    expect_next("@hourly", t, "2026-11-25 07:00 Wed");
    expect_next("@daily", t, "2026-11-26 00:00 Thu");
    expect_next("@midnight", t, "2026-11-26 00:00 Thu");
    expect_next("@weekly", t, "2026-11-29 00:00 Sun");
    expect_next("@monthly", t, "2026-12-01 00:00 Tue");
    expect_next("@yearly", t, "2027-01-01 00:00 Fri");
    expect_next("  @Annually ", t, "2027-01-01 00:00 Fri");
}

static void matches_minute(void **state)
{
    (void)state;
    struct cron_expr e;
    char err[128];
    assert_int_equal(cron_parse("*/5 9-17 * * MON-FRI", &e, err, sizeof err), 0);
    assert_true(cron_matches(&e, utc(2026, 11, 25, 9, 5) + 42));
    assert_false(cron_matches(&e, utc(2026, 11, 25, 9, 6)));
    assert_false(cron_matches(&e, utc(2026, 11, 25, 18, 0)));
    assert_false(cron_matches(&e, utc(2026, 11, 28, 10, 0)));   /* Saturday */
}

static void errors_name_the_field(void **state)
{
    (void)state;
    expect_error("* * * *", "got 4");
    expect_error("* * * * * *", "got more");
    expect_error("", "got 0");
    expect_error("60 * * * *", "minute: 60 is out of range 0-59");
    expect_error("* 24 * * *", "hour: 24 is out of range");
    expect_error("* * 0 * *", "day of month: 0 is out of range 1-31");
    expect_error("* * 32 * *", "day of month");
    expect_error("* * * 13 *", "month: 13 is out of range");
    expect_error("* * * FOO *", "month: 'FOO' is not a number or name");
    expect_error("* * * * FUNDAY", "day of week: 'FUNDAY'");
    expect_error("* * * * 8", "day of week: 8 is out of range 0-7");
    expect_error("*/0 * * * *", "minute: 0 is out of range");
    expect_error("5-1 * * * *", "runs backwards");
    expect_error("1, * * * *", "ends with ','");
    expect_error("1,,2 * * * *", "empty value");
    expect_error("a * * * *", "minute: 'a' is not a number");
    expect_error("@fortnightly", "unknown cron macro");
    expect_error("-5 * * * *", "empty value");
}

int main(void)
{
    setenv("TZ", "UTC", 1);
    tzset();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_minute_is_strictly_after),
        cmocka_unit_test(lists_ranges_steps),
        cmocka_unit_test(names_and_sunday_as_seven),
        cmocka_unit_test(month_ends_and_leap_years),
        cmocka_unit_test(vixie_day_rule),
        cmocka_unit_test(macros_expand),
        cmocka_unit_test(matches_minute),
        cmocka_unit_test(errors_name_the_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
