/* The worker pool: slots that run handler plugins, the watchdog, counters,
 * and the worker's life (create, run, stop, destroy). See worker.h.
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
#include "worker/worker.h"

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
#include "worker/consumer.h"
#include "worker/plugin.h"
#include "worker/pool.h"
#include "worker/ratewait.h"
#include "worker/redis-link.h"
#include "worker/results-batch.h"
#include "worker/results.h"
#include "worker/retry.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"

#define MAX_THREADS 256
#define THREAD_STACK (256 * 1024)
#define WATCHDOG_PERIOD_MS 50
#define ABANDON_GRACE 2.0
#define MAX_TYPES 32
#define MAX_HANDLERS 256
#define CONTROL_PERIOD_MS 100
#define MAX_PENDING_EVENTS 64
#define WAKE_SLICE 0.0002     /* seconds of queued work that justify waking another slot thread */
#define STALE_QUEUE 0.005     /* the watchdog wakes threads for tasks received longer ago than this and still queued */

struct handler {
    char *type;
    struct plugin *plugin;      /* NULL: cannot run this type (error says why) */
    void *instance;
    double timeout;
    int max_attempts;           /* 0: envelope / worker default */
    struct dependency *dep;     /* its [dependency], or NULL */
    _Atomic long max_runtime_ms;   /* task.<type>.max_runtime_ms, -1: off */
    char error[256];
};

struct worker {
    const struct config *cfg;
    const struct worker_config *wc;
    const struct context_config *ctx;
    char id[96];
    char *queues;
    char *plugin_dir;
    int concurrency, prefetch;
    void (*on_tick)(struct worker *w, void *arg);
    void *tick_arg;
    double every;

    struct consumer **consumers;
    size_t nconsumers;

    pthread_mutex_t handlers_lock;
    struct handler *handlers[MAX_HANDLERS];
    size_t nhandlers;

    pthread_mutex_t lock;       /* run queue, completions, running list, threads */
    pthread_cond_t cond;        /* work for slot threads */
    pthread_cond_t gone;        /* a slot thread exited */
    struct task *run_head, *run_tail;
    int run_len;
    _Atomic double occupancy;   /* seconds a task holds a slot thread (moving average) */
    struct task *done_head, *done_tail;
    struct task *running;       /* watchdog's list */
    int busy;
    int waiting;                /* slot threads in cond_wait */
    int live_threads, retire;
    bool exit_threads;

    pthread_t watchdog;
    bool watchdog_started;
    struct results watchdog_results;
    struct results_batch *batch;   /* per-task Redis work, pipelined; NULL: none, or synchronous */
    unsigned watchdog_seed;

    _Atomic int stopping;
    double drain_deadline;
    int stop_pipe[2];

    _Atomic uint64_t processed, failed, retried, dead, parked, skipped, shed, fallbacks;
    _Atomic int in_flight;
    _Atomic int busy_now;

    pthread_mutex_t types_lock;
    struct worker_type_stats types[MAX_TYPES];
    _Atomic size_t ntypes;

    /* resilience: one stack per [dependency NAME], the guardrails in force */
    struct dependency_set deps;
    struct ratewait **rooms;         /* rate waiting room of deps.deps[i] */
    struct policy_watcher *policy;   /* NULL without Redis */
    pthread_mutex_t policy_lock;
    struct policy *applied;          /* the snapshot last applied (heartbeat) */
    _Atomic long max_response_tokens;
    _Atomic bool policy_loaded;
    struct shed_codel codel;
    pthread_t control;
    bool control_started;
    _Atomic bool control_exit;
    pthread_mutex_t events_lock;     /* breaker transitions waiting for qdeck:events */
    char *events[MAX_PENDING_EVENTS][2];
    int nevents;
};

struct slot_thread {
    struct worker *w;
    struct results results;
    unsigned seed;
    struct handler *last;
};

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

/* ------------------------------------------------------------ handlers */

