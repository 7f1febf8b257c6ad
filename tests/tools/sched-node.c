/* A stand-in worker for control-plane tests: runs the heartbeat (with a
 * synthetic report), optionally the scheduler from a config file's
 * [schedule NAME] sections, and optionally the metrics endpoints — nothing
 * of the worker pool. SIGTERM/SIGINT stop it cleanly (a "stopped"
 * heartbeat); SIGKILL leaves it to be found lost.
 *
 *   sched-node --redis URL [--id ID] [--interval S] [--queues a,b]
 *              [--slots N] [--busy N] [--processed N] [--failed N]
 *              [--metrics ADDR] [--not-ready REASON]
 *              [--sched --config FILE [--lease S]]
 *   sched-node --plane --redis URL [--config FILE] [--metrics ADDR]
 *              (control_plane_start: heartbeat + scheduler + metrics, no worker)
 *
 * Prints "id <worker id>" and, with --metrics, "port <n>" on stdout once
 * started, then runs until signalled. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "worker/heartbeat-thread.h"
#include "net/metrics.h"
#include "worker/plane.h"
#include "core/config.h"
#include "core/log.h"
#include "worker/sched.h"

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

struct node {
    const char *queues;
    long slots, busy, processed, failed;
    atomic_long beats;
    const char *not_ready;
    struct heartbeat *hb;
    struct sched *sched;
};

static cJSON *report(void *ctx)
{
    struct node *n = ctx;
    long beat = atomic_fetch_add(&n->beats, 1);
    cJSON *o = cJSON_CreateObject();
    cJSON *q = cJSON_AddArrayToObject(o, "queues");
    char *copy = strdup(n->queues), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(q, cJSON_CreateString(t));
    free(copy);
    cJSON_AddNumberToObject(o, "slots_busy", (double)n->busy);
    cJSON_AddNumberToObject(o, "slots_total", (double)n->slots);
    cJSON_AddNumberToObject(o, "in_flight", (double)n->busy);
    cJSON_AddNumberToObject(o, "processed", (double)(n->processed + beat));
    cJSON_AddNumberToObject(o, "failed", (double)n->failed);
    cJSON_AddNumberToObject(o, "retried", 2);
    cJSON_AddNumberToObject(o, "dead_lettered", 1);
    cJSON *b = cJSON_AddObjectToObject(o, "breakers");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(b, "llm-api"), "state", "CLOSED");
    if (n->sched)
        cJSON_AddBoolToObject(o, "sched_leader", sched_is_leader(n->sched));
    return o;
}

static bool ready(void *ctx, char *reason, size_t len)
{
    struct node *n = ctx;
    if (n->not_ready) {
        snprintf(reason, len, "%s", n->not_ready);
        return false;
    }
    return heartbeat_ok(n->hb, reason, len);
}

static void collect(void *ctx, struct metrics_text *out)
{
    struct node *n = ctx;
    metrics_family(out, "qdeck_tasks_processed_total", "counter", "tasks finished\nsuccessfully");
    const char *labels[] = {"queue", "amqp:\"odd\"\\name", NULL};
    metrics_sample(out, "qdeck_tasks_processed_total", labels, (double)n->processed);
    metrics_family(out, "qdeck_slots_busy", "gauge", "task slots running a task");
    metrics_sample(out, "qdeck_slots_busy", NULL, (double)n->busy);
    metrics_family(out, "qdeck_task_run_seconds", "histogram", "task run time");
    static const double bounds[] = {0.005, 0.1, 1};
    static const uint64_t cumulative[] = {1, 3, 4};
    const char *type[] = {"type", "noop", NULL};
    metrics_histogram(out, "qdeck_task_run_seconds", type, bounds, cumulative, 3, 2.75, 5);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"redis", required_argument, NULL, 'r'},    {"id", required_argument, NULL, 'i'},
        {"interval", required_argument, NULL, 'I'}, {"queues", required_argument, NULL, 'q'},
        {"slots", required_argument, NULL, 's'},    {"busy", required_argument, NULL, 'b'},
        {"processed", required_argument, NULL, 'p'}, {"failed", required_argument, NULL, 'f'},
        {"metrics", required_argument, NULL, 'm'},  {"not-ready", required_argument, NULL, 'n'},
        {"sched", no_argument, NULL, 'S'},          {"config", required_argument, NULL, 'c'},
        {"lease", required_argument, NULL, 'l'},    {"plane", no_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *redis = NULL, *id = NULL, *metrics_addr = NULL, *config_path = NULL;
    double interval = 1, lease = 3;
    bool run_sched = false, plane = false;
    struct node n = {.queues = "amqp:orders,redis:jobs", .slots = 8, .busy = 3, .processed = 100};
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'r': redis = optarg; break;
        case 'i': id = optarg; break;
        case 'I': interval = atof(optarg); break;
        case 'q': n.queues = optarg; break;
        case 's': n.slots = atol(optarg); break;
        case 'b': n.busy = atol(optarg); break;
        case 'p': n.processed = atol(optarg); break;
        case 'f': n.failed = atol(optarg); break;
        case 'm': metrics_addr = optarg; break;
        case 'n': n.not_ready = optarg; break;
        case 'S': run_sched = true; break;
        case 'c': config_path = optarg; break;
        case 'l': lease = atof(optarg); break;
        case 'P': plane = true; break;
        default: fprintf(stderr, "sched-node: bad option\n"); return 2;
        }
    }
    if (!redis) {
        fprintf(stderr, "sched-node: --redis URL is required\n");
        return 2;
    }
    log_min_level = getenv("SCHED_NODE_DEBUG") ? LOG_DEBUG : LOG_INFO;
    log_to_terminal(true);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    struct config cfg;
    config_defaults(&cfg);
    if (config_path && config_parse_file(config_path, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "sched-node: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (plane) {
        struct context_config ctx;
        config_context_init(&ctx, "plane");
        ctx.redis = strdup(redis);
        struct control_plane_options po = {.cfg = &cfg, .ctx = &ctx, .version = "test", .metrics_addr = metrics_addr};
        struct control_plane *cp = control_plane_start(&po, err, sizeof err);
        if (!cp) {
            fprintf(stderr, "sched-node: %s\n", err);
            config_context_free(&ctx);
            config_free(&cfg);
            return 1;
        }
        printf("id %s\n", control_plane_id(cp));
        if (metrics_addr)
            printf("port %d\n", control_plane_metrics_port(cp));
        fflush(stdout);
        while (!stop)
            usleep(50000);
        control_plane_stop(cp);
        config_context_free(&ctx);
        config_free(&cfg);
        return 0;
    }
    struct heartbeat_options ho = {.redis_url = redis, .interval = interval, .id = id, .version = "test",
                                   .report = report, .ctx = &n};
    n.hb = heartbeat_start(&ho, err, sizeof err);
    if (!n.hb) {
        fprintf(stderr, "sched-node: %s\n", err);
        config_free(&cfg);
        return 1;
    }
    printf("id %s\n", heartbeat_id(n.hb));
    if (run_sched) {
        struct sched_options so = {.redis_url = redis, .node_id = heartbeat_id(n.hb), .lease = lease,
                                   .jobs = cfg.schedules, .njobs = cfg.nschedules,
                                   .ctx = cfg.ncontexts ? &cfg.contexts[0] : NULL};
        n.sched = sched_start(&so, err, sizeof err);
        if (!n.sched) {
            fprintf(stderr, "sched-node: %s\n", err);
            heartbeat_stop(n.hb);
            config_free(&cfg);
            return 1;
        }
    }
    struct metrics_server *ms = NULL;
    if (metrics_addr) {
        struct metrics_options mo = {.addr = metrics_addr, .ready = ready, .collect = collect, .ctx = &n};
        ms = metrics_start(&mo, err, sizeof err);
        if (!ms) {
            fprintf(stderr, "sched-node: %s\n", err);
            sched_stop(n.sched);
            heartbeat_stop(n.hb);
            config_free(&cfg);
            return 1;
        }
        printf("port %d\n", metrics_port(ms));
    }
    fflush(stdout);
    while (!stop)
        usleep(50000);
    metrics_stop(ms);
    heartbeat_stop(n.hb);   /* first: its report reads the scheduler */
    sched_stop(n.sched);
    config_free(&cfg);
    return 0;
}
