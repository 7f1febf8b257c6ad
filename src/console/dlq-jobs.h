/* The console's DLQ page thread: one thread with its own broker connection
 * that reads pages of a DLQ for view 6, so the UI thread never touches the
 * network. The view submits a page request (the newest replaces one not
 * yet started) and takes finished pages; the thread writes one byte to the
 * console's notify pipe when a page is ready, as the collectors do
 * (core/feed.h). Replays, purges and deletes are writes: they run on the
 * console's write queue (console/dlq-writes.h), described by the same
 * struct dlq_job; the view reloads its page when one ends. */
#ifndef QDECK_CONSOLE_DLQ_JOBS_H
#define QDECK_CONSOLE_DLQ_JOBS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "dlq/dlq.h"

enum dlq_job_kind { DLQ_JOB_PAGE, DLQ_JOB_REPLAY, DLQ_JOB_PURGE };

struct dlq_job {
    enum dlq_job_kind kind;
    const char *queue;          /* address */
    size_t offset, limit;       /* page: first row (of matches, with grep) and how many */
    const char *grep;
    char **ids;                 /* replay / purge: these ids, or all when nids == 0 */
    size_t nids;
    const struct dlq_bytes *body;   /* replay: edited body to send instead, or NULL */
};

/* What the view draws; immutable once handed over. */
struct dlq_page {
    char *queue;
    unsigned long seq;          /* the submit it answers */
    long total;                 /* DLQ depth, -1 unknown */
    long matches;               /* with grep: matches in the whole DLQ */
    size_t offset;
    struct dlq_message **msgs;
    size_t n;
    char *grep;
    bool ok;
    char error[512];
};

struct dlq_jobs;

struct dlq_jobs *dlq_jobs_start(const struct config *cfg, const struct context_config *ctx, int notify_fd);
/* Queues a page request (kind DLQ_JOB_PAGE; copied); returns its
 * sequence number. */
unsigned long dlq_jobs_submit(struct dlq_jobs *w, const struct dlq_job *job);
/* The newest finished page, or NULL; the caller frees it. */
struct dlq_page *dlq_jobs_take(struct dlq_jobs *w);
/* What the thread is doing, for the status line: "" when idle. */
void dlq_jobs_status(struct dlq_jobs *w, char *buf, size_t len);
void dlq_jobs_stop(struct dlq_jobs *w);
void dlq_page_free(struct dlq_page *p);
/* A deep copy of a job (ids and body too), and its free. */
struct dlq_job *dlq_job_copy(const struct dlq_job *j);
void dlq_job_free(struct dlq_job *j);

#endif