static struct handler *handler_new(struct worker *w, const char *type)
{
    struct handler *h = xcalloc(1, sizeof *h);
    h->type = xstrdup(type);
    const struct task_config *tc = config_task(w->cfg, type);
    struct task_config defaults;
    if (!tc) {
        config_task_init(&defaults, type);
        tc = &defaults;
    }
    h->timeout = tc->timeout;
    h->max_attempts = tc->max_attempts;
    atomic_init(&h->max_runtime_ms, -1);
    if (tc->dependency && *tc->dependency) {
        h->dep = dependency_find(&w->deps, tc->dependency);
        if (!h->dep)
            log_warn("task type %s: no [dependency %s] section: its calls are not guarded", type, tc->dependency);
    }
    pthread_mutex_lock(&w->policy_lock);
    const struct policy_task *pt = w->applied ? policy_task(w->applied, type) : NULL;
    if (pt)
        atomic_store(&h->max_runtime_ms, pt->max_runtime_ms);
    pthread_mutex_unlock(&w->policy_lock);
    const char *plugin = tc->handler && *tc->handler ? tc->handler : type;
    char err[sizeof h->error];
    h->plugin = plugin_load(w->plugin_dir, plugin, err, sizeof err);
    if (h->plugin) {
        h->instance = h->plugin->api->create(tc->args ? tc->args : "", err, sizeof err);
        if (!h->instance) {
            snprintf(h->error, sizeof h->error, "plugin %.40s refused task type '%.60s': %.120s", plugin, type, err);
            plugin_unload(h->plugin);
            h->plugin = NULL;
        }
    } else {
        snprintf(h->error, sizeof h->error, "no handler for task type '%.60s': %.150s", type, err);
    }
    if (h->plugin)
        log_info("task type %s: plugin %s %s, timeout %.3gs", type, h->plugin->api->name,
                 h->plugin->api->version ? h->plugin->api->version : "", h->timeout);
    else
        log_warn("%s", h->error);
    if (tc == &defaults)
        config_task_free(&defaults);
    return h;
}

static struct handler *handler_for(struct worker *w, struct slot_thread *st, const char *type)
{
    if (st && st->last && strcmp(st->last->type, type) == 0)
        return st->last;
    pthread_mutex_lock(&w->handlers_lock);
    struct handler *h = NULL;
    for (size_t i = 0; i < w->nhandlers && !h; i++)
        if (strcmp(w->handlers[i]->type, type) == 0)
            h = w->handlers[i];
    if (!h && w->nhandlers < MAX_HANDLERS) {
        h = handler_new(w, type);
        w->handlers[w->nhandlers++] = h;
    }
    pthread_mutex_unlock(&w->handlers_lock);
    if (st && h)
        st->last = h;
    return h;
}

static void handler_free(struct handler *h)
{
    if (h->plugin) {
        if (h->plugin->api->destroy)
            h->plugin->api->destroy(h->instance);
        plugin_unload(h->plugin);
    }
    free(h->type);
    free(h);
}

/* ------------------------------------------------------------ stats */

static struct worker_type_stats *type_stats(struct worker *w, const char *type)
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
    }
}

/* How many more sleeping slot threads the queued work needs, under w->lock.
 * Waking a thread costs a futex call and a context switch on each side, more
 * than a quick task, so threads are woken by the work waiting, in units of
 * WAKE_SLICE of expected occupancy: a batch of instant tasks wakes one thread
 * that runs them all; slow tasks wake one thread each. A task that turns out
 * slower than expected leaves the rest waiting: the watchdog wakes threads
 * for work queued longer than STALE_QUEUE. */
static int threads_wanted(struct worker *w, int queued, bool nobody_awake)
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

static void wake_threads(struct worker *w, int n)
{
    if (n >= w->waiting && n > 1)
        pthread_cond_broadcast(&w->cond);
    else
        for (int i = 0; i < n; i++)
            pthread_cond_signal(&w->cond);
}

/* A slot is free again, under w->lock; t (when started) leaves the
 * watchdog's running list. */
static void release_slot(struct worker *w, struct task *t)
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
        struct worker_type_stats *s = type_stats(w, t->type);
        if (s)
            histogram_record_seconds(s->end_to_end, clock_wall() - t->created_at);
    }
    consumer_settle_later(t->consumer, t);
}

void pool_completed(struct worker *w, struct task *t)
{
    atomic_fetch_add(&w->processed, 1);
    struct worker_type_stats *s = t->type[0] ? type_stats(w, t->type) : NULL;
    if (s)
        __atomic_fetch_add(&s->processed, 1, __ATOMIC_RELAXED);
    pool_decided(w, t);
}

/* Stores what must be stored before the broker hears of it, then settles.
 * Runs on a slot thread or the watchdog. */
