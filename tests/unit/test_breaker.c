/* Circuit breaker state machine on an injected clock: every transition and
 * every threshold edge (>= not >, minimum calls, half-open probe count,
 * slow calls, time window expiry, operator states, release not counted,
 * stale and double-ended permits), and permits under threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resilience/breaker.h"

static double fake_now = 1000.0;
static double fake_clock(void *ctx) { (void)ctx; return fake_now; }
static const struct breaker_clock clock_fake = {.now = fake_clock};

#define MAX_EVENTS 32
static struct breaker_event events[MAX_EVENTS];
static int nevents;
static void on_event(void *ctx, const struct breaker_event *ev)
{
    (void)ctx;
    if (nevents < MAX_EVENTS)
        events[nevents++] = *ev;
}

static struct dependency_config dep;

static struct breaker *make(const char *window_type, int size, int minimum, double failure, double slow,
                            double slow_call, double open_wait, int probes)
{
    config_dependency_free(&dep);
    config_dependency_init(&dep, "llm-api");
    free(dep.window_type);
    dep.window_type = strdup(window_type);
    dep.window_size = size;
    dep.minimum_calls = minimum;
    dep.failure_rate = failure;
    dep.slow_rate = slow;
    dep.slow_call = slow_call;
    dep.open_wait = open_wait;
    dep.half_open_calls = probes;
    char err[256];
    struct breaker *b = breaker_new(&dep, &clock_fake, err, sizeof err);
    if (!b)
        fail_msg("breaker_new: %s", err);
    nevents = 0;
    breaker_set_listener(b, on_event, NULL);
    return b;
}

/* One call that takes `duration` seconds and ends with `outcome`; -1 when refused. */
static int call(struct breaker *b, enum breaker_outcome outcome, double duration)
{
    struct breaker_permit p;
    if (breaker_acquire(b, &p) < 0)
        return -1;
    fake_now += duration;
    assert_int_equal(breaker_end(&p, outcome, -1), 0);
    return 0;
}
static void calls(struct breaker *b, int n, enum breaker_outcome outcome)
{
    for (int i = 0; i < n; i++)
        assert_int_equal(call(b, outcome, 0.01), 0);
}

static void trips_at_threshold_not_above(void **state)
{
    (void)state;
    struct breaker *b = make("count", 10, 10, 50, 100, 10, 30, 5);
    calls(b, 5, BREAKER_SUCCESS);
    calls(b, 4, BREAKER_ERROR);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    calls(b, 1, BREAKER_ERROR);   /* 5 of 10 = 50 %: >= 50 trips */
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    assert_int_equal(nevents, 1);
    assert_int_equal(events[0].from, BREAKER_CLOSED);
    assert_int_equal(events[0].to, BREAKER_OPEN);
    assert_string_equal(events[0].reason, "failure rate");
    assert_true(events[0].failure_rate == 50.0);
    assert_string_equal(events[0].name, "llm-api");
    breaker_free(b);

    b = make("count", 10, 10, 50.1, 100, 10, 30, 5);   /* 50 % is below 50.1 % */
    calls(b, 5, BREAKER_SUCCESS);
    calls(b, 5, BREAKER_ERROR);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);
}

static void minimum_calls_gate(void **state)
{
    (void)state;
    struct breaker *b = make("count", 20, 10, 50, 100, 10, 30, 5);
    calls(b, 9, BREAKER_ERROR);
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.state, BREAKER_CLOSED);
    assert_int_equal(s.window_calls, 9);
    assert_true(s.failure_rate == -1);   /* not evaluated below minimum */
    calls(b, 1, BREAKER_ERROR);
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);

    /* a count window never holds more than its size: minimum is capped */
    b = make("count", 4, 50, 50, 100, 10, 30, 5);
    calls(b, 4, BREAKER_ERROR);
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);
}

