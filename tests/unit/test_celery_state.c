/* Celery events into qdeck's bounded state: one body or a task.multi list;
 * kombu's Redis envelope with a base64 body; the latencies each pair of
 * events gives (run from runtime, prefetch, broker wait, e2e) and clock
 * skew refused; alive / lost at 2 x freq / stopped / forgotten; the
 * in-flight table stays under its cap with evictions counted, and every
 * entry stays findable through deletions (backward shift); a report read
 * back after a restart gives the same report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celery/event.h"
#include "celery/state.h"
#include "core/histogram.h"

static double now_for_feed;

static void apply(const struct celery_event *ev, void *arg)
{
    celery_state_apply(arg, ev, now_for_feed);
}

static int feed(struct celery_state *st, double now, const char *body)
{
    char err[200];
    now_for_feed = now;
    return celery_events_parse(body, strlen(body), apply, st, NULL, err, sizeof err);
}

static const cJSON *task_of(const cJSON *report, const char *task, const char *field)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(report, "latency"), task);
    return cJSON_GetObjectItemCaseSensitive(t, field);
}

static uint64_t hist_p50(const cJSON *enc)
{
    struct histogram h;
    assert_true(cJSON_IsString(enc));
    assert_int_equal(histogram_decode(&h, enc->valuestring), 0);
    return histogram_percentile(&h, 50);
}

static void task_lifecycle_and_multi(void **unused)
{
    (void)unused;
    struct celery_state *st = celery_state_new(NULL);
    assert_int_equal(feed(st, 1000.0, "{\"type\":\"worker-online\",\"hostname\":\"celery@a\",\"freq\":2.0,"
                                      "\"sw_ident\":\"py-celery\",\"sw_ver\":\"5.2.6\",\"pid\":77,\"timestamp\":999.5}"),
                     1);
    assert_int_equal(feed(st, 1000.1, "{\"type\":\"task-sent\",\"uuid\":\"u1\",\"name\":\"t.add\",\"hostname\":\"gen@p\","
                                      "\"timestamp\":1000.0}"),
                     1);
    /* prefork workers batch task events: task.multi is a list */
    assert_int_equal(feed(st, 1000.5, "[{\"type\":\"task-received\",\"uuid\":\"u1\",\"name\":\"t.add\",\"hostname\":\"celery@a\","
                                      "\"timestamp\":1000.2},"
                                      "{\"type\":\"task-started\",\"uuid\":\"u1\",\"hostname\":\"celery@a\",\"timestamp\":1000.3},"
                                      "{\"no\":\"type\"},"
                                      "{\"type\":\"task-succeeded\",\"uuid\":\"u1\",\"hostname\":\"celery@a\",\"runtime\":0.05,"
                                      "\"timestamp\":1000.36}]"),
                     3);
    cJSON *r = celery_state_report(st, 0, 1001.0);
    assert_string_equal(cJSON_GetObjectItem(r, "kind")->valuestring, "celery");
    assert_string_equal(cJSON_GetObjectItem(r, "version")->valuestring, "py-celery 5.2.6");
    assert_string_equal(cJSON_GetObjectItem(r, "state")->valuestring, "running");
    assert_int_equal(cJSON_GetObjectItem(r, "lost_after")->valuedouble, 4);
    assert_int_equal(task_of(r, "t.add", "processed")->valuedouble, 1);
    uint64_t run = hist_p50(task_of(r, "t.add", "run"));
    assert_true(run > 49000 && run < 51000);
    uint64_t prefetch = hist_p50(task_of(r, "t.add", "prefetch_wait"));
    assert_true(prefetch > 99000 && prefetch < 101000);
    uint64_t broker = hist_p50(task_of(r, "t.add", "broker_wait"));
    assert_true(broker > 199000 && broker < 201000);
    uint64_t e2e = hist_p50(task_of(r, "t.add", "e2e"));
    assert_true(e2e > 357000 && e2e < 363000);
    cJSON_Delete(r);
    struct celery_counters c;
    celery_state_counters(st, &c);
    assert_int_equal(c.inflight, 0);
    assert_int_equal(c.events, 5);
    celery_state_free(st);
}

