/* The heartbeat's encoding and its one pipelined write (see the header);
 * the thread that calls them every interval is worker/heartbeat-thread.c. */
#include "control/heartbeat.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "control/keys.h"
#include "core/clock.h"

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

char *heartbeat_encode(cJSON *o, const struct heartbeat_identity *who, const char *state)
{
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        o = cJSON_CreateObject();
    }
    static const char *const owned[] = {"id", "host", "pid", "version", "started_at", "at", "interval", "state"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
        cJSON_DeleteItemFromObjectCaseSensitive(o, owned[i]);
    cJSON_AddStringToObject(o, "id", who->id);
    cJSON_AddStringToObject(o, "host", who->host);
    cJSON_AddNumberToObject(o, "pid", (double)getpid());
    cJSON_AddStringToObject(o, "version", who->version);
    cJSON_AddNumberToObject(o, "started_at", who->started_at);
    cJSON_AddNumberToObject(o, "at", round(clock_wall() * 1000) / 1000);
    cJSON_AddNumberToObject(o, "interval", who->interval);
    cJSON_AddStringToObject(o, "state", state);
    char *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return json;
}

/* The registry entry is scored with this beat's time; the last beat takes
 * it out, so what stays in the registry without a key is a worker that
 * died. */
int heartbeat_write(redisContext *c, const struct heartbeat_identity *who, const char *json, bool stopped,
                    char *err, size_t errlen)
{
    long long ttl_ms = (long long)(who->interval * 3000);
    char key[512];
    snprintf(key, sizeof key, KEY_WORKER_PREFIX "%s", who->id);
    redisAppendCommand(c, "SET %s %s PX %lld", key, json, ttl_ms);
    if (stopped)
        redisAppendCommand(c, "ZREM %s %s", KEY_WORKER_REGISTRY, who->id);
    else
        redisAppendCommand(c, "ZADD %s %.3f %s", KEY_WORKER_REGISTRY, clock_wall(), who->id);
    redisAppendCommand(c, "PUBLISH %s %s", CHANNEL_WORKERS, who->id);
    int rc = 0;
    for (int i = 0; i < 3; i++) {
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            snprintf(err, errlen, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis refused the heartbeat: %s", r->str);
            rc = -1;
        }
        freeReplyObject(r);
    }
    return rc;
}
