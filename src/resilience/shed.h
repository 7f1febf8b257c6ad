/* Load shedding: what the worker does with a task it has just received,
 * given the guardrails in force (docs/control-plane.md).
 *
 *   queue.<name>.paused = true     park it, reason "paused"
 *   shed.priority_below = P        priority < P: park it, reason "shed"
 *   queue.<name>.max_depth = N     the queue holds more than N: dead-letter
 *                                  the task at its head, reason "shed" (as
 *                                  RabbitMQ's max-length drop-head does)
 *   shed.auto = true               CoDel: while the minimum queue wait over
 *                                  each 100 ms interval stays above the
 *                                  target, park sheddable work (priority
 *                                  below [worker] shed_priority), reason "shed"
 *   otherwise                      run it
 *
 * Higher priority numbers are more important (RabbitMQ's convention). Shed
 * work is never dropped: parked tasks come back when the guardrail is
 * lifted, dead-lettered ones can be replayed.
 *
 * shed_decide is a pure function. The CoDel tracker is a small struct with
 * its own lock, fed with every received task's queue wait. */
#ifndef QDECK_SHED_H
#define QDECK_SHED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/shed-rules.h"

enum shed_verdict { SHED_RUN, SHED_PARK, SHED_DEAD_LETTER };

struct shed_task {
    int priority;
    long queue_depth;           /* -1: unknown (then max_depth does not apply) */
};

/* The verdict; *reason ("paused", "shed", NULL when it runs) when not NULL. */
enum shed_verdict shed_decide(const struct shed_guardrails *g, const struct shed_task *t, bool codel_shedding,
                              const char **reason);
/* For producers (`qdeck publish`): may one more message go to a queue of this depth? */
bool shed_publish_allowed(const struct shed_guardrails *g, long depth);
const char *shed_verdict_name(enum shed_verdict v);

#define SHED_CODEL_INTERVAL 0.1   /* seconds */

struct shed_codel {
    pthread_mutex_t lock;
    double target, interval;
    double start;               /* the current interval began here */
    double min_wait;
    bool seen, shedding;
    uint64_t intervals, intervals_over;
};

void shed_codel_init(struct shed_codel *c, double target, double interval);
void shed_codel_fini(struct shed_codel *c);
/* A task was received after waiting `wait` seconds in its queue. The first
 * observation after an interval ends closes it: shedding is on when that
 * interval's minimum wait was above the target and this task's wait is too
 * (a short wait now means the queue drained meanwhile). Returns the state. */
bool shed_codel_observe(struct shed_codel *c, double wait, double now);
bool shed_codel_shedding(struct shed_codel *c);

#endif
