/* A dependency's resilience stack and its guardrails (see dependency.h). */
#include "resilience/dependency.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

int dependency_set_init(struct dependency_set *s, const struct config *cfg, const struct breaker_clock *clock,
                        breaker_listener listener, void *listener_ctx, char *err, size_t errlen)
{
    s->n = 0;
    s->deps = xcalloc(cfg->ndependencies ? cfg->ndependencies : 1, sizeof *s->deps);
    for (size_t i = 0; i < cfg->ndependencies; i++) {
        const struct dependency_config *dc = &cfg->dependencies[i];
        struct dependency *d = &s->deps[i];
        d->breaker = breaker_new(dc, clock, err, errlen);
        if (!d->breaker) {
            dependency_set_fini(s);
            return -1;
        }
        if (listener)
            breaker_set_listener(d->breaker, listener, listener_ctx);
        d->name = xstrdup(dc->name);
        struct ratelimit_clock rc = {clock ? clock->now : NULL, clock ? clock->ctx : NULL};
        ratelimit_init(&d->rate, dc, &rc);
        bulkhead_init(&d->bulkhead, dc->max_concurrent);
        d->fallback = dc->fallback ? xstrdup(dc->fallback) : NULL;
        d->configured_rate = dc->rate;
        atomic_init(&d->fallback_forced, false);
        atomic_init(&d->fallbacks, 0);
        s->n++;
    }
    return 0;
}

void dependency_set_fini(struct dependency_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        breaker_free(s->deps[i].breaker);
        ratelimit_fini(&s->deps[i].rate);
        free(s->deps[i].name);
        free(s->deps[i].fallback);
    }
    free(s->deps);
    s->deps = NULL;
    s->n = 0;
}

struct dependency *dependency_find(const struct dependency_set *s, const char *name)
{
    for (size_t i = 0; name && i < s->n; i++)
        if (strcmp(s->deps[i].name, name) == 0)
            return &s->deps[i];
    return NULL;
}

bool dependency_rate_limited(struct dependency *d)
{
    struct ratelimit_stats rs;
    ratelimit_stats(&d->rate, &rs);
    return rs.rate > 0;
}

/* The rate step: granted already, queued for a reservation, or acquired here. */
static int rate_step(struct dependency *d, redisContext *redis, unsigned flags, double *retry_after)
{
    if (flags & DEP_RATE_GRANTED)
        return 0;
    if (flags & DEP_RATE_QUEUED)
        return dependency_rate_limited(d) ? -1 : 0;
    return ratelimit_acquire(&d->rate, redis, retry_after);
}

enum dependency_verdict dependency_begin(struct dependency *d, redisContext *redis, double now, unsigned flags,
                                         struct dependency_call *call, double *retry_after)
{
    call->dep = d;
    call->permit = (struct breaker_permit){.ended = 1};
    if (retry_after)
        *retry_after = 0;
    if (d->fallback && atomic_load_explicit(&d->fallback_forced, memory_order_relaxed)) {
        atomic_fetch_add_explicit(&d->fallbacks, 1, memory_order_relaxed);
        return DEP_FALLBACK;
    }
    if (breaker_acquire_at(d->breaker, &call->permit, now) < 0) {
        if (d->fallback) {
            atomic_fetch_add_explicit(&d->fallbacks, 1, memory_order_relaxed);
            return DEP_FALLBACK;
        }
        return DEP_OPEN;
    }
    if (rate_step(d, redis, flags, retry_after) < 0) {
        breaker_end(&call->permit, BREAKER_RELEASE, 0);
        return DEP_THROTTLED;
    }
    if (bulkhead_try_acquire(&d->bulkhead) < 0) {
        breaker_end(&call->permit, BREAKER_RELEASE, 0);
        if (retry_after)
            *retry_after = 0.05;
        return DEP_FULL;
    }
    return DEP_CALL;
}

void dependency_end(struct dependency_call *call, enum breaker_outcome outcome, double duration)
{
    if (!call->dep || call->permit.ended) {
        /* not a DEP_CALL, or ended already: the breaker counts a double end */
        if (call->dep && call->permit.breaker)
            breaker_end(&call->permit, outcome, duration);
        return;
    }
    bulkhead_release(&call->dep->bulkhead);
    breaker_end(&call->permit, outcome, duration);
}

const char *dependency_verdict_name(enum dependency_verdict v)
{
    switch (v) {
    case DEP_CALL: return "call";
    case DEP_FALLBACK: return "fallback";
    case DEP_OPEN: return "open";
    case DEP_THROTTLED: return "throttled";
    case DEP_FULL: return "full";
    }
    return "?";
}

cJSON *dependency_set_json(const struct dependency_set *s)
{
    cJSON *all = cJSON_CreateObject();
    for (size_t i = 0; i < s->n; i++) {
        struct dependency *d = &s->deps[i];
        struct breaker_stats bs;
        struct ratelimit_stats rs;
        breaker_stats(d->breaker, &bs);
        ratelimit_stats(&d->rate, &rs);
        cJSON *o = breaker_stats_json(&bs);
        cJSON_AddNumberToObject(o, "rate", rs.rate);
        cJSON_AddNumberToObject(o, "burst", rs.burst);
        cJSON_AddNumberToObject(o, "tokens", floor(rs.tokens * 10) / 10);
        cJSON_AddNumberToObject(o, "throttled", (double)rs.throttled);
        cJSON_AddBoolToObject(o, "fleet", rs.fleet);
        cJSON_AddNumberToObject(o, "in_use", bulkhead_in_use(&d->bulkhead));
        cJSON_AddNumberToObject(o, "max_concurrent", d->bulkhead.max);
        cJSON_AddNumberToObject(o, "bulkhead_rejected", (double)bulkhead_rejected(&d->bulkhead));
        cJSON_AddBoolToObject(o, "fallback", d->fallback && atomic_load(&d->fallback_forced));
        cJSON_AddNumberToObject(o, "fallbacks", (double)atomic_load(&d->fallbacks));
        cJSON_AddItemToObject(all, d->name, o);
    }
    return all;
}
