/* Stream depth for max_depth: a consumer group's lag (see stream-depth.h).
 *
 * XINFO GROUPS (RESP2) answers one flat field/value array per group; the
 * fields read here are `name`, `entries-read` and `lag`. Redis leaves lag
 * nil when it cannot compute it: entries were deleted (XDEL) inside the
 * range the group has yet to read, or the stream was trimmed past the
 * group's position, or the group was created / moved (XGROUP SETID) to an
 * arbitrary ID. Then the depth falls back to XLEN minus entries-read (the
 * entries the group has taken so far; an estimate, since XLEN no longer
 * counts deleted or trimmed entries, so it is clamped at 0), and when
 * entries-read is nil as well (or on Redis before 7.0, which has neither
 * field) to XLEN, which overstates the backlog but never hides one. */
#include "broker/stream-depth.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static bool field_is(const redisReply *r, const char *name)
{
    return r->type == REDIS_REPLY_STRING && r->len == strlen(name) && memcmp(r->str, name, r->len) == 0;
}

/* One group's waiting entries, from its field/value array; stream_len is XLEN. */
static long group_depth(const redisReply *g, long stream_len)
{
    long lag = -1, entries_read = -1;
    for (size_t i = 0; i + 1 < g->elements; i += 2) {
        const redisReply *v = g->element[i + 1];
        if (v->type != REDIS_REPLY_INTEGER)
            continue;   /* nil: Redis could not tell */
        if (field_is(g->element[i], "lag"))
            lag = (long)v->integer;
        else if (field_is(g->element[i], "entries-read"))
            entries_read = (long)v->integer;
    }
    if (lag >= 0)
        return lag;
    if (entries_read >= 0)
        return stream_len > entries_read ? stream_len - entries_read : 0;
    return stream_len;
}

static const char *group_name(const redisReply *g)
{
    for (size_t i = 0; i + 1 < g->elements; i += 2)
        if (field_is(g->element[i], "name") && g->element[i + 1]->type == REDIS_REPLY_STRING)
            return g->element[i + 1]->str;
    return NULL;
}

long stream_depth_from_replies(const redisReply *xlen, const redisReply *groups, const char *group)
{
    if (!xlen || xlen->type != REDIS_REPLY_INTEGER)
        return -1;
    long stream_len = (long)xlen->integer;
    /* an error here is "no such key" (XLEN said 0 then) or a race with DEL */
    if (!groups || groups->type != REDIS_REPLY_ARRAY)
        return stream_len;
    long deepest = -1;
    for (size_t i = 0; i < groups->elements; i++) {
        const redisReply *g = groups->element[i];
        if (g->type != REDIS_REPLY_ARRAY)
            continue;
        const char *name = group_name(g);
        if (group && (!name || strcmp(name, group) != 0))
            continue;
        long d = group_depth(g, stream_len);
        if (group)
            return d;
        if (d > deepest)
            deepest = d;
    }
    return deepest >= 0 ? deepest : stream_len;
}

int stream_depth(redisContext *c, const char *key, const char *group, long *depth, char *err, size_t errlen)
{
    const char *xlen[] = {"XLEN", key};
    const char *xinfo[] = {"XINFO", "GROUPS", key};
    redisAppendCommandArgv(c, 2, xlen, NULL);
    redisAppendCommandArgv(c, 3, xinfo, NULL);
    void *replies[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++)
        if (redisGetReply(c, &replies[i]) != REDIS_OK) {
            snprintf(err, errlen, "Redis XLEN/XINFO GROUPS %s: %s", key, c->errstr[0] ? c->errstr : "connection lost");
            freeReplyObject(replies[0]);
            return -1;
        }
    const redisReply *len = replies[0];
    int rc = 0;
    if (len->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis XLEN %s: %s", key, len->str);
        rc = -1;
    } else {
        *depth = stream_depth_from_replies(len, replies[1], group);
    }
    freeReplyObject(replies[0]);
    freeReplyObject(replies[1]);
    return rc;
}
