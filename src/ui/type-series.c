/* Per task type rings (see type-series.h). A rate mark remembers, per
 * worker and type (type "" for the worker's totals), the counters of the
 * last beat seen and the rate measured between the two last beats; marks
 * of workers gone from the table are dropped at each sample. */
#include "ui/type-series.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

struct rate_mark {
    char *worker, *type;
    double beat;                     /* the worker's "at" the counters are from */
    double processed, failed;
    double rate_done, rate_failed;   /* NAN until two beats were seen */
    uint64_t seen;                   /* generation it was last in */
    struct rate_mark *chain;
};

static uint64_t hash_pair(const char *a, const char *b)
{
    uint64_t h = 14695981039346656037ull;
    for (; *a; a++)
        h = (h ^ (unsigned char)*a) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
    for (; *b; b++)
        h = (h ^ (unsigned char)*b) * 1099511628211ull;
    return h;
}

static void ring_clear(struct type_ring *r, size_t capacity)
{
    for (size_t i = 0; i < TYPE_METRICS * capacity; i++)
        r->values[i] = NAN;
    for (int k = 0; k < LATENCY_KINDS; k++) {
        if (r->base[k])
            histogram_reset(r->base[k]);
        r->base_workers[k] = 0;
        r->p99[k] = NAN;
        r->p99_at[k] = 0;
    }
    r->in_sample = false;
}

void type_series_init(struct type_series *ts, double refresh)
{
    memset(ts, 0, sizeof *ts);
    double slots = ceil(TYPE_SERIES_WINDOW / (refresh > 0 ? refresh : 1));
    ts->capacity = slots < 2 ? 2 : slots > TYPE_SERIES_MAX_SLOTS ? TYPE_SERIES_MAX_SLOTS : (size_t)slots;
    ts->times = xcalloc(ts->capacity, sizeof *ts->times);
    ts->fleet.values = xcalloc(TYPE_METRICS * ts->capacity, sizeof(double));
    ring_clear(&ts->fleet, ts->capacity);
    snprintf(ts->fleet.name, sizeof ts->fleet.name, "@fleet");
    ts->nbuckets = 256;
    ts->marks = xcalloc(ts->nbuckets, sizeof *ts->marks);
    ts->scratch = histogram_new();
}

static void mark_free(struct rate_mark *m)
{
    free(m->worker);
    free(m->type);
    free(m);
}

void type_series_free(struct type_series *ts)
{
    for (size_t i = 0; i < TYPE_SERIES_CAP; i++) {
        free(ts->types[i].values);
        for (int k = 0; k < LATENCY_KINDS; k++)
            histogram_free(ts->types[i].base[k]);
    }
    free(ts->fleet.values);
    free(ts->times);
    for (size_t b = 0; b < ts->nbuckets; b++)
        for (struct rate_mark *m = ts->marks[b], *next; m; m = next) {
            next = m->chain;
            mark_free(m);
        }
    free(ts->marks);
    histogram_free(ts->scratch);
    memset(ts, 0, sizeof *ts);
}

const struct type_ring *type_series_find(const struct type_series *ts, const char *type)
{
    for (size_t i = 0; i < ts->ntypes; i++)
        if (ts->types[i].last_seen > 0 && strcmp(ts->types[i].name, type) == 0)
            return &ts->types[i];
    return NULL;
}

const struct type_ring *type_series_fleet(const struct type_series *ts) { return &ts->fleet; }

/* The type's rings, made (or taken from the type seen longest ago) when new. */
static struct type_ring *ring_for(struct type_series *ts, const char *type, double now)
{
    struct type_ring *r = (struct type_ring *)type_series_find(ts, type);
    if (!r) {
        if (ts->ntypes < TYPE_SERIES_CAP) {
            r = &ts->types[ts->ntypes++];
            r->values = xcalloc(TYPE_METRICS * ts->capacity, sizeof(double));
        } else {
            r = &ts->types[0];
            for (size_t i = 1; i < ts->ntypes; i++)
                if (ts->types[i].last_seen < r->last_seen)
                    r = &ts->types[i];
        }
        ring_clear(r, ts->capacity);
        snprintf(r->name, sizeof r->name, "%s", type);
    }
    r->last_seen = now;
    return r;
}

