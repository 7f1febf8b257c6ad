/* DLQ replay, purge and delete from the console (view 6) as jobs on the
 * console's write queue (console/writes.h). The job opens the DLQ itself,
 * reports progress to the status line, stops early when the console quits
 * (writes_interrupt: what is in flight is settled first), writes its audit
 * record as the CLI does, and ends with a line naming what was done:
 * "replayed 12 of 12 to amqp:orders from amqp:orders.dlq: moved 12,
 * failed 0, skipped 0". Browsing stays on the DLQ job thread
 * (console/dlq-jobs.h). */
#ifndef QDECK_CONSOLE_DLQ_WRITES_H
#define QDECK_CONSOLE_DLQ_WRITES_H

#include "console/dlq-jobs.h"
#include "console/writes.h"
#include "core/config.h"

/* job: kind DLQ_JOB_REPLAY or DLQ_JOB_PURGE (copied; its ids, or all when
 * nids is 0; body: an edited body to replay). The job's ticket, or 0 when
 * the queue is full. */
unsigned long dlq_write_submit(struct console_writes *w, const struct config *cfg, const struct context_config *ctx,
                               const struct dlq_job *job);

#endif
