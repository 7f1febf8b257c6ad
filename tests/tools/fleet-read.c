/* Times reading the fleet for tests/bench/bench_fleet.sh:
 *
 *   fleet-read URL fleet REPS     REPS fleet_read() calls (SCAN + pipelined MGET)
 *   fleet-read URL naive REPS     the same data the naive way: SCAN, then one
 *                                 GET round trip per worker key (the baseline)
 *   fleet-read URL fill N         writes N synthetic heartbeats (TTL 10 min), registered
 *
 * Prints "workers N ms_per_read X" (or "filled N"). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/fleet.h"
#include "control/keys.h"
#include "control/redis-connect.h"
#include "core/clock.h"
#include "net/redis-open.h"

static int naive_read(redisContext *c, size_t *n)
{
    char cursor[32] = "0", err[256];
    *n = 0;
    do {
        redisReply *r = control_redis_command(c, err, sizeof err, "SCAN %s MATCH %s* COUNT 1000", cursor,
                                              KEY_WORKER_PREFIX);
        if (!r)
            return -1;
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (size_t i = 0; i < r->element[1]->elements; i++) {
            redisReply *g = control_redis_command(c, err, sizeof err, "GET %s", r->element[1]->element[i]->str);
            if (g)
                freeReplyObject(g);
            (*n)++;
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);   /* a broker that goes away is an error to report, as in qdeck */
    if (argc != 4) {
        fprintf(stderr, "usage: fleet-read URL fleet|naive|fill N\n");
        return 2;
    }
    char err[512];
    redisContext *c = redis_open(argv[1], 10, 0, err, sizeof err);
    if (!c) {
        fprintf(stderr, "fleet-read: %s\n", err);
        return 1;
    }
    long n = atol(argv[3]);
    if (strcmp(argv[2], "fill") == 0) {
        double now = clock_wall();
        for (long i = 0; i < n; i++) {
            char key[64], json[1024];
            snprintf(key, sizeof key, KEY_WORKER_PREFIX "bench-%ld", i);
            snprintf(json, sizeof json,
                     "{\"id\":\"bench-%ld\",\"host\":\"h%ld\",\"pid\":%ld,\"at\":%.3f,\"interval\":1,"
                     "\"queues\":[\"amqp:orders\",\"redis:jobs\"],\"slots_busy\":3,\"slots_total\":8,"
                     "\"processed\":12345,\"failed\":6,\"retried\":7,\"dead_lettered\":1,"
                     "\"latency\":{\"noop\":{\"run\":\"h1 n=3 min=10 max=30 sum=60 over=0 b=10,10,10\"}},"
                     "\"state\":\"running\"}",
                     i, i % 50, 1000 + i, now);
            redisAppendCommand(c, "SET %s %s PX 600000", key, json);
            redisAppendCommand(c, "ZADD " KEY_WORKER_REGISTRY " %.3f bench-%ld", now, i);   /* as a heartbeat does */
        }
        for (long i = 0; i < 2 * n; i++) {
            redisReply *r;
            if (redisGetReply(c, (void **)&r) != REDIS_OK)
                return 1;
            freeReplyObject(r);
        }
        printf("filled %ld\n", n);
        redisFree(c);
        return 0;
    }
    size_t workers = 0;
    struct fleet_table *prev = NULL;
    double t0 = clock_mono();
    for (long i = 0; i < n; i++) {
        if (strcmp(argv[2], "naive") == 0) {
            if (naive_read(c, &workers) < 0)
                return 1;
            continue;
        }
        struct fleet_table *t;
        if (fleet_read(c, prev, clock_wall(), &t, err, sizeof err) < 0) {
            fprintf(stderr, "fleet-read: %s\n", err);
            return 1;
        }
        workers = t->n;
        fleet_table_free(prev);
        prev = t;
    }
    double ms = (clock_mono() - t0) * 1000 / (double)n;
    fleet_table_free(prev);
    printf("workers %zu ms_per_read %.3f\n", workers, ms);
    redisFree(c);
    return 0;
}
