/* noop: finishes every task at once with no result. The worker's own cost,
 * measured without any handler work (benchmarks, tests). */
#include <stdlib.h>

#include "qdeck-plugin.h"

static int instance;

static void *noop_create(const char *args, char *err, size_t errlen)
{
    (void)args, (void)err, (void)errlen;
    return &instance;
}

static void noop_destroy(void *inst)
{
    (void)inst;
}

static void noop_run(void *inst, const struct qdeck_task *task, struct qdeck_result *res)
{
    (void)inst, (void)task;
    res->outcome = QDECK_OK;
    res->result = NULL;
}

static const struct qdeck_plugin noop_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = sizeof(struct qdeck_plugin),
    .name = "noop",
    .version = "1",
    .create = noop_create,
    .destroy = noop_destroy,
    .run = noop_run,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &noop_plugin;
}
