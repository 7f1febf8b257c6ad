/* Snapshots, feeds, backoff, dead-letter resolution and the management API
 * parsers: the pieces between a collector and its readers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/mgmt.h"
#include "core/backoff.h"
#include "core/feed.h"
#include "core/snapshot.h"

static void rows_start_unknown_and_are_found(void **state)
{
    (void)state;
    struct snapshot *s = snapshot_new(1);
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "q%03d", 99 - i);
        snapshot_add(s, QUEUE_AMQP, name)->ready = i;
    }
    struct queue_stat *q = snapshot_add(s, QUEUE_STREAM, "ev#grp");
    assert_int_equal(q->ready, -1);
    assert_true(isnan(q->rate_in));
    snapshot_seal(s);
    assert_int_equal(s->nqueues, 101);
    const struct queue_stat *f = snapshot_find(s, "amqp:q042");
    assert_non_null(f);
    assert_int_equal(f->ready, 57);
    assert_non_null(snapshot_find(s, "stream:ev#grp"));
    assert_null(snapshot_find(s, "redis:q042"));
    snapshot_unref(s);
}

static void feed_keeps_last_good_snapshot_on_error(void **state)
{
    (void)state;
    int p[2];
    assert_int_equal(pipe2(p, O_NONBLOCK), 0);
    struct feed f;
    feed_init(&f, p[1]);
    struct snapshot *s = snapshot_new(4);
    snapshot_add(s, QUEUE_REDIS_LIST, "jobs")->ready = 7;
    feed_publish(&f, s);
    feed_publish_error(&f, SOURCE_TIMEOUT, "Redis did not answer");

    struct feed_view v;
    feed_get(&f, &v);
    assert_int_equal(v.status, SOURCE_TIMEOUT);
    assert_string_equal(v.message, "Redis did not answer");
    assert_non_null(v.snap);
    assert_int_equal(v.snap->queues[0].ready, 7);
    assert_false(isnan(v.last_ok));
    assert_int_equal(v.generation, 2);
    feed_view_release(&v);

    char buf[8];
    assert_int_equal(read(p[0], buf, sizeof buf), 2);   /* one byte per publish */
    feed_destroy(&f);
    close(p[0]);
    close(p[1]);
}

static void backoff_is_capped_and_never_zero(void **state)
{
    (void)state;
    struct backoff b;
    backoff_init(&b, 0.5, 30, 42);
    double prev_ceiling = 0;
    for (int i = 0; i < 40; i++) {
        double ceiling = fmin(30, 0.5 * pow(2, i));
        double d = backoff_next(&b);
        assert_true(d >= ceiling / 2 && d <= ceiling);
        assert_true(ceiling >= prev_ceiling);
        prev_ceiling = ceiling;
    }
    backoff_reset(&b);
    assert_true(backoff_next(&b) <= 0.5);
}

static void retry_timer_waits_after_failures_only(void **state)
{
    (void)state;
    struct retry_timer t;
    retry_timer_init(&t, 0.5, 10, 7);
    assert_true(retry_timer_due(&t, 0));           /* the first try is at once */
    retry_timer_failed(&t, 100, 0);
    assert_false(retry_timer_due(&t, 100.2));      /* at least half the base later */
    assert_true(retry_timer_due(&t, 100.5));
    retry_timer_failed(&t, 200, 3);                /* never sooner than at_least */
    assert_false(retry_timer_due(&t, 202.9));
    assert_true(retry_timer_due(&t, 203));
    for (int i = 0; i < 20; i++)
        retry_timer_failed(&t, 300, 0);
    assert_true(retry_timer_due(&t, 310));         /* capped */
    retry_timer_succeeded(&t);
    assert_true(retry_timer_due(&t, 0));
}

