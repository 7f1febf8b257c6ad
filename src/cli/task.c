/* `qdeck task ID [--backend URL] [--json]`: one task looked up in both
 * result stores a team may have: Celery's result backend on Redis
 * (`celery-task-meta-<id>`, JSON with status, result, traceback,
 * date_done) and qdeck's own (`qdeck:task:<id>`, a hash; worker/results.h).
 * Both are read in one pipelined round trip from --backend, else the
 * context's Redis. Exit 1 when neither holds it. */
#include <cJSON.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/app.h"
#include "control/keys.h"
#include "net/redis-open.h"

#define CELERY_META_PREFIX "celery-task-meta-"

const char task_usage[] =
    "usage: qdeck task ID [--backend URL] [--json]\n"
    "One task from Celery's result backend (celery-task-meta-ID) or qdeck's result store (qdeck:task:ID),\n"
    "read from --backend (a Redis URL), else the context's Redis.";

const struct arg_option task_options[] = {
    OPT_FLAG("json", 0, "one JSON object on stdout"),
    OPT_STRING("backend", 0, "URL", "the Redis holding Celery's results (default: the context's Redis)"),
    OPT_END,
};

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n > 200)
        return false;
    for (const char *p = id; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return false;
    return true;
}

/* Celery's JSON -> the common shape; NULL when it is not Celery's. */
static cJSON *from_celery(const char *id, const char *json)
{
    cJSON *meta = cJSON_Parse(json);
    if (!cJSON_IsObject(meta)) {
        cJSON_Delete(meta);
        return NULL;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "store", "celery");
    static const char *const fields[] = {"status", "result", "traceback", "date_done", "children", "name", "worker",
                                         "retries", "queue"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(meta, fields[i]);
        if (v)
            cJSON_AddItemToObject(o, fields[i], cJSON_Duplicate(v, 1));
    }
    cJSON_Delete(meta);
    return o;
}

static cJSON *from_qdeck(const char *id, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0)
        return NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "store", "qdeck");
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->str && r->element[i + 1]->str)
            cJSON_AddStringToObject(o, r->element[i]->str, r->element[i + 1]->str);
    return o;
}

static void print_table(const cJSON *o)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, o) {
        char *text = cJSON_IsString(v) ? NULL : cJSON_PrintUnformatted(v);
        const char *s = cJSON_IsString(v) ? v->valuestring : text;
        /* a traceback keeps its lines, indented under its name */
        printf("%-10s ", v->string);
        for (const char *p = s; *p; p++) {
            putchar(*p);
            if (*p == '\n' && p[1])
                printf("%-10s ", "");
        }
        if (!*s || s[strlen(s) - 1] != '\n')
            putchar('\n');
        free(text);
    }
}

int cmd_task(struct app *app, const struct args *a)
{
    if (a->nwords != 2)
        return fail(EXIT_USAGE, "%s", task_usage);
    const char *id = a->words[1];
    if (!id_ok(id))
        return fail(EXIT_USAGE, "task: \"%.40s\" is not a task id (1-200 characters, no spaces)", id);
    const char *url = args_string(a, "backend");
    if (!url)
        url = app->ctx ? app->ctx->redis : NULL;
    if (!url)
        return fail(EXIT_USAGE, "task reads Redis: give --backend URL or --redis URL");
    char err[300];
    redisContext *c = redis_open(url, app->ctx ? app->ctx->timeout : 5, 0, err, sizeof err);
    if (!c)
        return fail(EXIT_UNREACHABLE, "%s", err);
    redisAppendCommand(c, "GET " CELERY_META_PREFIX "%s", id);
    redisAppendCommand(c, "HGETALL " KEY_TASK_PREFIX "%s", id);
    redisReply *meta = NULL, *hash = NULL;
    if (redisGetReply(c, (void **)&meta) != REDIS_OK || redisGetReply(c, (void **)&hash) != REDIS_OK) {
        int rc = fail(EXIT_UNREACHABLE, "Redis: %s", c->errstr);
        freeReplyObject(meta);
        redisFree(c);
        return rc;
    }
    redisFree(c);
    cJSON *o = meta->type == REDIS_REPLY_STRING ? from_celery(id, meta->str) : NULL;
    if (!o)
        o = from_qdeck(id, hash);
    freeReplyObject(meta);
    freeReplyObject(hash);
    if (!o)
        return fail(EXIT_FAILED, "no task %s: neither " CELERY_META_PREFIX "%s nor " KEY_TASK_PREFIX "%s exists", id, id,
                    id);
    if (args_flag(a, "json")) {
        print_json(o);
    } else {
        print_table(o);
        cJSON_Delete(o);
    }
    return EXIT_OK;
}
