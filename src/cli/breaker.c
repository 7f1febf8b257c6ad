/* `qdeck breaker list | open NAME | close NAME | reset NAME | forget NAME`
 * [--json] [--force].
 *
 * list: each dependency's breaker as every live worker reports it in its
 * heartbeat (qdeck:worker:<id> JSON from the worker registry, field "breakers"), plus the operator
 * command in force (qdeck:breaker). open forces it open fleet-wide, close
 * forces it closed (DISABLED: every call goes through, nothing recorded),
 * reset returns it to normal operation (a fresh CLOSED). Workers apply a
 * command within 2 s; every command is refused in read-only mode and
 * audited with the old and new command. forget removes the operator
 * command's row (workers keep the state they have: reset first to undo an
 * open). A command on a dependency no live worker, config or existing row
 * knows needs --force, so a typo does not leave a phantom row. */
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "control/audit.h"
#include "control/fleet.h"
#include "control/keys.h"
#include "control/policy.h"
#include "control/policy-store.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "resilience/fleet-report.h"

#define BREAKER_USAGE "usage: qdeck breaker list [--json] | open NAME [--force] | close NAME [--force] | reset NAME | forget NAME [--json]"

const char breaker_usage[] = BREAKER_USAGE;

/* What list reads: every heartbeat (parsed) and the operator commands. */
struct fleet_read {
    cJSON **reports;
    size_t n;
    struct policy_entry *commands;
    size_t ncommands;
};

static void fleet_read_free(struct fleet_read *f)
{
    for (size_t i = 0; i < f->n; i++)
        cJSON_Delete(f->reports[i]);
    free(f->reports);
    policy_entries_free(f->commands, f->ncommands);
}

/* The heartbeats come from the worker registry (control/fleet.h), the
 * same read the console makes: no keyspace walk. */
static int collect(redisContext *c, struct fleet_read *f, char *err, size_t errlen)
{
    if (policy_breaker_fetch(c, &f->commands, &f->ncommands, err, errlen) < 0)
        return -1;
    struct fleet_table *t;
    if (fleet_read(c, NULL, clock_wall(), &t, err, errlen) < 0)
        return -1;
    f->reports = xcalloc(t->n ? t->n : 1, sizeof *f->reports);
    for (size_t i = 0; i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        if (w->vanished)
            continue;
        cJSON *hb = cJSON_Duplicate(w->report, 1);
        if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(hb, "id"))) {
            cJSON_DeleteItemFromObjectCaseSensitive(hb, "id");
            cJSON_AddStringToObject(hb, "id", w->id);
        }
        f->reports[f->n++] = hb;
    }
    fleet_table_free(t);
    return 0;
}

static int compare_reports(const void *a, const void *b)
{
    const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
    return strcmp(cJSON_GetObjectItemCaseSensitive(x, "id")->valuestring,
                  cJSON_GetObjectItemCaseSensitive(y, "id")->valuestring);
}

/* The entry a report has for dependency dep, in either heartbeat form. */
static const cJSON *report_breaker(const cJSON *report, const char *dep)
{
    const cJSON *breakers = cJSON_GetObjectItemCaseSensitive(report, "breakers"), *b;
    if (!cJSON_IsArray(breakers))
        return cJSON_GetObjectItemCaseSensitive(breakers, dep);
    cJSON_ArrayForEach(b, breakers)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
        if (cJSON_IsString(name) && strcmp(name->valuestring, dep) == 0)
            return b;
    }
    return NULL;
}

static void add_optional(cJSON *o, const char *key, double v)
{
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, v);
}

static void fmt_optional(char *buf, size_t len, const char *fmt, double v)
{
    if (v < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, fmt, v);
}

