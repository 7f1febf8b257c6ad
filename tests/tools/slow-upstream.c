/* slow-upstream: an HTTP server on 127.0.0.1 that answers every request
 * after a fixed delay, for the `http` plugin benchmark (2,000 calls with
 * 1,000 in flight against an upstream that takes 1 s).
 *
 *   slow-upstream DELAY_MS [PORT [BODY]]   PORT 0 or absent: an ephemeral one;
 *                                          BODY: the JSON answered (default {"ok":true}),
 *                                          e.g. an LLM-style answer with a usage object
 *
 * Prints "port N" on stdout once listening, then serves until SIGTERM or
 * SIGINT, and prints "served N requests, at most M at once" on stderr.
 *
 * Waiting costs no thread: libmicrohttpd (one epoll thread) suspends each
 * request (MHD_suspend_connection) and a timer thread resumes it when its
 * time is up; the delay is constant, so the waiting list is a FIFO queue.
 * Every request gets 200 and BODY ({"ok":true} by default); request
 * bodies are read and dropped. */
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct waiting {
    struct MHD_Connection *conn;
    double due;
    struct waiting *next;
};

struct request {
    bool resumed;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiting *head, *tail;
static double delay_s;
static long served, in_flight, peak;
static struct MHD_Response *answer;
static volatile sig_atomic_t stop;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)upload;
    struct request *r = *con_cls;
    if (!r) {
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (!r->resumed) {
        struct waiting *w = malloc(sizeof *w);
        if (!w)
            return MHD_NO;
        r->resumed = true;
        *w = (struct waiting){.conn = conn, .due = now() + delay_s};
        pthread_mutex_lock(&lock);
        if (tail)
            tail->next = w;
        else
            head = w;
        tail = w;
        if (++in_flight > peak)
            peak = in_flight;
        pthread_mutex_unlock(&lock);
        MHD_suspend_connection(conn);
        return MHD_YES;
    }
    pthread_mutex_lock(&lock);
    in_flight--;
    served++;
    pthread_mutex_unlock(&lock);
    return MHD_queue_response(conn, MHD_HTTP_OK, answer);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    free(*con_cls);
    *con_cls = NULL;
}

static void *resume_due(void *arg)
{
    (void)arg;
    while (!stop) {
        double t = now();
        pthread_mutex_lock(&lock);
        struct waiting *due = NULL, **last = &due;
        while (head && head->due <= t) {
            struct waiting *w = head;
            head = w->next;
            w->next = NULL;
            *last = w;
            last = &w->next;
        }
        if (!head)
            tail = NULL;
        pthread_mutex_unlock(&lock);
        while (due) {
            struct waiting *w = due;
            due = w->next;
            MHD_resume_connection(w->conn);
            free(w);
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: slow-upstream DELAY_MS [PORT [BODY]]\n");
        return 2;
    }
    delay_s = atof(argv[1]) / 1000.0;
    int port = argc >= 3 ? atoi(argv[2]) : 0;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    const char *body = argc == 4 ? argv[3] : "{\"ok\":true}";
    answer = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(answer, "Content-Type", "application/json");
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_CONNECTION_LIMIT, 8000u,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "slow-upstream: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("port %u\n", info ? info->port : 0);
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pthread_t timer;
    pthread_create(&timer, NULL, resume_due, NULL);
    while (!stop)
        pause();
    pthread_join(timer, NULL);
    /* resume whatever still waits, so the daemon can stop */
    for (struct waiting *w = head, *next; w; w = next) {
        next = w->next;
        MHD_resume_connection(w->conn);
        free(w);
    }
    MHD_stop_daemon(d);
    MHD_destroy_response(answer);
    fprintf(stderr, "slow-upstream: served %ld requests, at most %ld at once\n", served, peak);
    return 0;
}
