/* Circuit breaker (see breaker.h for the semantics).
 *
 * The sliding window keeps running totals (calls, failures, slow) next to
 * its ring, so recording and evaluating are O(1): a count window overwrites
 * the oldest call's flags and subtracts them; a time window has one bucket
 * per second, and moving to a new second empties the buckets that fell out
 * (at most window_size of them, once each). HALF_OPEN has its own small
 * tally of probes, as Resilience4j gives that state a fresh window of size
 * half_open_calls. */
#include "resilience/breaker.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

enum { OUTCOME_FAILED = 1, OUTCOME_SLOW = 2 };

struct second_bucket {
    int64_t second;
    int calls, failures, slow;
};

struct breaker {
    pthread_mutex_t lock;
    char *name;
    struct breaker_clock clock;
    breaker_listener listener;
    void *listener_ctx;

    /* config */
    bool time_window;
    int window_size, minimum_calls, half_open_calls;
    double failure_threshold, slow_threshold, slow_call, open_wait;

    /* state */
    enum breaker_state state;
    uint32_t epoch;
    double opened_at;
    uint64_t applied_generation;

    /* CLOSED window */
    uint8_t *ring;                 /* count window: outcome flags of the last window_size calls */
    struct second_bucket *seconds; /* time window: one bucket per second */
    int head, filled;
    int64_t last_second;
    int calls, failures, slow;

    /* HALF_OPEN probes */
    int probes_left, probe_calls, probe_failures, probe_slow;

    struct breaker_stats counters;  /* only the cumulative counters are kept here */
};

static double breaker_now(const struct breaker *b)
{
    return b->clock.now ? b->clock.now(b->clock.ctx) : clock_mono();
}

static void window_clear(struct breaker *b, double now)
{
    b->head = b->filled = 0;
    b->calls = b->failures = b->slow = 0;
    if (b->ring)
        memset(b->ring, 0, (size_t)b->window_size);
    if (b->seconds)
        memset(b->seconds, 0, (size_t)b->window_size * sizeof *b->seconds);
    b->last_second = (int64_t)floor(now);
}

/* Time window: drop the buckets of seconds that are no longer among the
 * last window_size ones. */
static void window_advance(struct breaker *b, double now)
{
    if (!b->time_window)
        return;
    int64_t sec = (int64_t)floor(now);
    if (sec <= b->last_second)
        return;
    int64_t from = b->last_second + 1;
    if (sec - from >= b->window_size)
        from = sec - b->window_size + 1;
    for (int64_t s = from; s <= sec; s++) {
        struct second_bucket *bk = &b->seconds[(size_t)(s % b->window_size)];
        b->calls -= bk->calls;
        b->failures -= bk->failures;
        b->slow -= bk->slow;
        *bk = (struct second_bucket){.second = s};
    }
    b->last_second = sec;
}

static void window_record(struct breaker *b, unsigned flags, double now)
{
    int failed = (flags & OUTCOME_FAILED) != 0, slow = (flags & OUTCOME_SLOW) != 0;
    if (b->time_window) {
        window_advance(b, now);
        struct second_bucket *bk = &b->seconds[(size_t)(b->last_second % b->window_size)];
        bk->calls++;
        bk->failures += failed;
        bk->slow += slow;
    } else {
        if (b->filled == b->window_size) {
            uint8_t old = b->ring[b->head];
            b->calls--;
            b->failures -= (old & OUTCOME_FAILED) != 0;
            b->slow -= (old & OUTCOME_SLOW) != 0;
        } else {
            b->filled++;
        }
        b->ring[b->head] = (uint8_t)flags;
        b->head = (b->head + 1) % b->window_size;
    }
    b->calls++;
    b->failures += failed;
    b->slow += slow;
}

static double rate_of(int part, int calls) { return calls ? 100.0 * part / calls : 0; }

/* A transition to `to`, decided under the lock; the event is filled for the
 * caller to emit once the lock is released. */
static void transition(struct breaker *b, enum breaker_state to, double now, const char *reason,
                       double failure_rate, double slow_rate, struct breaker_event *ev)
{
    *ev = (struct breaker_event){.name = b->name, .from = b->state, .to = to, .at = now,
                                 .failure_rate = failure_rate, .slow_rate = slow_rate, .reason = reason};
    b->state = to;
    b->epoch++;
    b->counters.transitions++;
    switch (to) {
    case BREAKER_OPEN:
        b->opened_at = now;   /* the window stays as it was: it shows why */
        break;
    case BREAKER_HALF_OPEN:
        b->probes_left = b->half_open_calls;
        b->probe_calls = b->probe_failures = b->probe_slow = 0;
        break;
    case BREAKER_CLOSED:
    case BREAKER_FORCED_OPEN:
    case BREAKER_DISABLED:
        window_clear(b, now);
        b->probes_left = 0;
        break;
    }
}

