/* The worker's per-task Redis work (idempotency checks, result records,
 * done marks) in batches: one thread owns one Redis connection and sends
 * everything queued since its last round trip as one pipeline. See
 * results-batch.c for the order it keeps and why the guarantees hold.
 *
 * Every call may come from any thread. Each task handed over comes back
 * through the pool (pool_checked, settle_completed, settle_decided), on the
 * batcher's thread. */
#ifndef QDECK_WORKER_RESULTS_BATCH_H
#define QDECK_WORKER_RESULTS_BATCH_H

#include "worker/results.h"
#include "worker/task.h"

struct worker;
struct results_batch;

/* NULL when there is nothing to batch (no Redis, or results and
 * idempotency both off) or the thread cannot start (err says why). */
struct results_batch *results_batch_start(struct worker *w, const struct results *config, char *err, size_t errlen);
/* Stops the thread after one last round trip: marks that still cannot be
 * stored are given back unacked. Calls after this are answered at once as
 * if Redis were away. */
void results_batch_stop(struct results_batch *rb);
void results_batch_free(struct results_batch *rb);

/* Tasks just received (a list linked by next, n long): each gets
 * t->idem_done, then the list goes to pool_checked(). */
void results_batch_check(struct results_batch *rb, struct task *head, int n);
/* The handler is starting: the PROCESSING record, fire and forget (folded
 * into the outcome's record when that is queued before it went out). */
void results_batch_processing(struct results_batch *rb, struct task *t);
/* SETTLE_ACK: the done mark and COMPLETED record, then settle_completed();
 * or, when they cannot be stored before the drain ends, given back. */
void results_batch_completed(struct results_batch *rb, struct task *t);
/* SETTLE_RETRY / SETTLE_DEAD: the PENDING / FAILED record (best effort),
 * then settle_decided(). */
void results_batch_failed(struct results_batch *rb, struct task *t);
/* SETTLE_RETURN: settle_decided() once the writes queued before it are out
 * (its PROCESSING write still points at it). */
void results_batch_return(struct results_batch *rb, struct task *t);

#endif
