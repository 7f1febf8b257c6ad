/* A lease in Redis (see the header). */
#include "control/lease.h"

#include <stdio.h>

#include "control/redis-connect.h"

/* Extends the lease only while it holds our id: 1, or 0 when it is not ours. */
static const char renew_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
/* Deletes the lease only when it holds our id. */
static const char release_script[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

int lease_keep(redisContext *c, const char *key, const char *id, double seconds, bool held, char *err,
               size_t errlen)
{
    char ms[32];
    snprintf(ms, sizeof ms, "%lld", (long long)(seconds * 1000));
    redisReply *r = held ? control_redis_command(c, err, errlen, "EVAL %s 1 %s %s %s", renew_script, key, id, ms)
                         : control_redis_command(c, err, errlen, "SET %s %s NX PX %s", key, id, ms);
    if (!r)
        return -1;
    bool ours = held ? (r->type == REDIS_REPLY_INTEGER && r->integer == 1) : r->type == REDIS_REPLY_STATUS;
    freeReplyObject(r);
    return ours;
}

void lease_release(redisContext *c, const char *key, const char *id)
{
    char err[256];
    redisReply *r = control_redis_command(c, err, sizeof err, "EVAL %s 1 %s %s", release_script, key, id);
    if (r)
        freeReplyObject(r);
}
