/* decide(): the one place a task's fate is decided (worker/pool.c):
 * completed (done key and COMPLETED record stored, then ack), retry
 * (backoff with full jitter, retry.h) or dead letter (poison, failed,
 * max_attempts). Runs on a slot thread or the watchdog. */
#include <stdatomic.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "worker/consumer.h"
#include "worker/pool.h"
#include "worker/results-batch.h"
#include "worker/results.h"
#include "worker/retry.h"
#include "worker/settle.h"
#include "worker/worker-internal.h"

void decide_fate(struct worker *w, struct task *t, struct results *res, unsigned *seed)
{
    t->finished_wall = clock_wall();
    if (t->settle == SETTLE_RETURN) {
        if (w->batch)
            results_batch_return(w->batch, t);
        else
            settle_decided(w, t);
        return;
    }
    if (t->settle == SETTLE_ACK) {
        /* ack only after the done key and the result are stored */
        if (w->batch) {
            results_batch_completed(w->batch, t);
            return;
        }
        while (results_completed(res, t) < 0) {
            if (worker_stopping(w) == 2 || (worker_stopping(w) == 1 && clock_mono() > w->drain_deadline)) {
                log_warn("task %s finished but its result could not be stored: given back", t->id);
                t->settle = SETTLE_RETURN;
                settle_decided(w, t);
                return;
            }
            usleep(200 * 1000);
        }
        settle_completed(w, t);
        return;
    }
    /* the task did not succeed: retry or dead letter */
    if (t->settle == SETTLE_RETRY && t->attempt >= t->max_attempts) {
        t->settle = SETTLE_DEAD;
        t->dead_reason = "max_attempts";
    }
    if (t->settle == SETTLE_RETRY && !t->deferred)
        t->retry_delay = retry_delay(w->wc->retry_base, w->wc->retry_cap, t->attempt, seed);
    if (!t->poison && !t->deferred && !t->shed) {
        atomic_fetch_add(&w->failed, 1);
        struct worker_type_stats *s = t->type[0] ? stats_of_type(w, t->type) : NULL;
        if (s)
            __atomic_fetch_add(&s->failed, 1, __ATOMIC_RELAXED);
    }
    if (t->park)
        log_info("task %s (%s) from %s parked (%s): %s", t->id, t->type, t->consumer->label, t->dead_reason,
                 t->error);
    else if (t->settle == SETTLE_DEAD)
        log_warn("task %s (%s) from %s dead-lettered: %s: %s (attempt %d)", t->id, t->type[0] ? t->type : "?",
                 t->consumer->label, t->dead_reason, t->error, t->attempt);
    else
        log_info("task %s (%s) retry in %.3fs after attempt %d/%d: %s", t->id, t->type, t->retry_delay, t->attempt,
                 t->max_attempts, t->error);
    /* a parked task has no result record, but its shed attempt is traced */
    bool record = t->env && (!t->park || w->wc->trace_max > 0);
    if (record && w->batch) {
        results_batch_failed(w->batch, t);   /* settled once the record is out */
        return;
    }
    if (record)
        results_failed(res, t, t->settle == SETTLE_DEAD);
    settle_decided(w, t);
}

