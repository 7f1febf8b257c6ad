/* The demo's fleet: besides the embedded worker pool, two `qdeck worker`
 * child processes on the same private Redis and the same config, so the
 * Workers view, the Overview and the screenshots show a fleet. Each is
 * killed with its parent (PR_SET_PDEATHSIG), logs to a file in the demo's
 * temp directory (never onto the console's screen) and is stopped by its
 * own pid. */
#ifndef QDECK_DEMO_WORKER_CHILDREN_H
#define QDECK_DEMO_WORKER_CHILDREN_H

#include <stddef.h>
#include <sys/types.h>

#define DEMO_CHILD_WORKERS 2

struct worker_children {
    pid_t pids[DEMO_CHILD_WORKERS];
    size_t n;
    char conf[160];
};

/* Writes dir/workers.conf ([context demo] redis = redis_url, then
 * config_text) and starts the children. -1 with a reason. */
int worker_children_start(struct worker_children *wc, const char *dir, const char *redis_url,
                          const char *config_text, char *err, size_t errlen);
/* SIGTERM, a few seconds to drain, then SIGKILL; removes the file. */
void worker_children_stop(struct worker_children *wc);

#endif
