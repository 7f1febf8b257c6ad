/* The service-time model per task type: service = a + b * tokens_out,
 * fitted by ordinary least squares over the trace's successful attempts
 * (a failed or timed-out call says little about how long an answer takes).
 * With one distinct tokens_out (or none), b is 0 and a the mean. The fit's
 * error is its RMSE (seconds) and R². A token cap then shortens a call by
 * b * (tokens_out - cap): the model's own account of the saved time. */
#ifndef QDECK_SIM_FIT_H
#define QDECK_SIM_FIT_H

#include <stddef.h>
#include <stdio.h>

#include "sim/trace.h"

/* When a call of the type failed in the trace: the share of its attempts
 * that failed (fail or timeout) per bucket of `width` seconds from
 * `start`, wide enough to hold about 20 attempts (at least 1 s). An
 * attempt the simulation makes away from its record's own time draws its
 * outcome from the bucket of its own start, so an outage in the trace is an
 * outage at that time of the simulation, and retries after it succeed. */
struct sim_failures {
    double start, width;
    size_t n;
    double *share;       /* per bucket; an empty bucket has its predecessor's */
};

struct sim_fit {
    double a, b;          /* seconds, seconds per output token */
    double rmse, r2;      /* r2: 1 - SSres/SStot; NaN when the service never varies */
    double mean_service, mean_tokens_out;
    size_t n;             /* attempts fitted */
    size_t attempts, failures;   /* every attempt of the type; fail or timeout among them */
    struct sim_failures fail;
};

/* One fit per type of the trace (tr->types.n of them, caller frees). */
struct sim_fit *sim_fit_trace(const struct sim_trace *tr);
/* The failure share at time t (0 before the trace, the last after it). */
double sim_failure_share(const struct sim_fit *f, double t);
void sim_fit_free(struct sim_fit *fits, size_t ntypes);
/* One line per type: "fit TYPE: service = a + b*tokens_out (n, rmse, R²)". */
void sim_fit_print(FILE *out, const struct sim_trace *tr, const struct sim_fit *fits);

#endif
