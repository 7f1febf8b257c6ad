/* The heartbeat as the control plane carries it (docs/control-plane.md):
 * what a worker writes and consoles parse. One beat is the worker's report
 * as JSON in qdeck:worker:<id> (SET ... PX 3 x interval), its id scored in
 * the worker registry and PUBLISHed on qdeck:workers, in one pipelined
 * round trip; the last beat (state "stopped") takes the id out of the
 * registry. The thread that beats is worker/heartbeat-thread.h.
 *
 * The report is the worker's: it builds a cJSON object and the encoding
 * adds the fields it owns. Fields the console reads (all
 * optional; counts are totals since start):
 *
 *   queues         ["amqp:orders", "redis:jobs", ...]
 *   slots_busy     slots_total    in_flight
 *   processed      failed         retried        dead_lettered
 *   parked         (shed by priority, not dead letters)
 *   health         "ok", or why a consumer is not connected ("amqp: login refused")
 *   latency        {"<type>": {"queue_wait": "<histogram encoding>",
 *                              "run": "...", "e2e": "...",   (core/histogram.h)
 *                              "processed", "failed", "tokens_in", "tokens_out"}}
 *   breakers       {"<dependency>": {"state": "CLOSED", ...}}
 *   limiters       {"<dependency>": {"rate": 5, "tokens": 2.5, "throttled": 7}}
 *   policy         what policy_applied_json() returns
 *
 * Added by heartbeat_encode: id, host, pid, version, started_at, at (wall
 * seconds, fractional), interval (seconds), state ("running" | "stopped"). */
#ifndef QDECK_HEARTBEAT_H
#define QDECK_HEARTBEAT_H

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

/* Who beats: the fields the encoding owns, fixed for a process. */
struct heartbeat_identity {
    const char *id;
    const char *host;
    const char *version;
    double started_at;          /* wall seconds */
    double interval;            /* seconds between beats */
};

/* "host-pid-random" (random: 6 hex digits), unique across restarts. */
void heartbeat_make_id(char *buf, size_t len);

/* The report as heartbeat JSON: takes report (NULL or not an object: an
 * empty one), replaces the owned fields, adds "at" (now) and state. A new
 * string the caller frees. */
char *heartbeat_encode(cJSON *report, const struct heartbeat_identity *who, const char *state);

/* One beat on c: SET the key with a TTL of 3 intervals, ZADD (or, when
 * stopped, ZREM) the registry, PUBLISH the id; pipelined. 0, or -1 with a
 * one-line reason. */
int heartbeat_write(redisContext *c, const struct heartbeat_identity *who, const char *json, bool stopped,
                    char *err, size_t errlen);

#endif
