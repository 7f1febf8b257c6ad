/* Load-shedding verdicts for every guardrail and their order, and the CoDel
 * tracker: minimum wait over 100 ms intervals against the target. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "resilience/shed.h"

static const struct shed_guardrails none = {.priority_below = -1, .max_depth = -1, .auto_priority = 5};

static void nothing_set_runs_everything(void **state)
{
    (void)state;
    const char *why = "x";
    struct shed_task t = {.priority = 0, .queue_depth = 1000000};
    assert_int_equal(shed_decide(&none, &t, true, &why), SHED_RUN);   /* codel alone needs shed.auto */
    assert_null(why);
    assert_true(shed_publish_allowed(&none, 1000000));
}

static void priority_threshold_is_strictly_below(void **state)
{
    (void)state;
    struct shed_guardrails g = none;
    g.priority_below = 5;
    const char *why;
    struct shed_task low = {.priority = 4, .queue_depth = -1}, edge = {.priority = 5, .queue_depth = -1};
    assert_int_equal(shed_decide(&g, &low, false, &why), SHED_PARK);
    assert_string_equal(why, "shed");
    assert_int_equal(shed_decide(&g, &edge, false, &why), SHED_RUN);
    g.priority_below = 0;   /* 0: nothing is below */
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 0, .queue_depth = -1}, false, NULL), SHED_RUN);
}

static void max_depth_dead_letters_above_it(void **state)
{
    (void)state;
    struct shed_guardrails g = none;
    g.max_depth = 100;
    const char *why;
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 9, .queue_depth = 100}, false, &why), SHED_RUN);
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 9, .queue_depth = 101}, false, &why),
                     SHED_DEAD_LETTER);
    assert_string_equal(why, "shed");
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 9, .queue_depth = -1}, false, &why), SHED_RUN);
    assert_true(shed_publish_allowed(&g, 99));
    assert_false(shed_publish_allowed(&g, 100));
    g.max_depth = 0;
    assert_false(shed_publish_allowed(&g, 0));
}

static void paused_parks_everything_first(void **state)
{
    (void)state;
    struct shed_guardrails g = none;
    g.paused = true;
    g.max_depth = 1;
    const char *why;
    assert_int_equal(shed_decide(&g, &(struct shed_task){.priority = 255, .queue_depth = 50}, false, &why), SHED_PARK);
    assert_string_equal(why, "paused");
    assert_string_equal(shed_verdict_name(SHED_DEAD_LETTER), "dead-letter");
}

static void auto_sheds_only_sheddable_while_codel_says_so(void **state)
{
    (void)state;
    struct shed_guardrails g = none;
    g.auto_shed = true;
    g.auto_priority = 5;
    const char *why;
    struct shed_task low = {.priority = 2, .queue_depth = -1}, high = {.priority = 7, .queue_depth = -1};
    assert_int_equal(shed_decide(&g, &low, false, &why), SHED_RUN);
    assert_int_equal(shed_decide(&g, &low, true, &why), SHED_PARK);
    assert_string_equal(why, "shed");
    assert_int_equal(shed_decide(&g, &high, true, &why), SHED_RUN);
}

static void codel_minimum_over_interval(void **state)
{
    (void)state;
    struct shed_codel c;
    shed_codel_init(&c, 0.5, SHED_CODEL_INTERVAL);
    double t = 0.0;   /* boundaries exact in binary: t + 0.10 - t is 0.1 */
    /* an interval where one task waited little: its minimum is below target */
    assert_false(shed_codel_observe(&c, 2.0, t));
    assert_false(shed_codel_observe(&c, 0.1, t + 0.03));
    assert_false(shed_codel_observe(&c, 3.0, t + 0.06));
    assert_false(shed_codel_observe(&c, 2.0, t + 0.10));   /* closes it: min 0.1 */
    /* a whole interval above target: shedding on at the next close */
    assert_false(shed_codel_observe(&c, 0.9, t + 0.15));
    assert_true(shed_codel_observe(&c, 0.8, t + 0.21));
    assert_true(shed_codel_shedding(&c));
    /* stays on while it stays above */
    assert_true(shed_codel_observe(&c, 0.7, t + 0.25));
    assert_true(shed_codel_observe(&c, 0.6, t + 0.32));
    /* one short wait within an interval: off at its close */
    assert_true(shed_codel_observe(&c, 0.2, t + 0.35));
    assert_false(shed_codel_observe(&c, 0.9, t + 0.43));
    /* exactly the target is not above it */
    assert_false(shed_codel_observe(&c, 0.5, t + 0.50));
    assert_false(shed_codel_observe(&c, 0.6, t + 0.61));
    /* a long gap, then a task that did not wait: the queue drained */
    assert_true(shed_codel_observe(&c, 0.9, t + 0.75));
    assert_true(shed_codel_observe(&c, 0.9, t + 0.86));
    assert_false(shed_codel_observe(&c, 0.01, t + 5.0));
    assert_true(c.intervals >= 6);
    shed_codel_fini(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_set_runs_everything),
        cmocka_unit_test(priority_threshold_is_strictly_below),
        cmocka_unit_test(max_depth_dead_letters_above_it),
        cmocka_unit_test(paused_parks_everything_first),
        cmocka_unit_test(auto_sheds_only_sheddable_while_codel_says_so),
        cmocka_unit_test(codel_minimum_over_interval),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
