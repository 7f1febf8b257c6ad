/* Fleet tables from heartbeat reports: latency histograms merged across
 * workers (percentiles of the merge, never averages of percentiles), bad
 * encodings skipped and counted, bar chart buckets; breakers aggregated per
 * dependency with the most severe state, worst rates, summed limiter; a
 * heartbeat whose numbers are out of range; Celery's clock-skew counts
 * summed per type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/fleet.h"
#include "resilience/fleet-report.h"

static cJSON *report_with_run(const char *type, const struct histogram *run)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *lat = cJSON_AddObjectToObject(r, "latency");
    cJSON *t = cJSON_AddObjectToObject(lat, type);
    char *enc = histogram_encode(run);
    cJSON_AddStringToObject(t, "run", enc);
    cJSON_AddStringToObject(t, "queue_wait", "h1 n=0");
    free(enc);
    return r;
}

static void latency_merges_never_averages(void **state)
{
    (void)state;
    /* worker a: 99 fast calls; worker b: 1 slow call. Merged p99 is fast,
     * p100 is slow; the average of the two p99s would be ~2.5 s: wrong. */
    struct histogram *a = histogram_new(), *b = histogram_new(), *all = histogram_new();
    for (int i = 0; i < 99; i++) {
        histogram_record(a, 1000);
        histogram_record(all, 1000);
    }
    histogram_record(b, 5000000);
    histogram_record(all, 5000000);
    cJSON *reports[3] = {report_with_run("resize", a), report_with_run("resize", b), NULL};
    cJSON *bad = cJSON_CreateObject();
    cJSON_AddStringToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(bad, "latency"), "resize"), "run", "h9 x");
    reports[2] = bad;
    struct latency_table t;
    latency_table_build((const cJSON *const *)reports, 3, &t);
    assert_int_equal(t.n, 1);
    assert_string_equal(t.rows[0].type, "resize");
    assert_int_equal(t.rows[0].workers, 3);
    assert_int_equal(t.bad_encodings, 1);
    const struct histogram_summary *s = &t.rows[0].summary[LATENCY_RUN];
    assert_int_equal(s->count, 100);
    assert_int_equal(s->p99, histogram_percentile(all, 99));
    assert_true(s->p99 < 1100);
    assert_int_equal(s->max, 5000000);
    assert_int_equal(t.rows[0].summary[LATENCY_WAIT].count, 0);
    assert_memory_equal(t.rows[0].merged[LATENCY_RUN]->buckets, all->buckets, sizeof all->buckets);

    uint64_t counts[8], edges[9];
    latency_bars(t.rows[0].merged[LATENCY_RUN], 8, counts, edges);
    assert_int_equal(counts[0], 99);
    assert_int_equal(counts[7], 1);
    uint64_t total = 0;
    for (int i = 0; i < 8; i++) {
        total += counts[i];
        assert_true(edges[i] <= edges[i + 1]);
    }
    assert_int_equal(total, 100);
    assert_int_equal(edges[0], 1000);
    assert_int_equal(edges[8], 5000001);
    latency_table_free(&t);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(reports[i]);
    histogram_free(a);
    histogram_free(b);
    histogram_free(all);
}

static void breakers_aggregate_per_dependency(void **state)
{
    (void)state;
    cJSON *r1 = cJSON_Parse("{\"breakers\":{\"llm\":{\"state\":\"HALF_OPEN\",\"failure_rate\":40,\"slow_rate\":-1,"
                            "\"calls\":3,\"rate\":5,\"tokens\":1.5,\"throttled\":2}}}");
    cJSON *r2 = cJSON_Parse("{\"breakers\":[{\"name\":\"llm\",\"state\":\"OPEN\",\"failure_rate\":75,"
                            "\"calls\":20,\"open_remaining\":7.5},{\"name\":\"geo\",\"state\":\"bogus\"}],"
                            "\"limiters\":{\"llm\":{\"rate\":5,\"tokens\":2,\"throttled\":10}}}");
    cJSON *r3 = cJSON_Parse("{\"breakers\":{\"llm\":{\"state\":\"CLOSED\"}}}");
    const cJSON *reports[] = {r1, r2, r3, NULL};
    struct breaker_table_command cmds[] = {{"pay", "open"}};
    struct breaker_table t;
    breaker_table_build(reports, 4, cmds, 1, &t);
    assert_int_equal(t.n, 2);   /* llm and pay; geo had no valid state */
    const struct breaker_row *llm = &t.rows[0], *pay = &t.rows[1];
    assert_string_equal(llm->name, "llm");
    assert_int_equal(llm->workers, 3);
    assert_int_equal(llm->worst, BREAKER_OPEN);
    assert_true(llm->failure_rate == 75);
    assert_true(llm->slow_rate == -1);
    assert_true(llm->calls == 23);
    assert_true(llm->open_remaining == 7.5);
    assert_true(llm->tokens == 3.5);
    assert_true(llm->throttled == 12);
    assert_true(llm->rate == 5);
    char buf[128];
    breaker_row_states(llm, buf, sizeof buf);
    assert_string_equal(buf, "OPEN x1, HALF_OPEN x1, CLOSED x1");
    assert_string_equal(pay->name, "pay");
    assert_string_equal(pay->command, "open");
    assert_int_equal(pay->workers, 0);
    breaker_row_states(pay, buf, sizeof buf);
    assert_string_equal(buf, "(no worker reports it)");
    breaker_table_free(&t);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(r3);
}