static void decide(struct worker *w, struct task *t, struct results *res, unsigned *seed)
{
    if (t->settle == SETTLE_RETURN) {
        if (w->batch)
            results_batch_return(w->batch, t);
        else
            pool_decided(w, t);
        return;
    }
    if (t->settle == SETTLE_ACK) {
        /* ack only after the done key and the result are stored */
        if (w->batch) {
            results_batch_completed(w->batch, t);
            return;
        }
        while (results_completed(res, t) < 0) {
            if (worker_stopping(w) == 2 || (worker_stopping(w) == 1 && clock_mono() > w->drain_deadline)) {
                log_warn("task %s finished but its result could not be stored: given back", t->id);
                t->settle = SETTLE_RETURN;
                pool_decided(w, t);
                return;
            }
            usleep(200 * 1000);
        }
        pool_completed(w, t);
        return;
    }
    /* the task did not succeed: retry or dead letter */
    if (t->settle == SETTLE_RETRY && t->attempt >= t->max_attempts) {
        t->settle = SETTLE_DEAD;
        t->dead_reason = "max_attempts";
    }
    if (t->settle == SETTLE_RETRY && !t->deferred)
        t->retry_delay = retry_delay(w->wc->retry_base, w->wc->retry_cap, t->attempt, seed);
    if (!t->poison && !t->deferred && !t->shed) {
        atomic_fetch_add(&w->failed, 1);
        struct worker_type_stats *s = t->type[0] ? type_stats(w, t->type) : NULL;
        if (s)
            __atomic_fetch_add(&s->failed, 1, __ATOMIC_RELAXED);
    }
    if (t->park)
        log_info("task %s (%s) from %s parked (%s): %s", t->id, t->type, t->consumer->label, t->dead_reason,
                 t->error);
    else if (t->settle == SETTLE_DEAD)
        log_warn("task %s (%s) from %s dead-lettered: %s: %s (attempt %d)", t->id, t->type[0] ? t->type : "?",
                 t->consumer->label, t->dead_reason, t->error, t->attempt);
    else
        log_info("task %s (%s) retry in %.3fs after attempt %d/%d: %s", t->id, t->type, t->retry_delay, t->attempt,
                 t->max_attempts, t->error);
    if (t->env && !t->park && w->batch) {
        results_batch_failed(w->batch, t);   /* settled once the record is out */
        return;
    }
    if (t->env && !t->park)
        results_failed(res, t, t->settle == SETTLE_DEAD);
    pool_decided(w, t);
}

/* Ends the task's dependency permit with its one outcome: success, error
 * (failure, timeout, watchdog), or release (shutdown, never submitted).
 * Called once: by finish(), or by the watchdog when it abandons the task
 * (finish() then loses the state race and does not get here). */
static void end_dependency(struct task *t, double ran)
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
static void finish(struct worker *w, struct slot_thread *st, struct task *t)
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
    release_slot(w, t);
    /* a slot is free: this thread takes the next task, others what is left */
    wake_threads(w, threads_wanted(w, w->run_len - 1, false));
    pthread_mutex_unlock(&w->lock);

    double ran = clock_mono() - t->started_mono;
    struct worker_type_stats *s = type_stats(w, t->type);
    if (s)
        histogram_record_seconds(s->run_time, ran);
    task_unref(t);   /* the handler's reference; the settlement's remains */
    end_dependency(t, ran);

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
    decide(w, t, &st->results, &st->seed);
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
static bool shed(struct worker *w, struct task *t, double wall)
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
static bool guard(struct worker *w, struct slot_thread *st, struct task *t, struct dependency *d, double now)
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
            pool_decided(w, t);
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
        decide(w, t, &st->results, &st->seed);
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
        decide(w, t, &st->results, &st->seed);
        return true;
    }
    /* throttled or bulkhead full: not an attempt; back after retry_after */
    snprintf(t->error, sizeof t->error, "%s %s", v == DEP_THROTTLED ? "rate limit of" : "bulkhead full:", d->name);
    t->attempt--;
    t->settle = SETTLE_RETRY;
    t->retry_delay = retry_after > 0.01 ? retry_after : 0.01;
    t->deferred = true;
    decide(w, t, &st->results, &st->seed);
    return true;
}

/* The idempotency check: asked in batches before the task was queued
 * (w->batch), else here. Redis away: not done (the task runs, and is not
 * acked before its mark is stored). */
static bool already_done(struct worker *w, struct slot_thread *st, struct task *t)
{
    if (w->batch)
        return t->idem_done;
    bool done = false;
    return results_is_done(&st->results, t, &done) == 0 && done;
}

