/* Clocks and human durations. */
#include "core/clock.h"

#include <math.h>
#include <stdio.h>
#include <time.h>

static double timespec_seconds(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_mono(void) { return timespec_seconds(CLOCK_MONOTONIC); }
double clock_wall(void) { return timespec_seconds(CLOCK_REALTIME); }

void format_duration(double seconds, char *buf, unsigned len)
{
    if (isnan(seconds) || seconds < 0) {
        snprintf(buf, len, "-");
        return;
    }
    if (!(seconds < 1e15)) {   /* ~31 million years: garbage from outside, and past what a long holds */
        snprintf(buf, len, "?");
        return;
    }
    long s = (long)seconds;
    if (seconds < 10 && seconds != (double)s)
        snprintf(buf, len, "%.1fs", seconds);
    else if (s < 60)
        snprintf(buf, len, "%lds", s);
    else if (s < 3600)
        snprintf(buf, len, "%ldm%02lds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, len, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, len, "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
}

struct timespec clock_realtime_after(double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double when = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + (seconds > 0 ? seconds : 0);
    ts.tv_sec = (time_t)when;
    ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
    return ts;
}

bool time_is_printable(double t)
{
    return t >= -62135596800.0 && t <= 253402300799.0;   /* 0001-01-01 .. 9999-12-31 */
}

void format_time(double t, const char *fmt, int utc, char *buf, size_t len)
{
    if (isnan(t) || !time_is_printable(t)) {
        snprintf(buf, len, isnan(t) ? "-" : "?");
        return;
    }
    time_t s = (time_t)t;
    struct tm tm;
    if (utc)
        gmtime_r(&s, &tm);
    else
        localtime_r(&s, &tm);
    if (strftime(buf, len, fmt, &tm) == 0 && len)
        buf[0] = '\0';
}

void format_relative(double t, char *buf, size_t len)
{
    if (isnan(t)) {
        snprintf(buf, len, "-");
        return;
    }
    double d = t - clock_wall();
    char dur[32];
    format_duration(fabs(d), dur, sizeof dur);
    snprintf(buf, len, d >= 0 ? "in %s" : "%s ago", dur);
}

void format_latency_us(uint64_t us, bool known, char *buf, size_t len)
{
    if (!known)
        snprintf(buf, len, "-");
    else if (us < 1000)
        snprintf(buf, len, "%lluus", (unsigned long long)us);
    else if (us < 10000)
        snprintf(buf, len, "%.2fms", (double)us / 1e3);
    else if (us < 1000000)
        snprintf(buf, len, "%.1fms", (double)us / 1e3);
    else if (us < 60000000)
        snprintf(buf, len, "%.2fs", (double)us / 1e6);
    else
        snprintf(buf, len, "%llum%02llus", (unsigned long long)(us / 60000000), (unsigned long long)(us / 1000000 % 60));
}
