/* The console's DLQ page thread (see dlq-jobs.h), on the core/loop.h
 * skeleton: the loop starts, wakes and stops the thread; the jobs' own
 * state sits under `lock`. One page at a time; a newer request replaces
 * an older one still waiting and cancels one being read. The connection
 * to the DLQ being viewed is kept between pages and reopened after a
 * failure. */
#include "console/dlq-jobs.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    atomic_int cancel;
    struct dlq_job *pending;        /* owned copy */
    unsigned long pending_seq, next_seq;
    struct dlq_page *done;
    char status[160];
    bool stopping;
    struct dlq *open;               /* the job thread only */
};

struct dlq_job *dlq_job_copy(const struct dlq_job *j)
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

void dlq_job_free(struct dlq_job *j)
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

/* The next job, or NULL: none waits, or the thread is stopping. */
static struct dlq_job *take_job(struct dlq_jobs *w, unsigned long *seq)
{
    pthread_mutex_lock(&w->lock);
    struct dlq_job *job = w->stopping ? NULL : w->pending;
    if (job) {
        *seq = w->pending_seq;
        w->pending = NULL;
        atomic_store(&w->cancel, 0);
    }
    pthread_mutex_unlock(&w->lock);
    return job;
}

static void run_job(struct dlq_jobs *w, struct dlq_job *job, unsigned long seq)
{
    struct dlq_page *page = load_page(w, job, seq);
    dlq_job_free(job);

    pthread_mutex_lock(&w->lock);
    if (!atomic_load(&w->cancel)) {     /* a newer page made this one moot */
        dlq_page_free(w->done);
        w->done = page;
    } else {
        dlq_page_free(page);
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
    loop_init(&w->loop);
    if (loop_start(&w->loop, jobs_main, w) < 0) {
        loop_destroy(&w->loop);
        pthread_mutex_destroy(&w->lock);
        config_context_free(&w->ctx_copy);
        free(w->cfg_copy.audit_log);
        free(w);
        return NULL;
    }
    return w;
}

unsigned long dlq_jobs_submit(struct dlq_jobs *w, const struct dlq_job *job)
{
    struct dlq_job *copy = dlq_job_copy(job);
    pthread_mutex_lock(&w->lock);
    dlq_job_free(w->pending);
    w->pending = copy;
    w->pending_seq = ++w->next_seq;
    unsigned long seq = w->pending_seq;
    /* a page request makes a running search of another page moot */
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

void dlq_jobs_stop(struct dlq_jobs *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;             /* no job starts after this */
    atomic_store(&w->cancel, 1);
    pthread_mutex_unlock(&w->lock);
    loop_stop(&w->loop);
    loop_destroy(&w->loop);
    dlq_job_free(w->pending);
    dlq_page_free(w->done);
    pthread_mutex_destroy(&w->lock);
    config_context_free(&w->ctx_copy);
    free(w->cfg_copy.audit_log);
    free(w);
}
