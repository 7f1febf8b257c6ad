/* Capped exponential backoff with jitter, for reconnecting to a broker.
 * Reconnects use "equal jitter" — half the capped delay fixed, half random —
 * so a dead broker is never hammered in a tight loop, while a fleet of
 * consoles does not reconnect in lock-step. */
#ifndef QDECK_BACKOFF_H
#define QDECK_BACKOFF_H

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

#endif
