/* ring-memory: what the console's time series cost in memory, for the
 * budget of issue 13 (RSS <= 48 MB with 1,000 queues, 1,000 Redis keys and
 * 100 workers). Feeds 2,000 queues (ui/history.h: 60-sample rings and the
 * 10-minute depth window) for 600 samples, then the type series
 * (ui/type-series.h) with 100 workers reporting TYPE_SERIES_CAP types for
 * 600 samples at a 1 s refresh, and prints the RSS each adds (after
 * malloc_trim, so the test's own report churn is not counted) and the heap
 * in use, and the time one type sample takes. Usage: build/tools/ring-memory [TYPES] */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "ui/history.h"
#include "ui/type-series.h"

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    int ntypes = argc > 1 ? atoi(argv[1]) : TYPE_SERIES_CAP;
    if (ntypes < 1 || ntypes > TYPE_SERIES_CAP) {
        fprintf(stderr, "ring-memory: TYPES must be 1..%d\n", TYPE_SERIES_CAP);
        return 2;
    }
    long base = rss_kb();
    struct history h;
    history_init(&h, 60);
    char addr[64];
    for (int t = 0; t < 600; t++)
        for (int q = 0; q < 2000; q++) {
            snprintf(addr, sizeof addr, "%s:queue.%d", q < 1000 ? "amqp" : "redis", q);
            history_add(&h, addr, 1e9 + t, q + t, 1, 1);
        }
    malloc_trim(0);
    long after_history = rss_kb();
    printf("heap in use after the queue rings: %zu KB\n", mallinfo2().uordblks / 1024);
    struct type_series ts;
    type_series_init(&ts, 1);
    struct fleet_table tab = {0};
    struct fleet_worker *w = calloc(100, sizeof *w);
    tab.workers = w;
    tab.n = 100;
    char *enc;
    {
        struct histogram *hg = histogram_new();
        for (int i = 0; i < 1000; i++)
            histogram_record(hg, (uint64_t)(1000 + i * 37));
        enc = histogram_encode(hg);
        histogram_free(hg);
    }
    double record_seconds = 0;
    for (int t = 0; t < 600; t++) {
        for (int i = 0; i < 100; i++) {
            cJSON_Delete(w[i].report);
            char id[32];
            snprintf(id, sizeof id, "w%d", i);
            free(w[i].id);
            w[i].id = strdup(id);
            w[i].state = FLEET_RUNNING;
            w[i].last_beat = 1e9 + t;
            w[i].processed = t * 10;
            w[i].failed = t;
            cJSON *r = cJSON_CreateObject(), *lat = cJSON_AddObjectToObject(r, "latency");
            for (int k = 0; k < ntypes; k++) {
                char name[32];
                snprintf(name, sizeof name, "type.%d", k);
                cJSON *o = cJSON_AddObjectToObject(lat, name);
                cJSON_AddNumberToObject(o, "processed", t * 10);
                cJSON_AddNumberToObject(o, "failed", t);
                cJSON_AddStringToObject(o, "run", enc);
                cJSON_AddStringToObject(o, "e2e", enc);
                cJSON_AddStringToObject(o, "queue_wait", enc);
            }
            w[i].report = r;
        }
        tab.taken_at = 1e9 + t;
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        type_series_record(&ts, &tab, NULL);
        clock_gettime(CLOCK_MONOTONIC, &b);
        record_seconds += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    }
    for (int i = 0; i < 100; i++) {
        cJSON_Delete(w[i].report);
        free(w[i].id);
    }
    free(w);
    free(enc);
    malloc_trim(0);
    long after_types = rss_kb();
    struct mallinfo2 mi = mallinfo2();
    printf("heap in use after the type rings: %zu KB\n", mi.uordblks / 1024);
    printf("queue rings (2000 queues, 60 samples + 10-minute window): %ld KB\n", after_history - base);
    printf("type rings (%d types x %zu slots, 100 workers, base histograms): %ld KB\n", ntypes, ts.capacity, after_types - after_history);
    printf("one type sample (%d types from 100 workers): %.2f ms of CPU on the main thread\n", ntypes,
           record_seconds / 600 * 1e3);
    printf("per queue: struct %zu bytes + 60-sample rings %zu bytes\n", sizeof(struct queue_history), (size_t)60 * 4 * 8);
    history_free(&h);
    type_series_free(&ts);
    return 0;
}
