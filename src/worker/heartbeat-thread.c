/* The heartbeat thread (see the header). One core/loop.h loop: connect when
 * due (with backoff), beat, sleep until the next beat or until
 * heartbeat_stop wakes it. A failed write drops the connection and
 * schedules a reconnect; nothing here ever blocks the worker's threads,
 * which only call the report callback's data through their own locks. */
#include "worker/heartbeat-thread.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/events.h"
#include "control/redis-connect.h"
#include "net/redis-open.h"
#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"

struct heartbeat {
    char *url;
    char *id;
    char *version;
    char host[256];
    double interval, timeout, started_at;
    cJSON *(*report)(void *ctx);
    void *ctx;

    struct loop loop;              /* the thread: beat, sleep an interval, until stopped */
    pthread_mutex_t lock;          /* guards the fields below */
    bool ok;
    char reason[256];
    unsigned long beats;

    redisContext *redis;           /* heartbeat thread only */
    bool joined;                   /* "worker.joined" appended */
};

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

static void drop_connection(struct heartbeat *hb)
{
    if (hb->redis)
        redisFree(hb->redis);
    hb->redis = NULL;
}

/* One beat in control/heartbeat.h's encoding. 0, or -1 with the connection
 * dropped. */
static int beat(struct heartbeat *hb, const char *state)
{
    char err[256];
    struct heartbeat_identity who = {.id = hb->id, .host = hb->host, .version = hb->version,
                                     .started_at = hb->started_at, .interval = hb->interval};
    char *json = heartbeat_encode(hb->report ? hb->report(hb->ctx) : NULL, &who, state);
    int rc = heartbeat_write(hb->redis, &who, json, strcmp(state, "stopped") == 0, err, sizeof err);
    free(json);
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

static void heartbeat_main(struct loop *l, void *arg)
{
    struct heartbeat *hb = arg;
    struct retry_timer reconnect;
    retry_timer_init(&reconnect, 0.5, 10, (unsigned)getpid() ^ (unsigned)(uintptr_t)hb);
    for (;;) {
        double started = clock_mono();
        if (!hb->redis && retry_timer_due(&reconnect, started)) {
            if (connect_redis(hb))
                retry_timer_succeeded(&reconnect);
            else
                retry_timer_failed(&reconnect, started, hb->interval);
        }
        if (hb->redis) {
            if (beat(hb, "running") == 0 && !hb->joined) {
                char text[320];
                snprintf(text, sizeof text, "worker %s joined (pid %ld on %s)", hb->id, (long)getpid(), hb->host);
                append_event(hb, "worker.joined", text);
                hb->joined = hb->redis != NULL;
            }
            if (!hb->redis)
                retry_timer_failed(&reconnect, clock_mono(), 0);
        }
        if (loop_sleep_until(l, started + hb->interval))
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
}

/* What heartbeat_start made; the thread is stopped or was never started. */
static void heartbeat_free(struct heartbeat *hb)
{
    loop_destroy(&hb->loop);
    pthread_mutex_destroy(&hb->lock);
    free(hb->url);
    free(hb->id);
    free(hb->version);
    free(hb);
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
    loop_init(&hb->loop);
    if (loop_start(&hb->loop, heartbeat_main, hb) != 0) {
        snprintf(err, errlen, "cannot start the heartbeat thread");
        heartbeat_free(hb);
        return NULL;
    }
    return hb;
}

void heartbeat_stop(struct heartbeat *hb)
{
    if (!hb)
        return;
    loop_stop(&hb->loop);
    heartbeat_free(hb);
}
