/* Inside the worker (not for other modules: they use worker.h, and
 * consumers pool.h): struct worker and what the files of the pool share.
 * The pool is split by concern; worker/pool.c describes the whole and
 * holds the run queue and the accessors:
 *   handlers.c: a handler per task type (plugin instance, timeout, dependency, guardrails)
 *   stats.c: counters and per-type latency
 *   admission.c: the checks before a handler runs (shed, guard, idempotency)
 *   settle.c: counting a task settled and handing it back to its consumer
 *   decide.c: the one place a task's fate is decided
 *   slots.c: the slot threads: starting and finishing handlers
 *   watchdog.c: timeouts and abandoned handlers
 *   guardrails.c: applying policy to resilience, breaker events
 *   worker.c: create, run, stop, destroy. */
#ifndef QDECK_WORKER_INTERNAL_H
#define QDECK_WORKER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/policy.h"
#include "core/config.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"
#include "worker/plugin.h"
#include "worker/results.h"
#include "worker/task.h"
#include "worker/counters.h"

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
    /* results_batch_check, set with batch: pool_submit reaches the results
     * thread through it, so pool.c calls nothing above it */
    void (*idempotency_check)(struct results_batch *b, struct task *head, int n);
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

struct ratewait;
struct results_batch;
struct policy_watcher;

struct slot_thread {
    struct worker *w;
    struct results results;
    unsigned seed;
    struct handler *last;
};

/* handlers.c */
struct handler *handler_for(struct worker *w, struct slot_thread *st, const char *type);
void handler_free(struct handler *h);

/* stats.c */
struct worker_type_stats *stats_of_type(struct worker *w, const char *type);

/* admission.c */
bool admit_shed(struct worker *w, struct task *t, double wall);
bool admit_guard(struct worker *w, struct slot_thread *st, struct task *t, struct dependency *d, double now);
bool admit_already_done(struct worker *w, struct slot_thread *st, struct task *t);

/* decide.c */
void decide_fate(struct worker *w, struct task *t, struct results *res, unsigned *seed);

/* slots.c */
void slots_release(struct worker *w, struct task *t);
void slots_end_dependency(struct task *t, double ran);
int slots_spawn(struct worker *w);

/* watchdog.c */
void *watchdog_main(void *arg);

/* guardrails.c */
void guardrails_on_breaker_event(void *ctx, const struct breaker_event *ev);
void *guardrails_main(void *arg);

#endif
