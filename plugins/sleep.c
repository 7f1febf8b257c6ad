/* sleep: waits a while, then succeeds. The stand-in for a slow handler in
 * tests, benchmarks and the demo.
 *
 *   [task T] plugin = sleep, args = ms=250      default wait for every task
 *   payload {"ms": 40}                          overrides it for one task
 *
 * The wait is cut into 5 ms slices on CLOCK_MONOTONIC so a cancelled task
 * (*task->cancelled) returns QDECK_RETRY within about 5 ms. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "qdeck-plugin.h"

#define SLICE_NS 5000000L
#define MAX_MS (24L * 3600 * 1000)

struct sleep_instance {
    long ms;
};

static int parse_ms(const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < 0 || v > MAX_MS)
        return -1;
    *out = v;
    return 0;
}

static void *sleep_create(const char *args, char *err, size_t errlen)
{
    long ms = 100;
    char val[32];
    if (qdeck_plugin_arg(args, "ms", val, sizeof val) == 0 && parse_ms(val, &ms) != 0) {
        snprintf(err, errlen, "sleep: ms='%s' is not a number of milliseconds from 0 to %ld", val, MAX_MS);
        return NULL;
    }
    struct sleep_instance *inst = malloc(sizeof *inst);
    if (!inst) {
        snprintf(err, errlen, "sleep: out of memory");
        return NULL;
    }
    inst->ms = ms;
    return inst;
}

static void sleep_destroy(void *inst)
{
    free(inst);
}

/* The payload's "ms" when it is a number in range, else the instance's. */
static long task_ms(const struct sleep_instance *inst, const struct qdeck_task *task)
{
    long ms = inst->ms;
    if (!task->payload)
        return ms;
    cJSON *doc = cJSON_ParseWithLength(task->payload, task->payload_len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "ms");
    if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= MAX_MS)
        ms = (long)v->valuedouble;
    cJSON_Delete(doc);
    return ms;
}

static double now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_run(void *instance, const struct qdeck_task *task, struct qdeck_result *res)
{
    long ms = task_ms(instance, task);
    double end = now_monotonic() + (double)ms / 1000.0;
    for (;;) {
        if (task->cancelled && atomic_load(task->cancelled)) {
            res->outcome = QDECK_RETRY;
            snprintf(res->error, sizeof res->error, "sleep: cancelled");
            return;
        }
        double left = end - now_monotonic();
        if (left <= 0)
            break;
        long ns = left * 1e9 < SLICE_NS ? (long)(left * 1e9) : SLICE_NS;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = ns};
        nanosleep(&ts, NULL);
    }
    res->outcome = QDECK_OK;
    res->result = NULL;
}

static const struct qdeck_plugin sleep_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = sizeof(struct qdeck_plugin),
    .name = "sleep",
    .version = "1",
    .create = sleep_create,
    .destroy = sleep_destroy,
    .run = sleep_run,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &sleep_plugin;
}
