/* `qdeck policy list | get NAME | set NAME VALUE | unset NAME` [--json]:
 * the fleet's guardrails in the control plane (control/policy.h). `set` and
 * `unset` are refused in read-only mode and audited (old and new value)
 * either way. A guardrail on a queue, dependency or task type that no live
 * worker, config section or broker knows needs --force (no phantom rows).
 *
 * Also the helpers the control-plane commands share (cli/app.h). */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/app.h"
#include "control/audit.h"
#include "control/fleet.h"
#include "control/names.h"
#include "control/policy.h"
#include "control/policy-store.h"
#include "core/clock.h"
#include "core/identity.h"
#include "core/xalloc.h"
#include "worker/amqp-link.h"

#define POLICY_USAGE "usage: qdeck policy list | get NAME | set NAME VALUE [--force] | unset NAME [--json]"

const char policy_usage[] = POLICY_USAGE;

bool control_read_only(const struct app *app)
{
    return app->ov.read_only || (app->ctx && app->ctx->read_only);
}

char *control_actor(void)
{
    char actor[400];
    identity_actor(actor, sizeof actor);
    return xstrdup(actor);
}

int control_refuse(struct app *app, const char *action, const char *target, const char *new_value)
{
    struct audit_entry e = {.action = action, .target = target, .new_value = new_value,
                            .result = "refused: read-only"};
    char err[512];
    if (audit_record(&app->cfg, app->ctx ? app->ctx->name : NULL, NULL, &e, err, sizeof err) < 0)
        fprintf(stderr, "qdeck: warning: %s\n", err);
    return fail(EXIT_FAILED, "read-only mode: refusing %s %s (--read-only, or read_only = true in context %s)",
                action, target, app->ctx && app->ctx->name ? app->ctx->name : "(none)");
}

int control_connect(struct app *app, redisContext **out)
{
    if (!app->ctx || !app->ctx->redis)
        return fail(EXIT_USAGE, "the control plane lives in Redis: give --redis URL, set QDECK_REDIS_URL, "
                                "or add redis = to the context");
    char err[512];
    *out = policy_connect(app->ctx->redis, app->ctx->timeout, err, sizeof err);
    if (!*out)
        return fail(EXIT_UNREACHABLE, "%s", err);
    return EXIT_OK;
}

static const struct policy_item *find_item(const struct policy_item *items, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].name, name) == 0)
            return &items[i];
    return NULL;
}

/* Does the queue exist on a broker? Redis: the key (a list or stream) on
 * the control connection; RabbitMQ: a passive declare. */
static bool queue_on_broker(const struct app *app, redisContext *c, const char *queue)
{
    const char *colon = strchr(queue, ':');
    bool amqp = strncmp(queue, "amqp:", 5) == 0, bare = !colon || (!amqp && strncmp(queue, "redis:", 6) != 0 &&
                                                                   strncmp(queue, "stream:", 7) != 0);
    if (!amqp && (bare || colon)) {
        char *key = xstrdup(bare ? queue : colon + 1);
        key[strcspn(key, "#")] = '\0';   /* stream:KEY#GROUP */
        redisReply *r = redisCommand(c, "EXISTS %s", key);
        bool found = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0;
        if (r)
            freeReplyObject(r);
        free(key);
        if (found)
            return true;
    }
    if ((amqp || bare) && app->ctx && app->ctx->amqp) {
        char err[400];
        amqp_connection_state_t conn =
            amqp_link_open(app->ctx->amqp, &app->ctx->tls, 0, false, app->ctx->timeout, err, sizeof err);
        if (!conn)
            return false;
        amqp_queue_declare(conn, AMQP_LINK_CHANNEL, amqp_cstring_bytes(amqp ? queue + 5 : queue), 1, 0, 0, 0,
                           amqp_empty_table);
        bool found = amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL;
        amqp_link_close(conn);
        return found;
    }
    return false;
}

