/* The slots (see worker/pool.c): the slot threads that take tasks from the
 * run queue, start a handler (after admission.c's checks) and finish it;
 * decide.c then decides the task's fate. */
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
#include "worker/ratewait.h"
#include "worker/results-batch.h"
#include "worker/results.h"
#include "worker/settle.h"
#include "worker/worker-internal.h"

/* A slot is free again, under w->lock; t (when started) leaves the
 * watchdog's running list. */
void slots_release(struct worker *w, struct task *t)
{
    if (t) {
        if (t->wd_prev)
            t->wd_prev->wd_next = t->wd_next;
        else
            w->running = t->wd_next;
        if (t->wd_next)
            t->wd_next->wd_prev = t->wd_prev;
        t->wd_prev = t->wd_next = NULL;
    }
    w->busy--;
    atomic_fetch_sub(&w->busy_now, 1);
}

/* Ends the task's dependency permit with its one outcome: success, error
 * (failure, timeout, watchdog), or release (shutdown, never submitted).
 * Called once: by slots_finish(), or by the watchdog when it abandons the task
 * (slots_finish() then loses the state race and does not get here). */
void slots_end_dependency(struct task *t, double ran)
{
    if (!t->dep_held)
        return;
    t->dep_held = false;
    struct worker *w = t->consumer->w;
    struct ratewait *room = w->rooms[t->dep_call.dep - w->deps.deps];
    enum breaker_outcome o = t->shutdown_cancel || t->submit_refused ? BREAKER_RELEASE
                             : t->timed_out                                  ? BREAKER_ERROR
                             : t->result.outcome == QDECK_OK                 ? BREAKER_SUCCESS
                                                                              : BREAKER_ERROR;
    dependency_end(&t->dep_call, o, ran);
    ratewait_bulkhead_freed(room);
}

/* The handler's outcome is known (t->result filled). Slot thread. */
static void slots_finish(struct worker *w, struct slot_thread *st, struct task *t)
{
    int expect = TASK_RUNNING;
    if (!atomic_compare_exchange_strong(&t->state, &expect, TASK_FINISHED)) {
        /* abandoned by the watchdog, which decided already */
        task_unref(t);
        pthread_mutex_lock(&w->lock);
        bool retire = w->retire > 0;
        if (retire)
            w->retire--;
        pthread_mutex_unlock(&w->lock);
        if (retire) {
            results_close(&st->results);
            pthread_mutex_lock(&w->lock);
            w->live_threads--;
            pthread_cond_broadcast(&w->gone);
            pthread_mutex_unlock(&w->lock);
            free(st);
            pthread_exit(NULL);
        }
        return;
    }
    pthread_mutex_lock(&w->lock);
    slots_release(w, t);
    /* a slot is free: this thread takes the next task, others what is left */
    pool_wake_threads(w, pool_threads_wanted(w, w->run_len - 1, false));
    pthread_mutex_unlock(&w->lock);

    double ran = clock_mono() - t->started_mono;
    struct worker_type_stats *s = stats_of_type(w, t->type);
    if (s) {
        histogram_record_seconds(s->run_time, ran);
        if (t->usage.tokens_in > 0)
            __atomic_fetch_add(&s->tokens_in, (uint64_t)t->usage.tokens_in, __ATOMIC_RELAXED);
        if (t->usage.tokens_out > 0)
            __atomic_fetch_add(&s->tokens_out, (uint64_t)t->usage.tokens_out, __ATOMIC_RELAXED);
    }
    task_unref(t);   /* the handler's reference; the settlement's remains */
    slots_end_dependency(t, ran);

    switch (t->result.outcome) {
    case QDECK_OK:
        t->settle = SETTLE_ACK;
        break;
    case QDECK_FAIL:
        t->settle = SETTLE_DEAD;
        t->dead_reason = "failed";
        break;
    default:
        t->settle = SETTLE_RETRY;
        break;
    }
    if (t->result.outcome != QDECK_OK) {
        if (t->shutdown_cancel) {
            t->settle = SETTLE_RETURN;
        } else if (t->timed_out) {
            snprintf(t->error, sizeof t->error, "timed out after %.3gs%s%.200s", t->timeout,
                     t->result.error[0] ? ": " : "", t->result.error);
            if (t->settle == SETTLE_DEAD)
                t->settle = SETTLE_RETRY;
        } else {
            snprintf(t->error, sizeof t->error, "%s", t->result.error[0] ? t->result.error : "handler failed");
        }
    }
    decide_fate(w, t, &st->results, &st->seed);
}