/* The half-open countdown runs from the heartbeat that said it: a
 * breaker reported 10 s from half-open 4 s ago is 6 s away now, one
 * reported 3 s away 12 s ago is due (0), never negative; no "at" (or a
 * clock ahead of ours) takes the figure as it came. */
static void half_open_counts_down_from_the_heartbeat(void **state)
{
    (void)state;
    assert_true(breaker_half_open_in(10, 1000, 1004) == 6);
    assert_true(breaker_half_open_in(3, 1000, 1012) == 0);
    assert_true(breaker_half_open_in(10, NAN, 1004) == 10);
    assert_true(breaker_half_open_in(10, 0, 1004) == 10);
    assert_true(breaker_half_open_in(10, 1010, 1004) == 10);
    assert_true(breaker_half_open_in(0, 1000, 1004) == 0);
    assert_true(breaker_half_open_in(-1, 1000, 1000) == 0);
    /* in a table: the longest remaining after each worker's own age */
    cJSON *a = cJSON_Parse("{\"at\":1000,\"breakers\":{\"llm\":{\"state\":\"OPEN\",\"open_remaining\":30}}}");
    cJSON *b = cJSON_Parse("{\"at\":1020,\"breakers\":{\"llm\":{\"state\":\"OPEN\",\"open_remaining\":15}}}");
    cJSON *c = cJSON_Parse("{\"at\":900,\"breakers\":{\"geo\":{\"state\":\"OPEN\",\"open_remaining\":30}}}");
    const cJSON *reports[] = {a, b, c};
    struct breaker_table t;
    breaker_table_build_at(reports, 3, NULL, 0, 1025, &t);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.rows[0].name, "geo");
    assert_true(t.rows[0].open_remaining == 0);    /* long past its open_wait: due */
    assert_string_equal(t.rows[1].name, "llm");
    assert_true(t.rows[1].open_remaining == 10);   /* b: 15 - 5; a: 30 - 25 = 5 */
    breaker_table_free(&t);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
}

/* Nothing reported yet (the console's first draw): empty tables, no
 * sorting of NULL arrays. */
static void empty_inputs(void **state)
{
    (void)state;
    struct latency_table lt;
    latency_table_build(NULL, 0, &lt);
    assert_int_equal(lt.n, 0);
    latency_table_free(&lt);
    struct breaker_table bt;
    breaker_table_build(NULL, 0, NULL, 0, &bt);
    assert_int_equal(bt.n, 0);
    breaker_table_free(&bt);
    cJSON *empty = cJSON_CreateObject();
    const cJSON *one[] = {empty};
    latency_table_build(one, 1, &lt);
    breaker_table_build(one, 1, NULL, 0, &bt);
    assert_int_equal(lt.n + bt.n, 0);
    latency_table_free(&lt);
    breaker_table_free(&bt);
    cJSON_Delete(empty);
}

/* Found by tests/fuzz/fuzz_heartbeat: a count past int64_t was cast (UB). */
static void heartbeat_counts_out_of_range_are_unknown(void **state)
{
    (void)state;
    struct fleet_worker w;
    assert_true(fleet_parse_report("vm-1:7", "{\"slots_busy\":1e86,\"processed\":9223372036854775808,"
                                   "\"failed\":-3,\"retried\":12,\"pid\":1e300}", 100, &w));
    assert_int_equal(w.slots_busy, -1);
    assert_int_equal(w.processed, -1);
    assert_int_equal(w.failed, -1);
    assert_int_equal(w.retried, 12);
    assert_int_equal(w.pid, -1);
    assert_string_equal(w.id, "vm-1:7");
    fleet_worker_free(&w);
    assert_false(fleet_parse_report("vm-1:7", "[1]", 100, &w));
}

static void clock_skew_summed_per_type(void **state)
{
    (void)state;
    struct histogram *h = histogram_new();
    histogram_record(h, 50000);
    cJSON *reports[3] = {report_with_run("demo.sleep", h), report_with_run("demo.sleep", h), report_with_run("other", h)};
    cJSON_AddNumberToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(reports[0], "latency"), "demo.sleep"), "clock_skew", 2);
    cJSON_AddNumberToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(reports[1], "latency"), "demo.sleep"), "clock_skew", 3);
    cJSON_AddStringToObject(cJSON_GetObjectItem(cJSON_GetObjectItem(reports[2], "latency"), "other"), "clock_skew", "x");
    struct latency_table t;
    latency_table_build((const cJSON *const *)reports, 3, &t);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.rows[0].type, "demo.sleep");
    assert_int_equal(t.rows[0].clock_skew, 5);
    assert_int_equal(t.rows[1].clock_skew, 0);   /* not a number: none */
    latency_table_free(&t);
    for (int i = 0; i < 3; i++)
        cJSON_Delete(reports[i]);
    histogram_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(latency_merges_never_averages),
        cmocka_unit_test(clock_skew_summed_per_type),
        cmocka_unit_test(breakers_aggregate_per_dependency),
        cmocka_unit_test(half_open_counts_down_from_the_heartbeat),
        cmocka_unit_test(empty_inputs),
        cmocka_unit_test(heartbeat_counts_out_of_range_are_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
