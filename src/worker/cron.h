/* Five-field cron expressions for [schedule NAME] cron = "...": minute,
 * hour, day of month, month, day of week, as Vixie cron reads them —
 * lists (1,15), ranges (MON-FRI), steps (a star then /5; 10-40/10; 7/15 =
 * from 7 to the end every 15), names (JAN-DEC, SUN-SAT, case-insensitive), day of week 7
 * also Sunday, and the macros @hourly @daily @midnight @weekly @monthly
 * @yearly @annually. When both day fields are restricted (neither starts
 * with '*') a day matches if EITHER matches, Vixie's rule; otherwise both
 * must. Debian ships no C cron library, so this is a small hand parser.
 *
 * Times are evaluated in the process's local time zone (TZ), as cron does. */
#ifndef QDECK_CRON_H
#define QDECK_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cron_expr {
    uint64_t minutes;      /* bit m: minute m (0-59) */
    uint32_t hours;        /* bit h: 0-23 */
    uint32_t days;         /* bit d: day of month 1-31 */
    uint16_t months;       /* bit m: 1-12 */
    uint8_t weekdays;      /* bit w: 0 (Sunday) - 6 */
    bool days_star;        /* day-of-month field began with '*' */
    bool weekdays_star;
};

/* 0, or -1 with a message naming the bad field ("day of week: 'FUNDAY' is
 * not a number or name"). */
int cron_parse(const char *text, struct cron_expr *out, char *err, size_t errlen);
/* Does the minute that contains t match? */
bool cron_matches(const struct cron_expr *e, time_t t);
/* The first whole minute strictly after `after` that matches, or -1 when
 * none does within 8 years (e.g. "0 0 30 2 *"). */
time_t cron_next(const struct cron_expr *e, time_t after);

#endif
