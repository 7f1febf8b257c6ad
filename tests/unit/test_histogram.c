/* Latency histogram: percentiles against the exact percentiles of known
 * samples (uniform, exponential, bimodal), merging equals recording
 * everything into one, encode/decode round trips, and the edges (0, 1 µs,
 * 1 h, above range). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted samples. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double q)
{
    double want = ceil(q / 100.0 * (double)n);
    size_t rank = want < 1 ? 1 : (size_t)want;
    return sorted[rank - 1];
}

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t next_random(void)   /* xorshift64: reproducible samples */
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static double uniform01(void) { return (double)(next_random() >> 11) / 9007199254740992.0; }

static void check_against_exact(uint64_t *samples, size_t n)
{
    struct histogram *h = histogram_new();
    for (size_t i = 0; i < n; i++)
        histogram_record(h, samples[i]);
    qsort(samples, n, sizeof *samples, compare_u64);
    static const double qs[] = {1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100};
    for (size_t k = 0; k < sizeof qs / sizeof qs[0]; k++) {
        uint64_t want = exact_percentile(samples, n, qs[k]);
        uint64_t got = histogram_percentile(h, qs[k]);
        double err = want ? fabs((double)got - (double)want) / (double)want : (double)got;
        if (err > 0.01)
            fail_msg("p%g: exact %llu, histogram %llu (error %.3f%%)", qs[k], (unsigned long long)want,
                     (unsigned long long)got, err * 100);
    }
    struct histogram_summary s;
    histogram_summarize(h, &s);
    assert_int_equal(s.count, n);
    assert_int_equal(s.min, samples[0]);
    assert_int_equal(s.max, samples[n - 1]);
    assert_int_equal(s.p99, histogram_percentile(h, 99));
    assert_int_equal(s.p999, histogram_percentile(h, 99.9));
    histogram_free(h);
}

static void uniform_samples(void **state)
{
    (void)state;
    size_t n = 100000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = 1 + next_random() % 10000000;   /* 1 µs .. 10 s */
    check_against_exact(v, n);
    free(v);
}

static void exponential_samples(void **state)
{
    (void)state;
    size_t n = 100000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (uint64_t)(-log(1 - uniform01()) * 50000.0);   /* mean 50 ms */
    check_against_exact(v, n);
    free(v);
}

static void bimodal_samples(void **state)
{
    (void)state;
    size_t n = 50000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)   /* 90 % cache hits near 300 µs, 10 % misses near 2 s */
        v[i] = i % 10 ? 250 + next_random() % 100 : 1800000 + next_random() % 400000;
    check_against_exact(v, n);
    free(v);
}

/* Every value falls in a bucket whose range holds it and whose midpoint is
 * within 1 %; bucket ranges tile the whole range without gaps. */
static void buckets_tile_the_range(void **state)
{
    (void)state;
    uint64_t expect_lo = 0;
    for (size_t i = 0; i < HISTOGRAM_BUCKETS; i++) {
        uint64_t lo, hi;
        histogram_bucket_range(i, &lo, &hi);
        assert_int_equal(lo, expect_lo);
        assert_true(hi >= lo);
        if (lo <= HISTOGRAM_MAX_US)   /* the last few buckets lie beyond 1 h: never used */
            assert_int_equal(histogram_bucket_of(lo), i);
        if (hi <= HISTOGRAM_MAX_US)
            assert_int_equal(histogram_bucket_of(hi), i);
        uint64_t mid = lo + (hi - lo + 1) / 2;
        assert_true((double)(mid - lo) <= 0.01 * (double)(lo ? lo : 1) || lo == hi);
        expect_lo = hi + 1;
    }
    assert_true(expect_lo > HISTOGRAM_MAX_US);
    for (uint64_t v = 1; v < HISTOGRAM_MAX_US; v = v * 3 / 2 + 1) {
        uint64_t lo, hi;
        histogram_bucket_range(histogram_bucket_of(v), &lo, &hi);
        assert_true(lo <= v && v <= hi);
    }
}

static void merge_equals_recording_all(void **state)
{
    (void)state;
    struct histogram *all = histogram_new(), *parts[3], *merged = histogram_new();
    for (int k = 0; k < 3; k++)
        parts[k] = histogram_new();
    for (int i = 0; i < 30000; i++) {
        uint64_t v = (uint64_t)(-log(1 - uniform01()) * (i % 3 ? 2000.0 : 900000.0));
        histogram_record(all, v);
        histogram_record(parts[i % 3], v);
    }
    for (int k = 0; k < 3; k++)
        histogram_merge(merged, parts[k]);
    assert_memory_equal(all->buckets, merged->buckets, sizeof all->buckets);
    struct histogram_summary a, m;
    histogram_summarize(all, &a);
    histogram_summarize(merged, &m);
    assert_memory_equal(&a, &m, sizeof a);
    char *ea = histogram_encode(all), *em = histogram_encode(merged);
    assert_string_equal(ea, em);
    free(ea);
    free(em);
    for (int k = 0; k < 3; k++)
        histogram_free(parts[k]);
    histogram_free(all);
    histogram_free(merged);
}