static struct rate_mark *mark_for(struct type_series *ts, const char *worker, const char *type, bool *fresh)
{
    uint64_t h = hash_pair(worker, type);
    struct rate_mark **bucket = &ts->marks[h & (ts->nbuckets - 1)];
    for (struct rate_mark *m = *bucket; m; m = m->chain)
        if (strcmp(m->worker, worker) == 0 && strcmp(m->type, type) == 0) {
            *fresh = false;
            return m;
        }
    if (ts->nmarks >= ts->nbuckets) {
        size_t n = ts->nbuckets * 2;
        struct rate_mark **grown = xcalloc(n, sizeof *grown);
        for (size_t b = 0; b < ts->nbuckets; b++)
            for (struct rate_mark *m = ts->marks[b], *next; m; m = next) {
                next = m->chain;
                size_t slot = hash_pair(m->worker, m->type) & (n - 1);
                m->chain = grown[slot];
                grown[slot] = m;
            }
        free(ts->marks);
        ts->marks = grown;
        ts->nbuckets = n;
        bucket = &ts->marks[h & (n - 1)];
    }
    struct rate_mark *m = xcalloc(1, sizeof *m);
    m->worker = xstrdup(worker);
    m->type = xstrdup(type);
    m->rate_done = m->rate_failed = NAN;
    m->chain = *bucket;
    *bucket = m;
    ts->nmarks++;
    *fresh = true;
    return m;
}

/* Takes the counters of one beat; the rate is measured when the beat is new. */
static void mark_update(struct type_series *ts, const char *worker, const char *type, double beat,
                        double processed, double failed, struct type_ring *into)
{
    bool fresh;
    struct rate_mark *m = mark_for(ts, worker, type, &fresh);
    m->seen = ts->generation;
    if (fresh || beat > m->beat) {
        if (!fresh && beat - m->beat > 0 && !isnan(processed) && !isnan(m->processed)) {
            double dt = beat - m->beat;
            m->rate_done = processed >= m->processed ? (processed - m->processed) / dt : 0;
            m->rate_failed = !isnan(failed) && !isnan(m->failed) && failed >= m->failed ? (failed - m->failed) / dt : 0;
        }
        m->beat = beat, m->processed = processed, m->failed = failed;
    }
    if (!isnan(m->rate_done)) {
        into->acc_done = isnan(into->acc_done) ? m->rate_done : into->acc_done + m->rate_done;
        into->acc_failed = isnan(into->acc_failed) ? m->rate_failed : into->acc_failed + m->rate_failed;
    }
}

static double number_or_nan(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble >= 0 ? v->valuedouble : NAN;
}

static void drop_unseen_marks(struct type_series *ts)
{
    for (size_t b = 0; b < ts->nbuckets; b++)
        for (struct rate_mark **link = &ts->marks[b]; *link;) {
            struct rate_mark *m = *link;
            if (m->seen != ts->generation) {
                *link = m->chain;
                mark_free(m);
                ts->nmarks--;
            } else {
                link = &m->chain;
            }
        }
}

/* The p99 of the tasks finished since the ring's base merge. */
static void window_p99(struct type_series *ts, struct type_ring *r, const struct latency_row *row, int k, double now)
{
    const struct histogram *merged = row->merged[k];
    if (!merged)
        return;
    if (!r->base[k])
        r->base[k] = histogram_new();
    uint64_t before = histogram_count(r->base[k]), after = histogram_count(merged);
    if (r->base_workers[k] == row->workers && after > before) {
        histogram_reset(ts->scratch);
        uint64_t n = 0;
        for (size_t b = 0; b < HISTOGRAM_BUCKETS; b++) {
            uint64_t was = r->base[k]->buckets[b], is = merged->buckets[b];
            if (is > was) {
                uint64_t lo, hi;
                histogram_bucket_range(b, &lo, &hi);
                histogram_record_n(ts->scratch, lo + (hi - lo) / 2, is - was);
                n += is - was;
            }
        }
        if (n) {
            r->p99[k] = (double)histogram_percentile(ts->scratch, 99);
            r->p99_at[k] = now;
        }
    }
    if (r->base_workers[k] != row->workers || after != before) {
        histogram_reset(r->base[k]);
        histogram_merge(r->base[k], merged);
        r->base_workers[k] = row->workers;
    }
}

static void put(struct type_series *ts, struct type_ring *r, enum type_metric m, double v)
{
    r->values[(size_t)m * ts->capacity + ts->next] = v;
}

