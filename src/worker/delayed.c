/* The delayed-retry mover and its timer (see delayed.h). */
#include "worker/delayed.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/clock.h"
#include "worker/redis-link.h"

#define MOVE_BATCH "500"

/* KEYS[1] delayed ZSET, KEYS[2] target; ARGV[1] now ms, ARGV[2] batch,
 * ARGV[3] "list" or "stream". Returns {moved, ms until the next item is
 * due (-1: none left)}. */
static const char mover_script[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))\n"
    "for _, item in ipairs(due) do\n"
    "  redis.call('ZREM', KEYS[1], item)\n"
    "  if ARGV[3] == 'stream' then redis.call('XADD', KEYS[2], '*', 'body', item)\n"
    "  else redis.call('RPUSH', KEYS[2], item) end\n"
    "end\n"
    "local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
    "if #nxt == 0 then return {#due, -1} end\n"
    "return {#due, math.max(0, tonumber(nxt[2]) - tonumber(ARGV[1]))}\n";

static double idle_look(struct delayed_timer *dt)
{
    if (!dt->seed)
        dt->seed = (unsigned)getpid() ^ (unsigned)(size_t)dt;
    return DELAYED_IDLE * (1 + 0.2 * (double)rand_r(&dt->seed) / ((double)RAND_MAX + 1.0));
}

int delayed_tick(struct delayed_timer *dt, redisContext *c, const char *delayed, const char *target, bool stream,
                 char *err, size_t errlen)
{
    double now = clock_mono();
    if (now < dt->next_move)
        return 0;
    char wall_ms[32];
    snprintf(wall_ms, sizeof wall_ms, "%lld", (long long)(clock_wall() * 1000));
    const char *argv[] = {"EVAL", mover_script, "2", delayed, target, wall_ms, MOVE_BATCH, stream ? "stream" : "list"};
    redisReply *r;
    if (redis_link_cmd(c, &r, err, errlen, 8, argv, NULL) < 0) {
        dt->next_move = now + idle_look(dt);
        return -1;
    }
    long long moved = 0, next_ms = -1;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER &&
        r->element[1]->type == REDIS_REPLY_INTEGER) {
        moved = r->element[0]->integer;
        next_ms = r->element[1]->integer;
    }
    freeReplyObject(r);
    double idle = idle_look(dt);
    if (moved >= atoll(MOVE_BATCH))
        dt->next_move = now;   /* a full batch: more are due */
    else
        dt->next_move = now + (next_ms >= 0 && next_ms / 1000.0 < idle ? next_ms / 1000.0 : idle);
    return (int)moved;
}

void delayed_expect(struct delayed_timer *dt, double in)
{
    double at = clock_mono() + (in > 0 ? in : 0);
    if (at < dt->next_move)
        dt->next_move = at;
}
