/* The worker's reading of a delivery (task_new): an envelope's fields, and
 * numbers far out of range (found with probe inputs to tests/fuzz/fuzz_task:
 * they were cast to int, undefined behaviour) clamped to keep their sense. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "worker/task.h"

static struct task *task_of(const char *body)
{
    return task_new(NULL, body, strlen(body), 3);
}

static void envelope_fields(void **state)
{
    (void)state;
    struct task *t = task_of("{\"id\":\"t-1\",\"type\":\"rec\",\"payload\":{\"n\":1},\"attempt\":2,"
                             "\"max_attempts\":5,\"priority\":7,\"idempotency_key\":\"k\"}");
    assert_null(t->poison);
    assert_string_equal(t->id, "t-1");
    assert_string_equal(t->payload, "{\"n\":1}");
    assert_true(t->attempt == 3 && t->max_attempts == 5 && t->priority == 7);
    assert_string_equal(t->idem_key, "k");
    task_unref(t);
    t = task_of("not json");
    assert_string_equal(t->poison, "poison");
    assert_non_null(strstr(t->error, "not a JSON task envelope"));
    task_unref(t);
}

static void numbers_out_of_range_are_clamped(void **state)
{
    (void)state;
    struct task *t = task_of("{\"type\":\"rec\",\"attempt\":1e300,\"max_attempts\":1e300,\"priority\":-1e300}");
    assert_null(t->poison);
    assert_int_equal(t->attempt, 1000000001);
    assert_int_equal(t->max_attempts, 1000000000);
    assert_int_equal(t->priority, -1000000000);
    assert_true(t->attempt > t->max_attempts);   /* still "too many attempts" */
    task_unref(t);
    t = task_of("{\"type\":\"rec\",\"attempt\":2147483647}");
    assert_int_equal(t->attempt, 1000000001);
    task_unref(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(envelope_fields),
        cmocka_unit_test(numbers_out_of_range_are_clamped),
    };
    return cmocka_run_group_tests_name("task", tests, NULL, NULL);
}
