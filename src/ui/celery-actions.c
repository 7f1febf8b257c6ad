/* Celery shutdown and revoke from the console (see the header). A request
 * is copied into a job when the operator confirms; the write thread sends
 * it over the context's broker (AMQP when it has one, else Redis), waits
 * for the replies (2 s at most; 1 s for shutdown, which Celery never
 * answers), audits, and writes the status line. */
#include "ui/celery-actions.h"

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celery/pidbox.h"
#include "console/writes.h"
#include "control/audit.h"
#include "control/policy-store.h"
#include "core/xalloc.h"
#include "ui/confirm.h"

#define REPLY_WAIT 2.0
#define SHUTDOWN_WAIT 1.0   /* Celery's shutdown raises WorkerShutdown: no reply ever comes */

struct celery_job {
    struct context_config ctx;   /* a copy (config_context_copy), owned by the job */
    const char *broker_url;      /* ctx's AMQP URL, else its Redis URL */
    const struct config *cfg;
    char method[16];          /* shutdown | revoke */
    char target[256];         /* the worker, or the task id */
    bool terminate;
};

/* What the confirmation owns until y (confirm.h), then the write queue. */
static void job_free(void *arg)
{
    struct celery_job *job = arg;
    if (!job)
        return;
    config_context_free(&job->ctx);
    free(job);
}

static void audit(const struct celery_job *job, const char *args, const char *result)
{
    char action[32], err[300];
    snprintf(action, sizeof action, "celery.%s", job->method);
    const char *target = strcmp(job->method, "shutdown") == 0 ? job->target : "all workers";
    struct audit_entry e = {.action = action, .target = target, .new_value = args, .result = result};
    redisContext *c = job->ctx.redis ? policy_connect(job->ctx.redis, 2, err, sizeof err) : NULL;
    audit_record(job->cfg, job->ctx.name, c, &e, err, sizeof err);
    if (c)
        redisFree(c);
}

/* "w1@host: ok: tasks flagged as revoked, w2@host: ..." */
static void replies_text(const cJSON *replies, char *buf, size_t len)
{
    const cJSON *r;
    size_t used = 0;
    buf[0] = '\0';
    cJSON_ArrayForEach(r, replies) {
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(r, "ok"), *error = cJSON_GetObjectItemCaseSensitive(r, "error");
        int n = snprintf(buf + used, len - used, "%s%s: %s%s", used ? ", " : "", r->string,
                         cJSON_IsString(error) ? "error: " : "ok: ",
                         cJSON_IsString(error) ? error->valuestring : cJSON_IsString(ok) ? ok->valuestring : "?");
        if (n < 0 || (size_t)n >= len - used)
            break;
        used += (size_t)n;
    }
}

/* On the console's write thread. */
static int run_job(void *arg, char *text, size_t len)
{
    struct celery_job *job = arg;
    cJSON *args = cJSON_CreateObject();
    const char *dest[1] = {job->target};
    struct celery_pidbox_request req = {.method = job->method, .arguments = args, .wait = REPLY_WAIT};
    if (strcmp(job->method, "shutdown") == 0) {
        req.destination = dest;
        req.ndestination = 1;
        req.wait = SHUTDOWN_WAIT;
    } else {
        cJSON_AddStringToObject(args, "task_id", job->target);
        if (job->terminate)
            cJSON_AddTrueToObject(args, "terminate");
    }
    char *argtext = cJSON_PrintUnformatted(args), err[300], result[320], replies_line[600];
    cJSON *replies = NULL;
    int rc = celery_pidbox_call(job->broker_url, &job->ctx.tls, job->ctx.timeout, &req, &replies, err, sizeof err);
    cJSON_Delete(args);
    if (rc == 0) {
        snprintf(result, sizeof result, "%d replies", cJSON_GetArraySize(replies));
        replies_text(replies, replies_line, sizeof replies_line);
        snprintf(text, len, "celery %s %s: %s%s%s", job->method, job->target, result, replies_line[0] ? " - " : "",
                 replies_line);
    } else {
        snprintf(text, len, "celery %s %s: %s", job->method, job->target, err);
    }
    audit(job, argtext, rc == 0 ? result : err);
    cJSON_Delete(replies);
    free(argtext);
    return rc;
}

static void submit(struct ui *ui, void *arg)
{
    struct celery_job *job = arg;
    char label[320];
    snprintf(label, sizeof label, "celery %s %s", job->method, job->target);
    if (!writes_submit(ui->writes, label, run_job, job_free, job)) {
        ui_write_refused(ui);
        return;
    }
    ui_message(ui, "%s: sent, waiting for the replies ...", label);
}

/* NULL (and the status line says why) when this console cannot send it. */
static struct celery_job *job_new(struct ui *ui, const char *method, const char *target)
{
    const struct context_config *ctx = ui->opt->ctx;
    char action[32];
    snprintf(action, sizeof action, "celery.%s", method);
    if (ctx && ctx->read_only) {
        ui_message(ui, "read-only: celery %s refused (--read-only or read_only in the context)", method);
        struct audit_entry e = {.action = action, .target = target, .result = "refused: read-only"};
        char err[300];
        audit_record(ui->opt->cfg, ctx->name, NULL, &e, err, sizeof err);
        return NULL;
    }
    const char *url = ctx ? (ctx->amqp ? ctx->amqp : ctx->redis) : NULL;
    if (!url) {
        ui_message(ui, "celery %s: Celery's remote control goes through its broker; this context has none", method);
        return NULL;
    }
    struct celery_job *job = xcalloc(1, sizeof *job);
    config_context_copy(&job->ctx, ctx);
    job->broker_url = job->ctx.amqp ? job->ctx.amqp : job->ctx.redis;
    job->cfg = ui->opt->cfg;
    snprintf(job->method, sizeof job->method, "%s", method);
    snprintf(job->target, sizeof job->target, "%s", target);
    return job;
}

void celery_ask_shutdown(struct ui *ui, const char *hostname)
{
    struct celery_job *job = job_new(ui, "shutdown", hostname);
    if (!job)
        return;
    confirm_ask(ui, hostname, NULL, submit, job, job_free,
                "Shut down Celery worker %s (warm: it finishes its tasks and exits). Type %s", hostname, hostname);
}

void celery_ask_revoke(struct ui *ui, const char *task_id, bool terminate)
{
    struct celery_job *job = job_new(ui, "revoke", task_id);
    if (!job)
        return;
    job->terminate = terminate;
    confirm_ask(ui, task_id, NULL, submit, job, job_free, "Revoke task %s on every Celery worker%s. Type its id", task_id,
                terminate ? " and terminate it if it runs" : "");
}
