/* Fleet latency and breaker tables from heartbeat reports (see
 * fleet-report.h). */
#include "resilience/fleet-report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/xalloc.h"

const char *const latency_kind_keys[LATENCY_KINDS] = {"queue_wait", "run", "e2e"};

static struct latency_row *latency_row_for(struct latency_table *t, const char *type)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].type, type) == 0)
            return &t->rows[i];
    t->rows = xrealloc(t->rows, (t->n + 1) * sizeof *t->rows);
    struct latency_row *r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->type = xstrdup(type);
    for (int k = 0; k < LATENCY_KINDS; k++)
        r->merged[k] = histogram_new();
    return r;
}

static int compare_latency_rows(const void *a, const void *b)
{
    return strcmp(((const struct latency_row *)a)->type, ((const struct latency_row *)b)->type);
}

void latency_table_build(const cJSON *const *reports, size_t n, struct latency_table *out)
{
    memset(out, 0, sizeof *out);
    struct histogram *one = histogram_new();
    for (size_t w = 0; w < n; w++) {
        const cJSON *latency = reports[w] ? cJSON_GetObjectItemCaseSensitive(reports[w], "latency") : NULL, *type;
        cJSON_ArrayForEach(type, latency)
        {
            if (!cJSON_IsObject(type) || !type->string)
                continue;
            struct latency_row *row = latency_row_for(out, type->string);
            row->workers++;
            const cJSON *skew = cJSON_GetObjectItemCaseSensitive(type, "clock_skew");
            if (cJSON_IsNumber(skew) && skew->valuedouble > 0)
                row->clock_skew += (uint64_t)skew->valuedouble;
            for (int k = 0; k < LATENCY_KINDS; k++) {
                const cJSON *enc = cJSON_GetObjectItemCaseSensitive(type, latency_kind_keys[k]);
                if (!cJSON_IsString(enc))
                    continue;
                if (histogram_decode(one, enc->valuestring) < 0) {
                    out->bad_encodings++;
                    continue;
                }
                histogram_merge(row->merged[k], one);
            }
        }
    }
    histogram_free(one);
    if (out->n > 1)   /* rows is NULL when empty */
        qsort(out->rows, out->n, sizeof *out->rows, compare_latency_rows);
    for (size_t i = 0; i < out->n; i++)
        for (int k = 0; k < LATENCY_KINDS; k++)
            histogram_summarize(out->rows[i].merged[k], &out->rows[i].summary[k]);
}

void latency_table_free(struct latency_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (int k = 0; k < LATENCY_KINDS; k++)
            histogram_free(t->rows[i].merged[k]);
        free(t->rows[i].type);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

void latency_bars(const struct histogram *h, size_t nbars, uint64_t *counts, uint64_t *edges)
{
    memset(counts, 0, nbars * sizeof *counts);
    memset(edges, 0, (nbars + 1) * sizeof *edges);
    if (nbars == 0 || histogram_count(h) == 0)
        return;
    uint64_t min = atomic_load(&h->min), max = atomic_load(&h->max);
    double lo = min > 0 ? (double)min : 1, hi = (double)max + 1;
    if (hi <= lo)
        hi = lo + 1;
    edges[0] = min;
    for (size_t i = 1; i < nbars; i++) {
        uint64_t e = (uint64_t)llround(lo * pow(hi / lo, (double)i / (double)nbars));
        edges[i] = e > edges[i - 1] ? e : edges[i - 1];
    }
    edges[nbars] = max + 1;
    for (size_t b = 0; b < HISTOGRAM_BUCKETS; b++) {
        uint64_t c = atomic_load(&h->buckets[b]);
        if (!c)
            continue;
        uint64_t blo, bhi;
        histogram_bucket_range(b, &blo, &bhi);
        uint64_t v = blo + (bhi - blo + 1) / 2;
        if (v < min)
            v = min;
        if (v > max)
            v = max;
        size_t bar = nbars - 1;
        for (size_t i = 0; i < nbars; i++)
            if (v < edges[i + 1]) {
                bar = i;
                break;
            }
        counts[bar] += c;
    }
}

/* ------------------------------------------------------------ breakers */

static const int severity[] = {
    [BREAKER_CLOSED] = 0, [BREAKER_DISABLED] = 1, [BREAKER_HALF_OPEN] = 2, [BREAKER_FORCED_OPEN] = 3, [BREAKER_OPEN] = 4,
};

static struct breaker_row *breaker_row_for(struct breaker_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, name) == 0)
            return &t->rows[i];
    t->rows = xrealloc(t->rows, (t->n + 1) * sizeof *t->rows);
    struct breaker_row *r = &t->rows[t->n++];
    *r = (struct breaker_row){.name = xstrdup(name), .worst = BREAKER_CLOSED, .failure_rate = -1, .slow_rate = -1,
                              .rate = -1, .tokens = -1};
    return r;
}

