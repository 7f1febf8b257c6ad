/* The end of a task's way through the pool: its fate is decided (or its
 * completed mark stored), so it is counted, its latency recorded, and it
 * goes back to its consumer thread, which alone talks to its broker
 * (worker/pool.c). Called by the slots, the watchdog and the results
 * thread. */
#include "worker/settle.h"

#include <stdatomic.h>

#include "core/clock.h"
#include "core/histogram.h"
#include "worker/consumer.h"
#include "worker/worker-internal.h"

void settle_decided(struct worker *w, struct task *t)
{
    switch (t->settle) {
    case SETTLE_ACK: break;
    case SETTLE_RETRY: atomic_fetch_add(&w->retried, 1); break;
    case SETTLE_DEAD: atomic_fetch_add(t->park ? &w->parked : &w->dead, 1); break;
    case SETTLE_RETURN: break;
    }
    if (t->settle != SETTLE_RETURN && t->consumer)
        atomic_fetch_add(&t->consumer->done, 1);
    if (t->type[0] && t->settle != SETTLE_RETURN && t->created_at > 0) {
        struct worker_type_stats *s = stats_of_type(w, t->type);
        if (s)
            histogram_record_seconds(s->end_to_end, clock_wall() - t->created_at);
    }
    consumer_settle_later(t->consumer, t);
}

void settle_completed(struct worker *w, struct task *t)
{
    atomic_fetch_add(&w->processed, 1);
    struct worker_type_stats *s = t->type[0] ? stats_of_type(w, t->type) : NULL;
    if (s)
        __atomic_fetch_add(&s->processed, 1, __ATOMIC_RELAXED);
    settle_decided(w, t);
}

/* Stores what must be stored before the broker hears of it, then settles.
 * Runs on a slot thread or the watchdog. */
