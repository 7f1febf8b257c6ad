/* The scheduler's leadership (worker/sched.h): a keeper thread with its own
 * Redis connection takes the lease qdeck:sched:leader (SET NX PX) when it
 * is free and renews ours every lease/3, so a slow job never lets it lapse.
 * A Redis failure drops leadership (a leader that cannot reach Redis cannot
 * know it still leads). A clean stop releases the lease at once. */
#ifndef QDECK_SCHED_LEASE_H
#define QDECK_SCHED_LEASE_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdbool.h>

#include "core/loop.h"

struct sched_lease {
    const char *url, *id;         /* the scheduler's; outlive the lease */
    double seconds;               /* the lease's length */
    struct loop loop;             /* the keeper thread */
    pthread_mutex_t lock;
    bool leader;                  /* under lock */
    double renewed_at;            /* under lock: monotonic time of the last successful take/renew */
    redisContext *redis;          /* keeper thread only */
};

/* Starts the keeper; 0, or -1 when the thread could not be made. */
int sched_lease_start(struct sched_lease *l, const char *url, const char *id, double seconds);
/* Releases the lease if held, joins, frees. Safe on a lease whose start
 * failed. */
void sched_lease_stop(struct sched_lease *l);
bool sched_lease_is_leader(struct sched_lease *l);
/* Leadership we can vouch for: renewed within the lease (minus a margin). */
bool sched_lease_fresh(struct sched_lease *l);
/* Someone else holds the lease (a claim found so); the keeper sees it too
 * at its next renewal. */
void sched_lease_lost(struct sched_lease *l);

#endif
