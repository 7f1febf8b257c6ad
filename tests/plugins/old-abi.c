/* Fixture: a plugin built against plugin ABI 1, before the cancelled flag
 * became an atomic_int (src/qdeck-plugin.h, "ABI versions"). It carries
 * the ABI 1 declarations it was built with instead of including today's
 * header, as a plugin compiled back then does; qdeck must still load it,
 * and its run() must see the flag through its `const volatile int *`.
 * run() answers "cancelled" (QDECK_RETRY) when the flag is set, else
 * QDECK_OK with the task id as its result. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OLD_PLUGIN_ABI 1

enum old_outcome { OLD_OK = 0, OLD_RETRY = 1, OLD_FAIL = 2 };

struct old_task {
    const char *id;
    const char *type;
    const char *payload;
    size_t payload_len;
    int attempt;
    int max_attempts;
    int priority;
    double deadline;
    long max_response_tokens;
    const volatile int *cancelled;
};

struct old_result {
    enum old_outcome outcome;
    char *result;
    char error[256];
};

typedef void (*old_done_fn)(void *cookie, struct old_result *res);

struct old_plugin {
    uint32_t abi;
    uint32_t size;
    const char *name;
    const char *version;
    void *(*create)(const char *args, char *err, size_t errlen);
    void (*destroy)(void *instance);
    void (*run)(void *instance, const struct old_task *task, struct old_result *res);
    int (*submit)(void *instance, const struct old_task *task, old_done_fn done, void *cookie);
    void (*cancel)(void *instance, void *cookie);
};

static void *old_abi_create(const char *args, char *err, size_t errlen)
{
    (void)args, (void)err, (void)errlen;
    return (void *)1;
}

static void old_abi_run(void *inst, const struct old_task *task, struct old_result *res)
{
    (void)inst;
    if (task->cancelled && *task->cancelled) {
        res->outcome = OLD_RETRY;
        snprintf(res->error, sizeof res->error, "old-abi: cancelled");
        return;
    }
    size_t n = strlen(task->id) + 3;
    res->result = malloc(n);
    if (res->result)
        snprintf(res->result, n, "\"%s\"", task->id);
    res->outcome = OLD_OK;
}

static const struct old_plugin old_abi_plugin = {
    .abi = OLD_PLUGIN_ABI,
    .size = sizeof(struct old_plugin),
    .name = "old-abi",
    .version = "1",
    .create = old_abi_create,
    .run = old_abi_run,
};

const struct old_plugin *qdeck_plugin_entry(void);
const struct old_plugin *qdeck_plugin_entry(void)
{
    return &old_abi_plugin;
}