static void async_done(void *cookie, struct qdeck_result *res)
{
    struct task *t = cookie;
    struct worker *w = t->consumer->w;
    free(t->result.result);
    t->result = *res;
    res->result = NULL;
    pthread_mutex_lock(&w->lock);
    t->next = NULL;
    if (w->done_tail)
        w->done_tail->next = t;
    else
        w->done_head = t;
    w->done_tail = t;
    if (w->waiting)
        pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* The shedding guardrails for a task just taken: true when it is not to
 * run (t->settle decided: parked or dead-lettered with reason "shed"). */
static void slots_start_task(struct worker *w, struct slot_thread *st, struct task *t)
{
    struct handler *h = t->poison ? NULL : handler_for(w, st, t->type);
    if (!t->poison && h && h->plugin && admit_already_done(w, st, t)) {
        atomic_fetch_add(&w->skipped, 1);
        log_info("task %s (%s) already completed: acked without running", t->id, t->type);
        t->settle = SETTLE_ACK;
        atomic_fetch_add(&w->processed, 1);
        settle_decided(w, t);
        goto unbusy;
    }
    if (t->poison || !h || !h->plugin) {
        if (!t->poison) {
            t->poison = "poison";
            snprintf(t->error, sizeof t->error, "%s", h ? h->error : "too many task types");
        }
        t->settle = SETTLE_DEAD;
        t->dead_reason = "poison";
        decide_fate(w, t, &st->results, &st->seed);
        goto unbusy;
    }
    if (t->deadline > 0 && clock_wall() > t->deadline) {
        snprintf(t->error, sizeof t->error, "its deadline passed %.3fs before it could start",
                 clock_wall() - t->deadline);
        t->settle = SETTLE_DEAD;
        t->dead_reason = "expired";
        decide_fate(w, t, &st->results, &st->seed);
        goto unbusy;
    }
    t->handler = h;
    if (h->max_attempts > 0 && !cJSON_GetObjectItemCaseSensitive(t->env, "max_attempts"))
        t->max_attempts = h->max_attempts;
    double wall = clock_wall();
    if (admit_shed(w, t, wall)) {
        decide_fate(w, t, &st->results, &st->seed);
        goto unbusy;
    }
    double now = clock_mono();
    if (h->dep && admit_guard(w, st, t, h->dep, now))
        goto unbusy;
    t->started_wall = wall;
    if (w->batch)
        results_batch_processing(w->batch, t);
    else
        results_processing(&st->results, t);
    struct worker_type_stats *s = stats_of_type(w, t->type);
    if (s && t->created_at > 0)
        histogram_record_seconds(s->queue_wait, wall - t->created_at);

    t->qt = (struct qdeck_task){
        .id = t->id,
        .type = t->type,
        .payload = t->payload,
        .payload_len = strlen(t->payload),
        .attempt = t->attempt,
        .max_attempts = t->max_attempts,
        .priority = t->priority,
        .deadline = t->deadline,
        .max_response_tokens = atomic_load_explicit(&w->max_response_tokens, memory_order_relaxed),
        .cancelled = &t->cancelled,
        .usage = &t->usage,
    };
    t->usage = (struct qdeck_usage){0, 0};
    memset(&t->result, 0, sizeof t->result);
    t->result.outcome = QDECK_RETRY;
    atomic_fetch_add(&t->refs, 1);   /* the handler's */
    long max_runtime_ms = atomic_load_explicit(&h->max_runtime_ms, memory_order_relaxed);
    t->timeout = max_runtime_ms >= 0 ? (double)max_runtime_ms / 1000.0 : h->timeout;
    t->started_mono = now;
    t->timeout_at = t->started_mono + t->timeout;
    atomic_store(&t->state, TASK_RUNNING);
    pthread_mutex_lock(&w->lock);
    t->wd_prev = NULL;
    t->wd_next = w->running;
    if (w->running)
        w->running->wd_prev = t;
    w->running = t;
    if (worker_stopping(w) == 2 || (worker_stopping(w) == 1 && clock_mono() >= w->drain_deadline)) {
        atomic_store(&t->cancelled, 1);
        t->shutdown_cancel = true;
    }
    pthread_mutex_unlock(&w->lock);

    const struct qdeck_plugin *api = h->plugin->api;
    if (api->run) {
        api->run(h->instance, &t->qt, &t->result);
        slots_finish(w, st, t);
        return;
    }
    if (api->submit(h->instance, &t->qt, async_done, t) < 0) {
        snprintf(t->result.error, sizeof t->result.error, "plugin %s refused the task", api->name);
        t->result.outcome = QDECK_RETRY;
        t->submit_refused = true;
        slots_finish(w, st, t);
    }
    return;
unbusy:
    pthread_mutex_lock(&w->lock);
    slots_release(w, NULL);
    pool_wake_threads(w, pool_threads_wanted(w, w->run_len - 1, false));
    pthread_mutex_unlock(&w->lock);
}

static struct task *pop_run(struct worker *w)
{
    struct task *t = w->run_head;
    w->run_head = t->next;
    if (!w->run_head)
        w->run_tail = NULL;
    w->run_len--;
    return t;
}

static void *slot_main(void *arg)
{
    struct slot_thread *st = arg;
    struct worker *w = st->w;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    pthread_mutex_lock(&w->lock);
    for (;;) {
        if (w->done_head) {
            struct task *t = w->done_head;
            w->done_head = t->next;
            if (!w->done_head)
                w->done_tail = NULL;
            pthread_mutex_unlock(&w->lock);
            slots_finish(w, st, t);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (w->run_head && worker_stopping(w)) {
            /* not started: give back at once */
            struct task *t = pop_run(w);
            pthread_mutex_unlock(&w->lock);
            t->settle = SETTLE_RETURN;
            settle_decided(w, t);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (w->run_head && w->busy < w->concurrency) {
            struct task *t = pop_run(w);
            w->busy++;
            atomic_fetch_add(&w->busy_now, 1);
            /* this thread is taken for now: wake others if what is left needs them */
            pool_wake_threads(w, pool_threads_wanted(w, w->run_len, false));
            pthread_mutex_unlock(&w->lock);
            double t0 = clock_mono();
            slots_start_task(w, st, t);
            double held = clock_mono() - t0, avg = atomic_load_explicit(&w->occupancy, memory_order_relaxed);
            atomic_store_explicit(&w->occupancy, avg + (held - avg) / 16, memory_order_relaxed);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (w->exit_threads || w->retire > 0) {
            if (w->retire > 0)
                w->retire--;
            break;
        }
        w->waiting++;
        pthread_cond_wait(&w->cond, &w->lock);
        w->waiting--;
    }
    w->live_threads--;
    pthread_cond_broadcast(&w->gone);
    pthread_mutex_unlock(&w->lock);
    results_close(&st->results);
    free(st);
    return NULL;
}

int slots_spawn(struct worker *w)
{
    struct slot_thread *st = xcalloc(1, sizeof *st);
    st->w = w;
    st->seed = (unsigned)rand() ^ (unsigned)getpid();
    st->results = (struct results){
        .url = w->ctx ? w->ctx->redis : NULL,
        .worker_id = w->id,
        .store = w->wc->results,
        .idempotency = w->wc->idempotency,
        .result_ttl = w->wc->result_ttl,
        .idempotency_ttl = w->wc->idempotency_ttl,
        .trace_max = w->wc->trace_max,
    };
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, THREAD_STACK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    pthread_mutex_lock(&w->lock);
    w->live_threads++;
    pthread_mutex_unlock(&w->lock);
    int rc = pthread_create(&th, &attr, slot_main, st);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        pthread_mutex_lock(&w->lock);
        w->live_threads--;
        pthread_mutex_unlock(&w->lock);
        free(st);
        return -1;
    }
    return 0;
}

