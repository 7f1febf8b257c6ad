/* Redis stream DLQs (<key>:dlq written by stream workers). Pages are
 * XRANGE reads by entry ID (exclusive start), so moving entries never
 * shifts what is still to be read. A replay is one Lua script per entry:
 * XDEL from the DLQ and XADD (new ID) to the target stream, both or
 * neither. Import re-adds entries under their exported IDs when the target
 * allows it (an empty or older stream), so export → purge → import gives
 * the same stream back. The field holding the task (the envelope) is found
 * by name or as the first JSON value; the others are shown like headers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "dlq/redis-common.h"

static const char MOVE_SCRIPT[] =
    "if redis.call('XDEL', KEYS[1], ARGV[1]) == 1 then "
    "redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2)) return 1 end return 0";
static const char PURGE_SCRIPT[] =
    "local n = redis.call('XLEN', KEYS[1]) redis.call('DEL', KEYS[1]) return n";

static const char *const body_names[] = {"envelope", "task", "body", "data", "payload", "message", "msg"};

void dlq_stream_pick_body(struct dlq_message *m)
{
    m->body_field = -1;
    for (size_t n = 0; n < sizeof body_names / sizeof body_names[0] && m->body_field < 0; n++)
        for (size_t i = 0; i < m->nfields; i++)
            if (m->fields[i].name.len == strlen(body_names[n]) &&
                memcmp(m->fields[i].name.data, body_names[n], m->fields[i].name.len) == 0)
                m->body_field = (long)i;
    for (size_t i = 0; i < m->nfields && m->body_field < 0; i++)
        if (m->fields[i].value.len && (m->fields[i].value.data[0] == '{' || m->fields[i].value.data[0] == '['))
            m->body_field = (long)i;
    if (m->body_field < 0 && m->nfields == 1)
        m->body_field = 0;
    dlq_bytes_free(&m->body);
    if (m->body_field >= 0)
        dlq_bytes_set(&m->body, m->fields[m->body_field].value.data, m->fields[m->body_field].value.len);
    else
        dlq_bytes_set(&m->body, "", 0);
}

static int stream_open(struct dlq *d) { return redis_dlq_open(d, "stream"); }

static int stream_count(struct dlq *d, long *out)
{
    const char *argv[] = {"XLEN", d->addr.name};
    redisReply *r = redis_dlq_command(d, 2, argv, NULL, "XLEN");
    if (!r)
        return -1;
    *out = (long)r->integer;
    freeReplyObject(r);
    return 0;
}

static struct dlq_message *entry_message(const redisReply *e)
{
    struct dlq_message *m = xcalloc(1, sizeof *m);
    m->stream_id = xstrndup(e->element[0]->str, e->element[0]->len);
    const redisReply *kv = e->element[1];
    m->nfields = kv->elements / 2;
    m->fields = xcalloc(m->nfields ? m->nfields : 1, sizeof *m->fields);
    for (size_t i = 0; i < m->nfields; i++) {
        dlq_bytes_set(&m->fields[i].name, kv->element[2 * i]->str, kv->element[2 * i]->len);
        dlq_bytes_set(&m->fields[i].value, kv->element[2 * i + 1]->str, kv->element[2 * i + 1]->len);
    }
    dlq_stream_pick_body(m);
    return m;
}

/* The page after `after` (NULL: from the start). */
static int read_page(struct dlq *d, const char *after, size_t pos, struct dlq_message **out, size_t *n)
{
    char start[80], count[16];
    snprintf(start, sizeof start, after ? "(%s" : "-", after);
    snprintf(count, sizeof count, "%d", REDIS_PAGE);
    const char *argv[] = {"XRANGE", d->addr.name, start, "+", "COUNT", count};
    redisReply *r = redis_dlq_command(d, 6, argv, NULL, "XRANGE");
    if (!r)
        return -1;
    *n = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
            continue;
        out[*n] = entry_message(e);
        out[*n]->position = pos + *n;
        (*n)++;
    }
    freeReplyObject(r);
    return 0;
}

static int stream_scan(struct dlq *d, size_t skip, dlq_visit_fn visit, void *arg)
{
    struct dlq_message **page = xcalloc(REDIS_PAGE, sizeof *page);
    char last[80] = "";
    size_t pos = 0, n;
    int rc = 0, stop = 0;
    while (!stop) {
        if (dlq_cancelled(d)) {
            rc = dlq_fail(d, DLQ_FAIL_OPERATION, "cancelled");
            break;
        }
        if (read_page(d, last[0] ? last : NULL, pos, page, &n) < 0) {
            rc = -1;
            break;
        }
        if (n)
            snprintf(last, sizeof last, "%s", page[n - 1]->stream_id);
        for (size_t i = 0; i < n; i++) {
            if (stop || page[i]->position < skip)
                dlq_message_free(page[i]);
            else if (visit(page[i], arg))
                stop = 1;
        }
        pos += n;
        if (n < REDIS_PAGE)
            break;
    }
    free(page);
    return rc;
}

static void append_fields(const struct dlq_message *m, const char **argv, size_t *lens, size_t *k)
{
    for (size_t f = 0; f < m->nfields; f++) {
        argv[*k] = m->fields[f].name.data;
        lens[(*k)++] = m->fields[f].name.len;
        argv[*k] = m->fields[f].value.data;
        lens[(*k)++] = m->fields[f].value.len;
    }
}