static void count_window_slides(void **state)
{
    (void)state;
    struct breaker *b = make("count", 4, 4, 75, 100, 10, 30, 5);
    calls(b, 2, BREAKER_ERROR);
    calls(b, 2, BREAKER_SUCCESS);   /* F F S S: 50 % */
    calls(b, 1, BREAKER_ERROR);     /* F S S F */
    calls(b, 1, BREAKER_ERROR);     /* S S F F */
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 4);
    assert_int_equal(s.window_failures, 2);
    assert_int_equal(s.state, BREAKER_CLOSED);
    calls(b, 1, BREAKER_ERROR);     /* S F F F: 75 % */
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);
}

static void open_waits_then_half_open(void **state)
{
    (void)state;
    struct breaker *b = make("count", 4, 4, 50, 100, 10, 30, 2);
    calls(b, 4, BREAKER_ERROR);
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    double opened = fake_now;
    assert_int_equal(call(b, BREAKER_SUCCESS, 0), -1);
    struct breaker_stats s;
    fake_now = opened + 29.999;
    breaker_stats(b, &s);
    assert_true(s.open_remaining > 0 && s.open_remaining < 0.01);
    assert_int_equal(call(b, BREAKER_SUCCESS, 0), -1);
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    fake_now = opened + 30;
    struct breaker_permit p;
    assert_int_equal(breaker_acquire(b, &p), 0);   /* first probe */
    assert_int_equal(breaker_state(b), BREAKER_HALF_OPEN);
    assert_int_equal(nevents, 2);
    assert_int_equal(events[1].from, BREAKER_OPEN);
    assert_int_equal(events[1].to, BREAKER_HALF_OPEN);
    breaker_stats(b, &s);
    assert_int_equal(s.calls_refused, 2);
    assert_int_equal(s.probes_left, 1);
    breaker_success(&p);
    breaker_free(b);
}

static void half_open_admits_exactly_n_probes_and_all_decide(void **state)
{
    (void)state;
    struct breaker *b = make("count", 4, 4, 50, 100, 10, 30, 3);
    calls(b, 4, BREAKER_ERROR);
    fake_now += 30;
    struct breaker_permit p[4];
    for (int i = 0; i < 3; i++)
        assert_int_equal(breaker_acquire(b, &p[i]), 0);
    assert_int_equal(breaker_acquire(b, &p[3]), -1);   /* a fourth is refused */
    breaker_success(&p[0]);
    breaker_error(&p[1]);
    assert_int_equal(breaker_state(b), BREAKER_HALF_OPEN);   /* 2 of 3 outcomes: undecided */
    breaker_success(&p[2]);                                  /* 1 of 3 failed: 33 % < 50 % */
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    assert_int_equal(events[nevents - 1].to, BREAKER_CLOSED);
    assert_string_equal(events[nevents - 1].reason, "probes passed");
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 0);   /* CLOSED starts a fresh window */
    breaker_free(b);

    /* probes at exactly the threshold reopen (>=) */
    b = make("count", 4, 4, 50, 100, 10, 30, 2);
    calls(b, 4, BREAKER_ERROR);
    fake_now += 30;
    assert_int_equal(call(b, BREAKER_SUCCESS, 0.01), 0);
    assert_int_equal(call(b, BREAKER_ERROR, 0.01), 0);
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    assert_string_equal(events[nevents - 1].reason, "probes failed");
    double reopened = fake_now;
    assert_int_equal(call(b, BREAKER_SUCCESS, 0), -1);       /* a new full wait */
    fake_now = reopened + 30;
    assert_int_equal(call(b, BREAKER_SUCCESS, 0.01), 0);
    assert_int_equal(breaker_state(b), BREAKER_HALF_OPEN);
    breaker_free(b);
}

