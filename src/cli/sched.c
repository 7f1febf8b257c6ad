/* `qdeck sched list | run NAME | pause NAME | resume NAME`: the fleet's
 * periodic jobs (worker/sched.h). The jobs are the config's [schedule NAME]
 * sections; their state (next and last run, last result, paused) is read
 * from Redis, where the scheduler leader keeps it. run, pause and resume
 * change the fleet: refused in read-only mode, written to the audit log.
 * `run` asks the leader to run the job at its next tick and waits for the
 * result. */
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/app.h"
#include "control/audit.h"
#include "core/clock.h"
#include "net/redis-open.h"
#include "worker/sched.h"

#define SCHED_USAGE "usage: qdeck sched list | run NAME [--no-wait] | pause NAME | resume NAME [--json]"

const char sched_usage[] = SCHED_USAGE;

static bool read_only(const struct app *app)
{
    return app->ov.read_only || (app->ctx && app->ctx->read_only);
}



static const char *job_target(const struct schedule_config *j)
{
    if (j->action && strcmp(j->action, "trim") == 0)
        return j->pattern ? j->pattern : "-";
    if (j->action && strcmp(j->action, "probe") == 0)
        return "brokers";
    return j->queue ? j->queue : "-";
}

static redisContext *connect_control(struct app *app, int *rc)
{
    char err[512];
    if (!app->ctx || !app->ctx->redis) {
        *rc = fail(EXIT_USAGE, "the scheduler keeps its state in Redis: give --redis URL, set QDECK_REDIS_URL, "
                               "or put redis = URL in the context");
        return NULL;
    }
    redisContext *c = redis_open(app->ctx->redis, app->ctx->timeout, 0, err, sizeof err);
    if (!c)
        *rc = fail(EXIT_UNREACHABLE, "%s", err);
    return c;
}

static int sched_list(struct app *app, bool json)
{
    int rc = EXIT_OK;
    redisContext *c = connect_control(app, &rc);
    if (!c)
        return rc;
    char err[512], leader[256];
    if (sched_leader(c, leader, sizeof leader, err, sizeof err) < 0) {
        redisFree(c);
        return fail(EXIT_UNREACHABLE, "%s", err);
    }
    cJSON *root = cJSON_CreateObject();
    if (leader[0])
        cJSON_AddStringToObject(root, "leader", leader);
    else
        cJSON_AddNullToObject(root, "leader");
    cJSON *jobs = cJSON_AddArrayToObject(root, "jobs");
    if (!json) {
        printf("scheduler leader: %s\n", leader[0] ? leader : "none (no worker runs the scheduler now)");
        printf("%-20s %-22s %-8s %-24s %-7s %-12s %-12s %s\n", "NAME", "SCHEDULE", "ACTION", "TARGET", "STATE",
               "NEXT", "LAST", "RESULT");
    }
    for (size_t i = 0; i < app->cfg.nschedules; i++) {
        const struct schedule_config *j = &app->cfg.schedules[i];
        struct sched_job_state st;
        if (sched_job_read(c, j->name, &st, err, sizeof err) < 0) {
            cJSON_Delete(root);
            redisFree(c);
            return fail(EXIT_UNREACHABLE, "%s", err);
        }
        char when[300], next[64], last[64];
        bool valid = sched_describe(j, when, sizeof when) == 0;
        bool paused = st.paused_set ? st.paused : j->paused;
        const char *state = !valid ? "invalid" : paused ? "paused" : "active";
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", j->name);
        cJSON_AddStringToObject(o, "schedule", when);
        cJSON_AddStringToObject(o, "action", j->action ? j->action : "");
        cJSON_AddStringToObject(o, "target", job_target(j));
        cJSON_AddStringToObject(o, "state", state);
        cJSON_AddBoolToObject(o, "paused", paused);
        format_time(st.next_run, "%Y-%m-%dT%H:%M:%SZ", 1, next, sizeof next);
        format_time(st.last_run, "%Y-%m-%dT%H:%M:%SZ", 1, last, sizeof last);
        if (isnan(st.next_run))
            cJSON_AddNullToObject(o, "next_run");
        else
            cJSON_AddStringToObject(o, "next_run", next);
        if (isnan(st.last_run))
            cJSON_AddNullToObject(o, "last_run");
        else
            cJSON_AddStringToObject(o, "last_run", last);
        if (st.last_result[0])
            cJSON_AddStringToObject(o, "last_result", st.last_result);
        else
            cJSON_AddNullToObject(o, "last_result");
        cJSON_AddNumberToObject(o, "runs", (double)st.runs);
        cJSON_AddBoolToObject(o, "run_requested", st.run_requested);
        cJSON_AddItemToArray(jobs, o);
        if (!json) {
            format_relative(st.next_run, next, sizeof next);
            format_relative(st.last_run, last, sizeof last);
            printf("%-20s %-22s %-8s %-24s %-7s %-12s %-12s %s\n", j->name, when, j->action ? j->action : "-",
                   job_target(j), state, paused ? "-" : next, last, st.last_result[0] ? st.last_result : "-");
        }
    }
    if (json)
        print_json(root);
    else
        cJSON_Delete(root);
    if (!json && app->cfg.nschedules == 0)
        printf("(no [schedule NAME] sections in the config)\n");
    redisFree(c);
    return EXIT_OK;
}