/* Runs (or submits) one task. Slot thread; w->busy already counts it. */
static void start(struct worker *w, struct slot_thread *st, struct task *t)
{
    struct handler *h = t->poison ? NULL : handler_for(w, st, t->type);
    if (!t->poison && h && h->plugin && already_done(w, st, t)) {
        atomic_fetch_add(&w->skipped, 1);
        log_info("task %s (%s) already completed: acked without running", t->id, t->type);
        t->settle = SETTLE_ACK;
        atomic_fetch_add(&w->processed, 1);
        pool_decided(w, t);
        goto unbusy;
    }
    if (t->poison || !h || !h->plugin) {
        if (!t->poison) {
            t->poison = "poison";
            snprintf(t->error, sizeof t->error, "%s", h ? h->error : "too many task types");
        }
        t->settle = SETTLE_DEAD;
        t->dead_reason = "poison";
        decide(w, t, &st->results, &st->seed);
        goto unbusy;
    }
    if (t->deadline > 0 && clock_wall() > t->deadline) {
        snprintf(t->error, sizeof t->error, "its deadline passed %.3fs before it could start",
                 clock_wall() - t->deadline);
        t->settle = SETTLE_DEAD;
        t->dead_reason = "expired";
        decide(w, t, &st->results, &st->seed);
        goto unbusy;
    }
    t->handler = h;
    if (h->max_attempts > 0 && !cJSON_GetObjectItemCaseSensitive(t->env, "max_attempts"))
        t->max_attempts = h->max_attempts;
    double wall = clock_wall();
    if (shed(w, t, wall)) {
        decide(w, t, &st->results, &st->seed);
        goto unbusy;
    }
    double now = clock_mono();
    if (h->dep && guard(w, st, t, h->dep, now))
        goto unbusy;
    t->started_wall = wall;
    if (w->batch)
        results_batch_processing(w->batch, t);
    else
        results_processing(&st->results, t);
    struct worker_type_stats *s = type_stats(w, t->type);
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
    };
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
        t->cancelled = 1;
        t->shutdown_cancel = true;
    }
    pthread_mutex_unlock(&w->lock);

    const struct qdeck_plugin *api = h->plugin->api;
    if (api->run) {
        api->run(h->instance, &t->qt, &t->result);
        finish(w, st, t);
        return;
    }
    if (api->submit(h->instance, &t->qt, async_done, t) < 0) {
        snprintf(t->result.error, sizeof t->result.error, "plugin %s refused the task", api->name);
        t->result.outcome = QDECK_RETRY;
        t->submit_refused = true;
        finish(w, st, t);
    }
    return;
unbusy:
    pthread_mutex_lock(&w->lock);
    release_slot(w, NULL);
    wake_threads(w, threads_wanted(w, w->run_len - 1, false));
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
            finish(w, st, t);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (w->run_head && worker_stopping(w)) {
            /* not started: give back at once */
            struct task *t = pop_run(w);
            pthread_mutex_unlock(&w->lock);
            t->settle = SETTLE_RETURN;
            pool_decided(w, t);
            pthread_mutex_lock(&w->lock);
            continue;
        }
        if (w->run_head && w->busy < w->concurrency) {
            struct task *t = pop_run(w);
            w->busy++;
            atomic_fetch_add(&w->busy_now, 1);
            /* this thread is taken for now: wake others if what is left needs them */
            wake_threads(w, threads_wanted(w, w->run_len, false));
            pthread_mutex_unlock(&w->lock);
            double t0 = clock_mono();
            start(w, st, t);
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

static int spawn_slot(struct worker *w)
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
    wake_threads(w, threads_wanted(w, w->run_len, true));
    pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------------ watchdog */

static void *watchdog_main(void *arg)
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
            wake_threads(w, free_slots < w->run_len ? free_slots : w->run_len);   /* tasks slower than usual */
        for (struct task *t = w->running; t; t = t->wd_next) {
            if (!t->cancelled && (now >= t->timeout_at || drain_over)) {
                t->cancelled = 1;
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
            release_slot(w, t);
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
            if (t->handler->plugin->api->run && spawn_slot(w) < 0)
                log_error("cannot start a replacement slot thread");
            snprintf(t->error, sizeof t->error, "timed out after %.3gs (handler did not stop)", t->timeout);
            end_dependency(t, clock_mono() - t->started_mono);
            t->settle = t->shutdown_cancel ? SETTLE_RETURN : SETTLE_RETRY;
            decide(w, t, &w->watchdog_results, &w->watchdog_seed);
        }
        pthread_mutex_lock(&w->lock);
        pthread_cond_broadcast(&w->cond);
        pthread_mutex_unlock(&w->lock);
    }
    results_close(&w->watchdog_results);
    return NULL;
}

/* ------------------------------------------------------------ control */

/* Breaker transitions, from whichever thread ended the deciding permit:
 * queued here, appended to qdeck:events by the control thread (no Redis
 * round trip on a slot thread). */
static void on_breaker_event(void *ctx, const struct breaker_event *ev)
{
    struct worker *w = ctx;
    char text[200];
    if (ev->failure_rate >= 0)
        snprintf(text, sizeof text, "breaker %s %s -> %s (%s; failure rate %.0f%%, slow rate %.0f%%) on %s", ev->name,
                 breaker_state_name(ev->from), breaker_state_name(ev->to), ev->reason, ev->failure_rate,
                 ev->slow_rate, w->id);
    else
        snprintf(text, sizeof text, "breaker %s %s -> %s (%s) on %s", ev->name, breaker_state_name(ev->from),
                 breaker_state_name(ev->to), ev->reason, w->id);
    log_warn("%s", text);
    pthread_mutex_lock(&w->events_lock);
    if (w->nevents < MAX_PENDING_EVENTS) {
        w->events[w->nevents][0] = xstrdup(ev->name);
        w->events[w->nevents][1] = xstrdup(text);
        w->nevents++;
    }
    pthread_mutex_unlock(&w->events_lock);
}

