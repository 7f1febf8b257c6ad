/* RabbitMQ DLQs over AMQP 0-9-1 (rabbitmq-c). AMQP has no browse, so every
 * read is a consume with acks on, on a channel of its own:
 *
 *  - The reader opens a channel, counts the queue (passive declare), and
 *    consumes. What it reads stays unacknowledged; closing the channel gives
 *    all of it back, and RabbitMQ puts requeued messages back at their
 *    original positions, headers untouched (tests/integration/
 *    test_dlq_browse.sh checks order and headers of 1,000 messages). The
 *    prefetch window grows as the reader goes (basic.qos) up to AMQP's
 *    65,535; past that the reader continues with basic.get, which no
 *    prefetch limits, so a DLQ of any size is scanned without loading it.
 *    The reader stops at the depth it counted at the start.
 *
 *  - Replay uses a second connection to publish (each connection's frames
 *    then belong to one job): batches of up to CONFIRM_WINDOW messages are
 *    published mandatory through the default exchange (routing key = the
 *    target queue, so queues bound to the original exchange get no second
 *    copy), the batch's confirms are awaited, and only then are the DLQ
 *    copies acked. A basic.return or basic.nack leaves the DLQ copy to be
 *    given back when the channel closes, and counts as failed; but a
 *    return from a queue that exists is published again first (see
 *    republish_returned). If a
 *    connection is lost, at most the batch in flight and the batch acked
 *    just before can exist in both queues: reported as "in doubt".
 *
 * Heartbeats are off: these connections are busy while they live, and a
 * dead broker shows as a socket error. */
#include <amqp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/backoff.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/xalloc.h"
#include "dlq/amqp-io.h"
#include "dlq/amqp-table.h"
#include "dlq/journal.h"

static int amqp_open(struct dlq *d)
{
    struct amqp_dlq *a = xcalloc(1, sizeof *a);
    a->next_channel = 1;
    a->timeout = d->ctx && d->ctx->timeout > 0 ? d->ctx->timeout : 5;
    d->priv = a;
    if (amqp_dlq_connect(d, &a->conn) < 0)
        return -1;
    long n;
    return amqp_dlq_count(d, a->conn, d->addr.name, &n);
}

static void amqp_close(struct dlq *d)
{
    struct amqp_dlq *a = d->priv;
    amqp_dlq_drop(&a->conn);
    amqp_dlq_drop(&a->pub);
    free(a);
    d->priv = NULL;
}

static int amqp_count(struct dlq *d, long *out)
{
    struct amqp_dlq *a = d->priv;
    return amqp_dlq_count(d, a->conn, d->addr.name, out);
}

static int amqp_scan(struct dlq *d, size_t skip, dlq_visit_fn visit, void *arg)
{
    struct amqp_dlq_reader r;
    if (amqp_dlq_reader_open(d, &r) < 0)
        return -1;
    int rc;
    struct dlq_message *m;
    size_t pos = 0;
    while ((rc = amqp_dlq_reader_next(&r, &m)) == 1) {
        m->position = pos++;
        if (m->position < skip) {
            dlq_message_free(m);
            continue;
        }
        if (visit(m, arg))
            break;
    }
    int closed = amqp_dlq_reader_close(&r);
    return rc < 0 || closed < 0 ? -1 : 0;
}

/* ---- replay ---- */

/* Settles a batch whose confirms are all in: journal, then DLQ acks for
 * the confirmed, the rest counted failed (their DLQ copies come back when
 * the channel closes). -1 when an ack could not be sent. */
