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
 * The fate of a task is decided in one place, decide_fate() (decide.c):
 * completed (done key and COMPLETED record stored, then ack), retry
 * (backoff with full jitter, see retry.h) or dead letter (poison, failed,
 * max_attempts). The decision goes back to the task's consumer thread
 * (settle.c), which alone talks to its broker.
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
#include "control/policy-store.h"
#include "control/policy-watcher.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"
#include "worker/worker-internal.h"

/* ------------------------------------------------------------ accessors */

const struct config *worker_config(const struct worker *w) { return w->cfg; }
const struct context_config *worker_context(const struct worker *w) { return w->ctx; }
int worker_default_max_attempts(const struct worker *w) { return w->wc->max_attempts; }
int worker_stopping(const struct worker *w) { return atomic_load(&((struct worker *)w)->stopping); }
double worker_drain_deadline(const struct worker *w) { return w->drain_deadline; }
void worker_note_received(struct worker *w) { atomic_fetch_add(&w->in_flight, 1); }
void worker_note_settled(struct worker *w) { atomic_fetch_sub(&w->in_flight, 1); }
/* Without Redis there are no guardrails to wait for. */
bool worker_policy_loaded(struct worker *w) { return !w->policy || atomic_load(&w->policy_loaded); }

int pool_threads_wanted(struct worker *w, int queued, bool nobody_awake)
{
    int free_slots = w->concurrency - w->busy;
    int want = w->waiting < free_slots ? w->waiting : free_slots;
    if (queued <= 0 || want <= 0)
        return 0;
    double per_task = atomic_load_explicit(&w->occupancy, memory_order_relaxed);
    double needed = (double)queued * per_task / WAKE_SLICE;
    int n = needed >= (double)queued ? queued : (int)needed;
    if (n == 0 && nobody_awake)
        n = 1;
    return n < want ? n : want;
}

void pool_wake_threads(struct worker *w, int n)
{
    if (n >= w->waiting && n > 1)
        pthread_cond_broadcast(&w->cond);
    else
        for (int i = 0; i < n; i++)
            pthread_cond_signal(&w->cond);
}

void pool_submit(struct worker *w, struct task *head, struct task *tail, int n)
{
    if (!head)
        return;
    tail->next = NULL;
    if (w->batch && w->wc->idempotency)
        w->idempotency_check(w->batch, head, n);   /* results_batch_check, then pool_checked() */
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
    pool_wake_threads(w, pool_threads_wanted(w, w->run_len, true));
    pthread_mutex_unlock(&w->lock);
}

