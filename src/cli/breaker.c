/* `qdeck breaker list [--json] | open NAME | close NAME | reset NAME`.
 *
 * list: each dependency's breaker as every live worker reports it in its
 * heartbeat (qdeck:worker:* JSON, field "breakers"), plus the operator
 * command in force (qdeck:breaker). open forces it open fleet-wide, close
 * forces it closed (DISABLED: every call goes through, nothing recorded),
 * reset returns it to normal operation (a fresh CLOSED). Workers apply a
 * command within 2 s; every command is refused in read-only mode and
 * audited with the old and new command. */
#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "control/audit.h"
#include "control/keys.h"
#include "control/policy.h"
#include "core/xalloc.h"

#define BREAKER_USAGE "usage: qdeck breaker list [--json] | open NAME | close NAME | reset NAME"
#define SCAN_CAP 10000

struct report {
    char *worker;
    char *state;
    double failure_rate, slow_rate, calls;
};

struct dep_row {
    char *name;
    char *command;            /* from qdeck:breaker, or NULL */
    struct report *reports;
    size_t nreports;
};

struct table {
    struct dep_row *rows;
    size_t n;
};

static struct dep_row *row_for(struct table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->rows[i].name, name) == 0)
            return &t->rows[i];
    t->rows = xrealloc(t->rows, (t->n + 1) * sizeof *t->rows);
    t->rows[t->n] = (struct dep_row){.name = xstrdup(name)};
    return &t->rows[t->n++];
}

static double number_or(const cJSON *o, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static void add_report(struct table *t, const char *worker, const char *dep, const cJSON *b)
{
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(b, "state");
    if (!dep || !cJSON_IsString(state))
        return;
    struct dep_row *row = row_for(t, dep);
    row->reports = xrealloc(row->reports, (row->nreports + 1) * sizeof *row->reports);
    row->reports[row->nreports++] = (struct report){
        .worker = xstrdup(worker), .state = xstrdup(state->valuestring),
        .failure_rate = number_or(b, "failure_rate", -1), .slow_rate = number_or(b, "slow_rate", -1),
        .calls = number_or(b, "calls", 0)};
}

/* One heartbeat: "breakers" as {dep: {...}} or [{"name": dep, ...}]. */
static void read_heartbeat(struct table *t, const char *key, const char *json)
{
    cJSON *hb = cJSON_Parse(json);
    if (!hb)
        return;
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(hb, "id");
    const char *worker = cJSON_IsString(id) ? id->valuestring : key + strlen(KEY_WORKER_PREFIX);
    const cJSON *breakers = cJSON_GetObjectItemCaseSensitive(hb, "breakers"), *b;
    cJSON_ArrayForEach(b, breakers)
    {
        if (cJSON_IsArray(breakers)) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
            add_report(t, worker, cJSON_IsString(name) ? name->valuestring : NULL, b);
        } else {
            add_report(t, worker, b->string, b);
        }
    }
    cJSON_Delete(hb);
}

static int collect(redisContext *c, struct table *t, char *err, size_t errlen)
{
    struct policy_entry *cmds;
    size_t ncmds;
    if (policy_breaker_fetch(c, &cmds, &ncmds, err, errlen) < 0)
        return -1;
    for (size_t i = 0; i < ncmds; i++)
        row_for(t, cmds[i].name)->command = xstrdup(cmds[i].value);
    policy_entries_free(cmds, ncmds);

    char cursor[32] = "0";
    size_t seen = 0;
    do {
        redisReply *r = redisCommand(c, "SCAN %s MATCH %s* COUNT 500", cursor, KEY_WORKER_PREFIX);
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            snprintf(err, errlen, "Redis SCAN: %s", r && r->type == REDIS_REPLY_ERROR ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++)
            redisAppendCommand(c, "GET %b", keys->element[i]->str, keys->element[i]->len);
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *v = NULL;
            if (redisGetReply(c, (void **)&v) != REDIS_OK) {
                snprintf(err, errlen, "Redis GET: %s", c->errstr);
                freeReplyObject(r);
                return -1;
            }
            if (v->type == REDIS_REPLY_STRING)   /* another type under the prefix: not a heartbeat */
                read_heartbeat(t, keys->element[i]->str, v->str);
            freeReplyObject(v);
        }
        seen += keys->elements;
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0 && seen < SCAN_CAP);
    return 0;
}

static void table_free(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        for (size_t k = 0; k < t->rows[i].nreports; k++) {
            free(t->rows[i].reports[k].worker);
            free(t->rows[i].reports[k].state);
        }
        free(t->rows[i].reports);
        free(t->rows[i].name);
        free(t->rows[i].command);
    }
    free(t->rows);
}

static int compare_rows(const void *a, const void *b)
{
    return strcmp(((const struct dep_row *)a)->name, ((const struct dep_row *)b)->name);
}

/* "OPEN x2, CLOSED x1": states with how many workers report each. */
static void summarize_states(const struct dep_row *row, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < row->nreports; i++) {
        bool earlier = false;
        for (size_t k = 0; k < i; k++)
            earlier |= strcmp(row->reports[k].state, row->reports[i].state) == 0;
        if (earlier)
            continue;
        int count = 0;
        for (size_t k = i; k < row->nreports; k++)
            count += strcmp(row->reports[k].state, row->reports[i].state) == 0;
        int n = snprintf(buf + used, len - used, "%s%s x%d", used ? ", " : "", row->reports[i].state, count);
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
    if (!row->nreports)
        snprintf(buf, len, "(no worker reports it)");
}