static int audit(struct app *app, redisContext *c, const char *action, const char *target, const char *old_value,
                 const char *new_value, const char *result)
{
    char err[512];
    struct audit_entry e = {.action = action, .target = target, .old_value = old_value, .new_value = new_value,
                            .result = result};
    if (audit_record(&app->cfg, app->ctx ? app->ctx->name : NULL, c, &e, err, sizeof err) < 0) {
        fprintf(stderr, "qdeck: warning: audit log: %s\n", err);
        return -1;
    }
    return 0;
}

/* Waits for the leader to run the job (its run count to grow). */
static int wait_for_run(redisContext *c, const char *name, long runs_before, double timeout,
                        struct sched_job_state *st, char *err, size_t errlen)
{
    double deadline = clock_mono() + timeout;
    while (clock_mono() < deadline) {
        if (sched_job_read(c, name, st, err, errlen) < 0)
            return -1;
        if (st->runs > runs_before)
            return 1;
        usleep(100000);
    }
    return 0;
}

/* What run/pause/resume did: a line, or with --json one object. */
static void say(bool json, const char *action, const char *name, const char *result)
{
    if (json)
        print_result_json(action, name, true, result, NULL);
    else
        printf("%s\n", result);
}

static int sched_mutate(struct app *app, const char *sub, const char *name, bool wait, bool json)
{
    char action[32];
    snprintf(action, sizeof action, "sched.%s", sub);
    if (!config_schedule(&app->cfg, name)) {
        return fail(EXIT_FAILED, "no schedule '%s' in the config (qdeck sched list shows them)", name);
    }
    if (read_only(app)) {
        audit(app, NULL, action, name, NULL, NULL, "refused: read-only");
        return fail(EXIT_FAILED, "read-only mode: refusing sched %s %s (--read-only, or read_only = true in context %s)",
                    sub, name, app->ctx ? app->ctx->name : "-");
    }
    int rc = EXIT_OK;
    redisContext *c = connect_control(app, &rc);
    if (!c)
        return rc;
    char err[512];
    if (strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0) {
        bool pause = strcmp(sub, "pause") == 0, was;
        if (sched_job_set_paused(c, name, pause, &was, err, sizeof err) < 0) {
            audit(app, NULL, action, name, NULL, pause ? "paused" : "active", err);
            redisFree(c);
            return fail(EXIT_UNREACHABLE, "%s", err);
        }
        audit(app, c, action, name, was ? "paused" : "active", pause ? "paused" : "active", "ok");
        char line[300];
        snprintf(line, sizeof line, "%s %s", pause ? "paused" : "resumed", name);
        say(json, action, name, line);
        redisFree(c);
        return EXIT_OK;
    }
    struct sched_job_state before, after;
    char leader[256] = "";
    if (sched_job_read(c, name, &before, err, sizeof err) < 0 || sched_leader(c, leader, sizeof leader, err, sizeof err) < 0 ||
        sched_job_request_run(c, name, err, sizeof err) < 0) {
        audit(app, NULL, action, name, NULL, NULL, err);
        redisFree(c);
        return fail(EXIT_UNREACHABLE, "%s", err);
    }
    audit(app, c, action, name, NULL, NULL, "requested");
    char line[800];
    if (!wait) {
        snprintf(line, sizeof line, "requested a run of %s", name);
        say(json, action, name, line);
    } else if (!leader[0]) {
        snprintf(line, sizeof line, "requested a run of %s; no scheduler leader is running now: it runs when one "
                                    "takes the lease", name);
        say(json, action, name, line);
    } else {
        int got = wait_for_run(c, name, before.runs, 10, &after, err, sizeof err);
        if (got < 0) {
            redisFree(c);
            return fail(EXIT_UNREACHABLE, "%s", err);
        }
        if (got == 0) {
            redisFree(c);
            return fail(EXIT_FAILED, "requested a run of %s, but leader %s has not run it within 10s", name, leader);
        }
        snprintf(line, sizeof line, "ran %s on %s: %s", name, after.leader, after.last_result);
        say(json, action, name, line);
    }
    redisFree(c);
    return EXIT_OK;
}

const struct arg_option sched_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_FLAG("no-wait", 0, "run: return once the run is requested, not when it ran"),
    OPT_END,
};

int cmd_sched(struct app *app, const struct args *a)
{
    if (a->nwords < 2)
        return fail(EXIT_USAGE, SCHED_USAGE);
    const char *sub = a->words[1];
    bool json = args_flag(a, "json"), wait = !args_flag(a, "no-wait");
    if (a->nwords > 3)
        return fail(EXIT_USAGE, "sched: too many arguments\n" SCHED_USAGE);
    const char *name = a->nwords > 2 ? a->words[2] : NULL;
    if (strcmp(sub, "list") == 0) {
        if (name)
            return fail(EXIT_USAGE, "sched list takes no name\n" SCHED_USAGE);
        return sched_list(app, json);
    }
    if (strcmp(sub, "run") == 0 || strcmp(sub, "pause") == 0 || strcmp(sub, "resume") == 0) {
        if (!name)
            return fail(EXIT_USAGE, "sched %s needs a NAME\n" SCHED_USAGE, sub);
        return sched_mutate(app, sub, name, wait, json);
    }
    return fail(EXIT_USAGE, "sched: unknown subcommand '%s'\n" SCHED_USAGE, sub);
}
