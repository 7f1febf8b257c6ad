/* rate-client: one member of a fleet sharing a GCRA rate limit in Redis.
 * Acquires one call at a time in a loop for SECONDS (ratelimit_acquire's
 * way) and prints, for every allowed call, the Redis server time of the
 * admission in microseconds (the clock the limiter
 * itself uses, so processes on different clocks agree); a throttled call
 * sleeps the retry-after the script returned.
 *
 *   rate-client REDIS_URL DEP RATE BURST SECONDS [reserve N]
 *
 * With `reserve N` it reserves up to N slots at a time instead (the
 * worker's waiting room does this), prints each granted slot's start in
 * Redis time, and sleeps until its last slot before reserving again; a
 * refusal sleeps the retry-after it names.
 *
 * Last line on stderr: "allowed N throttled M" ("granted N refused M
 * calls C" with reserve). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control/policy.h"
#include "control/policy-store.h"
#include "core/clock.h"
#include "resilience/ratelimit.h"

static void sleep_for(double wait)
{
    struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
    nanosleep(&ts, NULL);
}

static int reserve_loop(redisContext *c, const char *dep, double rate, int burst, double until, int batch)
{
    char err[512];
    long granted = 0, refused = 0, calls = 0;
    while (clock_mono() < until) {
        struct ratelimit_grant g;
        calls++;
        if (ratelimit_gcra_reserve(c, dep, rate, burst, batch, 1.0, &g, err, sizeof err) < 0) {
            fprintf(stderr, "rate-client: %s\n", err);
            return 1;
        }
        if (g.granted == 0) {
            refused++;
            sleep_for(g.retry_after > 0.0005 ? g.retry_after : 0.0005);
            continue;
        }
        granted += g.granted;
        for (int i = 0; i < g.granted; i++) {
            double at = g.first + i * g.interval;
            printf("%lld\n", (long long)g.server_us + (long long)((at > 0 ? at : 0) * 1e6));
        }
        double last = g.first + (g.granted - 1) * g.interval;
        if (last > 0)
            sleep_for(last);
    }
    fflush(stdout);
    fprintf(stderr, "granted %ld refused %ld calls %ld\n", granted, refused, calls);
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);   /* a broker that goes away is an error to report, as in qdeck */
    if (argc != 6 && !(argc == 8 && strcmp(argv[6], "reserve") == 0)) {
        fprintf(stderr, "usage: rate-client REDIS_URL DEP RATE BURST SECONDS [reserve N]\n");
        return 2;
    }
    char err[512];
    redisContext *c = policy_connect(argv[1], 2, err, sizeof err);
    if (!c) {
        fprintf(stderr, "rate-client: %s\n", err);
        return 3;
    }
    double rate = atof(argv[3]), until = clock_mono() + atof(argv[5]);
    int burst = atoi(argv[4]);
    if (argc == 8) {
        int rc = reserve_loop(c, argv[2], rate, burst, until, atoi(argv[7]));
        redisFree(c);
        return rc;
    }
    long allowed = 0, throttled = 0;
    while (clock_mono() < until) {
        struct ratelimit_grant g;   /* one slot that begins now (horizon 0), as ratelimit_acquire asks */
        if (ratelimit_gcra_reserve(c, argv[2], rate, burst, 1, 0, &g, err, sizeof err) < 0) {
            fprintf(stderr, "rate-client: %s\n", err);
            redisFree(c);
            return 1;
        }
        double wait = g.retry_after;
        if (g.granted) {
            allowed++;
            printf("%lld\n", (long long)g.server_us);
            continue;
        }
        throttled++;
        sleep_for(wait > 0.0005 ? wait : 0.0005);
    }
    fflush(stdout);
    fprintf(stderr, "allowed %ld throttled %ld\n", allowed, throttled);
    redisFree(c);
    return 0;
}
