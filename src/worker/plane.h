/* The control plane of one worker process, started and stopped as one
 * thing by `qdeck worker` and the demo: the heartbeat (its id is the
 * worker's id, which the Redis-list reapers rely on), the scheduler
 * ([schedule NAME] jobs, one leader across the fleet) and the metrics
 * endpoints (--metrics-addr / [worker] metrics_addr). Without Redis there is
 * no heartbeat and no scheduler (logged once); metrics still run.
 *
 *   struct control_plane_options o = {.cfg = &cfg, .ctx = ctx, .worker = w,
 *                                     .version = QDECK_VERSION};
 *   struct control_plane *cp = control_plane_start(&o, err, sizeof err);
 *   ... worker_run(w) ...
 *   control_plane_stop(cp);
 *
 * /readyz is ready when the heartbeat reaches Redis (when Redis is
 * configured) and the caller's ready callback (if any) agrees. */
#ifndef QDECK_PLANE_H
#define QDECK_PLANE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "worker/sched.h"
#include "worker/worker.h"

struct control_plane_options {
    const struct config *cfg;             /* [worker] heartbeat, metrics_addr; [schedule NAME] */
    const struct context_config *ctx;     /* broker URLs */
    struct worker *worker;                /* report and metrics source; NULL: an empty report */
    const char *id;                       /* NULL: worker_id(worker), else heartbeat_make_id() */
    const char *version;
    const char *metrics_addr;             /* NULL: cfg->worker.metrics_addr; "" or NULL there: none */
    bool no_scheduler;                    /* leave scheduling to other processes */
    /* Extra readiness (brokers the worker consumes from); NULL: none. */
    bool (*ready)(void *arg, char *reason, size_t len);
    void *ready_arg;
    sched_publish_fn publish;             /* NULL: the scheduler's own publisher */
    sched_replay_fn replay;               /* NULL: replay jobs record "not available" */
    void *hook_ctx;
};

struct control_plane;

/* NULL with a reason only when something asked for cannot start (e.g. the
 * metrics port is taken); a missing Redis is not an error. */
struct control_plane *control_plane_start(const struct control_plane_options *opt, char *err, size_t errlen);
void control_plane_stop(struct control_plane *cp);   /* heartbeat "stopped", lease released; NULL is fine */
const char *control_plane_id(const struct control_plane *cp);
int control_plane_metrics_port(const struct control_plane *cp);   /* -1 when not serving */

#endif
