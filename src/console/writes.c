/* The console's write queue (see writes.h): a ring of jobs and a ring of
 * results under one mutex, one thread waiting on a condition variable. */
#include "console/writes.h"

#include <pthread.h>
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
    pthread_cond_t wake;
    struct write_job jobs[QUEUE_MAX];
    size_t head, njobs;
    struct write_result results[QUEUE_MAX];
    size_t rhead, nresults;
    char running[256];
    bool stopping;
    int notify_fd;
};

static void *writer(void *arg)
{
    struct console_writes *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->njobs && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->stopping)
            break;
        struct write_job job = w->jobs[w->head];
        w->head = (w->head + 1) % QUEUE_MAX;
        w->njobs--;
        snprintf(w->running, sizeof w->running, "%s", job.label);
        pthread_mutex_unlock(&w->lock);
        struct write_result r = {0};
        r.failed = job.run(job.arg, r.line, sizeof r.line) < 0;
        if (job.free_arg)
            job.free_arg(job.arg);
        pthread_mutex_lock(&w->lock);
        w->running[0] = '\0';
        if (w->nresults == QUEUE_MAX) {          /* the UI fell behind: the oldest goes */
            w->rhead = (w->rhead + 1) % QUEUE_MAX;
            w->nresults--;
        }
        w->results[(w->rhead + w->nresults++) % QUEUE_MAX] = r;
        if (w->notify_fd >= 0 && write(w->notify_fd, "w", 1) < 0) {
            /* a full pipe already wakes the UI */
        }
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct console_writes *writes_start(int notify_fd)
{
    struct console_writes *w = xcalloc(1, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
    w->notify_fd = notify_fd;
    if (pthread_create(&w->thread, NULL, writer, w) != 0) {
        pthread_mutex_destroy(&w->lock);
        pthread_cond_destroy(&w->wake);
        free(w);
        return NULL;
    }
    return w;
}

bool writes_submit(struct console_writes *w, const char *label, write_run_fn run, void (*free_arg)(void *),
                   void *arg)
{
    if (!w)
        return false;
    pthread_mutex_lock(&w->lock);
    bool room = w->njobs < QUEUE_MAX && !w->stopping;
    if (room) {
        struct write_job *j = &w->jobs[(w->head + w->njobs++) % QUEUE_MAX];
        snprintf(j->label, sizeof j->label, "%s", label);
        j->run = run;
        j->free_arg = free_arg;
        j->arg = arg;
        pthread_cond_signal(&w->wake);
    }
    pthread_mutex_unlock(&w->lock);
    return room;
}

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
    if (w->running[0])
        snprintf(buf, len, "%s…", w->running);
    pthread_mutex_unlock(&w->lock);
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
    free(w);
}
