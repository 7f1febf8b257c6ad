/* Queue rows joined with the fleet and the guardrails (console/queue-join.h)
 * and alerts as a pure function (console/alerts.h): a Redis list gets its
 * consumers, out rate and utilisation from the heartbeats of the running
 * workers that consume it (a lost one does not count; a worker sharing its
 * slots with another queue leaves utilisation unknown); a RabbitMQ row keeps
 * the broker's figures and names the workers; paused and shed come from the
 * guardrails; a paused queue raises no depth alert. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console/alerts.h"
#include "console/queue-join.h"

static const char *const reports[] = {
    "{\"id\":\"w1\",\"at\":999.5,\"state\":\"running\",\"queues\":[\"redis:jobs\"],\"slots_busy\":1,"
    "\"slots_total\":4,\"queue_rate\":{\"redis:jobs\":2.5}}",
    "{\"id\":\"w2\",\"at\":999.5,\"state\":\"running\",\"queues\":[\"redis:jobs\",\"amqp:orders\"],"
    "\"slots_busy\":2,\"slots_total\":2,\"queue_rate\":{\"redis:jobs\":1.5,\"amqp:orders\":7}}",
    "{\"id\":\"w4\",\"at\":999.5,\"state\":\"running\",\"queues\":[\"redis:jobs\"],\"paused\":[\"redis:jobs\"],"
    "\"queue_rate\":{\"redis:jobs\":0}}",   /* paused: not a consumer */
    "{\"id\":\"w3\",\"at\":900,\"state\":\"running\",\"queues\":[\"redis:jobs\"],\"slots_busy\":3,"
    "\"slots_total\":3,\"queue_rate\":{\"redis:jobs\":100}}",   /* lost: beat 100 s ago */
};

struct fixture {
    struct fleet_worker workers[4];
    struct fleet_table fleet;
    struct snapshot *snap;
    struct policy *policy;
};

static void setup(struct fixture *f)
{
    for (size_t i = 0; i < 4; i++)
        assert_true(fleet_parse_report("w", reports[i], 1000, &f->workers[i]));
    assert_int_equal(f->workers[3].state, FLEET_LOST);
    f->fleet = (struct fleet_table){.taken_at = 1000, .n = 4, .workers = f->workers};
    f->snap = snapshot_new(4);
    struct queue_stat *q = snapshot_add(f->snap, QUEUE_REDIS_LIST, "jobs");
    q->ready = q->total = 50;
    q = snapshot_add(f->snap, QUEUE_AMQP, "orders");
    q->ready = q->total = 9;
    q->consumers = 5;
    q->rate_out = 3;
    q = snapshot_add(f->snap, QUEUE_REDIS_LIST, "idle");
    q->ready = q->total = 20;
    snapshot_seal(f->snap);
    struct policy_entry pairs[] = {{"queue.redis:idle.max_depth", "10"}, {"queue.redis:jobs.paused", "true"}};
    f->policy = policy_build(pairs, 2, NULL, 0, 1);
}

static void teardown(struct fixture *f)
{
    for (size_t i = 0; i < 4; i++)
        fleet_worker_free(&f->workers[i]);
    snapshot_unref(f->snap);
    policy_release(f->policy);
}

static void redis_rows_get_the_fleet(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct queue_fleet qf;
    queue_fleet_build(&f.fleet, &qf);
    struct snapshot *j = queue_join(f.snap, &qf, f.policy);
    const struct queue_stat *jobs = snapshot_find(j, "redis:jobs");
    assert_int_equal(jobs->consumers, 2);             /* w1, w2; paused w4 and lost w3 not counted */
    assert_true(fabs(jobs->rate_out - 4.0) < 1e-9);  /* 2.5 + 1.5 */
    assert_true(isnan(jobs->utilisation));            /* w2 shares its slots with amqp:orders */
    assert_string_equal(jobs->workers, "w1, w2");
    assert_true(jobs->paused);
    assert_null(jobs->shed);
    const struct queue_stat *orders = snapshot_find(j, "amqp:orders");
    assert_int_equal(orders->consumers, 5);           /* the broker's count stays */
    assert_true(orders->rate_out == 3);
    assert_string_equal(orders->workers, "w2");
    const struct queue_stat *idle = snapshot_find(j, "redis:idle");
    assert_int_equal(idle->consumers, 0);             /* the fleet is known: nobody consumes it */
    assert_true(idle->rate_out == 0);
    assert_null(idle->workers);
    assert_false(idle->paused);
    assert_string_equal(idle->shed, "max_depth 10"); /* 20 >= 10 */
    snapshot_unref(j);
    queue_fleet_free(&qf);

    /* without a fleet, a Redis row keeps "unknown" */
    j = queue_join(f.snap, NULL, NULL);
    assert_int_equal(snapshot_find(j, "redis:jobs")->consumers, -1);
    assert_false(snapshot_find(j, "redis:jobs")->paused);
    snapshot_unref(j);
    teardown(&f);
}

