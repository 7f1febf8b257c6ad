/* Which queues, dependencies and task types the fleet knows, so that an
 * operator command on a name nobody knows ("qdeck breaker open nosuchdep",
 * ":set queue.nope.paused true") is caught before it leaves a phantom row
 * in the control plane. The CLI and the console fill a set from what they
 * have (live heartbeats, the config, the brokers' queues, rows already in
 * the control plane) and ask it about one name. */
#ifndef QDECK_CONTROL_NAMES_H
#define QDECK_CONTROL_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "control/fleet.h"
#include "core/config.h"

enum name_kind { NAME_QUEUE, NAME_DEP, NAME_TASK };

struct known_names {
    char **names;
    enum name_kind *kinds;
    size_t n, cap;
};

void known_names_add(struct known_names *k, enum name_kind kind, const char *name);
/* Every running worker's queues, breakers (dependencies) and task types. */
void known_names_add_fleet(struct known_names *k, const struct fleet_table *t);
/* [worker] queues, every [task NAME] and [dependency NAME]. */
void known_names_add_config(struct known_names *k, const struct config *cfg);
/* A queue matches with or without its kind: "orders" knows "amqp:orders". */
bool known_names_has(const struct known_names *k, enum name_kind kind, const char *name);
/* For a guardrail: true when it is fleet-wide or the queue, dependency or
 * task it names is known; false with what is unknown ("queue 'nope'"). */
bool known_names_guardrail(const struct known_names *k, const char *guardrail, char *what, size_t len);
void known_names_free(struct known_names *k);
/* Two queue names are one queue, with or without the kind:
 * "orders" is "amqp:orders"; "amqp:orders" is not "redis:orders". */
bool queue_names_same(const char *a, const char *b);
/* The queue a queue.NAME.KEY guardrail names, into queue; false for any
 * other guardrail. */
bool guardrail_queue(const char *guardrail, char *queue, size_t len);

#endif
