/* The actions of scheduled jobs (worker/sched.h): publish, replay, trim,
 * probe. */
#ifndef QDECK_SCHED_ACTIONS_H
#define QDECK_SCHED_ACTIONS_H

#include <hiredis/hiredis.h>
#include <stddef.h>

#include "core/config.h"

/* A hook runs one job's action on the scheduler thread; returns 0 or -1 and
 * writes a one-line result ("published 1 task to amqp:reports"). */
typedef int (*sched_publish_fn)(void *ctx, const struct schedule_config *job, char *result, size_t len);
typedef int (*sched_replay_fn)(void *ctx, const struct schedule_config *job, char *result, size_t len);

/* What an action may use: the scheduler's connection and its hooks. */
struct sched_action_env {
    redisContext *redis;                  /* the control plane (trim, Redis publish) */
    const char *control_url;              /* probed when the context has no Redis */
    const struct context_config *ctx;     /* the brokers; may be NULL */
    sched_publish_fn publish;             /* NULL: the built-in publisher */
    sched_replay_fn replay;               /* NULL: replay records "not available" */
    void *hook_ctx;
};

/* Runs job's action; due names the run (the idempotency key of a
 * publish). 0 or -1, with a one-line result either way. */
int sched_run_action(const struct sched_action_env *env, const struct schedule_config *job, const char *due,
                     char *result, size_t len);

#endif
