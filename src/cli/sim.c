/* `qdeck sim TRACE`: replays a recorded trace through a model of the worker
 * fleet (src/sim/), once per variant, and prints the decision table. The
 * settings come from the same config file the worker reads (--config), the
 * flags below, and a variants file. The fit of each type's service time
 * and the engine's speed go to stderr under --json, so stdout stays one
 * JSON document. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/app.h"
#include "core/xalloc.h"
#include "sim/engine.h"
#include "sim/fit.h"
#include "sim/report.h"
#include "sim/trace.h"
#include "sim/variants.h"

#define SIM_DEFAULT_SLO 1.0

const char sim_usage[] =
    "usage: qdeck sim TRACE [--config FILE] [--workers N] [--variants FILE] [--scale K] [--slo SECS]\n"
    "                 [--seed N] [--min-priority P] [--json]\n"
    "Simulates what the worker fleet of --config (its [worker], [task T] and [dependency D] sections)\n"
    "does with the traffic of TRACE (JSONL, as `qdeck trace export` writes; `t`, `type`, `service`\n"
    "required) and prints one row per variant: arrivals, completed, shed, dead-lettered, expired,\n"
    "throughput, utilisation, peak depth, drain time, wait and end-to-end mean/p50/p95/p99/max (exact),\n"
    "SLO attainment, tokens and cost, with deltas against the first variant. TRACE - reads stdin.\n"
    "A variants file holds [variant NAME] sections of keys: workers, concurrency, prefetch, max_attempts,\n"
    "retry_base, retry_cap, scale, shed.priority_below, shed.auto, shed.target, shed.priority, max_depth,\n"
    "budget.max_response_tokens, queue.Q.max_depth, task.T.{timeout,max_attempts,price_in,price_out},\n"
    "dep.D.{rate,burst,fleet_rate,max_concurrent,window_size,minimum_calls,failure_rate,slow_rate,\n"
    "slow_call,open_wait,half_open_calls}.";

const struct arg_option sim_options[] = {
    OPT_LONG("workers", 0, "N", "worker processes (default 1)", 1, 100000),
    OPT_STRING("variants", 0, "FILE", "[variant NAME] sections, each a row of the table"),
    OPT_DOUBLE("scale", 0, "K", "multiply the arrivals by K (default 1)", 0.001, 1000, NULL),
    OPT_DOUBLE("slo", 0, "SECS", "end-to-end target for SLO attainment (default 1)", 0, 1e9, "seconds"),
    OPT_LONG("seed", 0, "N", "seed of every random draw (default 1)", 0, 4294967295.0),
    OPT_LONG("min-priority", 0, "P", "latency and SLO figures over tasks of priority >= P only", 0, 255),
    OPT_FLAG("json", 0, "one JSON object: {\"variants\":[...]}"),
    OPT_END,
};

int cmd_sim(struct app *app, const struct args *a)
{
    if (a->nwords != 2)
        return fail(EXIT_USAGE, "sim: %s (usage: qdeck sim TRACE [--variants FILE] [--json])",
                    a->nwords < 2 ? "which trace? give a JSONL file" : "one trace only");
    bool json = args_flag(a, "json");
    double slo = args_double(a, "slo", SIM_DEFAULT_SLO);
    int min_priority = (int)args_long(a, "min-priority", 0);
    char err[512];
    struct sim_trace tr = {0};
    clock_t c0 = clock();
    if (sim_trace_read(&tr, a->words[1], err, sizeof err) < 0) {
        sim_trace_free(&tr);
        return fail(EXIT_USAGE, "sim: %s", err);
    }
    double read_cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    struct sim_fit *fits = sim_fit_trace(&tr);
    sim_fit_print(json ? stderr : stdout, &tr, fits);

    struct sim_params base;
    sim_params_from_config(&base, &app->cfg, &tr);
    base.workers = (int)args_long(a, "workers", 1);
    base.scale = args_double(a, "scale", 1);
    base.seed = (unsigned)args_long(a, "seed", 1);
    struct sim_variants vs = {0};
    const char *vpath = args_string(a, "variants");
    int rc = EXIT_OK;
    if (vpath) {
        if (sim_variants_read(vpath, &base, &tr, &vs, err, sizeof err) < 0) {
            rc = fail(EXIT_USAGE, "sim: %s", err);
            goto out;
        }
    } else {
        vs.v = xmalloc(sizeof *vs.v);
        sim_params_copy(&vs.v[0], &base, &tr);
        vs.n = 1;
    }
    struct sim_row *rows = xcalloc(vs.n, sizeof *rows);
    size_t made = 0;
    for (size_t i = 0; i < vs.n; i++) {
        struct sim_result res;
        if (sim_run(&tr, fits, &vs.v[i], min_priority, &res, err, sizeof err) < 0) {
            sim_result_free(&res);
            rc = fail(EXIT_USAGE, "sim: variant %s: %s", vs.v[i].name, err);
            break;
        }
        fprintf(stderr, "sim: %s: %zu tasks, %zu events in %.3f s CPU (%.0f tasks per CPU-second; trace read in %.3f s)\n",
                vs.v[i].name, res.arrivals, res.events, res.cpu_seconds,
                res.cpu_seconds > 0 ? (double)res.arrivals / res.cpu_seconds : 0, read_cpu);
        sim_row_make(&rows[made++], vs.v[i].name, &res, slo);
        sim_result_free(&res);
    }
    if (rc == EXIT_OK) {
        if (json)
            sim_report_json(stdout, rows, made);
        else
            sim_report_table(stdout, rows, made, slo);
    }
    for (size_t i = 0; i < made; i++)
        sim_row_free(&rows[i]);
    free(rows);
out:
    sim_variants_free(&vs);
    sim_params_free(&base);
    sim_fit_free(fits, tr.types.n);
    sim_trace_free(&tr);
    return rc;
}