static void release_is_not_counted(void **state)
{
    (void)state;
    struct breaker *b = make("count", 10, 5, 50, 100, 10, 30, 2);
    calls(b, 50, BREAKER_RELEASE);
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 0);
    assert_int_equal(s.releases, 50);
    assert_int_equal(s.state, BREAKER_CLOSED);
    calls(b, 5, BREAKER_ERROR);
    fake_now += 30;
    /* in HALF_OPEN a released probe gives its slot back */
    struct breaker_permit p1, p2, p3;
    assert_int_equal(breaker_acquire(b, &p1), 0);
    assert_int_equal(breaker_acquire(b, &p2), 0);
    assert_int_equal(breaker_acquire(b, &p3), -1);
    breaker_release(&p1);
    assert_int_equal(breaker_acquire(b, &p3), 0);
    breaker_success(&p2);
    assert_int_equal(breaker_state(b), BREAKER_HALF_OPEN);
    breaker_success(&p3);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    breaker_stats(b, &s);
    assert_int_equal(s.in_flight, 0);
    breaker_free(b);
}

static void slow_calls_trip_above_duration(void **state)
{
    (void)state;
    struct breaker *b = make("count", 4, 4, 100, 50, 1.0, 30, 2);
    assert_int_equal(call(b, BREAKER_SUCCESS, 1.0), 0);   /* exactly the threshold: not slow */
    assert_int_equal(call(b, BREAKER_SUCCESS, 1.0), 0);
    assert_int_equal(call(b, BREAKER_SUCCESS, 1.5), 0);
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.window_slow, 1);
    assert_int_equal(call(b, BREAKER_ERROR, 2.0), 0);     /* a slow error counts as both */
    assert_int_equal(breaker_state(b), BREAKER_OPEN);     /* 2 of 4 slow: 50 % */
    assert_string_equal(events[0].reason, "slow rate");
    assert_true(events[0].slow_rate == 50.0);
    assert_true(events[0].failure_rate == 25.0);
    breaker_free(b);

    /* a duration the caller measured */
    b = make("count", 2, 2, 100, 100, 1.0, 30, 2);
    struct breaker_permit p;
    assert_int_equal(breaker_acquire(b, &p), 0);
    breaker_end(&p, BREAKER_SUCCESS, 5.0);
    assert_int_equal(breaker_acquire(b, &p), 0);
    breaker_end(&p, BREAKER_SUCCESS, 5.0);
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);
}

static void time_window_expires(void **state)
{
    (void)state;
    fake_now = 5000.0;
    struct breaker *b = make("time", 10, 5, 50, 100, 10, 30, 2);
    calls(b, 4, BREAKER_ERROR);
    struct breaker_stats s;
    fake_now += 5;
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 4);
    fake_now += 6;   /* 11 s later: all four are out of the last 10 s */
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 0);
    calls(b, 4, BREAKER_ERROR);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    fake_now += 3;
    calls(b, 1, BREAKER_ERROR);   /* 5 in the window: trips */
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    breaker_free(b);

    /* partial expiry: the window slides second by second */
    fake_now = 6000.0;
    b = make("time", 3, 100, 50, 100, 10, 30, 2);
    calls(b, 2, BREAKER_ERROR);
    fake_now = 6001.0;
    calls(b, 3, BREAKER_SUCCESS);
    fake_now = 6002.5;
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 5);
    fake_now = 6003.0;   /* second 6000 leaves */
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 3);
    assert_int_equal(s.window_failures, 0);
    fake_now = 6100.0;   /* far later: everything gone, in O(window) steps */
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 0);
    breaker_free(b);
}

/* The worker's hot path: its own start time and measured run time, no
 * clock read by the breaker; the outcome is placed at start + duration. */