/* A worker's clock against qdeck's: the least (receive - send) over a
 * minute of heartbeats, so a delayed heartbeat does not look like skew. */
static void worker_clock_offset_is_the_least_delay(void **unused)
{
    (void)unused;
    struct celery_state *st = celery_state_new(NULL);
    feed(st, 1000.0, "{\"type\":\"worker-heartbeat\",\"hostname\":\"celery@a\",\"freq\":1.0,\"timestamp\":997.0}");
    feed(st, 1001.9, "{\"type\":\"worker-heartbeat\",\"hostname\":\"celery@a\",\"freq\":1.0,\"timestamp\":998.0}");
    cJSON *r = celery_state_report(st, 0, 1002.0);
    assert_float_equal(cJSON_GetObjectItem(r, "clock_offset")->valuedouble, 3.0, 1e-9);   /* 3.9 was a delay */
    cJSON_Delete(r);
    /* a minute on, the estimate starts again: the worker's clock moved 5 s ahead */
    feed(st, 1070.0, "{\"type\":\"worker-heartbeat\",\"hostname\":\"celery@a\",\"freq\":1.0,\"timestamp\":1075.0}");
    r = celery_state_report(st, 0, 1070.0);
    assert_float_equal(cJSON_GetObjectItem(r, "clock_offset")->valuedouble, -5.0, 1e-9);
    cJSON_Delete(r);
    celery_state_free(st);
}

static void skew_failures_and_liveness(void **unused)
{
    (void)unused;
    struct celery_state *st = celery_state_new(&(struct celery_limits){.forget_after = 60});
    feed(st, 100.0, "{\"type\":\"worker-heartbeat\",\"hostname\":\"w@b\",\"freq\":1.0,\"active\":1,\"processed\":9}");
    /* a producer whose clock runs 30 s ahead: no broker wait, counted as skew */
    feed(st, 100.0, "{\"type\":\"task-sent\",\"uuid\":\"s1\",\"name\":\"t.x\",\"timestamp\":130.0}");
    feed(st, 100.0, "{\"type\":\"task-received\",\"uuid\":\"s1\",\"name\":\"t.x\",\"hostname\":\"w@b\",\"timestamp\":100.0}");
    feed(st, 100.1, "{\"type\":\"task-failed\",\"uuid\":\"s1\",\"hostname\":\"w@b\",\"exception\":\"KeyError('k')\","
                    "\"timestamp\":100.1}");
    cJSON *r = celery_state_report(st, 0, 100.5);
    assert_null(task_of(r, "t.x", "broker_wait"));
    assert_int_equal(task_of(r, "t.x", "clock_skew")->valuedouble, 2);   /* broker wait and e2e */
    assert_int_equal(task_of(r, "t.x", "failed")->valuedouble, 1);
    assert_int_equal(cJSON_GetObjectItem(task_of(r, "t.x", "exceptions"), "KeyError")->valuedouble, 1);
    assert_int_equal(cJSON_GetObjectItem(r, "failed")->valuedouble, 1);
    assert_int_equal(cJSON_GetObjectItem(r, "processed")->valuedouble, 9);
    cJSON_Delete(r);
    assert_int_equal(celery_state_worker_state(st, 0, 101.9), CELERY_ALIVE);
    assert_int_equal(celery_state_worker_state(st, 0, 102.2), CELERY_LOST);
    feed(st, 103.0, "{\"type\":\"worker-offline\",\"hostname\":\"w@b\"}");
    assert_int_equal(celery_state_worker_state(st, 0, 200.0), CELERY_STOPPED);
    celery_state_expire(st, 162.0);
    assert_int_equal(celery_state_nworkers(st), 1);
    celery_state_expire(st, 163.5);
    assert_int_equal(celery_state_nworkers(st), 0);
    celery_state_free(st);
}

