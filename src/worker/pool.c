/* The worker pool: slots that run handler plugins, the watchdog, counters,
 * and the worker's life (create, run, stop, destroy). See worker.h; the
 * parts are listed in worker-internal.h. This file is what consumers,
 * the rate waiting room and the results thread call (pool.h).
 *
 * Slots. `concurrency` slots; a slot is busy from the moment a handler
 * starts until its outcome is known. Slot threads (as many as slots, at
 * most MAX_THREADS) take tasks from one run queue. A blocking handler
 * (run()) holds its thread; an asynchronous one (submit()) gives the thread
 * back at once and its done() — from any thread — queues the completion,
 * which a slot thread finishes before taking new work. So `busy` counts
 * handlers in progress, not threads. Sleeping threads are woken by the work
 * waiting, not one per task: quick tasks are run in a row by the thread
 * already awake, slow ones get a thread each (threads_wanted()). Settlements
 * go back to the consumer thread through a lock-free stack (consumer.c).
 *
 * The fate of a task is decided in one place, decide(): completed (done key
 * and COMPLETED record stored, then ack), retry (backoff with full jitter,
 * see retry.h) or dead letter (poison, failed, max_attempts). The decision
 * goes back to the task's consumer thread, which alone talks to its broker.
 * With Redis, the idempotency check (before a task enters the run queue),
 * the records and the done mark go through the results thread, many tasks
 * per round trip (results-batch.c); it hands each task on when its write
 * is in.
 *
 * Watchdog. Every 50 ms it looks at running handlers; past its [task TYPE]
 * timeout a task gets cancelled (and cancel() for async plugins). A handler
 * still not back ABANDON_GRACE later is abandoned: the task goes the
 * retry/DLQ way, its slot is free again, and a replacement thread is
 * started; when the stuck handler returns, its result is dropped and its
 * thread retires.
 *
 * Shutdown. worker_stop() (async-signal-safe) asks consumers to stop
 * receiving; tasks not started yet are given back at once; running ones
 * get until shutdown_timeout, then are cancelled and given back unacked. A
 * second stop is fast: consumers leave now and settle only what finished. */
#include "worker/pool.h"

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
#include "worker/consumer.h"
#include "worker/plugin.h"
#include "worker/worker-internal.h"
#include "worker/ratewait.h"
#include "worker/redis-link.h"
#include "worker/results-batch.h"
#include "worker/results.h"
#include "worker/retry.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"

/* ------------------------------------------------------------ accessors */

const struct config *worker_config(const struct worker *w) { return w->cfg; }
const struct context_config *worker_context(const struct worker *w) { return w->ctx; }
int worker_default_max_attempts(const struct worker *w) { return w->wc->max_attempts; }
int worker_stopping(const struct worker *w) { return atomic_load(&((struct worker *)w)->stopping); }
double worker_drain_deadline(const struct worker *w) { return w->drain_deadline; }
const char *worker_id(const struct worker *w) { return w->id; }
const char *worker_queues(const struct worker *w) { return w->queues; }
void worker_note_received(struct worker *w) { atomic_fetch_add(&w->in_flight, 1); }
void worker_note_settled(struct worker *w) { atomic_fetch_sub(&w->in_flight, 1); }
/* Without Redis there are no guardrails to wait for. */
bool worker_policy_loaded(struct worker *w) { return !w->policy || atomic_load(&w->policy_loaded); }

/* ------------------------------------------------------------ decisions */

void pool_decided(struct worker *w, struct task *t)
{
    switch (t->settle) {
    case SETTLE_ACK: break;
    case SETTLE_RETRY: atomic_fetch_add(&w->retried, 1); break;
    case SETTLE_DEAD: atomic_fetch_add(t->park ? &w->parked : &w->dead, 1); break;
    case SETTLE_RETURN: break;
    }
    if (t->type[0] && t->settle != SETTLE_RETURN && t->created_at > 0) {
        struct worker_type_stats *s = stats_of_type(w, t->type);
        if (s)
            histogram_record_seconds(s->end_to_end, clock_wall() - t->created_at);
    }
    consumer_settle_later(t->consumer, t);
}

void pool_completed(struct worker *w, struct task *t)
{
    atomic_fetch_add(&w->processed, 1);
    struct worker_type_stats *s = t->type[0] ? stats_of_type(w, t->type) : NULL;
    if (s)
        __atomic_fetch_add(&s->processed, 1, __ATOMIC_RELAXED);
    pool_decided(w, t);
}

/* Stores what must be stored before the broker hears of it, then settles.
 * Runs on a slot thread or the watchdog. */
void pool_submit(struct worker *w, struct task *head, struct task *tail, int n)
{
    if (!head)
        return;
    tail->next = NULL;
    if (w->batch && w->wc->idempotency)
        results_batch_check(w->batch, head, n);   /* then pool_checked() */
    else
        pool_checked(w, head, tail, n);
}

void pool_checked(struct worker *w, struct task *head, struct task *tail, int n)
{
    tail->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->run_tail)
        w->run_tail->next = head;
    else
        w->run_head = head;
    w->run_tail = tail;
    w->run_len += n;
    slots_wake(w, slots_wanted(w, w->run_len, true));
    pthread_mutex_unlock(&w->lock);
}

