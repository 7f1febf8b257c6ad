/* The worker's heartbeat to the control plane (docs/control-plane.md):
 * a thread with its own hiredis connection that every
 * interval (default 1 s) writes the worker's report as JSON to
 * qdeck:worker:<id> (SET ... PX 3 x interval) and PUBLISHes the id on
 * qdeck:workers, both in one pipelined round trip. When Redis goes away it
 * reconnects with capped, jittered backoff; the worker never waits for it.
 * On start it appends "worker.joined" to qdeck:events; heartbeat_stop
 * writes a last report with state "stopped" and appends "worker.stopped",
 * so consoles can tell a clean exit from a lost worker.
 *
 * The report is the worker's: a callback returns a cJSON object and the
 * heartbeat adds the fields it owns. Fields the console reads (all
 * optional; counts are totals since start):
 *
 *   queues         ["amqp:orders", "redis:jobs", ...]
 *   slots_busy     slots_total    in_flight
 *   processed      failed         retried        dead_lettered
 *   parked         (shed by priority, not dead letters)
 *   health         "ok", or why a consumer is not connected ("amqp: login refused")
 *   latency        {"<type>": {"queue_wait": "<histogram encoding>",
 *                              "run": "...", "e2e": "..."}}  (core/histogram.h)
 *   breakers       {"<dependency>": {"state": "CLOSED", ...}}
 *   limiters       {"<dependency>": {"rate": 5, "tokens": 2.5, "throttled": 7}}
 *   policy         what policy_applied_json() returns
 *
 * Added by the heartbeat: id, host, pid, version, started_at, at (wall
 * seconds, fractional), interval (seconds), state ("running" | "stopped"). */
#ifndef QDECK_HEARTBEAT_H
#define QDECK_HEARTBEAT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct heartbeat_options {
    const char *redis_url;      /* raw URL (may hold a password) */
    double interval;            /* seconds between beats; 0: 1 */
    double timeout;             /* Redis connect/reply timeout; 0: max(0.5, interval) */
    const char *id;             /* NULL: heartbeat_make_id() */
    const char *version;        /* qdeck's version string */
    /* Called on the heartbeat thread once per beat: must be thread-safe and
     * quick. Returns a new cJSON object (the heartbeat frees it) or NULL. */
    cJSON *(*report)(void *ctx);
    void *ctx;
};

struct heartbeat;

/* "host-pid-random" (random: 6 hex digits), unique across restarts. */
void heartbeat_make_id(char *buf, size_t len);

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