static void caller_timed_permits(void **state)
{
    (void)state;
    fake_now = 7000.0;
    struct breaker *b = make("time", 5, 3, 50, 50, 1.0, 30, 1);
    struct breaker_permit p;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(breaker_acquire_at(b, &p, 7000.0 + i), 0);
        breaker_end(&p, BREAKER_ERROR, 0.5);
    }
    assert_int_equal(breaker_acquire_at(b, &p, 7010.0), 0);   /* 10 s later: the two have left the window */
    breaker_end(&p, BREAKER_SUCCESS, 2.0);                     /* slow: 2 s > 1 s */
    fake_now = 7012.0;
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.window_calls, 1);
    assert_int_equal(s.window_slow, 1);
    assert_int_equal(s.state, BREAKER_CLOSED);
    assert_int_equal(breaker_acquire_at(b, &p, 7012.0), 0);
    breaker_end(&p, BREAKER_SUCCESS, 3.0);
    assert_int_equal(breaker_acquire_at(b, &p, 7012.5), 0);
    breaker_end(&p, BREAKER_SUCCESS, 0.1);   /* 3 calls, 2 slow: 66 % >= 50 % */
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    assert_true(fabs(events[0].at - 7012.6) < 1e-6);   /* opened at the outcome's time */
    assert_int_equal(breaker_acquire_at(b, &p, 7012.6 + 29.9), -1);
    assert_int_equal(breaker_acquire_at(b, &p, 7012.6 + 30.0), 0);
    assert_int_equal(breaker_state(b), BREAKER_HALF_OPEN);
    breaker_end(&p, BREAKER_SUCCESS, 0.01);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);
}

static void operator_states(void **state)
{
    (void)state;
    struct breaker *b = make("count", 4, 4, 50, 100, 10, 30, 2);
    breaker_force(b, BREAKER_FORCED_OPEN);
    assert_int_equal(call(b, BREAKER_SUCCESS, 0), -1);
    fake_now += 3600;   /* forced open never goes half-open by itself */
    assert_int_equal(call(b, BREAKER_SUCCESS, 0), -1);
    assert_int_equal(breaker_state(b), BREAKER_FORCED_OPEN);
    /* the worker defers refused tasks by open_wait while forced open */
    assert_true(breaker_open_wait(b) == 30);
    assert_string_equal(events[0].reason, "operator");

    breaker_force(b, BREAKER_DISABLED);
    calls(b, 100, BREAKER_ERROR);   /* let through, nothing recorded */
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.state, BREAKER_DISABLED);
    assert_int_equal(s.window_calls, 0);

    breaker_reset(b);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    calls(b, 4, BREAKER_ERROR);
    assert_int_equal(breaker_state(b), BREAKER_OPEN);

    /* control-plane commands apply once per generation */
    assert_int_equal(breaker_apply_command(b, "reset", 1), 0);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    calls(b, 4, BREAKER_ERROR);
    assert_int_equal(breaker_apply_command(b, "reset", 1), 0);   /* periodic reload: same generation */
    assert_int_equal(breaker_state(b), BREAKER_OPEN);
    assert_int_equal(breaker_apply_command(b, "open", 2), 0);
    assert_int_equal(breaker_state(b), BREAKER_FORCED_OPEN);
    assert_int_equal(breaker_apply_command(b, "disabled", 3), 0);
    assert_int_equal(breaker_state(b), BREAKER_DISABLED);
    assert_int_equal(breaker_apply_command(b, "bogus", 4), -1);
    assert_int_equal(breaker_state(b), BREAKER_DISABLED);
    assert_int_equal(breaker_state_parse("half_open"), BREAKER_HALF_OPEN);
    assert_int_equal(breaker_state_parse("nope"), -1);
    breaker_free(b);
}

static void double_end_is_detected(void **state)
{
    (void)state;
    struct breaker *b = make("count", 4, 4, 50, 100, 10, 30, 2);
    struct breaker_permit p;
    assert_int_equal(breaker_acquire(b, &p), 0);
    assert_int_equal(breaker_success(&p), 0);
    assert_int_equal(breaker_error(&p), -1);
    assert_int_equal(breaker_release(&p), -1);
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.double_ends, 2);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.window_calls, 1);   /* counted once */
    assert_int_equal(s.window_failures, 0);
    breaker_free(b);
}