static void dead_letter_targets(void **state)
{
    (void)state;
    struct mgmt_binding_view b[] = {
        {"dlx", "orders.dlq", "orders"},
        {"catchall", "everything.dlq", "#"},
    };
    char *t = mgmt_dead_letter_target("orders", NULL, NULL, b, 2);
    assert_null(t);
    t = mgmt_dead_letter_target("orders", "", "orders.dlq", b, 2);
    assert_string_equal(t, "amqp:orders.dlq");
    free(t);
    t = mgmt_dead_letter_target("orders", "dlx", NULL, b, 2);
    assert_string_equal(t, "amqp:orders.dlq");
    free(t);
    t = mgmt_dead_letter_target("x", "catchall", "any", b, 2);
    assert_string_equal(t, "amqp:everything.dlq");
    free(t);
    t = mgmt_dead_letter_target("x", "unbound", NULL, b, 2);
    assert_string_equal(t, "exchange:unbound");
    free(t);
}

static void management_api_answers(void **state)
{
    (void)state;
    const char bindings_json[] = "[{\"source\":\"qdeck.dlx\",\"destination\":\"work.dlq\","
                                 "\"destination_type\":\"queue\",\"routing_key\":\"work\"},"
                                 "{\"source\":\"\",\"destination\":\"work\",\"destination_type\":\"queue\","
                                 "\"routing_key\":\"work\"}]";
    struct mgmt_binding_view *b;
    size_t nb;
    char err[256] = "";
    assert_int_equal(mgmt_parse_bindings(bindings_json, strlen(bindings_json), &b, &nb, err, sizeof err), SOURCE_OK);
    assert_int_equal(nb, 1);   /* the default exchange's implicit bindings are not needed */

    /* found by tests/fuzz/fuzz_mgmt probes: counts out of range were cast (UB) */
    const char page[] = "{\"items\":[{\"name\":\"work\",\"messages\":7,\"messages_ready\":5,"
                        "\"messages_unacknowledged\":2,\"consumers\":1,\"arguments\":{\"x-dead-letter-exchange\":"
                        "\"qdeck.dlx\",\"x-dead-letter-routing-key\":\"work\"}},{\"name\":\"odd\",\"messages\":1e300,"
                        "\"messages_ready\":-1e300,\"consumers\":1e300}],\"page_count\":1}";
    struct snapshot *s = snapshot_new(2);
    int pages = 0;
    assert_int_equal(mgmt_parse_queue_page(page, strlen(page), 1000, b, nb, s, &pages, err, sizeof err), SOURCE_OK);
    snapshot_seal(s);
    assert_int_equal(pages, 1);
    const struct queue_stat *q = snapshot_find(s, "amqp:work");
    assert_true(q->total == 7 && q->ready == 5 && q->unacked == 2 && q->consumers == 1);
    assert_string_equal(q->dead_letter_to, "amqp:work.dlq");
    q = snapshot_find(s, "amqp:odd");
    assert_true(q->total == -1 && q->ready == -1 && q->consumers == -1);
    snapshot_unref(s);
    mgmt_bindings_free(b, nb);

    s = snapshot_new(1);
    assert_int_equal(mgmt_parse_queue_page(page, 40, 0, NULL, 0, s, &pages, err, sizeof err), SOURCE_BAD_RESPONSE);
    assert_non_null(strstr(err, "truncated JSON (40 bytes)"));
    assert_int_equal(mgmt_parse_queue_page("[]", 2, 0, NULL, 0, s, &pages, err, sizeof err), SOURCE_BAD_RESPONSE);
    assert_non_null(strstr(err, "no paged queue list"));
    snapshot_unref(s);
    char *server;
    assert_int_equal(mgmt_parse_overview("{\"rabbitmq_version\":\"3.10.8\"}", 29, &server, err, sizeof err),
                     SOURCE_OK);
    assert_string_equal(server, "RabbitMQ 3.10.8");
    free(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_start_unknown_and_are_found),
        cmocka_unit_test(feed_keeps_last_good_snapshot_on_error),
        cmocka_unit_test(backoff_is_capped_and_never_zero),
        cmocka_unit_test(retry_timer_waits_after_failures_only),
        cmocka_unit_test(dead_letter_targets),
        cmocka_unit_test(management_api_answers),
    };
    return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
