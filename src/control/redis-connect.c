/* The control plane's hiredis command helper (see the header). */
#include "control/redis-connect.h"

#include <stdarg.h>
#include <stdio.h>

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
