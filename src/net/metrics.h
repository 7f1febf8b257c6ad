/* Health and metrics endpoints, served by libmicrohttpd on its own thread,
 * and the Prometheus text format they speak. `qdeck worker --metrics-addr`
 * serves its own counters with it; `qdeck exporter --listen` serves what
 * the console sees (console/exporter.h):
 *
 *   GET /healthz   200 "ok" while the process runs
 *   GET /readyz    200 "ready" when the ready callback says so, else 503
 *                  with its reason (e.g. "redis: connection refused")
 *   GET /metrics   Prometheus text exposition format 0.0.4, written by the
 *                  collect callback with the helpers below
 *   GET /          the index callback's page, when there is one
 *
 * Callbacks run on the server's thread, one request at a time: they must
 * be thread-safe with respect to the worker (read counters atomically or
 * under the worker's own locks) and quick. */
#ifndef QDECK_METRICS_H
#define QDECK_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/histogram.h"

/* A growing exposition text. */
struct metrics_text {
    char *buf;
    size_t len, cap;
};

/* "# HELP name help" and "# TYPE name type" (counter, gauge, histogram,
 * untyped); once per metric family, before its samples. */
void metrics_family(struct metrics_text *t, const char *name, const char *type, const char *help);
/* One sample line: name{k="v",...} value. labels: NULL, or pairs of
 * key, value ending with a NULL key; values are escaped (\\ \" \n). */
void metrics_sample(struct metrics_text *t, const char *name, const char *const *labels, double value);
/* A whole histogram series: name_bucket{...,le="b"} for each upper bound
 * (cumulative counts, ascending bounds), le="+Inf" = count, name_sum and
 * name_count. The family line is the caller's (type histogram). */
void metrics_histogram(struct metrics_text *t, const char *name, const char *const *labels,
                       const double *bounds, const uint64_t *cumulative, size_t nbounds, double sum,
                       uint64_t count);
/* A whole histogram series from a log-bucketed histogram (core/histogram.h,
 * microseconds) in seconds, with fixed bounds from 1 ms to 5 min: each
 * bound counts the log buckets that lie wholly below it, so a bound's count
 * is exact to within one log bucket (< 1 %). Safe against a histogram being
 * recorded into meanwhile (the counts stay monotone). */
void metrics_latency_histogram(struct metrics_text *t, const char *name, const char *const *labels,
                               const struct histogram *h);
/* Appends raw text (printf-style). */
void metrics_printf(struct metrics_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void metrics_text_free(struct metrics_text *t);

struct metrics_options {
    const char *addr;          /* "127.0.0.1:9187"; port 0 picks a free one (see metrics_port) */
    /* true when ready; else false and a one-line reason. NULL: always ready. */
    bool (*ready)(void *ctx, char *reason, size_t len);
    /* Appends every metric. NULL: only qdeck_up. */
    void (*collect)(void *ctx, struct metrics_text *out);
    /* Appends the HTML page served at "/". NULL: "/" is 404 like any other
     * unknown path. */
    void (*index)(void *ctx, struct metrics_text *out);
    void *ctx;
};

struct metrics_server;

/* Parses addr (IPv4 "host:port", or "[v6]:port"), binds and starts. NULL
 * with a reason ("127.0.0.1:9187: address already in use"). */
struct metrics_server *metrics_start(const struct metrics_options *opt, char *err, size_t errlen);
void metrics_stop(struct metrics_server *s);   /* NULL is fine */
/* The port actually bound. */
int metrics_port(const struct metrics_server *s);

#endif
