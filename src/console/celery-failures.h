/* Celery task failures told to the fleet's event stream: the Celery
 * collector notes each task-failed event of a round (at most
 * CELERY_FAILURES_MAX, the rest counted), and the collector that writes
 * tells them to qdeck:events (control/events.h, the Events view and `qdeck
 * events`) with the task's celery-task-meta-<id> (status, date_done, the
 * traceback's last line), read in one pipelined round trip on the
 * collector's thread, never the UI's. The worker stored the result before
 * it sent the event, so the meta is there by the next round. */
#ifndef QDECK_CELERY_FAILURES_H
#define QDECK_CELERY_FAILURES_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "celery/event.h"

#define CELERY_FAILURES_MAX 32   /* told per round (a second); the rest counted */

struct celery_failure {
    char id[160], task[200], worker[200], exception[300];
};

struct celery_failures {
    struct celery_failure items[CELERY_FAILURES_MAX];
    size_t n;
    uint64_t untold;
};

/* Notes a task-failed event (task: its name, as the state knows it). */
void celery_failures_note(struct celery_failures *f, const struct celery_event *ev, const char *task);
/* Forgets the round's failures (another collector tells them). */
void celery_failures_drop(struct celery_failures *f);
/* Tells the round's failures and forgets them: 0, or -1 when the
 * connection broke (the caller drops it). */
int celery_failures_tell(struct celery_failures *f, redisContext *c);

#endif
