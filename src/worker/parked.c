/* Releasing parked tasks back to their Redis queue (see parked.h). */
#include "worker/parked.h"

#include <stdatomic.h>
#include <stdio.h>

#include "worker/consumer.h"
#include "worker/pool.h"
#include "worker/redis-link.h"

/* KEYS[1] parked, KEYS[2] queue; ARGV[1] batch, ARGV[2] "list" | "stream".
 * Lists: parked items were LPUSHed, so LPOP takes the newest and RPUSH puts
 * it at the consuming end; the oldest ends up consumed first. Streams: the
 * entry's body goes back as a new entry. */
static const char *const release_script =
    "local n = 0\n"
    "if ARGV[2] == 'stream' then\n"
    "  local e = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', tonumber(ARGV[1]))\n"
    "  for _, x in ipairs(e) do\n"
    "    local f, body = x[2], nil\n"
    "    for i = 1, #f, 2 do if f[i] == 'body' then body = f[i + 1] end end\n"
    "    if body then redis.call('XADD', KEYS[2], '*', 'body', body) end\n"
    "    redis.call('XDEL', KEYS[1], x[1])\n"
    "    n = n + 1\n"
    "  end\n"
    "else\n"
    "  for i = 1, tonumber(ARGV[1]) do\n"
    "    local v = redis.call('LPOP', KEYS[1])\n"
    "    if not v then break end\n"
    "    redis.call('RPUSH', KEYS[2], v)\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

int parked_release(redisContext *c, const char *parked, const char *target, bool stream, char *err, size_t errlen)
{
    char batch[16];
    snprintf(batch, sizeof batch, "%d", PARKED_BATCH);
    const char *argv[] = {"EVAL", release_script, "2", parked, target, batch, stream ? "stream" : "list"};
    redisReply *r;
    if (redis_link_cmd(c, &r, err, errlen, 7, argv, NULL) < 0)
        return -1;
    int moved = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : 0;
    freeReplyObject(r);
    return moved;
}

bool parked_may_release(struct consumer *c)
{
    return !worker_stopping(c->w) && atomic_load(&c->shed_priority_below) < 0 && !atomic_load(&c->auto_shed) &&
           !atomic_load(&c->paused) && worker_policy_loaded(c->w);
}
