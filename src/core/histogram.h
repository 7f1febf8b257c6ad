/* Latency histogram: log-bucketed, mergeable, HdrHistogram-style, written for
 * qdeck (Debian has no C HdrHistogram).
 *
 * Values are microseconds from 0 to 1 h. Values below 128 µs get a bucket
 * each; above, every power of two is split into 64 linear sub-buckets, so a
 * bucket is at most 1/64 of its lower bound wide and a percentile reported at
 * the bucket's midpoint is within 0.8 % of the exact value. 1,728 buckets of
 * 8 bytes: one array, no allocation after creation.
 *
 * Recording is one relaxed atomic add on the bucket plus the count, sum and
 * min/max updates, so any number of threads may record into one histogram
 * while another reads it (a reader sees a slightly torn but never corrupt
 * picture). Values above 1 h are recorded as 1 h and counted in `clamped`.
 *
 * Text encoding for heartbeats (versioned, sparse, delta-coded):
 *   h1 n=COUNT min=MIN max=MAX sum=SUM over=CLAMPED b=I[:C],I[:C],...
 * I is the bucket index, the first absolute and each next one as the
 * difference from the one before; ":C" is left out when the count is 1.
 * An empty histogram encodes as "h1 n=0". */
#ifndef QDECK_HISTOGRAM_H
#define QDECK_HISTOGRAM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_MAX_US      3600000000ULL   /* 1 h */
#define HISTOGRAM_LINEAR      128             /* values 0..127 exact */
#define HISTOGRAM_SUB_BUCKETS 64              /* per power of two above that */
#define HISTOGRAM_BUCKETS     (HISTOGRAM_LINEAR + 25 * HISTOGRAM_SUB_BUCKETS)   /* up to 2^32 µs */

struct histogram {
    _Atomic uint64_t count;
    _Atomic uint64_t sum;        /* µs, for the mean */
    _Atomic uint64_t min;        /* UINT64_MAX while empty */
    _Atomic uint64_t max;
    _Atomic uint64_t clamped;    /* values above 1 h */
    _Atomic uint64_t buckets[HISTOGRAM_BUCKETS];
};

/* The standard report: what the console and heartbeats show. */
struct histogram_summary {
    uint64_t count, min, max, clamped;
    double mean;
    uint64_t p50, p90, p95, p99, p999;   /* µs */
};

void histogram_init(struct histogram *h);
struct histogram *histogram_new(void);       /* xcalloc + init */
void histogram_free(struct histogram *h);
void histogram_reset(struct histogram *h);

/* O(1), no allocation, thread-safe. */
void histogram_record(struct histogram *h, uint64_t usec);
void histogram_record_n(struct histogram *h, uint64_t usec, uint64_t n);
/* Seconds (negative counts as 0). */
void histogram_record_seconds(struct histogram *h, double seconds);

/* Bucket of a value, and the range [lo, hi] of values a bucket holds. */
size_t histogram_bucket_of(uint64_t usec);
void histogram_bucket_range(size_t index, uint64_t *lo, uint64_t *hi);

uint64_t histogram_count(const struct histogram *h);
/* The value at percentile q (0..100): the midpoint of the bucket holding the
 * ceil(q/100 * count)-th smallest value, kept within [min, max]. 0 when empty. */
uint64_t histogram_percentile(const struct histogram *h, double q);
void histogram_summarize(const struct histogram *h, struct histogram_summary *out);

/* into += from (thread-safe against recorders of either). */
void histogram_merge(struct histogram *into, const struct histogram *from);

/* Encoding; the string is allocated (free it). */
char *histogram_encode(const struct histogram *h);
/* Parses an encoding into h (reset first). 0, or -1 on any malformed input
 * (h is then left empty). */
int histogram_decode(struct histogram *h, const char *text);
/* Adds h's encoding to a JSON object as o[name], as fleet reports carry
 * their histograms; nothing when h is NULL. */
struct cJSON;
void histogram_add_to_json(struct cJSON *o, const char *name, const struct histogram *h);

#endif