static void stale_outcomes_are_not_counted(void **state)
{
    (void)state;
    struct breaker *b = make("count", 4, 4, 50, 100, 10, 30, 2);
    struct breaker_permit early;
    assert_int_equal(breaker_acquire(b, &early), 0);   /* acquired while CLOSED */
    calls(b, 4, BREAKER_ERROR);
    fake_now += 30;
    struct breaker_permit probe;
    assert_int_equal(breaker_acquire(b, &probe), 0);   /* HALF_OPEN */
    breaker_success(&early);                           /* must not count as a probe */
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.state, BREAKER_HALF_OPEN);
    assert_int_equal(s.window_calls, 0);
    assert_int_equal(s.stale_outcomes, 1);
    breaker_success(&probe);
    assert_int_equal(call(b, BREAKER_SUCCESS, 0.01), 0);
    assert_int_equal(breaker_state(b), BREAKER_CLOSED);
    breaker_free(b);
}

struct hammer {
    struct breaker *b;
    unsigned seed;
    long made;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    for (int i = 0; i < 50000; i++) {
        struct breaker_permit p;
        if (breaker_acquire(h->b, &p) < 0)
            continue;
        h->made++;
        int r = rand_r(&h->seed) % 3;
        breaker_end(&p, r == 0 ? BREAKER_SUCCESS : r == 1 ? BREAKER_ERROR : BREAKER_RELEASE, 0.001);
        if (i % 5000 == 0)
            breaker_force(h->b, i % 10000 ? BREAKER_DISABLED : BREAKER_CLOSED);
    }
    return NULL;
}

static void every_permit_ends_once_under_threads(void **state)
{
    (void)state;
    config_dependency_free(&dep);
    config_dependency_init(&dep, "threads");
    dep.open_wait = 0.001;   /* real clock: it cycles through every state */
    dep.minimum_calls = 10;
    dep.window_size = 20;
    char err[256];
    struct breaker *b = breaker_new(&dep, NULL, err, sizeof err);
    assert_non_null(b);
    pthread_t t[4];
    struct hammer h[4];
    for (int i = 0; i < 4; i++) {
        h[i] = (struct hammer){.b = b, .seed = (unsigned)i + 1};
        pthread_create(&t[i], NULL, hammer_thread, &h[i]);
    }
    long made = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        made += h[i].made;
    }
    struct breaker_stats s;
    breaker_stats(b, &s);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(s.double_ends, 0);
    assert_int_equal(s.calls_permitted, made);
    assert_int_equal(s.successes + s.errors + s.releases, made);
    assert_int_equal(s.calls_permitted + s.calls_refused, 4 * 50000);
    assert_true(s.transitions > 2);
    breaker_free(b);
}

static void bad_config_is_refused(void **state)
{
    (void)state;
    config_dependency_free(&dep);
    config_dependency_init(&dep, "x");
    free(dep.window_type);
    dep.window_type = strdup("sliding");
    char err[256];
    assert_null(breaker_new(&dep, NULL, err, sizeof err));
    assert_non_null(strstr(err, "window_type"));
}

static int teardown(void **state)
{
    (void)state;
    config_dependency_free(&dep);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trips_at_threshold_not_above),
        cmocka_unit_test(minimum_calls_gate),
        cmocka_unit_test(count_window_slides),
        cmocka_unit_test(open_waits_then_half_open),
        cmocka_unit_test(half_open_admits_exactly_n_probes_and_all_decide),
        cmocka_unit_test(release_is_not_counted),
        cmocka_unit_test(slow_calls_trip_above_duration),
        cmocka_unit_test(time_window_expires),
        cmocka_unit_test(caller_timed_permits),
        cmocka_unit_test(operator_states),
        cmocka_unit_test(double_end_is_detected),
        cmocka_unit_test(stale_outcomes_are_not_counted),
        cmocka_unit_test(every_permit_ends_once_under_threads),
        cmocka_unit_test(bad_config_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
