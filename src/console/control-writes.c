/* Control-plane writes as write-queue jobs (see control-writes.h). The job
 * carries copies of what it needs (the URL, the context's name); the
 * config outlives the queue, which the console stops first. */
#include "console/control-writes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/audit.h"
#include "control/policy.h"
#include "control/policy-store.h"
#include "control/sched-state.h"
#include "core/identity.h"
#include "core/log.h"
#include "core/xalloc.h"

struct control_job {
    const struct config *cfg;
    char *url, *context;
    double timeout;
    char *name, *value;       /* guardrail and value, or job and verb */
    size_t workers;
    bool refused;
};

static void control_job_free(void *arg)
{
    struct control_job *j = arg;
    free(j->url);
    free(j->context);
    free(j->name);
    free(j->value);
    free(j);
}

static struct control_job *control_job_new(const struct config *cfg, const struct context_config *ctx,
                                           const char *name, const char *value)
{
    struct control_job *j = xcalloc(1, sizeof *j);
    j->cfg = cfg;
    j->url = ctx->redis ? xstrdup(ctx->redis) : NULL;
    j->context = ctx->name ? xstrdup(ctx->name) : NULL;
    j->timeout = ctx->timeout > 0 ? ctx->timeout : 5;
    j->name = xstrdup(name);
    j->value = xstrdup(value);
    return j;
}

void control_guardrail_line(const char *name, const char *value, const char *old, size_t workers, char *out,
                            size_t len)
{
    const char *was = old ? old : policy_default(name);
    if (!was)
        was = "unset";
    size_t nlen = strlen(name);
    const char *suffix = ".paused";
    size_t slen = strlen(suffix);
    const char *plural = workers == 1 ? "" : "s";
    if (strncmp(name, "queue.", 6) == 0 && nlen > 6 + slen && strcmp(name + nlen - slen, suffix) == 0)
        snprintf(out, len, "%s %.*s on %zu worker%s (%s = %s, was %s)", strcmp(value, "true") == 0 ? "paused" : "resumed",
                 (int)(nlen - 6 - slen), name + 6, workers, plural, name, value, was);
    else
        snprintf(out, len, "%s = %s (was %s) on %zu worker%s", name, value, was, workers, plural);
}

static int run_guardrail(void *arg, char *result, size_t len)
{
    struct control_job *j = arg;
    char who[200], canonical[128], err[256] = "";
    identity_actor(who, sizeof who);
    size_t n = strlen(who);
    snprintf(who + n, sizeof who - n, " (console)");
    redisContext *c = policy_connect(j->url, j->timeout, err, sizeof err);
    if (!c) {
        snprintf(result, len, "%s not changed: %s", j->name, err);
        return -1;
    }
    char *old = NULL;
    bool invalid = false;
    int rc = policy_set(c, j->name, j->value, who, &old, canonical, sizeof canonical, &invalid, err, sizeof err);
    if (rc == 0)
        control_guardrail_line(j->name, canonical, old, j->workers, result, len);
    else
        snprintf(result, len, "%s", err);
    struct audit_entry e = {"policy.set", j->name, old, rc == 0 ? canonical : j->value, rc == 0 ? "ok" : err};
    char aerr[256];
    if (audit_record(j->cfg, j->context, c, &e, aerr, sizeof aerr) < 0 && rc == 0) {
        snprintf(result, len, "%s = %s, but %s", j->name, canonical, aerr);
        rc = -1;
    }
    free(old);
    redisFree(c);
    return rc;
}

unsigned long control_write_guardrail(struct console_writes *w, const struct config *cfg,
                                      const struct context_config *ctx, const char *name, const char *canonical,
                                      size_t workers)
{
    struct control_job *j = control_job_new(cfg, ctx, name, canonical);
    j->workers = workers;
    char label[400];
    snprintf(label, sizeof label, "setting %s = %s", name, canonical);
    return writes_enqueue(w, label, run_guardrail, control_job_free, j);
}

const char *control_breaker_action(const char *command)
{
    return !strcmp(command, "open") ? "breaker.open" : !strcmp(command, "disabled") ? "breaker.close" : "breaker.reset";
}

