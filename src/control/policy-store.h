/* The guardrails in Redis (docs/control-plane.md): hash qdeck:policy (name
 * -> canonical value), hash qdeck:policy:meta (name -> {"by","at"} of the
 * last change), hash qdeck:breaker (dependency -> open | disabled | reset);
 * every change is followed by PUBLISH qdeck:policy:changed <name> (or
 * "breaker:<dep>"). Writes validate first (control/policy.h). */
#ifndef QDECK_POLICY_STORE_H
#define QDECK_POLICY_STORE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#include "control/policy.h"

/* The message published on CHANNEL_POLICY for a breaker command is this
 * prefix and the dependency; any other message is a guardrail's name. */
#define POLICY_BREAKER_MESSAGE "breaker:"

/* Connects to a Redis URL (redis://[:pass@]host:port/db, unix:///path),
 * authenticates and selects the db. NULL with a message (never the password). */
redisContext *policy_connect(const char *url, double timeout, char *err, size_t errlen);

struct policy_item {
    char *name, *value;
    char *by, *at;           /* NULL when the meta hash has nothing */
};
/* Every name -> value in qdeck:policy, sorted, without meta. */
int policy_values_fetch(redisContext *c, struct policy_entry **items, size_t *n, char *err, size_t errlen);
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

#endif
