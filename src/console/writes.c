/* The console's write queue (see writes.h): a ring of jobs and a ring of
 * results under one mutex, one thread waiting on a condition variable.
 * Tickets count up: every ticket below `next_done` has ended, since the
 * jobs run in the order they came. */
#include "console/writes.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"

#define QUEUE_MAX 16

struct write_job {
    char label[256];
    write_run_fn run;
    void (*free_arg)(void *);
    void *arg;
};

struct write_result {
    char line[1024];
    bool failed;
};

struct console_writes {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;            /* a job came, or stop */
    pthread_cond_t ended;           /* the running job ended */
    struct write_job jobs[QUEUE_MAX];
    size_t head, njobs;
    struct write_result results[QUEUE_MAX];
    size_t rhead, nresults;
    char running[300];              /* label…, then progress; "" idle */
    bool busy;
    unsigned long next_ticket, next_done;   /* tickets < next_done have ended */
    char last_line[1024];           /* the newest result, for writes_interrupt */
    bool last_stopped;              /* and it stopped early */
    bool stopping, interrupting;
    atomic_int cancel;
    int notify_fd;
};

static void wake_ui(struct console_writes *w)
{
    if (w->notify_fd >= 0 && write(w->notify_fd, "w", 1) < 0) {
        /* a full pipe already wakes the UI */
    }
}

static void *writer(void *arg)
{
    struct console_writes *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while ((!w->njobs || w->interrupting) && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->stopping)
            break;
        struct write_job job = w->jobs[w->head];
        w->head = (w->head + 1) % QUEUE_MAX;
        w->njobs--;
        snprintf(w->running, sizeof w->running, "%s…", job.label);
        w->busy = true;
        atomic_store(&w->cancel, 0);
        pthread_mutex_unlock(&w->lock);
        wake_ui(w);
        struct write_result r = {0};
        int rc = job.run(job.arg, r.line, sizeof r.line);
        r.failed = rc < 0;
        if (job.free_arg)
            job.free_arg(job.arg);
        pthread_mutex_lock(&w->lock);
        w->running[0] = '\0';
        w->busy = false;
        w->next_done++;
        w->last_stopped = rc > 0;
        snprintf(w->last_line, sizeof w->last_line, "%s", r.line);
        if (w->nresults == QUEUE_MAX) {          /* the UI fell behind: the oldest goes */
            w->rhead = (w->rhead + 1) % QUEUE_MAX;
            w->nresults--;
        }
        w->results[(w->rhead + w->nresults++) % QUEUE_MAX] = r;
        pthread_cond_broadcast(&w->ended);
        wake_ui(w);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct console_writes *writes_start(int notify_fd)
{
    struct console_writes *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    pthread_cond_init(&w->ended, NULL);
    atomic_init(&w->cancel, 0);
    w->notify_fd = notify_fd;
    w->next_ticket = w->next_done = 1;
    if (pthread_create(&w->thread, NULL, writer, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        pthread_cond_destroy(&w->ended);
        free(w);
        return NULL;
    }
    return w;
}

unsigned long writes_enqueue(struct console_writes *w, const char *label, write_run_fn run,
                             void (*free_arg)(void *), void *arg)
{
    if (!w) {
        if (free_arg)
            free_arg(arg);
        return 0;
    }
    unsigned long ticket = 0;
    pthread_mutex_lock(&w->lock);
    if (w->njobs < QUEUE_MAX && !w->stopping && !w->interrupting) {
        struct write_job *j = &w->jobs[(w->head + w->njobs++) % QUEUE_MAX];
        snprintf(j->label, sizeof j->label, "%s", label);
        j->run = run;
        j->free_arg = free_arg;
        j->arg = arg;
        ticket = w->next_ticket++;
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    if (!ticket && free_arg)
        free_arg(arg);
    return ticket;
}

bool writes_submit(struct console_writes *w, const char *label, write_run_fn run, void (*free_arg)(void *),
                   void *arg)
{
    return writes_enqueue(w, label, run, free_arg, arg) != 0;
}

bool writes_finished(struct console_writes *w, unsigned long ticket)
{
    if (!w)
        return true;
    pthread_mutex_lock(&w->lock);
    bool done = ticket < w->next_done;
    pthread_mutex_unlock(&w->lock);
    return done;
}

void writes_progress(struct console_writes *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&w->lock);
    vsnprintf(w->running, sizeof w->running, fmt, ap);
    pthread_mutex_unlock(&w->lock);
    va_end(ap);
    wake_ui(w);
}

atomic_int *writes_cancel_flag(struct console_writes *w) { return &w->cancel; }

bool writes_take(struct console_writes *w, char *result, size_t len, bool *failed)
{
    if (!w)
        return false;
    pthread_mutex_lock(&w->lock);
    bool any = w->nresults > 0;
    if (any) {
        snprintf(result, len, "%s", w->results[w->rhead].line);
        *failed = w->results[w->rhead].failed;
        w->rhead = (w->rhead + 1) % QUEUE_MAX;
        w->nresults--;
    }
    pthread_mutex_unlock(&w->lock);
    return any;
}

void writes_status(struct console_writes *w, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    snprintf(buf, len, "%s", w->running);
    pthread_mutex_unlock(&w->lock);
}

bool writes_interrupt(struct console_writes *w, char *result, size_t len)
{
    if (!w)
        return false;
    pthread_mutex_lock(&w->lock);
    w->interrupting = true;          /* and start nothing new */
    bool was = w->busy;
    if (was) {
        atomic_store(&w->cancel, 1);
        while (w->busy)
            pthread_cond_wait(&w->ended, &w->lock);
        was = w->last_stopped;
        if (was)
            snprintf(result, len, "%s", w->last_line);
    }
    pthread_mutex_unlock(&w->lock);
    return was;
}

void writes_stop(struct console_writes *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    for (size_t i = 0; i < w->njobs; i++) {
        struct write_job *j = &w->jobs[(w->head + i) % QUEUE_MAX];
        if (j->free_arg)
            j->free_arg(j->arg);
    }
    pthread_mutex_destroy(&w->lock);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->ended);
    free(w);
}
