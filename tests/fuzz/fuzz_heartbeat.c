/* libFuzzer target: worker heartbeats, read back from qdeck:worker:* where
 * any process may have written them, by the fleet reader (Workers view,
 * scheduler leader) and by the Latency and Breakers tables (console and
 * `qdeck breaker list`). A report parses or is refused; a parsed one has
 * every string set, a state, a positive interval, and builds latency and
 * breaker tables whose rows print, and joins with queue rows
 * (console/queue-join.h): every queue it names gets a row with a consumer,
 * a rate that is a number or unknown, and the worker's id. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "console/queue-join.h"
#include "control/fleet.h"
#include "resilience/fleet-report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_tables(const cJSON *report)
{
    const cJSON *reports[] = {report, NULL, report};
    struct latency_table lt;
    latency_table_build(reports, 3, &lt);
    for (size_t i = 0; i < lt.n; i++)
        for (int k = 0; k < LATENCY_KINDS; k++) {
            uint64_t counts[8], edges[9];
            latency_bars(lt.rows[i].merged[k], 8, counts, edges);
            for (size_t b = 1; b < 9; b++)
                if (edges[b] < edges[b - 1])
                    abort();
        }
    latency_table_free(&lt);

    const struct breaker_table_command commands[] = {{"payments", "open"}, {"mail", "reset"}};
    struct breaker_table bt;
    breaker_table_build(reports, 3, commands, 2, &bt);
    for (size_t i = 0; i < bt.n; i++) {
        char states[128];
        breaker_row_states(&bt.rows[i], states, sizeof states);
        if (!bt.rows[i].name || !states[0])
            abort();
    }
    breaker_table_free(&bt);
}

static void check_join(struct fleet_worker *w)
{
    w->state = FLEET_RUNNING;
    struct fleet_worker two[2] = {*w, *w};
    struct fleet_table t = {.n = 2, .workers = two};
    struct queue_fleet qf;
    queue_fleet_build(&t, &qf);
    for (size_t i = 0; i < qf.n; i++)
        if (!qf.rows[i].addr || !qf.rows[i].workers || qf.rows[i].consumers < 1 ||
            (i > 0 && strcmp(qf.rows[i - 1].addr, qf.rows[i].addr) >= 0))
            abort();
    struct snapshot *s = snapshot_new(2);
    snapshot_add(s, QUEUE_REDIS_LIST, "jobs");
    snapshot_add(s, QUEUE_AMQP, "orders");
    snapshot_seal(s);
    struct snapshot *j = queue_join(s, &qf, NULL);
    for (size_t i = 0; i < j->nqueues; i++)
        if (j->queues[i].kind != QUEUE_AMQP && j->queues[i].consumers < 0)
            abort();
    snapshot_unref(j);
    snapshot_unref(s);
    queue_fleet_free(&qf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *json = malloc(size + 1);
    memcpy(json, data, size);
    json[size] = '\0';
    struct fleet_worker w;
    if (fleet_parse_report("vm-1:4242", json, 1764000000.0, &w)) {
        if (!w.id || !w.host || !w.version || !w.queues || !w.report || !(w.interval > 0) ||
            (w.state != FLEET_RUNNING && w.state != FLEET_STOPPED && w.state != FLEET_LOST))
            abort();
        check_tables(w.report);
        check_join(&w);
        fleet_worker_free(&w);
    }
    free(json);
    return 0;
}
