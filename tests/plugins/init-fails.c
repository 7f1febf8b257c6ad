/* Fixture: loads fine, but create() refuses every configuration with a
 * reason, as a plugin whose dependency is missing would; the worker must
 * report the reason and carry on without that task type. */
#include <stdio.h>

#include "qdeck-plugin.h"

static void *init_fails_create(const char *args, char *err, size_t errlen)
{
    snprintf(err, errlen, "init-fails: cannot reach the licence server (args '%s')", args ? args : "");
    return NULL;
}

static void init_fails_destroy(void *inst)
{
    (void)inst;
}

static void init_fails_run(void *inst, const struct qdeck_task *task, struct qdeck_result *res)
{
    (void)inst, (void)task;
    res->outcome = QDECK_FAIL;
    snprintf(res->error, sizeof res->error, "init-fails: run() without an instance");
}

static const struct qdeck_plugin init_fails_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = sizeof(struct qdeck_plugin),
    .name = "init-fails",
    .version = "1",
    .create = init_fails_create,
    .destroy = init_fails_destroy,
    .run = init_fails_run,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &init_fails_plugin;
}
