/* Load-shedding decisions and the CoDel tracker (see shed.h). */
#include "resilience/shed.h"

#include <math.h>

enum shed_verdict shed_decide(const struct shed_guardrails *g, const struct shed_task *t, bool codel_shedding,
                              const char **reason)
{
    const char *why = NULL;
    enum shed_verdict v = SHED_RUN;
    if (g->paused) {
        v = SHED_PARK;
        why = "paused";
    } else if (g->max_depth >= 0 && t->queue_depth >= 0 && t->queue_depth > g->max_depth) {
        v = SHED_DEAD_LETTER;
        why = "shed";
    } else if (g->priority_below >= 0 && t->priority < g->priority_below) {
        v = SHED_PARK;
        why = "shed";
    } else if (g->auto_shed && codel_shedding && t->priority < g->auto_priority) {
        v = SHED_PARK;
        why = "shed";
    }
    if (reason)
        *reason = why;
    return v;
}

bool shed_publish_allowed(const struct shed_guardrails *g, long depth)
{
    return g->max_depth < 0 || depth < g->max_depth;
}

const char *shed_verdict_name(enum shed_verdict v)
{
    switch (v) {
    case SHED_RUN: return "run";
    case SHED_PARK: return "park";
    case SHED_DEAD_LETTER: return "dead-letter";
    }
    return "?";
}

void shed_codel_init(struct shed_codel *c, double target, double interval)
{
    pthread_mutex_init(&c->lock, NULL);
    c->target = target;
    c->interval = interval > 0 ? interval : SHED_CODEL_INTERVAL;
    c->start = -INFINITY;
    c->min_wait = INFINITY;
    c->seen = c->shedding = false;
    c->intervals = c->intervals_over = 0;
}

void shed_codel_fini(struct shed_codel *c) { pthread_mutex_destroy(&c->lock); }

bool shed_codel_observe(struct shed_codel *c, double wait, double now)
{
    pthread_mutex_lock(&c->lock);
    if (now - c->start >= c->interval) {
        if (c->seen) {
            bool over = c->min_wait > c->target;
            c->shedding = over && wait > c->target;   /* a quick task now: the queue drained */
            c->intervals++;
            c->intervals_over += over;
        }
        c->start = now;
        c->min_wait = wait;
        c->seen = true;
    } else if (wait < c->min_wait) {
        c->min_wait = wait;
    }
    bool shedding = c->shedding;
    pthread_mutex_unlock(&c->lock);
    return shedding;
}

bool shed_codel_shedding(struct shed_codel *c)
{
    pthread_mutex_lock(&c->lock);
    bool s = c->shedding;
    pthread_mutex_unlock(&c->lock);
    return s;
}
