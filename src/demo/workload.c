/* The demo's producers (see workload.h).
 *
 * Every 100 ms tick, one pipelined round trip LPUSHes new qdeck envelopes
 * onto three lists and XADDs events onto a stream, at rates that follow a
 * slow sine wave, with a burst of summaries every 40 s. The embedded
 * worker pool consumes them for real: the "llm" calls go to the demo's
 * flaky upstream, so its failure waves turn into retries, an opening
 * breaker and dead letters. */
#include "demo/workload.h"

#include <hiredis.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/clock.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

#define TICK_SECONDS 0.1

struct workload {
    pthread_t thread;
    redisContext *redis;
    atomic_int stopping;       /* set by workload_stop, read by the thread */
    unsigned seed;
    unsigned long next_id;
    double started;
};

struct demo_queue {
    const char *key;
    const char *type;
    double per_s;             /* mean arrivals per second */
    int burst;                /* extra arrivals every BURST_PERIOD */
};

#define BURST_PERIOD 40.0

static const struct demo_queue demo_queues[] = {
    {"llm.summarize", "llm.summarize", 9, 150},
    {"media.transcode", "media.transcode", 3, 0},
    {"email.send", "email.send", 8, 40},
};
#define EVENTS_PER_S 6

static void format_now_iso(char *buf, size_t len)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

static char *make_envelope(struct workload *w, const char *type)
{
    char now[40];
    format_now_iso(now, sizeof now);
    int priority = (int)(rand_r(&w->seed) % 10);
    return xasprintf("{\"id\":\"demo-%06lu\",\"type\":\"%s\",\"payload\":{\"n\":%lu},\"attempt\":0,"
                     "\"max_attempts\":3,\"priority\":%d,\"created_at\":\"%s\","
                     "\"idempotency_key\":\"demo-%06lu\",\"deadline\":null}",
                     w->next_id, type, w->next_id, priority, now, w->next_id);
}

/* How many events to make this tick for a mean rate: the integer part plus
 * a Bernoulli draw for the fraction, so low rates still produce. */
static int draw_count(struct workload *w, double per_tick)
{
    if (per_tick <= 0)
        return 0;
    int n = (int)per_tick;
    double frac = per_tick - n;
    if ((double)rand_r(&w->seed) / RAND_MAX < frac)
        n++;
    return n;
}

static void tick(struct workload *w)
{
    double t = clock_mono() - w->started;
    double wave = 1 + 0.6 * sin(t / 9.0);
    bool burst = fmod(t, BURST_PERIOD) < TICK_SECONDS;
    int pending = 0;

    for (size_t i = 0; i < sizeof demo_queues / sizeof demo_queues[0]; i++) {
        const struct demo_queue *q = &demo_queues[i];
        int produce = draw_count(w, q->per_s * wave * TICK_SECONDS) + (burst ? q->burst : 0);
        for (int k = 0; k < produce; k++, w->next_id++, pending++) {
            char *env = make_envelope(w, q->type);
            redisAppendCommand(w->redis, "LPUSH %s %s", q->key, env);
            free(env);
        }
    }
    int events = draw_count(w, EVENTS_PER_S * wave * TICK_SECONDS);
    for (int k = 0; k < events; k++, w->next_id++, pending++) {
        char *env = make_envelope(w, "index.doc");
        redisAppendCommand(w->redis, "XADD events MAXLEN ~ 20000 * body %s", env);
        free(env);
    }
    for (int k = 0; k < pending; k++) {
        void *reply = NULL;
        if (redisGetReply(w->redis, &reply) != REDIS_OK)
            return;
        freeReplyObject(reply);
    }
}

static void *workload_main(void *arg)
{
    struct workload *w = arg;
    while (!atomic_load(&w->stopping)) {
        double next = clock_mono() + TICK_SECONDS;
        tick(w);
        double left = next - clock_mono();
        if (left > 0) {
            struct timespec ts = {0, (long)(left * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

struct workload *workload_start(const char *redis_url, char *err, unsigned errlen)
{
    char why[256];
    redisContext *c = redis_open(redis_url, 2, 0, why, sizeof why);
    if (!c) {
        snprintf(err, errlen, "demo workload: %s", why);
        return NULL;
    }
    freeReplyObject(redisCommand(c, "XGROUP CREATE events indexers 0 MKSTREAM"));
    struct workload *w = xcalloc(1, sizeof *w);
    w->redis = c;
    w->seed = (unsigned)time(NULL);
    w->started = clock_mono();
    if (pthread_create(&w->thread, NULL, workload_main, w) != 0) {
        snprintf(err, errlen, "cannot start the demo workload thread");
        redisFree(c);
        free(w);
        return NULL;
    }
    return w;
}

void workload_stop(struct workload *w)
{
    if (!w)
        return;
    atomic_store(&w->stopping, 1);
    pthread_join(w->thread, NULL);
    redisFree(w->redis);
    free(w);
}