static int settle_batch(struct dlq *d, const struct dlq_replay *rq, struct amqp_dlq_reader *r,
                        struct dlq_journal *journal, struct amqp_dlq_pending *batch, size_t n,
                        struct dlq_journal_entry *ids, struct dlq_tally *t, long *acked)
{
    size_t nconfirmed = 0, nlines = 0;
    for (size_t i = 0; i < n; i++) {
        if (!batch[i].identity)
            continue;      /* no "p" line was written for it */
        if (batch[i].state == P_CONFIRMED)
            nconfirmed++;
        struct dlq_journal_entry *e = &ids[nlines++];
        e->identity = batch[i].identity;
        e->confirmed = batch[i].state == P_CONFIRMED;
        snprintf(e->token, sizeof e->token, "%s", batch[i].token);
    }
    /* the confirms are durable, the acks are not: remember what moved
     * before acking (see journal.c) */
    if (journal && dlq_journal_append(journal, ids, nlines) < 0 && !t->first_error[0])
        snprintf(t->first_error, sizeof t->first_error, "could not write the replay journal");
    *acked = 0;
    /* delivery tags on the reader's channel run 1, 2, 3...: when nothing
     * up to the batch's last tag is held back, one multiple-ack does */
    uint64_t last = n ? batch[n - 1].dlq_tag : 0;
    if (nconfirmed == n && n > 1 && last - (uint64_t)r->acked == n) {
        int st = amqp_basic_ack(r->conn, r->ch, last, 1);
        if (st != AMQP_STATUS_OK)   /* the caller counts the batch in doubt */
            return dlq_fail(d, DLQ_FAIL_UNREACHABLE, "%s: ack failed: %s", d->display, amqp_error_string2(st));
        for (size_t i = 0; i < n; i++)
            batch[i].acked = true;
        r->acked += (long)n;
        t->moved += (long)n;
        *acked = (long)n;
        for (size_t i = 0; rq->each && i < n; i++)
            rq->each(rq->arg, batch[i].orig, batch[i].target, "moved");
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct amqp_dlq_pending *e = &batch[i];
        if (e->state == P_CONFIRMED) {
            if (amqp_dlq_reader_ack(r, e->dlq_tag) < 0)
                return -1;          /* the caller counts the rest in doubt */
            e->acked = true;
            t->moved++;
            (*acked)++;
            if (rq->each)
                rq->each(rq->arg, e->orig, e->target, "moved");
        } else {
            t->failed++;
            if (!t->first_error[0])
                snprintf(t->first_error, sizeof t->first_error, "%s", e->why);
            if (rq->each)
                rq->each(rq->arg, e->orig, e->target, e->why);
        }
    }
    return 0;
}

/* 1: m is a copy of a message whose republished twin the broker confirmed,
 * left in the DLQ by a lost ack (the journal entry is used up); -1: the
 * journal has a confirmed twin of the same bytes, but m has no death mark
 * to tell it from the same task dead again: keep it; 0: nothing known. */
static int dlq_twin_confirmed(struct dlq_journal *journal, const struct dlq *d, const struct dlq_message *m)
{
    uint64_t id = dlq_message_identity(d, m);
    if (!dlq_message_has_death_mark(m))
        return dlq_journal_has_confirmed(journal, id) ? -1 : 0;
    return dlq_journal_take(journal, id, NULL, 0) ? 1 : 0;
}

/* How long returns from a queue that exists are published again. */
#define RETURN_RETRY_SECONDS 30.0

/* 1: queue amqp:name exists, 0: it does not (the broker said 404), -1:
 * the connection is lost (d->err says why). */
static int target_exists(struct amqp_dlq_publisher *p, const char *name)
{
    struct dlq *d = p->d;
    long depth;
    if (amqp_dlq_count(d, p->conn, name, &depth) == 0)
        return 1;
    if (d->failure != DLQ_FAIL_OPERATION)
        return -1;
    d->err[0] = 0;          /* an answer, not the replay's failure */
    d->failure = DLQ_FAIL_NONE;
    return 0;
}

/* Counts batch's returned entries, after asking whether their queues exist:
 * those whose queue is gone are failures for certain and stop counting.
 * -1 when the connection is lost. */
static long count_retryable(struct amqp_dlq_publisher *p, struct amqp_dlq_pending *batch, size_t n)
{
    long again = 0;
    /* the last target asked about and the answer: batches mostly share one,
     * so a batch returned whole costs one passive declare, not one each */
    const char *asked = NULL;
    int exists = 0;
    for (size_t i = 0; i < n; i++) {
        struct amqp_dlq_pending *e = &batch[i];
        if (e->state != P_FAILED || !e->returned)
            continue;
        if (!asked || strcmp(asked, e->target) != 0) {
            exists = target_exists(p, e->target);
            asked = e->target;
        }
        if (exists < 0)
            return -1;
        if (exists) {
            again++;
            continue;
        }
        e->returned = false;
        snprintf(e->why, sizeof e->why, "returned: NO_ROUTE (no queue amqp:%.200s)", e->target);
    }
    return again;
}

