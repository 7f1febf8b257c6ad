/* Sources and their collector threads.
 *
 * Each source gets one thread that owns its connection. The thread refreshes
 * every `refresh` seconds, measured from the start of the last refresh, and
 * publishes either a new snapshot or a failure status to the source's feed.
 * While the source fails it waits a capped, jittered backoff instead of the
 * refresh interval. Waiting is a timed condition wait, so source_stop() wakes
 * it at once; a blocking network call is cut short through ops->interrupt. */
#include "broker/source.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
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

static struct source *source_new(const char *kind, const char *url, const struct context_config *ctx,
                                 double refresh, int notify_fd, char *err, size_t errlen)
{
    struct source *src = xcalloc(1, sizeof *src);
    src->ops = source_kind(kind);
    src->url = xstrdup(url);
    src->display_url = url_redact(url);
    src->ctx = ctx;
    src->refresh = refresh;
    feed_init(&src->feed, notify_fd);
    pthread_mutex_init(&src->wait_lock, NULL);
    pthread_cond_init(&src->wait_cond, NULL);
    if (src->ops->init(src, err, errlen) < 0) {
        struct source **one = xcalloc(1, sizeof *one);   /* sources_free frees the array too */
        one[0] = src;
        sources_free(one, 1);
        return NULL;
    }
    return src;
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
        srcs[n] = source_new("rabbitmq", mgmt, ctx, refresh, notify_fd, err, errlen);
        if (!srcs[n])
            goto fail;
        n++;
    }
    if (ctx->redis) {
        srcs[n] = source_new("redis", ctx->redis, ctx, refresh, notify_fd, err, errlen);
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

void sources_free(struct source **srcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct source *src = srcs[i];
        if (!src)
            continue;
        if (src->running)
            source_stop(src);
        if (src->priv)
            src->ops->fini(src);
        feed_destroy(&src->feed);
        free_list(src->focus, src->nfocus);
        pthread_mutex_destroy(&src->wait_lock);
        pthread_cond_destroy(&src->wait_cond);
        free(src->url);
        free(src->display_url);
        free(src);
    }
    free(srcs);
}

static bool same_focus(const struct source *src, const char *const *names, size_t n)
{
    if (src->nfocus != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(src->focus[i], names[i]) != 0)
            return false;
    return true;
}

void source_set_focus(struct source *src, const char *const *names, size_t n)
{
    if (n > SOURCE_FOCUS_MAX)
        n = SOURCE_FOCUS_MAX;
    pthread_mutex_lock(&src->wait_lock);
    if (!same_focus(src, names, n)) {
        free_list(src->focus, src->nfocus);
        src->focus = n ? xcalloc(n, sizeof *src->focus) : NULL;
        for (size_t i = 0; i < n; i++)
            src->focus[i] = xstrdup(names[i]);
        src->nfocus = n;
    }
    pthread_mutex_unlock(&src->wait_lock);
}

size_t source_focus(struct source *src, char ***names)
{
    pthread_mutex_lock(&src->wait_lock);
    size_t n = src->nfocus;
    *names = n ? xcalloc(n, sizeof **names) : NULL;
    for (size_t i = 0; i < n; i++)
        (*names)[i] = xstrdup(src->focus[i]);
    pthread_mutex_unlock(&src->wait_lock);
    return n;
}

enum source_status source_collect_once(struct source *src)
{
    char err[256] = "";
    struct feed_view prev;
    feed_get(&src->feed, &prev);
    struct snapshot *snap = NULL;
    enum source_status st = src->ops->collect(src, prev.snap, &snap, err, sizeof err);
    feed_view_release(&prev);
    if (st == SOURCE_OK) {
        feed_publish(&src->feed, snap);
    } else {
        src->ops->disconnect(src);
        feed_publish_error(&src->feed, st, err);
    }
    return st;
}

/* Sleeps until the deadline (monotonic) or until source_stop wakes us. */
static void wait_until(struct source *src, double deadline)
{
    pthread_mutex_lock(&src->wait_lock);
    while (!src->stopping) {
        double left = deadline - clock_mono();
        if (left <= 0)
            break;
        struct timespec ts = clock_realtime_after(left);
        pthread_cond_timedwait(&src->wait_cond, &src->wait_lock, &ts);
    }
    pthread_mutex_unlock(&src->wait_lock);
}

static void log_status_change(struct source *src, enum source_status st)
{
    struct feed_view v;
    feed_get(&src->feed, &v);
    if (st == SOURCE_OK)
        log_info("%s %s: ok (%zu queues)", src->ops->kind, src->display_url, v.snap ? v.snap->nqueues : 0);
    else
        log_warn("%s %s: %s: %s", src->ops->kind, src->display_url, source_status_name(st), v.message);
    feed_view_release(&v);
}

static void *collector_main(void *arg)
{
    struct source *src = arg;
    struct backoff bo;
    backoff_init(&bo, 0.5, 30, (unsigned)(uintptr_t)src ^ (unsigned)getpid());
    enum source_status last = SOURCE_CONNECTING;
    while (!src->stopping) {
        double started = clock_mono();
        enum source_status st = source_collect_once(src);
        if (src->stopping)
            break;
        if (st != last)
            log_status_change(src, st);
        last = st;
        if (st == SOURCE_OK) {
            backoff_reset(&bo);
            wait_until(src, started + src->refresh);
        } else {
            double delay = backoff_next(&bo);
            if (delay < src->refresh)
                delay = src->refresh;
            wait_until(src, clock_mono() + delay);
        }
    }
    return NULL;
}

int source_start(struct source *src)
{
    src->stopping = 0;
    if (pthread_create(&src->thread, NULL, collector_main, src) != 0)
        return -1;
    src->running = true;
    return 0;
}

void source_stop(struct source *src)
{
    if (!src->running)
        return;
    pthread_mutex_lock(&src->wait_lock);
    src->stopping = 1;
    pthread_cond_broadcast(&src->wait_cond);
    pthread_mutex_unlock(&src->wait_lock);
    src->ops->interrupt(src);
    pthread_join(src->thread, NULL);
    src->running = false;
}