int control_require_known(struct app *app, struct redisContext *c, const char *name, bool guardrail, bool force)
{
    struct known_names k = {0};
    char err[512], what[600];
    struct fleet_table *t = NULL;
    if (fleet_read(c, NULL, clock_wall(), &t, err, sizeof err) == 0) {
        known_names_add_fleet(&k, t);
        fleet_table_free(t);
    }
    known_names_add_config(&k, &app->cfg);
    bool known;
    if (guardrail) {
        known = known_names_guardrail(&k, name, what, sizeof what);
        struct policy_item *items;
        size_t n;
        if (!known && policy_fetch(c, &items, &n, err, sizeof err) == 0) {
            known = find_item(items, n, name) != NULL;   /* already set: it may be changed or turned off */
            policy_items_free(items, n);
        }
        char queue[256];
        if (!known && guardrail_queue(name, queue, sizeof queue))
            known = queue_on_broker(app, c, queue);
    } else {
        known = known_names_has(&k, NAME_DEP, name);
        snprintf(what, sizeof what, "dependency '%s'", name);
        struct policy_entry *cmds;
        size_t n;
        if (!known && policy_breaker_fetch(c, &cmds, &n, err, sizeof err) == 0) {
            for (size_t i = 0; i < n; i++)
                known |= strcmp(cmds[i].name, name) == 0;
            policy_entries_free(cmds, n);
        }
    }
    known_names_free(&k);
    if (known)
        return EXIT_OK;
    if (!force)
        return fail(EXIT_USAGE, "no live worker, config section or broker knows %s: check the name, or add --force "
                                "to write it anyway", what);
    fprintf(stderr, "qdeck: warning: no live worker, config section or broker knows %s; writing it (--force)\n", what);
    return EXIT_OK;
}

static cJSON *item_json(const char *name, const struct policy_item *it)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "value", it ? it->value : policy_default(name));
    cJSON_AddBoolToObject(o, "set", it != NULL);
    if (it && it->by)
        cJSON_AddStringToObject(o, "by", it->by);
    else
        cJSON_AddNullToObject(o, "by");
    if (it && it->at)
        cJSON_AddStringToObject(o, "at", it->at);
    else
        cJSON_AddNullToObject(o, "at");
    return o;
}

static void print_row(const char *name, const struct policy_item *it)
{
    printf("%-40s %-10s %-24s %s\n", name, it ? it->value : policy_default(name),
           it && it->by ? it->by : "-", it && it->at ? it->at : "-");
}

static int policy_list(redisContext *c, bool json)
{
    struct policy_item *items;
    size_t n;
    char err[512];
    if (policy_fetch(c, &items, &n, err, sizeof err) < 0)
        return fail(EXIT_UNREACHABLE, "%s", err);
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    if (!json)
        printf("%-40s %-10s %-24s %s\n", "GUARDRAIL", "VALUE", "SET BY", "AT");
    for (size_t i = 0; i < policy_nglobals; i++) {
        const struct policy_item *it = find_item(items, n, policy_globals[i].name);
        if (json)
            cJSON_AddItemToArray(arr, item_json(policy_globals[i].name, it));
        else
            print_row(policy_globals[i].name, it);
    }
    for (size_t i = 0; i < n; i++) {
        enum policy_type type;
        bool global = false;
        for (size_t g = 0; g < policy_nglobals; g++)
            global |= strcmp(items[i].name, policy_globals[g].name) == 0;
        if (global || policy_check_name(items[i].name, &type, err, sizeof err) < 0)
            continue;   /* shown above, or not a guardrail at all */
        if (json)
            cJSON_AddItemToArray(arr, item_json(items[i].name, &items[i]));
        else
            print_row(items[i].name, &items[i]);
    }
    if (json)
        print_json(arr);
    policy_items_free(items, n);
    return EXIT_OK;
}

static int policy_get(redisContext *c, const char *name, bool json)
{
    struct policy_item *items;
    size_t n;
    char err[512];
    if (policy_fetch(c, &items, &n, err, sizeof err) < 0)
        return fail(EXIT_UNREACHABLE, "%s", err);
    const struct policy_item *it = find_item(items, n, name);
    if (json)
        print_json(item_json(name, it));
    else
        puts(it ? it->value : policy_default(name));
    policy_items_free(items, n);
    return EXIT_OK;
}

static void audit_change(struct app *app, redisContext *c, const struct audit_entry *e)
{
    char aerr[512];
    if (audit_record(&app->cfg, app->ctx ? app->ctx->name : NULL, c, e, aerr, sizeof aerr) < 0)
        fprintf(stderr, "qdeck: warning: %s\n", aerr);
}

static cJSON *change_json(const char *name, const char *value, const char *old)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "value", value);
    cJSON_AddStringToObject(o, "was", old ? old : policy_default(name));
    cJSON_AddBoolToObject(o, "was_set", old != NULL);
    return o;
}