/* A message returned unroutable (NO_ROUTE) to a queue that exists met a
 * broker that was still starting: after a restart, RabbitMQ takes
 * connections before every durable queue is back and bound. Such messages
 * are published again on a jittered backoff, for at most
 * RETURN_RETRY_SECONDS; then, and for a queue that does not exist, they
 * fail (their DLQ copies stay). slots[0..nslots) are every entry in
 * flight (confirms may name any of them). -1 when the connection is lost. */
static int republish_returned(struct amqp_dlq_publisher *p, struct amqp_dlq_pending *slots, size_t nslots,
                              struct amqp_dlq_pending *batch, size_t n)
{
    struct dlq *d = p->d;
    struct backoff wait;
    backoff_init(&wait, 0.1, 3.2, (unsigned)getpid() ^ (unsigned)(clock_mono() * 1e6));
    double give_up = clock_mono() + RETURN_RETRY_SECONDS;
    long again;
    while ((again = count_retryable(p, batch, n)) > 0) {
        double pause = backoff_next(&wait);
        if (clock_mono() + pause > give_up || dlq_cancelled(d)) {
            for (size_t i = 0; i < n; i++)
                if (batch[i].state == P_FAILED && batch[i].returned)
                    snprintf(batch[i].why, sizeof batch[i].why,
                             "returned: NO_ROUTE for %.0f s, though queue amqp:%.200s exists", RETURN_RETRY_SECONDS,
                             batch[i].target);
            return 0;
        }
        log_warn("%s: %ld returned NO_ROUTE though their queue exists (a broker still starting?); publishing "
                 "them again in %.1f s", d->display, again, pause);
        struct timespec ts = {.tv_sec = (time_t)pause, .tv_nsec = (long)((pause - (double)(time_t)pause) * 1e9)};
        nanosleep(&ts, NULL);
        for (size_t i = 0; i < n; i++) {
            struct amqp_dlq_pending *e = &batch[i];
            if (e->state != P_FAILED || !e->returned)
                continue;
            e->returned = false;
            e->why[0] = 0;
            if (amqp_dlq_publish(p, e) < 0)
                return -1;
        }
        if (amqp_dlq_wait_confirms(p, slots, nslots, batch, n) < 0)
            return -1;
    }
    return again < 0 ? -1 : 0;
}

/* Two batches in flight: batch k+1 is read and published while the
 * confirms of batch k come in, then batch k is settled. At most
 * CONFIRM_WINDOW messages are published and unsettled at any time. */
