/* Local token bucket on an injected clock: burst, refill, retry-after,
 * throttled count, unlimited, live rate change; and the bulkhead. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "resilience/bulkhead.h"
#include "resilience/ratelimit.h"

static double fake_now = 100.0;
static double fake_clock(void *ctx) { (void)ctx; return fake_now; }
static const struct ratelimit_clock clock_fake = {.now = fake_clock};

static void init_bucket(struct ratelimit *rl, double rate, int burst)
{
    struct dependency_config d;
    config_dependency_init(&d, "llm-api");
    d.rate = rate;
    d.burst = burst;
    ratelimit_init(rl, &d, &clock_fake);
    config_dependency_free(&d);
}

static void burst_then_rate(void **state)
{
    (void)state;
    struct ratelimit rl;
    init_bucket(&rl, 10, 5);
    double wait = -1;
    for (int i = 0; i < 5; i++)
        assert_int_equal(ratelimit_try(&rl, &wait), 0);
    assert_true(wait == 0);
    assert_int_equal(ratelimit_try(&rl, &wait), -1);
    assert_true(fabs(wait - 0.1) < 1e-9);   /* one token every 100 ms */
    fake_now += 0.05;
    assert_int_equal(ratelimit_try(&rl, &wait), -1);
    assert_true(fabs(wait - 0.05) < 1e-9);
    fake_now += 0.05;
    assert_int_equal(ratelimit_try(&rl, &wait), 0);
    struct ratelimit_stats s;
    ratelimit_stats(&rl, &s);
    assert_int_equal(s.allowed, 6);
    assert_int_equal(s.throttled, 2);
    assert_true(s.tokens < 1e-9);
    assert_true(s.rate == 10 && s.burst == 5);
    /* a long idle refills up to the burst, not beyond */
    fake_now += 3600;
    ratelimit_stats(&rl, &s);
    assert_true(s.tokens == 5);
    ratelimit_fini(&rl);
}

/* Over 10 simulated seconds of callers asking every millisecond, exactly
 * burst + rate * seconds calls get through. */
static void sustained_rate_is_exact(void **state)
{
    (void)state;
    struct ratelimit rl;
    init_bucket(&rl, 50, 0);   /* burst 0: follows the rate, 50 */
    int allowed = 0;
    for (int ms = 0; ms < 10000; ms++) {
        if (ratelimit_try(&rl, NULL) == 0)
            allowed++;
        fake_now += 0.001;
    }
    assert_in_range(allowed, 50 + 500 - 1, 50 + 500);
    ratelimit_fini(&rl);
}

static void unlimited_and_live_rate_change(void **state)
{
    (void)state;
    struct ratelimit rl;
    init_bucket(&rl, 0, 0);
    for (int i = 0; i < 100000; i++)
        assert_int_equal(ratelimit_try(&rl, NULL), 0);
    ratelimit_set_rate(&rl, 2);   /* dep.llm-api.rate = 2/s */
    struct ratelimit_stats s;
    ratelimit_stats(&rl, &s);
    assert_true(s.burst == 2);
    assert_int_equal(ratelimit_try(&rl, NULL), 0);
    assert_int_equal(ratelimit_try(&rl, NULL), 0);
    double wait;
    assert_int_equal(ratelimit_try(&rl, &wait), -1);
    assert_true(fabs(wait - 0.5) < 1e-9);
    ratelimit_set_rate(&rl, 0);
    assert_int_equal(ratelimit_try(&rl, NULL), 0);
    /* the local path of ratelimit_acquire when no Redis is given */
    ratelimit_set_rate(&rl, 1);
    fake_now += 10;
    assert_int_equal(ratelimit_acquire(&rl, NULL, &wait), 0);
    assert_int_equal(ratelimit_acquire(&rl, NULL, &wait), -1);
    ratelimit_fini(&rl);
}

static void bulkhead_caps_concurrency(void **state)
{
    (void)state;
    struct bulkhead bh;
    bulkhead_init(&bh, 2);
    assert_int_equal(bulkhead_try_acquire(&bh), 0);
    assert_int_equal(bulkhead_try_acquire(&bh), 0);
    assert_int_equal(bulkhead_try_acquire(&bh), -1);
    assert_int_equal(bulkhead_in_use(&bh), 2);
    assert_int_equal(bulkhead_rejected(&bh), 1);
    bulkhead_release(&bh);
    assert_int_equal(bulkhead_try_acquire(&bh), 0);
    bulkhead_release(&bh);
    bulkhead_release(&bh);
    bulkhead_release(&bh);   /* one too many: ignored, never negative */
    assert_int_equal(bulkhead_in_use(&bh), 0);
    bulkhead_init(&bh, 0);   /* unlimited */
    for (int i = 0; i < 1000; i++)
        assert_int_equal(bulkhead_try_acquire(&bh), 0);
    assert_int_equal(bulkhead_in_use(&bh), 1000);
}

static struct bulkhead shared;
static _Atomic int peak, inside;
static void *bulkhead_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100000; i++) {
        if (bulkhead_try_acquire(&shared) < 0)
            continue;
        int now = atomic_fetch_add(&inside, 1) + 1;
        int p = atomic_load(&peak);
        while (now > p && !atomic_compare_exchange_weak(&peak, &p, now))
            ;
        atomic_fetch_sub(&inside, 1);
        bulkhead_release(&shared);
    }
    return NULL;
}

static void bulkhead_never_exceeds_under_threads(void **state)
{
    (void)state;
    bulkhead_init(&shared, 3);
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, bulkhead_thread, NULL);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);
    assert_true(atomic_load(&peak) <= 3);
    assert_true(atomic_load(&peak) >= 1);
    assert_int_equal(bulkhead_in_use(&shared), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_rate),
        cmocka_unit_test(sustained_rate_is_exact),
        cmocka_unit_test(unlimited_and_live_rate_change),
        cmocka_unit_test(bulkhead_caps_concurrency),
        cmocka_unit_test(bulkhead_never_exceeds_under_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
