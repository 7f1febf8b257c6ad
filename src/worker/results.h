/* The result store and idempotency keys in Redis (SPEC "Worker
 * semantics"), written from slot threads, each through its own connection:
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
    double next_try;          /* monotonic: no reconnect before */
};

/* -1 when Redis cannot be asked (then *done is false). */
int results_is_done(struct results *r, const struct task *t, bool *done);
int results_processing(struct results *r, const struct task *t, const char *queue);
/* The done key and the COMPLETED record; -1 when not stored. */
int results_completed(struct results *r, const struct task *t);
/* FAILED (final) or PENDING with the error (a retry waits). */
int results_failed(struct results *r, const struct task *t, bool final);
void results_close(struct results *r);
/* This slot's Redis connection, opened if need be (the fleet-wide rate
 * limiter uses it even with the result store off); NULL when Redis is not
 * configured or not reachable right now. */
redisContext *results_connection(struct results *r);

/* For `qdeck publish`: appends HSET PENDING + PEXPIRE to c's pipeline (2 replies). */
void results_append_pending(redisContext *c, const char *id, const char *type, const char *queue, double ttl);

#endif