static int amqp_replay(struct dlq *d, const struct dlq_replay *rq, struct dlq_tally *t)
{
    struct amqp_dlq_reader r;
    struct amqp_dlq_publisher p = {0};
    if (amqp_dlq_reader_open(d, &r) < 0)
        return -1;
    r.acting = true;
    t->total = r.expected;
    if (!rq->dry_run && amqp_dlq_publisher_open(d, &p) < 0) {
        amqp_dlq_reader_close(&r);
        return -1;
    }
    size_t window = CONFIRM_WINDOW / 2;
    if (rq->rate > 0 && rq->rate / 10 < window)
        window = rq->rate / 10 >= 1 ? (size_t)(rq->rate / 10) : 1;
    struct dlq_journal *journal = NULL;
    if (rq->journal && !rq->dry_run) {
        char err[512];
        if (dlq_journal_open(rq->journal, &journal, err, sizeof err) < 0) {
            amqp_dlq_publisher_close(&p);
            amqp_dlq_reader_close(&r);
            return dlq_fail(d, DLQ_FAIL_OPERATION, "%s", err);
        }
    }
    struct amqp_dlq_pending *slots = xcalloc(2 * window, sizeof *slots);
    struct dlq_journal_entry *ids = xcalloc(window, sizeof *ids);
    uint64_t run = dlq_token_run();
    unsigned long token_seq = 0;
    struct dlq_pacer pacer;
    dlq_pacer_init(&pacer, rq->rate);
    long acted = 0, last_acked = 0;
    int rc = 0, more = 1;
    size_t pos = 0, cur = 0, prev_n = 0;
    while (rc == 0 && (more == 1 || prev_n)) {
        struct amqp_dlq_pending *batch = &slots[cur * window], *prev = &slots[(1 - cur) * window];
        size_t n = 0;
        while (more == 1 && n < window && (rq->sel.limit <= 0 || acted < rq->sel.limit)) {
            if (dlq_cancelled(d)) {
                more = 0;           /* stop reading; what is in flight is settled */
                t->interrupted = true;
                break;
            }
            struct dlq_message *m;
            if ((more = amqp_dlq_reader_next(&r, &m)) != 1) {
                if (more < 0)
                    rc = -1;
                break;
            }
            m->position = pos++;
            t->seen++;
            dlq_decode(d, m, false);
            if (!dlq_select_match(&rq->sel, m)) {
                dlq_message_free(m);          /* held, given back at the end */
                continue;
            }
            acted++;
            int twin = journal && m->redelivered ? dlq_twin_confirmed(journal, d, m) : 0;
            if (twin > 0) {
                if (amqp_dlq_reader_ack(&r, r.tag) < 0) {
                    dlq_message_free(m);
                    rc = -1;
                    break;
                }
                dlq_tally_dropped(t, m->info.id);
                if (rq->each)
                    rq->each(rq->arg, m, NULL, "dropped: a copy a broker restart brought back; its replayed twin "
                                               "was confirmed");
                dlq_message_free(m);
                continue;
            }
            if (twin < 0)
                t->doubtful++;
            else if (twin == 0 && journal && dlq_journal_take_unsettled(journal, dlq_message_identity(d, m)))
                t->unsettled++;
            struct amqp_dlq_pending *e = &batch[n];
            if (!dlq_replay_decide(d, rq, m, &e->sent, e->target, sizeof e->target, t)) {
                dlq_message_free(m);
                continue;
            }
            e->orig = m;
            e->dlq_tag = r.tag;
            if (e->sent->props) {
                dlq_new_token(run, ++token_seq, e->token, sizeof e->token);
                amqp_field_value_t v = {.kind = AMQP_FIELD_KIND_UTF8, .value.bytes = amqp_cstring_bytes(e->token)};
                dlq_table_set(&e->sent->props->headers, DLQ_REPLAY_TOKEN_HEADER, v);
            }
            dlq_pace(&pacer);
            n++;
            e->identity = dlq_message_identity(d, m);
            if (journal && dlq_journal_publishing(journal, e->identity, e->token) < 0 && !t->first_error[0])
                snprintf(t->first_error, sizeof t->first_error, "could not write the replay journal");
            if (amqp_dlq_publish(&p, e) < 0) {
                rc = -1;
                break;
            }
        }
        if (rq->sel.limit > 0 && acted >= rq->sel.limit && more == 1)
            more = 0;
        if (rc == 0 && prev_n) {
            /* batch k's confirms (batch k+1's may arrive meanwhile) */
            if (amqp_dlq_wait_confirms(&p, slots, 2 * window, prev, prev_n) < 0 ||
                republish_returned(&p, slots, 2 * window, prev, prev_n) < 0 ||
                settle_batch(d, rq, &r, journal, prev, prev_n, ids, t, &last_acked) < 0)
                rc = -1;
            else
                amqp_dlq_pending_clear(prev, prev_n);
        }
        if (rc < 0) {
            /* lost: whatever was published and not settled may be in the
             * target while its DLQ copy comes back; so may the batch acked
             * just before, if those acks never reached the broker */
            for (size_t i = 0; i < prev_n; i++)
                if (prev[i].orig && (!prev[i].acked || !journal) && (prev[i].state != P_FAILED || !prev[i].why[0]))
                    t->in_doubt++;
            for (size_t i = 0; i < n; i++)
                if (batch[i].state != P_FAILED || !batch[i].why[0])
                    t->in_doubt++;
            if (!journal)           /* with it, a lost ack is caught next time */
                t->in_doubt += last_acked;
            amqp_dlq_pending_clear(prev, prev_n);
            amqp_dlq_pending_clear(batch, n);
            break;
        }
        prev_n = rq->dry_run ? 0 : n;
        cur = 1 - cur;
        if (rq->progress)
            rq->progress(rq->arg, t);
    }
    free(slots);
    free(ids);
    dlq_journal_close(journal);
    if (!rq->dry_run)
        amqp_dlq_publisher_close(&p);
    if (rc == 0)
        rc = amqp_dlq_reader_close(&r);
    return rc;
}

