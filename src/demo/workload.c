/* Synthetic producer/consumer traffic for the demo (see workload.h).
 *
 * Every 100 ms tick, one pipelined round trip: LPUSH new qdeck envelopes
 * (rate = a slow sine wave plus a burst every 40 s), RPOP what the simulated
 * consumers can take this tick, XADD/XREADGROUP/XACK on a stream with a
 * consumer group that leaves some entries pending. The "llm" dependency
 * fails in waves: while it fails, its consumers slow down and what they
 * took is pushed to a dead-letter list. */
#include "demo/workload.h"

#include <hiredis.h>
#include <math.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "core/clock.h"
#include "core/url.h"
#include "core/xalloc.h"

#define TICK_SECONDS 0.1

struct workload {
    pthread_t thread;
    redisContext *redis;
    volatile int stopping;
    unsigned seed;
    unsigned long next_id;
    double started;
};

struct demo_queue {
    const char *key;
    const char *type;
    double produce_per_s;     /* mean */
    double consume_per_s;     /* capacity when healthy */
    bool flaky;               /* depends on the failing "llm" service */
};

static const struct demo_queue demo_queues[] = {
    {"llm.summarize", "llm.summarize", 40, 55, true},
    {"media.transcode", "media.transcode", 8, 11, false},
    {"email.send", "email.send", 25, 60, false},
};

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
                     "\"max_attempts\":5,\"priority\":%d,\"created_at\":\"%s\","
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

static bool llm_failing(double t)
{
    return fmod(t, 60.0) >= 35.0;    /* 25 s of every minute */
}

static void tick(struct workload *w)
{
    double t = clock_mono() - w->started;
    double wave = 1 + 0.6 * sin(t / 9.0);
    bool burst = fmod(t, 40.0) < TICK_SECONDS;
    int pending = 0;

    for (size_t i = 0; i < sizeof demo_queues / sizeof demo_queues[0]; i++) {
        const struct demo_queue *q = &demo_queues[i];
        int produce = draw_count(w, q->produce_per_s * wave * TICK_SECONDS) + (burst && q->flaky ? 400 : 0);
        for (int k = 0; k < produce; k++, w->next_id++) {
            char *env = make_envelope(w, q->type);
            redisAppendCommand(w->redis, "LPUSH %s %s", q->key, env);
            free(env);
            pending++;
        }
        double capacity = q->consume_per_s * (q->flaky && llm_failing(t) ? 0.3 : 1.0);
        int take = draw_count(w, capacity * TICK_SECONDS);
        if (take > 0) {
            if (q->flaky && llm_failing(t)) {
                /* a failed call: the task is dead-lettered */
                char *dlq = xasprintf("%s:dlq", q->key);
                for (int k = 0; k < take; k++, pending++)
                    redisAppendCommand(w->redis, "LMOVE %s %s RIGHT LEFT", q->key, dlq);
                free(dlq);
            } else {
                redisAppendCommand(w->redis, "RPOP %s %d", q->key, take);
                pending++;
            }
        }
    }

    int events = draw_count(w, 30 * wave * TICK_SECONDS);
    for (int k = 0; k < events; k++, pending++)
        redisAppendCommand(w->redis, "XADD events MAXLEN ~ 20000 * kind click n %d", k);
    redisAppendCommand(w->redis, "XREADGROUP GROUP indexers idx-1 COUNT %d STREAMS events >",
                       draw_count(w, 38 * TICK_SECONDS));
    pending++;

    redisReply *read = NULL;     /* the XREADGROUP reply, last in the pipeline */
    for (int k = 0; k < pending; k++) {
        void *reply = NULL;
        if (redisGetReply(w->redis, &reply) != REDIS_OK)
            return;
        if (k == pending - 1)
            read = reply;
        else
            freeReplyObject(reply);
    }
    /* ack nine in ten entries read; the rest stay pending, as with a
     * consumer that crashed mid-task */
    if (read && read->type == REDIS_REPLY_ARRAY && read->elements == 1 &&
        read->element[0]->elements == 2 && read->element[0]->element[1]->type == REDIS_REPLY_ARRAY) {
        const redisReply *entries = read->element[0]->element[1];
        const char **argv = xcalloc(entries->elements + 3, sizeof *argv);
        int argc = 0;
        argv[argc++] = "XACK";
        argv[argc++] = "events";
        argv[argc++] = "indexers";
        for (size_t e = 0; e < entries->elements; e++)
            if (rand_r(&w->seed) % 10 != 0)
                argv[argc++] = entries->element[e]->element[0]->str;
        if (argc > 3)
            freeReplyObject(redisCommandArgv(w->redis, argc, argv, NULL));
        free(argv);
    }
    freeReplyObject(read);
}

static void *workload_main(void *arg)
{
    struct workload *w = arg;
    while (!w->stopping) {
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
    struct broker_url u;
    if (broker_url_parse(redis_url, &u, err, errlen) < 0)
        return NULL;
    struct timeval tv = {2, 0};
    redisContext *c = strcmp(u.scheme, "unix") == 0 ? redisConnectUnixWithTimeout(u.path, tv)
                                                    : redisConnectWithTimeout(u.host, u.port, tv);
    broker_url_free(&u);
    if (!c || c->err) {
        snprintf(err, errlen, "demo workload cannot connect to Redis: %s", c ? c->errstr : "no memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    freeReplyObject(redisCommand(c, "XGROUP CREATE events indexers $ MKSTREAM"));
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
    w->stopping = 1;
    pthread_join(w->thread, NULL);
    redisFree(w->redis);
    free(w);
}
