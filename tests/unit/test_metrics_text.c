/* Prometheus exposition helpers (net/metrics.h) and the worker's
 * report and metrics built from its stats (worker/worker-report.h):
 * exact text for HELP/TYPE, escaping, number forms, histogram buckets
 * computed from the log-bucketed latency histograms, and heartbeat JSON
 * whose latency encodings decode back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/metrics.h"
#include "worker/worker-report.h"
#include "core/histogram.h"

static void expect_contains(const char *text, const char *line)
{
    if (!strstr(text, line))
        fail_msg("missing line:\n%s\nin:\n%s", line, text);
}

static void family_and_escaping(void **state)
{
    (void)state;
    struct metrics_text t = {0};
    metrics_family(&t, "qdeck_x_total", "counter", "a help\nwith \\ and \"quotes\"");
    const char *labels[] = {"queue", "a\"b\\c\nd", "kind", "amqp", NULL};
    metrics_sample(&t, "qdeck_x_total", labels, 42);
    metrics_sample(&t, "qdeck_x_total", NULL, 1.5);
    assert_string_equal(t.buf, "# HELP qdeck_x_total a help\\nwith \\\\ and \"quotes\"\n"
                               "# TYPE qdeck_x_total counter\n"
                               "qdeck_x_total{queue=\"a\\\"b\\\\c\\nd\",kind=\"amqp\"} 42\n"
                               "qdeck_x_total 1.5\n");
    metrics_text_free(&t);
}

static void number_forms(void **state)
{
    (void)state;
    struct metrics_text t = {0};
    metrics_sample(&t, "a", NULL, 0.1);
    metrics_sample(&t, "b", NULL, NAN);
    metrics_sample(&t, "c", NULL, INFINITY);
    metrics_sample(&t, "d", NULL, -INFINITY);
    metrics_sample(&t, "e", NULL, 12345678901234.0);
    metrics_sample(&t, "f", NULL, 1e20);
    metrics_sample(&t, "g", NULL, -0.25);
    metrics_sample(&t, "h", NULL, 1.0 / 3.0);
    assert_string_equal(t.buf, "a 0.1\nb NaN\nc +Inf\nd -Inf\ne 12345678901234\nf 1e+20\ng -0.25\n"
                               "h 0.3333333333333333\n");   /* the shortest form that reads back exactly */
    metrics_text_free(&t);
}

static void histogram_lines(void **state)
{
    (void)state;
    struct metrics_text t = {0};
    const double bounds[] = {0.5, 1, 2.5};
    const uint64_t cum[] = {1, 1, 3};
    const char *labels[] = {"type", "x", NULL};
    metrics_histogram(&t, "lat", labels, bounds, cum, 3, 4.25, 4);
    metrics_histogram(&t, "bare", NULL, bounds, cum, 1, 0, 1);
    assert_string_equal(t.buf, "lat_bucket{type=\"x\",le=\"0.5\"} 1\n"
                               "lat_bucket{type=\"x\",le=\"1\"} 1\n"
                               "lat_bucket{type=\"x\",le=\"2.5\"} 3\n"
                               "lat_bucket{type=\"x\",le=\"+Inf\"} 4\n"
                               "lat_sum{type=\"x\"} 4.25\n"
                               "lat_count{type=\"x\"} 4\n"
                               "bare_bucket{le=\"0.5\"} 1\n"
                               "bare_bucket{le=\"+Inf\"} 1\n"
                               "bare_sum 0\n"
                               "bare_count 1\n");
    metrics_text_free(&t);
}

static void fake_stats(struct worker_stats *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "w-1");
    s->processed = 10;
    s->failed = 2;
    s->retried = 3;
    s->dead_lettered = 1;
    s->parked = 7;
    s->skipped = 4;
    s->in_flight = 5;
    s->busy = 6;
    s->slots = 8;
    s->ntypes = 1;
    struct worker_type_stats *t = &s->types[0];
    snprintf(t->type, sizeof t->type, "noop");
    t->processed = 9;
    t->failed = 1;
    t->queue_wait = histogram_new();
    t->run_time = histogram_new();
    t->end_to_end = histogram_new();
    for (int i = 0; i < 3; i++)
        histogram_record(t->run_time, 500);          /* 0.5 ms */
    histogram_record(t->run_time, 2000000);          /* 2 s */
    histogram_record(t->run_time, 4000000000ULL);    /* over an hour: clamped, beyond every bound */
}

