/* The heartbeat thread (see the header). One loop: connect when due (with
 * backoff), beat, sleep on a condition variable until the next beat or
 * until heartbeat_stop wakes it. A failed write drops the connection and
 * schedules a reconnect; nothing here ever blocks the worker's threads,
 * which only call the report callback's data through their own locks. */
#include "control/heartbeat.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/events.h"
#include "control/keys.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "net/redis-open.h"

struct heartbeat {
    char *url;
    char *id;
    char *version;
    char host[256];
    double interval, timeout, started_at;
    cJSON *(*report)(void *ctx);
    void *ctx;

    pthread_t thread;
    pthread_mutex_t lock;          /* guards the fields below */
    pthread_cond_t wake;
    bool stopping;
    bool ok;
    char reason[256];
    unsigned long beats;

    redisContext *redis;           /* heartbeat thread only */
    bool joined;                   /* "worker.joined" appended */
};

void heartbeat_make_id(char *buf, size_t len)
{
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    host[strcspn(host, ".")] = '\0';   /* the short name: ids stay readable */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    unsigned seed = (unsigned)ts.tv_nsec ^ (unsigned)getpid() << 16 ^ (unsigned)ts.tv_sec;
    unsigned r = (unsigned)rand_r(&seed) & 0xffffff;
    snprintf(buf, len, "%s-%ld-%06x", host, (long)getpid(), r);
}

const char *heartbeat_id(const struct heartbeat *hb) { return hb->id; }

bool heartbeat_ok(struct heartbeat *hb, char *reason, size_t len)
{
    pthread_mutex_lock(&hb->lock);
    bool ok = hb->ok;
    if (!ok && reason)
        snprintf(reason, len, "%s", hb->reason[0] ? hb->reason : "no heartbeat written yet");
    pthread_mutex_unlock(&hb->lock);
    return ok;
}

unsigned long heartbeat_beats(struct heartbeat *hb)
{
    pthread_mutex_lock(&hb->lock);
    unsigned long n = hb->beats;
    pthread_mutex_unlock(&hb->lock);
    return n;
}

static void set_state(struct heartbeat *hb, bool ok, const char *reason)
{
    pthread_mutex_lock(&hb->lock);
    bool changed = hb->ok != ok || (!ok && strcmp(hb->reason, reason ? reason : "") != 0);
    hb->ok = ok;
    if (ok)
        hb->beats++;
    snprintf(hb->reason, sizeof hb->reason, "%s", reason ? reason : "");
    pthread_mutex_unlock(&hb->lock);
    if (changed && ok)
        log_info("heartbeat %s: writing to Redis", hb->id);
    else if (changed)
        log_warn("heartbeat %s: %s", hb->id, reason);
}

