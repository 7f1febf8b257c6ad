/* Applying the guardrails in a policy snapshot (control/policy.h) to a
 * worker's dependencies (resilience/dependency.h): the worker wires policy
 * to resilience, so neither of those two knows the other. */
#ifndef QDECK_WORKER_APPLY_POLICY_H
#define QDECK_WORKER_APPLY_POLICY_H

#include "control/policy.h"
#include "resilience/dependency.h"

/* Applies a policy snapshot: rate overrides, fallback switches, breaker
 * commands (each command generation once). Cheap; call it whenever the
 * watcher's version changes. */
void dependency_set_apply_policy(struct dependency_set *s, const struct policy *p);

#endif
