/* The console's write queue: one thread, started with the console, that
 * runs the writes the operator starts from the screen in order, so the UI
 * thread never waits on the network and no action gets a thread of its
 * own. A job says what it is (for the status line while it runs) and
 * writes a result line; the UI takes finished results and shows them,
 * failures in the error colour. The thread wakes the UI through the
 * collectors' notify pipe (core/feed.h). */
#ifndef QDECK_CONSOLE_WRITES_H
#define QDECK_CONSOLE_WRITES_H

#include <stdbool.h>
#include <stddef.h>

struct console_writes;

/* run returns 0 (done) or -1 (failed), its line in result. */
typedef int (*write_run_fn)(void *arg, char *result, size_t len);

struct console_writes *writes_start(int notify_fd);
/* Queues a job; free_arg(arg) after it ran (or at stop). false when the
 * queue is full (nothing queued, arg not freed). */
bool writes_submit(struct console_writes *w, const char *label, write_run_fn run, void (*free_arg)(void *),
                   void *arg);
/* The oldest finished result: true with its line and whether it failed. */
bool writes_take(struct console_writes *w, char *result, size_t len, bool *failed);
/* "label…" while a job runs, "" when idle. */
void writes_status(struct console_writes *w, char *buf, size_t len);
/* Finishes the job running, drops the rest, joins the thread. NULL is fine. */
void writes_stop(struct console_writes *w);

#endif
