/* The decision table: one row per variant, summarised from the engine's
 * result. Percentiles are exact: the waits and end-to-end times are sorted
 * and read by nearest rank (p-th: the ceil(p*n)-th smallest). Times are in
 * seconds. Deltas compare each row with the first: "-18% cost, +9% p99". */
#ifndef QDECK_SIM_REPORT_H
#define QDECK_SIM_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "sim/engine.h"

struct sim_summary {
    double mean, p50, p95, p99, max;
    size_t n;
};

struct sim_row {
    char *name;
    size_t arrivals, completed, shed, dead_lettered, expired;
    double throughput;       /* completed per second, first arrival to the last settlement */
    double utilization;      /* call time / (slots * that span) */
    long peak_depth;
    double drain_time;       /* last arrival to the last settlement */
    struct sim_summary wait, e2e;
    double slo_attainment;   /* completed within --slo / arrivals (of the priorities reported) */
    double tokens_in, tokens_out, cost;
};

/* Sorts r's arrays in place. */
void sim_row_make(struct sim_row *row, const char *name, struct sim_result *r, double slo);
void sim_row_free(struct sim_row *row);
/* Exact summary of v[0..n) (sorted in place). */
void sim_summarise(double *v, size_t n, struct sim_summary *out);

/* {"variants":[{...}, ...]} on out, one line. */
void sim_report_json(FILE *out, const struct sim_row *rows, size_t n);
/* The table for people, then the deltas against the first row. */
void sim_report_table(FILE *out, const struct sim_row *rows, size_t n, double slo);
/* "-18% cost, +9% p99, ..." of row against base, into buf. */
void sim_report_delta(const struct sim_row *row, const struct sim_row *base, char *buf, size_t len);

#endif
