/* The checks a task passes before its handler runs: shed (priority and
 * CoDel, policy), the dependency's guard (breaker, bulkhead, rate waiting
 * room) and idempotency (already done). Part of the pool (worker/pool.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/events.h"
#include "control/keys.h"
#include "control/policy.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"
#include "worker/consumer.h"
#include "worker/pool.h"
#include "worker/ratewait.h"
#include "worker/results.h"
#include "worker/retry.h"
#include "worker/settle.h"
#include "worker/worker-internal.h"

bool admit_shed(struct worker *w, struct task *t, double wall)
{
    struct consumer *c = t->consumer;
    struct shed_guardrails g = {
        .priority_below = atomic_load_explicit(&c->shed_priority_below, memory_order_relaxed),
        .max_depth = atomic_load_explicit(&c->max_depth, memory_order_relaxed),
        .paused = false,   /* a paused queue is not read from at all */
        .auto_shed = atomic_load_explicit(&c->auto_shed, memory_order_relaxed),
        .auto_priority = w->wc->shed_priority,
    };
    if (g.priority_below < 0 && g.max_depth < 0 && !g.auto_shed)
        return false;
    bool codel = false;
    if (g.auto_shed && t->created_at > 0)
        codel = shed_codel_observe(&w->codel, wall - t->created_at, clock_mono());
    long depth = t->queue_depth;   /* measured for this very task as it was taken (streams) */
    if (depth < 0) {
        depth = atomic_load_explicit(&c->depth, memory_order_relaxed);
        if (g.max_depth >= 0 && depth > 0)   /* this task left the queue since: count it out until the next look */
            depth = atomic_fetch_sub_explicit(&c->depth, 1, memory_order_relaxed);
    }
    struct shed_task st = {.priority = t->priority, .queue_depth = depth};
    const char *reason = NULL;
    switch (shed_decide(&g, &st, codel, &reason)) {
    case SHED_RUN: return false;
    case SHED_PARK:
        t->park = true;
        snprintf(t->error, sizeof t->error, "parked: priority %d below %d", t->priority,
                 g.priority_below >= 0 ? g.priority_below : g.auto_priority);
        break;
    case SHED_DEAD_LETTER:
        snprintf(t->error, sizeof t->error, "shed: queue deeper than max_depth %ld", g.max_depth);
        break;
    }
    t->settle = SETTLE_DEAD;
    t->dead_reason = reason ? reason : "shed";
    t->shed = true;   /* not a failed run: not counted as failed */
    atomic_fetch_add(&w->shed, 1);
    return true;
}

/* The task's dependency: false with a permit held (go on and call), or
 * true when the task leaves its slot without a call: waiting in the
 * dependency's room for a rate permit or a bulkhead place (ratewait.h),
 * completed with the fallback result, or the retry path saying why (breaker
 * open; a full room), none of which is an attempt. Either way the slot is
 * given back at once. */
bool admit_guard(struct worker *w, struct slot_thread *st, struct task *t, struct dependency *d, double now)
{
    double retry_after = 0;
    struct ratewait *room = w->rooms[d - w->deps.deps];
    bool lapsed = t->rate_granted && now > t->rate_until;
    if (lapsed)
        ratewait_note_lapsed(room);
    unsigned flags = t->rate_granted && !lapsed ? DEP_RATE_GRANTED : DEP_RATE_QUEUED;
    t->rate_granted = false;   /* a permit is good for one call */
    enum dependency_verdict v = dependency_begin(d, results_connection(&st->results), now, flags, &t->dep_call, &retry_after);
    if (v == DEP_CALL) {
        t->dep_held = true;
        return false;
    }
    if (v == DEP_THROTTLED || v == DEP_FULL) {
        /* wait for a reserved permit or a bulkhead place without a slot; a
         * room that is full or stopped leaves the task to the delayed way */
        if ((v == DEP_THROTTLED ? ratewait_enter(room, t) : ratewait_enter_bulkhead(room, t)) == 0)
            return true;
        if (worker_stopping(w)) {
            t->settle = SETTLE_RETURN;
            settle_decided(w, t);
            return true;
        }
        retry_after = 0.5 + (double)rand_r(&st->seed) / ((double)RAND_MAX + 1.0);
    }
    if (v == DEP_FALLBACK) {
        memset(&t->result, 0, sizeof t->result);
        t->result.outcome = QDECK_OK;
        t->result.result = xstrdup(d->fallback);
        t->settle = SETTLE_ACK;
        atomic_fetch_add(&w->fallbacks, 1);
        decide_fate(w, t, &st->results, &st->seed);
        return true;
    }
    t->settle = SETTLE_RETRY;
    if (v == DEP_OPEN) {
        /* refused by the breaker: the call never happened, so not an
         * attempt (an outage must not dead-letter everything); back when
         * the breaker may let a probe through (FORCED_OPEN: after its
         * open_wait), plus up to 1 s of full jitter so a fleet does not
         * return as one herd. A deadline in the envelope still expires it. */
        struct breaker_stats bs;
        breaker_stats(d->breaker, &bs);
        double until = bs.state == BREAKER_FORCED_OPEN ? breaker_open_wait(d->breaker) : bs.open_remaining;
        snprintf(t->error, sizeof t->error, "breaker %s %s", d->name, breaker_state_name(bs.state));
        t->attempt--;
        t->retry_delay = until + (double)rand_r(&st->seed) / ((double)RAND_MAX + 1.0);
        if (t->retry_delay < 0.01)
            t->retry_delay = 0.01;
        t->deferred = true;
        decide_fate(w, t, &st->results, &st->seed);
        return true;
    }
    /* throttled or bulkhead full: not an attempt; back after retry_after */
    snprintf(t->error, sizeof t->error, "%s %s", v == DEP_THROTTLED ? "rate limit of" : "bulkhead full:", d->name);
    t->attempt--;
    t->settle = SETTLE_RETRY;
    t->retry_delay = retry_after > 0.01 ? retry_after : 0.01;
    t->deferred = true;
    decide_fate(w, t, &st->results, &st->seed);
    return true;
}

/* The idempotency check: asked in batches before the task was queued
 * (w->batch), else here. Redis away: not done (the task runs, and is not
 * acked before its mark is stored). */
bool admit_already_done(struct worker *w, struct slot_thread *st, struct task *t)
{
    if (w->batch)
        return t->idem_done;
    bool done = false;
    return results_is_done(&st->results, t, &done) == 0 && done;
}

/* Runs (or submits) one task. Slot thread; w->busy already counts it. */
