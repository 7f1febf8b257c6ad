/* The scheduler's state in Redis, read and written by `qdeck sched`, the
 * consoles and the engine (see the header). */
#include "control/sched-state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/keys.h"
#include "control/redis-connect.h"
#include "core/clock.h"

void sched_job_key(const char *name, char *buf, size_t len) { snprintf(buf, len, KEY_SCHED_PREFIX "%s", name); }

void sched_format_time(double t, char *buf, size_t len)
{
    if (t < 0 || isnan(t))
        snprintf(buf, len, "never");
    else
        snprintf(buf, len, "%.3f", t);
}

int sched_job_read(redisContext *c, const char *name, struct sched_job_state *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->next_run = out->last_run = NAN;
    redisReply *r = control_redis_command(c, err, errlen,
                                          "HMGET " KEY_SCHED_PREFIX "%s next_run last_run last_result paused runs "
                                          "leader run_requested",
                                          name);
    if (!r)
        return -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 7) {
        snprintf(err, errlen, "unexpected reply to HMGET");
        freeReplyObject(r);
        return -1;
    }
    const char *v[7];
    for (size_t i = 0; i < 7; i++) {
        v[i] = r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
        out->exists |= v[i] != NULL;
    }
    if (v[0] && strcmp(v[0], "never") != 0)
        out->next_run = atof(v[0]);
    if (v[1])
        out->last_run = atof(v[1]);
    snprintf(out->last_result, sizeof out->last_result, "%s", v[2] ? v[2] : "");
    out->paused_set = v[3] != NULL;
    out->paused = v[3] && strcmp(v[3], "1") == 0;
    out->runs = v[4] ? atol(v[4]) : 0;
    snprintf(out->leader, sizeof out->leader, "%s", v[5] ? v[5] : "");
    out->run_requested = v[6] != NULL;
    freeReplyObject(r);
    return 0;
}

/* A job hash written from the CLI or console is registered too, as the
 * leader's are, so every reader finds it. */
static int register_job_name(redisContext *c, const char *name, char *err, size_t errlen)
{
    redisReply *r = control_redis_command(c, err, errlen, "SADD %s %s", KEY_SCHED_REGISTRY, name);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

int sched_job_set_paused(redisContext *c, const char *name, bool paused, bool *was, char *err, size_t errlen)
{
    struct sched_job_state st;
    if (sched_job_read(c, name, &st, err, errlen) < 0)
        return -1;
    if (was)
        *was = st.paused;
    redisReply *r = control_redis_command(c, err, errlen, "HSET " KEY_SCHED_PREFIX "%s paused %s", name,
                                          paused ? "1" : "0");
    if (!r)
        return -1;
    freeReplyObject(r);
    return register_job_name(c, name, err, errlen);
}

int sched_job_request_run(redisContext *c, const char *name, char *err, size_t errlen)
{
    char now[64];
    sched_format_time(clock_wall(), now, sizeof now);
    redisReply *r = control_redis_command(c, err, errlen, "HSET " KEY_SCHED_PREFIX "%s run_requested %s", name, now);
    if (!r)
        return -1;
    freeReplyObject(r);
    return register_job_name(c, name, err, errlen);
}

int sched_leader(redisContext *c, char *buf, size_t len, char *err, size_t errlen)
{
    redisReply *r = control_redis_command(c, err, errlen, "GET %s", KEY_SCHED_LEADER);
    if (!r)
        return -1;
    snprintf(buf, len, "%s", r->type == REDIS_REPLY_STRING ? r->str : "");
    freeReplyObject(r);
    return 0;
}