static void utilisation_of_single_queue_workers(void **state)
{
    (void)state;
    struct fleet_worker w;
    assert_true(fleet_parse_report("w", reports[0], 1000, &w));
    struct fleet_table t = {.taken_at = 1000, .n = 1, .workers = &w};
    struct queue_fleet qf;
    queue_fleet_build(&t, &qf);
    const struct queue_fleet_row *r = queue_fleet_find(&qf, "redis:jobs");
    assert_non_null(r);
    assert_int_equal(r->busy, 1);
    assert_int_equal(r->slots, 4);
    assert_null(queue_fleet_find(&qf, "redis:other"));
    queue_fleet_free(&qf);
    fleet_worker_free(&w);
}

/* A Celery worker's report names bare queues in one string: each becomes
 * an address on its broker, less what a guardrail paused on it. */
static void celery_workers_consume_by_name(void **state)
{
    (void)state;
    static const char *const celery[] = {
        "{\"id\":\"c1@h\",\"kind\":\"celery\",\"at\":999.5,\"state\":\"running\",\"queues\":\"orders, mail\","
        "\"paused_queues\":\"mail\",\"events_source\":\"amqp://u:***@127.0.0.1:5672/%2F\",\"slots_busy\":1,"
        "\"slots_total\":2}",
        "{\"id\":\"c2@h\",\"kind\":\"celery\",\"at\":999.5,\"state\":\"running\",\"queues\":\"orders\","
        "\"events_source\":\"redis://127.0.0.1:6379/0\",\"slots_busy\":2,\"slots_total\":4}",
    };
    struct fleet_worker w[2];
    for (size_t i = 0; i < 2; i++)
        assert_true(fleet_parse_report("w", celery[i], 1000, &w[i]));
    struct fleet_table t = {.taken_at = 1000, .n = 2, .workers = w};
    struct queue_fleet qf;
    queue_fleet_build(&t, &qf);
    const struct queue_fleet_row *r = queue_fleet_find(&qf, "amqp:orders");
    assert_non_null(r);
    assert_string_equal(r->workers, "c1@h");
    assert_null(queue_fleet_find(&qf, "amqp:mail"));   /* paused on it: cancel_consumer */
    r = queue_fleet_find(&qf, "redis:orders");         /* Celery on Redis: a list */
    assert_non_null(r);
    assert_int_equal(r->consumers, 1);
    assert_int_equal(r->busy, 2);
    assert_int_equal(r->slots, 4);
    queue_fleet_free(&qf);
    for (size_t i = 0; i < 2; i++)
        fleet_worker_free(&w[i]);
}

static void paused_queue_raises_no_depth_alert(void **state)
{
    (void)state;
    struct fixture f;
    setup(&f);
    struct alerts_config th = {.depth = 5};
    struct feed_view feed = {.status = SOURCE_OK, .snap = f.snap};
    struct alert_input in = {.thresholds = &th, .feeds = &feed, .nfeeds = 1, .policy = f.policy};
    struct alert_baseline base = {0};
    struct alert_set set = {0};
    assert_true(alerts_evaluate(&in, &base, &set));
    assert_int_equal(set.n, 2);   /* amqp:orders 9 and redis:idle 20; paused redis:jobs 50 is not */
    for (size_t i = 0; i < set.n; i++) {
        assert_string_equal(set.items[i].kind, "depth");
        assert_string_not_equal(set.items[i].subject, "redis:jobs");
        assert_int_equal(set.items[i].severity, ALERT_WARNING);
    }
    assert_false(alerts_evaluate(&in, &base, &set));   /* nothing new the second time */
    in.policy = NULL;                                   /* unpaused: it alerts */
    assert_true(alerts_evaluate(&in, &base, &set));
    assert_int_equal(set.n, 3);
    alerts_free(&set);
    teardown(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(redis_rows_get_the_fleet),
        cmocka_unit_test(utilisation_of_single_queue_workers),
        cmocka_unit_test(celery_workers_consume_by_name),
        cmocka_unit_test(paused_queue_raises_no_depth_alert),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
