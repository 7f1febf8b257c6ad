/* Reconnect delays: min(cap, base * 2^attempt), half fixed and half jitter;
 * and the retry timer built on them. */
#include "core/backoff.h"

#include <math.h>
#include <stdlib.h>

void backoff_init(struct backoff *b, double base, double cap, unsigned seed)
{
    b->base = base;
    b->cap = cap;
    b->attempt = 0;
    b->seed = seed;
}

double backoff_next(struct backoff *b)
{
    double ceiling = b->base * ldexp(1.0, (int)(b->attempt < 30 ? b->attempt : 30));
    if (ceiling > b->cap)
        ceiling = b->cap;
    b->attempt++;
    double unit = (double)rand_r(&b->seed) / ((double)RAND_MAX + 1.0);
    return ceiling / 2 + unit * ceiling / 2;
}

void backoff_reset(struct backoff *b) { b->attempt = 0; }

void retry_timer_init(struct retry_timer *t, double base, double cap, unsigned seed)
{
    backoff_init(&t->backoff, base, cap, seed);
    t->next = 0;
}

bool retry_timer_due(const struct retry_timer *t, double now) { return now >= t->next; }

void retry_timer_failed(struct retry_timer *t, double now, double at_least)
{
    double wait = backoff_next(&t->backoff);
    t->next = now + (wait < at_least ? at_least : wait);
}

void retry_timer_succeeded(struct retry_timer *t)
{
    backoff_reset(&t->backoff);
    t->next = 0;
}
