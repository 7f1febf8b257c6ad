/* Log-bucketed latency histogram (see histogram.h for the layout and the
 * encoding). The bucket of a value is found with one count-leading-zeros and
 * two shifts; everything else is sums over the fixed bucket array. */
#include "core/histogram.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

#define RELAXED memory_order_relaxed
#define SUB_BITS 6   /* log2(HISTOGRAM_SUB_BUCKETS) */
#define LINEAR_BITS 7

void histogram_init(struct histogram *h)
{
    atomic_init(&h->count, 0);
    atomic_init(&h->sum, 0);
    atomic_init(&h->min, UINT64_MAX);
    atomic_init(&h->max, 0);
    atomic_init(&h->clamped, 0);
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++)
        atomic_init(&h->buckets[i], 0);
}

struct histogram *histogram_new(void)
{
    struct histogram *h = xmalloc(sizeof *h);
    histogram_init(h);
    return h;
}

void histogram_free(struct histogram *h) { free(h); }

void histogram_reset(struct histogram *h)
{
    atomic_store_explicit(&h->count, 0, RELAXED);
    atomic_store_explicit(&h->sum, 0, RELAXED);
    atomic_store_explicit(&h->min, UINT64_MAX, RELAXED);
    atomic_store_explicit(&h->max, 0, RELAXED);
    atomic_store_explicit(&h->clamped, 0, RELAXED);
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++)
        atomic_store_explicit(&h->buckets[i], 0, RELAXED);
}

size_t histogram_bucket_of(uint64_t usec)
{
    if (usec > HISTOGRAM_MAX_US)
        usec = HISTOGRAM_MAX_US;
    if (usec < HISTOGRAM_LINEAR)
        return (size_t)usec;
    unsigned exponent = 63u - (unsigned)__builtin_clzll(usec);   /* 7..31 */
    unsigned shift = exponent - SUB_BITS;
    uint64_t mantissa = usec >> shift;                         /* 64..127 */
    return HISTOGRAM_LINEAR + (size_t)(exponent - LINEAR_BITS) * HISTOGRAM_SUB_BUCKETS +
           (size_t)(mantissa - HISTOGRAM_SUB_BUCKETS);
}

void histogram_bucket_range(size_t index, uint64_t *lo, uint64_t *hi)
{
    if (index < HISTOGRAM_LINEAR) {
        *lo = *hi = index;
        return;
    }
    size_t k = index - HISTOGRAM_LINEAR;
    unsigned exponent = (unsigned)(k / HISTOGRAM_SUB_BUCKETS) + LINEAR_BITS;
    unsigned shift = exponent - SUB_BITS;
    uint64_t mantissa = HISTOGRAM_SUB_BUCKETS + k % HISTOGRAM_SUB_BUCKETS;
    *lo = mantissa << shift;
    *hi = *lo + (1ULL << shift) - 1;
}

static void update_min(_Atomic uint64_t *slot, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(slot, RELAXED);
    while (v < cur && !atomic_compare_exchange_weak_explicit(slot, &cur, v, RELAXED, RELAXED))
        ;
}

static void update_max(_Atomic uint64_t *slot, uint64_t v)
{
    uint64_t cur = atomic_load_explicit(slot, RELAXED);
    while (v > cur && !atomic_compare_exchange_weak_explicit(slot, &cur, v, RELAXED, RELAXED))
        ;
}

void histogram_record_n(struct histogram *h, uint64_t usec, uint64_t n)
{
    if (n == 0)
        return;
    if (usec > HISTOGRAM_MAX_US) {
        usec = HISTOGRAM_MAX_US;
        atomic_fetch_add_explicit(&h->clamped, n, RELAXED);
    }
    atomic_fetch_add_explicit(&h->buckets[histogram_bucket_of(usec)], n, RELAXED);
    atomic_fetch_add_explicit(&h->count, n, RELAXED);
    atomic_fetch_add_explicit(&h->sum, usec * n, RELAXED);
    update_min(&h->min, usec);
    update_max(&h->max, usec);
}

