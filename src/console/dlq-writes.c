/* DLQ actions as write-queue jobs (see dlq-writes.h). Each job carries
 * copies of the context and the audit log's path, and opens its own
 * connection to the DLQ: the write thread owns it for the job's length. */
#include "console/dlq-writes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/audit.h"
#include "core/log.h"
#include "core/xalloc.h"

struct dlq_write {
    struct console_writes *w;
    struct config cfg;              /* audit_log only */
    struct context_config ctx;
    struct dlq_job *job;
    char target[512];               /* the first queue a message moved to */
    bool targets;                   /* more than one */
    const char *scheme;
};

static void dlq_write_free(void *arg)
{
    struct dlq_write *dw = arg;
    dlq_job_free(dw->job);
    config_context_free(&dw->ctx);
    free(dw->cfg.audit_log);
    free(dw);
}

static void progress(void *arg, const struct dlq_tally *t)
{
    struct dlq_write *dw = arg;
    writes_progress(dw->w, "replaying %s: %ld/%ld looked at, moved %ld, failed %ld", dw->job->queue, t->seen,
                    t->total, t->moved, t->failed);
}

/* Where the moved messages went: one queue, or "N queues". */
static void each(void *arg, const struct dlq_message *m, const char *target, const char *outcome)
{
    (void)m;
    struct dlq_write *dw = arg;
    if (!target || !outcome || strcmp(outcome, "moved") != 0)
        return;
    char addr[sizeof dw->target];
    snprintf(addr, sizeof addr, "%s:%s", dw->scheme, target);
    if (!dw->target[0])
        snprintf(dw->target, sizeof dw->target, "%s", addr);
    else if (strcmp(dw->target, addr) != 0)
        dw->targets = true;
}

static void audit(struct dlq_write *dw, const char *action, const char *target, const char *what, const char *result)
{
    char err[512];
    const struct context_config *ctx = &dw->ctx;
    redisContext *redis = ctx->redis ? dlq_redis_connect(ctx->redis, ctx->timeout, err, sizeof err) : NULL;
    struct audit_entry e = {.action = action, .target = target, .new_value = what, .result = result};
    if (audit_record(&dw->cfg, ctx->name, redis, &e, err, sizeof err) < 0)
        log_warn("dlq: %s", err);
    if (redis)
        redisFree(redis);
}

static int replay(struct dlq_write *dw, struct dlq *d, const struct dlq_select *sel, char *tally, size_t tlen,
                  char *result, size_t len)
{
    const struct dlq_job *job = dw->job;
    struct dlq_tally t = {.total = -1};
    char *audit_path = audit_log_path(&dw->cfg);
    char *slash = strrchr(audit_path, '/');
    char *journal = xasprintf("%.*s/replay-journal.log", slash ? (int)(slash - audit_path) : 1,
                              slash ? audit_path : ".");
    free(audit_path);
    struct dlq_replay rq = {.sel = *sel, .progress = progress, .each = each, .arg = dw, .journal = journal,
                            .body = job->body};
    int rc = d->ops->replay(d, &rq, &t);
    free(journal);
    long left = -1;
    if (rc == 0 && t.interrupted && d->ops->count(d, &left) < 0)
        left = -1;
    dlq_replay_summary(&t, false, rc < 0, left, tally, tlen);
    size_t n = strlen(tally);
    if (t.first_error[0])
        snprintf(tally + n, tlen - n, " — %.200s", t.first_error);
    long asked = job->nids ? (long)job->nids : t.total >= 0 ? t.total : t.seen;
    char to[600];
    if (dw->targets)
        snprintf(to, sizeof to, "their queues");
    else
        snprintf(to, sizeof to, "%s", dw->target[0] ? dw->target : "where they died");
    if (rc < 0)
        snprintf(result, len, "replay %s failed: %s (%.200s)", d->display, tally, d->err);
    else
        snprintf(result, len, "replayed %ld of %ld to %s from %s: %s", t.moved, asked, to, d->display, tally);
    return t.interrupted ? 1 : rc < 0 || t.failed > 0 ? -1 : 0;   /* 1: writes_interrupt reports it */
}

static int purge(struct dlq_write *dw, struct dlq *d, const struct dlq_select *sel, char *tally, size_t tlen,
                 char *result, size_t len)
{
    const struct dlq_job *job = dw->job;
    struct dlq_tally t = {.total = -1};
    int rc = d->ops->purge(d, sel, &t);
    snprintf(tally, tlen, "%spurged %ld", rc < 0 ? "error, " : "", t.moved);
    if (rc < 0)
        snprintf(result, len, "purge %s failed: %s (%.200s)", d->display, tally, d->err);
    else if (job->nids)
        snprintf(result, len, "deleted %ld of %zu marked message%s from %s: %s", t.moved, job->nids,
                 job->nids == 1 ? "" : "s", d->display, tally);
    else
        snprintf(result, len, "%spurged %ld from %s", t.interrupted ? "interrupted: " : "", t.moved, d->display);
    return t.interrupted ? 1 : rc;
}

static int run_dlq_write(void *arg, char *result, size_t len)
{
    struct dlq_write *dw = arg;
    const struct dlq_job *job = dw->job;
    char err[512];
    struct dlq *d = NULL;
    if (dlq_open(job->queue, &dw->ctx, &d, err, sizeof err) < 0) {
        snprintf(result, len, "%s", err);
        return -1;
    }
    d->cancel = writes_cancel_flag(dw->w);
    dw->scheme = queue_kind_scheme(d->addr.kind);
    char what[256], tally[1600];
    snprintf(what, sizeof what, "%s%s (console)", job->nids ? "marked messages" : "--all",
             job->body ? ", body edited" : "");
    struct dlq_select sel = {.ids = job->ids, .nids = job->nids, .all = job->nids == 0};
    bool replaying = job->kind == DLQ_JOB_REPLAY;
    int rc = replaying ? replay(dw, d, &sel, tally, sizeof tally, result, len)
                       : purge(dw, d, &sel, tally, sizeof tally, result, len);
    audit(dw, replaying ? "dlq.replay" : job->nids ? "dlq.delete" : "dlq.purge", d->display, what, tally);
    dlq_close(d);
    return rc;
}

unsigned long dlq_write_submit(struct console_writes *w, const struct config *cfg, const struct context_config *ctx,
                               const struct dlq_job *job)
{
    struct dlq_write *dw = xcalloc(1, sizeof *dw);
    dw->w = w;
    dw->cfg.audit_log = cfg->audit_log ? xstrdup(cfg->audit_log) : NULL;
    config_context_copy(&dw->ctx, ctx);
    dw->job = dlq_job_copy(job);
    char label[1200];
    if (job->kind == DLQ_JOB_REPLAY)
        snprintf(label, sizeof label, "replaying %s of %s", job->nids ? "marked messages" : "every message", job->queue);
    else
        snprintf(label, sizeof label, "%s %s", job->nids ? "deleting marked messages of" : "purging", job->queue);
    return writes_enqueue(w, label, run_dlq_write, dlq_write_free, dw);
}
