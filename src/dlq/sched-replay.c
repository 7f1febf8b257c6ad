/* Scheduled DLQ replay (see sched-replay.h): runs on the scheduler thread
 * of the leader, with connections of its own opened for the run. */
#include "dlq/sched-replay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/audit.h"
#include "core/xalloc.h"
#include "dlq/dlq.h"

char *dlq_journal_path(const struct config *cfg)
{
    char *audit_path = audit_log_path(cfg);
    char *slash = strrchr(audit_path, '/');
    char *journal = slash ? xasprintf("%.*s/replay-journal.log", (int)(slash - audit_path), audit_path)
                          : xstrdup("replay-journal.log");
    free(audit_path);
    return journal;
}

static void record(const struct dlq_sched_context *sc, const char *target, const char *what, const char *result)
{
    char err[256];
    redisContext *c = sc->ctx->redis ? dlq_redis_connect(sc->ctx->redis, sc->ctx->timeout, err, sizeof err) : NULL;
    struct audit_entry e = {"dlq.replay", target, NULL, what, result};
    audit_record(sc->cfg, sc->ctx->name, c, &e, err, sizeof err);
    if (c)
        redisFree(c);
}

int dlq_sched_replay(void *arg, const struct schedule_config *job, char *result, size_t len)
{
    const struct dlq_sched_context *sc = arg;
    char what[160];
    snprintf(what, sizeof what, "scheduled %s: --all --limit %d --rate %g", job->name, job->limit, job->rate);
    if (!job->queue) {
        snprintf(result, len, "replay needs queue = the DLQ's address");
        return -1;
    }
    if (sc->ctx->read_only) {
        snprintf(result, len, "refused: read-only context");
        record(sc, job->queue, what, result);
        return -1;
    }
    struct dlq *d;
    char err[512];
    if (dlq_open(job->queue, sc->ctx, &d, err, sizeof err) != 0) {
        snprintf(result, len, "%s", err);
        return -1;
    }
    char *journal = dlq_journal_path(sc->cfg);
    struct dlq_replay rq = {
        .sel = {.all = true, .limit = job->limit},
        .rate = job->rate,
        .journal = journal,
    };
    struct dlq_tally t = {.total = -1};
    int rc = d->ops->replay(d, &rq, &t);
    free(journal);
    if (rc < 0)
        snprintf(result, len, "error after moving %ld: %s", t.moved, d->err);
    else
        dlq_replay_summary(&t, false, false, -1, result, len);   /* drops counted and named */
    record(sc, d->display, what, result);
    dlq_close(d);
    return rc < 0 || t.failed ? -1 : 0;
}