static void free_stats(struct worker_stats *s)
{
    histogram_free(s->types[0].queue_wait);
    histogram_free(s->types[0].run_time);
    histogram_free(s->types[0].end_to_end);
}

static void worker_metrics_text(void **state)
{
    (void)state;
    struct worker_stats s;
    fake_stats(&s);
    struct metrics_text t = {0};
    worker_metrics_from_stats(&s, &t);
    expect_contains(t.buf, "# TYPE qdeck_tasks_processed_total counter\nqdeck_tasks_processed_total 10\n");
    expect_contains(t.buf, "qdeck_tasks_failed_total 2\n");
    expect_contains(t.buf, "qdeck_tasks_retried_total 3\n");
    expect_contains(t.buf, "qdeck_tasks_dead_lettered_total 1\n");
    expect_contains(t.buf, "# TYPE qdeck_tasks_parked_total counter\nqdeck_tasks_parked_total 7\n");
    expect_contains(t.buf, "# TYPE qdeck_tasks_in_flight gauge\nqdeck_tasks_in_flight 5\n");
    expect_contains(t.buf, "qdeck_slots_busy 6\n");
    expect_contains(t.buf, "qdeck_slots 8\n");
    expect_contains(t.buf, "qdeck_task_processed_total{type=\"noop\"} 9\n");
    expect_contains(t.buf, "# TYPE qdeck_task_run_seconds histogram\n");
    expect_contains(t.buf, "qdeck_task_run_seconds_bucket{type=\"noop\",le=\"0.001\"} 3\n");
    expect_contains(t.buf, "qdeck_task_run_seconds_bucket{type=\"noop\",le=\"1\"} 3\n");
    expect_contains(t.buf, "qdeck_task_run_seconds_bucket{type=\"noop\",le=\"2.5\"} 4\n");
    expect_contains(t.buf, "qdeck_task_run_seconds_bucket{type=\"noop\",le=\"300\"} 4\n");
    expect_contains(t.buf, "qdeck_task_run_seconds_bucket{type=\"noop\",le=\"+Inf\"} 5\n");
    expect_contains(t.buf, "qdeck_task_run_seconds_count{type=\"noop\"} 5\n");
    expect_contains(t.buf, "qdeck_task_queue_wait_seconds_count{type=\"noop\"} 0\n");
    /* one HELP and one TYPE per family */
    assert_non_null(strstr(t.buf, "# HELP qdeck_task_run_seconds "));
    assert_null(strstr(strstr(t.buf, "# TYPE qdeck_task_run_seconds ") + 1, "# TYPE qdeck_task_run_seconds "));
    metrics_text_free(&t);
    free_stats(&s);
}

static void worker_report_json(void **state)
{
    (void)state;
    struct worker_stats s;
    fake_stats(&s);
    cJSON *o = worker_report_from_stats(&s, "amqp:orders, redis:jobs");
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "queues")), 2);
    assert_string_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "queues"), 1)->valuestring, "redis:jobs");
    assert_int_equal(cJSON_GetObjectItem(o, "slots_busy")->valueint, 6);
    assert_int_equal(cJSON_GetObjectItem(o, "slots_total")->valueint, 8);
    assert_int_equal(cJSON_GetObjectItem(o, "processed")->valueint, 10);
    assert_int_equal(cJSON_GetObjectItem(o, "dead_lettered")->valueint, 1);
    assert_int_equal(cJSON_GetObjectItem(o, "parked")->valueint, 7);
    const cJSON *run = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "latency"), "noop"), "run");
    assert_true(cJSON_IsString(run));
    struct histogram *h = histogram_new();
    assert_int_equal(histogram_decode(h, run->valuestring), 0);
    assert_int_equal(histogram_count(h), 5);
    assert_int_equal(histogram_percentile(h, 50), histogram_percentile(s.types[0].run_time, 50));
    histogram_free(h);
    cJSON_Delete(o);
    free_stats(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(family_and_escaping), cmocka_unit_test(number_forms),
        cmocka_unit_test(histogram_lines),     cmocka_unit_test(worker_metrics_text),
        cmocka_unit_test(worker_report_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
