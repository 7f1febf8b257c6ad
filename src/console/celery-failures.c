/* Celery task failures told to the fleet's event stream (see the header). */
#include "console/celery-failures.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "control/events.h"
#include "core/log.h"

/* "ValueError: boom": a traceback's last line that says something. */
static void last_line(const char *text, char *out, size_t len)
{
    const char *end = text + strlen(text);
    while (end > text && (end[-1] == '\n' || end[-1] == ' '))
        end--;
    const char *start = end;
    while (start > text && start[-1] != '\n')
        start--;
    snprintf(out, len, "%.*s", (int)(end - start), start);
}

void celery_failures_note(struct celery_failures *f, const struct celery_event *ev, const char *task)
{
    if (f->n == CELERY_FAILURES_MAX) {
        f->untold++;
        return;
    }
    struct celery_failure *it = &f->items[f->n++];
    snprintf(it->id, sizeof it->id, "%s", ev->uuid);
    snprintf(it->task, sizeof it->task, "%s", task ? task : "");
    snprintf(it->worker, sizeof it->worker, "%s", ev->hostname ? ev->hostname : "");
    snprintf(it->exception, sizeof it->exception, "%s", ev->exception ? ev->exception : "");
}

void celery_failures_drop(struct celery_failures *f)
{
    f->n = 0;
    f->untold = 0;
}

int celery_failures_tell(struct celery_failures *f, redisContext *c)
{
    if (!f->n || !c)
        return 0;
    cJSON *metas[CELERY_FAILURES_MAX] = {0};
    size_t got = 0;
    for (size_t i = 0; i < f->n; i++)
        redisAppendCommand(c, "GET celery-task-meta-%s", f->items[i].id);
    for (; got < f->n; got++) {   /* every GET's reply before the first XADD */
        redisReply *r = NULL;
        if (redisGetReply(c, (void **)&r) != REDIS_OK) {
            log_warn("celery: task failures: Redis: %s", c->errstr);
            break;
        }
        metas[got] = r->type == REDIS_REPLY_STRING ? cJSON_ParseWithLength(r->str, r->len) : NULL;
        if (!cJSON_IsObject(metas[got])) {
            cJSON_Delete(metas[got]);
            metas[got] = NULL;
        }
        freeReplyObject(r);
    }
    for (size_t i = 0; i < got; i++) {
        const struct celery_failure *it = &f->items[i];
        cJSON *meta = metas[i];
        metas[i] = NULL;
        const cJSON *status = cJSON_GetObjectItemCaseSensitive(meta, "status"),
                    *done = cJSON_GetObjectItemCaseSensitive(meta, "date_done"),
                    *tb = cJSON_GetObjectItemCaseSensitive(meta, "traceback");
        char result[300], line[300] = "";
        if (cJSON_IsString(tb))
            last_line(tb->valuestring, line, sizeof line);
        if (meta)
            snprintf(result, sizeof result, "celery-task-meta: %s, done %s",
                     cJSON_IsString(status) ? status->valuestring : "?", cJSON_IsString(done) ? done->valuestring : "-");
        else
            snprintf(result, sizeof result, "no celery-task-meta (no result backend here, or results ignored)");
        char text[1200], err[256];
        snprintf(text, sizeof text, "%s failed on %s: %s · %s · id %s", it->task[0] ? it->task : "task", it->worker,
                 line[0] ? line : it->exception[0] ? it->exception : "?", result, it->id);
        cJSON_Delete(meta);
        if (events_append(c, "celery.task-failed", it->id, text, err, sizeof err) < 0) {
            log_warn("celery: task failures: %s", err);
            break;
        }
    }
    for (size_t i = 0; i < got; i++)
        cJSON_Delete(metas[i]);
    if (f->untold)
        log_info("celery: %llu more task failures than the event stream takes (%d a second) not told there",
                 (unsigned long long)f->untold, CELERY_FAILURES_MAX);
    celery_failures_drop(f);
    return c->err ? -1 : 0;
}

