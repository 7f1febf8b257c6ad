/* Waiting for rate permits and bulkhead places without holding a slot and
 * without bouncing.
 *
 * One room per [dependency]. A task its rate limiter refuses enters the
 * room and gives its slot back. The room's thread is the only one that
 * asks the limiter on behalf of waiting tasks: it reserves as many slots
 * as tasks wait (one atomic GCRA step for the fleet, ratelimit_reserve),
 * sleeps until each slot begins and then hands one task back to the run
 * queue holding that permit. Redis work therefore grows with the rate,
 * not with the number of waiting tasks, and nothing retries to learn when
 * it may go: the reservation says so (redis-cell's retry_after, a GCRA's
 * theoretical arrival time).
 *
 * Bounds: at most RATEWAIT_MAX tasks wait in a room, and slots are
 * reserved at most RATEWAIT_HORIZON seconds ahead; past either, a task
 * goes the delayed way (the retry path, no attempt used). A task whose
 * deadline passes while it waits goes back to the run queue at once, where
 * start() expires it. A permit is good for one interval after its slot
 * begins: one released or started later lapses (counted), and the task
 * waits for a new one, so a stalled process never bunches its calls. When
 * the worker stops, every waiting task goes back
 * to the run queue, which gives it back to the broker unacked. A reserved
 * slot no task is left for lapses.
 *
 * The bulkhead (max_concurrent) waits the same way: a task that finds the
 * dependency's calls all taken waits in the room's second line, and each
 * call that ends (ratewait_bulkhead_freed) lets as many go as there are
 * places free. A place freed before a task arrived is seen on entry, so
 * no wake-up is lost; nothing is retried to find a place. */
#ifndef QDECK_WORKER_RATEWAIT_H
#define QDECK_WORKER_RATEWAIT_H

#include <stdint.h>

#define RATEWAIT_MAX 1024
#define RATEWAIT_HORIZON 5.0

struct dependency;
struct ratewait;
struct task;
struct worker;

/* redis_url: where a fleet rate is kept (NULL: the local bucket only). */
struct ratewait *ratewait_new(struct worker *w, struct dependency *dep, const char *redis_url);
int ratewait_start(struct ratewait *r);
/* 0: t waits in the room (its slot may be given back); -1: the room is
 * full or stopped, the caller decides t another way. */
int ratewait_enter(struct ratewait *r, struct task *t);
/* The same for a task that found the bulkhead full. */
int ratewait_enter_bulkhead(struct ratewait *r, struct task *t);
/* A call of the room's dependency ended: its bulkhead has a place. */
void ratewait_bulkhead_freed(struct ratewait *r);
/* Waiting tasks back to the run queue (the worker is stopping); the room
 * takes no more. */
void ratewait_stop(struct ratewait *r);
/* Ends the thread and frees the room (after ratewait_stop). */
void ratewait_free(struct ratewait *r);
/* Tasks waiting: for a rate permit, and for a bulkhead place. */
int ratewait_waiting(struct ratewait *r);
int ratewait_waiting_bulkhead(struct ratewait *r);
/* Permits that lapsed unused: the thread or the slot came too late. */
uint64_t ratewait_lapsed(struct ratewait *r);
void ratewait_note_lapsed(struct ratewait *r);

#endif
