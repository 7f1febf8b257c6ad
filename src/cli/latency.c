/* `qdeck latency [--json]`: the Latency view (4) as a command — per task
 * type, count, p50 p90 p95 p99 p99.9 and max of queue wait, run time and
 * end-to-end, from every live worker's heartbeat histograms merged bucket
 * by bucket (resilience/fleet-report.h): percentiles are read from the
 * merge, never averaged. Waits measured across two clocks (a Celery
 * producer's and worker's) that came out negative are dropped as clock
 * skew and counted: "clock_skew" per type, and a line under the table. Figures in the table as the view prints them, in
 * --json as microseconds. Exit 3 when Redis cannot be reached. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/app.h"
#include "control/fleet.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "resilience/fleet-report.h"

static const char *const kind_titles[LATENCY_KINDS] = {"wait", "run", "e2e"};

static cJSON *summary_json(const struct histogram_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "count", (double)s->count);
    const char *keys[] = {"p50_us", "p90_us", "p95_us", "p99_us", "p999_us", "max_us"};
    uint64_t v[] = {s->p50, s->p90, s->p95, s->p99, s->p999, s->max};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (s->count)
            cJSON_AddNumberToObject(o, keys[i], (double)v[i]);
        else
            cJSON_AddNullToObject(o, keys[i]);
    return o;
}

static void print_table(const struct latency_table *t)
{
    if (!t->n) {
        fprintf(stderr, "no task type reported by a live worker\n");
        return;
    }
    printf("%-24s %-5s %8s %9s %9s %9s %9s %9s %9s %7s\n", "TYPE", "", "COUNT", "P50", "P90", "P95", "P99", "P99.9",
           "MAX", "WORKERS");
    for (size_t i = 0; i < t->n; i++)
        for (int k = 0; k < LATENCY_KINDS; k++) {
            const struct histogram_summary *s = &t->rows[i].summary[k];
            char p[6][24];
            uint64_t v[] = {s->p50, s->p90, s->p95, s->p99, s->p999, s->max};
            for (int j = 0; j < 6; j++)
                format_latency_us(v[j], s->count > 0, p[j], sizeof p[j]);
            printf("%-24s %-5s %8llu %9s %9s %9s %9s %9s %9s %7zu\n", k == 0 ? t->rows[i].type : "", kind_titles[k],
                   (unsigned long long)s->count, p[0], p[1], p[2], p[3], p[4], p[5], t->rows[i].workers);
        }
    for (size_t i = 0; i < t->n; i++)
        if (t->rows[i].clock_skew)
            printf("clock skew: %s: %llu wait%s across two clocks dropped (the sender's clock is ahead of the "
                   "worker's), so wait and e2e leave them out\n",
                   t->rows[i].type, (unsigned long long)t->rows[i].clock_skew, t->rows[i].clock_skew == 1 ? "" : "s");
}

int cmd_latency(struct app *app, const struct args *a)
{
    if (a->nwords > 1)
        return fail(EXIT_USAGE, "latency: unknown argument '%s' (usage: qdeck latency [--json])", a->words[1]);
    struct fleet_table *fleet;
    int rc = cli_read_fleet(app, &fleet);
    if (rc != EXIT_OK)
        return rc;
    /* a lost worker's histograms are old: live ones only, as the view */
    const cJSON **reports = xcalloc(fleet->n ? fleet->n : 1, sizeof *reports);
    size_t n = 0;
    for (size_t i = 0; i < fleet->n; i++)
        if (fleet->workers[i].state != FLEET_LOST && fleet->workers[i].report)
            reports[n++] = fleet->workers[i].report;
    struct latency_table t;
    latency_table_build(reports, n, &t);
    if (args_flag(a, "json")) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < t.n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", t.rows[i].type);
            cJSON_AddNumberToObject(o, "workers", (double)t.rows[i].workers);
            for (int k = 0; k < LATENCY_KINDS; k++)
                cJSON_AddItemToObject(o, latency_kind_keys[k], summary_json(&t.rows[i].summary[k]));
            cJSON_AddNumberToObject(o, "clock_skew", (double)t.rows[i].clock_skew);
            cJSON_AddItemToArray(arr, o);
        }
        print_json(arr);
    } else {
        print_table(&t);
    }
    latency_table_free(&t);
    free(reports);
    fleet_table_free(fleet);
    return EXIT_OK;
}
