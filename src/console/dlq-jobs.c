/* The console's DLQ job thread (see dlq-jobs.h), on the core/loop.h
 * skeleton: the loop starts, wakes and stops the thread; the jobs' own
 * state sits under `lock`, and `idle` tells dlq_jobs_interrupt that an
 * action ended. One job at a time; a
 * newer page request replaces an older one still waiting, actions never
 * get dropped (an action waiting is not replaced by a page request). The
 * connection to the DLQ being viewed is kept between jobs and reopened
 * after a failure. Actions are written to the audit log here, where their
 * outcome is known. */
#include "console/dlq-jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/audit.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/xalloc.h"

struct dlq_jobs {
    /* copies: the thread may outlive the caller's config by a moment at exit */
    struct config cfg_copy;
    struct context_config ctx_copy;
    const struct config *cfg;
    const struct context_config *ctx;
    int notify_fd;
    struct loop loop;
    pthread_mutex_t lock;
    pthread_cond_t idle;            /* an action ended */
    atomic_int cancel;
    struct dlq_job *pending;        /* owned copy */
    unsigned long pending_seq, next_seq;
    struct dlq_page *done;
    char status[160];
    bool running_action;            /* never cancel a replay or purge half-way */
    bool interrupting;              /* dlq_jobs_interrupt: stop the action, settle, report */
    char last_action[2048];         /* the last action's result line */
    long progress_seen, progress_total;
    struct dlq *open;               /* the job thread only */
};

static struct dlq_job *job_copy(const struct dlq_job *j)
{
    struct dlq_job *c = xcalloc(1, sizeof *c);
    *c = *j;
    c->queue = xstrdup(j->queue);
    c->grep = j->grep && *j->grep ? xstrdup(j->grep) : NULL;
    c->ids = j->nids ? xcalloc(j->nids, sizeof *c->ids) : NULL;
    for (size_t i = 0; i < j->nids; i++)
        c->ids[i] = xstrdup(j->ids[i]);
    if (j->body) {
        struct dlq_bytes *b = xcalloc(1, sizeof *b);
        dlq_bytes_set(b, j->body->data, j->body->len);
        c->body = b;
    }
    return c;
}

static void job_free(struct dlq_job *j)
{
    if (!j)
        return;
    free((char *)j->queue);
    free((char *)j->grep);
    for (size_t i = 0; i < j->nids; i++)
        free(j->ids[i]);
    free(j->ids);
    if (j->body) {
        dlq_bytes_free((struct dlq_bytes *)j->body);
        free((struct dlq_bytes *)j->body);
    }
    free(j);
}

void dlq_page_free(struct dlq_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        dlq_message_free(p->msgs[i]);
    free(p->msgs);
    free(p->queue);
    free(p->grep);
    free(p);
}

static void notify(struct dlq_jobs *w)
{
    if (w->notify_fd < 0)
        return;
    char byte = 1;
    while (write(w->notify_fd, &byte, 1) < 0 && errno == EINTR)
        ;
}

static void set_status(struct dlq_jobs *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_status(struct dlq_jobs *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&w->lock);
    vsnprintf(w->status, sizeof w->status, fmt, ap);
    pthread_mutex_unlock(&w->lock);
    va_end(ap);
    notify(w);
}

static struct dlq *open_dlq(struct dlq_jobs *w, const char *queue, char *err, size_t errlen)
{
    if (w->open && strcmp(w->open->display, queue) == 0)
        return w->open;
    dlq_close(w->open);
    w->open = NULL;
    if (dlq_open(queue, w->ctx, &w->open, err, errlen) < 0)
        return NULL;
    w->open->cancel = &w->cancel;
    return w->open;
}

struct page_collect {
    struct dlq_jobs *w;
    struct dlq_page *page;
    const struct dlq_job *job;
    size_t cap;
    long seen;
};

