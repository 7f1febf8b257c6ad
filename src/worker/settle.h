/* Settling a task the pool is done with (worker/settle.c). */
#ifndef QDECK_WORKER_SETTLE_H
#define QDECK_WORKER_SETTLE_H

#include "worker/task.h"

struct worker;

/* The task's completed mark is stored: counted, then acked. */
void settle_completed(struct worker *w, struct task *t);
/* The task's fate is decided (settle, dead_reason, error, retry_delay set):
 * counters, latency, then back to its consumer. */
void settle_decided(struct worker *w, struct task *t);

#endif