static void inflight_is_capped_and_findable(void **unused)
{
    (void)unused;
    struct celery_state *st = celery_state_new(&(struct celery_limits){.max_inflight = 100});
    char body[256];
    for (int i = 0; i < 1000; i++) {
        snprintf(body, sizeof body, "{\"type\":\"task-received\",\"uuid\":\"id-%d\",\"name\":\"t.y\",\"hostname\":\"w@c\","
                                    "\"timestamp\":1.0}", i);
        feed(st, 2.0, body);
    }
    struct celery_counters c;
    celery_state_counters(st, &c);
    assert_int_equal(c.inflight, 100);
    assert_int_equal(c.inflight_evicted, 900);
    /* finish every task: the 100 still held are found (none unattributed
     * but the evicted ones, whose task-succeeded has no name) */
    for (int i = 0; i < 1000; i++) {
        snprintf(body, sizeof body, "{\"type\":\"task-succeeded\",\"uuid\":\"id-%d\",\"hostname\":\"w@c\",\"runtime\":0.01,"
                                    "\"timestamp\":3.0}", i);
        feed(st, 3.0, body);
    }
    celery_state_counters(st, &c);
    assert_int_equal(c.inflight, 0);
    assert_int_equal(c.tasks_unattributed, 900);
    cJSON *r = celery_state_report(st, 0, 3.0);
    assert_int_equal(task_of(r, "t.y", "processed")->valuedouble, 100);
    cJSON_Delete(r);
    celery_state_free(st);
}

static void redis_envelope_and_bad_input(void **unused)
{
    (void)unused;
    /* base64 of {"type":"worker-heartbeat","hostname":"r@d","freq":2} */
    const char *msg = "{\"body\": \"eyJ0eXBlIjoid29ya2VyLWhlYXJ0YmVhdCIsImhvc3RuYW1lIjoickBkIiwiZnJlcSI6Mn0=\", "
                      "\"content-encoding\": \"utf-8\", \"content-type\": \"application/json\", \"headers\": {}, "
                      "\"properties\": {\"body_encoding\": \"base64\", \"delivery_tag\": \"x\"}}";
    char *body, err[200];
    size_t len;
    assert_int_equal(celery_redis_unwrap(msg, strlen(msg), &body, &len, err, sizeof err), 0);
    assert_string_equal(body, "{\"type\":\"worker-heartbeat\",\"hostname\":\"r@d\",\"freq\":2}");
    free(body);
    assert_int_equal(celery_redis_unwrap("{\"body\": 3}", 11, &body, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "kombu envelope"));
    const char *bad64 = "{\"body\": \"!!!\", \"properties\": {\"body_encoding\": \"base64\"}}";
    assert_int_equal(celery_redis_unwrap(bad64, strlen(bad64), &body, &len, err, sizeof err), -1);
    assert_non_null(strstr(err, "base64"));
    struct celery_state *st = celery_state_new(NULL);
    assert_int_equal(feed(st, 1.0, "not json"), -1);
    assert_int_equal(feed(st, 1.0, "42"), -1);
    assert_int_equal(feed(st, 1.0, "{\"type\":\"task-unknown-new\"}"), 1);
    struct celery_counters c;
    celery_state_counters(st, &c);
    assert_int_equal(c.unknown_types, 1);
    celery_state_free(st);
}