void histogram_record(struct histogram *h, uint64_t usec) { histogram_record_n(h, usec, 1); }

void histogram_record_seconds(struct histogram *h, double seconds)
{
    double us = seconds * 1e6;
    if (!(us > 0))   /* negative and NaN */
        us = 0;
    histogram_record(h, us >= (double)UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)llround(us));
}

uint64_t histogram_count(const struct histogram *h) { return atomic_load_explicit(&h->count, RELAXED); }

static uint64_t bucket_midpoint(size_t index)
{
    uint64_t lo, hi;
    histogram_bucket_range(index, &lo, &hi);
    return lo + (hi - lo + 1) / 2;
}

/* Percentiles of several q at once over one pass; qs ascending. */
static void percentiles(const struct histogram *h, const double *qs, uint64_t *out, size_t nq)
{
    uint64_t total = 0;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++)
        total += atomic_load_explicit(&h->buckets[i], RELAXED);
    uint64_t min = atomic_load_explicit(&h->min, RELAXED), max = atomic_load_explicit(&h->max, RELAXED);
    if (total == 0) {
        for (size_t k = 0; k < nq; k++)
            out[k] = 0;
        return;
    }
    size_t k = 0, i = 0;
    uint64_t seen = 0;
    while (k < nq) {
        double want = ceil(qs[k] / 100.0 * (double)total);
        uint64_t rank = want < 1 ? 1 : want > (double)total ? total : (uint64_t)want;
        while (i < HISTOGRAM_BUCKETS && seen + atomic_load_explicit(&h->buckets[i], RELAXED) < rank)
            seen += atomic_load_explicit(&h->buckets[i++], RELAXED);
        uint64_t v = i < HISTOGRAM_BUCKETS ? bucket_midpoint(i) : max;
        if (v > max)
            v = max;
        if (v < min)
            v = min;
        out[k++] = v;
    }
}

uint64_t histogram_percentile(const struct histogram *h, double q)
{
    uint64_t v;
    percentiles(h, &q, &v, 1);
    return v;
}

void histogram_summarize(const struct histogram *h, struct histogram_summary *s)
{
    static const double qs[] = {50, 90, 95, 99, 99.9};
    uint64_t v[5];
    percentiles(h, qs, v, 5);
    s->count = atomic_load_explicit(&h->count, RELAXED);
    s->min = s->count ? atomic_load_explicit(&h->min, RELAXED) : 0;
    s->max = atomic_load_explicit(&h->max, RELAXED);
    s->clamped = atomic_load_explicit(&h->clamped, RELAXED);
    s->mean = s->count ? (double)atomic_load_explicit(&h->sum, RELAXED) / (double)s->count : 0;
    s->p50 = v[0];
    s->p90 = v[1];
    s->p95 = v[2];
    s->p99 = v[3];
    s->p999 = v[4];
}

void histogram_merge(struct histogram *into, const struct histogram *from)
{
    uint64_t n = 0;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&from->buckets[i], RELAXED);
        if (c) {
            atomic_fetch_add_explicit(&into->buckets[i], c, RELAXED);
            n += c;
        }
    }
    if (n == 0)
        return;
    atomic_fetch_add_explicit(&into->count, n, RELAXED);
    atomic_fetch_add_explicit(&into->sum, atomic_load_explicit(&from->sum, RELAXED), RELAXED);
    atomic_fetch_add_explicit(&into->clamped, atomic_load_explicit(&from->clamped, RELAXED), RELAXED);
    update_min(&into->min, atomic_load_explicit(&from->min, RELAXED));
    update_max(&into->max, atomic_load_explicit(&from->max, RELAXED));
}

/* ------------------------------------------------------------- encoding */

struct strbuf {
    char *s;
    size_t len, cap;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)(n > 0 ? n : 64);
        b->s = xrealloc(b->s, b->cap);
    }
}