static int policy_set_cmd(struct app *app, redisContext *c, const char *name, const char *value, bool json)
{
    char canonical[128], err[512];
    char *old = NULL, *who = control_actor();
    bool invalid;
    int rc = policy_set(c, name, value, who, &old, canonical, sizeof canonical, &invalid, err, sizeof err);
    free(who);
    if (rc < 0 && invalid)
        return fail(EXIT_USAGE, "%s", err);
    struct audit_entry e = {.action = "policy.set", .target = name, .old_value = old,
                            .new_value = rc == 0 ? canonical : value, .result = rc == 0 ? "ok" : err};
    audit_change(app, c, &e);
    if (rc < 0) {
        free(old);
        return fail(EXIT_FAILED, "%s", err);
    }
    char line[800];
    snprintf(line, sizeof line, "%s = %s (was %s)", name, canonical, old ? old : policy_default(name));
    if (json)
        print_result_json("policy.set", name, true, line, change_json(name, canonical, old));
    else
        puts(line);
    free(old);
    return EXIT_OK;
}

static int policy_unset_cmd(struct app *app, redisContext *c, const char *name, bool json)
{
    char err[512];
    char *old = NULL;
    int rc = policy_unset(c, name, &old, err, sizeof err);
    const char *fallback = policy_default(name);
    struct audit_entry e = {.action = "policy.unset", .target = name, .old_value = old, .new_value = fallback,
                            .result = rc == 0 ? "ok" : err};
    audit_change(app, c, &e);
    if (rc < 0) {
        free(old);
        return fail(EXIT_FAILED, "%s", err);
    }
    char line[800];
    if (old)
        snprintf(line, sizeof line, "%s unset: back to its default %s (was %s)", name, fallback, old);
    else
        snprintf(line, sizeof line, "%s was not set (its default is %s)", name, fallback);
    if (json)
        print_result_json("policy.unset", name, true, line, change_json(name, fallback, old));
    else
        puts(line);
    free(old);
    return EXIT_OK;
}

const struct arg_option policy_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_FLAG("force", 0, "set a guardrail on a queue nobody knows (yet)"),
    OPT_END,
};

int cmd_policy(struct app *app, const struct args *a)
{
    bool json = args_flag(a, "json"), force = args_flag(a, "force");
    if (a->nwords > 4)
        return fail(EXIT_USAGE, "policy: too many arguments\n" POLICY_USAGE);
    char *const *args = a->words + 1;
    int nargs = (int)a->nwords - 1;
    if (nargs == 0)
        return fail(EXIT_USAGE, POLICY_USAGE);
    const char *sub = args[0];
    char err[512], canonical[128];
    if (strcmp(sub, "list") == 0 ? nargs != 1
        : strcmp(sub, "get") == 0 ? nargs != 2
        : strcmp(sub, "set") == 0 ? nargs != 3
        : strcmp(sub, "unset") == 0 ? nargs != 2
        : true)
        return fail(EXIT_USAGE, POLICY_USAGE);
    if (strcmp(sub, "list") != 0 && policy_check_name(args[1], NULL, err, sizeof err) < 0)
        return fail(EXIT_USAGE, "%s", err);
    bool set = strcmp(sub, "set") == 0, unset = strcmp(sub, "unset") == 0;
    if (set && control_read_only(app))
        return control_refuse(app, "policy.set", args[1], args[2]);
    if (unset && control_read_only(app))
        return control_refuse(app, "policy.unset", args[1], policy_default(args[1]));

    redisContext *c;
    int rc = control_connect(app, &c);
    if (rc != EXIT_OK)
        return rc;
    if (strcmp(sub, "list") == 0)
        rc = policy_list(c, json);
    else if (strcmp(sub, "get") == 0)
        rc = policy_get(c, args[1], json);
    else if (unset)
        rc = policy_unset_cmd(app, c, args[1], json);
    else if (policy_validate(args[1], args[2], canonical, sizeof canonical, err, sizeof err) < 0)
        rc = fail(EXIT_USAGE, "%s", err);   /* a bad value is said before an unknown name */
    else if ((rc = control_require_known(app, c, args[1], true, force)) == EXIT_OK)
        rc = policy_set_cmd(app, c, args[1], args[2], json);
    redisFree(c);
    return rc;
}
