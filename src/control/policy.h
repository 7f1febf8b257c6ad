/* Guardrails in the control plane (docs/control-plane.md): their names,
 * validation, and the immutable, refcounted snapshot a worker reads. Redis
 * reads and writes are control/policy-store.h; the thread that keeps a
 * snapshot current is control/policy-watcher.h.
 *
 * Names and types (values are stored canonical: "off", "true"/"false",
 * integers, "N/s"):
 *   shed.priority_below        int|off
 *   shed.auto                  bool
 *   budget.max_response_tokens int|off
 *   queue.<name>.max_depth     int|off
 *   queue.<name>.paused        bool
 *   dep.<name>.rate            n/s (a positive number, "/s" optional) | off
 *   dep.<name>.fallback        bool
 *   task.<type>.max_runtime_ms int|off
 *   task.<type>.rate           n/s | off: a Celery task's rate_limit, sent
 *                              by the console's Celery collector
 * A <name> may hold dots and colons (queue.amqp:orders.v2.paused): the kind
 * is the last segment.
 */
#ifndef QDECK_POLICY_H
#define QDECK_POLICY_H

#include <cjson/cJSON.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/shed-rules.h"

struct policy_queue {
    char *name;
    long max_depth;          /* -1: off */
    bool paused;
};

struct policy_dep {
    char *name;
    double rate;             /* -1: not set (the config's rate applies); 0: off (unlimited) */
    bool fallback;
};

struct policy_task {
    char *name;
    long max_runtime_ms;     /* -1: off */
};

struct policy_entry {
    char *name, *value;
};

/* A control-plane command for one dependency's breaker. The generation
 * changes whenever the command is (re)issued: hand it to
 * breaker_apply_command, which acts once per generation. */
struct policy_breaker {
    char *dep;
    char *command;           /* open | disabled | reset */
    uint64_t generation;
};

struct policy {
    _Atomic int refs;
    uint64_t version;        /* increases with every change the watcher saw; 0: nothing loaded yet */
    bool loaded;             /* false until Redis answered once */
    int shed_priority_below; /* -1: off */
    bool shed_auto;
    long budget_max_response_tokens;   /* -1: off */
    struct policy_queue *queues;
    size_t nqueues;
    struct policy_dep *deps;
    size_t ndeps;
    struct policy_task *tasks;
    size_t ntasks;
    struct policy_entry *entries;      /* every valid guardrail set, sorted by name */
    size_t nentries;
    struct policy_breaker *breakers;
    size_t nbreakers;
};

/* ---------------------------------------------------------- validation */

enum policy_type { POLICY_INT_OFF, POLICY_BOOL, POLICY_RATE };

/* The fleet-wide guardrails every list shows, with their defaults. */
struct policy_global {
    const char *name;
    enum policy_type type;
    const char *fallback;
    const char *help;
};
extern const struct policy_global policy_globals[];
extern const size_t policy_nglobals;

/* Checks a name: 0 (with its type), or -1 and a message naming the known
 * guardrails. */
int policy_check_name(const char *name, enum policy_type *type, char *err, size_t errlen);
/* Checks name and value and writes the canonical value. 0 or -1 with a
 * message ("shed.priority_below wants an integer >= 0 or off, got 'x'"). */
int policy_validate(const char *name, const char *value, char *canonical, size_t canlen, char *err, size_t errlen);
/* A name of 1-400 characters with no space or control character (a
 * guardrail's <name>, a dependency). */
bool policy_printable_name(const char *s);
/* The value a guardrail has when nobody set it ("off", "false"). */
const char *policy_default(const char *name);

/* ---------------------------------------------------------- snapshots */

/* Builds a snapshot (refs 1) from name/value pairs and breaker commands;
 * invalid pairs are skipped with a warning. */
struct policy *policy_build(const struct policy_entry *pairs, size_t n, const struct policy_breaker *breakers,
                            size_t nbreakers, uint64_t version);
struct policy *policy_ref(struct policy *p);
/* Orders policy_entry by name (qsort, bsearch). */
int policy_entry_compare(const void *a, const void *b);
void policy_release(struct policy *p);

const struct policy_queue *policy_queue(const struct policy *p, const char *queue);
const struct policy_dep *policy_dep(const struct policy *p, const char *dep);
const struct policy_task *policy_task(const struct policy *p, const char *type);
const char *policy_value(const struct policy *p, const char *name);   /* set value or default; NULL: unknown */
/* The guardrails for one queue, ready for shed_decide. A queue address
 * ("amqp:orders") also matches guardrails set on the bare name ("orders"). */
void policy_shed_guardrails(const struct policy *p, const char *queue, int auto_priority,
                            struct shed_guardrails *out);
/* {"version": N, "values": {name: value, ...}, "breakers": {dep: command}}:
 * what a worker reports in its heartbeat as applied. */
cJSON *policy_applied_json(const struct policy *p);

#endif
