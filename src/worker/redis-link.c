/* hiredis connection helpers; see redis-link.h. */
#include "worker/redis-link.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "worker/task.h"

int redis_link_cmd(redisContext *c, redisReply **out, char *err, size_t errlen, int argc, const char **argv,
                   const size_t *argvlen)
{
    if (out)
        *out = NULL;
    redisReply *r = redisCommandArgv(c, argc, argv, argvlen);
    if (!r) {
        snprintf(err, errlen, "Redis %s: %s", argv[0], c->errstr[0] ? c->errstr : "connection lost");
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "Redis %s: %s", argv[0], r->str);
        freeReplyObject(r);
        return -1;
    }
    if (out)
        *out = r;
    else
        freeReplyObject(r);
    return 0;
}

int redis_link_drain(redisContext *c, int n, char *err, size_t errlen)
{
    int rc = 0;
    for (int i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(c, &rep) != REDIS_OK) {
            snprintf(err, errlen, "Redis: %s", c->errstr[0] ? c->errstr : "connection lost");
            return -1;
        }
        redisReply *r = rep;
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            snprintf(err, errlen, "Redis: %s", r->str);
            rc = 1;
        }
        freeReplyObject(r);
    }
    return 0;
}

int redis_link_settle(redisContext *rc, struct consumer *c, const char *label, struct task **tasks, int n,
                      int (*append)(struct consumer *c, struct task *t))
{
    int replies[n > 0 ? n : 1];
    for (int i = 0; i < n; i++)
        replies[i] = append(c, tasks[i]);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < replies[i]; k++) {
            void *rep = NULL;
            if (redisGetReply(rc, &rep) != REDIS_OK)
                return 0;
            redisReply *r = rep;
            if (r->type == REDIS_REPLY_ERROR)
                log_error("consumer %s: task %s: Redis refused the settlement: %s", label,
                          tasks[i]->entry_id ? tasks[i]->entry_id : tasks[i]->id, r->str);
            freeReplyObject(r);
        }
    return n;
}
