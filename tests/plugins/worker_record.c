/* worker_record: a test handler that writes down every run, so worker tests
 * can count how often each task ran and when.
 *
 *   args file=/path/log    lines appended with O_APPEND (one write each):
 *                          "S <id> <attempt> <usec>" when a run starts,
 *                          "E <id> <attempt> <usec>" when it ends OK
 *        ms=N              each run takes N ms (5 ms slices; cancellable)
 *   payload {"fail":"retry"}  the run returns QDECK_RETRY (after its S line)
 *   payload {"ms":N}          overrides ms for this task
 *
 * usec is CLOCK_REALTIME in microseconds, comparable with the result
 * store's finished_at. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qdeck-plugin.h"

struct record {
    int fd;
    long ms;
};

static long long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *record_create(const char *args, char *err, size_t errlen)
{
    char path[512], ms[32];
    if (qdeck_plugin_arg(args, "file", path, sizeof path) < 0) {
        snprintf(err, errlen, "worker_record needs file=PATH");
        return NULL;
    }
    struct record *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (r->fd < 0) {
        snprintf(err, errlen, "cannot open %s", path);
        free(r);
        return NULL;
    }
    if (qdeck_plugin_arg(args, "ms", ms, sizeof ms) == 0)
        r->ms = atol(ms);
    return r;
}

static void record_destroy(void *instance)
{
    struct record *r = instance;
    close(r->fd);
    free(r);
}

static void note(struct record *r, char what, const struct qdeck_task *t)
{
    char line[256];
    int n = snprintf(line, sizeof line, "%c %s %d %lld\n", what, t->id, t->attempt, now_us());
    if (n > 0 && write(r->fd, line, (size_t)n) < 0)
        return;
}

static void record_run(void *instance, const struct qdeck_task *t, struct qdeck_result *res)
{
    struct record *r = instance;
    note(r, 'S', t);
    long ms = r->ms;
    int fail = 0;
    cJSON *p = cJSON_Parse(t->payload);
    if (p) {
        cJSON *m = cJSON_GetObjectItemCaseSensitive(p, "ms");
        if (cJSON_IsNumber(m))
            ms = (long)m->valuedouble;
        cJSON *f = cJSON_GetObjectItemCaseSensitive(p, "fail");
        fail = cJSON_IsString(f) && strcmp(f->valuestring, "retry") == 0;
        cJSON_Delete(p);
    }
    for (long left = ms; left > 0 && !atomic_load(t->cancelled); left -= 5) {
        struct timespec slice = {0, (left < 5 ? left : 5) * 1000000L};
        nanosleep(&slice, NULL);
    }
    if (atomic_load(t->cancelled)) {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "cancelled");
        return;
    }
    if (fail) {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "asked to fail on attempt %d", t->attempt);
        return;
    }
    note(r, 'E', t);
    res->outcome = QDECK_OK;
}

static const struct qdeck_plugin record_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = sizeof(struct qdeck_plugin),
    .name = "worker_record",
    .version = "1",
    .create = record_create,
    .destroy = record_destroy,
    .run = record_run,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void) { return &record_plugin; }
