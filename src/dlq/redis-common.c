/* Shared Redis plumbing for dlq-list.c and dlq-stream.c. */
#include "dlq/redis-common.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

int redis_dlq_open(struct dlq *d, const char *type)
{
    struct redis_dlq *r = xcalloc(1, sizeof *r);
    d->priv = r;
    if (!d->ctx || !d->ctx->redis)
        return dlq_fail(d, DLQ_FAIL_USAGE, "%s: no Redis URL (give --redis or set redis in the context)", d->display);
    char err[512];
    r->c = dlq_redis_connect(d->ctx->redis, d->ctx->timeout, err, sizeof err);
    if (!r->c)
        return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s", err);
    const char *argv[] = {"TYPE", d->addr.name};
    redisReply *rep = redis_dlq_command(d, 2, argv, NULL, "TYPE");
    if (!rep)
        return -1;
    int rc = 0;
    if (strcmp(rep->str, type) != 0 && strcmp(rep->str, "none") != 0)
        rc = dlq_fail(d, DLQ_FAIL_USAGE, "%s: the key is a %s, not a %s", d->display, rep->str, type);
    freeReplyObject(rep);
    return rc;
}

void redis_dlq_close(struct dlq *d)
{
    struct redis_dlq *r = d->priv;
    if (r->c)
        redisFree(r->c);
    free(r);
    d->priv = NULL;
}

static int transport_fail(struct dlq *d, const char *what)
{
    struct redis_dlq *r = d->priv;
    return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s: Redis %s: %s", d->display, what,
                    r->c->errstr[0] ? r->c->errstr : "connection lost");
}

redisReply *redis_dlq_command(struct dlq *d, int argc, const char **argv, const size_t *lens, const char *what)
{
    struct redis_dlq *r = d->priv;
    redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
    if (!rep) {
        transport_fail(d, what);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        dlq_fail(d, DLQ_FAIL_OPERATION, "%s: Redis refused %s: %s", d->display, what, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

int redis_dlq_replies(struct dlq *d, size_t n, redisReply **out, const char *what)
{
    struct redis_dlq *r = d->priv;
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK) {
            for (size_t k = 0; k < i; k++)
                freeReplyObject(out[k]);
            return transport_fail(d, what);
        }
        out[i] = rep;
    }
    return 0;
}
