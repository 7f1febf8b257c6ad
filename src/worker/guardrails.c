/* Applying policy to resilience (docs/control-plane.md): the control thread
 * watches the guardrail snapshot and applies it to the dependencies and
 * queues, appends breaker transitions to qdeck:events, and reports what is
 * in force for the heartbeat. */
#include "worker/guardrails.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
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
#include "worker/apply-policy.h"
#include "worker/consumer.h"
#include "worker/ratewait.h"
#include "worker/worker-internal.h"

/* ------------------------------------------------------------ control */

/* Breaker transitions, from whichever thread ended the deciding permit:
 * queued here, appended to qdeck:events by the control thread (no Redis
 * round trip on a slot thread). */
void guardrails_on_breaker_event(void *ctx, const struct breaker_event *ev)
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
static void guardrails_apply_policy(struct worker *w, struct policy *p)
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

static void guardrails_flush_events(struct worker *w, redisContext **redis)
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
void *guardrails_main(void *arg)
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
                guardrails_apply_policy(w, p);
                policy_release(p);
                seen = v;
            }
        }
        guardrails_flush_events(w, &redis);
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
    /* per queue: tasks finished, and per second since the last report (the
     * heartbeat thread is the only caller), so the console can fill a
     * Redis queue's out rate from one reading */
    cJSON *done = cJSON_AddObjectToObject(report, "queue_done");
    cJSON *rate = cJSON_AddObjectToObject(report, "queue_rate");
    double now = clock_mono();
    for (size_t i = 0; i < w->nconsumers; i++) {
        struct consumer *c = w->consumers[i];
        uint64_t n = atomic_load(&c->done);
        cJSON_AddNumberToObject(done, c->label, (double)n);
        if (c->done_seen_at > 0 && now > c->done_seen_at)
            cJSON_AddNumberToObject(rate, c->label,
                                    round((double)(n - c->done_seen) / (now - c->done_seen_at) * 100) / 100);
        c->done_seen = n;
        c->done_seen_at = now;
    }
}