/* ---- purge ---- */

static int amqp_purge(struct dlq *d, const struct dlq_select *sel, struct dlq_tally *t)
{
    struct amqp_dlq *a = d->priv;
    if (sel->all && !sel->grep && !sel->nids) {
        amqp_channel_t ch = amqp_dlq_channel(d, a->conn, false);
        if (!ch)
            return -1;
        amqp_queue_purge_ok_t *ok = amqp_queue_purge(a->conn, ch, amqp_cstring_bytes(d->addr.name));
        if (amqp_dlq_rpc_check(d, amqp_get_rpc_reply(a->conn), "queue.purge") < 0)
            return -1;
        t->moved = ok ? (long)ok->message_count : 0;
        t->total = t->seen = t->moved;
        amqp_channel_close(a->conn, ch, AMQP_REPLY_SUCCESS);
        return amqp_dlq_rpc_check(d, amqp_get_rpc_reply(a->conn), "channel.close");
    }
    struct amqp_dlq_reader r;
    if (amqp_dlq_reader_open(d, &r) < 0)
        return -1;
    t->total = r.expected;
    int rc = 0;
    long acted = 0;
    struct dlq_message *m;
    while ((sel->limit <= 0 || acted < sel->limit) && (rc = amqp_dlq_reader_next(&r, &m)) == 1) {
        t->seen++;
        dlq_decode(d, m, false);
        if (dlq_select_match(sel, m)) {
            acted++;
            if (amqp_dlq_reader_ack(&r, r.tag) < 0) {
                dlq_message_free(m);
                rc = -1;
                break;
            }
            t->moved++;
        }
        dlq_message_free(m);
    }
    if (rc > 0)
        rc = 0;
    int closed = amqp_dlq_reader_close(&r);
    return rc < 0 || closed < 0 ? -1 : 0;
}

/* ---- import ---- */

static int amqp_append(struct dlq *d, const char *target, struct dlq_message *const *msgs, size_t n,
                       struct dlq_tally *t)
{
    struct amqp_dlq_publisher p;
    if (amqp_dlq_publisher_open(d, &p) < 0)
        return -1;
    struct amqp_dlq_pending *batch = xcalloc(CONFIRM_WINDOW, sizeof *batch);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t k = 0;
        for (; k < CONFIRM_WINDOW && i < n; k++, i++) {
            batch[k].sent = msgs[i];
            snprintf(batch[k].target, sizeof batch[k].target, "%s", target);
            if (!msgs[i]->props) {
                static struct dlq_amqp_props none;
                msgs[i]->props = xcalloc(1, sizeof none);
            }
            if (amqp_dlq_publish(&p, &batch[k]) < 0) {
                rc = -1;
                k++;
                break;
            }
        }
        if (rc == 0 && (amqp_dlq_wait_confirms(&p, batch, k, batch, k) < 0 ||
                        republish_returned(&p, batch, k, batch, k) < 0))
            rc = -1;
        for (size_t j = 0; j < k; j++) {
            if (rc < 0)
                t->in_doubt++;
            else if (batch[j].state == P_CONFIRMED)
                t->moved++;
            else {
                t->failed++;
                if (!t->first_error[0])
                    snprintf(t->first_error, sizeof t->first_error, "%s", batch[j].why);
            }
            batch[j].sent = NULL;     /* owned by the caller */
        }
        memset(batch, 0, CONFIRM_WINDOW * sizeof *batch);
    }
    free(batch);
    amqp_dlq_publisher_close(&p);
    return rc;
}

const struct dlq_backend dlq_amqp_backend = {
    .kind = QUEUE_AMQP,
    .open = amqp_open,
    .close = amqp_close,
    .count = amqp_count,
    .scan = amqp_scan,
    .replay = amqp_replay,
    .purge = amqp_purge,
    .append = amqp_append,
};
