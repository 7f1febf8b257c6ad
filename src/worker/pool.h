/* The narrow way into the pool, inside the worker (other modules use
 * worker.h): consumers and the rate waiting room hand tasks over here, the
 * results thread hands checked ones back, and every part reads the
 * worker's settings and state through these accessors. It sits below the
 * consumers and the rest of the pool and calls neither (worker/pool.c). */
#ifndef QDECK_WORKER_POOL_H
#define QDECK_WORKER_POOL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/config.h"
#include "worker/task.h"

struct worker;

/* Hands received tasks (a list linked by next, n long) to the slots, after
 * their idempotency check when that is batched (results-batch.h). */
void pool_submit(struct worker *w, struct task *head, struct task *tail, int n);
/* The same, checked: into the run queue. */
void pool_checked(struct worker *w, struct task *head, struct task *tail, int n);

/* Under w->lock: how many sleeping slot threads queued tasks justify, and
 * waking them. */
int pool_threads_wanted(struct worker *w, int queued, bool nobody_awake);
void pool_wake_threads(struct worker *w, int n);

const struct config *worker_config(const struct worker *w);
/* Also in worker.h's public API (worker/stats.h): worker_id, worker_queues. */
const struct context_config *worker_context(const struct worker *w);
int worker_default_max_attempts(const struct worker *w);
/* 0 running, 1 draining (stop consuming), 2 fast stop. */
int worker_stopping(const struct worker *w);
/* Monotonic time the drain must end by (when stopping). */
double worker_drain_deadline(const struct worker *w);
/* Counts a task settled by a consumer (in_flight bookkeeping). */
void worker_note_settled(struct worker *w);
void worker_note_received(struct worker *w);
/* True once a guardrail snapshot from Redis has been applied (before that,
 * "no guardrail" only means "not known yet"). */
bool worker_policy_loaded(struct worker *w);

#endif
