/* The console's writes to the control plane, as jobs on the write queue
 * (console/writes.h): a guardrail set, a breaker command, a scheduler
 * command. Each job opens
 * its own Redis connection, writes, appends its audit record (file and
 * qdeck:audit, exactly as before they were jobs) and ends with a line
 * naming what was done: "paused amqp:orders on 3 workers
 * (queue.amqp:orders.paused = true, was false)". */
#ifndef QDECK_CONSOLE_CONTROL_WRITES_H
#define QDECK_CONSOLE_CONTROL_WRITES_H

#include <stdbool.h>
#include <stddef.h>

#include "console/writes.h"
#include "core/config.h"

/* Queues "set guardrail name to canonical" (already validated) for the
 * context's Redis; workers: how many live workers it reaches, for the
 * result line. 0 (the queue is full) or the job's ticket. */
unsigned long control_write_guardrail(struct console_writes *w, const struct config *cfg,
                                      const struct context_config *ctx, const char *name, const char *canonical,
                                      size_t workers);
/* Queues a breaker command, "open", "disabled" or "reset", for dependency
 * dep fleet-wide; workers: how many report the breaker, for the result
 * line. 0 or the ticket. */
unsigned long control_write_breaker(struct console_writes *w, const struct config *cfg,
                                    const struct context_config *ctx, const char *dep, const char *command,
                                    size_t workers);
/* A breaker command's audit action: breaker.open, .close or .reset. */
const char *control_breaker_action(const char *command);
/* Queues a scheduler command: verb "run", "pause" or "resume" on job;
 * refused (read-only) writes only its audit record. 0 or the ticket. */
unsigned long control_write_sched(struct console_writes *w, const struct config *cfg,
                                  const struct context_config *ctx, const char *verb, const char *job, bool refused);
/* The result line of a guardrail set: "paused Q on N workers (NAME =
 * VALUE, was OLD)" for a queue's pause switch, else "NAME = VALUE (was
 * OLD) on N workers". Pure, for the tests. */
void control_guardrail_line(const char *name, const char *value, const char *old, size_t workers, char *out,
                            size_t len);

#endif
