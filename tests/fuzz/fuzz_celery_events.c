/* libFuzzer target: Celery event bodies and kombu Redis envelopes, which
 * any process that can publish to `celeryev` (or PUBLISH on Redis) may
 * send. The input is tried as a kombu envelope and as a body; every event
 * parsed is folded into a small state (tight caps, so eviction and the
 * hash's deletions run), and every worker's report must build and encode
 * histograms that decode back. The input is also read back as a fleet
 * report (qdeck:worker:<id> in Redis, which any process may write), as a
 * restarted collector does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "celery/event.h"
#include "celery/state.h"
#include "core/histogram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void apply(const struct celery_event *ev, void *arg)
{
    if (!ev->type_name || !ev->hostname || !ev->uuid || !ev->name || !ev->exception || !ev->queue)
        abort();
    celery_state_apply(arg, ev, 1764000000.0);
}

static void check_report(struct celery_state *st)
{
    for (size_t i = 0; i < celery_state_nworkers(st); i++) {
        cJSON *r = celery_state_report(st, i, 1764000001.0);
        const cJSON *lat = cJSON_GetObjectItemCaseSensitive(r, "latency"), *task;
        cJSON_ArrayForEach(task, lat) {
            const cJSON *h;
            cJSON_ArrayForEach(h, task) {
                struct histogram back;
                if (cJSON_IsString(h) && histogram_decode(&back, h->valuestring) < 0)
                    abort();
            }
        }
        cJSON_Delete(r);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct celery_state *st = celery_state_new(&(struct celery_limits){.max_workers = 4, .max_series = 4,
                                                                       .max_inflight = 8, .forget_after = 60});
    char err[200];
    size_t skipped = 0;
    celery_events_parse((const char *)data, size, apply, st, &skipped, err, sizeof err);
    char *body;
    size_t len;
    if (celery_redis_unwrap((const char *)data, size, &body, &len, err, sizeof err) == 0) {
        if (body[len] != '\0')
            abort();
        celery_events_parse(body, len, apply, st, &skipped, err, sizeof err);
        free(body);
    }
    cJSON *report = cJSON_ParseWithLength((const char *)data, size);
    celery_state_restore(st, report, 1764000000.0);
    cJSON_Delete(report);
    check_report(st);
    celery_state_expire(st, 1764000000.0 + 3600);
    if (celery_state_nworkers(st) != 0)
        abort();
    celery_state_free(st);
    return 0;
}
