/* The handoff between a collector thread and its readers (tmux's job model,
 * Redis bio.c): the collector swaps in a new snapshot pointer or a new status
 * under a mutex and writes one byte to a notify pipe; the UI poll()s that
 * pipe next to stdin and takes a reference. Nobody waits for the network
 * while holding the lock. A failing source keeps its last good snapshot, so
 * stale data can be drawn greyed with its age. */
#ifndef QDECK_FEED_H
#define QDECK_FEED_H

#include <pthread.h>
#include <stdint.h>

#include "core/snapshot.h"

enum source_status {
    SOURCE_CONNECTING,     /* no answer yet */
    SOURCE_OK,
    SOURCE_DOWN,           /* refused, reset, DNS: "disconnected" */
    SOURCE_TIMEOUT,        /* connected but no answer in time (hung broker) */
    SOURCE_AUTH_FAILED,
    SOURCE_BAD_RESPONSE,   /* answered with something that is not the API */
    SOURCE_CONFIG_ERROR,   /* cannot work as configured (no retry helps) */
};

struct feed_view {
    enum source_status status;
    char message[256];       /* one line, secrets already redacted */
    double status_since;     /* wall time the status began */
    double last_ok;          /* wall time of the last good refresh, NAN never */
    uint64_t generation;     /* bumps on every publish */
    struct snapshot *snap;   /* last good snapshot (ref held by the view) */
};

struct feed {
    pthread_mutex_t lock;
    struct feed_view cur;
    int notify_fd;           /* write end of the reader's pipe, or -1 */
};

void feed_init(struct feed *f, int notify_fd);
void feed_destroy(struct feed *f);
/* Takes ownership of snap. */
void feed_publish(struct feed *f, struct snapshot *snap);
void feed_publish_error(struct feed *f, enum source_status status, const char *message);
/* A consistent copy of the current state; release it with feed_view_release. */
void feed_get(struct feed *f, struct feed_view *out);
void feed_view_release(struct feed_view *v);

const char *source_status_name(enum source_status s);   /* "ok", "auth failed", ... */

#endif
