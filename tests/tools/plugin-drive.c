/* plugin-drive: runs N tasks through one handler plugin with C of them in
 * flight, without any broker, and reports wall time, outcomes and peak RSS.
 * The worker benchmark uses it to show what a plugin costs on its own (the
 * ceiling for `qdeck worker` with that plugin), e.g. the http plugin with
 * 1,000 calls in flight against tests/tools/slow-upstream.
 *
 *   plugin-drive DIR NAME ARGS N C [PAYLOAD]
 *
 * An asynchronous plugin (submit) gets C submits at once and a new one as
 * each done() arrives; a blocking one (run) gets C threads. Prints
 *   plugin-drive: NAME N tasks, C in flight: S s wall, ok A, retry B, fail F, peak RSS M MB
 * Exit 0 when every task ended OK. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/plugin.h"

static struct plugin *plug;
static void *inst;
static const char *payload = "{}";
static long total, concurrency;
static atomic_long next_task, finished, outcomes[3];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_done = PTHREAD_COND_INITIALIZER;
static char last_error[256];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static void record(struct qdeck_result *res)
{
    atomic_fetch_add(&outcomes[res->outcome <= QDECK_FAIL ? res->outcome : QDECK_FAIL], 1);
    if (res->outcome != QDECK_OK) {
        pthread_mutex_lock(&lock);
        snprintf(last_error, sizeof last_error, "%s", res->error);
        pthread_mutex_unlock(&lock);
    }
    free(res->result);
    if (atomic_fetch_add(&finished, 1) + 1 == total) {
        pthread_mutex_lock(&lock);
        pthread_cond_broadcast(&all_done);
        pthread_mutex_unlock(&lock);
    }
}

static void submit_next(void);

static void on_done(void *cookie, struct qdeck_result *res)
{
    free(cookie);
    record(res);
    submit_next();
}

/* Starts the next task, if any is left. */
static void submit_next(void)
{
    long i = atomic_fetch_add(&next_task, 1);
    if (i >= total)
        return;
    char *id = malloc(32);
    snprintf(id, 32, "drive-%ld", i);
    struct qdeck_task t = {.id = id, .type = plug->name, .payload = payload, .payload_len = strlen(payload),
                           .attempt = 1, .max_attempts = 1, .max_response_tokens = -1};
    if (plug->api->submit(inst, &t, on_done, id) != 0) {
        free(id);
        struct qdeck_result res = {.outcome = QDECK_FAIL};
        snprintf(res.error, sizeof res.error, "submit refused");
        record(&res);
        submit_next();
    }
}

static void *run_loop(void *arg)
{
    (void)arg;
    static const atomic_int never = 0;
    for (long i; (i = atomic_fetch_add(&next_task, 1)) < total;) {
        char id[32];
        snprintf(id, sizeof id, "drive-%ld", i);
        struct qdeck_task t = {.id = id, .type = plug->name, .payload = payload, .payload_len = strlen(payload),
                               .attempt = 1, .max_attempts = 1, .max_response_tokens = -1, .cancelled = &never};
        struct qdeck_result res = {.outcome = QDECK_OK};
        plug->api->run(inst, &t, &res);
        record(&res);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: plugin-drive DIR NAME ARGS N C [PAYLOAD]\n");
        return 2;
    }
    total = atol(argv[4]);
    concurrency = atol(argv[5]);
    if (argc == 7)
        payload = argv[6];
    if (total < 1 || concurrency < 1) {
        fprintf(stderr, "plugin-drive: N and C must be at least 1\n");
        return 2;
    }
    char err[512];
    if (!(plug = plugin_load(argv[1], argv[2], err, sizeof err))) {
        fprintf(stderr, "plugin-drive: %s\n", err);
        return 1;
    }
    if (!(inst = plug->api->create(argv[3], err, sizeof err))) {
        fprintf(stderr, "plugin-drive: %s\n", err);
        return 1;
    }
    double t0 = now();
    if (plug->api->submit) {
        for (long i = 0; i < concurrency; i++)
            submit_next();
        pthread_mutex_lock(&lock);
        while (atomic_load(&finished) < total)
            pthread_cond_wait(&all_done, &lock);
        pthread_mutex_unlock(&lock);
    } else {
        pthread_t *th = calloc((size_t)concurrency, sizeof *th);
        for (long i = 0; i < concurrency; i++)
            pthread_create(&th[i], NULL, run_loop, NULL);
        for (long i = 0; i < concurrency; i++)
            pthread_join(th[i], NULL);
        free(th);
    }
    double wall = now() - t0;
    long rss = peak_rss_kb();
    plug->api->destroy(inst);
    plugin_unload(plug);
    printf("plugin-drive: %s %ld tasks, %ld in flight: %.3f s wall, ok %ld, retry %ld, fail %ld, peak RSS %.1f MB\n",
           argv[2], total, concurrency, wall, atomic_load(&outcomes[0]), atomic_load(&outcomes[1]),
           atomic_load(&outcomes[2]), (double)rss / 1024.0);
    if (last_error[0])
        printf("plugin-drive: last error: %s\n", last_error);
    return atomic_load(&outcomes[0]) == total ? 0 : 1;
}
