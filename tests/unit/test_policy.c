/* Guardrail names and values (typed validation, canonical forms, refusals
 * with clear messages), snapshots built from the stored pairs, lookups by
 * queue address or bare name, the shed guardrails handed to shed_decide,
 * and the applied-values JSON a worker reports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "control/policy.h"
#include "resilience/shed.h"

static void valid(const char *name, const char *value, const char *want)
{
    char canonical[128], err[512];
    if (policy_validate(name, value, canonical, sizeof canonical, err, sizeof err) != 0)
        fail_msg("%s=%s refused: %s", name, value, err);
    assert_string_equal(canonical, want);
}

static void invalid(const char *name, const char *value, const char *message)
{
    char canonical[128], err[512];
    if (policy_validate(name, value, canonical, sizeof canonical, err, sizeof err) != -1)
        fail_msg("%s=%s accepted as %s", name, value, canonical);
    if (!strstr(err, message))
        fail_msg("%s=%s: message '%s' lacks '%s'", name, value, err, message);
}

static void values_are_typed_and_canonical(void **state)
{
    (void)state;
    valid("shed.priority_below", "3", "3");
    valid("shed.priority_below", "0", "0");
    valid("shed.priority_below", "OFF", "off");
    valid("shed.auto", "on", "true");
    valid("shed.auto", "No", "false");
    valid("shed.auto", "1", "true");
    valid("budget.max_response_tokens", "4096", "4096");
    valid("queue.orders.max_depth", "10000", "10000");
    valid("queue.amqp:orders.v2.paused", "yes", "true");
    valid("dep.llm-api.rate", "50", "50/s");
    valid("dep.llm-api.rate", "2.5/s", "2.5/s");
    valid("dep.llm-api.rate", "off", "off");
    valid("dep.llm-api.fallback", "true", "true");
    valid("task.resize.max_runtime_ms", "1500", "1500");
    valid("task.resize.rate", "5", "5/s");   /* a Celery task's rate_limit */

    invalid("shed.priority_below", "-1", "wants an integer >= 0 or off, got '-1'");
    invalid("shed.priority_below", "3x", "wants an integer");
    invalid("shed.priority_below", "", "wants an integer");
    invalid("shed.priority_below", "99999999999999999999999", "wants an integer");
    invalid("shed.auto", "maybe", "shed.auto wants true or false, got 'maybe'");
    invalid("dep.llm-api.rate", "0", "wants a rate like 50/s");
    invalid("dep.llm-api.rate", "-5", "wants a rate");
    invalid("dep.llm-api.rate", "5/m", "wants a rate");
    invalid("dep.llm-api.rate", "nan", "wants a rate");
    invalid("queue.orders.max_depth", "big", "queue.orders.max_depth wants an integer");
}

static void names_are_checked(void **state)
{
    (void)state;
    char err[512];
    enum policy_type type;
    assert_int_equal(policy_check_name("queue.a.b.c.paused", &type, err, sizeof err), 0);
    assert_int_equal(type, POLICY_BOOL);
    assert_int_equal(policy_check_name("dep.x.rate", &type, err, sizeof err), 0);
    assert_int_equal(type, POLICY_RATE);
    static const char *unknown[] = {"shed.priority", "queue..paused", "queue.paused", "dep.x.timeout",
                                    "queue.a b.paused", "", "task.x.max_runtime", "SHED.AUTO"};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        if (policy_check_name(unknown[i], NULL, err, sizeof err) != -1)
            fail_msg("accepted name '%s'", unknown[i]);
        assert_non_null(strstr(err, "unknown guardrail"));
        assert_non_null(strstr(err, "known: shed.priority_below"));
    }
    invalid("shed.bogus", "1", "unknown guardrail 'shed.bogus'");
    assert_string_equal(policy_default("shed.auto"), "false");
    assert_string_equal(policy_default("queue.x.max_depth"), "off");
    assert_null(policy_default("nope"));
}

