/* Guardrails in the control plane (SPEC "Guardrails", "Control plane").
 *
 * Storage in Redis: hash qdeck:policy (name -> canonical value), hash
 * qdeck:policy:meta (name -> {"by","at"} of the last change), hash
 * qdeck:breaker (dependency -> open | disabled | reset); every change is
 * followed by PUBLISH qdeck:policy:changed <name> (or "breaker:<dep>").
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
 * A <name> may hold dots and colons (queue.amqp:orders.v2.paused): the kind
 * is the last segment.
 *
 * Workers run a watcher: a thread with two connections of its own, one
 * SUBSCRIBEd to the channel and one for reads, that reloads everything on
 * each message and every second anyway (a missed message costs at most a
 * second), and publishes an immutable, refcounted `struct policy` that
 * worker threads take with policy_watcher_get (a mutex held for one
 * increment) or check cheaply with policy_watcher_version. */
#ifndef QDECK_POLICY_H
#define QDECK_POLICY_H

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resilience/shed.h"

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
/* The value a guardrail has when nobody set it ("off", "false"). */
const char *policy_default(const char *name);

/* ---------------------------------------------------------- snapshots */

/* Builds a snapshot (refs 1) from name/value pairs and breaker commands;
 * invalid pairs are skipped with a warning. */
struct policy *policy_build(const struct policy_entry *pairs, size_t n, const struct policy_breaker *breakers,
                            size_t nbreakers, uint64_t version);
struct policy *policy_ref(struct policy *p);
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

/* ---------------------------------------------------------- Redis */

/* Connects to a Redis URL (redis://[:pass@]host:port/db, unix:///path),
 * authenticates and selects the db. NULL with a message (never the password). */
redisContext *policy_connect(const char *url, double timeout, char *err, size_t errlen);

struct policy_item {
    char *name, *value;
    char *by, *at;           /* NULL when the meta hash has nothing */
};
/* Every guardrail set in qdeck:policy with its meta, sorted. */
int policy_fetch(redisContext *c, struct policy_item **items, size_t *n, char *err, size_t errlen);
void policy_items_free(struct policy_item *items, size_t n);

/* Validates, then writes the value, its meta (by = who) and publishes the
 * change, atomically (MULTI/EXEC). *old_value: the previous value or NULL
 * (caller frees). 0, or -1 with a message; *invalid tells a refused value
 * from a Redis failure. */
int policy_set(redisContext *c, const char *name, const char *value, const char *who, char **old_value,
               char *canonical, size_t canlen, bool *invalid, char *err, size_t errlen);

/* Removes a guardrail (and its meta) so every worker falls back to its
 * default, and publishes the change. *old_value: what was set, NULL when
 * nothing was. 0, or -1 with a message. */
int policy_unset(redisContext *c, const char *name, char **old_value, char *err, size_t errlen);
/* Removes dep's operator command from qdeck:breaker and publishes it. A
 * worker keeps the breaker state it has; this clears the row. */
int policy_breaker_forget(redisContext *c, const char *dep, char **old_value, char *err, size_t errlen);

/* Breaker commands: HSET qdeck:breaker dep command + PUBLISH. command is
 * open | disabled | reset. *old_value as above. */
int policy_breaker_command(redisContext *c, const char *dep, const char *command, char **old_value, char *err,
                           size_t errlen);
/* Every dependency -> command in qdeck:breaker. */
int policy_breaker_fetch(redisContext *c, struct policy_entry **items, size_t *n, char *err, size_t errlen);
void policy_entries_free(struct policy_entry *items, size_t n);

/* ---------------------------------------------------------- watcher */

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
