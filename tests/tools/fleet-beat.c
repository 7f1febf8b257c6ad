/* fleet-beat: a synthetic fleet of qdeck workers for the console benchmark
 * (tests/bench/bench_monitor.sh): N workers that beat every second into
 * Redis, each with moving counters, busy slots, two dependencies' breakers
 * and latency histograms for several task types, so the console's Workers,
 * Latency, Breakers and Overview views and its time series have data.
 *
 *   fleet-beat URL N [--types A,B,...] [--queues COUNT FORMAT]...
 *
 *   --types    task types each worker runs (default: four, from a 40 ms
 *              email to a 2 s LLM call)
 *   --queues   worker i consumes FORMAT % (i mod COUNT) and the queue half
 *              way round, e.g. --queues 500 'redis:bench:list:%04d'
 *
 * The beats are the real thing: the report is built by the worker's own
 * worker_report_from_stats and breaker_stats_json, and written by
 * heartbeat_encode and heartbeat_write (SET with a TTL of 3 intervals, the
 * registry's ZADD, the PUBLISH), so a console cannot tell these workers
 * from real ones. Beats are spread over the second (worker i beats at i/N
 * of it), as independent workers' would be. The llm-api breaker of every
 * worker is OPEN for 20 s of each minute.
 *
 * Prints "beating N workers" once the first round is written; runs until
 * SIGTERM or SIGINT, then writes each worker's last ("stopped") beat. A
 * lost connection (Redis stopped) is retried at the next beat. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/heartbeat.h"
#include "core/clock.h"
#include "core/histogram.h"
#include "core/xalloc.h"
#include "net/redis-open.h"
#include "resilience/breaker.h"
#include "worker/worker-report.h"

#define MAX_TYPES 8
#define MAX_QUEUE_SETS 8

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

struct type_model {
    const char *name;
    double run_median, wait_median;   /* seconds, log-normal around them */
    double fail_rate;
};

static const struct type_model default_types[] = {
    {"email.send", 0.040, 0.020, 0.01},
    {"image.resize", 0.300, 0.150, 0.02},
    {"llm.summarize", 2.000, 0.800, 0.10},
    {"webhook.deliver", 0.080, 0.030, 0.05},
};

struct bench_worker {
    char id[64], host[32], queues[512];
    struct heartbeat_identity who;
    struct worker_stats stats;
    unsigned seed;
};

static double uniform(unsigned *seed) { return ((double)rand_r(seed) + 1) / ((double)RAND_MAX + 2); }

static double lognormal(unsigned *seed, double median, double sigma)
{
    double z = sqrt(-2 * log(uniform(seed))) * cos(2 * M_PI * uniform(seed));
    return median * exp(sigma * z);
}

/* One second of work: a few tasks of each type recorded, counters moved. */
static void advance(struct bench_worker *w, const struct type_model *models)
{
    struct worker_stats *s = &w->stats;
    for (size_t t = 0; t < s->ntypes; t++) {
        struct worker_type_stats *ts = &s->types[t];
        int tasks = 2 + rand_r(&w->seed) % 6;
        for (int k = 0; k < tasks; k++) {
            double wait = lognormal(&w->seed, models[t].wait_median, 0.8);
            double run = lognormal(&w->seed, models[t].run_median, 0.5);
            histogram_record_seconds(ts->queue_wait, wait);
            histogram_record_seconds(ts->run_time, run);
            histogram_record_seconds(ts->end_to_end, wait + run);
            bool failed = uniform(&w->seed) < models[t].fail_rate;
            ts->processed += !failed;
            ts->failed += failed;
            s->processed += !failed;
            s->failed += failed;
            s->retried += failed;
            s->dead_lettered += failed && rand_r(&w->seed) % 5 == 0;
        }
    }
    s->busy = rand_r(&w->seed) % (s->slots + 1);
    s->in_flight = s->busy + rand_r(&w->seed) % 3;
}

static cJSON *breakers_json(unsigned *seed, double now)
{
    cJSON *all = cJSON_CreateObject();
    static const char *const deps[] = {"llm-api", "transcoder"};
    for (int d = 0; d < 2; d++) {
        double minute = fmod(now, 60);
        bool open = d == 0 && minute >= 5 && minute < 25;
        struct breaker_stats bs = {
            .state = open ? BREAKER_OPEN : BREAKER_CLOSED,
            .window_calls = 100,
            .window_failures = open ? 60 : (int)(rand_r(seed) % 10),
            .open_remaining = open ? 25 - minute : 0,
            .calls_refused = open ? (uint64_t)(minute * 7) : 0,
            .in_flight = rand_r(seed) % 4,
        };
        bs.failure_rate = bs.window_failures;
        cJSON_AddItemToObject(all, deps[d], breaker_stats_json(&bs));
    }
    return all;
}

/* The beat of one worker; on a Redis error the connection is dropped and
 * reopened at the next beat. */