/* name: the dependency; value: the command. */
static int run_breaker(void *arg, char *result, size_t len)
{
    struct control_job *j = arg;
    char err[512];
    redisContext *c = policy_connect(j->url, j->timeout, err, sizeof err);
    if (!c) {
        snprintf(result, len, "breaker %s: %s", j->name, err);
        return -1;
    }
    char *old = NULL;
    int rc = policy_breaker_command(c, j->name, j->value, &old, err, sizeof err);
    struct audit_entry e = {.action = control_breaker_action(j->value), .target = j->name, .old_value = old,
                            .new_value = j->value, .result = rc == 0 ? "ok" : err};
    char aerr[512];
    audit_record(j->cfg, j->context, c, &e, aerr, sizeof aerr);
    if (rc == 0)
        snprintf(result, len, "breaker %s: %s sent to %zu worker%s (was %s); they apply it within 2 s", j->name,
                 j->value, j->workers, j->workers == 1 ? "" : "s", old ? old : "none");
    else
        snprintf(result, len, "breaker %s: %s", j->name, err);
    free(old);
    redisFree(c);
    return rc;
}

unsigned long control_write_breaker(struct console_writes *w, const struct config *cfg,
                                    const struct context_config *ctx, const char *dep, const char *command,
                                    size_t workers)
{
    struct control_job *j = control_job_new(cfg, ctx, dep, command);
    j->workers = workers;
    j->timeout = 2;   /* as the Breakers view always waited */
    char label[400];
    snprintf(label, sizeof label, "breaker %s: sending %s", dep, command);
    return writes_enqueue(w, label, run_breaker, control_job_free, j);
}

/* name: the job; value: the verb. */
static int run_sched(void *arg, char *result, size_t len)
{
    struct control_job *j = arg;
    char err[300] = "", action[32];
    snprintf(action, sizeof action, "sched.%s", j->value);
    bool run = strcmp(j->value, "run") == 0, pause = strcmp(j->value, "pause") == 0;
    const char *outcome = "ok";
    bool was = false;
    int rc = 0;
    redisContext *c = NULL;
    if (j->refused) {
        outcome = "refused: read-only";
        snprintf(result, len, "read-only mode: refusing %s %s (audited)", j->value, j->name);
    } else if (!(c = policy_connect(j->url, j->timeout, err, sizeof err))) {
        rc = -1;
        outcome = err;
        snprintf(result, len, "%s of %s failed: %s", j->value, j->name, err);
    } else if (run) {
        rc = sched_job_request_run(c, j->name, err, sizeof err);
        outcome = rc == 0 ? "requested" : err;
        snprintf(result, len, rc == 0 ? "run of %s requested: the leader runs it at its next tick" : "run of %s failed: %s",
                 j->name, err);
    } else {
        rc = sched_job_set_paused(c, j->name, pause, &was, err, sizeof err);
        outcome = rc == 0 ? "ok" : err;
        snprintf(result, len, rc == 0 ? "%s %s" : "%s %s failed: %s", pause ? "paused" : "resumed", j->name, err);
    }
    if (j->refused && j->url)
        c = policy_connect(j->url, j->timeout, err, sizeof err);   /* the refusal goes to qdeck:audit too */
    struct audit_entry e = {.action = action, .target = j->name,
                            .old_value = run || j->refused || rc ? NULL : was ? "paused" : "active",
                            .new_value = pause ? "paused" : strcmp(j->value, "resume") == 0 ? "active" : NULL,
                            .result = outcome};
    char aerr[300];
    if (audit_record(j->cfg, j->context, c, &e, aerr, sizeof aerr) < 0)
        log_warn("console: audit: %s", aerr);
    if (c)
        redisFree(c);
    return rc;
}

unsigned long control_write_sched(struct console_writes *w, const struct config *cfg,
                                  const struct context_config *ctx, const char *verb, const char *job, bool refused)
{
    struct control_job *j = control_job_new(cfg, ctx, job, verb);
    j->refused = refused;
    char label[400];
    snprintf(label, sizeof label, "%s %s", verb, job);
    return writes_enqueue(w, label, run_sched, control_job_free, j);
}