static int page_visit(struct dlq_message *m, void *arg)
{
    struct page_collect *pc = arg;
    struct dlq_page *p = pc->page;
    pc->seen++;
    dlq_decode(pc->w->open, m, false);
    bool hit = true;
    if (pc->job->grep) {
        struct dlq_select sel = {.grep = pc->job->grep, .all = true};
        hit = dlq_select_match(&sel, m);
        if ((pc->seen & 255) == 0) {
            pthread_mutex_lock(&pc->w->lock);
            snprintf(pc->w->status, sizeof pc->w->status, "searching %s: %ld/%ld scanned, %ld match",
                     p->queue, pc->seen, p->total, p->matches);
            pthread_mutex_unlock(&pc->w->lock);
            notify(pc->w);
        }
    }
    if (!hit) {
        dlq_message_free(m);
        return 0;
    }
    long index = p->matches++;
    if (index >= (long)pc->job->offset && p->n < pc->job->limit) {
        dlq_decode(pc->w->open, m, true);
        if (p->n == pc->cap) {
            pc->cap = pc->cap ? pc->cap * 2 : 64;
            p->msgs = xrealloc(p->msgs, pc->cap * sizeof *p->msgs);
        }
        p->msgs[p->n++] = m;
    } else {
        dlq_message_free(m);
    }
    /* without grep the page is all that is needed; with grep, count on */
    return !pc->job->grep && p->n >= pc->job->limit;
}

static struct dlq_page *load_page(struct dlq_jobs *w, const struct dlq_job *job, unsigned long seq)
{
    struct dlq_page *p = xcalloc(1, sizeof *p);
    p->queue = xstrdup(job->queue);
    p->seq = seq;
    p->total = -1;
    p->offset = job->offset;
    p->grep = job->grep ? xstrdup(job->grep) : NULL;
    set_status(w, "%s %s…", job->grep ? "searching" : "reading", job->queue);
    struct dlq *d = open_dlq(w, job->queue, p->error, sizeof p->error);
    if (!d)
        return p;
    if (d->ops->count(d, &p->total) < 0) {
        snprintf(p->error, sizeof p->error, "%s", d->err);
        dlq_close(w->open);
        w->open = NULL;
        return p;
    }
    struct page_collect pc = {.w = w, .page = p, .job = job};
    /* without grep, skip straight to the page */
    struct dlq_job skipping = *job;
    size_t skip = job->grep ? 0 : job->offset;
    if (!job->grep) {
        skipping.offset = 0;
        pc.job = &skipping;
        p->matches = 0;
    }
    if (d->ops->scan(d, skip, page_visit, &pc) < 0) {
        snprintf(p->error, sizeof p->error, "%s", d->err);
        dlq_close(w->open);
        w->open = NULL;
        return p;
    }
    if (!job->grep)
        p->matches = p->total;
    p->ok = true;
    return p;
}

static void progress_cb(void *arg, const struct dlq_tally *t)
{
    struct dlq_jobs *w = arg;
    pthread_mutex_lock(&w->lock);
    snprintf(w->status, sizeof w->status, "working: %ld/%ld looked at, moved %ld, failed %ld", t->seen, t->total,
             t->moved, t->failed);
    pthread_mutex_unlock(&w->lock);
    notify(w);
}

static void audit(struct dlq_jobs *w, const char *action, const char *target, const char *what, const char *result)
{
    char err[512];
    redisContext *redis = w->ctx->redis ? dlq_redis_connect(w->ctx->redis, w->ctx->timeout, err, sizeof err) : NULL;
    struct audit_entry e = {.action = action, .target = target, .new_value = what, .result = result};
    if (audit_record(w->cfg, w->ctx->name, redis, &e, err, sizeof err) < 0)
        log_warn("dlq: %s", err);
    if (redis)
        redisFree(redis);
}

