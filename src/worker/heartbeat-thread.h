/* The worker's heartbeat thread: with its own hiredis connection, every
 * interval (default 1 s) it writes the worker's report in the encoding of
 * control/heartbeat.h (docs/control-plane.md). When Redis goes away it
 * reconnects with capped, jittered backoff; the worker never waits for it.
 * On start it appends "worker.joined" to qdeck:events; heartbeat_stop
 * writes a last report with state "stopped" and appends "worker.stopped",
 * so consoles can tell a clean exit from a lost worker. */
#ifndef QDECK_HEARTBEAT_THREAD_H
#define QDECK_HEARTBEAT_THREAD_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "control/heartbeat.h"

struct heartbeat_options {
    const char *redis_url;      /* raw URL (may hold a password) */
    double interval;            /* seconds between beats; 0: 1 */
    double timeout;             /* Redis connect/reply timeout; 0: max(0.5, interval) */
    const char *id;             /* NULL: heartbeat_make_id() */
    const char *version;        /* qdeck's version string */
    /* Called on the heartbeat thread once per beat: must be thread-safe and
     * quick. Returns a new cJSON object (the heartbeat frees it) or NULL;
     * the fields it may carry are control/heartbeat.h's. */
    cJSON *(*report)(void *ctx);
    void *ctx;
};

struct heartbeat;

/* Starts the thread; never touches the network on the caller's thread.
 * NULL only when the options are unusable (err says why). */
struct heartbeat *heartbeat_start(const struct heartbeat_options *opt, char *err, size_t errlen);
/* Final "stopped" report and event (best effort, bounded by the timeout),
 * then joins the thread and frees. NULL is fine. */
void heartbeat_stop(struct heartbeat *hb);

const char *heartbeat_id(const struct heartbeat *hb);
/* Whether the last beat reached Redis; when not, *reason (if given) gets
 * why, redacted. For /readyz. */
bool heartbeat_ok(struct heartbeat *hb, char *reason, size_t len);
/* Beats written since start (for tests and metrics). */
unsigned long heartbeat_beats(struct heartbeat *hb);

#endif