/* A new guardrail snapshot: dependency overrides and breaker commands,
 * per-type runtime limits, the token budget, each queue's shedding. */
static void apply_policy(struct worker *w, struct policy *p)
{
    dependency_set_apply_policy(&w->deps, p);
    atomic_store(&w->max_response_tokens, p->budget_max_response_tokens);
    pthread_mutex_lock(&w->handlers_lock);
    for (size_t i = 0; i < w->nhandlers; i++) {
        const struct policy_task *pt = policy_task(p, w->handlers[i]->type);
        atomic_store(&w->handlers[i]->max_runtime_ms, pt ? pt->max_runtime_ms : -1);
    }
    pthread_mutex_unlock(&w->handlers_lock);
    for (size_t i = 0; i < w->nconsumers; i++) {
        struct consumer *c = w->consumers[i];
        struct shed_guardrails g;
        policy_shed_guardrails(p, c->label, w->wc->shed_priority, &g);
        bool was_paused = atomic_exchange(&c->paused, g.paused);
        atomic_store(&c->shed_priority_below, g.priority_below);
        atomic_store(&c->max_depth, g.max_depth);
        atomic_store(&c->auto_shed, g.auto_shed);
        if (was_paused != g.paused)
            log_info("consumer %s: %s", c->label, g.paused ? "paused (queue guardrail)" : "resumed");
    }
    if (p->loaded)
        atomic_store(&w->policy_loaded, true);
    pthread_mutex_lock(&w->policy_lock);
    struct policy *old = w->applied;
    w->applied = policy_ref(p);
    pthread_mutex_unlock(&w->policy_lock);
    if (old)
        policy_release(old);
}

static void flush_events(struct worker *w, redisContext **redis)
{
    pthread_mutex_lock(&w->events_lock);
    int n = w->nevents;
    char *ev[MAX_PENDING_EVENTS][2];
    memcpy(ev, w->events, sizeof ev[0] * (size_t)n);
    w->nevents = 0;
    pthread_mutex_unlock(&w->events_lock);
    for (int i = 0; i < n; i++) {
        char err[256];
        if (!*redis && w->ctx->redis)
            *redis = policy_connect(w->ctx->redis, 2.0, err, sizeof err);
        if (*redis && events_append(*redis, "breaker", ev[i][0], ev[i][1], err, sizeof err) < 0) {
            log_warn("breaker event not recorded: %s", err);
            redisFree(*redis);
            *redis = NULL;
        }
        free(ev[i][0]);
        free(ev[i][1]);
    }
}

/* The control thread: applies every new guardrail snapshot (the watcher
 * reloads at least every second: a change is in force within ~1.1 s) and
 * records breaker transitions as events. */
static void *control_main(void *arg)
{
    struct worker *w = arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    redisContext *redis = NULL;
    uint64_t seen = 0;
    bool last = false;
    for (;;) {
        if (w->policy) {
            uint64_t v = policy_watcher_version(w->policy);
            if (v != seen) {
                struct policy *p = policy_watcher_get(w->policy);
                apply_policy(w, p);
                policy_release(p);
                seen = v;
            }
        }
        flush_events(w, &redis);
        if (last)
            break;
        if (atomic_load(&w->control_exit))
            last = true;   /* one more round: transitions of the drain get recorded */
        else
            usleep(CONTROL_PERIOD_MS * 1000);
    }
    if (redis)
        redisFree(redis);
    return NULL;
}

