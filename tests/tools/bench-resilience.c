/* bench-resilience: nanoseconds per operation of the resilience primitives
 * on the worker's hot path, with the baselines measured in the same run:
 * an empty loop and a plain counter increment (what any per-task
 * bookkeeping costs at least). Each figure is the median of RUNS runs of
 * N operations.
 *
 *   bench-resilience [RUNS [N]]        default 31 runs of 1,000,000
 *
 * Prints one line per figure: "name median_ns min_ns max_ns", then the
 * verdicts against the targets (breaker acquire+record as the worker calls
 * it, with the task's own start time and run time, and histogram record,
 * each <= 100 ns median). The convenience path that reads the clock twice
 * itself is shown next to clock_mono() alone. Exit 1 when a target is
 * missed. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/histogram.h"
#include "resilience/breaker.h"
#include "resilience/bulkhead.h"
#include "resilience/ratelimit.h"

static long runs = 31, n_ops = 1000000;
static uint64_t samples[4096];
static struct histogram *hist;
static struct breaker *brk;
static struct ratelimit rl;
static struct bulkhead bh;
static volatile uint64_t plain_counter;
static _Atomic uint64_t atomic_counter;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void op_empty(long n)
{
    for (long i = 0; i < n; i++)
        __asm__ volatile("" ::: "memory");
}
static void op_counter(long n)
{
    for (long i = 0; i < n; i++)
        plain_counter++;
}
static void op_atomic(long n)
{
    for (long i = 0; i < n; i++)
        atomic_fetch_add_explicit(&atomic_counter, 1, memory_order_relaxed);
}
static void op_clock(long n)
{
    for (long i = 0; i < n; i++)
        plain_counter += (uint64_t)clock_mono();
}
static void op_histogram(long n)
{
    for (long i = 0; i < n; i++)
        histogram_record(hist, samples[i & 4095]);
}
static void op_breaker_measured(long n)
{
    for (long i = 0; i < n; i++) {
        struct breaker_permit p;
        if (breaker_acquire(brk, &p) == 0)
            breaker_success(&p);
    }
}
/* As the worker calls it: it reads the clock at task start anyway (for its
 * latency histograms) and hands the time and the measured run time over. */
static double task_start;
static void op_breaker_given(long n)
{
    for (long i = 0; i < n; i++) {
        struct breaker_permit p;
        if (breaker_acquire_at(brk, &p, task_start) == 0)
            breaker_end(&p, (i & 7) ? BREAKER_SUCCESS : BREAKER_ERROR, 0.001);
    }
}
static void op_ratelimit(long n)
{
    for (long i = 0; i < n; i++)
        ratelimit_try(&rl, NULL);
}
static void op_bulkhead(long n)
{
    for (long i = 0; i < n; i++)
        if (bulkhead_try_acquire(&bh) == 0)
            bulkhead_release(&bh);
}

static void *thread_breaker(void *arg)
{
    op_breaker_given(*(long *)arg);
    return NULL;
}
/* Two threads on one breaker: ns per operation per thread (contention). */
static void op_breaker_two_threads(long n)
{
    pthread_t t;
    long half = n;
    pthread_create(&t, NULL, thread_breaker, &half);
    op_breaker_given(n);
    pthread_join(t, NULL);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

struct figure {
    const char *name;
    void (*op)(long);
    double median, min, max;
};

static void measure(struct figure *f)
{
    double *ns = calloc((size_t)runs, sizeof *ns);
    f->op(n_ops / 10);   /* warm up */
    for (long r = 0; r < runs; r++) {
        double t0 = now_ns();
        f->op(n_ops);
        ns[r] = (now_ns() - t0) / (double)n_ops;
    }
    qsort(ns, (size_t)runs, sizeof *ns, compare_double);
    f->median = ns[runs / 2];
    f->min = ns[0];
    f->max = ns[runs - 1];
    free(ns);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        runs = atol(argv[1]);
    if (argc > 2)
        n_ops = atol(argv[2]);
    if (runs < 1 || n_ops < 1000) {
        fprintf(stderr, "usage: bench-resilience [RUNS [N>=1000]]\n");
        return 2;
    }
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < 4096; i++) {   /* latencies from 1 us to ~17 s */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        samples[i] = 1 + (x % 1000) * (1ULL << (x >> 60));
    }
    hist = histogram_new();
    task_start = clock_mono();
    struct dependency_config d;
    config_dependency_init(&d, "bench");
    d.failure_rate = 100;   /* 1 in 8 errors never trips it: every call is a full acquire+record */
    char err[256];
    brk = breaker_new(&d, NULL, err, sizeof err);
    d.rate = 1e9;
    ratelimit_init(&rl, &d, NULL);
    config_dependency_free(&d);
    bulkhead_init(&bh, 64);

    struct figure figs[] = {
        {"baseline: empty loop", op_empty, 0, 0, 0},
        {"baseline: counter increment", op_counter, 0, 0, 0},
        {"reference: atomic increment", op_atomic, 0, 0, 0},
        {"reference: clock_mono()", op_clock, 0, 0, 0},
        {"histogram record", op_histogram, 0, 0, 0},
        {"breaker acquire_at+end (caller times it)", op_breaker_given, 0, 0, 0},
        {"breaker acquire+success (clock measures)", op_breaker_measured, 0, 0, 0},
        {"breaker acquire+record, 2 threads, per op", op_breaker_two_threads, 0, 0, 0},
        {"rate limiter try (local bucket)", op_ratelimit, 0, 0, 0},
        {"bulkhead acquire+release", op_bulkhead, 0, 0, 0},
    };
    size_t nf = sizeof figs / sizeof figs[0];
    printf("%ld runs of %ld operations, median ns per operation\n", runs, n_ops);
    printf("%-44s %9s %9s %9s %12s\n", "operation", "median", "min", "max", "x counter");
    for (size_t i = 0; i < nf; i++) {
        measure(&figs[i]);
        printf("%-44s %9.1f %9.1f %9.1f %12.1f\n", figs[i].name, figs[i].median, figs[i].min, figs[i].max,
               figs[1].median > 0 ? figs[i].median / figs[1].median : 0);
        fflush(stdout);
    }
    struct breaker_stats s;
    breaker_stats(brk, &s);
    int missed = 0;
    /* the convenience path (figs[6]) adds two clock reads the worker already
     * makes for its histograms: shown, not a target */
    const struct figure *targets[] = {&figs[4], &figs[5]};
    for (size_t i = 0; i < 2; i++) {
        bool ok = targets[i]->median <= 100;
        missed += !ok;
        printf("target %-44s <= 100 ns: %s (%.1f ns)\n", targets[i]->name, ok ? "met" : "MISSED", targets[i]->median);
    }
    double per_task = figs[4].median * 3 + figs[5].median;   /* 3 histograms + 1 breaker per task */
    printf("per task (3 histogram records + 1 breaker call): %.0f ns = %.2f %% of a 50 us task "
           "(20,000 tasks/s, about what one worker takes from RabbitMQ here)\n", per_task, per_task / 50000 * 100);
    if (s.in_flight != 0 || s.double_ends != 0) {
        printf("breaker bookkeeping broken: in_flight %d, double_ends %llu\n", s.in_flight,
               (unsigned long long)s.double_ends);
        missed++;
    }
    breaker_free(brk);
    ratelimit_fini(&rl);
    histogram_free(hist);
    return missed ? 1 : 0;
}
