/* Worker counters and latency as heartbeat JSON and Prometheus text (see
 * the header); the Prometheus histograms come from net/metrics.h's
 * metrics_latency_histogram. */
#include "worker/worker-report.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/histogram.h"

static void add_queues(cJSON *o, const char *queues)
{
    cJSON *list = cJSON_AddArrayToObject(o, "queues");
    char **items;
    size_t n = split_list(queues, &items);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(items[i]));
    free_list(items, n);
}

cJSON *worker_report_from_stats(const struct worker_stats *s, const char *queues)
{
    cJSON *o = cJSON_CreateObject();
    add_queues(o, queues);
    cJSON_AddNumberToObject(o, "slots_busy", s->busy);
    cJSON_AddNumberToObject(o, "slots_total", s->slots);
    cJSON_AddNumberToObject(o, "in_flight", s->in_flight);
    cJSON_AddNumberToObject(o, "processed", (double)s->processed);
    cJSON_AddNumberToObject(o, "failed", (double)s->failed);
    cJSON_AddNumberToObject(o, "retried", (double)s->retried);
    cJSON_AddNumberToObject(o, "dead_lettered", (double)s->dead_lettered);
    cJSON_AddNumberToObject(o, "parked", (double)s->parked);
    cJSON_AddNumberToObject(o, "skipped", (double)s->skipped);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency");
    for (size_t i = 0; i < s->ntypes && i < sizeof s->types / sizeof s->types[0]; i++) {
        const struct worker_type_stats *t = &s->types[i];
        cJSON *type = cJSON_AddObjectToObject(lat, t->type);
        cJSON_AddNumberToObject(type, "processed", (double)t->processed);
        cJSON_AddNumberToObject(type, "failed", (double)t->failed);
        cJSON_AddNumberToObject(type, "tokens_in", (double)t->tokens_in);
        cJSON_AddNumberToObject(type, "tokens_out", (double)t->tokens_out);
        histogram_add_to_json(type, "queue_wait", t->queue_wait);
        histogram_add_to_json(type, "run", t->run_time);
        histogram_add_to_json(type, "e2e", t->end_to_end);
    }
    return o;
}

static void counter(struct metrics_text *out, const char *name, const char *help, double v)
{
    metrics_family(out, name, "counter", help);
    metrics_sample(out, name, NULL, v);
}

static void gauge(struct metrics_text *out, const char *name, const char *help, double v)
{
    metrics_family(out, name, "gauge", help);
    metrics_sample(out, name, NULL, v);
}

void worker_metrics_from_stats(const struct worker_stats *s, struct metrics_text *out)
{
    counter(out, "qdeck_tasks_processed_total", "tasks completed (handler succeeded or already done)",
            (double)s->processed);
    counter(out, "qdeck_tasks_failed_total", "handler runs that did not succeed", (double)s->failed);
    counter(out, "qdeck_tasks_retried_total", "tasks sent to a delayed retry", (double)s->retried);
    counter(out, "qdeck_tasks_dead_lettered_total", "tasks sent to a dead-letter queue (parked ones not included)",
            (double)s->dead_lettered);
    counter(out, "qdeck_tasks_parked_total", "tasks shed by priority into a parked queue, to run later",
            (double)s->parked);
    counter(out, "qdeck_tasks_skipped_total", "redelivered tasks already done (idempotency)", (double)s->skipped);
    gauge(out, "qdeck_tasks_in_flight", "tasks received and not yet settled", s->in_flight);
    gauge(out, "qdeck_slots_busy", "task slots running a handler", s->busy);
    gauge(out, "qdeck_slots", "task slots (concurrency)", s->slots);
    size_t n = s->ntypes < sizeof s->types / sizeof s->types[0] ? s->ntypes : sizeof s->types / sizeof s->types[0];
    if (!n)
        return;
    metrics_family(out, "qdeck_task_processed_total", "counter", "tasks completed, by type");
    for (size_t i = 0; i < n; i++) {
        const char *labels[] = {"type", s->types[i].type, NULL};
        metrics_sample(out, "qdeck_task_processed_total", labels, (double)s->types[i].processed);
    }
    metrics_family(out, "qdeck_task_failed_total", "counter", "handler runs that did not succeed, by type");
    for (size_t i = 0; i < n; i++) {
        const char *labels[] = {"type", s->types[i].type, NULL};
        metrics_sample(out, "qdeck_task_failed_total", labels, (double)s->types[i].failed);
    }
    metrics_family(out, "qdeck_task_tokens_total", "counter",
                   "tokens handlers reported (plugin ABI 3), by type and direction");
    for (size_t i = 0; i < n; i++) {
        const char *in[] = {"type", s->types[i].type, "direction", "in", NULL};
        const char *outl[] = {"type", s->types[i].type, "direction", "out", NULL};
        metrics_sample(out, "qdeck_task_tokens_total", in, (double)s->types[i].tokens_in);
        metrics_sample(out, "qdeck_task_tokens_total", outl, (double)s->types[i].tokens_out);
    }
    static const struct {
        const char *name, *help;
        size_t offset;
    } series[] = {
        {"qdeck_task_queue_wait_seconds", "time from enqueue to start, by type",
         offsetof(struct worker_type_stats, queue_wait)},
        {"qdeck_task_run_seconds", "handler run time, by type", offsetof(struct worker_type_stats, run_time)},
        {"qdeck_task_end_to_end_seconds", "time from enqueue to settlement, by type",
         offsetof(struct worker_type_stats, end_to_end)},
    };
    for (size_t k = 0; k < sizeof series / sizeof series[0]; k++) {
        metrics_family(out, series[k].name, "histogram", series[k].help);
        for (size_t i = 0; i < n; i++) {
            const struct histogram *h =
                *(struct histogram *const *)((const char *)&s->types[i] + series[k].offset);
            const char *labels[] = {"type", s->types[i].type, NULL};
            if (h)
                metrics_latency_histogram(out, series[k].name, labels, h);
        }
    }
}

cJSON *worker_report(void *worker)
{
    struct worker_stats s;
    worker_stats(worker, &s);
    cJSON *o = worker_report_from_stats(&s, worker_queues(worker));
    char health[200];
    worker_health(worker, health, sizeof health);
    cJSON_AddStringToObject(o, "health", health);
    worker_report_resilience(worker, o);
    return o;
}

void worker_metrics(void *worker, struct metrics_text *out)
{
    struct worker_stats s;
    worker_stats(worker, &s);
    worker_metrics_from_stats(&s, out);
}
