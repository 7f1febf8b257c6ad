/* The worker's life (worker.h): create, run, stop, destroy. The pool it
 * runs is described in worker/pool.c. */
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
#include "control/policy-watcher.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"
#include "worker/consumer-backends.h"
#include "worker/consumer.h"
#include "worker/plugin.h"
#include "worker/ratewait.h"
#include "worker/results-batch.h"
#include "worker/results.h"
#include "worker/worker-internal.h"

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
    if (dependency_set_init(&w->deps, cfg, NULL, guardrails_on_breaker_event, w, err, errlen) < 0) {
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
        .result_ttl = w->wc->result_ttl, .idempotency_ttl = w->wc->idempotency_ttl, .trace_max = w->wc->trace_max};

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
        w->consumers[w->nconsumers++] = consumer_new(w, &addr, w->prefetch, consumer_backend(addr.kind));
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
    w->idempotency_check = results_batch_check;
    if (!w->batch && err[0])
        log_warn("%s: result records and idempotency checks go one task at a time", err);
    int nthreads = w->concurrency < MAX_THREADS ? w->concurrency : MAX_THREADS;
    for (int i = 0; i < nthreads; i++)
        if (slots_spawn(w) < 0) {
            log_error("cannot start slot threads");
            return -1;
        }
    if (pthread_create(&w->watchdog, NULL, watchdog_main, w) == 0)
        w->watchdog_started = true;
    if (pthread_create(&w->control, NULL, guardrails_main, w) == 0)
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
        slots_end_dependency(t, 0);
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