static void encode_decode_round_trip(void **state)
{
    (void)state;
    struct histogram *h = histogram_new(), *back = histogram_new();
    char *text = histogram_encode(h);
    assert_string_equal(text, "h1 n=0");
    assert_int_equal(histogram_decode(back, text), 0);
    assert_int_equal(histogram_count(back), 0);
    free(text);

    histogram_record(h, 5);
    histogram_record(h, 5);
    histogram_record(h, 7);
    histogram_record(h, 200);
    text = histogram_encode(h);
    assert_string_equal(text, "h1 n=4 min=5 max=200 sum=217 over=0 b=5:2,2,157");
    free(text);

    for (int i = 0; i < 20000; i++)
        histogram_record(h, next_random() % 5000000000ULL);
    text = histogram_encode(h);
    assert_int_equal(histogram_decode(back, text), 0);
    assert_memory_equal(h->buckets, back->buckets, sizeof h->buckets);
    struct histogram_summary a, b;
    histogram_summarize(h, &a);
    histogram_summarize(back, &b);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.clamped > 0);
    assert_true(strlen(text) < 12000);   /* sparse: far below 1,728 buckets x digits */
    free(text);
    histogram_free(h);
    histogram_free(back);
}

static void decode_refuses_malformed(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "h2 n=0", "h1", "h1 n=", "h1 n=0 extra", "h1 n=1 min=1 max=1 sum=1 over=0 b=",
        "h1 n=1 min=1 max=1 sum=1 over=0 b=1:1",          /* explicit :1 is not canonical */
        "h1 n=2 min=1 max=1 sum=1 over=0 b=1",            /* counts do not add up */
        "h1 n=1 min=1 max=1 sum=1 over=0 b=99999",        /* index out of range */
        "h1 n=2 min=1 max=2 sum=3 over=0 b=1,0",          /* zero delta: same bucket twice */
        "h1 n=1 min=2 max=1 sum=1 over=0 b=1",            /* min > max */
        "h1 n=1 min=1 max=1 sum=1 over=0 b=1,",
        "h1 n=1 min=1 max=1 sum=1 over=0 b=-1",
        "h1 n=99999999999999999999999 min=1",
        NULL,
    };
    struct histogram *h = histogram_new();
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        histogram_record(h, 42);
        if (histogram_decode(h, bad[i]) != -1)
            fail_msg("accepted: '%s'", bad[i] ? bad[i] : "(null)");
        assert_int_equal(histogram_count(h), 0);
    }
    histogram_free(h);
}

static void edges(void **state)
{
    (void)state;
    struct histogram *h = histogram_new();
    assert_int_equal(histogram_percentile(h, 50), 0);   /* empty */
    histogram_record(h, 0);
    assert_int_equal(histogram_percentile(h, 100), 0);
    histogram_record(h, 1);
    assert_int_equal(histogram_percentile(h, 100), 1);
    histogram_record(h, HISTOGRAM_MAX_US);
    assert_int_equal(histogram_percentile(h, 100), HISTOGRAM_MAX_US);
    assert_int_equal(h->clamped, 0);
    histogram_record(h, HISTOGRAM_MAX_US + 1);
    histogram_record(h, UINT64_MAX);
    assert_int_equal(h->clamped, 2);
    struct histogram_summary s;
    histogram_summarize(h, &s);
    assert_int_equal(s.count, 5);
    assert_int_equal(s.min, 0);
    assert_int_equal(s.max, HISTOGRAM_MAX_US);   /* clamped values count as 1 h */
    assert_int_equal(histogram_percentile(h, 40), 1);   /* rank 2 of 0, 1, 1h, 1h, 1h */
    assert_true(fabs((double)s.p50 - (double)HISTOGRAM_MAX_US) <= 0.01 * HISTOGRAM_MAX_US);
    assert_true(fabs((double)s.p90 - (double)HISTOGRAM_MAX_US) <= 0.01 * HISTOGRAM_MAX_US);

    histogram_reset(h);
    histogram_record_seconds(h, -3);   /* clock steps backwards: 0, not a huge value */
    histogram_record_seconds(h, 0.000001);
    histogram_record_seconds(h, 0.25);
    histogram_summarize(h, &s);
    assert_int_equal(s.min, 0);
    assert_int_equal(s.p50, 1);
    assert_true(llabs((long long)s.max - 250000) <= 2500);
    histogram_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uniform_samples),
        cmocka_unit_test(exponential_samples),
        cmocka_unit_test(bimodal_samples),
        cmocka_unit_test(buckets_tile_the_range),
        cmocka_unit_test(merge_equals_recording_all),
        cmocka_unit_test(encode_decode_round_trip),
        cmocka_unit_test(decode_refuses_malformed),
        cmocka_unit_test(edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
