/* The fleet as the console sees it: every worker's last heartbeat, read
 * from the worker registry (keys.h) and pipelined MGETs into an immutable
 * table; no keyspace walk.
 *
 * A worker is "lost" when its last heartbeat is older than 3 x its own
 * interval (or than the report's "lost_after" seconds: Celery workers, 2 x freq), or when its key vanished (its TTL is 3 x interval) without a
 * "stopped" report first. Vanished workers are remembered for
 * FLEET_REMEMBER seconds, so a crash shows as a red "lost" row rather than
 * a row that silently disappears.
 *
 * fleet_read() reads with the caller's connection (the scheduler leader
 * reports losses with it; the console's collector, console/fleet-source.h,
 * publishes it). */
#ifndef QDECK_FLEET_H
#define QDECK_FLEET_H

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


#define FLEET_REMEMBER 600.0   /* seconds a vanished worker stays listed as lost */
#define FLEET_SCAN_CAP 10000   /* registered workers read at most */

enum fleet_state { FLEET_RUNNING, FLEET_STOPPED, FLEET_LOST };

struct fleet_worker {
    char *id, *host, *version;
    const char *kind;         /* "qdeck", or "celery" for a Celery worker seen through its events; NULL: qdeck */
    char *queues;             /* "amqp:orders, redis:jobs" ("" when none) */
    long pid;                 /* -1 unknown */
    int64_t slots_busy, slots_total, in_flight;        /* -1 unknown */
    int64_t processed, failed, retried, dead_lettered;  /* -1 unknown */
    int64_t parked;           /* shed by priority (not in dead_lettered), -1 unknown */
    char *health;             /* "ok", "amqp: login refused", "" when not reported */
    double started_at;        /* wall seconds, NAN unknown */
    double last_beat;         /* wall time of its last heartbeat ("at") */
    double interval;          /* its heartbeat interval, seconds */
    double rate;              /* processed per second between its last two beats seen, NAN unknown */
    enum fleet_state state;
    bool vanished;            /* its key is gone; remembered from an earlier read */
    bool newly_lost;          /* lost in this read, not in the one before */
    cJSON *report;            /* the whole heartbeat, read-only (latency, breakers, ...) */
};

/* One scheduled job's state (control/sched-state.h). */
struct fleet_job {
    char *name;
    double next_run, last_run;   /* wall seconds, NAN unknown / never */
    char *last_result;           /* "" when it never ran */
    bool paused, paused_set;     /* paused_set: Redis says; else the config does */
    long runs;
    char *ran_by;                /* the worker that ran it last */
    bool run_requested;
};

struct fleet_table {
    double taken_at;          /* wall clock */
    /* the scheduler, read in the same refresh (fleet_read_sched) */
    char *sched_leader;       /* worker id holding the lease, "" none, NULL not read */
    struct fleet_job *jobs;   /* sorted by name */
    size_t njobs;
    size_t n;
    struct fleet_worker *workers;   /* sorted by id */
    size_t running, stopped, lost;
    bool truncated;           /* more than FLEET_SCAN_CAP registered workers */
};

/* Reads the fleet. prev (or NULL) is the previous table, whose vanished
 * workers are carried forward as lost. 0, or -1 with a reason (the
 * connection may then be broken: check c->err). */
int fleet_read(redisContext *c, const struct fleet_table *prev, double now, struct fleet_table **out, char *err,
               size_t errlen);
void fleet_table_free(struct fleet_table *t);
/* Fills w from one heartbeat (JSON text any process may have written to
 * qdeck:worker:<key_id>); false when it is not a report. A report without
 * an "id" takes key_id. Free with fleet_worker_free. */
bool fleet_parse_report(const char *key_id, const char *json, double now, struct fleet_worker *w);
void fleet_worker_free(struct fleet_worker *w);
const struct fleet_worker *fleet_find(const struct fleet_table *t, const char *id);
const char *fleet_state_name(enum fleet_state s);   /* "running", "stopped", "lost" */
/* A running worker whose consumers are not all connected (its health says why). */
bool fleet_worker_unhealthy(const struct fleet_worker *w);

#endif
