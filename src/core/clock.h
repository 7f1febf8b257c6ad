/* Time in seconds as doubles: monotonic for intervals and timeouts, wall
 * clock for what is shown to people and compared with broker timestamps. */
#ifndef QDECK_CLOCK_H
#define QDECK_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

double clock_mono(void);
double clock_wall(void);
/* The CLOCK_REALTIME instant `seconds` from now, for pthread_cond_timedwait. */
struct timespec clock_realtime_after(double seconds);
/* "3s", "4m12s", "2h05m", "3d04h" — fits in 8 columns; "?" past 1e15 s. */
void format_duration(double seconds, char *buf, unsigned len);
/* A latency in microseconds: "850us", "2.45ms", "12.3ms", "1.25s", "4m05s";
 * "-" when not known (a histogram with no samples). */
void format_latency_us(uint64_t us, bool known, char *buf, size_t len);
/* Whether wall time t (often from outside input) falls in years 1..9999. */
bool time_is_printable(double t);
/* Wall time t through strftime(fmt), in UTC or local time; "-" when NAN,
 * "?" when not printable. */
void format_time(double t, const char *fmt, int utc, char *buf, size_t len);
/* "in 3s" or "4m12s ago", against now; "-" when NAN. */
void format_relative(double t, char *buf, size_t len);

#endif
