/* The live capacity figures from two fleet readings (console/capacity.h):
 * one worker of 4 slots running type "job" at 100 ms a task, 320 attempts
 * finished in 10 s (λ = 32/s) gives μ = 10, ρ = 0.8, Erlang C's 74.6 ms
 * wait, 5 slots (+1 worker) for a 50 ms target, and the queue's drain
 * time; tokens and prices give tokens/min, cost/min and cost per success.
 * A restarted worker (totals fall) yields no rate rather than a negative. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "console/capacity.h"
#include "core/histogram.h"

static cJSON *report(double processed, double failed, double tin, double tout)
{
    struct histogram *h = histogram_new();
    histogram_record_n(h, 100000, 50);   /* 100 ms */
    char *enc = histogram_encode(h);
    histogram_free(h);
    cJSON *r = cJSON_CreateObject();
    cJSON *qs = cJSON_AddArrayToObject(r, "queues");
    cJSON_AddItemToArray(qs, cJSON_CreateString("redis:jobs"));
    cJSON *job = cJSON_AddObjectToObject(cJSON_AddObjectToObject(r, "latency"), "job");
    cJSON_AddNumberToObject(job, "processed", processed);
    cJSON_AddNumberToObject(job, "failed", failed);
    cJSON_AddNumberToObject(job, "tokens_in", tin);
    cJSON_AddNumberToObject(job, "tokens_out", tout);
    cJSON_AddStringToObject(job, "run", enc);
    free(enc);
    return r;
}

static void reading(struct fleet_table *t, struct fleet_worker *w, double at, cJSON *rep)
{
    memset(w, 0, sizeof *w);
    w->state = FLEET_RUNNING;
    w->slots_total = 4;
    w->rate = 32;
    w->report = rep;
    memset(t, 0, sizeof *t);
    t->taken_at = at;
    t->workers = w;
    t->n = 1;
}

static void figures_from_two_readings(void **state)
{
    (void)state;
    struct task_config tc = {.name = "job", .price_in = 3, .price_out = 15};
    struct config cfg = {.tasks = &tc, .ntasks = 1};
    struct capacity_tracker tr = {0};
    struct fleet_table t;
    struct fleet_worker w;
    cJSON *r1 = report(90, 10, 1000, 2000), *r2 = report(390, 30, 11000, 32000);
    reading(&t, &w, 1000, r1);
    capacity_observe(&tr, &t);
    struct capacity_table ct;
    capacity_build(&tr, &t, &cfg, NULL, 0, 0.05, &ct);
    assert_int_equal(ct.n, 1);
    assert_true(isnan(ct.rows[0].lambda));   /* one reading: no rate yet */
    capacity_table_free(&ct);

    reading(&t, &w, 1010, r2);
    capacity_observe(&tr, &t);
    struct capacity_queue q = {.addr = "redis:jobs", .depth = 160, .rate_in = NAN, .growth = 0};
    capacity_build(&tr, &t, &cfg, &q, 1, 0.05, &ct);
    assert_int_equal(ct.n, 2);
    const struct capacity_row *job = &ct.rows[0], *queue = &ct.rows[1];
    assert_string_equal(job->name, "job");
    assert_true(fabs(job->lambda - 32) < 1e-9);
    assert_true(fabs(job->mu - 10) < 1e-9);
    assert_int_equal(job->slots, 4);
    assert_true(fabs(job->rho - 0.8) < 1e-9);
    assert_true(fabs(job->wait - 0.0745541) < 1e-6);
    assert_int_equal(job->slots_needed, 5);
    assert_int_equal(job->more_slots, 1);
    assert_int_equal(job->more_workers, 1);
    /* 1000 in + 3000 out tokens a second */
    assert_true(fabs(job->tokens_per_min - 4000 * 60) < 1e-6);
    assert_true(fabs(job->cost_per_min - (1000 * 3 + 3000 * 15) / 1e6 * 60) < 1e-9);
    assert_true(fabs(job->cost_per_success - (1000 * 3 + 3000 * 15) / 1e6 / 30) < 1e-9);
    /* the queue: λ from its worker's rate, 160 waiting drain at 40 - 32 a second */
    assert_true(queue->queue);
    assert_true(fabs(queue->lambda - 32) < 1e-9);
    assert_true(fabs(queue->drain - 20) < 1e-9);
    cJSON *j = capacity_json(&ct);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "types")), 1);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "queues")), 1);
    cJSON_Delete(j);
    capacity_table_free(&ct);

    /* the worker restarted: its totals fell, so no rate from this pair */
    cJSON *r3 = report(5, 0, 0, 0);
    reading(&t, &w, 1020, r3);
    capacity_observe(&tr, &t);
    capacity_build(&tr, &t, &cfg, NULL, 0, 0.05, &ct);
    assert_true(isnan(ct.rows[0].lambda));
    capacity_table_free(&ct);
    cJSON_Delete(r1);
    cJSON_Delete(r2);
    cJSON_Delete(r3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(figures_from_two_readings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
