/* Opening Redis connections from a URL (see redis-open.h). */
#include "net/redis-open.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#define DEFAULT_TIMEOUT 5.0

void redis_interrupt_init(struct redis_interrupt *ri)
{
    pthread_mutex_init(&ri->lock, NULL);
    ri->fd = -1;
}

void redis_interrupt_destroy(struct redis_interrupt *ri) { pthread_mutex_destroy(&ri->lock); }

static void arm(struct redis_interrupt *ri, int fd)
{
    pthread_mutex_lock(&ri->lock);
    ri->fd = fd;
    pthread_mutex_unlock(&ri->lock);
}

void redis_interrupt_disarm(struct redis_interrupt *ri) { arm(ri, -1); }

void redis_interrupt_fire(struct redis_interrupt *ri)
{
    pthread_mutex_lock(&ri->lock);
    if (ri->fd >= 0)
        shutdown(ri->fd, SHUT_RDWR);
    pthread_mutex_unlock(&ri->lock);
}

static struct timeval seconds_tv(double s)
{
    return (struct timeval){.tv_sec = (time_t)s, .tv_usec = (suseconds_t)((s - (double)(time_t)s) * 1e6)};
}

int redis_url_parse(const char *url, struct broker_url *u, char *err, size_t errlen)
{
    if (!url || !*url) {
        snprintf(err, errlen, "no Redis URL configured");
        return -1;
    }
    char why[256];
    if (broker_url_parse(url, u, why, sizeof why) < 0) {
        snprintf(err, errlen, "Redis URL: %s", why);
        return -1;
    }
    if (broker_url_check_role(url, URL_ROLE_REDIS, err, (unsigned)errlen) < 0) {
        broker_url_free(u);
        return -1;
    }
    return 0;
}

/* A command of the login (AUTH, SELECT) that got no good reply: *why and
 * one line. */
static void login_failure(redisContext *c, const redisReply *r, const char *command, const char *shown,
                          enum redis_open_failure *why, char *err, size_t errlen)
{
    if (r) {
        bool auth = strcmp(command, "AUTH") == 0 || strncmp(r->str, "NOAUTH", 6) == 0 ||
                    strncmp(r->str, "WRONGPASS", 9) == 0;
        *why = auth ? REDIS_OPEN_AUTH : REDIS_OPEN_REFUSED;
        snprintf(err, errlen, "Redis at %s refused %s: %s", shown, command, r->str);
    } else if (c->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK ||
                                          strstr(c->errstr, "temporarily unavailable"))) {
        *why = REDIS_OPEN_TIMEOUT;
        snprintf(err, errlen, "Redis at %s did not answer %s", shown, command);
    } else if (c->err == REDIS_ERR_EOF) {
        *why = REDIS_OPEN_LOST;
        snprintf(err, errlen, "Redis at %s closed the connection during %s", shown, command);
    } else {
        *why = REDIS_OPEN_LOST;
        snprintf(err, errlen, "Redis at %s: %s: %s", shown, command, c->errstr[0] ? c->errstr : "connection lost");
    }
}

/* Runs one command of the login; 0, or -1 with *why and err. */
static int login_command(redisContext *c, int argc, const char **argv, const char *shown,
                         enum redis_open_failure *why, char *err, size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (r && r->type != REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        return 0;
    }
    login_failure(c, r, argv[0], shown, why, err, errlen);
    if (r)
        freeReplyObject(r);
    return -1;
}

static int login(redisContext *c, const struct broker_url *u, enum redis_open_failure *why, char *err,
                 size_t errlen)
{
    if (u->password) {
        bool user = u->user && u->user[0];
        const char *argv[3] = {"AUTH", user ? u->user : u->password, u->password};
        if (login_command(c, user ? 3 : 2, argv, u->redacted, why, err, errlen) < 0)
            return -1;
    }
    if (u->db > 0) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        if (login_command(c, 2, argv, u->redacted, why, err, errlen) < 0)
            return -1;
    }
    return 0;
}

redisContext *redis_open_with(const char *url, const struct redis_open_options *o, enum redis_open_failure *why,
                              char *err, size_t errlen)
{
    enum redis_open_failure unused;
    if (!why)
        why = &unused;
    struct broker_url u;
    if (redis_url_parse(url, &u, err, errlen) < 0) {
        *why = REDIS_OPEN_BAD_URL;
        return NULL;
    }
    double connect_timeout = o->connect_timeout > 0 ? o->connect_timeout : DEFAULT_TIMEOUT;
    double read_timeout = o->read_timeout > 0 ? o->read_timeout : connect_timeout;
    struct timeval tv = seconds_tv(connect_timeout);
    redisContext *c = strcmp(u.scheme, "unix") == 0 ? redisConnectUnixWithTimeout(u.path, tv)
                                                     : redisConnectWithTimeout(u.host, u.port, tv);
    if (!c || c->err) {
        *why = REDIS_OPEN_UNREACHABLE;
        snprintf(err, errlen, "cannot connect to Redis at %s: %s", u.redacted, c ? c->errstr : "out of memory");
        redisFree(c);
        broker_url_free(&u);
        return NULL;
    }
    redisSetTimeout(c, seconds_tv(read_timeout));
    if (o->interrupt)
        arm(o->interrupt, c->fd);
    int rc = login(c, &u, why, err, errlen);
    broker_url_free(&u);
    if (rc < 0) {
        if (o->interrupt)
            redis_interrupt_disarm(o->interrupt);
        redisFree(c);
        return NULL;
    }
    return c;
}

redisContext *redis_open(const char *url, double connect_timeout, double read_timeout, char *err, size_t errlen)
{
    struct redis_open_options o = {.connect_timeout = connect_timeout, .read_timeout = read_timeout};
    return redis_open_with(url, &o, NULL, err, errlen);
}
