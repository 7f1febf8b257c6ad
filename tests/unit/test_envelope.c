/* Message recognition: qdeck and Celery envelopes, and the fallbacks for
 * anything else — text and binary are identified, never rejected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "core/envelope.h"

static void qdeck_envelope(void **state)
{
    (void)state;
    const char *m = "{\"id\":\"t-1\",\"type\":\"llm.summarize\",\"payload\":{},\"attempt\":0,"
                    "\"created_at\":\"2026-11-25T03:31:25.250Z\"}";
    struct envelope_info e;
    envelope_inspect(m, strlen(m), &e);
    assert_int_equal(e.format, ENVELOPE_QDECK);
    assert_string_equal(e.identity, "t-1");
    assert_string_equal(e.type, "llm.summarize");
    assert_true(fabs(e.created_at - 1795577485.25) < 1e-6);
}

static void celery_envelope_has_no_time(void **state)
{
    (void)state;
    const char *m = "{\"body\":\"W1tdLHt9LHt9XQ==\",\"content-encoding\":\"utf-8\","
                    "\"headers\":{\"lang\":\"py\",\"task\":\"tasks.add\",\"id\":\"c0ffee\",\"retries\":0},"
                    "\"properties\":{\"delivery_tag\":\"x\"}}";
    struct envelope_info e;
    envelope_inspect(m, strlen(m), &e);
    assert_int_equal(e.format, ENVELOPE_CELERY);
    assert_string_equal(e.identity, "c0ffee");
    assert_string_equal(e.type, "tasks.add");
    assert_true(isnan(e.created_at));
}

static void text_and_binary_get_content_identity(void **state)
{
    (void)state;
    struct envelope_info a, b, c;
    envelope_inspect("hello", 5, &a);
    envelope_inspect("hello", 5, &b);
    envelope_inspect("hellp", 5, &c);
    assert_int_equal(a.format, ENVELOPE_TEXT);
    assert_string_equal(a.identity, b.identity);
    assert_string_not_equal(a.identity, c.identity);
    const char bin[] = {'a', 0, 'b', 1};
    envelope_inspect(bin, sizeof bin, &a);
    assert_int_equal(a.format, ENVELOPE_BINARY);
    assert_true(strncmp(a.identity, "sha:", 4) == 0);
    envelope_inspect("[1,2]", 5, &a);
    assert_int_equal(a.format, ENVELOPE_JSON);
}

static void time_formats(void **state)
{
    (void)state;
    assert_true(envelope_parse_time("1700000000") == 1700000000.0);
    assert_true(envelope_parse_time("1700000000500") == 1700000000.5);
    assert_true(envelope_parse_time("2023-11-14T22:13:20Z") == 1700000000.0);
    assert_true(envelope_parse_time("2023-11-14T22:13:20+00:00") == 1700000000.0);
    assert_true(isnan(envelope_parse_time("yesterday")));
    assert_true(isnan(envelope_parse_time("2023-11-14T22:13:20+02:00")));
    assert_true(isnan(envelope_parse_time("")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(qdeck_envelope),
        cmocka_unit_test(celery_envelope_has_no_time),
        cmocka_unit_test(text_and_binary_get_content_identity),
        cmocka_unit_test(time_formats),
    };
    return cmocka_run_group_tests_name("envelope", tests, NULL, NULL);
}