void type_series_record(struct type_series *ts, const struct fleet_table *t, const struct latency_table *merged)
{
    if (!t)
        return;
    double now = t->taken_at;
    ts->generation++;
    for (size_t i = 0; i < ts->ntypes; i++)
        ts->types[i].in_sample = false, ts->types[i].acc_done = ts->types[i].acc_failed = NAN;
    ts->fleet.acc_done = ts->fleet.acc_failed = NAN;

    const cJSON **reports = xcalloc(t->n ? t->n : 1, sizeof *reports);
    size_t nreports = 0;
    for (size_t i = 0; i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        if (w->state != FLEET_RUNNING)   /* a stopped or lost worker's last rate is not its rate now */
            continue;
        mark_update(ts, w->id, "", w->last_beat, w->processed >= 0 ? (double)w->processed : NAN,
                    w->failed >= 0 ? (double)w->failed : NAN, &ts->fleet);
        if (!w->report)
            continue;
        reports[nreports++] = w->report;
        const cJSON *type;
        cJSON_ArrayForEach(type, cJSON_GetObjectItemCaseSensitive(w->report, "latency"))
        {
            if (!cJSON_IsObject(type) || !type->string || !type->string[0])
                continue;
            struct type_ring *r = ring_for(ts, type->string, now);
            if (!r->in_sample)
                r->in_sample = true, r->acc_done = r->acc_failed = NAN;
            mark_update(ts, w->id, type->string, w->last_beat, number_or_nan(type, "processed"),
                        number_or_nan(type, "failed"), r);
        }
    }
    /* merging every worker's histograms is the costly part: every few seconds, not every refresh */
    if (now - ts->merged_at >= TYPE_SERIES_P99_EVERY || now < ts->merged_at) {
        ts->merged_at = now;
        struct latency_table own = {0};
        if (!merged)
            latency_table_build(reports, nreports, &own);
        const struct latency_table *lt = merged ? merged : &own;
        for (size_t i = 0; i < lt->n; i++) {
            struct type_ring *r = (struct type_ring *)type_series_find(ts, lt->rows[i].type);
            for (int k = 0; r && r->in_sample && k < LATENCY_KINDS; k++)
                window_p99(ts, r, &lt->rows[i], k, now);
        }
        if (!merged)
            latency_table_free(&own);
    }
    free(reports);
    drop_unseen_marks(ts);

    ts->times[ts->next] = now;
    for (size_t i = 0; i < ts->ntypes; i++) {
        struct type_ring *r = &ts->types[i];
        put(ts, r, TYPE_DONE, r->in_sample ? r->acc_done : NAN);
        put(ts, r, TYPE_FAILED, r->in_sample ? r->acc_failed : NAN);
        for (int k = 0; k < LATENCY_KINDS; k++)
            put(ts, r, TYPE_P99 + k,
                r->in_sample && now - r->p99_at[k] <= TYPE_SERIES_P99_HOLD ? r->p99[k] : NAN);
    }
    put(ts, &ts->fleet, TYPE_DONE, ts->fleet.acc_done);
    put(ts, &ts->fleet, TYPE_FAILED, ts->fleet.acc_failed);
    for (int k = 0; k < LATENCY_KINDS; k++)
        put(ts, &ts->fleet, TYPE_P99 + k, NAN);
    ts->next = (ts->next + 1) % ts->capacity;
    if (ts->count < ts->capacity)
        ts->count++;
}

/* Slot of the i-th of the last n samples, oldest first. */
static size_t slot_of(const struct type_series *ts, size_t n, size_t i)
{
    return (ts->next + ts->capacity - n + i) % ts->capacity;
}

size_t type_series_values(const struct type_series *ts, const struct type_ring *r, enum type_metric m, double *out,
                          size_t max)
{
    if (!r)
        return 0;
    size_t n = ts->count < max ? ts->count : max;
    for (size_t i = 0; i < n; i++)
        out[i] = r->values[(size_t)m * ts->capacity + slot_of(ts, n, i)];
    return n;
}

double type_series_latest(const struct type_series *ts, const struct type_ring *r, enum type_metric m)
{
    double v;
    return type_series_values(ts, r, m, &v, 1) ? v : NAN;
}

double type_series_span(const struct type_series *ts)
{
    if (ts->count < 2)
        return 0;
    return ts->times[slot_of(ts, ts->count, ts->count - 1)] - ts->times[slot_of(ts, ts->count, 0)];
}

double type_series_trend(const struct type_series *ts, const struct type_ring *r, enum type_metric m,
                         double seconds)
{
    if (!r || ts->count < 2)
        return NAN;
    double newest = ts->times[slot_of(ts, ts->count, ts->count - 1)];
    double sum[2] = {0, 0};
    size_t n[2] = {0, 0};
    for (size_t i = ts->count; i-- > 0;) {
        size_t slot = slot_of(ts, ts->count, i);
        double age = newest - ts->times[slot], v = r->values[(size_t)m * ts->capacity + slot];
        if (age >= 2 * seconds)
            break;
        if (isnan(v))
            continue;
        int half = age < seconds ? 0 : 1;
        sum[half] += v;
        n[half]++;
    }
    if (!n[0] || !n[1])
        return NAN;
    double recent = sum[0] / (double)n[0], before = sum[1] / (double)n[1];
    if (before <= 0)
        return recent > 0 ? INFINITY : 0;
    return recent / before - 1;
}