int breaker_list(redisContext *c, bool json)
{
    struct fleet_read f = {0};
    char err[512];
    if (collect(c, &f, err, sizeof err) < 0) {
        fleet_read_free(&f);
        return fail(EXIT_UNREACHABLE, "%s", err);
    }
    if (f.n > 1)
        qsort(f.reports, f.n, sizeof *f.reports, compare_reports);
    struct breaker_table_command *cmds = xcalloc(f.ncommands ? f.ncommands : 1, sizeof *cmds);
    for (size_t i = 0; i < f.ncommands; i++)
        cmds[i] = (struct breaker_table_command){f.commands[i].name, f.commands[i].value};
    struct breaker_table t;
    breaker_table_build((const cJSON *const *)f.reports, f.n, cmds, f.ncommands, &t);
    free(cmds);
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < t.n; i++) {
            const struct breaker_row *row = &t.rows[i];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", row->name);
            if (row->command)
                cJSON_AddStringToObject(o, "command", row->command);
            else
                cJSON_AddNullToObject(o, "command");
            cJSON_AddStringToObject(o, "state", row->workers ? breaker_state_name(row->worst) : "UNKNOWN");
            add_optional(o, "failure_rate", row->failure_rate);
            add_optional(o, "slow_rate", row->slow_rate);
            cJSON_AddNumberToObject(o, "calls", row->calls);
            cJSON_AddNumberToObject(o, "open_remaining", row->open_remaining);
            add_optional(o, "rate", row->rate);
            add_optional(o, "tokens", row->tokens);
            cJSON_AddNumberToObject(o, "throttled", row->throttled);
            cJSON *workers = cJSON_AddArrayToObject(o, "workers");
            for (size_t w = 0; w < f.n; w++) {
                const cJSON *b = report_breaker(f.reports[w], row->name);
                const cJSON *state = cJSON_GetObjectItemCaseSensitive(b, "state");
                if (!cJSON_IsString(state))
                    continue;
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "worker", cJSON_GetObjectItemCaseSensitive(f.reports[w], "id")->valuestring);
                cJSON_AddStringToObject(e, "state", state->valuestring);
                const char *fields[] = {"failure_rate", "slow_rate", "calls", "open_remaining"};
                for (size_t k = 0; k < 4; k++) {
                    const cJSON *v = cJSON_GetObjectItemCaseSensitive(b, fields[k]);
                    if (cJSON_IsNumber(v))
                        cJSON_AddNumberToObject(e, fields[k], v->valuedouble);
                }
                cJSON_AddItemToArray(workers, e);
            }
            cJSON_AddItemToArray(arr, o);
        }
        print_json(arr);
    } else {
        printf("%-20s %-9s %-11s %8s %6s %6s %9s %7s %9s  %s\n", "DEPENDENCY", "COMMAND", "STATE", "FAILURE%",
               "SLOW%", "CALLS", "HALF-OPEN", "TOKENS", "THROTTLED", "WORKERS");
        for (size_t i = 0; i < t.n; i++) {
            const struct breaker_row *row = &t.rows[i];
            char states[512], fr[16], sr[16], left[16], tokens[24];
            breaker_row_states(row, states, sizeof states);
            fmt_optional(fr, sizeof fr, "%.1f", row->failure_rate);
            fmt_optional(sr, sizeof sr, "%.1f", row->slow_rate);
            fmt_optional(tokens, sizeof tokens, "%.1f", row->tokens);
            if (row->open_remaining > 0)
                snprintf(left, sizeof left, "%.1fs", row->open_remaining);
            else
                snprintf(left, sizeof left, "-");
            printf("%-20s %-9s %-11s %8s %6s %6.0f %9s %7s %9.0f  %s\n", row->name, row->command ? row->command : "-",
                   row->workers ? breaker_state_name(row->worst) : "-", fr, sr, row->calls, left, tokens,
                   row->throttled, states);
        }
    }
    breaker_table_free(&t);
    fleet_read_free(&f);
    return EXIT_OK;
}

static int breaker_command(struct app *app, redisContext *c, const char *action, const char *command,
                           const char *dep, bool json)
{
    char err[512], aerr[512];
    char *old = NULL;
    bool forget = command == NULL;
    int rc = forget ? policy_breaker_forget(c, dep, &old, err, sizeof err)
                    : policy_breaker_command(c, dep, command, &old, err, sizeof err);
    struct audit_entry e = {.action = action, .target = dep, .old_value = old, .new_value = forget ? "none" : command,
                            .result = rc == 0 ? "ok" : err};
    if (audit_record(&app->cfg, app->ctx ? app->ctx->name : NULL, c, &e, aerr, sizeof aerr) < 0)
        fprintf(stderr, "qdeck: warning: %s\n", aerr);
    if (rc < 0) {
        free(old);
        return fail(EXIT_FAILED, "%s", err);
    }
    char line[600];
    if (forget)
        snprintf(line, sizeof line, "breaker %s: forgotten (its command was %s)", dep, old ? old : "none");
    else
        snprintf(line, sizeof line, "breaker %s: %s (was %s); workers apply it within 2 s", dep, command,
                 old ? old : "none");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", dep);
        if (forget)
            cJSON_AddNullToObject(o, "command");
        else
            cJSON_AddStringToObject(o, "command", command);
        if (old)
            cJSON_AddStringToObject(o, "was", old);
        else
            cJSON_AddNullToObject(o, "was");
        print_result_json(action, dep, true, line, o);
    } else {
        puts(line);
    }
    free(old);
    return EXIT_OK;
}

const struct arg_option breaker_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_FLAG("force", 0, "act on a dependency nobody knows (yet)"),
    OPT_END,
};

int cmd_breaker(struct app *app, const struct args *a)
{
    bool json = args_flag(a, "json"), force = args_flag(a, "force");
    if (a->nwords > 3)
        return fail(EXIT_USAGE, "breaker: too many arguments\n" BREAKER_USAGE);
    char *const *args = a->words + 1;
    int nargs = (int)a->nwords - 1;
    if (nargs == 0)
        return fail(EXIT_USAGE, BREAKER_USAGE);
    static const struct {
        const char *sub, *action, *command;   /* command NULL: forget */
    } commands[] = {
        {"open", "breaker.open", "open"},
        {"close", "breaker.close", "disabled"},
        {"reset", "breaker.reset", "reset"},
        {"forget", "breaker.forget", NULL},
    };
    int which = -1;
    for (int i = 0; i < (int)(sizeof commands / sizeof commands[0]); i++)
        if (strcmp(args[0], commands[i].sub) == 0)
            which = i;
    if (strcmp(args[0], "list") == 0 ? nargs != 1 : which < 0 || nargs != 2)
        return fail(EXIT_USAGE, BREAKER_USAGE);
    if (which >= 0) {
        const char *dep = args[1];
        if (!*dep || strpbrk(dep, " \t\r\n"))
            return fail(EXIT_USAGE, "breaker name '%s' is empty or holds spaces", dep);
        if (control_read_only(app))
            return control_refuse(app, commands[which].action, dep,
                                  commands[which].command ? commands[which].command : "none");
    }
    redisContext *c;
    int rc = control_connect(app, &c);
    if (rc != EXIT_OK)
        return rc;
    if (which < 0)
        rc = breaker_list(c, json);
    else if (commands[which].command && (rc = control_require_known(app, c, args[1], false, force)) != EXIT_OK)
        ;   /* said */
    else
        rc = breaker_command(app, c, commands[which].action, commands[which].command, args[1], json);
    redisFree(c);
    return rc;
}
