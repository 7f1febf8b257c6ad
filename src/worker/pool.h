/* What consumers and the pool share inside the worker (not for other
 * modules: they use worker.h). */
#ifndef QDECK_WORKER_POOL_H
#define QDECK_WORKER_POOL_H

#include <stdatomic.h>
#include <stdbool.h>

#include "core/config.h"
#include "worker/task.h"
#include "worker/worker.h"

/* Hands received tasks (a list linked by next, n long) to the slots, after
 * their idempotency check when that is batched (results-batch.h). */
void pool_submit(struct worker *w, struct task *head, struct task *tail, int n);
/* The same, checked: into the run queue. */
void pool_checked(struct worker *w, struct task *head, struct task *tail, int n);
/* The task's completed mark is stored: counted, then acked. */
void pool_completed(struct worker *w, struct task *t);
/* The task's fate is decided (settle, dead_reason, error, retry_delay set):
 * counters, latency, then back to its consumer. */
void pool_decided(struct worker *w, struct task *t);

const struct config *worker_config(const struct worker *w);
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
