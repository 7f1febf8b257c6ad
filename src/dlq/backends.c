/* The table of DLQ backends, and opening a DLQ by address: picks the
 * backend from the address kind and connects it. The only file that names
 * the backends; they use the shared code in dlq.c, never the reverse. */
#include "dlq/dlq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static const struct dlq_backend *const backends[] = {&dlq_amqp_backend, &dlq_list_backend, &dlq_stream_backend};

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
