/* A flaky upstream for the demo, on libmicrohttpd with a thread per
 * connection, so a slow answer holds only its own connection.
 *
 *   POST /llm        80-600 ms; from 5 s into every minute, a 20 s wave of
 *                    503s after 1-2 s
 *   POST /transcode  300-900 ms, 3 % errors
 *   anything else    404
 *
 * Waves are a function of time since start, so the console shows the same
 * story every run: calm, then failures, retries and dead letters, then
 * recovery. */
#include "demo/upstream.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/xalloc.h"

#define WAVE_PERIOD 60.0
#define WAVE_START 5.0
#define WAVE_LENGTH 20.0

struct demo_upstream {
    struct MHD_Daemon *daemon;
    double started;
};

int demo_upstream_failing(double t)
{
    double phase = t - WAVE_PERIOD * (double)(long)(t / WAVE_PERIOD);
    return phase >= WAVE_START && phase < WAVE_START + WAVE_LENGTH;
}

static double uniform(unsigned *seed, double lo, double hi)
{
    return lo + (hi - lo) * ((double)rand_r(seed) / RAND_MAX);
}

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    (void)method, (void)version, (void)upload_data;
    struct demo_upstream *u = cls;
    if (*state == NULL) {          /* first call: headers only */
        *state = u;
        return MHD_YES;
    }
    if (*upload_size) {            /* the body: not needed, just consumed */
        *upload_size = 0;
        return MHD_YES;
    }
    unsigned seed = (unsigned)(clock_mono() * 1e6) ^ (unsigned)(uintptr_t)conn;
    unsigned status = MHD_HTTP_OK;
    const char *body = "{\"ok\":true}";
    if (strcmp(url, "/llm") == 0) {
        if (demo_upstream_failing(clock_mono() - u->started)) {
            sleep_seconds(uniform(&seed, 1.0, 2.0));
            status = MHD_HTTP_SERVICE_UNAVAILABLE;
            body = "{\"error\":\"model overloaded\"}";
        } else {
            sleep_seconds(uniform(&seed, 0.08, 0.6));
            body = "{\"summary\":\"three sentences, as asked\",\"tokens\":182}";
        }
    } else if (strcmp(url, "/transcode") == 0) {
        sleep_seconds(uniform(&seed, 0.3, 0.9));
        if (uniform(&seed, 0, 1) < 0.03) {
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
            body = "{\"error\":\"codec crashed\"}";
        } else {
            body = "{\"renditions\":3}";
        }
    } else {
        status = MHD_HTTP_NOT_FOUND;
        body = "{\"error\":\"no such endpoint\"}";
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

struct demo_upstream *demo_upstream_start(char *base_url, size_t len, char *err, size_t errlen)
{
    struct demo_upstream *u = xcalloc(1, sizeof *u);
    u->started = clock_mono();
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = 0};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    u->daemon = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                 answer, u, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!u->daemon) {
        snprintf(err, errlen, "demo upstream: cannot listen on 127.0.0.1");
        free(u);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(u->daemon, MHD_DAEMON_INFO_BIND_PORT);
    snprintf(base_url, len, "http://127.0.0.1:%u", info ? (unsigned)info->port : 0u);
    return u;
}

void demo_upstream_stop(struct demo_upstream *u)
{
    if (!u)
        return;
    MHD_stop_daemon(u->daemon);
    free(u);
}
