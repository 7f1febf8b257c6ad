/* The scheduler's replay action (docs/control-plane.md): a [schedule NAME] with
 * action = replay moves up to `limit` dead messages of `queue` back to the
 * queues they came from, at `rate` per second, exactly as
 * `qdeck dlq replay QUEUE --all --limit N --rate R` does, with the same
 * journal and audit record. Refused in a read-only context. */
#ifndef QDECK_DLQ_SCHED_REPLAY_H
#define QDECK_DLQ_SCHED_REPLAY_H

#include <stddef.h>

#include "core/config.h"

struct dlq_sched_context {
    const struct config *cfg;            /* audit log and journal location */
    const struct context_config *ctx;    /* the brokers */
};

/* A sched_replay_fn: arg is a struct dlq_sched_context. 0, or -1; result
 * gets the tally or the reason. */
int dlq_sched_replay(void *arg, const struct schedule_config *job, char *result, size_t len);
/* The replay journal next to the audit log; caller frees. */
char *dlq_journal_path(const struct config *cfg);

#endif
