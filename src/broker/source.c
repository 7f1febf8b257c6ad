/* Sources and their collector threads, for any backend (the table of
 * backends is source-kinds.c).
 *
 * Each source gets one thread (core/loop.h) that owns its connection. The
 * thread refreshes every `refresh` seconds, measured from the start of the
 * last refresh, and publishes either a new snapshot or a failure status to
 * the source's feed. While the source fails it waits a capped, jittered
 * backoff instead of the refresh interval. Waiting is loop_sleep_until, so
 * source_stop() wakes it at once; a blocking network call is cut short
 * through ops->interrupt. */
#include "broker/source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/url.h"
#include "core/xalloc.h"

struct source *source_new(const struct source_ops *ops, const char *url, const struct context_config *ctx,
                          double refresh, int notify_fd, char *err, size_t errlen)
{
    struct source *src = xcalloc(1, sizeof *src);
    src->ops = ops;
    src->url = xstrdup(url);
    src->display_url = url_redact(url);
    src->ctx = ctx;
    src->refresh = refresh;
    feed_init(&src->feed, notify_fd);
    loop_init(&src->loop);
    pthread_mutex_init(&src->focus_lock, NULL);
    if (src->ops->init(src, err, errlen) < 0) {
        struct source **one = xcalloc(1, sizeof *one);   /* sources_free frees the array too */
        one[0] = src;
        sources_free(one, 1);
        return NULL;
    }
    return src;
}

void sources_free(struct source **srcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct source *src = srcs[i];
        if (!src)
            continue;
        source_stop(src);
        if (src->priv)
            src->ops->fini(src);
        feed_destroy(&src->feed);
        free_list(src->focus, src->nfocus);
        pthread_mutex_destroy(&src->focus_lock);
        loop_destroy(&src->loop);
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
    pthread_mutex_lock(&src->focus_lock);
    if (!same_focus(src, names, n)) {
        free_list(src->focus, src->nfocus);
        src->focus = n ? xcalloc(n, sizeof *src->focus) : NULL;
        for (size_t i = 0; i < n; i++)
            src->focus[i] = xstrdup(names[i]);
        src->nfocus = n;
    }
    pthread_mutex_unlock(&src->focus_lock);
}

size_t source_focus(struct source *src, char ***names)
{
    pthread_mutex_lock(&src->focus_lock);
    size_t n = src->nfocus;
    *names = n ? xcalloc(n, sizeof **names) : NULL;
    for (size_t i = 0; i < n; i++)
        (*names)[i] = xstrdup(src->focus[i]);
    pthread_mutex_unlock(&src->focus_lock);
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

static void collector_main(struct loop *l, void *arg)
{
    struct source *src = arg;
    struct backoff bo;
    backoff_init(&bo, 0.5, 30, (unsigned)(uintptr_t)src ^ (unsigned)getpid());
    enum source_status last = SOURCE_CONNECTING;
    while (!loop_stopping(l)) {
        double started = clock_mono();
        enum source_status st = source_collect_once(src);
        if (loop_stopping(l))
            break;
        if (st != last)
            log_status_change(src, st);
        last = st;
        if (st == SOURCE_OK) {
            backoff_reset(&bo);
            loop_sleep_until(l, started + src->refresh);
        } else {
            double delay = backoff_next(&bo);
            if (delay < src->refresh)
                delay = src->refresh;
            loop_sleep(l, delay);
        }
    }
}

int source_start(struct source *src) { return loop_start(&src->loop, collector_main, src); }

bool source_stopping(struct source *src) { return loop_stopping(&src->loop); }

void source_stop(struct source *src)
{
    if (!src->loop.started)
        return;
    /* raised before the interrupt, so the collect it cuts short is not
     * followed by another; loop_stop then wakes the sleep and joins */
    atomic_store(&src->loop.stopping, true);
    src->ops->interrupt(src);
    loop_stop(&src->loop);
}
