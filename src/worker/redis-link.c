/* hiredis connection helpers; see redis-link.h. */
#include "worker/redis-link.h"

#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/url.h"
#include "worker/task.h"

static struct timeval tv_of(double s)
{
    return (struct timeval){.tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

redisContext *redis_link_open(const char *url, double timeout, double read_timeout, char *err, size_t errlen)
{
    struct broker_url u;
    char why[256];
    if (broker_url_parse(url, &u, why, sizeof why) < 0) {
        snprintf(err, errlen, "Redis URL: %s", why);
        return NULL;
    }
    redisContext *c = strcmp(u.scheme, "unix") == 0 ? redisConnectUnixWithTimeout(u.path, tv_of(timeout))
                                                     : redisConnectWithTimeout(u.host, u.port, tv_of(timeout));
    if (!c || c->err) {
        snprintf(err, errlen, "cannot connect to Redis at %s: %s", u.redacted, c ? c->errstr : "out of memory");
        redisFree(c);
        broker_url_free(&u);
        return NULL;
    }
    redisSetTimeout(c, tv_of(read_timeout));
    int rc = 0;
    if (u.password) {
        bool user = u.user && u.user[0];
        const char *argv[3] = {"AUTH", user ? u.user : u.password, u.password};
        rc = redis_link_cmd(c, NULL, err, errlen, user ? 3 : 2, argv, NULL);
    }
    if (rc == 0 && u.db > 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u.db);
        const char *argv[2] = {"SELECT", db};
        rc = redis_link_cmd(c, NULL, err, errlen, 2, argv, NULL);
    }
    broker_url_free(&u);
    if (rc < 0) {
        redisFree(c);
        return NULL;
    }
    return c;
}

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
    int replies[SETTLE_BATCH_MAX];
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
