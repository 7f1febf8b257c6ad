/* Capped exponential backoff with jitter, for reconnecting to a broker.
 * Reconnects use "equal jitter" — half the capped delay fixed, half random —
 * so a dead broker is never hammered in a tight loop, while a fleet of
 * consoles does not reconnect in lock-step. */
#ifndef QDECK_BACKOFF_H
#define QDECK_BACKOFF_H

#include <stdbool.h>

struct backoff {
    double base;      /* seconds for the first retry */
    double cap;       /* longest wait */
    unsigned attempt; /* failures so far */
    unsigned seed;
};

void backoff_init(struct backoff *b, double base, double cap, unsigned seed);
/* The wait before the next attempt; counts the failure. */
double backoff_next(struct backoff *b);
void backoff_reset(struct backoff *b);

/* When a background thread may next try to (re)connect: due at once at
 * first; after a failure, a backoff later (and never sooner than
 * at_least, e.g. the thread's own period); due at once again after a
 * success. */
struct retry_timer {
    struct backoff backoff;
    double next;      /* clock_mono() instant */
};

void retry_timer_init(struct retry_timer *t, double base, double cap, unsigned seed);
bool retry_timer_due(const struct retry_timer *t, double now);
void retry_timer_failed(struct retry_timer *t, double now, double at_least);
void retry_timer_succeeded(struct retry_timer *t);

#endif
