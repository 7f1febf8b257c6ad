/* Feeds recorded Celery event bodies through qdeck's parser and state
 * (celery/event.h, celery/state.h) with no broker, for tests and the
 * events benchmark (tests/bench/celery_events.py):
 *
 *   celery-replay FILE [ROUNDS]
 *
 * FILE holds one message per line: {"rk": ROUTING_KEY, "body": "<the JSON
 * body as text>"} (what tests/bench/celery_capture.py records). Each round
 * replays every line (task uuids made unique per round), then one JSON
 * object is printed: events, CPU seconds spent, events per second, the
 * counters, and each worker's report. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "celery/event.h"
#include "celery/state.h"
#include "core/clock.h"

/* This process's CPU time: on a shared machine, wall time would charge
 * other programs' work to the replay. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct feed {
    struct celery_state *st;
    double now;
};

static void on_event(const struct celery_event *ev, void *arg)
{
    struct feed *f = arg;
    celery_state_apply(f->st, ev, f->now);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: celery-replay FILE [ROUNDS]\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    if (!in) {
        perror(argv[1]);
        return 1;
    }
    long rounds = argc > 2 ? atol(argv[2]) : 1;
    char **bodies = NULL;
    size_t n = 0, cap = 0;
    char *line = NULL;
    size_t linecap = 0;
    while (getline(&line, &linecap, in) > 0) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body");
        if (cJSON_IsString(body)) {
            if (n == cap)
                bodies = realloc(bodies, (cap = cap ? cap * 2 : 256) * sizeof *bodies);
            bodies[n++] = strdup(body->valuestring);
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(in);
    struct feed f = {.st = celery_state_new(NULL)};
    double first_ts = 0;
    size_t bad = 0, skipped = 0;
    double started = cpu_seconds();
    for (long r = 0; r < rounds; r++) {
        for (size_t i = 0; i < n; i++) {
            /* a round's uuids differ from the last round's in their first hex digit */
            char *b = bodies[i];
            for (char *u = strstr(b, "\"uuid\": \""); u; u = strstr(u + 1, "\"uuid\": \""))
                u[9] = "0123456789abcdef"[r % 16];
            f.now = first_ts = clock_wall();
            char err[200];
            if (celery_events_parse(b, strlen(b), on_event, &f, &skipped, err, sizeof err) < 0)
                bad++;
        }
    }
    double took = cpu_seconds() - started;
    struct celery_counters c;
    celery_state_counters(f.st, &c);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddNumberToObject(out, "events", (double)c.events);
    cJSON_AddNumberToObject(out, "seconds", took);
    cJSON_AddNumberToObject(out, "events_per_second", took > 0 ? (double)c.events / took : 0);
    cJSON_AddNumberToObject(out, "bad_bodies", (double)bad);
    cJSON_AddNumberToObject(out, "inflight", (double)c.inflight);
    cJSON_AddNumberToObject(out, "inflight_evicted", (double)c.inflight_evicted);
    cJSON_AddNumberToObject(out, "unattributed", (double)c.tasks_unattributed);
    cJSON_AddNumberToObject(out, "skewed", (double)c.skewed);
    cJSON *ws = cJSON_AddArrayToObject(out, "workers");
    for (size_t i = 0; i < celery_state_nworkers(f.st); i++)
        cJSON_AddItemToArray(ws, celery_state_report(f.st, i, first_ts));
    char *text = cJSON_Print(out);
    puts(text);
    free(text);
    cJSON_Delete(out);
    celery_state_free(f.st);
    for (size_t i = 0; i < n; i++)
        free(bodies[i]);
    free(bodies);
    return 0;
}