static int stream_replay(struct dlq *d, const struct dlq_replay *rq, struct dlq_tally *t)
{
    struct redis_dlq *rd = d->priv;
    long total;
    if (stream_count(d, &total) < 0)
        return -1;
    t->total = total;
    struct redis_replay_page *p = xcalloc(1, sizeof *p);
    struct dlq_pacer pacer;
    dlq_pacer_init(&pacer, rq->rate);
    char last[80] = "";
    size_t pos = 0, n;
    long acted = 0;
    int rc = 0;
    bool done = false;
    while (!done && rc == 0) {
        if (dlq_cancelled(d)) {
            t->interrupted = true;      /* every move so far was atomic: nothing in flight */
            break;
        }
        if (read_page(d, last[0] ? last : NULL, pos, p->read, &n) < 0) {
            rc = -1;
            break;
        }
        done = n < REDIS_PAGE;
        if (n)
            snprintf(last, sizeof last, "%s", p->read[n - 1]->stream_id);
        pos += n;
        for (size_t i = 0; i < n; i++) {
            struct dlq_message *m = p->read[i];
            t->seen++;
            dlq_decode(d, m, false);
            int q = redis_dlq_replay_prepare(d, rq, m, &acted, p, t);
            if (q < 0)
                continue;
            dlq_pace(&pacer);
            size_t cap = 6 + 2 * p->sent[q]->nfields, k = 0;
            const char **argv = xcalloc(cap, sizeof *argv);
            size_t *lens = xcalloc(cap, sizeof *lens);
            const char *fixed[] = {"EVAL", MOVE_SCRIPT, "2", d->addr.name, p->targets[q], m->stream_id};
            for (; k < 6; k++) {
                argv[k] = fixed[k];
                lens[k] = strlen(fixed[k]);
            }
            append_fields(p->sent[q], argv, lens, &k);
            redisAppendCommandArgv(rd->c, (int)k, argv, lens);
            free(argv);
            free(lens);
        }
        if (rq->sel.limit > 0 && acted >= rq->sel.limit)
            done = true;
        if (redis_dlq_replay_settle(d, rq, p, t) < 0)
            rc = -1;
        if (rq->progress)
            rq->progress(rq->arg, t);
    }
    free(p);
    return rc;
}

/* The page after cur->last, for the shared purge. */
static int purge_read_page(struct dlq *d, struct redis_cursor *cur, struct dlq_message **out, size_t *n)
{
    if (read_page(d, cur->last[0] ? cur->last : NULL, cur->pos, out, n) < 0)
        return -1;
    cur->pos += *n;
    if (*n)
        snprintf(cur->last, sizeof cur->last, "%s", out[*n - 1]->stream_id);
    return 0;
}

static void append_remove(struct dlq *d, const struct dlq_message *m)
{
    struct redis_dlq *rd = d->priv;
    const char *argv[] = {"XDEL", d->addr.name, m->stream_id};
    redisAppendCommandArgv(rd->c, 3, argv, NULL);
}

static const struct redis_dlq_kind stream_kind = {
    .purge_script = PURGE_SCRIPT,
    .count = stream_count,
    .read_page = purge_read_page,
    .append_remove = append_remove,
    .remove_what = "XDEL",
    .removal_shifts = false,
};

static int stream_purge(struct dlq *d, const struct dlq_select *sel, struct dlq_tally *t)
{
    return redis_dlq_purge(d, &stream_kind, sel, t);
}

static int stream_append(struct dlq *d, const char *target, struct dlq_message *const *msgs, size_t n,
                         struct dlq_tally *t)
{
    struct redis_dlq *rd = d->priv;
    for (size_t i = 0; i < n; i++) {
        const struct dlq_message *m = msgs[i];
        size_t cap = 3 + 2 * m->nfields, k = 0;
        const char **argv = xcalloc(cap, sizeof *argv);
        size_t *lens = xcalloc(cap, sizeof *lens);
        const char *id = m->stream_id ? m->stream_id : "*";
        argv[k] = "XADD"; lens[k++] = 4;
        argv[k] = target; lens[k++] = strlen(target);
        argv[k] = id; lens[k++] = strlen(id);
        append_fields(m, argv, lens, &k);
        redisReply *r = redisCommandArgv(rd->c, (int)k, argv, lens);
        if (r && r->type == REDIS_REPLY_ERROR && strcmp(id, "*") != 0) {
            /* the target already has newer entries: take a new ID */
            freeReplyObject(r);
            argv[2] = "*";
            lens[2] = 1;
            r = redisCommandArgv(rd->c, (int)k, argv, lens);
        }
        free(argv);
        free(lens);
        if (!r) {
            t->in_doubt++;
            return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s: Redis XADD: %s", d->display, rd->c->errstr);
        }
        if (r->type == REDIS_REPLY_ERROR) {
            t->failed++;
            if (!t->first_error[0])
                snprintf(t->first_error, sizeof t->first_error, "%s", r->str);
        } else {
            t->moved++;
        }
        freeReplyObject(r);
    }
    return 0;
}

const struct dlq_backend dlq_stream_backend = {
    .kind = QUEUE_STREAM,
    .open = stream_open,
    .close = redis_dlq_close,
    .count = stream_count,
    .scan = stream_scan,
    .replay = stream_replay,
    .purge = stream_purge,
    .append = stream_append,
};
