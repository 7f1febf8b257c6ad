/* The guardrails that apply to one queue, as the policy snapshot
 * (control/policy.h) hands them to load shedding (resilience/shed.h). The
 * type lives here, below both, so the control plane's protocol does not
 * look up at resilience. docs/control-plane.md lists the guardrails. */
#ifndef QDECK_SHED_RULES_H
#define QDECK_SHED_RULES_H

#include <stdbool.h>

/* -1: off. */
struct shed_guardrails {
    int priority_below;
    long max_depth;
    bool paused;
    bool auto_shed;
    int auto_priority;          /* shed.auto sheds priority below this */
};

#endif
