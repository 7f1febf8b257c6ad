/* The set of known names (see names.h): a flat list with kinds; it holds
 * tens of names, so lookups are linear. */
#include "control/names.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/policy.h"
#include "core/xalloc.h"

void known_names_add(struct known_names *k, enum name_kind kind, const char *name)
{
    if (!name || !*name || known_names_has(k, kind, name))
        return;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 16;
        k->names = xrealloc(k->names, k->cap * sizeof *k->names);
        k->kinds = xrealloc(k->kinds, k->cap * sizeof *k->kinds);
    }
    k->names[k->n] = xstrdup(name);
    k->kinds[k->n++] = kind;
}

static void add_list(struct known_names *k, enum name_kind kind, const char *text)
{
    char **items;
    size_t n = split_list(text ? text : "", &items);
    for (size_t i = 0; i < n; i++)
        known_names_add(k, kind, items[i]);
    free_list(items, n);
}

void known_names_add_fleet(struct known_names *k, const struct fleet_table *t)
{
    for (size_t i = 0; t && i < t->n; i++) {
        const struct fleet_worker *w = &t->workers[i];
        if (w->state != FLEET_RUNNING)
            continue;
        add_list(k, NAME_QUEUE, w->queues);
        const cJSON *breakers = cJSON_GetObjectItemCaseSensitive(w->report, "breakers"), *b;
        cJSON_ArrayForEach(b, breakers)
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
            known_names_add(k, NAME_DEP, cJSON_IsString(name) ? name->valuestring : b->string);
        }
        const cJSON *types = cJSON_GetObjectItemCaseSensitive(w->report, "latency"), *type;
        cJSON_ArrayForEach(type, types)
            known_names_add(k, NAME_TASK, type->string);
    }
}

void known_names_add_config(struct known_names *k, const struct config *cfg)
{
    add_list(k, NAME_QUEUE, cfg->worker.queues);
    for (size_t i = 0; i < cfg->ntasks; i++)
        known_names_add(k, NAME_TASK, cfg->tasks[i].name);
    for (size_t i = 0; i < cfg->ndependencies; i++)
        known_names_add(k, NAME_DEP, cfg->dependencies[i].name);
}

/* "amqp:orders" -> "orders"; a name without a kind stays. */
static const char *bare_queue(const char *name)
{
    static const char *kinds[] = {"amqp:", "redis:", "stream:"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strncmp(name, kinds[i], strlen(kinds[i])) == 0)
            return name + strlen(kinds[i]);
    return name;
}

bool queue_names_same(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    bool a_bare = bare_queue(a) == a, b_bare = bare_queue(b) == b;
    return (a_bare || b_bare) && strcmp(bare_queue(a), bare_queue(b)) == 0;
}

bool known_names_has(const struct known_names *k, enum name_kind kind, const char *name)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->kinds[i] == kind && (kind == NAME_QUEUE ? queue_names_same(k->names[i], name) : !strcmp(k->names[i], name)))
            return true;
    return false;
}

bool known_names_guardrail(const struct known_names *k, const char *guardrail, char *what, size_t len)
{
    static const struct {
        const char *prefix, *label;
        enum name_kind kind;
    } scopes[] = {{"queue.", "queue", NAME_QUEUE}, {"dep.", "dependency", NAME_DEP}, {"task.", "task type", NAME_TASK}};
    for (size_t i = 0; i < sizeof scopes / sizeof scopes[0]; i++) {
        size_t p = strlen(scopes[i].prefix);
        const char *dot = strrchr(guardrail, '.');
        if (strncmp(guardrail, scopes[i].prefix, p) != 0 || !dot || dot <= guardrail + p)
            continue;
        char *inner = xstrndup(guardrail + p, (size_t)(dot - guardrail - p));
        bool known = known_names_has(k, scopes[i].kind, inner);
        if (!known)
            snprintf(what, len, "%s '%s'", scopes[i].label, inner);
        free(inner);
        return known;
    }
    return true;   /* fleet-wide: shed.*, budget.* */
}

bool guardrail_queue(const char *guardrail, char *queue, size_t len)
{
    const char *dot = strrchr(guardrail, '.');
    if (strncmp(guardrail, "queue.", 6) != 0 || !dot || dot <= guardrail + 6)
        return false;
    snprintf(queue, len, "%.*s", (int)(dot - guardrail - 6), guardrail + 6);
    return true;
}

void known_names_free(struct known_names *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->names[i]);
    free(k->names);
    free(k->kinds);
    memset(k, 0, sizeof *k);
}
