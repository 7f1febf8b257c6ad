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

/* KEYS[1] the TAT key; ARGV[1] interval µs; ARGV[2] tolerance µs;
 * ARGV[3] slots wanted, ARGV[4] horizon µs (0: a single acquisition now).
 * Slot i begins at max(now, TAT - tolerance + i * interval); slots up to
 * now + horizon are granted and TAT moves past them in the same step.
 * Returns {granted, first slot - now (µs, may be < 0), retry µs, now}. */
static const char reserve_script[] =
    "local interval = tonumber(ARGV[1])\n"
    "local tolerance = tonumber(ARGV[2])\n"
    "local wanted = tonumber(ARGV[3])\n"
    "local horizon = tonumber(ARGV[4])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local tat = tonumber(redis.call('GET', KEYS[1]))\n"
    "if not tat or tat < now then tat = now end\n"
    "local first = tat - tolerance\n"
    "local limit = now + horizon\n"
    "if first > limit then return {0, 0, first - limit, now} end\n"
    "local granted = math.floor((limit - first) / interval) + 1\n"
    "if granted > wanted then granted = wanted end\n"
    "local new_tat = tat + granted * interval\n"
    "redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1000)\n"
    "return {granted, first - now, 0, now}\n";

struct script {
    const char *source;
    char sha[41];   /* under sha_lock; "" until loaded */
};

static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;
static struct script reserve = {reserve_script, ""};

static int load_script(redisContext *redis, struct script *sc, char *sha, char *err, size_t errlen)
{
    redisReply *r = redisCommand(redis, "SCRIPT LOAD %s", sc->source);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
        snprintf(err, errlen, "SCRIPT LOAD: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : redis->errstr);
        if (r)
            freeReplyObject(r);
        return -1;
    }
    memcpy(sha, r->str, 41);
    freeReplyObject(r);
    pthread_mutex_lock(&sha_lock);
    memcpy(sc->sha, sha, 41);
    pthread_mutex_unlock(&sha_lock);
    return 0;
}

/* EVALSHA of sc on the dependency's TAT key with argv (all numbers as
 * text); a server that lost the script gets it again. The reply must be an
 * array of `want` integers, copied to out. */
static int run_script(redisContext *redis, struct script *sc, const char *dep, int argc, char argv[][32], int want,
                      long long *out, char *err, size_t errlen)
{
    char sha[41], key[512];
    pthread_mutex_lock(&sha_lock);
    memcpy(sha, sc->sha, 41);
    pthread_mutex_unlock(&sha_lock);
    if (!sha[0] && load_script(redis, sc, sha, err, errlen) < 0)
        return -1;
    snprintf(key, sizeof key, "%s%s", KEY_RATE_PREFIX, dep);
    const char *args[8] = {"EVALSHA", sha, "1", key};
    for (int i = 0; i < argc; i++)
        args[4 + i] = argv[i];
    redisReply *r = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        r = redisCommandArgv(redis, 4 + argc, args, NULL);
        if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0 && attempt == 0) {
            freeReplyObject(r);
            r = NULL;
            if (load_script(redis, sc, sha, err, errlen) < 0)
                return -1;
            continue;
        }
        break;
    }
    bool ok = r && r->type == REDIS_REPLY_ARRAY && r->elements == (size_t)want;
    for (int i = 0; ok && i < want; i++)
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            ok = false;
        else
            out[i] = r->element[i]->integer;
    if (!ok)
        snprintf(err, errlen, "rate limit script for %s: %s", dep,
                 !r ? (redis->errstr[0] ? redis->errstr : "no reply")
                    : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    if (r)
        freeReplyObject(r);
    return ok ? 0 : -1;
}

int ratelimit_gcra_reserve(redisContext *redis, const char *dep, double rate, int burst, int wanted, double horizon,
                           struct ratelimit_grant *g, char *err, size_t errlen)
{
    if (!(rate > 0)) {
        *g = (struct ratelimit_grant){.granted = wanted, .window = INFINITY};
        return 0;
    }
    double t = 1e6 / rate;
    char argv[4][32];
    long long rep[4];
    snprintf(argv[0], sizeof argv[0], "%.3f", t);
    snprintf(argv[1], sizeof argv[1], "%.3f", t * (burst > 1 ? burst - 1 : 0));
    snprintf(argv[2], sizeof argv[2], "%d", wanted > 0 ? wanted : 1);
    snprintf(argv[3], sizeof argv[3], "%.0f", horizon > 0 ? horizon * 1e6 : 0);
    if (run_script(redis, &reserve, dep, 4, argv, 4, rep, err, errlen) < 0)
        return -1;
    *g = (struct ratelimit_grant){
        .granted = (int)rep[0],
        .first = (double)rep[1] / 1e6,
        .interval = 1 / rate,
        .window = 1 / rate,
        .retry_after = (double)rep[2] / 1e6,
        .server_us = rep[3],
    };
    return 0;
}

/* The local bucket's reservation: the tokens there now, all at once. */
static void reserve_local(struct ratelimit *rl, int wanted, struct ratelimit_grant *g)
{
    double now = rl_now(rl);
    pthread_mutex_lock(&rl->lock);
    *g = (struct ratelimit_grant){.window = rl->rate > 0 ? 1 / rl->rate : INFINITY};
    if (rl->rate <= 0) {
        g->granted = wanted;
    } else {
        refill(rl, now);
        int have = (int)(rl->tokens + 1e-9);   /* sums of float intervals fall a hair short */
        g->granted = have < wanted ? have : wanted;
        rl->tokens -= g->granted;
        if (rl->tokens < 0)
            rl->tokens = 0;
        if (g->granted == 0)
            g->retry_after = (1 - rl->tokens) / rl->rate;
    }
    rl->allowed += (uint64_t)g->granted;
    if (g->granted == 0)
        rl->throttled++;
    pthread_mutex_unlock(&rl->lock);
}

void ratelimit_reserve(struct ratelimit *rl, redisContext *redis, int wanted, double horizon,
                       struct ratelimit_grant *g)
{
    if (!rl->fleet || !redis) {
        reserve_local(rl, wanted, g);
        return;
    }
    pthread_mutex_lock(&rl->lock);
    double rate = rl->rate;
    int burst = (int)rl->burst;
    pthread_mutex_unlock(&rl->lock);
    char err[256];
    if (ratelimit_gcra_reserve(redis, rl->name, rate, burst, wanted, horizon, g, err, sizeof err) < 0) {
        pthread_mutex_lock(&rl->lock);
        rl->fleet_errors++;
        pthread_mutex_unlock(&rl->lock);
        log_warn("rate limit %s: %s; using the local bucket", rl->name, err);
        reserve_local(rl, wanted, g);
        return;
    }
    pthread_mutex_lock(&rl->lock);
    rl->allowed += (uint64_t)g->granted;
    if (g->granted == 0)
        rl->throttled++;
    pthread_mutex_unlock(&rl->lock);
}

int ratelimit_acquire(struct ratelimit *rl, redisContext *redis, double *retry_after)
{
    if (!rl->fleet || !redis)
        return ratelimit_try(rl, retry_after);
    struct ratelimit_grant g;
    ratelimit_reserve(rl, redis, 1, 0, &g);   /* a slot that begins now, or when one will */
    if (retry_after)
        *retry_after = g.granted ? 0 : g.retry_after;
    return g.granted ? 0 : -1;
}
