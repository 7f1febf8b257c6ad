/* Token bucket and fleet GCRA (see ratelimit.h). The GCRA script is loaded
 * once (SCRIPT LOAD) and run with EVALSHA; a server that lost it (restart,
 * SCRIPT FLUSH) answers NOSCRIPT and gets it again. */
#include "resilience/ratelimit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/keys.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"

static double rl_now(const struct ratelimit *rl) { return rl->clock.now ? rl->clock.now(rl->clock.ctx) : clock_mono(); }

static double bucket_size(double rate, int configured)
{
    if (configured > 0)
        return configured;
    return rate > 1 ? rate : 1;
}

void ratelimit_init(struct ratelimit *rl, const struct dependency_config *cfg, const struct ratelimit_clock *clock)
{
    memset(rl, 0, sizeof *rl);
    pthread_mutex_init(&rl->lock, NULL);
    rl->name = xstrdup(cfg->name ? cfg->name : "?");
    if (clock)
        rl->clock = *clock;
    rl->rate = cfg->rate > 0 ? cfg->rate : 0;
    rl->configured_burst = cfg->burst;
    rl->burst = bucket_size(rl->rate, cfg->burst);
    rl->fleet = cfg->fleet_rate;
    rl->tokens = rl->burst;
    rl->last = rl_now(rl);
}

void ratelimit_fini(struct ratelimit *rl)
{
    pthread_mutex_destroy(&rl->lock);
    free(rl->name);
    rl->name = NULL;
}

static void refill(struct ratelimit *rl, double now)
{
    if (now > rl->last) {
        rl->tokens += (now - rl->last) * rl->rate;
        if (rl->tokens > rl->burst)
            rl->tokens = rl->burst;
    }
    rl->last = now;
}

void ratelimit_set_rate(struct ratelimit *rl, double rate)
{
    double now = rl_now(rl);
    pthread_mutex_lock(&rl->lock);
    refill(rl, now);
    bool was_unlimited = rl->rate <= 0;
    rl->rate = rate > 0 ? rate : 0;
    rl->burst = bucket_size(rl->rate, rl->configured_burst);
    if (was_unlimited || rl->tokens > rl->burst)
        rl->tokens = rl->burst;
    pthread_mutex_unlock(&rl->lock);
}

int ratelimit_try(struct ratelimit *rl, double *retry_after)
{
    double now = rl_now(rl);
    int rc = 0;
    pthread_mutex_lock(&rl->lock);
    if (rl->rate <= 0) {
        rl->allowed++;
    } else {
        refill(rl, now);
        if (rl->tokens >= 1 - 1e-9) {   /* sums of float intervals fall a hair short */
            rl->tokens = rl->tokens > 1 ? rl->tokens - 1 : 0;
            rl->allowed++;
        } else {
            rl->throttled++;
            if (retry_after)
                *retry_after = (1 - rl->tokens) / rl->rate;
            rc = -1;
        }
    }
    pthread_mutex_unlock(&rl->lock);
    if (rc == 0 && retry_after)
        *retry_after = 0;
    return rc;
}

void ratelimit_stats(struct ratelimit *rl, struct ratelimit_stats *out)
{
    double now = rl_now(rl);
    pthread_mutex_lock(&rl->lock);
    if (rl->rate > 0)
        refill(rl, now);
    *out = (struct ratelimit_stats){.rate = rl->rate, .burst = rl->burst, .tokens = rl->rate > 0 ? rl->tokens : rl->burst,
                                    .fleet = rl->fleet, .allowed = rl->allowed, .throttled = rl->throttled,
                                    .fleet_errors = rl->fleet_errors};
    pthread_mutex_unlock(&rl->lock);
}

/* ------------------------------------------------------------ fleet GCRA */

/* KEYS[1] the TAT key; ARGV[1] interval µs; ARGV[2] tolerance µs.
 * Returns {allowed 0|1, wait µs, server now µs}. */
static const char gcra_script[] =
    "local interval = tonumber(ARGV[1])\n"
    "local tolerance = tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]))\n"
    "if not tat or tat < now then tat = now end\n"
    "local allow_at = tat - tolerance\n"
    "if now < allow_at then return {0, allow_at - now, now} end\n"
    "local new_tat = tat + interval\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)\n"
    "return {1, 0, now}\n";

static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;
static char gcra_sha[41];

static int load_script(redisContext *redis, char *sha, char *err, size_t errlen)
{
    redisReply *r = redisCommand(redis, "SCRIPT LOAD %s", gcra_script);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        snprintf(err, errlen, "SCRIPT LOAD: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : redis->errstr);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    memcpy(sha, r->str, 41);
    freeReplyObject(r);
    pthread_mutex_lock(&sha_lock);
    memcpy(gcra_sha, sha, 41);
    pthread_mutex_unlock(&sha_lock);
    return 0;
}

int ratelimit_gcra(redisContext *redis, const char *dep, double rate, int burst, bool *allowed,
                   double *retry_after, int64_t *server_us, char *err, size_t errlen)
{
    if (!(rate > 0)) {
        *allowed = true;
        *retry_after = 0;
        if (server_us)
            *server_us = 0;
        return 0;
    }
    char sha[41], key[512], interval[32], tolerance[32];
    pthread_mutex_lock(&sha_lock);
    memcpy(sha, gcra_sha, 41);
    pthread_mutex_unlock(&sha_lock);
    if (!sha[0] && load_script(redis, sha, err, errlen) < 0)
        return -1;
    double t = 1e6 / rate;
    snprintf(key, sizeof key, "%s%s", KEY_RATE_PREFIX, dep);
    snprintf(interval, sizeof interval, "%.3f", t);
    snprintf(tolerance, sizeof tolerance, "%.3f", t * (burst > 1 ? burst - 1 : 0));
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        r = redisCommand(redis, "EVALSHA %s 1 %s %s %s", sha, key, interval, tolerance);
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && attempt == 0) {
            freeReplyObject(r);
            r = NULL;
            if (load_script(redis, sha, err, errlen) < 0)
                return -1;
            continue;
        }
        break;
    }
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER || r->element[2]->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errlen, "rate limit script for %s: %s", dep,
                 !r ? (redis->errstr[0] ? redis->errstr : "no reply")
                    : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        if (r)
            freeReplyObject(r);
        return -1;
    }
    *allowed = r->element[0]->integer == 1;
    *retry_after = (double)r->element[1]->integer / 1e6;
    if (server_us)
        *server_us = r->element[2]->integer;
    freeReplyObject(r);
    return 0;
}

int ratelimit_acquire(struct ratelimit *rl, redisContext *redis, double *retry_after)
{
    if (!rl->fleet || !redis)
        return ratelimit_try(rl, retry_after);
    pthread_mutex_lock(&rl->lock);
    double rate = rl->rate;
    int burst = (int)rl->burst;
    pthread_mutex_unlock(&rl->lock);
    bool allowed;
    double wait;
    char err[256];
    if (ratelimit_gcra(redis, rl->name, rate, burst, &allowed, &wait, NULL, err, sizeof err) < 0) {
        pthread_mutex_lock(&rl->lock);
        rl->fleet_errors++;
        pthread_mutex_unlock(&rl->lock);
        log_warn("rate limit %s: %s; using the local bucket", rl->name, err);
        return ratelimit_try(rl, retry_after);
    }
    pthread_mutex_lock(&rl->lock);
    if (allowed)
        rl->allowed++;
    else
        rl->throttled++;
    pthread_mutex_unlock(&rl->lock);
    if (retry_after)
        *retry_after = allowed ? 0 : wait;
    return allowed ? 0 : -1;
}
