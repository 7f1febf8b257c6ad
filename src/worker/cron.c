/* Cron expressions: each field becomes a bit set, so matching is a few
 * mask tests; the next run is found by walking forward a month, a day, an
 * hour or a minute at a time (whichever field fails first), letting mktime
 * normalise the calendar (month ends, leap years). */
#include "worker/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field_spec {
    const char *label;
    int min, max;
    const char *const *names;   /* names[i] is value min + i, or NULL */
};

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const weekday_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

/* Day of week accepts 7 for Sunday; it is folded onto 0 after parsing. */
static const struct field_spec fields[5] = {
    {"minute", 0, 59, NULL},
    {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},
    {"month", 1, 12, month_names},
    {"day of week", 0, 7, weekday_names},
};

static int parse_value(const struct field_spec *f, const char *s, size_t len, int *out, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "%s: empty value", f->label);
        return -1;
    }
    if (isdigit((unsigned char)s[0])) {
        long v = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)s[i]) || v > 1000) {
                snprintf(err, errlen, "%s: '%.*s' is not a number", f->label, (int)len, s);
                return -1;
            }
            v = v * 10 + (s[i] - '0');
        }
        if (v < f->min || v > f->max) {
            snprintf(err, errlen, "%s: %ld is out of range %d-%d", f->label, v, f->min, f->max);
            return -1;
        }
        *out = (int)v;
        return 0;
    }
    for (int i = 0; f->names && f->names[i]; i++)
        if (len == 3 && strncasecmp(s, f->names[i], 3) == 0) {
            *out = f->min + i;
            return 0;
        }
    snprintf(err, errlen, "%s: '%.*s' is not a number%s", f->label, (int)len, s, f->names ? " or name" : "");
    return -1;
}

/* One comma-separated item: '*', N, N-M, each optionally followed by /STEP;
 * N/STEP runs from N to the field's end. */
static int parse_item(const struct field_spec *f, const char *s, size_t len, uint64_t *bits, char *err,
                      size_t errlen)
{
    const char *slash = memchr(s, '/', len);
    size_t body = slash ? (size_t)(slash - s) : len;
    int step = 1, lo, hi;
    if (slash) {
        struct field_spec step_spec = {f->label, 1, f->max - f->min + 1, NULL};
        if (parse_value(&step_spec, slash + 1, len - body - 1, &step, err, errlen) < 0)
            return -1;
    }
    if (body == 1 && s[0] == '*') {
        lo = f->min;
        hi = f->max == 7 ? 6 : f->max;   /* '*' in day of week: SUN-SAT once */
    } else {
        const char *dash = memchr(s, '-', body);
        if (dash) {
            if (parse_value(f, s, (size_t)(dash - s), &lo, err, errlen) < 0 ||
                parse_value(f, dash + 1, body - (size_t)(dash - s) - 1, &hi, err, errlen) < 0)
                return -1;
            if (hi < lo) {
                snprintf(err, errlen, "%s: range '%.*s' runs backwards", f->label, (int)body, s);
                return -1;
            }
        } else {
            if (parse_value(f, s, body, &lo, err, errlen) < 0)
                return -1;
            hi = slash ? f->max : lo;
        }
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << v;
    return 0;
}

static int parse_field(const struct field_spec *f, const char *s, size_t len, uint64_t *bits, char *err,
                       size_t errlen)
{
    *bits = 0;
    while (len > 0) {
        const char *comma = memchr(s, ',', len);
        size_t n = comma ? (size_t)(comma - s) : len;
        if (parse_item(f, s, n, bits, err, errlen) < 0)
            return -1;
        if (!comma)
            break;
        s += n + 1;
        len -= n + 1;
        if (len == 0) {
            snprintf(err, errlen, "%s: list ends with ','", f->label);
            return -1;
        }
    }
    return 0;
}

static const struct {
    const char *name, *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

int cron_parse(const char *text, struct cron_expr *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text) {
        snprintf(err, errlen, "no cron expression");
        return -1;
    }
    while (isspace((unsigned char)*text))
        text++;
    if (text[0] == '@') {
        size_t n = strcspn(text, " \t");
        for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strlen(macros[i].name) == n && strncasecmp(text, macros[i].name, n) == 0 && !text[n + strspn(text + n, " \t")])
                return cron_parse(macros[i].expansion, out, err, errlen);
        snprintf(err, errlen, "unknown cron macro '%.*s' (@hourly @daily @weekly @monthly @yearly)", (int)n, text);
        return -1;
    }
    const char *start[6];
    size_t len[6];
    int n = 0;
    for (const char *p = text; *p;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            break;
        if (n == 5) {
            snprintf(err, errlen, "cron wants 5 fields (minute hour day-of-month month day-of-week), got more");
            return -1;
        }
        start[n] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
        len[n] = (size_t)(p - start[n]);
        n++;
    }
    if (n != 5) {
        snprintf(err, errlen, "cron wants 5 fields (minute hour day-of-month month day-of-week), got %d", n);
        return -1;
    }
    uint64_t bits[5];
    for (int i = 0; i < 5; i++)
        if (parse_field(&fields[i], start[i], len[i], &bits[i], err, errlen) < 0)
            return -1;
    if (bits[4] & (1u << 7))
        bits[4] = (bits[4] | 1u) & 0x7f;   /* 7 is Sunday too */
    out->minutes = bits[0];
    out->hours = (uint32_t)bits[1];
    out->days = (uint32_t)bits[2];
    out->months = (uint16_t)bits[3];
    out->weekdays = (uint8_t)bits[4];
    out->days_star = start[2][0] == '*';
    out->weekdays_star = start[4][0] == '*';
    return 0;
}

