/* The policy watcher: a worker's thread with two connections of its own,
 * one SUBSCRIBEd to qdeck:policy:changed and one for reads, that reloads
 * everything on each message and every second anyway (a missed message
 * costs at most a second), and publishes an immutable, refcounted
 * `struct policy` (control/policy.h) that worker threads take with
 * policy_watcher_get (a mutex held for one increment) or check cheaply with
 * policy_watcher_version. */
#ifndef QDECK_POLICY_WATCHER_H
#define QDECK_POLICY_WATCHER_H

#include <stdint.h>

#include "control/policy.h"

struct policy_watcher;

/* Starts the watcher thread; it keeps trying while Redis is away (the
 * current snapshot stays, `loaded` false until the first answer). */
struct policy_watcher *policy_watcher_start(const char *redis_url, double timeout);
void policy_watcher_stop(struct policy_watcher *w);
/* The current snapshot, referenced (policy_release it). Never NULL. */
struct policy *policy_watcher_get(struct policy_watcher *w);
/* Changes with every new snapshot: compare to decide whether to get it. */
uint64_t policy_watcher_version(struct policy_watcher *w);
/* Blocks until a snapshot with version > `after` or timeout seconds; the new version. */
uint64_t policy_watcher_wait(struct policy_watcher *w, uint64_t after, double timeout);

#endif
