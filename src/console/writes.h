/* The console's one job queue for writes: every change the operator starts
 * from the screen (a guardrail set, a breaker command, a scheduler command,
 * a DLQ replay, purge or delete) is a job here. One thread, started with
 * the console, runs them in order, so the UI thread never waits on the
 * network and no action gets a thread of its own. A job says what it is
 * (the status line while it runs), may replace that with its progress
 * ("replaying amqp:x.dlq: 120/2000 looked at, moved 118"), and ends with
 * one result line naming what was done; the UI takes finished results and
 * shows them, failures in the error colour. The thread wakes the UI
 * through the collectors' notify pipe (core/feed.h). Reads (pages of a
 * DLQ, the fleet, the board) stay on their collectors' threads. */
#ifndef QDECK_CONSOLE_WRITES_H
#define QDECK_CONSOLE_WRITES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct console_writes;

/* run returns 0 (done), -1 (failed) or 1 (stopped early: its cancel flag
 * was set), its line in result. */
typedef int (*write_run_fn)(void *arg, char *result, size_t len);

struct console_writes *writes_start(int notify_fd);
/* Queues a job; free_arg(arg) after it ran (or at stop). false when the
 * queue is full or stopping: nothing queued, and arg freed at once (the
 * queue takes arg either way). */
bool writes_submit(struct console_writes *w, const char *label, write_run_fn run, void (*free_arg)(void *),
                   void *arg);
/* The same, answering the job's ticket (1, 2, ...) for writes_finished;
 * 0 when refused (nothing queued, arg freed). */
unsigned long writes_enqueue(struct console_writes *w, const char *label, write_run_fn run,
                             void (*free_arg)(void *), void *arg);
/* Has the job with that ticket ended (ran, or was dropped at stop)? */
bool writes_finished(struct console_writes *w, unsigned long ticket);
/* From inside a running job: what the status line says while it runs,
 * instead of its label. */
void writes_progress(struct console_writes *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The flag a long job watches (a DLQ's cancel): set by writes_interrupt,
 * cleared when the next job starts. */
atomic_int *writes_cancel_flag(struct console_writes *w);
/* The oldest finished result: true with its line and whether it failed. */
bool writes_take(struct console_writes *w, char *result, size_t len, bool *failed);
/* The running job's progress or "label…", "" when idle. */
void writes_status(struct console_writes *w, char *buf, size_t len);
/* Quitting: no job starts any more; the running one is asked to stop (its
 * cancel flag), settles and ends. true when it stopped early (returned 1),
 * with its line in result; false when none ran or it simply finished.
 * NULL is fine. */
bool writes_interrupt(struct console_writes *w, char *result, size_t len);
/* Finishes the job running, drops the rest, joins the thread. NULL is fine. */
void writes_stop(struct console_writes *w);

#endif
