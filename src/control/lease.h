/* A lease in Redis: one holder at a time among processes that share a
 * key, for the work only one of them may do (the scheduler's leader, the
 * Celery collector that writes the fleet reports). Taken with SET NX PX
 * when free; renewed, and released, only while the key holds our id (a
 * script), so a holder that paused past its lease never cuts into its
 * successor's. */
#ifndef QDECK_CONTROL_LEASE_H
#define QDECK_CONTROL_LEASE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

/* Renews the lease when held (we believe it is ours), else tries to take
 * it: 1 when it is ours for `seconds` from now, 0 when another holds it,
 * -1 with one line in err when Redis failed. */
int lease_keep(redisContext *c, const char *key, const char *id, double seconds, bool held, char *err,
               size_t errlen);
/* Deletes the lease if it holds our id (a clean stop hands it over at once). */
void lease_release(redisContext *c, const char *key, const char *id);

#endif
