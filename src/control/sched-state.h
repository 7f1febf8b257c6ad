/* The scheduler's state in Redis as every reader sees it
 * (docs/control-plane.md): the leader's lease in qdeck:sched:leader and one
 * hash per job, qdeck:sched:job:<name> (keys.h), with next_run, last_run
 * (wall seconds, "never" when it will not run), last_result, paused (0/1),
 * runs (count), run_requested (set by `qdeck sched run`), leader (who ran
 * it last); every job name is in the job registry. `qdeck sched` and the
 * consoles read and write it here; the engine that runs the jobs is
 * worker/sched.h. */
#ifndef QDECK_SCHED_STATE_H
#define QDECK_SCHED_STATE_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>

struct sched_job_state {
    bool exists;                  /* the hash exists */
    double next_run, last_run;    /* NAN unknown */
    char last_result[512];
    bool paused, paused_set;      /* paused_set: the hash says, else the config does */
    long runs;
    char leader[256];             /* who ran it last */
    bool run_requested;
};

/* The job's hash key into buf. */
void sched_job_key(const char *name, char *buf, size_t len);
/* A wall time as the hashes hold it: "%.3f", or "never" when t < 0 or NAN. */
void sched_format_time(double t, char *buf, size_t len);

int sched_job_read(redisContext *c, const char *name, struct sched_job_state *out, char *err, size_t errlen);
/* HSET paused 0/1; *was gets the previous state. */
int sched_job_set_paused(redisContext *c, const char *name, bool paused, bool *was, char *err, size_t errlen);
/* Asks the leader to run the job at its next tick (HSET run_requested). */
int sched_job_request_run(redisContext *c, const char *name, char *err, size_t errlen);
/* The current leader's id into buf ("" when none). */
int sched_leader(redisContext *c, char *buf, size_t len, char *err, size_t errlen);

#endif
