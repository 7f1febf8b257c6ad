/* The trace `qdeck sim` reads: JSONL, one finished attempt per line, as
 * `qdeck trace export` writes it (SPEC "Trace, simulation, cost and
 * capacity"). Every line is read with cJSON; `t` (enqueue time, s),
 * `type` and `service` (run time, s) are required, everything else has a
 * default: queue "default", priority 5, attempt 1, outcome "ok", tokens 0,
 * no deadline. A bad line is one error naming file:line and the field.
 *
 * Records of attempt > 1 are the retries of an earlier record: they feed
 * the per-type failure rate and the service fit, but the simulation makes
 * its own retries, so they are not arrivals. */
#ifndef QDECK_SIM_TRACE_H
#define QDECK_SIM_TRACE_H

#include <stddef.h>

enum sim_outcome { SIM_OK, SIM_FAIL, SIM_TIMEOUT, SIM_SHED, SIM_DLQ };

struct sim_record {
    double t;              /* enqueue time, seconds */
    double service;        /* run time of this attempt, seconds */
    double deadline;       /* seconds after t it expires; 0: none */
    double tokens_in, tokens_out;
    int type, queue;       /* indexes into the trace's names */
    int priority, attempt;
    int outcome;           /* enum sim_outcome */
};

/* Names seen in a trace, in order of first appearance. */
struct sim_names {
    char **names;
    size_t n, cap;
};

struct sim_trace {
    struct sim_record *recs;     /* sorted by t once read */
    size_t n, cap;
    struct sim_names types, queues;
};

/* The index of name in set, added when new. */
int sim_names_intern(struct sim_names *set, const char *name);
void sim_names_free(struct sim_names *set);

/* Reads one JSONL line (len bytes, no newline needed) into *out, interning
 * its type and queue in tr. 0; 1 for a blank line (nothing read); -1 with
 * "field: why" in err. */
int sim_trace_parse_line(struct sim_trace *tr, const char *line, size_t len, struct sim_record *out, char *err,
                         size_t errlen);
/* Reads the whole file (records appended, then sorted by t, ties kept in
 * file order). 0, or -1 with "FILE:LINE: field: why" in err. */
int sim_trace_read(struct sim_trace *tr, const char *path, char *err, size_t errlen);
void sim_trace_free(struct sim_trace *tr);
const char *sim_outcome_name(int outcome);

#endif
