/* Appends to the qdeck:events stream (see the header). */
#include "control/events.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "control/keys.h"
#include "control/redis-connect.h"

int events_append(redisContext *c, const char *type, const char *subject, const char *text, char *err,
                  size_t errlen)
{
    char at[40], host[256] = "unknown";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(at + n, sizeof at - n, ".%03ldZ", ts.tv_nsec / 1000000);
    gethostname(host, sizeof host - 1);
    redisReply *r = control_redis_command(c, err, errlen,
                                          "XADD %s MAXLEN ~ " EVENTS_MAXLEN " * type %s subject %s text %s at %s host %s",
                                          KEY_EVENTS, type, subject ? subject : "", text ? text : "", at, host);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}
