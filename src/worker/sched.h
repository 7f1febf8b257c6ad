/* The fleet's scheduler (docs/control-plane.md): periodic jobs from [schedule
 * NAME] (cron expression or `every` seconds) run by exactly one process of
 * the fleet, the leader.
 *
 * Leadership is a Redis lease: SET qdeck:sched:leader <id> NX PX <lease>,
 * renewed every lease/3 by a script that extends it only while it still
 * holds our id. A keeper thread with its own connection does this, so a
 * slow job never lets the lease lapse; the job thread only runs jobs while
 * the last renewal is fresh. A leader that cannot renew within the lease
 * stops running jobs; another process takes the lease once it expires (it
 * tries every 0.5 s), so failover takes at most about one lease. A clean
 * stop releases the lease at once.
 *
 * Job state lives in the hash qdeck:sched:job:<name> (keys.h): next_run,
 * last_run (wall seconds), last_result, paused (0/1), runs (count),
 * run_requested (set by `qdeck sched run`), leader (who ran it last). A due
 * run is claimed before it runs by one script that checks we still hold the
 * lease and that next_run is what we read, then moves next_run on — so a
 * run happens at most once across the fleet even around a failover, and a
 * new leader carries on the old one's schedule.
 *
 * Actions: publish (one task with the qdeck envelope, idempotency key
 * sched:NAME:DUE, to a Redis list (LPUSH), stream (XADD body) or RabbitMQ
 * queue (confirmed); sched_publish_fn replaces it when given), replay (a
 * DLQ: sched_replay_fn, wired by the DLQ module), trim
 * (SCAN MATCH pattern + UNLINK, at most `limit` keys; control-plane keys
 * are never touched), probe (PING every broker of the context). An action
 * whose hook is not wired records "not available: ...". The leader also
 * appends "worker.lost" to qdeck:events when a worker's heartbeat stops
 * (every node follows the fleet, so a new leader knows who was there). */
#ifndef QDECK_SCHED_H
#define QDECK_SCHED_H

#include <stdbool.h>
#include <stddef.h>

#include "control/sched-state.h"
#include "core/config.h"
#include "worker/sched-actions.h"

struct sched_options {
    const char *redis_url;        /* the control plane */
    const char *node_id;          /* this process's worker id (held in the lease) */
    double lease;                 /* seconds; 0: 3 */
    const struct schedule_config *jobs;   /* copied */
    size_t njobs;
    const struct context_config *ctx;     /* probe and publish: the brokers; may be NULL */
    sched_publish_fn publish;     /* NULL: the built-in publisher */
    sched_replay_fn replay;       /* NULL: replay records "not available" */
    void *hook_ctx;
};

struct sched;

/* Starts the scheduler thread (it keeps trying while Redis is away).
 * NULL when the options are unusable; an invalid job is logged and skipped
 * (its hash says why), it does not stop the others. */
struct sched *sched_start(const struct sched_options *opt, char *err, size_t errlen);
/* Stops running jobs, releases the lease if held, joins. NULL is fine. */
void sched_stop(struct sched *s);
bool sched_is_leader(struct sched *s);

/* The schedule as text: "cron 0 3 * * *" or "every 60s"; -1 with a reason
 * when the job has neither or a bad one. */
int sched_describe(const struct schedule_config *job, char *buf, size_t len);
/* When a job with this schedule runs next after `after` (wall seconds), or
 * -1 when never. */
double sched_next_after(const struct schedule_config *job, double after);

#endif