static int breaker_list(redisContext *c, bool json)
{
    struct table t = {0};
    char err[512];
    if (collect(c, &t, err, sizeof err) < 0) {
        table_free(&t);
        return fail(EXIT_UNREACHABLE, "%s", err);
    }
    if (t.n > 1)
        qsort(t.rows, t.n, sizeof *t.rows, compare_rows);
    if (json) {
        cJSON *arr = cJSON_CreateArray();
        for (size_t i = 0; i < t.n; i++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "name", t.rows[i].name);
            if (t.rows[i].command)
                cJSON_AddStringToObject(o, "command", t.rows[i].command);
            else
                cJSON_AddNullToObject(o, "command");
            cJSON *workers = cJSON_AddArrayToObject(o, "workers");
            for (size_t k = 0; k < t.rows[i].nreports; k++) {
                const struct report *r = &t.rows[i].reports[k];
                cJSON *w = cJSON_CreateObject();
                cJSON_AddStringToObject(w, "worker", r->worker);
                cJSON_AddStringToObject(w, "state", r->state);
                cJSON_AddNumberToObject(w, "failure_rate", r->failure_rate);
                cJSON_AddNumberToObject(w, "slow_rate", r->slow_rate);
                cJSON_AddNumberToObject(w, "calls", r->calls);
                cJSON_AddItemToArray(workers, w);
            }
            cJSON_AddItemToArray(arr, o);
        }
        char *text = cJSON_Print(arr);
        puts(text);
        cJSON_free(text);
        cJSON_Delete(arr);
    } else {
        printf("%-24s %-10s %-9s %-9s %s\n", "DEPENDENCY", "COMMAND", "FAILURE%", "SLOW%", "STATES (workers)");
        for (size_t i = 0; i < t.n; i++) {
            const struct dep_row *row = &t.rows[i];
            double worst_fail = -1, worst_slow = -1;
            for (size_t k = 0; k < row->nreports; k++) {
                if (row->reports[k].failure_rate > worst_fail)
                    worst_fail = row->reports[k].failure_rate;
                if (row->reports[k].slow_rate > worst_slow)
                    worst_slow = row->reports[k].slow_rate;
            }
            char states[512], fr[16] = "-", sr[16] = "-";
            summarize_states(row, states, sizeof states);
            if (worst_fail >= 0)
                snprintf(fr, sizeof fr, "%.1f", worst_fail);
            if (worst_slow >= 0)
                snprintf(sr, sizeof sr, "%.1f", worst_slow);
            printf("%-24s %-10s %-9s %-9s %s\n", row->name, row->command ? row->command : "-", fr, sr, states);
        }
    }
    table_free(&t);
    return EXIT_OK;
}

static int breaker_command(struct app *app, redisContext *c, const char *action, const char *command,
                           const char *dep)
{
    char err[512], aerr[512];
    char *old = NULL;
    int rc = policy_breaker_command(c, dep, command, &old, err, sizeof err);
    struct audit_entry e = {.action = action, .target = dep, .old_value = old, .new_value = command,
                            .result = rc == 0 ? "ok" : err};
    if (audit_record(&app->cfg, app->ctx ? app->ctx->name : NULL, c, &e, aerr, sizeof aerr) < 0)
        fprintf(stderr, "qdeck: warning: %s\n", aerr);
    if (rc < 0) {
        free(old);
        return fail(EXIT_FAILED, "%s", err);
    }
    printf("breaker %s: %s (was %s); workers apply it within 2 s\n", dep, command, old ? old : "none");
    free(old);
    return EXIT_OK;
}

int cmd_breaker(struct app *app, int argc, char **argv)
{
    bool json = false;
    const char *args[2];
    int nargs = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0)
            json = true;
        else if (argv[i][0] == '-' && argv[i][1] == '-')
            return fail(EXIT_USAGE, "breaker: unknown option %s\n" BREAKER_USAGE, argv[i]);
        else if (nargs < 2)
            args[nargs++] = argv[i];
        else
            return fail(EXIT_USAGE, "breaker: too many arguments\n" BREAKER_USAGE);
    }
    if (nargs == 0)
        return fail(EXIT_USAGE, BREAKER_USAGE);
    static const struct {
        const char *sub, *action, *command;
    } commands[] = {
        {"open", "breaker.open", "open"},
        {"close", "breaker.close", "disabled"},
        {"reset", "breaker.reset", "reset"},
    };
    int which = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(args[0], commands[i].sub) == 0)
            which = i;
    if (strcmp(args[0], "list") == 0 ? nargs != 1 : which < 0 || nargs != 2 || json)
        return fail(EXIT_USAGE, BREAKER_USAGE);
    if (which >= 0) {
        const char *dep = args[1];
        if (!*dep || strpbrk(dep, " \t\r\n"))
            return fail(EXIT_USAGE, "breaker name '%s' is empty or holds spaces", dep);
        if (control_read_only(app))
            return control_refuse(app, commands[which].action, dep, commands[which].command);
    }
    redisContext *c;
    int rc = control_connect(app, &c);
    if (rc != EXIT_OK)
        return rc;
    rc = which < 0 ? breaker_list(c, json)
                   : breaker_command(app, c, commands[which].action, commands[which].command, args[1]);
    redisFree(c);
    return rc;
}
