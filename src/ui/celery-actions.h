/* The console's Celery remote control (celery/pidbox.h): shutting down a
 * Celery worker and revoking a task, from the Workers view. Both are
 * destructive, so both ask for a typed confirmation (ui/confirm.h: the
 * worker's name, the task's id), are refused under read-only, and are
 * written to the audit trail, refusals too, as `qdeck celery` writes them
 * (action celery.shutdown / celery.revoke). The pidbox call itself runs on
 * the console's write queue (console/writes.h): the UI never waits on the
 * broker; its result comes back on the status line. */
#ifndef QDECK_UI_CELERY_ACTIONS_H
#define QDECK_UI_CELERY_ACTIONS_H

#include <stdbool.h>

#include "ui/state.h"

/* Asks to shut down the Celery worker named hostname (e.g. celery@host). */
void celery_ask_shutdown(struct ui *ui, const char *hostname);
/* Asks to revoke task_id on every Celery worker; terminate: also kill it
 * if it runs. */
void celery_ask_revoke(struct ui *ui, const char *task_id, bool terminate);

#endif
