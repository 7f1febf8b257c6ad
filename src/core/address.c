/* Parsing and printing queue addresses (see address.h). */
#include "core/address.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static const struct {
    const char *scheme;
    enum queue_kind kind;
} schemes[] = {{"amqp", QUEUE_AMQP}, {"redis", QUEUE_REDIS_LIST}, {"stream", QUEUE_STREAM}};

int queue_address_parse(const char *text, const struct context_config *ctx, struct queue_address *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *colon = strchr(text, ':');
    const char *rest = NULL;
    if (colon)
        for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
            if ((size_t)(colon - text) == strlen(schemes[i].scheme) &&
                strncmp(text, schemes[i].scheme, (size_t)(colon - text)) == 0) {
                out->kind = schemes[i].kind;
                rest = colon + 1;
            }
    if (!rest) {
        bool amqp = ctx && ctx->amqp, redis = ctx && ctx->redis;
        if (amqp == redis) {
            snprintf(err, errlen, "queue '%s': say amqp:%s, redis:%s or stream:%s#GROUP", text, text, text, text);
            return -1;
        }
        out->kind = amqp ? QUEUE_AMQP : QUEUE_REDIS_LIST;
        rest = text;
    }
    if (out->kind == QUEUE_STREAM) {
        const char *hash = strrchr(rest, '#');
        if (!hash || hash == rest || !hash[1]) {
            snprintf(err, errlen, "queue '%s': a stream is addressed as stream:KEY#GROUP", text);
            return -1;
        }
        out->name = xstrndup(rest, (size_t)(hash - rest));
        out->group = xstrdup(hash + 1);
        return 0;
    }
    if (!*rest) {
        snprintf(err, errlen, "queue '%s' has no name", text);
        return -1;
    }
    out->name = xstrdup(rest);
    return 0;
}

char *queue_address_format(const struct queue_address *a)
{
    if (a->kind == QUEUE_STREAM)
        return xasprintf("stream:%s#%s", a->name, a->group ? a->group : "");
    return xasprintf("%s:%s", queue_kind_scheme(a->kind), a->name);
}

void queue_address_free(struct queue_address *a)
{
    free(a->name);
    free(a->group);
    memset(a, 0, sizeof *a);
}
