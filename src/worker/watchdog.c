/* The watchdog (see worker/pool.c): every 50 ms it cancels handlers past
 * their timeout and abandons those that do not come back. */
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
#include "worker/plugin.h"
#include "worker/pool.h"
#include "worker/results.h"
#include "worker/worker-internal.h"

/* ------------------------------------------------------------ watchdog */

void *watchdog_main(void *arg)
{
    struct worker *w = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        usleep(WATCHDOG_PERIOD_MS * 1000);
        double now = clock_mono();
        struct task *cancel[64], *abandon[64];
        size_t ncancel = 0, nabandon = 0;
        pthread_mutex_lock(&w->lock);
        if (w->exit_threads && w->live_threads == 0) {
            pthread_mutex_unlock(&w->lock);
            break;
        }
        int stopping = worker_stopping(w);
        bool drain_over = stopping == 2 || (stopping == 1 && now >= w->drain_deadline);
        int free_slots = w->concurrency - w->busy;
        if (w->run_head && free_slots > 0 && now - w->run_head->received_mono > STALE_QUEUE)
            pool_wake_threads(w, free_slots < w->run_len ? free_slots : w->run_len);   /* tasks slower than usual */
        for (struct task *t = w->running; t; t = t->wd_next) {
            if (!atomic_load(&t->cancelled) && (now >= t->timeout_at || drain_over)) {
                atomic_store(&t->cancelled, 1);
                if (now >= t->timeout_at)
                    t->timed_out = true;
                else
                    t->shutdown_cancel = true;
                if (ncancel < 64 && t->handler->plugin->api->cancel && t->handler->plugin->api->submit &&
                    !t->handler->plugin->api->run) {
                    atomic_fetch_add(&t->refs, 1);
                    cancel[ncancel++] = t;
                }
            } else if (t->timed_out && now >= t->timeout_at + ABANDON_GRACE && nabandon < 64) {
                int expect = TASK_RUNNING;
                if (atomic_compare_exchange_strong(&t->state, &expect, TASK_ABANDONED))
                    abandon[nabandon++] = t;
            }
        }
        for (size_t i = 0; i < nabandon; i++) {
            struct task *t = abandon[i];
            slots_release(w, t);
            if (t->handler->plugin->api->run)
                w->retire++;   /* its thread retires when the handler returns */
        }
        pthread_mutex_unlock(&w->lock);
        for (size_t i = 0; i < ncancel; i++) {
            cancel[i]->handler->plugin->api->cancel(cancel[i]->handler->instance, cancel[i]);
            task_unref(cancel[i]);
        }
        for (size_t i = 0; i < nabandon; i++) {
            struct task *t = abandon[i];
            log_warn("task %s (%s): handler did not stop %.0fs after its %.3gs timeout: slot reclaimed", t->id,
                     t->type, ABANDON_GRACE, t->timeout);
            if (t->handler->plugin->api->run && slots_spawn(w) < 0)
                log_error("cannot start a replacement slot thread");
            snprintf(t->error, sizeof t->error, "timed out after %.3gs (handler did not stop)", t->timeout);
            slots_end_dependency(t, clock_mono() - t->started_mono);
            t->settle = t->shutdown_cancel ? SETTLE_RETURN : SETTLE_RETRY;
            decide_fate(w, t, &w->watchdog_results, &w->watchdog_seed);
        }
        pthread_mutex_lock(&w->lock);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    results_close(&w->watchdog_results);
    return NULL;
}

