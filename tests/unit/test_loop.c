/* The background-thread skeleton: a wake ends a sleep, a wake before the
 * sleep is not lost, a stop ends the body and joins it, a deadline passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>

#include "core/clock.h"
#include "core/loop.h"

struct counter {
    atomic_int rounds;
};

/* Sleeps "forever" each round; only wakes and the stop move it on. */
static void count_wakes(struct loop *l, void *arg)
{
    struct counter *c = arg;
    while (!loop_sleep(l, 3600))
        atomic_fetch_add(&c->rounds, 1);
}

static void wait_rounds(struct counter *c, int n)
{
    double until = clock_mono() + 10;
    while (atomic_load(&c->rounds) < n && clock_mono() < until) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void a_wake_ends_a_sleep_and_stop_joins(void **state)
{
    (void)state;
    struct loop l;
    struct counter c = {0};
    loop_init(&l);
    assert_int_equal(loop_start(&l, count_wakes, &c), 0);
    loop_wake(&l);
    wait_rounds(&c, 1);
    assert_int_equal(atomic_load(&c.rounds), 1);
    loop_wake(&l);
    wait_rounds(&c, 2);
    assert_int_equal(atomic_load(&c.rounds), 2);
    loop_stop(&l);
    assert_true(loop_stopping(&l));
    assert_int_equal(atomic_load(&c.rounds), 2);
    loop_stop(&l);                     /* twice is harmless */
    loop_destroy(&l);
}

static void a_wake_before_the_sleep_is_kept(void **state)
{
    (void)state;
    struct loop l;
    loop_init(&l);
    loop_wake(&l);
    double t0 = clock_mono();
    assert_false(loop_sleep(&l, 3600));
    assert_true(clock_mono() - t0 < 60);
    loop_destroy(&l);
}

static void a_deadline_ends_a_sleep(void **state)
{
    (void)state;
    struct loop l;
    loop_init(&l);
    double t0 = clock_mono();
    assert_false(loop_sleep_until(&l, t0 + 0.05));
    assert_true(clock_mono() >= t0 + 0.05);
    assert_false(loop_sleep_until(&l, t0 - 1));   /* a past deadline returns */
    loop_destroy(&l);
}

static void a_stopped_loop_does_not_sleep(void **state)
{
    (void)state;
    struct loop l;
    loop_init(&l);
    loop_stop(&l);                     /* never started: no join */
    assert_true(loop_sleep(&l, 3600));
    loop_destroy(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_wake_ends_a_sleep_and_stop_joins),
        cmocka_unit_test(a_wake_before_the_sleep_is_kept),
        cmocka_unit_test(a_deadline_ends_a_sleep),
        cmocka_unit_test(a_stopped_loop_does_not_sleep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