static void snapshot_from_pairs(void **state)
{
    (void)state;
    struct policy_entry pairs[] = {
        {"shed.priority_below", "4"},
        {"shed.auto", "true"},
        {"queue.orders.max_depth", "100"},
        {"queue.amqp:orders.paused", "true"},
        {"queue.jobs.paused", "false"},
        {"dep.llm-api.rate", "25/s"},
        {"dep.llm-api.fallback", "true"},
        {"dep.geo.rate", "off"},
        {"task.resize.max_runtime_ms", "1500"},
        {"budget.max_response_tokens", "off"},
        {"shed.auto.extra", "1"},            /* not a guardrail: skipped */
        {"queue.bad.max_depth", "lots"},     /* bad value written by hand: skipped */
    };
    struct policy_breaker br[] = {{"llm-api", "open", 7}};
    struct policy *p = policy_build(pairs, sizeof pairs / sizeof pairs[0], br, 1, 3);
    assert_int_equal(p->version, 3);
    assert_int_equal(p->nentries, 10);
    assert_int_equal(p->shed_priority_below, 4);
    assert_true(p->shed_auto);
    assert_int_equal(p->budget_max_response_tokens, -1);
    const struct policy_queue *q = policy_queue(p, "orders");
    assert_non_null(q);
    assert_int_equal(q->max_depth, 100);
    assert_false(q->paused);
    q = policy_queue(p, "amqp:orders");   /* the exact address wins over the bare name */
    assert_true(q->paused);
    q = policy_queue(p, "redis:orders");  /* another scheme: the bare name applies */
    assert_int_equal(q->max_depth, 100);
    assert_null(policy_queue(p, "amqp:other"));
    const struct policy_dep *d = policy_dep(p, "llm-api");
    assert_true(d->rate == 25 && d->fallback);
    assert_true(policy_dep(p, "geo")->rate == 0);
    assert_null(policy_dep(p, "nope"));
    assert_int_equal(policy_task(p, "resize")->max_runtime_ms, 1500);
    assert_string_equal(policy_value(p, "dep.llm-api.rate"), "25/s");
    assert_string_equal(policy_value(p, "queue.zzz.paused"), "false");
    assert_null(policy_value(p, "bogus"));

    struct shed_guardrails g;
    policy_shed_guardrails(p, "amqp:orders", 5, &g);
    assert_int_equal(g.priority_below, 4);
    assert_true(g.paused);
    assert_true(g.auto_shed);
    assert_int_equal(g.auto_priority, 5);
    policy_shed_guardrails(p, "redis:orders", 5, &g);
    assert_false(g.paused);
    assert_int_equal(g.max_depth, 100);
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 3, .queue_depth = 10}, false, NULL), SHED_PARK);
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 4, .queue_depth = 10}, false, NULL), SHED_RUN);

    cJSON *j = policy_applied_json(p);
    assert_int_equal(cJSON_GetObjectItem(j, "version")->valueint, 3);
    cJSON *values = cJSON_GetObjectItem(j, "values");
    assert_string_equal(cJSON_GetObjectItem(values, "shed.priority_below")->valuestring, "4");
    assert_string_equal(cJSON_GetObjectItem(values, "dep.llm-api.rate")->valuestring, "25/s");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "breakers"), "llm-api")->valuestring, "open");
    cJSON_Delete(j);

    struct policy *again = policy_ref(p);
    policy_release(p);
    assert_int_equal(again->breakers[0].generation, 7);
    policy_release(again);
}

static void empty_snapshot_is_all_defaults(void **state)
{
    (void)state;
    struct policy *p = policy_build(NULL, 0, NULL, 0, 0);
    assert_false(p->loaded);
    assert_int_equal(p->shed_priority_below, -1);
    assert_false(p->shed_auto);
    struct shed_guardrails g;
    policy_shed_guardrails(p, "amqp:x", 5, &g);
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 0, .queue_depth = 1 << 30}, true, NULL),
                     SHED_RUN);
    assert_string_equal(policy_value(p, "budget.max_response_tokens"), "off");
    policy_release(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(values_are_typed_and_canonical),
        cmocka_unit_test(names_are_checked),
        cmocka_unit_test(snapshot_from_pairs),
        cmocka_unit_test(empty_snapshot_is_all_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
