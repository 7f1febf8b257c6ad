/* Queue address parsing: schemes, first-colon split, stream groups, bare names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/address.h"

static void parses_each_scheme(void **state)
{
    (void)state;
    struct queue_address a;
    char err[200];
    assert_int_equal(queue_address_parse("amqp:orders:eu/1", NULL, &a, err, sizeof err), 0);
    assert_int_equal(a.kind, QUEUE_AMQP);
    assert_string_equal(a.name, "orders:eu/1");
    queue_address_free(&a);
    assert_int_equal(queue_address_parse("redis:jobs:high", NULL, &a, err, sizeof err), 0);
    assert_int_equal(a.kind, QUEUE_REDIS_LIST);
    assert_string_equal(a.name, "jobs:high");
    queue_address_free(&a);
    assert_int_equal(queue_address_parse("stream:ev#1#workers", NULL, &a, err, sizeof err), 0);
    assert_int_equal(a.kind, QUEUE_STREAM);
    assert_string_equal(a.name, "ev#1");
    assert_string_equal(a.group, "workers");
    char *back = queue_address_format(&a);
    assert_string_equal(back, "stream:ev#1#workers");
    free(back);
    queue_address_free(&a);
}

static void refuses_bad_addresses(void **state)
{
    (void)state;
    struct queue_address a;
    char err[200];
    assert_int_equal(queue_address_parse("stream:ev", NULL, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "stream:KEY#GROUP"));
    assert_int_equal(queue_address_parse("amqp:", NULL, &a, err, sizeof err), -1);
    assert_int_equal(queue_address_parse("orders", NULL, &a, err, sizeof err), -1);
}

static void bare_name_follows_the_only_broker(void **state)
{
    (void)state;
    struct context_config ctx = {0};
    struct queue_address a;
    char err[200];
    ctx.redis = "redis://127.0.0.1:6379";
    assert_int_equal(queue_address_parse("jobs", &ctx, &a, err, sizeof err), 0);
    assert_int_equal(a.kind, QUEUE_REDIS_LIST);
    queue_address_free(&a);
    ctx.amqp = "amqp://127.0.0.1";
    assert_int_equal(queue_address_parse("jobs", &ctx, &a, err, sizeof err), -1);
    ctx.redis = NULL;
    assert_int_equal(queue_address_parse("x:y", &ctx, &a, err, sizeof err), 0);
    assert_int_equal(a.kind, QUEUE_AMQP);
    assert_string_equal(a.name, "x:y");
    queue_address_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_each_scheme),
        cmocka_unit_test(refuses_bad_addresses),
        cmocka_unit_test(bare_name_follows_the_only_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
