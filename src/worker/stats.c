/* The worker's counters and per-type latency, and what the heartbeat and
 * /readyz read of them (worker.h). Part of the pool (worker/pool.c). */
#include "worker/stats.h"

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
#include "worker/worker-internal.h"

/* ------------------------------------------------------------ stats */

const char *worker_id(const struct worker *w) { return w->id; }
const char *worker_queues(const struct worker *w) { return w->queues; }

struct worker_type_stats *stats_of_type(struct worker *w, const char *type)
{
    size_t n = atomic_load(&w->ntypes);
    for (size_t i = 0; i < n; i++)
        if (strcmp(w->types[i].type, type) == 0)
            return &w->types[i];
    pthread_mutex_lock(&w->types_lock);
    n = atomic_load(&w->ntypes);
    struct worker_type_stats *s = NULL;
    for (size_t i = 0; i < n && !s; i++)
        if (strcmp(w->types[i].type, type) == 0)
            s = &w->types[i];
    if (!s && n < MAX_TYPES) {
        s = &w->types[n];
        snprintf(s->type, sizeof s->type, "%s", type);
        s->queue_wait = histogram_new();
        s->run_time = histogram_new();
        s->end_to_end = histogram_new();
        atomic_store(&w->ntypes, n + 1);
    }
    pthread_mutex_unlock(&w->types_lock);
    return s;
}

bool worker_ready(struct worker *w, char *reason, size_t len)
{
    for (size_t i = 0; i < w->nconsumers; i++)
        if (!atomic_load(&w->consumers[i]->connected)) {
            char health[200];
            consumer_health(w->consumers[i], health, sizeof health);
            snprintf(reason, len, "consumer %s: %s", w->consumers[i]->label, health[0] ? health : "not connected");
            return false;
        }
    return true;
}

void worker_health(struct worker *w, char *out, size_t len)
{
    snprintf(out, len, "ok");
    for (size_t i = 0; i < w->nconsumers; i++)
        if (!atomic_load(&w->consumers[i]->connected)) {
            consumer_health(w->consumers[i], out, len);
            if (out[0])
                return;
            snprintf(out, len, "%s: not connected", w->consumers[i]->ops->kind);
            return;
        }
}

void worker_stats(struct worker *w, struct worker_stats *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%s", w->id);
    out->processed = atomic_load(&w->processed);
    out->failed = atomic_load(&w->failed);
    out->retried = atomic_load(&w->retried);
    out->dead_lettered = atomic_load(&w->dead);
    out->parked = atomic_load(&w->parked);
    out->skipped = atomic_load(&w->skipped);
    out->in_flight = atomic_load(&w->in_flight);
    out->busy = atomic_load(&w->busy_now);
    out->slots = w->concurrency;
    out->ntypes = atomic_load(&w->ntypes);
    for (size_t i = 0; i < out->ntypes; i++) {
        out->types[i] = w->types[i];
        out->types[i].processed = __atomic_load_n(&w->types[i].processed, __ATOMIC_RELAXED);
        out->types[i].failed = __atomic_load_n(&w->types[i].failed, __ATOMIC_RELAXED);
        out->types[i].tokens_in = __atomic_load_n(&w->types[i].tokens_in, __ATOMIC_RELAXED);
        out->types[i].tokens_out = __atomic_load_n(&w->types[i].tokens_out, __ATOMIC_RELAXED);
    }
}

/* How many more sleeping slot threads the queued work needs, under w->lock.
 * Waking a thread costs a futex call and a context switch on each side, more
 * than a quick task, so threads are woken by the work waiting, in units of
 * WAKE_SLICE of expected occupancy: a batch of instant tasks wakes one thread
 * that runs them all; slow tasks wake one thread each. A task that turns out
 * slower than expected leaves the rest waiting: the watchdog wakes threads
 * for work queued longer than STALE_QUEUE. */
