/* Opening a DLQ by address: picks the backend from the address kind and
 * connects it; the Redis connection helper the Redis backends and the
 * result-store lookups share. */
#include "dlq/dlq.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/redis-connect.h"
#include "core/xalloc.h"

static const struct dlq_backend *const backends[] = {&dlq_amqp_backend, &dlq_list_backend, &dlq_stream_backend};

int dlq_fail(struct dlq *d, enum dlq_failure kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->err, sizeof d->err, fmt, ap);
    va_end(ap);
    d->failure = kind;
    return -1;
}

redisContext *dlq_redis_connect(const char *url, double timeout, char *err, size_t errlen)
{
    redisContext *c = control_redis_connect(url, timeout > 0 ? timeout : 5, err, errlen);
    if (c) {
        /* long scripts over big lists: replies may take longer than a connect */
        struct timeval rtv = {.tv_sec = (time_t)(timeout > 0 ? timeout : 5) * 6 + 10};
        redisSetTimeout(c, rtv);
    }
    return c;
}

int dlq_open(const char *address, const struct context_config *ctx, struct dlq **out, char *err, size_t errlen)
{
    *out = NULL;
    struct dlq *d = xcalloc(1, sizeof *d);
    d->ctx = ctx;
    /* a DLQ stream needs no consumer group: stream:KEY is enough here */
    if (strncmp(address, "stream:", 7) == 0 && !strchr(address + 7, '#')) {
        if (!address[7]) {
            snprintf(err, errlen, "queue '%s' has no name", address);
            free(d);
            return -2;
        }
        d->addr.kind = QUEUE_STREAM;
        d->addr.name = xstrdup(address + 7);
    } else if (queue_address_parse(address, ctx, &d->addr, err, errlen) < 0) {
        free(d);
        return -2;
    }
    d->display = d->addr.kind == QUEUE_STREAM ? xasprintf("stream:%s", d->addr.name) : queue_address_format(&d->addr);
    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
        if (backends[i]->kind == d->addr.kind)
            d->ops = backends[i];
    if (d->ops->open(d) < 0) {
        snprintf(err, errlen, "%s", d->err);
        int kind = d->failure;
        dlq_close(d);
        return kind == DLQ_FAIL_UNREACHABLE ? -3 : kind == DLQ_FAIL_USAGE ? -2 : -1;
    }
    *out = d;
    return 0;
}

void dlq_close(struct dlq *d)
{
    if (!d)
        return;
    if (d->ops && d->priv)
        d->ops->close(d);
    if (d->store)
        redisFree(d->store);
    queue_address_free(&d->addr);
    free(d->display);
    free(d);
}
