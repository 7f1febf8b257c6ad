/* The backends' table and building a context's sources (see source-kinds.h). */
#include "broker/source-kinds.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/url.h"
#include "core/xalloc.h"

static const struct source_ops *const source_kinds[] = {
    &mgmt_source_ops,
    &redis_source_ops,
};

static const struct source_ops *source_kind(const char *kind)
{
    for (size_t i = 0; i < sizeof source_kinds / sizeof source_kinds[0]; i++)
        if (strcmp(source_kinds[i]->kind, kind) == 0)
            return source_kinds[i];
    return NULL;
}

char *mgmt_url_from_amqp(const char *amqp_url)
{
    struct broker_url u;
    char err[256];
    if (broker_url_parse(amqp_url, &u, err, sizeof err) < 0)
        return NULL;
    bool tls = strcmp(u.scheme, "amqps") == 0;
    char *user = u.user ? url_escape(u.user) : xstrdup("guest");
    char *pass = u.password ? url_escape(u.password) : xstrdup("guest");
    char *url = xasprintf("%s://%s:%s@%s:%d/", tls ? "https" : "http", user, pass, u.host,
                          tls ? 15671 : 15672);
    free(user);
    free(pass);
    broker_url_free(&u);
    return url;
}

int sources_from_context(const struct context_config *ctx, double refresh, int notify_fd,
                         struct source ***out, size_t *count, char *err, size_t errlen)
{
    struct source **srcs = xcalloc(2, sizeof *srcs);
    size_t n = 0;
    char *mgmt = ctx->mgmt ? xstrdup(ctx->mgmt) : (ctx->amqp ? mgmt_url_from_amqp(ctx->amqp) : NULL);
    if (ctx->amqp && !mgmt) {
        char *shown = url_redact(ctx->amqp);
        snprintf(err, errlen, "context %s: bad amqp URL %s", ctx->name, shown);
        free(shown);
        goto fail;
    }
    if (mgmt) {
        srcs[n] = source_new(source_kind("rabbitmq"), mgmt, ctx, refresh, notify_fd, err, errlen);
        if (!srcs[n])
            goto fail;
        n++;
    }
    if (ctx->redis) {
        srcs[n] = source_new(source_kind("redis"), ctx->redis, ctx, refresh, notify_fd, err, errlen);
        if (!srcs[n])
            goto fail;
        n++;
    }
    free(mgmt);
    *out = srcs;
    *count = n;
    return 0;
fail:
    free(mgmt);
    sources_free(srcs, n);
    return -1;
}