char *histogram_encode(const struct histogram *h)
{
    struct strbuf b = {.s = xmalloc(256), .cap = 256};
    uint64_t counts[HISTOGRAM_BUCKETS], total = 0;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++)
        total += counts[i] = atomic_load_explicit(&h->buckets[i], RELAXED);
    if (total == 0) {
        sb_printf(&b, "h1 n=0");
        return b.s;
    }
    sb_printf(&b, "h1 n=%llu min=%llu max=%llu sum=%llu over=%llu b=", (unsigned long long)total,
              (unsigned long long)atomic_load_explicit(&h->min, RELAXED),
              (unsigned long long)atomic_load_explicit(&h->max, RELAXED),
              (unsigned long long)atomic_load_explicit(&h->sum, RELAXED),
              (unsigned long long)atomic_load_explicit(&h->clamped, RELAXED));
    size_t prev = 0;
    bool first = true;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        if (!counts[i])
            continue;
        sb_printf(&b, "%s%zu", first ? "" : ",", i - prev);
        if (counts[i] != 1)
            sb_printf(&b, ":%llu", (unsigned long long)counts[i]);
        prev = i;
        first = false;
    }
    return b.s;
}

/* Reads "name=<unsigned>" at *p. */
static int read_field(const char **p, const char *name, uint64_t *out)
{
    size_t n = strlen(name);
    if (strncmp(*p, name, n) != 0 || (*p)[n] != '=' || !isdigit((unsigned char)(*p)[n + 1]))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*p + n + 1, &end, 10);
    if (errno)
        return -1;
    *out = v;
    *p = end;
    return 0;
}

static int read_number(const char **p, uint64_t *out)
{
    if (!isdigit((unsigned char)**p))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(*p, &end, 10);
    if (errno)
        return -1;
    *out = v;
    *p = end;
    return 0;
}

static int decode(struct histogram *h, const char *p)
{
    uint64_t n, min, max, sum, over;
    if (strncmp(p, "h1 ", 3) != 0)
        return -1;
    p += 3;
    if (read_field(&p, "n", &n) < 0)
        return -1;
    if (n == 0)
        return *p ? -1 : 0;
    if (*p++ != ' ' || read_field(&p, "min", &min) < 0 || *p++ != ' ' || read_field(&p, "max", &max) < 0 ||
        *p++ != ' ' || read_field(&p, "sum", &sum) < 0 || *p++ != ' ' || read_field(&p, "over", &over) < 0 ||
        strncmp(p, " b=", 3) != 0)
        return -1;
    p += 3;
    if (min > max || max > HISTOGRAM_MAX_US || over > n)
        return -1;
    uint64_t index = 0, seen = 0;
    for (bool first = true; *p; first = false) {
        uint64_t delta, c = 1;
        if (!first && *p++ != ',')
            return -1;
        if (read_number(&p, &delta) < 0 || (!first && delta == 0))
            return -1;
        index += delta;
        if (index >= HISTOGRAM_BUCKETS)
            return -1;
        if (*p == ':' && (p++, read_number(&p, &c) < 0 || c < 2))
            return -1;
        if (c > n - seen)
            return -1;
        seen += c;
        atomic_store_explicit(&h->buckets[index], c, RELAXED);
    }
    if (seen != n || histogram_bucket_of(min) > histogram_bucket_of(max))
        return -1;
    atomic_store_explicit(&h->count, n, RELAXED);
    atomic_store_explicit(&h->min, min, RELAXED);
    atomic_store_explicit(&h->max, max, RELAXED);
    atomic_store_explicit(&h->sum, sum, RELAXED);
    atomic_store_explicit(&h->clamped, over, RELAXED);
    return 0;
}

int histogram_decode(struct histogram *h, const char *text)
{
    histogram_reset(h);
    if (!text || decode(h, text) < 0) {
        histogram_reset(h);
        return -1;
    }
    return 0;
}

void histogram_add_to_json(struct cJSON *o, const char *name, const struct histogram *h)
{
    if (!h)
        return;
    char *text = histogram_encode(h);
    cJSON_AddStringToObject(o, name, text);
    free(text);
}
