/* Decision-table rows, their JSON and their table (see report.h). */
#include "sim/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double rank(const double *v, size_t n, double p)
{
    size_t k = (size_t)ceil(p * (double)n);
    return v[k ? k - 1 : 0];
}

void sim_summarise(double *v, size_t n, struct sim_summary *out)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (!n)
        return;
    qsort(v, n, sizeof *v, by_value);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    out->mean = sum / (double)n;
    out->p50 = rank(v, n, 0.50);
    out->p95 = rank(v, n, 0.95);
    out->p99 = rank(v, n, 0.99);
    out->max = v[n - 1];
}

void sim_row_make(struct sim_row *row, const char *name, struct sim_result *r, double slo)
{
    memset(row, 0, sizeof *row);
    row->name = xstrdup(name);
    row->arrivals = r->arrivals;
    row->completed = r->completed;
    row->shed = r->shed;
    row->dead_lettered = r->dead_lettered;
    row->expired = r->expired;
    double span = r->end_time - r->first_arrival;
    row->throughput = span > 0 ? (double)r->completed / span : 0;
    row->utilization = span > 0 && r->slots > 0 ? r->busy_time / (span * r->slots) : 0;
    row->peak_depth = r->peak_depth;
    row->drain_time = r->end_time > r->last_arrival ? r->end_time - r->last_arrival : 0;
    sim_summarise(r->waits, r->nwaits, &row->wait);
    sim_summarise(r->e2es, r->ne2es, &row->e2e);
    size_t met = 0;
    for (size_t i = 0; i < r->ne2es; i++)
        met += r->e2es[i] <= slo;
    row->slo_attainment = r->focus_arrivals ? (double)met / (double)r->focus_arrivals : 0;
    row->tokens_in = r->tokens_in;
    row->tokens_out = r->tokens_out;
    row->cost = r->cost;
}

void sim_row_free(struct sim_row *row)
{
    free(row->name);
    row->name = NULL;
}

static cJSON *summary_json(const struct sim_summary *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "mean", s->mean);
    cJSON_AddNumberToObject(o, "p50", s->p50);
    cJSON_AddNumberToObject(o, "p95", s->p95);
    cJSON_AddNumberToObject(o, "p99", s->p99);
    cJSON_AddNumberToObject(o, "max", s->max);
    return o;
}

void sim_report_json(FILE *out, const struct sim_row *rows, size_t n)
{
    cJSON *doc = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(doc, "variants");
    for (size_t i = 0; i < n; i++) {
        const struct sim_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", r->name);
        cJSON_AddNumberToObject(o, "arrivals", (double)r->arrivals);
        cJSON_AddNumberToObject(o, "completed", (double)r->completed);
        cJSON_AddNumberToObject(o, "shed", (double)r->shed);
        cJSON_AddNumberToObject(o, "dead_lettered", (double)r->dead_lettered);
        cJSON_AddNumberToObject(o, "expired", (double)r->expired);
        cJSON_AddNumberToObject(o, "throughput", r->throughput);
        cJSON_AddNumberToObject(o, "utilization", r->utilization);
        cJSON_AddNumberToObject(o, "peak_depth", (double)r->peak_depth);
        cJSON_AddNumberToObject(o, "drain_time", r->drain_time);
        cJSON_AddItemToObject(o, "wait", summary_json(&r->wait));
        cJSON_AddItemToObject(o, "e2e", summary_json(&r->e2e));
        cJSON_AddNumberToObject(o, "slo_attainment", r->slo_attainment);
        cJSON_AddNumberToObject(o, "tokens_in", r->tokens_in);
        cJSON_AddNumberToObject(o, "tokens_out", r->tokens_out);
        cJSON_AddNumberToObject(o, "cost", r->cost);
        cJSON_AddItemToArray(arr, o);
    }
    char *text = cJSON_PrintUnformatted(doc);
    fprintf(out, "%s\n", text);
    free(text);
    cJSON_Delete(doc);
}

/* Appends "+9% what" (relative change), skipped when both are 0. */
static void add_delta(char *buf, size_t len, double now, double base, const char *what)
{
    size_t used = strlen(buf);
    if (now == base && base == 0)
        return;
    const char *sep = used ? ", " : "";
    if (base == 0)
        snprintf(buf + used, len - used, "%snew %s", sep, what);
    else
        snprintf(buf + used, len - used, "%s%+.0f%% %s", sep, (now - base) / base * 100, what);
}

void sim_report_delta(const struct sim_row *row, const struct sim_row *base, char *buf, size_t len)
{
    buf[0] = '\0';
    add_delta(buf, len, row->cost, base->cost, "cost");
    add_delta(buf, len, row->e2e.p99, base->e2e.p99, "p99");
    add_delta(buf, len, row->wait.mean, base->wait.mean, "wait");
    add_delta(buf, len, row->throughput, base->throughput, "throughput");
    size_t used = strlen(buf);
    double pts = (row->slo_attainment - base->slo_attainment) * 100;
    snprintf(buf + used, len - used, "%s%+.1f pts SLO", used ? ", " : "", pts);
    used = strlen(buf);
    if (row->shed != base->shed || row->dead_lettered != base->dead_lettered)
        snprintf(buf + used, len - used, ", shed %+ld, dlq %+ld", (long)row->shed - (long)base->shed,
                 (long)row->dead_lettered - (long)base->dead_lettered);
}

void sim_report_table(FILE *out, const struct sim_row *rows, size_t n, double slo)
{
    fprintf(out, "%-16s %9s %9s %7s %7s %7s %8s %5s %7s %8s %8s %8s %8s %8s %8s %6s %11s %10s\n", "VARIANT",
            "ARRIVALS", "DONE", "SHED", "DLQ", "EXPIRED", "THRU/S", "UTIL", "PEAK", "DRAIN", "WAIT", "E2E-P50",
            "E2E-P95", "E2E-P99", "E2E-MAX", "SLO", "TOKENS", "COST");
    for (size_t i = 0; i < n; i++) {
        const struct sim_row *r = &rows[i];
        fprintf(out, "%-16.16s %9zu %9zu %7zu %7zu %7zu %8.2f %4.0f%% %7ld %7.2fs %7.3fs %7.3fs %7.3fs %7.3fs %7.3fs "
                     "%5.1f%% %11.0f %10.4f\n",
                r->name, r->arrivals, r->completed, r->shed, r->dead_lettered, r->expired, r->throughput,
                r->utilization * 100, r->peak_depth, r->drain_time, r->wait.mean, r->e2e.p50, r->e2e.p95, r->e2e.p99,
                r->e2e.max, r->slo_attainment * 100, r->tokens_in + r->tokens_out, r->cost);
    }
    fprintf(out, "WAIT is the mean; SLO is the share of arrivals completed within %gs; percentiles are exact.\n", slo);
    for (size_t i = 1; i < n; i++) {
        char d[300];
        sim_report_delta(&rows[i], &rows[0], d, sizeof d);
        fprintf(out, "%s vs %s: %s\n", rows[i].name, rows[0].name, d);
    }
}
