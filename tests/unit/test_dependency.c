/* A dependency's stack as the worker calls it: breaker, then rate limiter,
 * then bulkhead; refusals after the breaker release its permit (a half-open
 * probe is not lost); fallback while open and when the guardrail forces it;
 * guardrails applied from a policy snapshot; the heartbeat JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "resilience/dependency.h"
#include "worker/apply-policy.h"

static double fake_now = 500.0;
static double fake_clock(void *ctx) { (void)ctx; return fake_now; }
static const struct breaker_clock clock_fake = {.now = fake_clock};

static void setup_config(struct config *cfg, double rate, int max_concurrent, const char *fallback)
{
    config_defaults(cfg);
    cfg->dependencies = calloc(1, sizeof *cfg->dependencies);
    cfg->ndependencies = 1;
    struct dependency_config *d = &cfg->dependencies[0];
    config_dependency_init(d, "llm-api");
    d->window_size = 4;
    d->minimum_calls = 4;
    d->half_open_calls = 1;
    d->rate = rate;
    d->burst = 1;
    d->max_concurrent = max_concurrent;
    d->fallback = fallback ? strdup(fallback) : NULL;
}

static enum dependency_verdict begin(struct dependency *d, struct dependency_call *c)
{
    double wait;
    return dependency_begin(d, NULL, fake_now, 0, c, &wait);
}

static void order_and_release(void **state)
{
    (void)state;
    struct config cfg;
    setup_config(&cfg, 10, 1, NULL);
    struct dependency_set set;
    char err[256];
    assert_int_equal(dependency_set_init(&set, &cfg, &clock_fake, NULL, NULL, err, sizeof err), 0);
    struct dependency *d = dependency_find(&set, "llm-api");
    assert_non_null(d);
    assert_null(dependency_find(&set, "other"));

    struct dependency_call a, b;
    assert_int_equal(begin(d, &a), DEP_CALL);
    double wait;
    assert_int_equal(dependency_begin(d, NULL, fake_now, 0, &b, &wait), DEP_THROTTLED);   /* burst 1 */
    assert_true(wait > 0.09 && wait <= 0.1);
    fake_now += 0.1;
    assert_int_equal(begin(d, &b), DEP_FULL);   /* bulkhead of 1 still held by a */
    dependency_end(&a, BREAKER_SUCCESS, 0.01);
    fake_now += 0.1;
    assert_int_equal(begin(d, &b), DEP_CALL);
    dependency_end(&b, BREAKER_ERROR, 0.01);
    dependency_end(&b, BREAKER_ERROR, 0.01);   /* twice: detected, bulkhead not released twice */
    struct breaker_stats s;
    breaker_stats(d->breaker, &s);
    assert_int_equal(s.window_calls, 2);       /* refusals after the breaker were released, not counted */
    assert_int_equal(s.releases, 2);
    assert_int_equal(s.double_ends, 1);
    assert_int_equal(s.in_flight, 0);
    assert_int_equal(bulkhead_in_use(&d->bulkhead), 0);
    dependency_set_fini(&set);
    config_free(&cfg);
}

static void fallback_while_open_and_when_forced(void **state)
{
    (void)state;
    struct config cfg;
    setup_config(&cfg, 0, 0, "{\"answer\":\"cached\"}");
    struct dependency_set set;
    char err[256];
    assert_int_equal(dependency_set_init(&set, &cfg, &clock_fake, NULL, NULL, err, sizeof err), 0);
    struct dependency *d = &set.deps[0];
    struct dependency_call c;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(begin(d, &c), DEP_CALL);
        dependency_end(&c, BREAKER_ERROR, 0.01);
    }
    assert_int_equal(breaker_state(d->breaker), BREAKER_OPEN);
    assert_int_equal(begin(d, &c), DEP_FALLBACK);
    fake_now += 31;   /* opened at the last outcome: start + 0.01 s */
    assert_int_equal(begin(d, &c), DEP_CALL);   /* the probe */
    dependency_end(&c, BREAKER_SUCCESS, 0.01);
    assert_int_equal(breaker_state(d->breaker), BREAKER_CLOSED);

    /* guardrails: fallback forced, a rate, a breaker command */
    struct policy_entry pairs[] = {{"dep.llm-api.fallback", "true"}, {"dep.llm-api.rate", "2/s"}};
    struct policy_breaker br[] = {{"llm-api", "open", 1}};
    struct policy *p = policy_build(pairs, 2, br, 1, 1);
    dependency_set_apply_policy(&set, p);
    assert_int_equal(begin(d, &c), DEP_FALLBACK);
    assert_int_equal(breaker_state(d->breaker), BREAKER_FORCED_OPEN);
    struct ratelimit_stats rs;
    ratelimit_stats(&d->rate, &rs);
    assert_true(rs.rate == 2);
    cJSON *j = dependency_set_json(&set);
    cJSON *o = cJSON_GetObjectItem(j, "llm-api");
    assert_string_equal(cJSON_GetObjectItem(o, "state")->valuestring, "FORCED_OPEN");
    assert_true(cJSON_GetObjectItem(o, "rate")->valuedouble == 2);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "fallback")));
    assert_int_equal(cJSON_GetObjectItem(o, "fallbacks")->valueint, 2);
    cJSON_Delete(j);
    policy_release(p);

    /* guardrails lifted: the config's rate (unlimited) and the breaker reset */
    struct policy_breaker reset[] = {{"llm-api", "reset", 2}};
    p = policy_build(NULL, 0, reset, 1, 2);
    dependency_set_apply_policy(&set, p);
    dependency_set_apply_policy(&set, p);   /* the same generation again: no second reset */
    ratelimit_stats(&d->rate, &rs);
    assert_true(rs.rate == 0);
    assert_int_equal(breaker_state(d->breaker), BREAKER_CLOSED);
    assert_int_equal(begin(d, &c), DEP_CALL);
    dependency_end(&c, BREAKER_SUCCESS, 0.01);
    policy_release(p);
    dependency_set_fini(&set);
    config_free(&cfg);
}

static void half_open_probe_survives_throttling(void **state)
{
    (void)state;
    struct config cfg;
    setup_config(&cfg, 1, 0, NULL);
    struct dependency_set set;
    char err[256];
    assert_int_equal(dependency_set_init(&set, &cfg, &clock_fake, NULL, NULL, err, sizeof err), 0);
    struct dependency *d = &set.deps[0];
    struct dependency_call c;
    for (int i = 0; i < 4; i++) {
        fake_now += 1;
        assert_int_equal(begin(d, &c), DEP_CALL);
        dependency_end(&c, BREAKER_ERROR, 0.01);
    }
    assert_int_equal(begin(d, &c), DEP_OPEN);   /* no fallback declared: fail fast */
    fake_now += 31;   /* opened at the last outcome: start + 0.01 s */
    struct ratelimit_stats rs;
    ratelimit_try(&d->rate, NULL);              /* someone else took the token */
    ratelimit_stats(&d->rate, &rs);
    assert_int_equal(begin(d, &c), DEP_THROTTLED);   /* the probe permit went back */
    fake_now += 1;
    assert_int_equal(begin(d, &c), DEP_CALL);        /* so the probe can still be made */
    dependency_end(&c, BREAKER_SUCCESS, 0.01);
    assert_int_equal(breaker_state(d->breaker), BREAKER_CLOSED);
    dependency_set_fini(&set);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_and_release),
        cmocka_unit_test(fallback_while_open_and_when_forced),
        cmocka_unit_test(half_open_probe_survives_throttling),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
