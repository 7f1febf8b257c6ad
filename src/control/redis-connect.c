/* hiredis connections for the control plane, from a URL (see the header). */
#include "control/redis-connect.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/url.h"

static struct timeval seconds_tv(double s)
{
    return (struct timeval){.tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

redisReply *control_redis_command(redisContext *c, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r) {
        snprintf(err, errlen, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis refused: %s", r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

redisContext *control_redis_connect(const char *url, double timeout, char *err, size_t errlen)
{
    struct broker_url u;
    if (!url || !*url) {
        snprintf(err, errlen, "no Redis URL configured");
        return NULL;
    }
    if (broker_url_parse(url, &u, err, (unsigned)errlen) < 0)
        return NULL;
    if (strcmp(u.scheme, "redis") != 0 && strcmp(u.scheme, "unix") != 0) {
        snprintf(err, errlen, "%s: Redis URL must be redis:// or unix://", u.redacted);
        broker_url_free(&u);
        return NULL;
    }
    struct timeval tv = seconds_tv(timeout > 0 ? timeout : 5);
    redisContext *c = strcmp(u.scheme, "unix") == 0 ? redisConnectUnixWithTimeout(u.path, tv)
                                                    : redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s: %s", u.redacted, c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        broker_url_free(&u);
        return NULL;
    }
    redisSetTimeout(c, tv);
    char why[256];
    redisReply *r = NULL;
    if (u.password) {
        r = u.user && u.user[0] ? control_redis_command(c, why, sizeof why, "AUTH %s %s", u.user, u.password)
                                : control_redis_command(c, why, sizeof why, "AUTH %s", u.password);
        if (!r)
            goto fail;
        freeReplyObject(r);
    }
    if (u.db) {
        if (!(r = control_redis_command(c, why, sizeof why, "SELECT %d", u.db)))
            goto fail;
        freeReplyObject(r);
    }
    broker_url_free(&u);
    return c;
fail:
    snprintf(err, errlen, "%s: %s", u.redacted, why);
    redisFree(c);
    broker_url_free(&u);
    return NULL;
}
