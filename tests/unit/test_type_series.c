/* Per task type rings (ui/type-series.h), fed with fleet tables as the
 * fleet collector makes them: the rings hold 10 minutes at the refresh
 * rate (capped); done/s and failed/s are measured per worker between its
 * beats and summed, so a worker's arrival with a large total is no spike
 * and a sample between two beats keeps the rate; the p99 is that of the
 * tasks finished since the sample before, not of the whole history; types
 * (measured every TYPE_SERIES_P99_EVERY seconds); types
 * beyond the cap take the place of the one seen longest ago; the ring
 * wraps; the trend compares the last window with the one before. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ui/type-series.h"

/* A heartbeat report with one type: counters and a run histogram of
 * `fast` runs of 1 ms and `slow` runs of 500 ms. */
static cJSON *report(const char *type, double processed, double failed, uint64_t fast, uint64_t slow)
{
    struct histogram *h = histogram_new();
    histogram_record_n(h, 1000, fast);
    histogram_record_n(h, 500000, slow);
    char *enc = histogram_encode(h);
    char json[8192];
    snprintf(json, sizeof json,
             "{\"latency\":{\"%s\":{\"processed\":%.0f,\"failed\":%.0f,\"run\":\"%s\",\"e2e\":\"%s\"}}}", type,
             processed, failed, enc, enc);
    free(enc);
    histogram_free(h);
    return cJSON_Parse(json);
}

struct fleet {
    struct fleet_table t;
    struct fleet_worker w[4];
};

static void worker(struct fleet *f, size_t i, const char *id, double beat, double processed, double failed,
                   cJSON *rep)
{
    struct fleet_worker *w = &f->w[i];
    cJSON_Delete(w->report);
    memset(w, 0, sizeof *w);
    w->id = (char *)id;
    w->state = FLEET_RUNNING;
    w->last_beat = beat;
    w->processed = (int64_t)processed;
    w->failed = (int64_t)failed;
    w->report = rep;
    if (f->t.n < i + 1)
        f->t.n = i + 1;
    f->t.workers = f->w;
}

static void fleet_free(struct fleet *f)
{
    for (size_t i = 0; i < 4; i++)
        cJSON_Delete(f->w[i].report);
}

static void sample(struct type_series *ts, struct fleet *f, double now)
{
    f->t.taken_at = now;
    type_series_record(ts, &f->t, NULL);
}

static void rings_hold_ten_minutes_at_the_refresh_rate(void **state)
{
    (void)state;
    struct type_series ts;
    type_series_init(&ts, 1);
    assert_int_equal(ts.capacity, 600);
    type_series_free(&ts);
    type_series_init(&ts, 5);
    assert_int_equal(ts.capacity, 120);
    type_series_free(&ts);
    type_series_init(&ts, 0.1);
    assert_int_equal(ts.capacity, TYPE_SERIES_MAX_SLOTS);   /* capped */
    type_series_free(&ts);
}

static void rates_between_beats_summed_over_workers(void **state)
{
    (void)state;
    struct type_series ts;
    type_series_init(&ts, 1);
    struct fleet f = {0};
    worker(&f, 0, "w1", 100, 10, 0, report("resize", 10, 0, 10, 0));
    sample(&ts, &f, 100);
    sample(&ts, &f, 101);                                    /* no new beat yet */
    worker(&f, 0, "w1", 102, 30, 2, report("resize", 30, 2, 30, 0));
    sample(&ts, &f, 102);                                    /* 20 in 2 s, 2 failed */
    sample(&ts, &f, 103);                                    /* between beats: the rate holds */
    const struct type_ring *r = type_series_find(&ts, "resize");
    assert_non_null(r);
    double v[8];
    assert_int_equal(type_series_values(&ts, r, TYPE_DONE, v, 8), 4);
    assert_true(isnan(v[0]) && isnan(v[1]));                 /* one beat tells no rate */
    assert_true(v[2] == 10 && v[3] == 10);
    type_series_values(&ts, r, TYPE_FAILED, v, 8);
    assert_true(v[2] == 1 && v[3] == 1);
    assert_true(type_series_latest(&ts, type_series_fleet(&ts), TYPE_DONE) == 10);
    assert_true(type_series_latest(&ts, type_series_fleet(&ts), TYPE_FAILED) == 1);

    /* a second worker arrives having done 5,000 already: no spike; then its rate adds */
    worker(&f, 1, "w2", 104, 5000, 0, report("resize", 5000, 0, 10, 0));
    sample(&ts, &f, 104);
    assert_true(type_series_latest(&ts, r, TYPE_DONE) == 10);
    worker(&f, 1, "w2", 105, 5005, 0, report("resize", 5005, 0, 10, 0));
    sample(&ts, &f, 105);
    assert_true(type_series_latest(&ts, r, TYPE_DONE) == 15);
    assert_true(fabs(type_series_span(&ts) - 5) < 1e-9);
    fleet_free(&f);
    type_series_free(&ts);
}

