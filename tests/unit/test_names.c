/* The known-names set behind the phantom-name checks: a queue matches with
 * or without its kind, dependencies and task types match exactly, a
 * guardrail is checked by the queue/dependency/task it names (dots and
 * colons inside the name included), and fleet-wide guardrails always pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "control/names.h"

static void queues_match_with_or_without_kind(void **state)
{
    (void)state;
    struct known_names k = {0};
    known_names_add(&k, NAME_QUEUE, "amqp:orders");
    known_names_add(&k, NAME_QUEUE, "stream:ev#g");
    known_names_add(&k, NAME_QUEUE, "amqp:orders");   /* once */
    assert_int_equal(k.n, 2);
    assert_true(known_names_has(&k, NAME_QUEUE, "amqp:orders"));
    assert_true(known_names_has(&k, NAME_QUEUE, "orders"));
    assert_false(known_names_has(&k, NAME_QUEUE, "redis:orders"));   /* another broker's queue */
    assert_true(known_names_has(&k, NAME_QUEUE, "stream:ev#g"));
    assert_false(known_names_has(&k, NAME_QUEUE, "nope"));
    assert_false(known_names_has(&k, NAME_DEP, "orders"));           /* kinds do not mix */
    known_names_free(&k);
    assert_int_equal(k.n, 0);
}

static void guardrails_checked_by_their_scope(void **state)
{
    (void)state;
    struct known_names k = {0};
    known_names_add(&k, NAME_QUEUE, "amqp:orders.v2");
    known_names_add(&k, NAME_DEP, "llm-api");
    known_names_add(&k, NAME_TASK, "resize");
    char what[128] = "";
    assert_true(known_names_guardrail(&k, "queue.amqp:orders.v2.paused", what, sizeof what));
    assert_true(known_names_guardrail(&k, "queue.orders.v2.max_depth", what, sizeof what));
    assert_true(known_names_guardrail(&k, "dep.llm-api.rate", what, sizeof what));
    assert_true(known_names_guardrail(&k, "task.resize.max_runtime_ms", what, sizeof what));
    assert_true(known_names_guardrail(&k, "shed.priority_below", what, sizeof what));
    assert_string_equal(what, "");
    assert_false(known_names_guardrail(&k, "queue.nope.paused", what, sizeof what));
    assert_string_equal(what, "queue 'nope'");
    assert_false(known_names_guardrail(&k, "dep.nosuchdep.fallback", what, sizeof what));
    assert_string_equal(what, "dependency 'nosuchdep'");
    assert_false(known_names_guardrail(&k, "task.x.max_runtime_ms", what, sizeof what));
    assert_string_equal(what, "task type 'x'");
    known_names_free(&k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(queues_match_with_or_without_kind),
        cmocka_unit_test(guardrails_checked_by_their_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