static void emit(struct breaker *b, const struct breaker_event *ev)
{
    if (ev->name == NULL)
        return;
    log_info("breaker %s: %s -> %s (%s)", b->name, breaker_state_name(ev->from), breaker_state_name(ev->to),
             ev->reason);
    if (b->listener)
        b->listener(b->listener_ctx, ev);
}

struct breaker *breaker_new(const struct dependency_config *cfg, const struct breaker_clock *clock, char *err,
                            size_t errlen)
{
    bool time_window;
    if (!cfg->window_type || strcmp(cfg->window_type, "count") == 0)
        time_window = false;
    else if (strcmp(cfg->window_type, "time") == 0)
        time_window = true;
    else {
        snprintf(err, errlen, "dependency %s: window_type must be count or time, not '%s'", cfg->name,
                 cfg->window_type);
        return NULL;
    }
    if (cfg->window_size < 1 || cfg->minimum_calls < 1 || cfg->half_open_calls < 1 ||
        !(cfg->failure_rate >= 0 && cfg->failure_rate <= 100) || !(cfg->slow_rate >= 0 && cfg->slow_rate <= 100)) {
        snprintf(err, errlen, "dependency %s: window_size, minimum_calls and half_open_calls must be >= 1, "
                 "rates 0..100", cfg->name);
        return NULL;
    }
    struct breaker *b = xcalloc(1, sizeof *b);
    /* adaptive: spin briefly before sleeping, since the lock is held for
     * a few dozen instructions and a futex round trip costs far more */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    pthread_mutex_init(&b->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    b->name = xstrdup(cfg->name ? cfg->name : "?");
    if (clock)
        b->clock = *clock;
    b->time_window = time_window;
    b->window_size = cfg->window_size;
    /* Resilience4j: a count window can never hold more than its size */
    b->minimum_calls = !time_window && cfg->minimum_calls > cfg->window_size ? cfg->window_size : cfg->minimum_calls;
    b->half_open_calls = cfg->half_open_calls;
    b->failure_threshold = cfg->failure_rate;
    b->slow_threshold = cfg->slow_rate;
    b->slow_call = cfg->slow_call;
    b->open_wait = cfg->open_wait;
    if (time_window)
        b->seconds = xcalloc((size_t)b->window_size, sizeof *b->seconds);
    else
        b->ring = xcalloc((size_t)b->window_size, 1);
    b->state = BREAKER_CLOSED;
    window_clear(b, breaker_now(b));
    return b;
}

void breaker_free(struct breaker *b)
{
    if (!b)
        return;
    pthread_mutex_destroy(&b->lock);
    free(b->ring);
    free(b->seconds);
    free(b->name);
    free(b);
}

void breaker_set_listener(struct breaker *b, breaker_listener fn, void *ctx)
{
    pthread_mutex_lock(&b->lock);
    b->listener = fn;
    b->listener_ctx = ctx;
    pthread_mutex_unlock(&b->lock);
}

const char *breaker_name(const struct breaker *b) { return b->name; }

int breaker_acquire(struct breaker *b, struct breaker_permit *p) { return breaker_acquire_at(b, p, breaker_now(b)); }

int breaker_acquire_at(struct breaker *b, struct breaker_permit *p, double now)
{
    struct breaker_event ev = {0};
    int rc = 0;
    pthread_mutex_lock(&b->lock);
    *p = (struct breaker_permit){.breaker = b, .started = now, .counted = 1};
    switch (b->state) {
    case BREAKER_CLOSED:
        break;
    case BREAKER_OPEN:
        if (now - b->opened_at < b->open_wait) {
            rc = -1;
            break;
        }
        transition(b, BREAKER_HALF_OPEN, now, "wait over", -1, -1, &ev);
        /* fall through: this call may be the first probe */
        __attribute__((fallthrough));
    case BREAKER_HALF_OPEN:
        if (b->probes_left > 0) {
            b->probes_left--;
            p->probe = 1;
        } else {
            rc = -1;
        }
        break;
    case BREAKER_FORCED_OPEN:
        rc = -1;
        break;
    case BREAKER_DISABLED:
        p->counted = 0;
        break;
    }
    if (rc == 0) {
        p->epoch = b->epoch;
        b->counters.calls_permitted++;
        b->counters.in_flight++;
    } else {
        p->ended = 1;   /* nothing to end */
        b->counters.calls_refused++;
    }
    pthread_mutex_unlock(&b->lock);
    emit(b, &ev);
    return rc;
}

/* After a CLOSED outcome: trip when the window is big enough and a rate is
 * at or above its threshold. */
static void evaluate_closed(struct breaker *b, double now, struct breaker_event *ev)
{
    if (b->calls < b->minimum_calls)
        return;
    double fr = rate_of(b->failures, b->calls), sr = rate_of(b->slow, b->calls);
    if (fr >= b->failure_threshold)
        transition(b, BREAKER_OPEN, now, "failure rate", fr, sr, ev);
    else if (sr >= b->slow_threshold)
        transition(b, BREAKER_OPEN, now, "slow rate", fr, sr, ev);
}

static void evaluate_half_open(struct breaker *b, double now, struct breaker_event *ev)
{
    if (b->probe_calls < b->half_open_calls)
        return;
    double fr = rate_of(b->probe_failures, b->probe_calls), sr = rate_of(b->probe_slow, b->probe_calls);
    if (fr >= b->failure_threshold)
        transition(b, BREAKER_OPEN, now, "probes failed", fr, sr, ev);
    else if (sr >= b->slow_threshold)
        transition(b, BREAKER_OPEN, now, "probes slow", fr, sr, ev);
    else
        transition(b, BREAKER_CLOSED, now, "probes passed", fr, sr, ev);
}

int breaker_end(struct breaker_permit *p, enum breaker_outcome outcome, double duration)
{
    struct breaker *b = p->breaker;
    if (!b)
        return -1;
    if (p->ended) {
        pthread_mutex_lock(&b->lock);
        b->counters.double_ends++;
        pthread_mutex_unlock(&b->lock);
        log_error("breaker %s: a permit was ended twice (ignored)", b->name);
#ifdef QDECK_PERMIT_ASSERT
        assert(!"breaker permit ended twice");
#endif
        return -1;
    }
    p->ended = 1;
    double now;
    if (duration < 0) {
        now = breaker_now(b);
        duration = now - p->started;
    } else {
        now = p->started + duration;   /* no clock read on the hot path */
    }
    struct breaker_event ev = {0};
    pthread_mutex_lock(&b->lock);
    b->counters.in_flight--;
    bool current = p->counted && p->epoch == b->epoch;
    if (outcome == BREAKER_RELEASE) {
        b->counters.releases++;
        if (current && p->probe && b->state == BREAKER_HALF_OPEN)
            b->probes_left++;   /* the probe never happened: someone else may make it */
        pthread_mutex_unlock(&b->lock);
        return 0;
    }
    unsigned flags = (outcome == BREAKER_ERROR ? OUTCOME_FAILED : 0) | (duration > b->slow_call ? OUTCOME_SLOW : 0);
    if (outcome == BREAKER_ERROR)
        b->counters.errors++;
    else
        b->counters.successes++;
    if (flags & OUTCOME_SLOW)
        b->counters.slow_calls++;
    if (!current) {
        if (p->counted)
            b->counters.stale_outcomes++;
    } else if (b->state == BREAKER_CLOSED) {
        window_record(b, flags, now);
        evaluate_closed(b, now, &ev);
    } else if (b->state == BREAKER_HALF_OPEN) {
        b->probe_calls++;
        b->probe_failures += (flags & OUTCOME_FAILED) != 0;
        b->probe_slow += (flags & OUTCOME_SLOW) != 0;
        evaluate_half_open(b, now, &ev);
    }
    pthread_mutex_unlock(&b->lock);
    emit(b, &ev);
    return 0;
}

int breaker_success(struct breaker_permit *p) { return breaker_end(p, BREAKER_SUCCESS, -1); }
int breaker_error(struct breaker_permit *p) { return breaker_end(p, BREAKER_ERROR, -1); }
int breaker_release(struct breaker_permit *p) { return breaker_end(p, BREAKER_RELEASE, -1); }

void breaker_force(struct breaker *b, enum breaker_state state)
{
    double now = breaker_now(b);
    struct breaker_event ev = {0};
    pthread_mutex_lock(&b->lock);
    if (b->state != state)
        transition(b, state, now, "operator", -1, -1, &ev);
    pthread_mutex_unlock(&b->lock);
    emit(b, &ev);
}

void breaker_reset(struct breaker *b)
{
    double now = breaker_now(b);
    struct breaker_event ev = {0};
    pthread_mutex_lock(&b->lock);
    transition(b, BREAKER_CLOSED, now, "operator reset", -1, -1, &ev);
    pthread_mutex_unlock(&b->lock);
    emit(b, &ev);
}

int breaker_apply_command(struct breaker *b, const char *command, uint64_t generation)
{
    enum { OPEN, DISABLE, RESET } what;
    if (strcmp(command, "open") == 0)
        what = OPEN;
    else if (strcmp(command, "disabled") == 0)
        what = DISABLE;
    else if (strcmp(command, "reset") == 0)
        what = RESET;
    else
        return -1;
    pthread_mutex_lock(&b->lock);
    bool fresh = b->applied_generation != generation;
    b->applied_generation = generation;
    pthread_mutex_unlock(&b->lock);
    if (!fresh)
        return 0;
    if (what == OPEN)
        breaker_force(b, BREAKER_FORCED_OPEN);
    else if (what == DISABLE)
        breaker_force(b, BREAKER_DISABLED);
    else
        breaker_reset(b);
    return 0;
}

void breaker_stats(struct breaker *b, struct breaker_stats *out)
{
    double now = breaker_now(b);
    pthread_mutex_lock(&b->lock);
    *out = b->counters;
    out->state = b->state;
    if (b->state == BREAKER_CLOSED)
        window_advance(b, now);
    if (b->state == BREAKER_HALF_OPEN) {
        out->window_calls = b->probe_calls;
        out->window_failures = b->probe_failures;
        out->window_slow = b->probe_slow;
        out->probes_left = b->probes_left;
    } else {
        out->window_calls = b->calls;
        out->window_failures = b->failures;
        out->window_slow = b->slow;
    }
    int minimum = b->state == BREAKER_HALF_OPEN ? b->half_open_calls : b->minimum_calls;
    bool enough = out->window_calls > 0 && out->window_calls >= minimum;
    out->failure_rate = enough ? rate_of(out->window_failures, out->window_calls) : -1;
    out->slow_rate = enough ? rate_of(out->window_slow, out->window_calls) : -1;
    out->open_remaining = 0;
    if (b->state == BREAKER_OPEN) {
        double left = b->open_wait - (now - b->opened_at);
        out->open_remaining = left > 0 ? left : 0;
    }
    pthread_mutex_unlock(&b->lock);
}

cJSON *breaker_stats_json(const struct breaker_stats *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "state", breaker_state_name(s->state));
    cJSON_AddNumberToObject(o, "failure_rate", round(s->failure_rate * 10) / 10);
    cJSON_AddNumberToObject(o, "slow_rate", round(s->slow_rate * 10) / 10);
    cJSON_AddNumberToObject(o, "calls", s->window_calls);
    cJSON_AddNumberToObject(o, "failures", s->window_failures);
    cJSON_AddNumberToObject(o, "slow", s->window_slow);
    cJSON_AddNumberToObject(o, "open_remaining", round(s->open_remaining * 10) / 10);
    cJSON_AddNumberToObject(o, "probes_left", s->probes_left);
    cJSON_AddNumberToObject(o, "refused", (double)s->calls_refused);
    cJSON_AddNumberToObject(o, "in_flight", s->in_flight);
    return o;
}

enum breaker_state breaker_state(struct breaker *b)
{
    pthread_mutex_lock(&b->lock);
    enum breaker_state s = b->state;
    pthread_mutex_unlock(&b->lock);
    return s;
}

static const char *const state_names[] = {
    [BREAKER_CLOSED] = "CLOSED", [BREAKER_OPEN] = "OPEN", [BREAKER_HALF_OPEN] = "HALF_OPEN",
    [BREAKER_FORCED_OPEN] = "FORCED_OPEN", [BREAKER_DISABLED] = "DISABLED",
};

const char *breaker_state_name(enum breaker_state s)
{
    return (unsigned)s < sizeof state_names / sizeof state_names[0] ? state_names[s] : "?";
}

int breaker_state_parse(const char *name)
{
    for (size_t i = 0; i < sizeof state_names / sizeof state_names[0]; i++)
        if (strcasecmp(name, state_names[i]) == 0)
            return (int)i;
    return -1;
}

double breaker_open_wait(const struct breaker *b) { return b->open_wait; }