/* Returns -1 when the action failed or moved not every message it took. */
static int run_action(struct dlq_jobs *w, const struct dlq_job *job, char *result, size_t len)
{
    char err[512];
    struct dlq *d = open_dlq(w, job->queue, err, sizeof err);
    char what[256];
    snprintf(what, sizeof what, "%s%s (console)", job->nids ? "marked messages" : "--all",
             job->body ? ", body edited" : "");
    if (!d) {
        snprintf(result, len, "%s", err);
        return -1;
    }
    struct dlq_tally t = {.total = -1};
    struct dlq_select sel = {.ids = job->ids, .nids = job->nids, .all = job->nids == 0};
    int rc;
    const char *action;
    char tally[1600];
    if (job->kind == DLQ_JOB_REPLAY) {
        action = "dlq.replay";
        char *audit_path = audit_log_path(w->cfg);
        char *slash = strrchr(audit_path, '/');
        char *journal = xasprintf("%.*s/replay-journal.log", slash ? (int)(slash - audit_path) : 1,
                                  slash ? audit_path : ".");
        free(audit_path);
        struct dlq_replay rq = {.sel = sel, .progress = progress_cb, .arg = w, .journal = journal, .body = job->body};
        set_status(w, "replaying from %s…", job->queue);
        rc = d->ops->replay(d, &rq, &t);
        free(journal);
        long left = -1;
        if (rc == 0 && t.interrupted && d->ops->count(d, &left) < 0)
            left = -1;
        dlq_replay_summary(&t, false, rc < 0, left, tally, sizeof tally);
        size_t n = strlen(tally);
        if (t.first_error[0])
            snprintf(tally + n, sizeof tally - n, " — %.200s", t.first_error);
        snprintf(result, len, "replay %s: %s", d->display, tally);
    } else {
        action = job->nids ? "dlq.delete" : "dlq.purge";
        set_status(w, "purging %s…", job->queue);
        rc = d->ops->purge(d, &sel, &t);
        snprintf(tally, sizeof tally, "%spurged %ld", rc < 0 ? "error, " : "", t.moved);
        snprintf(result, len, "purge %s: %s", d->display, tally);
    }
    if (rc < 0) {
        size_t n = strlen(result);
        snprintf(result + n, len - n, " (%.200s)", d->err);
    }
    audit(w, action, d->display, what, tally);
    if (rc < 0) {
        dlq_close(w->open);
        w->open = NULL;
    }
    return rc < 0 || t.failed > 0 ? -1 : 0;
}

/* The next job, or NULL: none waits, or an interrupt holds new ones back. */
static struct dlq_job *take_job(struct dlq_jobs *w, unsigned long *seq)
{
    pthread_mutex_lock(&w->lock);
    struct dlq_job *job = w->interrupting ? NULL : w->pending;
    if (job) {
        *seq = w->pending_seq;
        w->pending = NULL;
        atomic_store(&w->cancel, 0);
        w->running_action = job->kind != DLQ_JOB_PAGE;
    }
    pthread_mutex_unlock(&w->lock);
    return job;
}

static void run_job(struct dlq_jobs *w, struct dlq_job *job, unsigned long seq)
{
    char action[2048] = "";
    bool failed = job->kind != DLQ_JOB_PAGE && run_action(w, job, action, sizeof action) < 0;
    pthread_mutex_lock(&w->lock);
    w->running_action = false;
    if (job->kind != DLQ_JOB_PAGE)
        snprintf(w->last_action, sizeof w->last_action, "%s", action);
    pthread_cond_broadcast(&w->idle);
    pthread_mutex_unlock(&w->lock);
    struct dlq_page *page = NULL;
    if (!atomic_load(&w->cancel))
        page = load_page(w, job, seq);
    if (page) {
        snprintf(page->action, sizeof page->action, "%s", action);
        page->action_failed = failed;
    }
    job_free(job);

    pthread_mutex_lock(&w->lock);
    if (page) {
        dlq_page_free(w->done);
        w->done = page;
    }
    w->status[0] = '\0';
    pthread_mutex_unlock(&w->lock);
    notify(w);
}

