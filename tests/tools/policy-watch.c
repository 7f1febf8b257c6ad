/* policy-watch: a stand-in for a worker's control-plane side, for the
 * propagation test. Runs the policy watcher and prints one line each time
 * what it sees changes:
 *
 *   policy-watch REDIS_URL SECONDS NAME...
 *
 * NAME is a guardrail ("shed.priority_below") or "breaker:DEP", for which a
 * local breaker gets the control-plane command applied as a worker would
 * (breaker_apply_command) and its state is printed. Lines:
 *   <wall clock ms> <NAME> <value or breaker state> v<policy version>
 * "ready" is printed once the first snapshot from Redis is in. Exits after
 * SECONDS, or on SIGTERM/SIGINT. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/policy.h"
#include "control/policy-watcher.h"
#include "core/clock.h"
#include "resilience/breaker.h"

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig; stopping = 1; }

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);   /* a broker that goes away is an error to report, as in qdeck */
    if (argc < 4) {
        fprintf(stderr, "usage: policy-watch REDIS_URL SECONDS NAME...\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    double until = clock_mono() + atof(argv[2]);
    int n = argc - 3;
    char **names = argv + 3;
    struct breaker **breakers = calloc((size_t)n, sizeof *breakers);
    char **last = calloc((size_t)n, sizeof *last);
    for (int i = 0; i < n; i++) {
        if (strncmp(names[i], "breaker:", 8) != 0)
            continue;
        struct dependency_config d;
        config_dependency_init(&d, names[i] + 8);
        char err[256];
        breakers[i] = breaker_new(&d, NULL, err, sizeof err);
        config_dependency_free(&d);
    }
    struct policy_watcher *w = policy_watcher_start(argv[1], 2);
    uint64_t seen = 0;
    bool ready = false;
    while (!stopping && clock_mono() < until) {
        uint64_t v = policy_watcher_wait(w, seen, 0.2);
        if (v == seen)
            continue;
        seen = v;
        struct policy *p = policy_watcher_get(w);
        if (p->loaded && !ready) {
            ready = true;
            printf("%.0f ready v%llu\n", floor(clock_wall() * 1000), (unsigned long long)p->version);
        }
        for (int i = 0; i < n; i++) {
            const char *value;
            if (breakers[i]) {
                for (size_t k = 0; k < p->nbreakers; k++)
                    if (strcmp(p->breakers[k].dep, names[i] + 8) == 0)
                        breaker_apply_command(breakers[i], p->breakers[k].command, p->breakers[k].generation);
                value = breaker_state_name(breaker_state(breakers[i]));
            } else {
                value = policy_value(p, names[i]);
                if (!value)
                    value = "(unknown)";
            }
            if (!last[i] || strcmp(last[i], value) != 0) {
                printf("%.0f %s %s v%llu\n", floor(clock_wall() * 1000), names[i], value,
                       (unsigned long long)p->version);
                free(last[i]);
                last[i] = strdup(value);
            }
        }
        fflush(stdout);
        policy_release(p);
    }
    policy_watcher_stop(w);
    for (int i = 0; i < n; i++) {
        breaker_free(breakers[i]);
        free(last[i]);
    }
    free(breakers);
    free(last);
    return 0;
}
