/* dep-drive: calls an HTTP upstream through one dependency's resilience
 * stack (src/resilience/dependency.h: breaker, rate limiter, bulkhead,
 * fallback), exactly as the worker wraps a handler call, for the breaker's
 * integration test.
 *
 *   dep-drive CONFIG DEP URL SECONDS CALLS_PER_SECOND
 *
 * CONFIG holds the [dependency DEP] section. A call is a GET with libcurl
 * (2 s timeout); HTTP 2xx is a success, anything else an error. Prints one
 * line per attempt and one per breaker transition, each starting with the
 * wall clock in ms:
 *   <ms> call <verdict> <http status|-> <microseconds spent> <breaker state>
 *   <ms> transition <FROM> <TO> <reason> */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"
#include "resilience/dependency.h"

static size_t discard(char *p, size_t size, size_t n, void *ctx)
{
    (void)p;
    (void)ctx;
    return size * n;
}

static void on_transition(void *ctx, const struct breaker_event *ev)
{
    (void)ctx;
    printf("%.0f transition %s %s %s\n", floor(clock_wall() * 1000), breaker_state_name(ev->from),
           breaker_state_name(ev->to), ev->reason);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: dep-drive CONFIG DEP URL SECONDS CALLS_PER_SECOND\n");
        return 2;
    }
    struct config cfg;
    char err[512];
    config_defaults(&cfg);
    if (config_parse_file(argv[1], &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "dep-drive: %s\n", err);
        return 2;
    }
    struct dependency_set set;
    if (dependency_set_init(&set, &cfg, NULL, on_transition, NULL, err, sizeof err) < 0) {
        fprintf(stderr, "dep-drive: %s\n", err);
        return 2;
    }
    struct dependency *dep = dependency_find(&set, argv[2]);
    if (!dep) {
        fprintf(stderr, "dep-drive: no [dependency %s] in %s\n", argv[2], argv[1]);
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURL *curl = curl_easy_init();
    curl_easy_setopt(curl, CURLOPT_URL, argv[3]);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    double period = 1.0 / atof(argv[5]), end = clock_mono() + atof(argv[4]);
    while (clock_mono() < end) {
        double start = clock_mono();
        struct dependency_call call;
        double wait;
        enum dependency_verdict v = dependency_begin(dep, NULL, start, 0, &call, &wait);
        long status = -1;
        if (v == DEP_CALL) {
            CURLcode rc = curl_easy_perform(curl);
            if (rc == CURLE_OK)
                curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
            bool ok = rc == CURLE_OK && status >= 200 && status < 300;
            dependency_end(&call, ok ? BREAKER_SUCCESS : BREAKER_ERROR, clock_mono() - start);
        }
        double spent = clock_mono() - start;
        char code[24] = "-";
        if (status >= 0)
            snprintf(code, sizeof code, "%ld", status);
        printf("%.0f call %s %s %.0f %s\n", floor(clock_wall() * 1000), dependency_verdict_name(v), code, spent * 1e6,
               breaker_state_name(breaker_state(dep->breaker)));
        fflush(stdout);
        double left = period - (clock_mono() - start);
        if (left > 0) {
            struct timespec ts = {.tv_sec = (time_t)left, .tv_nsec = (long)((left - floor(left)) * 1e9)};
            nanosleep(&ts, NULL);
        }
    }
    struct breaker_stats s;
    breaker_stats(dep->breaker, &s);
    fprintf(stderr, "permitted %llu refused %llu in_flight %d double_ends %llu\n",
            (unsigned long long)s.calls_permitted, (unsigned long long)s.calls_refused, s.in_flight,
            (unsigned long long)s.double_ends);
    curl_easy_cleanup(curl);
    curl_global_cleanup();
    dependency_set_fini(&set);
    config_free(&cfg);
    return s.in_flight == 0 && s.double_ends == 0 ? 0 : 1;
}
