/* Queue history rings in a chained hash table (FNV-1a on the address). */
#include "ui/history.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static uint64_t hash_addr(const char *s)
{
    uint64_t h = 14695981039346656037ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

void history_init(struct history *h, size_t capacity)
{
    memset(h, 0, sizeof *h);
    h->capacity = capacity < 2 ? 2 : capacity;
    h->nbuckets = 256;
    h->buckets = xcalloc(h->nbuckets, sizeof *h->buckets);
}

static void entry_free(struct queue_history *q)
{
    free(q->addr);
    for (int s = 0; s < SERIES_COUNT; s++)
        free(q->values[s]);
    free(q->times);
    free(q);
}

void history_free(struct history *h)
{
    for (size_t b = 0; b < h->nbuckets; b++) {
        struct queue_history *q = h->buckets[b];
        while (q) {
            struct queue_history *next = q->chain;
            entry_free(q);
            q = next;
        }
    }
    free(h->buckets);
    memset(h, 0, sizeof *h);
}

static void grow(struct history *h)
{
    size_t n = h->nbuckets * 2;
    struct queue_history **b = xcalloc(n, sizeof *b);
    for (size_t i = 0; i < h->nbuckets; i++) {
        struct queue_history *q = h->buckets[i];
        while (q) {
            struct queue_history *next = q->chain;
            size_t slot = hash_addr(q->addr) & (n - 1);
            q->chain = b[slot];
            b[slot] = q;
            q = next;
        }
    }
    free(h->buckets);
    h->buckets = b;
    h->nbuckets = n;
}

const struct queue_history *history_get(const struct history *h, const char *addr)
{
    for (struct queue_history *q = h->buckets[hash_addr(addr) & (h->nbuckets - 1)]; q; q = q->chain)
        if (strcmp(q->addr, addr) == 0)
            return q;
    return NULL;
}

static struct queue_history *entry_for(struct history *h, const char *addr)
{
    struct queue_history *q = (struct queue_history *)history_get(h, addr);
    if (q)
        return q;
    if (h->nentries >= h->nbuckets)
        grow(h);
    q = xcalloc(1, sizeof *q);
    q->addr = xstrdup(addr);
    q->capacity = h->capacity;
    for (int s = 0; s < SERIES_COUNT; s++)
        q->values[s] = xcalloc(h->capacity, sizeof(double));
    q->times = xcalloc(h->capacity, sizeof(double));
    for (size_t i = 0; i < HISTORY_WINDOW_SLOTS; i++)
        q->window[i] = NAN;
    q->window_slot = -1;
    size_t slot = hash_addr(addr) & (h->nbuckets - 1);
    q->chain = h->buckets[slot];
    h->buckets[slot] = q;
    h->nentries++;
    return q;
}

/* The depth goes into the slot of t; slots skipped since the newest carry
 * its depth for HISTORY_WINDOW_CARRY seconds, then are unknown. */
static void window_add(struct queue_history *q, double t, double depth)
{
    int64_t slot = (int64_t)floor(t / HISTORY_WINDOW_STEP);
    if (q->window_slot >= 0 && slot <= q->window_slot) {   /* same slot (or the clock went back) */
        if (!isnan(depth))
            q->window[(q->window_next + HISTORY_WINDOW_SLOTS - 1) % HISTORY_WINDOW_SLOTS] = depth;
        return;
    }
    double before = q->window_slot >= 0 ? q->window[(q->window_next + HISTORY_WINDOW_SLOTS - 1) % HISTORY_WINDOW_SLOTS]
                                        : NAN;
    int64_t skipped = q->window_slot >= 0 ? slot - q->window_slot - 1 : 0;
    if (skipped > HISTORY_WINDOW_SLOTS)
        skipped = HISTORY_WINDOW_SLOTS;
    for (int64_t i = 0; i < skipped; i++) {
        q->window[q->window_next] = (double)(i + 1) * HISTORY_WINDOW_STEP <= HISTORY_WINDOW_CARRY ? before : NAN;
        q->window_next = (q->window_next + 1) % HISTORY_WINDOW_SLOTS;
    }
    q->window[q->window_next] = depth;
    q->window_next = (q->window_next + 1) % HISTORY_WINDOW_SLOTS;
    q->window_slot = slot;
}

size_t history_window(const struct queue_history *q, double *out)
{
    if (!q)
        return 0;
    for (size_t i = 0; i < HISTORY_WINDOW_SLOTS; i++)
        out[i] = q->window[(q->window_next + i) % HISTORY_WINDOW_SLOTS];
    return HISTORY_WINDOW_SLOTS;
}

void history_add(struct history *h, const char *addr, double t, double depth, double in, double out)
{
    struct queue_history *q = entry_for(h, addr);
    window_add(q, t, depth);
    q->values[SERIES_DEPTH][q->next] = depth;
    q->values[SERIES_IN][q->next] = in;
    q->values[SERIES_OUT][q->next] = out;
    q->times[q->next] = t;
    q->next = (q->next + 1) % h->capacity;
    if (q->count < h->capacity)
        q->count++;
}

static double known_sum(double acc, double v) { return isnan(v) ? acc : (isnan(acc) ? v : acc + v); }

void history_record(struct history *h, const char *source_kind, const struct snapshot *s)
{
    double depth = NAN, in = NAN, out = NAN;
    for (size_t i = 0; i < s->nqueues; i++) {
        const struct queue_stat *q = &s->queues[i];
        double d = q->total >= 0 ? (double)q->total : (q->ready >= 0 ? (double)q->ready : NAN);
        history_add(h, q->addr, s->taken_at, d, q->rate_in, q->rate_out);
        depth = known_sum(depth, d);
        in = known_sum(in, q->rate_in);
        out = known_sum(out, q->rate_out);
    }
    char total[64];
    snprintf(total, sizeof total, "@%s", source_kind);
    history_add(h, total, s->taken_at, s->nqueues ? depth : 0, in, out);
}

size_t history_prune(struct history *h, double before)
{
    size_t dropped = 0;
    for (size_t b = 0; b < h->nbuckets; b++) {
        struct queue_history **link = &h->buckets[b];
        while (*link) {
            struct queue_history *q = *link;
            double newest = q->times[(q->next + q->capacity - 1) % q->capacity];
            if (q->count > 0 && newest < before) {
                *link = q->chain;
                entry_free(q);
                h->nentries--;
                dropped++;
            } else {
                link = &q->chain;
            }
        }
    }
    return dropped;
}

/* Index of the i-th sample, oldest first, among the last n. */
static size_t ring_index(const struct queue_history *q, size_t n, size_t i)
{
    return (q->next + q->capacity - n + i) % q->capacity;
}

size_t history_series(const struct queue_history *q, enum history_series s, double *out, size_t max)
{
    if (!q)
        return 0;
    size_t n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++)
        out[i] = q->values[s][ring_index(q, n, i)];
    return n;
}

double history_growth(const struct queue_history *q, size_t samples)
{
    if (!q)
        return NAN;
    size_t n = q->count < samples ? q->count : samples;
    if (n < 2)
        return NAN;
    size_t first = ring_index(q, n, 0), last = ring_index(q, n, n - 1);
    double dt = q->times[last] - q->times[first];
    double dd = q->values[SERIES_DEPTH][last] - q->values[SERIES_DEPTH][first];
    return dt > 0 && !isnan(dd) ? dd / dt : NAN;
}
