/* net/redis-open: what a caller is told when a Redis URL cannot be opened
 * (never the password), and that an interrupt cuts short a login that a
 * silent peer never answers. The peers here are local sockets: a closed
 * port, and a listener that accepts (through its backlog) but never
 * speaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "net/redis-open.h"

/* A loopback listener that never answers; its port in *port. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void no_url(void **state)
{
    (void)state;
    char err[256];
    enum redis_open_failure why;
    struct redis_open_options o = {0};
    assert_null(redis_open_with(NULL, &o, &why, err, sizeof err));
    assert_int_equal(why, REDIS_OPEN_BAD_URL);
    assert_string_equal(err, "no Redis URL configured");
}

static void tls_scheme_refused_redacted(void **state)
{
    (void)state;
    char err[256];
    enum redis_open_failure why;
    struct redis_open_options o = {0};
    assert_null(redis_open_with("rediss://u:sekret@127.0.0.1:6380/0", &o, &why, err, sizeof err));
    assert_int_equal(why, REDIS_OPEN_BAD_URL);
    assert_string_equal(err, "rediss://u:***@127.0.0.1:6380/0: TLS to Redis needs hiredis >= 1.0 with SSL; "
                             "Debian's hiredis 0.14 has none");
    assert_null(strstr(err, "sekret"));
}

static void unreachable_redacted(void **state)
{
    (void)state;
    char err[256];
    enum redis_open_failure why;
    struct redis_open_options o = {.connect_timeout = 2};
    assert_null(redis_open_with("redis://:sekret@127.0.0.1:1/0", &o, &why, err, sizeof err));
    assert_int_equal(why, REDIS_OPEN_UNREACHABLE);
    assert_non_null(strstr(err, "cannot connect to Redis at redis://:***@127.0.0.1:1"));
    assert_null(strstr(err, "sekret"));
}

static void silent_peer_times_out(void **state)
{
    (void)state;
    int port, lfd = silent_listener(&port);
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://:sekret@127.0.0.1:%d", port);
    enum redis_open_failure why;
    struct redis_open_options o = {.connect_timeout = 2, .read_timeout = 0.3};
    assert_null(redis_open_with(url, &o, &why, err, sizeof err));
    assert_int_equal(why, REDIS_OPEN_TIMEOUT);
    assert_non_null(strstr(err, "did not answer AUTH"));
    assert_null(strstr(err, "sekret"));
    close(lfd);
}

/* Waits (bounded, on a 10 ms timer) until the socket is registered, then
 * fires the interrupt. */
static void *fire_when_armed(void *arg)
{
    struct redis_interrupt *ri = arg;
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&ri->lock);
        bool armed = ri->fd >= 0;
        pthread_mutex_unlock(&ri->lock);
        if (armed) {
            redis_interrupt_fire(ri);
            return NULL;
        }
        nanosleep(&(struct timespec){.tv_nsec = 10000000}, NULL);
    }
    return NULL;
}

static void interrupt_cuts_login_short(void **state)
{
    (void)state;
    int port, lfd = silent_listener(&port);
    char url[64], err[256];
    snprintf(url, sizeof url, "redis://:sekret@127.0.0.1:%d", port);
    struct redis_interrupt ri;
    redis_interrupt_init(&ri);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, fire_when_armed, &ri), 0);
    enum redis_open_failure why;
    struct redis_open_options o = {.connect_timeout = 2, .read_timeout = 30, .interrupt = &ri};
    double started = clock_mono();
    assert_null(redis_open_with(url, &o, &why, err, sizeof err));
    double took = clock_mono() - started;
    pthread_join(t, NULL);
    assert_int_equal(why, REDIS_OPEN_LOST);        /* not a timeout: the interrupt ended it */
    assert_true(took < 30);
    assert_int_equal(ri.fd, -1);                    /* disarmed: the context is gone */
    assert_null(strstr(err, "sekret"));
    redis_interrupt_destroy(&ri);
    close(lfd);
}

int main(void)
{
    /* As in every qdeck process (main.c): the interrupt may shut the socket
     * down before AUTH is written, and that write must fail with EPIPE, not
     * kill the test. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_url),
        cmocka_unit_test(tls_scheme_refused_redacted),
        cmocka_unit_test(unreachable_redacted),
        cmocka_unit_test(silent_peer_times_out),
        cmocka_unit_test(interrupt_cuts_login_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
