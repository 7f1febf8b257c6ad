/* Circuit breaker per dependency, with Resilience4j's semantics.
 *
 * CLOSED: calls flow; each outcome goes into a sliding window (the last N
 * calls, or the calls of the last N seconds, as an O(1) ring of buckets).
 * Once the window holds at least minimum_calls, the breaker trips to OPEN
 * when failure_rate >= threshold or slow_rate >= threshold (>=, not >).
 * OPEN: every call is refused, until open_wait has passed; the next
 * acquisition then moves it to HALF_OPEN. HALF_OPEN: exactly
 * half_open_calls probe permits are handed out; when all of their outcomes
 * are in, the breaker closes if both rates are below their thresholds and
 * opens again otherwise. Operator states: FORCED_OPEN refuses everything,
 * DISABLED lets everything through and records nothing; only a reset (or
 * another operator state) leaves them.
 *
 * Every acquired permit must end in exactly one of success, error or
 * release (release: the call never happened or was cancelled, e.g. by
 * shutdown; it is not counted, and in HALF_OPEN its probe slot is handed out
 * again). Ending a permit twice is detected: it is ignored, counted in
 * double_ends and logged (and aborts when built with -DQDECK_PERMIT_ASSERT).
 * Outcomes of permits acquired before the last transition describe the old
 * state and are not counted (stale_outcomes).
 *
 * Thread-safe (one mutex per breaker, held for a few dozen instructions).
 * Transitions are reported through a callback, called after the mutex is
 * released. The clock is injectable for tests. */
#ifndef QDECK_BREAKER_H
#define QDECK_BREAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

enum breaker_state { BREAKER_CLOSED, BREAKER_OPEN, BREAKER_HALF_OPEN, BREAKER_FORCED_OPEN, BREAKER_DISABLED };
enum breaker_outcome { BREAKER_SUCCESS, BREAKER_ERROR, BREAKER_RELEASE };

struct breaker;

struct breaker_clock {
    double (*now)(void *ctx);   /* monotonic seconds; NULL: clock_mono */
    void *ctx;
};

struct breaker_event {
    const char *name;           /* the dependency */
    enum breaker_state from, to;
    double at;                  /* breaker clock */
    double failure_rate;        /* percent of the window that decided, -1 when not evaluated */
    double slow_rate;
    const char *reason;         /* "failure rate", "slow rate", "wait over", "probes passed", "operator" ... */
};

typedef void (*breaker_listener)(void *ctx, const struct breaker_event *ev);

/* What a caller holds between acquire and end. Plain data on the caller's
 * stack; no allocation. */
struct breaker_permit {
    struct breaker *breaker;
    double started;
    uint32_t epoch;             /* the breaker's transition count when acquired */
    uint8_t counted;            /* 0: DISABLED pass-through, nothing to record */
    uint8_t probe;              /* acquired in HALF_OPEN */
    uint8_t ended;
};

struct breaker_stats {
    enum breaker_state state;
    int window_calls;           /* outcomes in the window (HALF_OPEN: probes so far) */
    int window_failures, window_slow;
    double failure_rate;        /* percent, -1 below minimum_calls */
    double slow_rate;
    double open_remaining;      /* OPEN: seconds until half-open may begin; else 0 */
    int probes_left;            /* HALF_OPEN: permits still to hand out */
    uint64_t calls_permitted, calls_refused, successes, errors, releases;
    uint64_t slow_calls, stale_outcomes, double_ends, transitions;
    int in_flight;              /* permits acquired and not yet ended */
};

/* Built from the [dependency NAME] section (see config.h for units). NULL
 * when the config is unusable (err says why). */
struct breaker *breaker_new(const struct dependency_config *cfg, const struct breaker_clock *clock,
                            char *err, size_t errlen);
void breaker_free(struct breaker *b);
void breaker_set_listener(struct breaker *b, breaker_listener fn, void *ctx);
const char *breaker_name(const struct breaker *b);

/* 0 and a permit, or -1 when the call must not be made (OPEN, FORCED_OPEN,
 * HALF_OPEN with every probe out). */
int breaker_acquire(struct breaker *b, struct breaker_permit *p);
/* The same with the current time the caller already read from the
 * breaker's clock (clock_mono unless injected): no clock read at all when
 * the outcome is then ended with a measured duration. */
int breaker_acquire_at(struct breaker *b, struct breaker_permit *p, double now);
/* End a permit; the duration decides slowness. The first three measure it
 * with the breaker's clock; breaker_end takes one the caller measured
 * (seconds; negative: measure) and takes start + duration as the time of
 * the outcome. 0, or -1 when the permit had already ended. */
int breaker_success(struct breaker_permit *p);
int breaker_error(struct breaker_permit *p);
int breaker_release(struct breaker_permit *p);
int breaker_end(struct breaker_permit *p, enum breaker_outcome outcome, double duration);

/* Operator actions: FORCED_OPEN, DISABLED, or a reset to a fresh CLOSED. */
void breaker_force(struct breaker *b, enum breaker_state state);
void breaker_reset(struct breaker *b);
/* Applies a control-plane command ("open", "disabled", "reset") once per
 * generation: a repeated generation is ignored, so the periodic reload does
 * not reset a breaker again and again. 0, or -1 for an unknown command. */
int breaker_apply_command(struct breaker *b, const char *command, uint64_t generation);

void breaker_stats(struct breaker *b, struct breaker_stats *out);
/* The heartbeat form, read back by `qdeck breaker list` and the console:
 * {"state","failure_rate","slow_rate","calls","failures","slow",
 *  "open_remaining","probes_left","refused","in_flight"}. A worker puts one
 * per dependency under "breakers": {"<dep>": {...}} in its heartbeat and may
 * add the rate limiter's "rate","tokens","throttled" to the same object. */
struct cJSON *breaker_stats_json(const struct breaker_stats *s);
enum breaker_state breaker_state(struct breaker *b);
/* The configured open_wait: how long OPEN lasts before half-open. */
double breaker_open_wait(const struct breaker *b);
const char *breaker_state_name(enum breaker_state s);     /* "CLOSED", "OPEN", ... */
/* Parses a state name (any case); -1 when unknown. */
int breaker_state_parse(const char *name);

#endif