static bool day_matches(const struct cron_expr *e, const struct tm *tm)
{
    bool dom = e->days & ((uint32_t)1 << tm->tm_mday);
    bool dow = e->weekdays & (1u << tm->tm_wday);
    if (e->days_star || e->weekdays_star)
        return dom && dow;
    return dom || dow;
}

bool cron_matches(const struct cron_expr *e, time_t t)
{
    struct tm tm;
    localtime_r(&t, &tm);
    return (e->months & (1u << (tm.tm_mon + 1))) && day_matches(e, &tm) && (e->hours & (1u << tm.tm_hour)) &&
           (e->minutes & ((uint64_t)1 << tm.tm_min));
}

/* Normalises tm through mktime (month ends, leap years) and returns it. */
static time_t normalise(struct tm *tm)
{
    tm->tm_isdst = -1;
    return mktime(tm);
}

time_t cron_next(const struct cron_expr *e, time_t after)
{
    struct tm tm;
    localtime_r(&after, &tm);
    tm.tm_sec = 0;
    tm.tm_min++;
    time_t t = normalise(&tm);
    int limit_year = tm.tm_year + 8;
    while (tm.tm_year <= limit_year) {
        if (!(e->months & (1u << (tm.tm_mon + 1)))) {
            tm.tm_mon++;
            tm.tm_mday = 1;
            tm.tm_hour = tm.tm_min = 0;
        } else if (!day_matches(e, &tm)) {
            tm.tm_mday++;
            tm.tm_hour = tm.tm_min = 0;
        } else if (!(e->hours & (1u << tm.tm_hour))) {
            tm.tm_hour++;
            tm.tm_min = 0;
        } else if (!(e->minutes & ((uint64_t)1 << tm.tm_min))) {
            tm.tm_min++;
        } else {
            return t;
        }
        time_t before = t;
        t = normalise(&tm);
        if (t == (time_t)-1)
            return -1;
        if (t <= before) {
            /* a DST gap folded the wall clock back: step past it by the hour */
            t = before + 3600;
            localtime_r(&t, &tm);
            tm.tm_sec = 0;
            t = normalise(&tm);
        }
    }
    return -1;
}