void worker_report_resilience(struct worker *w, cJSON *report)
{
    cJSON_AddItemToObject(report, "breakers", dependency_set_json(&w->deps));
    cJSON *limiters = cJSON_AddObjectToObject(report, "limiters");
    for (size_t i = 0; i < w->deps.n; i++) {
        struct ratelimit_stats rs;
        ratelimit_stats(&w->deps.deps[i].rate, &rs);
        cJSON *o = cJSON_AddObjectToObject(limiters, w->deps.deps[i].name);
        cJSON_AddNumberToObject(o, "rate", rs.rate);
        cJSON_AddNumberToObject(o, "burst", rs.burst);
        cJSON_AddNumberToObject(o, "tokens", (double)(long)(rs.tokens * 10) / 10);
        cJSON_AddNumberToObject(o, "allowed", (double)rs.allowed);
        cJSON_AddNumberToObject(o, "throttled", (double)rs.throttled);
        cJSON_AddNumberToObject(o, "waiting", ratewait_waiting(w->rooms[i]));
        cJSON_AddNumberToObject(o, "lapsed", (double)ratewait_lapsed(w->rooms[i]));
        cJSON_AddNumberToObject(o, "bulkhead_waiting", ratewait_waiting_bulkhead(w->rooms[i]));
        cJSON_AddBoolToObject(o, "fleet", rs.fleet);
    }
    pthread_mutex_lock(&w->policy_lock);
    if (w->applied)
        cJSON_AddItemToObject(report, "policy", policy_applied_json(w->applied));
    pthread_mutex_unlock(&w->policy_lock);
    cJSON_AddNumberToObject(report, "shed", (double)atomic_load(&w->shed));
    cJSON_AddNumberToObject(report, "fallbacks", (double)atomic_load(&w->fallbacks));
    cJSON *paused = cJSON_AddArrayToObject(report, "paused");
    for (size_t i = 0; i < w->nconsumers; i++)
        if (atomic_load(&w->consumers[i]->paused))
            cJSON_AddItemToArray(paused, cJSON_CreateString(w->consumers[i]->label));
}

/* ------------------------------------------------------------ life */

