/* Snapshot handoff: pointer swap under a mutex plus one byte to a pipe. */
#include "core/feed.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"

void feed_init(struct feed *f, int notify_fd)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    f->notify_fd = notify_fd;
    f->cur.status = SOURCE_CONNECTING;
    f->cur.status_since = clock_wall();
    f->cur.last_ok = NAN;
    snprintf(f->cur.message, sizeof f->cur.message, "connecting");
}

void feed_destroy(struct feed *f)
{
    snapshot_unref(f->cur.snap);
    f->cur.snap = NULL;
    pthread_mutex_destroy(&f->lock);
}

static void notify(struct feed *f)
{
    if (f->notify_fd < 0)
        return;
    char byte = 1;
    /* A full pipe already means "something changed": EAGAIN is fine. */
    while (write(f->notify_fd, &byte, 1) < 0 && errno == EINTR)
        ;
}

void feed_publish(struct feed *f, struct snapshot *snap)
{
    double now = clock_wall();
    pthread_mutex_lock(&f->lock);
    struct snapshot *old = f->cur.snap;
    f->cur.snap = snap;
    if (f->cur.status != SOURCE_OK)
        f->cur.status_since = now;
    f->cur.status = SOURCE_OK;
    f->cur.last_ok = now;
    f->cur.message[0] = '\0';
    f->cur.generation++;
    pthread_mutex_unlock(&f->lock);
    snapshot_unref(old);
    notify(f);
}

void feed_publish_error(struct feed *f, enum source_status status, const char *message)
{
    double now = clock_wall();
    pthread_mutex_lock(&f->lock);
    /* "down since" counts from the first failure, not the latest retry */
    bool was_failing = f->cur.status != SOURCE_OK && f->cur.status != SOURCE_CONNECTING;
    if (!was_failing || f->cur.status != status)
        f->cur.status_since = was_failing ? f->cur.status_since : now;
    f->cur.status = status;
    snprintf(f->cur.message, sizeof f->cur.message, "%s", message);
    f->cur.generation++;
    pthread_mutex_unlock(&f->lock);
    notify(f);
}

void feed_get(struct feed *f, struct feed_view *out)
{
    pthread_mutex_lock(&f->lock);
    *out = f->cur;
    snapshot_ref(out->snap);
    pthread_mutex_unlock(&f->lock);
}

void feed_view_release(struct feed_view *v)
{
    snapshot_unref(v->snap);
    v->snap = NULL;
}

const char *source_status_name(enum source_status s)
{
    switch (s) {
    case SOURCE_CONNECTING: return "connecting";
    case SOURCE_OK: return "ok";
    case SOURCE_DOWN: return "disconnected";
    case SOURCE_TIMEOUT: return "not answering";
    case SOURCE_AUTH_FAILED: return "auth failed";
    case SOURCE_BAD_RESPONSE: return "bad response";
    case SOURCE_CONFIG_ERROR: return "config error";
    }
    return "?";
}