static void history_survives_a_restart(void **unused)
{
    (void)unused;
    struct celery_state *st = celery_state_new(NULL);
    feed(st, 50.0, "{\"type\":\"worker-heartbeat\",\"hostname\":\"w@r\",\"freq\":2,\"processed\":3,"
                   "\"sw_ident\":\"py-celery\",\"sw_ver\":\"5.2.6\"}");
    for (int i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof body, "[{\"type\":\"task-received\",\"uuid\":\"r%d\",\"name\":\"t.z\",\"hostname\":\"w@r\","
                                    "\"timestamp\":50},{\"type\":\"task-failed\",\"uuid\":\"r%d\",\"hostname\":\"w@r\","
                                    "\"exception\":\"IOError()\",\"timestamp\":50.1}]", i, i);
        feed(st, 50.1, body);
    }
    feed(st, 50.5, "[{\"type\":\"task-received\",\"uuid\":\"ok\",\"name\":\"t.z\",\"hostname\":\"w@r\",\"timestamp\":50},"
                   "{\"type\":\"task-started\",\"uuid\":\"ok\",\"hostname\":\"w@r\",\"timestamp\":50.2},"
                   "{\"type\":\"task-succeeded\",\"uuid\":\"ok\",\"hostname\":\"w@r\",\"runtime\":0.25,\"timestamp\":50.5}]");
    cJSON *before = celery_state_report(st, 0, 51.0);
    struct celery_state *again = celery_state_new(NULL);
    celery_state_restore(again, before, 1e9);   /* a heartbeat from 1970 on a clock of 2001: nonsense */
    assert_int_equal(celery_state_nworkers(again), 0);
    celery_state_restore(again, before, 52.0);
    celery_state_restore(again, before, 52.0);   /* a worker already known is left alone */
    assert_int_equal(celery_state_nworkers(again), 1);
    cJSON *after = celery_state_report(again, 0, 51.0);
    /* the last minute's outcomes are a recent rate: they start again at 0 */
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(before, "latency"), "t.z"), "per_minute");
    cJSON_DeleteItemFromObject(cJSON_GetObjectItem(cJSON_GetObjectItem(after, "latency"), "t.z"), "per_minute");
    assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(after, "latency"), "t.z"), "run"));
    char *a = cJSON_PrintUnformatted(cJSON_GetObjectItem(before, "latency"));
    char *b = cJSON_PrintUnformatted(cJSON_GetObjectItem(after, "latency"));
    assert_string_equal(a, b);
    assert_string_equal(cJSON_GetObjectItem(after, "version")->valuestring, "py-celery 5.2.6");
    assert_int_equal(cJSON_GetObjectItem(after, "failed")->valuedouble, 3);
    assert_int_equal(cJSON_GetObjectItem(after, "at")->valuedouble, 50.5);
    free(a);
    free(b);
    cJSON_Delete(before);
    cJSON_Delete(after);
    celery_state_free(st);
    celery_state_free(again);
}

/* A collector that takes over writing learns which queues the last writer
 * paused, on a worker it did not know and on one it knew with none. */
static void paused_queues_are_read_back(void **unused)
{
    (void)unused;
    struct celery_state *st = celery_state_new(NULL);
    feed(st, 50.0, "{\"type\":\"worker-heartbeat\",\"hostname\":\"w@r\",\"freq\":2}");
    celery_state_set_paused(st, 0, "q1,q2");
    cJSON *report = celery_state_report(st, 0, 50.0);
    assert_string_equal(cJSON_GetObjectItem(report, "paused_queues")->valuestring, "q1,q2");

    struct celery_state *fresh = celery_state_new(NULL), *knowing = celery_state_new(NULL);
    celery_state_restore(fresh, report, 51.0);
    assert_string_equal(celery_state_paused(fresh, 0), "q1,q2");
    feed(knowing, 50.5, "{\"type\":\"worker-heartbeat\",\"hostname\":\"w@r\",\"freq\":2}");
    assert_string_equal(celery_state_paused(knowing, 0), "");
    celery_state_restore(knowing, report, 51.0);
    assert_string_equal(celery_state_paused(knowing, 0), "q1,q2");
    celery_state_set_paused(knowing, 0, "q3");   /* its own pauses are newer than a report */
    celery_state_restore(knowing, report, 51.0);
    assert_string_equal(celery_state_paused(knowing, 0), "q3");
    cJSON_Delete(report);
    celery_state_free(st);
    celery_state_free(fresh);
    celery_state_free(knowing);
}

/* A queue is listed only as a whole name, in either separator style. */
static void queue_lists_match_whole_names(void **state)
{
    (void)state;
    assert_true(celery_queue_listed("celery, ux.orders", "ux.orders"));
    assert_true(celery_queue_listed("a,b,c", "a"));
    assert_true(celery_queue_listed("a,b,c", "c"));
    assert_false(celery_queue_listed("ux.orders.slow", "ux.orders"));
    assert_false(celery_queue_listed("orders", "ux.orders"));
    assert_false(celery_queue_listed("a,,b", ""));
    assert_false(celery_queue_listed("", "a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(task_lifecycle_and_multi),
        cmocka_unit_test(skew_failures_and_liveness),
        cmocka_unit_test(worker_clock_offset_is_the_least_delay),
        cmocka_unit_test(inflight_is_capped_and_findable),
        cmocka_unit_test(redis_envelope_and_bad_input),
        cmocka_unit_test(history_survives_a_restart),
        cmocka_unit_test(paused_queues_are_read_back),
        cmocka_unit_test(queue_lists_match_whole_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
