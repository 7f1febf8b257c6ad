/* Redis list DLQs (<key>:dlq). Producers LPUSH and consumers take from the
 * right, so the oldest item is at the tail: position 0 is index -1.
 * Pages are LRANGE reads from the tail; nothing is held or changed by
 * reading. A replay moves each item with one Lua script (LREM the oldest
 * equal item from the DLQ, LPUSH the replayed one to the target, both or
 * neither), pipelined a page at a time; an item someone else already took
 * is counted as skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "dlq/redis-common.h"

static const char MOVE_SCRIPT[] =
    "local n = redis.call('LREM', KEYS[1], -1, ARGV[1]) "
    "if n == 1 then redis.call('LPUSH', KEYS[2], ARGV[2]) end "
    "return n";
static const char PURGE_SCRIPT[] =
    "local n = redis.call('LLEN', KEYS[1]) redis.call('DEL', KEYS[1]) return n";

static int list_open(struct dlq *d) { return redis_dlq_open(d, "list"); }

static int list_count(struct dlq *d, long *out)
{
    const char *argv[] = {"LLEN", d->addr.name};
    redisReply *r = redis_dlq_command(d, 2, argv, NULL, "LLEN");
    if (!r)
        return -1;
    *out = (long)r->integer;
    freeReplyObject(r);
    return 0;
}

/* One page from position pos (0 = oldest), oldest first. */
static int read_page(struct dlq *d, size_t pos, struct dlq_message **out, size_t *n)
{
    char start[32], stop[32];
    snprintf(start, sizeof start, "%ld", -(long)(pos + REDIS_PAGE));
    snprintf(stop, sizeof stop, "%ld", -(long)(pos + 1));
    const char *argv[] = {"LRANGE", d->addr.name, start, stop};
    redisReply *r = redis_dlq_command(d, 4, argv, NULL, "LRANGE");
    if (!r)
        return -1;
    *n = 0;
    for (size_t i = r->elements; i-- > 0;) {
        struct dlq_message *m = xcalloc(1, sizeof *m);
        m->body_field = -1;
        dlq_bytes_set(&m->body, r->element[i]->str, r->element[i]->len);
        m->position = pos + *n;
        out[(*n)++] = m;
    }
    freeReplyObject(r);
    return 0;
}

static int list_scan(struct dlq *d, size_t skip, dlq_visit_fn visit, void *arg)
{
    struct dlq_message **page = xcalloc(REDIS_PAGE, sizeof *page);
    size_t pos = skip, n;
    int rc = 0, stop = 0;
    while (!stop) {
        if (dlq_cancelled(d)) {
            rc = dlq_fail(d, DLQ_FAIL_OPERATION, "cancelled");
            break;
        }
        if (read_page(d, pos, page, &n) < 0) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (!stop && visit(page[i], arg))
                stop = 1;
            else if (stop)
                dlq_message_free(page[i]);
        }
        pos += n;
        if (n < REDIS_PAGE)
            break;
    }
    free(page);
    return rc;
}

static int list_replay(struct dlq *d, const struct dlq_replay *rq, struct dlq_tally *t)
{
    struct redis_dlq *rd = d->priv;
    long total;
    if (list_count(d, &total) < 0)
        return -1;
    t->total = total;
    struct redis_replay_page *p = xcalloc(1, sizeof *p);
    struct dlq_pacer pacer;
    dlq_pacer_init(&pacer, rq->rate);
    size_t pos = 0, n;
    long acted = 0;
    int rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        if (dlq_cancelled(d)) {
            t->interrupted = true;      /* every move so far was atomic: nothing in flight */
            break;
        }
        if (read_page(d, pos, p->read, &n) < 0) {
            rc = -1;
            break;
        }
        if (n < REDIS_PAGE)
            done = true;
        for (size_t i = 0; i < n; i++) {
            struct dlq_message *m = p->read[i];
            t->seen++;
            dlq_decode(d, m, false);
            if (done == false && rq->sel.limit > 0 && acted >= rq->sel.limit)
                done = true;
            int k = redis_dlq_replay_prepare(d, rq, m, &acted, p, t);
            if (k < 0)
                continue;
            dlq_pace(&pacer);
            const char *argv[] = {"EVAL", MOVE_SCRIPT, "2", d->addr.name, p->targets[k], m->body.data,
                                  p->sent[k]->body.data};
            size_t lens[] = {4, strlen(MOVE_SCRIPT), 1, strlen(d->addr.name), strlen(p->targets[k]), m->body.len,
                             p->sent[k]->body.len};
            redisAppendCommandArgv(rd->c, 7, argv, lens);
        }
        long removed = redis_dlq_replay_settle(d, rq, p, t);
        if (removed < 0)
            rc = -1;
        else
            pos += n - (size_t)removed;
        if (rq->progress)
            rq->progress(rq->arg, t);
    }
    free(p);
    return rc;
}

/* The page at cur, for the shared purge. */
static int purge_read_page(struct dlq *d, struct redis_cursor *cur, struct dlq_message **out, size_t *n)
{
    if (read_page(d, cur->pos, out, n) < 0)
        return -1;
    cur->pos += *n;
    return 0;
}

/* LREM of the oldest equal item */
static void append_remove(struct dlq *d, const struct dlq_message *m)
{
    struct redis_dlq *rd = d->priv;
    const char *argv[] = {"LREM", d->addr.name, "-1", m->body.data};
    size_t lens[] = {4, strlen(d->addr.name), 2, m->body.len};
    redisAppendCommandArgv(rd->c, 4, argv, lens);
}

static const struct redis_dlq_kind list_kind = {
    .purge_script = PURGE_SCRIPT,
    .count = list_count,
    .read_page = purge_read_page,
    .append_remove = append_remove,
    .remove_what = "LREM",
    .removal_shifts = true,
};

static int list_purge(struct dlq *d, const struct dlq_select *sel, struct dlq_tally *t)
{
    return redis_dlq_purge(d, &list_kind, sel, t);
}

static int list_append(struct dlq *d, const char *target, struct dlq_message *const *msgs, size_t n,
                       struct dlq_tally *t)
{
    for (size_t i = 0; i < n; i += REDIS_PAGE) {
        size_t k = n - i < REDIS_PAGE ? n - i : REDIS_PAGE;
        const char **argv = xcalloc(k + 2, sizeof *argv);
        size_t *lens = xcalloc(k + 2, sizeof *lens);
        argv[0] = "LPUSH";
        lens[0] = 5;
        argv[1] = target;
        lens[1] = strlen(target);
        for (size_t j = 0; j < k; j++) {
            argv[j + 2] = msgs[i + j]->body.data ? msgs[i + j]->body.data : "";
            lens[j + 2] = msgs[i + j]->body.len;
        }
        redisReply *r = redis_dlq_command(d, (int)k + 2, argv, lens, "LPUSH");
        free(argv);
        free(lens);
        if (!r) {
            t->in_doubt += (long)k;
            return -1;
        }
        freeReplyObject(r);
        t->moved += (long)k;
    }
    return 0;
}

const struct dlq_backend dlq_list_backend = {
    .kind = QUEUE_REDIS_LIST,
    .open = list_open,
    .close = redis_dlq_close,
    .count = list_count,
    .scan = list_scan,
    .replay = list_replay,
    .purge = list_purge,
    .append = list_append,
};