static double number(const cJSON *o, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static void add_limiter(struct breaker_row *row, const cJSON *o)
{
    double rate = number(o, "rate", -1), tokens = number(o, "tokens", -1);
    if (rate >= 0)
        row->rate = rate;
    if (tokens >= 0)
        row->tokens = (row->tokens < 0 ? 0 : row->tokens) + tokens;
    row->throttled += number(o, "throttled", 0);
}

double breaker_half_open_in(double remaining, double reported_at, double now)
{
    if (!(remaining > 0))
        return 0;
    double age = isnan(reported_at) || reported_at <= 0 || isnan(now) || now < reported_at ? 0 : now - reported_at;
    return remaining > age ? remaining - age : 0;
}

static void add_breaker(struct breaker_table *t, const char *name, const cJSON *b, const cJSON *limiters,
                        double reported_at, double now)
{
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(b, "state");
    int s = cJSON_IsString(state) ? breaker_state_parse(state->valuestring) : -1;
    if (!name || s < 0)
        return;
    struct breaker_row *row = breaker_row_for(t, name);
    row->workers++;
    row->states[s]++;
    if (severity[s] > severity[row->worst])
        row->worst = (enum breaker_state)s;
    double fr = number(b, "failure_rate", -1), sr = number(b, "slow_rate", -1);
    if (fr > row->failure_rate)
        row->failure_rate = fr;
    if (sr > row->slow_rate)
        row->slow_rate = sr;
    row->calls += number(b, "calls", 0);
    double left = breaker_half_open_in(number(b, "open_remaining", 0), reported_at, now);
    if (left > row->open_remaining)
        row->open_remaining = left;
    const cJSON *lim = cJSON_GetObjectItemCaseSensitive(limiters, name);
    add_limiter(row, lim ? lim : b);
}

static int compare_breaker_rows(const void *a, const void *b)
{
    return strcmp(((const struct breaker_row *)a)->name, ((const struct breaker_row *)b)->name);
}

void breaker_table_build(const cJSON *const *reports, size_t n, const struct breaker_table_command *commands,
                         size_t ncommands, struct breaker_table *out)
{
    breaker_table_build_at(reports, n, commands, ncommands, clock_wall(), out);
}

void breaker_table_build_at(const cJSON *const *reports, size_t n, const struct breaker_table_command *commands,
                            size_t ncommands, double now, struct breaker_table *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < ncommands; i++)
        breaker_row_for(out, commands[i].dep)->command = xstrdup(commands[i].command);
    for (size_t w = 0; w < n; w++) {
        if (!reports[w])
            continue;
        const cJSON *breakers = cJSON_GetObjectItemCaseSensitive(reports[w], "breakers");
        const cJSON *limiters = cJSON_GetObjectItemCaseSensitive(reports[w], "limiters");
        double at = number(reports[w], "at", NAN);
        const cJSON *b;
        cJSON_ArrayForEach(b, breakers)
        {
            if (cJSON_IsArray(breakers)) {
                const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
                add_breaker(out, cJSON_IsString(name) ? name->valuestring : NULL, b, limiters, at, now);
            } else {
                add_breaker(out, b->string, b, limiters, at, now);
            }
        }
    }
    if (out->n > 1)
        qsort(out->rows, out->n, sizeof *out->rows, compare_breaker_rows);
}

void breaker_table_free(struct breaker_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].name);
        free(t->rows[i].command);
    }
    free(t->rows);
    memset(t, 0, sizeof *t);
}

void breaker_row_states(const struct breaker_row *row, char *buf, size_t len)
{
    static const enum breaker_state order[] = {BREAKER_OPEN, BREAKER_FORCED_OPEN, BREAKER_HALF_OPEN, BREAKER_DISABLED,
                                               BREAKER_CLOSED};
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        int count = row->states[order[i]];
        if (!count)
            continue;
        int w = snprintf(buf + used, len - used, "%s%s x%d", used ? ", " : "", breaker_state_name(order[i]), count);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    if (!row->workers)
        snprintf(buf, len, "(no worker reports it)");
}