static void beat(redisContext **c, const char *url, struct bench_worker *w, bool last)
{
    char err[512];
    if (!*c && !(*c = redis_open(url, 2, 5, err, sizeof err)))
        return;
    cJSON *report = worker_report_from_stats(&w->stats, w->queues);
    cJSON_AddStringToObject(report, "health", "ok");
    cJSON_AddItemToObject(report, "breakers", breakers_json(&w->seed, clock_wall()));
    char *json = heartbeat_encode(report, &w->who, last ? "stopped" : "running");
    if (heartbeat_write(*c, &w->who, json, last, err, sizeof err) < 0) {
        fprintf(stderr, "fleet-beat: %s\n", err);
        redisFree(*c);
        *c = NULL;
    }
    free(json);
}

static void sleep_until(double mono)
{
    double d = mono - clock_mono();
    if (d <= 0)
        return;
    struct timespec ts = {(time_t)d, (long)((d - floor(d)) * 1e9)};
    nanosleep(&ts, NULL);
}

static void usage(void)
{
    fprintf(stderr, "usage: fleet-beat URL N [--types A,B,...] [--queues COUNT FORMAT]...\n");
    exit(2);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);   /* a broker that goes away is an error to report, as in qdeck */
    if (argc < 3)
        usage();
    const char *url = argv[1];
    char *end;
    long n = strtol(argv[2], &end, 10);
    if (*end || n < 1 || n > 10000) {
        fprintf(stderr, "fleet-beat: N '%s' is not a number from 1 to 10000\n", argv[2]);
        return 2;
    }
    struct type_model models[MAX_TYPES];
    size_t ntypes = sizeof default_types / sizeof default_types[0];
    memcpy(models, default_types, sizeof default_types);
    const char *qfmt[MAX_QUEUE_SETS];
    long qcount[MAX_QUEUE_SETS];
    size_t nsets = 0;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--types") == 0 && i + 1 < argc) {
            char *list = argv[++i], *save = NULL;
            ntypes = 0;
            for (char *t = strtok_r(list, ",", &save); t && ntypes < MAX_TYPES; t = strtok_r(NULL, ",", &save))
                models[ntypes] = (struct type_model){t, 0.02 * (double)(1 << (2 * ntypes)), 0.05, 0.03}, ntypes++;
        } else if (strcmp(argv[i], "--queues") == 0 && i + 2 < argc && nsets < MAX_QUEUE_SETS) {
            qcount[nsets] = strtol(argv[i + 1], &end, 10);
            if (*end || qcount[nsets] < 1)
                usage();
            qfmt[nsets++] = argv[i + 2];
            i += 2;
        } else {
            usage();
        }
    }

    struct bench_worker *fleet = xcalloc((size_t)n, sizeof *fleet);
    double started = clock_wall();
    for (long i = 0; i < n; i++) {
        struct bench_worker *w = &fleet[i];
        snprintf(w->id, sizeof w->id, "bench-%04ld", i);
        snprintf(w->host, sizeof w->host, "benchhost%02ld", i % 25);
        size_t len = 0;
        for (size_t s = 0; s < nsets; s++) {
            long picks[2] = {i % qcount[s], (i + qcount[s] / 2) % qcount[s]};
            for (int k = 0; k < (qcount[s] > 1 ? 2 : 1); k++) {
                char q[200];
                snprintf(q, sizeof q, qfmt[s], picks[k]);
                len += (size_t)snprintf(w->queues + len, sizeof w->queues - len, "%s%s", len ? "," : "", q);
                if (len >= sizeof w->queues)
                    len = sizeof w->queues - 1;
            }
        }
        w->who = (struct heartbeat_identity){w->id, w->host, "bench", started, 1.0};
        w->seed = (unsigned)i * 2654435761u + 1;
        w->stats.slots = 8;
        w->stats.ntypes = ntypes;
        for (size_t t = 0; t < ntypes; t++) {
            struct worker_type_stats *ts = &w->stats.types[t];
            snprintf(ts->type, sizeof ts->type, "%s", models[t].name);
            ts->queue_wait = histogram_new();
            ts->run_time = histogram_new();
            ts->end_to_end = histogram_new();
        }
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    redisContext *c = NULL;
    double round_start = clock_mono();
    for (unsigned long round = 0; !stopping; round++) {
        for (long i = 0; i < n && !stopping; i++) {
            sleep_until(round_start + (double)i / (double)n);
            advance(&fleet[i], models);
            beat(&c, url, &fleet[i], false);
        }
        if (round == 0) {
            printf("beating %ld workers\n", n);
            fflush(stdout);
        }
        round_start += 1.0;
        if (round_start < clock_mono() - 1)
            round_start = clock_mono();   /* after a stall (Redis stopped): no burst to catch up */
    }
    for (long i = 0; i < n; i++) {
        beat(&c, url, &fleet[i], true);
        for (size_t t = 0; t < fleet[i].stats.ntypes; t++) {
            histogram_free(fleet[i].stats.types[t].queue_wait);
            histogram_free(fleet[i].stats.types[t].run_time);
            histogram_free(fleet[i].stats.types[t].end_to_end);
        }
    }
    free(fleet);
    if (c)
        redisFree(c);
    return 0;
}
