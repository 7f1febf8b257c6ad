/* Shared Redis plumbing for dlq-list.c and dlq-stream.c: connection,
 * commands and replies, the replay page, and the one purge. */
#include "dlq/redis-common.h"

#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

int redis_dlq_open(struct dlq *d, const char *type)
{
    struct redis_dlq *r = xcalloc(1, sizeof *r);
    d->priv = r;
    if (!d->ctx || !d->ctx->redis)
        return dlq_fail(d, DLQ_FAIL_USAGE, "%s: no Redis URL (give --redis or set redis in the context)", d->display);
    char err[512];
    r->c = dlq_redis_connect(d->ctx->redis, d->ctx->timeout, err, sizeof err);
    if (!r->c)
        return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s", err);
    const char *argv[] = {"TYPE", d->addr.name};
    redisReply *rep = redis_dlq_command(d, 2, argv, NULL, "TYPE");
    if (!rep)
        return -1;
    int rc = 0;
    if (strcmp(rep->str, type) != 0 && strcmp(rep->str, "none") != 0)
        rc = dlq_fail(d, DLQ_FAIL_USAGE, "%s: the key is a %s, not a %s", d->display, rep->str, type);
    freeReplyObject(rep);
    return rc;
}

void redis_dlq_close(struct dlq *d)
{
    struct redis_dlq *r = d->priv;
    if (r->c)
        redisFree(r->c);
    free(r);
    d->priv = NULL;
}

static int transport_fail(struct dlq *d, const char *what)
{
    struct redis_dlq *r = d->priv;
    return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s: Redis %s: %s", d->display, what,
                    r->c->errstr[0] ? r->c->errstr : "connection lost");
}

redisReply *redis_dlq_command(struct dlq *d, int argc, const char **argv, const size_t *lens, const char *what)
{
    struct redis_dlq *r = d->priv;
    redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
    if (!rep) {
        transport_fail(d, what);
        return NULL;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        dlq_fail(d, DLQ_FAIL_OPERATION, "%s: Redis refused %s: %s", d->display, what, rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

int redis_dlq_replies(struct dlq *d, size_t n, redisReply **out, const char *what)
{
    struct redis_dlq *r = d->priv;
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK) {
            for (size_t k = 0; k < i; k++)
                freeReplyObject(out[k]);
            return transport_fail(d, what);
        }
        out[i] = rep;
    }
    return 0;
}

int redis_dlq_replay_prepare(struct dlq *d, const struct dlq_replay *rq, struct dlq_message *m, long *acted,
                             struct redis_replay_page *p, struct dlq_tally *t)
{
    if ((rq->sel.limit > 0 && *acted >= rq->sel.limit) || !dlq_select_match(&rq->sel, m)) {
        dlq_message_free(m);
        return -1;
    }
    (*acted)++;
    size_t k = p->queued;
    if (!dlq_replay_decide(d, rq, m, &p->sent[k], p->targets[k], sizeof p->targets[k], t)) {
        dlq_message_free(m);
        return -1;
    }
    p->orig[k] = m;
    p->queued++;
    return (int)k;
}

long redis_dlq_replay_settle(struct dlq *d, const struct dlq_replay *rq, struct redis_replay_page *p,
                             struct dlq_tally *t)
{
    bool ok = true;
    if (p->queued && redis_dlq_replies(d, p->queued, p->replies, "EVAL (move)") < 0) {
        t->in_doubt += (long)p->queued;
        ok = false;
    }
    long removed = 0;
    for (size_t i = 0; i < p->queued; i++) {
        if (ok) {
            redisReply *r = p->replies[i];
            const char *outcome = "moved";
            if (r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
                t->moved++;
                removed++;
            } else if (r->type == REDIS_REPLY_INTEGER) {
                t->skipped++;
                outcome = "gone from the DLQ before it could move";
            } else {
                t->failed++;
                outcome = r->type == REDIS_REPLY_ERROR ? r->str : "failed";
                if (!t->first_error[0])
                    snprintf(t->first_error, sizeof t->first_error, "%s", r->type == REDIS_REPLY_ERROR ? r->str : "?");
            }
            if (rq->each)
                rq->each(rq->arg, p->orig[i], p->targets[i], outcome);
            freeReplyObject(r);
        }
        dlq_message_free(p->orig[i]);
        dlq_message_free(p->sent[i]);
    }
    p->queued = 0;
    return ok ? removed : -1;
}

static int purge_whole_key(struct dlq *d, const struct redis_dlq_kind *k, struct dlq_tally *t)
{
    const char *argv[] = {"EVAL", k->purge_script, "1", d->addr.name};
    redisReply *r = redis_dlq_command(d, 4, argv, NULL, "EVAL (purge)");
    if (!r)
        return -1;
    t->moved = t->total = t->seen = (long)r->integer;
    freeReplyObject(r);
    return 0;
}

/* Reads the replies of the queued removals; how many removed, -1 on a
 * transport error or an error reply. */
static long purge_settle(struct dlq *d, const struct redis_dlq_kind *k, size_t queued, redisReply **replies,
                         struct dlq_tally *t)
{
    if (queued && redis_dlq_replies(d, queued, replies, k->remove_what) < 0)
        return -1;
    long removed = 0;
    int rc = 0;
    for (size_t i = 0; i < queued; i++) {
        redisReply *r = replies[i];
        if (r->type == REDIS_REPLY_ERROR) {
            if (rc == 0)
                rc = dlq_fail(d, DLQ_FAIL_OPERATION, "%s: Redis refused %s: %s", d->display, k->remove_what, r->str);
        } else if (r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
            t->moved++;
            removed++;
        } else {
            t->skipped++;
        }
        freeReplyObject(r);
    }
    return rc < 0 ? -1 : removed;
}

int redis_dlq_purge(struct dlq *d, const struct redis_dlq_kind *k, const struct dlq_select *sel,
                    struct dlq_tally *t)
{
    if (sel->all && !sel->grep && !sel->nids)
        return purge_whole_key(d, k, t);
    long total;
    if (k->count(d, &total) < 0)
        return -1;
    t->total = total;
    struct dlq_message **page = xcalloc(REDIS_PAGE, sizeof *page);
    redisReply **replies = xcalloc(REDIS_PAGE, sizeof *replies);
    struct redis_cursor cur = {0};
    size_t n;
    long acted = 0;
    int rc = 0;
    for (bool done = false; !done && rc == 0;) {
        if (k->read_page(d, &cur, page, &n) < 0) {
            rc = -1;
            break;
        }
        done = n < REDIS_PAGE;
        size_t queued = 0;
        for (size_t i = 0; i < n; i++) {
            t->seen++;
            dlq_decode(d, page[i], false);
            if ((sel->limit <= 0 || acted < sel->limit) && dlq_select_match(sel, page[i])) {
                k->append_remove(d, page[i]);
                queued++;
                acted++;
            }
            dlq_message_free(page[i]);
        }
        long removed = purge_settle(d, k, queued, replies, t);
        if (removed < 0)
            rc = -1;
        else if (k->removal_shifts)
            cur.pos -= (size_t)removed;
    }
    free(page);
    free(replies);
    return rc;
}
