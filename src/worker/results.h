/* The result store and idempotency keys in Redis
 * (docs/control-plane.md), written by the worker's results thread, many tasks per round
 * trip (results-batch.h), or one task at a time through a slot thread's own
 * connection when there is no such thread:
 *
 *   qdeck:task:<id>    hash: status PENDING -> PROCESSING -> COMPLETED | FAILED
 *                      (back to PENDING while a retry waits), type, queue,
 *                      attempt, error, result, created_at, started_at,
 *                      finished_at, worker; PEXPIRE result_ttl on every write
 *   qdeck:done:<key>   SET NX PX idempotency_ttl once the task completed
 *
 * The done key is written before the broker is told (ack / LREM / XACK): a
 * task whose key exists is acked without running again. */
#ifndef QDECK_WORKER_RESULTS_H
#define QDECK_WORKER_RESULTS_H

#include <hiredis.h>
#include <stdbool.h>

#include "worker/task.h"

struct results {
    redisContext *c;
    const char *url;          /* NULL: no Redis, everything is a no-op */
    const char *worker_id;
    bool store;               /* [worker] results */
    bool idempotency;         /* [worker] idempotency */
    double result_ttl, idempotency_ttl;
    long trace_max;           /* [worker] trace_max: qdeck:trace records kept; 0: no trace */
    double next_try;          /* monotonic: no reconnect before */
};

/* The synchronous calls below are for a worker without a results batcher
 * (results-batch.h carries the same commands, many tasks per round trip). */

/* -1 when Redis cannot be asked (then *done is false). */
int results_is_done(struct results *r, const struct task *t, bool *done);
int results_processing(struct results *r, const struct task *t);
/* The done key and the COMPLETED record; -1 when not stored. */
int results_completed(struct results *r, const struct task *t);
/* FAILED (final) or PENDING with the error (a retry waits). */
int results_failed(struct results *r, const struct task *t, bool final);
void results_close(struct results *r);
/* This slot's Redis connection, opened if need be (the fleet-wide rate
 * limiter uses it even with the result store off); NULL when Redis is not
 * configured or not reachable right now. */
redisContext *results_connection(struct results *r);

/* Pipelining: each appends one task's commands to c's output buffer and
 * returns how many replies they get (read them in order).
 *   check: EXISTS the done key (1 reply; > 0 means done)
 *   processing: the PROCESSING record (2)
 *   completed: the done key (SET NX PX, when idempotency is on) and the
 *     COMPLETED record (when the store is on)
 *   failed: FAILED (final) or PENDING with the error
 * with_start: the record also carries what the PROCESSING record would have
 * (type, queue, attempt, started_at, worker) because that one was not sent. */
int results_append_check(redisContext *c, const struct task *t);
int results_append_processing(const struct results *r, redisContext *c, const struct task *t);
int results_append_completed(const struct results *r, redisContext *c, const struct task *t, bool with_start);
int results_append_failed(const struct results *r, redisContext *c, const struct task *t, bool final, bool with_start);
/* The attempt's qdeck:trace record (XADD MAXLEN ~ trace_max; 1 reply), or
 * nothing (0) when the trace is off or the attempt is not one: a deferral
 * (throttled, bulkhead full) or a task without an envelope. Fields (text):
 *   id, t (envelope created_at, wall s), type, queue, priority,
 *   wait (t to this attempt's start), service (its run), e2e (t to its end),
 *   outcome ok|fail|timeout|shed|dlq, attempt, tokens_in, tokens_out,
 *   payload (only when at most TRACE_PAYLOAD_MAX bytes, for trace replay).
 * Appended right after the attempt's result writes, in the same pipeline
 * (no round trip of its own). A refused XADD is logged, never holds an ack. */
#define TRACE_PAYLOAD_MAX 1024
int results_append_trace(const struct results *r, redisContext *c, const struct task *t, const char *outcome);
/* The outcome of t's attempt as its fate says: ok | fail | timeout | shed | dlq. */
const char *results_trace_outcome(const struct task *t);
/* Drops the connection after a failure; reconnects no sooner than
 * RECONNECT_PAUSE later. Always -1. */
int results_broken(struct results *r, const char *why);

/* For `qdeck publish`: appends HSET PENDING + PEXPIRE to c's pipeline (2 replies). */
void results_append_pending(redisContext *c, const char *id, const char *type, const char *queue, double ttl);

#endif