struct worker *worker_create(const struct worker_options *opt, char *err, size_t errlen)
{
    const struct config *cfg = opt->cfg;
    const char *queues = opt->queues ? opt->queues : cfg->worker.queues;
    if (!opt->ctx || (!opt->ctx->amqp && !opt->ctx->redis)) {
        snprintf(err, errlen, "no broker to consume from: give --amqp and/or --redis (or a [context])");
        return NULL;
    }
    if (!queues || !*queues) {
        snprintf(err, errlen, "no queues to consume: give --queues or [worker] queues");
        return NULL;
    }
    struct worker *w = xcalloc(1, sizeof *w);
    w->cfg = cfg;
    w->wc = &cfg->worker;
    w->ctx = opt->ctx;
    w->queues = xstrdup(queues);
    w->on_tick = opt->on_tick;
    w->tick_arg = opt->tick_arg;
    w->every = opt->every > 0 ? opt->every : 1.0;
    w->concurrency = opt->concurrency > 0 ? opt->concurrency : cfg->worker.concurrency;
    atomic_init(&w->occupancy, WAKE_SLICE);   /* tasks are taken as slow until they prove quick */
    w->prefetch = opt->prefetch > 0 ? opt->prefetch : cfg->worker.prefetch > 0 ? cfg->worker.prefetch : w->concurrency;
    w->plugin_dir = opt->plugin_dir ? xstrdup(opt->plugin_dir)
                    : cfg->worker.plugin_dir && *cfg->worker.plugin_dir ? xstrdup(cfg->worker.plugin_dir)
                                                                        : plugin_default_dir();
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    for (char *p = host; *p; p++)
        if (*p == ':' || *p == ' ')
            *p = '-';
    char uuid[40];
    task_uuid(uuid);
    snprintf(w->id, sizeof w->id, "%s-%d-%.8s", host, (int)getpid(), uuid);
    /* slot threads hold it for a few instructions at a time: spin a little
     * before sleeping in the kernel */
    pthread_mutexattr_t adaptive;
    pthread_mutexattr_init(&adaptive);
    pthread_mutexattr_settype(&adaptive, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&w->lock, &adaptive);
    pthread_mutexattr_destroy(&adaptive);
    pthread_mutex_init(&w->handlers_lock, NULL);
    pthread_mutex_init(&w->types_lock, NULL);
    pthread_mutex_init(&w->policy_lock, NULL);
    pthread_mutex_init(&w->events_lock, NULL);
    atomic_init(&w->max_response_tokens, -1);
    shed_codel_init(&w->codel, cfg->worker.shed_target > 0 ? cfg->worker.shed_target : 0.1, SHED_CODEL_INTERVAL);
    if (dependency_set_init(&w->deps, cfg, NULL, on_breaker_event, w, err, errlen) < 0) {
        w->deps.deps = NULL;
        w->deps.n = 0;
        worker_destroy(w);
        return NULL;
    }
    w->rooms = xcalloc(w->deps.n ? w->deps.n : 1, sizeof *w->rooms);
    for (size_t i = 0; i < w->deps.n; i++)
        w->rooms[i] = ratewait_new(w, &w->deps.deps[i], opt->ctx->redis);
    if (opt->ctx->redis)
        w->policy = policy_watcher_start(opt->ctx->redis, opt->ctx->timeout > 0 ? opt->ctx->timeout : 2.0);
    pthread_cond_init(&w->cond, NULL);
    pthread_cond_init(&w->gone, NULL);
    if (pipe2(w->stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        worker_destroy(w);
        return NULL;
    }
    w->watchdog_seed = (unsigned)getpid();
    w->watchdog_results = (struct results){
        .url = w->ctx->redis, .worker_id = w->id, .store = w->wc->results, .idempotency = w->wc->idempotency,
        .result_ttl = w->wc->result_ttl, .idempotency_ttl = w->wc->idempotency_ttl};

    char **items;
    size_t n = split_list(queues, &items);
    w->consumers = xcalloc(n ? n : 1, sizeof *w->consumers);
    for (size_t i = 0; i < n; i++) {
        struct queue_address addr;
        char why[300];
        if (queue_address_parse(items[i], opt->ctx, &addr, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s", why);
            free_list(items, n);
            worker_destroy(w);
            return NULL;
        }
        if ((addr.kind == QUEUE_AMQP && !opt->ctx->amqp) || (addr.kind != QUEUE_AMQP && !opt->ctx->redis)) {
            snprintf(err, errlen, "queue %s: no %s URL configured", items[i], addr.kind == QUEUE_AMQP ? "AMQP" : "Redis");
            queue_address_free(&addr);
            free_list(items, n);
            worker_destroy(w);
            return NULL;
        }
        w->consumers[w->nconsumers++] = consumer_new(w, &addr, w->prefetch);
        queue_address_free(&addr);
    }
    free_list(items, n);
    /* load configured task types now, so a broken plugin is reported at start */
    for (size_t i = 0; i < cfg->ntasks; i++)
        handler_for(w, NULL, cfg->tasks[i].name);
    return w;
}

void worker_stop(struct worker *w, bool fast)
{
    int want = fast ? 2 : 1;
    int cur = atomic_load(&w->stopping);
    if (cur == 1 && !fast)
        want = 2;   /* a second signal is the fast one */
    if (cur >= want)
        return;
    /* the deadline is in place before anyone can see the new state */
    w->drain_deadline = want == 2 ? 0 : clock_mono() + w->wc->shutdown_timeout;
    atomic_store(&w->stopping, want);
    char b = (char)want;
    ssize_t r = write(w->stop_pipe[1], &b, 1);
    (void)r;
}

/* An asynchronous handler has a call out. w->lock held. */
static bool async_running(struct worker *w)
{
    for (struct task *t = w->running; t; t = t->wd_next)
        if (!t->handler->plugin->api->run)
            return true;
    return false;
}

static void wake_everyone(struct worker *w)
{
    pthread_mutex_lock(&w->lock);
    pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < w->nconsumers; i++) {
        char b = 1;
        ssize_t r = write(w->consumers[i]->wake[1], &b, 1);
        (void)r;
    }
}

int worker_run(struct worker *w)
{
    char err[200] = "";
    w->batch = results_batch_start(w, &w->watchdog_results, err, sizeof err);
    if (!w->batch && err[0])
        log_warn("%s: result records and idempotency checks go one task at a time", err);
    int nthreads = w->concurrency < MAX_THREADS ? w->concurrency : MAX_THREADS;
    for (int i = 0; i < nthreads; i++)
        if (spawn_slot(w) < 0) {
            log_error("cannot start slot threads");
            return -1;
        }
    if (pthread_create(&w->watchdog, NULL, watchdog_main, w) == 0)
        w->watchdog_started = true;
    if (pthread_create(&w->control, NULL, control_main, w) == 0)
        w->control_started = true;
    for (size_t i = 0; i < w->deps.n; i++)
        if (ratewait_start(w->rooms[i]) < 0)
            log_warn("dependency %s: no rate waiting room: throttled tasks take the delayed way", w->deps.deps[i].name);
    for (size_t i = 0; i < w->nconsumers; i++)
        if (consumer_start(w->consumers[i]) < 0) {
            log_error("cannot start the consumer of %s", w->consumers[i]->label);
            return -1;
        }
    log_info("worker %s: consuming %s with %d slots, prefetch %d", w->id, w->queues, w->concurrency, w->prefetch);

    if (w->on_tick)
        w->on_tick(w, w->tick_arg);
    double next_tick = clock_mono() + w->every;
    while (atomic_load(&w->stopping) == 0) {
        struct pollfd p = {.fd = w->stop_pipe[0], .events = POLLIN};
        double left = next_tick - clock_mono();
        poll(&p, 1, left > 0 ? (int)(left * 1000) + 1 : 0);
        if (clock_mono() >= next_tick && atomic_load(&w->stopping) == 0) {
            if (w->on_tick)
                w->on_tick(w, w->tick_arg);
            next_tick = clock_mono() + w->every;
        }
    }
    char b;
    while (read(w->stop_pipe[0], &b, 1) == 1) {
    }
    if (atomic_load(&w->stopping) == 1)
        log_info("worker %s: stopping: no new tasks; %d in flight get %.0fs to finish", w->id,
                 atomic_load(&w->in_flight), w->wc->shutdown_timeout);
    for (size_t i = 0; i < w->deps.n; i++)
        ratewait_stop(w->rooms[i]);   /* waiting tasks go back unacked */
    wake_everyone(w);
    /* consumers leave by themselves once drained (or at once on a fast stop) */
    for (size_t i = 0; i < w->nconsumers; i++)
        consumer_join(w->consumers[i]);
    /* asynchronous calls cancelled by the drain deadline report back through
     * done(): let the slot threads finish them (their permits are released,
     * their tasks accounted) before the threads go */
    double async_until = clock_mono() + ABANDON_GRACE;
    pthread_mutex_lock(&w->lock);
    while ((w->done_head || async_running(w)) && clock_mono() < async_until) {
        pthread_mutex_unlock(&w->lock);
        usleep(10 * 1000);
        pthread_mutex_lock(&w->lock);
    }
    w->exit_threads = true;
    pthread_cond_broadcast(&w->cond);
    double until = clock_mono() + 1.0;
    while (w->live_threads > 0 && clock_mono() < until) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&w->gone, &w->lock, &ts);
    }
    int left = w->live_threads;
    pthread_mutex_unlock(&w->lock);
    if (left)
        log_warn("worker %s: %d handler(s) still running at exit", w->id, left);
    else if (w->watchdog_started) {
        pthread_join(w->watchdog, NULL);
        w->watchdog_started = false;
    }
    if (!left)
        results_batch_stop(w->batch);   /* nothing can queue a write any more */
    if (w->control_started) {
        atomic_store(&w->control_exit, true);
        pthread_join(w->control, NULL);
        w->control_started = false;
    }
    log_info("worker %s: stopped (processed %llu, failed %llu, retried %llu, dead-lettered %llu)", w->id,
             (unsigned long long)atomic_load(&w->processed), (unsigned long long)atomic_load(&w->failed),
             (unsigned long long)atomic_load(&w->retried), (unsigned long long)atomic_load(&w->dead));
    return 0;
}