static void p99_is_of_the_tasks_finished_since_the_sample_before(void **state)
{
    (void)state;
    struct type_series ts;
    type_series_init(&ts, 1);
    struct fleet f = {0};
    worker(&f, 0, "w1", 100, 1000, 0, report("resize", 1000, 0, 1000, 0));
    sample(&ts, &f, 100);                                    /* history: the base, no sample */
    const struct type_ring *r = type_series_find(&ts, "resize");
    assert_true(isnan(type_series_latest(&ts, r, TYPE_P99 + LATENCY_RUN)));
    /* 5 slow runs after 1,000 fast: the whole history's p99 is 1 ms, the window's 500 ms */
    worker(&f, 0, "w1", 101, 1005, 0, report("resize", 1005, 0, 1000, 5));
    sample(&ts, &f, 101);                                    /* measured every 5 s: not yet */
    assert_true(isnan(type_series_latest(&ts, r, TYPE_P99 + LATENCY_RUN)));
    sample(&ts, &f, 100 + TYPE_SERIES_P99_EVERY);
    double p99 = type_series_latest(&ts, r, TYPE_P99 + LATENCY_RUN);
    assert_true(p99 > 490000 && p99 < 510000);
    /* nothing new: held, then unknown once TYPE_SERIES_P99_HOLD has passed */
    sample(&ts, &f, 110);
    assert_true(type_series_latest(&ts, r, TYPE_P99 + LATENCY_RUN) == p99);
    sample(&ts, &f, 105 + TYPE_SERIES_P99_HOLD + 1);
    assert_true(isnan(type_series_latest(&ts, r, TYPE_P99 + LATENCY_RUN)));
    /* fast runs again */
    worker(&f, 0, "w1", 145, 1105, 0, report("resize", 1105, 0, 1100, 5));
    sample(&ts, &f, 145);
    p99 = type_series_latest(&ts, r, TYPE_P99 + LATENCY_E2E);
    assert_true(p99 > 990 && p99 < 1010);
    fleet_free(&f);
    type_series_free(&ts);
}

static void types_beyond_the_cap_replace_the_oldest(void **state)
{
    (void)state;
    struct type_series ts;
    type_series_init(&ts, 1);
    struct fleet f = {0};
    char name[32];
    for (int i = 0; i <= TYPE_SERIES_CAP; i++) {
        snprintf(name, sizeof name, "type%d", i);
        worker(&f, 0, "w1", 100 + i, 1, 0, report(name, 1, 0, 1, 0));
        sample(&ts, &f, 100 + i);
    }
    assert_int_equal(ts.ntypes, TYPE_SERIES_CAP);
    assert_null(type_series_find(&ts, "type0"));           /* seen longest ago */
    assert_non_null(type_series_find(&ts, "type1"));
    const struct type_ring *r = type_series_find(&ts, name);
    assert_non_null(r);
    double v[4];
    assert_int_equal(type_series_values(&ts, r, TYPE_DONE, v, 4), 4);
    assert_true(isnan(v[0]) && isnan(v[1]) && isnan(v[2]));  /* nothing of type0's left in its slot */
    fleet_free(&f);
    type_series_free(&ts);
}

static void ring_wraps_and_trend_compares_windows(void **state)
{
    (void)state;
    struct type_series ts;
    type_series_init(&ts, 60);                               /* 10 slots */
    assert_int_equal(ts.capacity, 10);
    struct fleet f = {0};
    double processed = 0;
    for (int i = 0; i < 14; i++) {                           /* rate i+1 per second for beat i */
        processed += 60.0 * i;
        worker(&f, 0, "w1", 60.0 * i, processed, 0, report("t", processed, 0, 1, 0));
        sample(&ts, &f, 60.0 * i);
    }
    const struct type_ring *r = type_series_find(&ts, "t");
    double v[16];
    assert_int_equal(type_series_values(&ts, r, TYPE_DONE, v, 16), 10);
    assert_true(v[0] == 4 && v[9] == 13);                     /* the newest 10, oldest first */
    double trend = type_series_trend(&ts, r, TYPE_DONE, 120);   /* (12+13)/2 against (10+11)/2 */
    assert_true(fabs(trend - (12.5 / 10.5 - 1)) < 1e-9);
    assert_true(isnan(type_series_trend(&ts, NULL, TYPE_DONE, 120)));
    fleet_free(&f);
    type_series_free(&ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rings_hold_ten_minutes_at_the_refresh_rate),
        cmocka_unit_test(rates_between_beats_summed_over_workers),
        cmocka_unit_test(p99_is_of_the_tasks_finished_since_the_sample_before),
        cmocka_unit_test(types_beyond_the_cap_replace_the_oldest),
        cmocka_unit_test(ring_wraps_and_trend_compares_windows),
    };
    return cmocka_run_group_tests_name("type_series", tests, NULL, NULL);
}
