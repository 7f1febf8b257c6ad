/* Fixture: a plugin built for a future ABI (999); qdeck must refuse it. */
#include "qdeck-plugin.h"

static void *wrong_abi_create(const char *args, char *err, size_t errlen)
{
    (void)args, (void)err, (void)errlen;
    return (void *)1;
}

static void wrong_abi_run(void *inst, const struct qdeck_task *task, struct qdeck_result *res)
{
    (void)inst, (void)task;
    res->outcome = QDECK_OK;
}

static const struct qdeck_plugin wrong_abi_plugin = {
    .abi = 999,
    .size = sizeof(struct qdeck_plugin),
    .name = "wrong-abi",
    .version = "1",
    .create = wrong_abi_create,
    .run = wrong_abi_run,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &wrong_abi_plugin;
}