void worker_destroy(struct worker *w)
{
    if (!w)
        return;
    if (w->live_threads > 0 || w->watchdog_started)
        return;   /* a stuck handler still uses it: the process is exiting anyway */
    /* plugins first: destroying one may still complete calls (done()), and
     * those tasks point at their consumers */
    for (size_t i = 0; i < w->nhandlers; i++)
        handler_free(w->handlers[i]);
    for (struct task *t = w->done_head, *n; t; t = n) {
        /* completed after the slot threads left: the call was cut short */
        n = t->next;
        t->shutdown_cancel = true;
        end_dependency(t, 0);
        task_unref(t);                            /* the handler's reference */
        t->settle = SETTLE_RETURN;
        consumer_settle_later(t->consumer, t);    /* freed with its consumer */
    }
    w->done_head = w->done_tail = NULL;
    results_batch_free(w->batch);
    for (size_t i = 0; i < w->nconsumers; i++)
        consumer_free(w->consumers[i]);
    free(w->consumers);
    for (struct task *t = w->run_head, *n; t; t = n) {
        n = t->next;
        task_unref(t);
    }
    for (size_t i = 0; w->rooms && i < w->deps.n; i++)
        ratewait_free(w->rooms[i]);
    free(w->rooms);
    policy_watcher_stop(w->policy);
    if (w->applied)
        policy_release(w->applied);
    for (int i = 0; i < w->nevents; i++) {
        free(w->events[i][0]);
        free(w->events[i][1]);
    }
    dependency_set_fini(&w->deps);
    shed_codel_fini(&w->codel);
    pthread_mutex_destroy(&w->policy_lock);
    pthread_mutex_destroy(&w->events_lock);
    for (size_t i = 0; i < atomic_load(&w->ntypes); i++) {
        histogram_free(w->types[i].queue_wait);
        histogram_free(w->types[i].run_time);
        histogram_free(w->types[i].end_to_end);
    }
    if (w->stop_pipe[0] > 0) {
        close(w->stop_pipe[0]);
        close(w->stop_pipe[1]);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->handlers_lock);
    pthread_mutex_destroy(&w->types_lock);
    pthread_cond_destroy(&w->cond);
    pthread_cond_destroy(&w->gone);
    free(w->queues);
    free(w->plugin_dir);
    free(w);
}
