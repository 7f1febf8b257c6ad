/* The delayed-retry set of a Redis queue (list or stream): a ZSET
 * qdeck:delayed:<key> of annotated items scored by due time (wall ms),
 * which consumers move back into their queue when due.
 *
 * The mover runs on a timer that knows when to come back: each move also
 * answers when the next item is due, and a consumer that adds a retry
 * looks again at its due time. Without either, it looks once every
 * DELAYED_IDLE seconds (jittered) for retries other workers added and
 * could not move themselves (they died). An idle fleet costs Redis one
 * EVAL per consumer per second, not ten. */
#ifndef QDECK_WORKER_DELAYED_H
#define QDECK_WORKER_DELAYED_H

#include <hiredis.h>
#include <stdbool.h>
#include <stddef.h>

#define DELAYED_IDLE 1.0

struct delayed_timer {
    double next_move;   /* clock_mono of the next look; 0: at once */
    unsigned seed;
};

/* Moves what is due from delayed into target (RPUSH, or XADD field body
 * for a stream) when the timer says so. Returns how many moved (0 when it
 * was not time), or -1 with err. */
int delayed_tick(struct delayed_timer *dt, redisContext *c, const char *delayed, const char *target, bool stream,
                 char *err, size_t errlen);
/* A retry was added, due in `in` seconds: look again by then. */
void delayed_expect(struct delayed_timer *dt, double in);

#endif