/* Sleeps until a submit wakes it (loop_wake: a wake between take_job and
 * the sleep is kept, not lost). */
static void jobs_main(struct loop *l, void *arg)
{
    struct dlq_jobs *w = arg;
    while (!loop_stopping(l)) {
        unsigned long seq;
        struct dlq_job *job = take_job(w, &seq);
        if (job)
            run_job(w, job, seq);
        else
            loop_sleep_until(l, 1e18);
    }
    dlq_close(w->open);
    w->open = NULL;
}

struct dlq_jobs *dlq_jobs_start(const struct config *cfg, const struct context_config *ctx, int notify_fd)
{
    struct dlq_jobs *w = xcalloc(1, sizeof *w);
    config_context_copy(&w->ctx_copy, ctx);
    w->cfg_copy.audit_log = cfg->audit_log ? xstrdup(cfg->audit_log) : NULL;
    w->cfg = &w->cfg_copy;
    w->ctx = &w->ctx_copy;
    w->notify_fd = notify_fd;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->idle, NULL);
    loop_init(&w->loop);
    if (loop_start(&w->loop, jobs_main, w) < 0) {
        loop_destroy(&w->loop);
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->idle);
        config_context_free(&w->ctx_copy);
        free(w->cfg_copy.audit_log);
        free(w);
        return NULL;
    }
    return w;
}

unsigned long dlq_jobs_submit(struct dlq_jobs *w, const struct dlq_job *job)
{
    struct dlq_job *copy = job_copy(job);
    pthread_mutex_lock(&w->lock);
    if (w->pending && w->pending->kind != DLQ_JOB_PAGE && job->kind == DLQ_JOB_PAGE) {
        /* an action waits: it reloads its page itself */
        job_free(copy);
        unsigned long seq = w->pending_seq;
        pthread_mutex_unlock(&w->lock);
        return seq;
    }
    job_free(w->pending);
    w->pending = copy;
    w->pending_seq = ++w->next_seq;
    unsigned long seq = w->pending_seq;
    /* a page request makes a running search of another page moot */
    if (job->kind == DLQ_JOB_PAGE && !w->running_action)
        atomic_store(&w->cancel, 1);
    pthread_mutex_unlock(&w->lock);
    loop_wake(&w->loop);
    return seq;
}

struct dlq_page *dlq_jobs_take(struct dlq_jobs *w)
{
    pthread_mutex_lock(&w->lock);
    struct dlq_page *p = w->done;
    w->done = NULL;
    pthread_mutex_unlock(&w->lock);
    return p;
}

void dlq_jobs_status(struct dlq_jobs *w, char *buf, size_t len)
{
    pthread_mutex_lock(&w->lock);
    snprintf(buf, len, "%s", w->status);
    pthread_mutex_unlock(&w->lock);
}

bool dlq_jobs_interrupt(struct dlq_jobs *w, char *result, size_t len)
{
    if (!w)
        return false;
    pthread_mutex_lock(&w->lock);
    w->interrupting = true;         /* and start nothing new */
    bool was = w->running_action;
    if (was) {
        atomic_store(&w->cancel, 1);
        while (w->running_action)
            pthread_cond_wait(&w->idle, &w->lock);
        snprintf(result, len, "%s", w->last_action);
    }
    pthread_mutex_unlock(&w->lock);
    return was;
}

void dlq_jobs_stop(struct dlq_jobs *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->interrupting = true;         /* no job starts after this */
    atomic_store(&w->cancel, 1);
    pthread_mutex_unlock(&w->lock);
    loop_stop(&w->loop);
    loop_destroy(&w->loop);
    job_free(w->pending);
    dlq_page_free(w->done);
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->idle);
    config_context_free(&w->ctx_copy);
    free(w->cfg_copy.audit_log);
    free(w);
}
