/* fail: fails a chosen fraction of tasks, or all of them, so retries, the
 * DLQ and circuit breakers can be exercised without a real dependency.
 *
 *   args rate=0.3        30 % of runs return QDECK_RETRY (transient), the rest OK
 *   args always=true     every run returns QDECK_FAIL (permanent: straight to the DLQ)
 *   args permanent=true  same as always=true
 *   args seed=42         deterministic: the outcome is a function of seed, task
 *                        id and attempt, so a test can predict it; without a
 *                        seed one is drawn at create()
 *   payload {"fail": true}     this task fails permanently (QDECK_FAIL)
 *   payload {"fail": "retry"}  this task fails transiently (QDECK_RETRY)
 *   payload {"fail": false}    this task succeeds whatever the args say
 *
 * Deciding from a hash instead of a shared PRNG keeps run() free of locks and
 * the same task's fate independent of which slot thread runs it. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "qdeck-plugin.h"

struct fail_instance {
    double rate;
    bool permanent;
    uint64_t seed;
};

static bool arg_true(const char *args, const char *key)
{
    char val[16];
    return qdeck_plugin_arg(args, key, val, sizeof val) == 0 &&
           (strcmp(val, "true") == 0 || strcmp(val, "yes") == 0 || strcmp(val, "1") == 0);
}

static void *fail_create(const char *args, char *err, size_t errlen)
{
    struct fail_instance inst = {.rate = 0.0};
    char val[64];
    char *end;
    if (qdeck_plugin_arg(args, "rate", val, sizeof val) == 0) {
        errno = 0;
        inst.rate = strtod(val, &end);
        if (errno || end == val || *end || !(inst.rate >= 0.0 && inst.rate <= 1.0)) {
            snprintf(err, errlen, "fail: rate='%s' is not a fraction from 0 to 1", val);
            return NULL;
        }
    }
    inst.permanent = arg_true(args, "always") || arg_true(args, "permanent");
    if (qdeck_plugin_arg(args, "seed", val, sizeof val) == 0) {
        errno = 0;
        inst.seed = strtoull(val, &end, 10);
        if (errno || end == val || *end) {
            snprintf(err, errlen, "fail: seed='%s' is not a whole number", val);
            return NULL;
        }
    } else if (getrandom(&inst.seed, sizeof inst.seed, 0) != (ssize_t)sizeof inst.seed) {
        inst.seed = (uint64_t)time(NULL);
    }
    struct fail_instance *p = malloc(sizeof *p);
    if (!p) {
        snprintf(err, errlen, "fail: out of memory");
        return NULL;
    }
    *p = inst;
    return p;
}

static void fail_destroy(void *inst)
{
    free(inst);
}

/* FNV-1a over the task id, mixed with seed and attempt by splitmix64's
 * finalizer: a uniform draw in [0, 1). */
static double draw(uint64_t seed, const char *id, int attempt)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = id ? id : ""; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    uint64_t z = h ^ seed ^ ((uint64_t)(unsigned)attempt * 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0; /* 2^53 */
}

/* -1: payload says nothing; else the outcome it asks for. */
static int payload_override(const struct qdeck_task *task)
{
    if (!task->payload)
        return -1;
    cJSON *doc = cJSON_ParseWithLength(task->payload, task->payload_len);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "fail");
    int out = -1;
    if (cJSON_IsTrue(v))
        out = QDECK_FAIL;
    else if (cJSON_IsFalse(v))
        out = QDECK_OK;
    else if (cJSON_IsString(v) && strcmp(v->valuestring, "retry") == 0)
        out = QDECK_RETRY;
    cJSON_Delete(doc);
    return out;
}

static void fail_run(void *instance, const struct qdeck_task *task, struct qdeck_result *res)
{
    const struct fail_instance *inst = instance;
    int outcome = payload_override(task);
    const char *why = "the payload asked for it";
    if (outcome < 0) {
        if (inst->permanent) {
            outcome = QDECK_FAIL;
            why = "always=true";
        } else if (draw(inst->seed, task->id, task->attempt) < inst->rate) {
            outcome = QDECK_RETRY;
            why = "drawn by rate";
        } else {
            outcome = QDECK_OK;
        }
    }
    res->outcome = (enum qdeck_outcome)outcome;
    res->result = NULL;
    if (outcome != QDECK_OK)
        snprintf(res->error, sizeof res->error, "fail: %s failure on attempt %d (%s)",
                 outcome == QDECK_FAIL ? "permanent" : "transient", task->attempt, why);
}

static const struct qdeck_plugin fail_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = sizeof(struct qdeck_plugin),
    .name = "fail",
    .version = "1",
    .create = fail_create,
    .destroy = fail_destroy,
    .run = fail_run,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &fail_plugin;
}
