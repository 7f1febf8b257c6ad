/* rate-client: one member of a fleet sharing a GCRA rate limit in Redis.
 * Acquires in a loop for SECONDS and prints, for every allowed call, the
 * Redis server time of the admission in microseconds (the clock the limiter
 * itself uses, so processes on different clocks agree); a throttled call
 * sleeps the retry-after the script returned.
 *
 *   rate-client REDIS_URL DEP RATE BURST SECONDS
 *
 * Last line on stderr: "allowed N throttled M". */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "control/policy.h"
#include "core/clock.h"
#include "resilience/ratelimit.h"

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: rate-client REDIS_URL DEP RATE BURST SECONDS\n");
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
    long allowed = 0, throttled = 0;
    while (clock_mono() < until) {
        bool ok;
        double wait;
        int64_t at;
        if (ratelimit_gcra(c, argv[2], rate, burst, &ok, &wait, &at, err, sizeof err) < 0) {
            fprintf(stderr, "rate-client: %s\n", err);
            redisFree(c);
            return 1;
        }
        if (ok) {
            allowed++;
            printf("%lld\n", (long long)at);
            continue;
        }
        throttled++;
        if (wait < 0.0005)
            wait = 0.0005;
        struct timespec ts = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&ts, NULL);
    }
    fflush(stdout);
    fprintf(stderr, "allowed %ld throttled %ld\n", allowed, throttled);
    redisFree(c);
    return 0;
}