static char *build_report(struct heartbeat *hb, const char *state)
{
    cJSON *o = hb->report ? hb->report(hb->ctx) : NULL;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    static const char *const owned[] = {"id", "host", "pid", "version", "started_at", "at", "interval", "state"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(o, owned[i]);
    cJSON_AddStringToObject(o, "id", hb->id);
    cJSON_AddStringToObject(o, "host", hb->host);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddStringToObject(o, "version", hb->version);
    cJSON_AddNumberToObject(o, "started_at", hb->started_at);
    cJSON_AddNumberToObject(o, "at", round(clock_wall() * 1000) / 1000);
    cJSON_AddNumberToObject(o, "interval", hb->interval);
    cJSON_AddStringToObject(o, "state", state);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

static void drop_connection(struct heartbeat *hb)
{
    if (hb->redis)
        redisFree(hb->redis);
    hb->redis = NULL;
}

/* SET + registry + PUBLISH, pipelined. The registry entry is scored with
 * this beat's time; the last beat ("stopped") takes it out, so what stays
 * in the registry without a key is a worker that died. 0, or -1 with the
 * connection dropped. */
static int beat(struct heartbeat *hb, const char *state)
{
    char err[256];
    char *json = build_report(hb, state);
    long long ttl_ms = (long long)(hb->interval * 3000);
    char key[512];
    snprintf(key, sizeof key, KEY_WORKER_PREFIX "%s", hb->id);
    redisAppendCommand(hb->redis, "SET %s %s PX %lld", key, json, ttl_ms);
    if (strcmp(state, "stopped") == 0)
        redisAppendCommand(hb->redis, "ZREM %s %s", KEY_WORKER_REGISTRY, hb->id);
    else
        redisAppendCommand(hb->redis, "ZADD %s %.3f %s", KEY_WORKER_REGISTRY, clock_wall(), hb->id);
    redisAppendCommand(hb->redis, "PUBLISH %s %s", CHANNEL_WORKERS, hb->id);
    free(json);
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        redisReply *r = NULL;
        if (redisGetReply(hb->redis, (void **)&r) != REDIS_OK) {
            snprintf(err, sizeof err, "Redis: %s", hb->redis->errstr[0] ? hb->redis->errstr : "connection lost");
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(err, sizeof err, "Redis refused the heartbeat: %s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    if (rc < 0) {
        set_state(hb, false, err);
        drop_connection(hb);
        return -1;
    }
    set_state(hb, true, NULL);
    return 0;
}

static bool connect_redis(struct heartbeat *hb)
{
    char err[256];
    hb->redis = redis_open(hb->url, hb->timeout, 0, err, sizeof err);
    if (!hb->redis) {
        set_state(hb, false, err);
        return false;
    }
    return true;
}

static void append_event(struct heartbeat *hb, const char *type, const char *text)
{
    char err[256];
    if (events_append(hb->redis, type, hb->id, text, err, sizeof err) < 0) {
        log_warn("heartbeat %s: %s", hb->id, err);
        if (hb->redis->err)
            drop_connection(hb);
    }
}

/* Sleeps until the monotonic deadline or heartbeat_stop; true when stopping. */
static bool sleep_until(struct heartbeat *hb, double deadline)
{
    pthread_mutex_lock(&hb->lock);
    while (!hb->stopping) {
        double left = deadline - clock_mono();
        if (left <= 0)
            break;
        struct timespec ts = clock_realtime_after(left);
        pthread_cond_timedwait(&hb->wake, &hb->lock, &ts);
    }
    bool stopping = hb->stopping;
    pthread_mutex_unlock(&hb->lock);
    return stopping;
}

static void *heartbeat_main(void *arg)
{
    struct heartbeat *hb = arg;
    struct backoff bo;
    backoff_init(&bo, 0.5, 10, (unsigned)getpid() ^ (unsigned)(uintptr_t)hb);
    double next_connect = 0;
    for (;;) {
        double started = clock_mono();
        if (!hb->redis && started >= next_connect) {
            if (connect_redis(hb)) {
                backoff_reset(&bo);
            } else {
                double d = backoff_next(&bo);
                next_connect = started + (d < hb->interval ? hb->interval : d);
            }
        }
        if (hb->redis) {
            if (beat(hb, "running") == 0 && !hb->joined) {
                char text[320];
                snprintf(text, sizeof text, "worker %s joined (pid %ld on %s)", hb->id, (long)getpid(), hb->host);
                append_event(hb, "worker.joined", text);
                hb->joined = hb->redis != NULL;
            }
            if (!hb->redis)
                next_connect = clock_mono() + backoff_next(&bo);
        }
        if (sleep_until(hb, started + hb->interval))
            break;
    }
    /* the last word: "stopped", so consoles do not call a clean exit lost */
    if (hb->redis || connect_redis(hb)) {
        if (beat(hb, "stopped") == 0) {
            char text[320];
            snprintf(text, sizeof text, "worker %s stopped", hb->id);
            append_event(hb, "worker.stopped", text);
        }
    }
    drop_connection(hb);
    return NULL;
}

struct heartbeat *heartbeat_start(const struct heartbeat_options *opt, char *err, size_t errlen)
{
    if (!opt->redis_url || !*opt->redis_url) {
        snprintf(err, errlen, "heartbeat needs a Redis URL (the control plane lives in Redis)");
        return NULL;
    }
    if (opt->interval < 0 || opt->interval > 3600) {
        snprintf(err, errlen, "heartbeat interval %g s is out of range", opt->interval);
        return NULL;
    }
    struct heartbeat *hb = xcalloc(1, sizeof *hb);
    hb->url = xstrdup(opt->redis_url);
    if (opt->id && *opt->id) {
        hb->id = xstrdup(opt->id);
    } else {
        char id[320];
        heartbeat_make_id(id, sizeof id);
        hb->id = xstrdup(id);
    }
    hb->version = xstrdup(opt->version ? opt->version : "?");
    gethostname(hb->host, sizeof hb->host - 1);
    hb->interval = opt->interval > 0 ? opt->interval : 1;
    hb->timeout = opt->timeout > 0 ? opt->timeout : (hb->interval > 0.5 ? hb->interval : 0.5);
    hb->started_at = round(clock_wall() * 1000) / 1000;
    hb->report = opt->report;
    hb->ctx = opt->ctx;
    snprintf(hb->reason, sizeof hb->reason, "connecting to Redis");
    pthread_mutex_init(&hb->lock, NULL);
    pthread_cond_init(&hb->wake, NULL);
    if (pthread_create(&hb->thread, NULL, heartbeat_main, hb) != 0) {
        snprintf(err, errlen, "cannot start the heartbeat thread");
        pthread_mutex_destroy(&hb->lock);
        pthread_cond_destroy(&hb->wake);
        free(hb->url);
        free(hb->id);
        free(hb->version);
        free(hb);
        return NULL;
    }
    return hb;
}

void heartbeat_stop(struct heartbeat *hb)
{
    if (!hb)
        return;
    pthread_mutex_lock(&hb->lock);
    hb->stopping = true;
    pthread_cond_broadcast(&hb->wake);
    pthread_mutex_unlock(&hb->lock);
    pthread_join(hb->thread, NULL);
    pthread_mutex_destroy(&hb->lock);
    pthread_cond_destroy(&hb->wake);
    free(hb->url);
    free(hb->id);
    free(hb->version);
    free(hb);
}
