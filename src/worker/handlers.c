/* The handler of each task type: its plugin instance (created once per
 * [task TYPE], shared by the slot threads), timeout, attempts, dependency
 * and the guardrails that name it. Part of the pool (worker/pool.c). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/events.h"
#include "control/keys.h"
#include "control/policy.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "resilience/dependency.h"
#include "resilience/shed.h"
#include "worker/consumer.h"
#include "worker/plugin.h"
#include "worker/worker-internal.h"

/* ------------------------------------------------------------ handlers */

static struct handler *handler_new(struct worker *w, const char *type)
{
    struct handler *h = xcalloc(1, sizeof *h);
    h->type = xstrdup(type);
    const struct task_config *tc = config_task(w->cfg, type);
    struct task_config defaults;
    if (!tc) {
        config_task_init(&defaults, type);
        tc = &defaults;
    }
    h->timeout = tc->timeout;
    h->max_attempts = tc->max_attempts;
    atomic_init(&h->max_runtime_ms, -1);
    if (tc->dependency && *tc->dependency) {
        h->dep = dependency_find(&w->deps, tc->dependency);
        if (!h->dep)
            log_warn("task type %s: no [dependency %s] section: its calls are not guarded", type, tc->dependency);
    }
    pthread_mutex_lock(&w->policy_lock);
    const struct policy_task *pt = w->applied ? policy_task(w->applied, type) : NULL;
    if (pt)
        atomic_store(&h->max_runtime_ms, pt->max_runtime_ms);
    pthread_mutex_unlock(&w->policy_lock);
    const char *plugin = tc->handler && *tc->handler ? tc->handler : type;
    char err[sizeof h->error];
    h->plugin = plugin_load(w->plugin_dir, plugin, err, sizeof err);
    if (h->plugin) {
        h->instance = h->plugin->api->create(tc->args ? tc->args : "", err, sizeof err);
        if (!h->instance) {
            snprintf(h->error, sizeof h->error, "plugin %.40s refused task type '%.60s': %.120s", plugin, type, err);
            plugin_unload(h->plugin);
            h->plugin = NULL;
        }
    } else {
        snprintf(h->error, sizeof h->error, "no handler for task type '%.60s': %.150s", type, err);
    }
    if (h->plugin)
        log_info("task type %s: plugin %s %s, timeout %.3gs", type, h->plugin->api->name,
                 h->plugin->api->version ? h->plugin->api->version : "", h->timeout);
    else
        log_warn("%s", h->error);
    if (tc == &defaults)
        config_task_free(&defaults);
    return h;
}

struct handler *handler_for(struct worker *w, struct slot_thread *st, const char *type)
{
    if (st && st->last && strcmp(st->last->type, type) == 0)
        return st->last;
    pthread_mutex_lock(&w->handlers_lock);
    struct handler *h = NULL;
    for (size_t i = 0; i < w->nhandlers && !h; i++)
        if (strcmp(w->handlers[i]->type, type) == 0)
            h = w->handlers[i];
    if (!h && w->nhandlers < MAX_HANDLERS) {
        h = handler_new(w, type);
        w->handlers[w->nhandlers++] = h;
    }
    pthread_mutex_unlock(&w->handlers_lock);
    if (st && h)
        st->last = h;
    return h;
}

void handler_free(struct handler *h)
{
    if (h->plugin) {
        if (h->plugin->api->destroy)
            h->plugin->api->destroy(h->instance);
        plugin_unload(h->plugin);
    }
    free(h->type);
    free(h);
}

