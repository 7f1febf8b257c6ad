/* Start and stop the demo's private redis-server. */
#include "demo/redis-child.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hiredis.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"

static int find_in_path(const char *name, char *out, size_t len)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/bin:/usr/sbin:/usr/local/bin", path ? path : "");
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        snprintf(out, len, "%s/%s", d, name);
        if (access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

static bool answers_ping(const char *socket_path)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectUnixWithTimeout(socket_path, tv);
    bool ok = false;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

int redis_child_start(struct redis_child *rc, char *err, size_t errlen)
{
    memset(rc, 0, sizeof *rc);
    char server[512];
    if (find_in_path("redis-server", server, sizeof server) < 0) {
        snprintf(err, errlen, "qdeck demo needs redis-server, which is not installed "
                              "(Debian: apt-get install redis-server; `make run` installs it)");
        return -1;
    }
    snprintf(rc->dir, sizeof rc->dir, "/tmp/qdeck-demo.XXXXXX");
    if (!mkdtemp(rc->dir)) {
        snprintf(err, errlen, "cannot create a temp dir: %s", strerror(errno));
        return -1;
    }
    snprintf(rc->socket_path, sizeof rc->socket_path, "%s/redis.sock", rc->dir);
    snprintf(rc->url, sizeof rc->url, "unix://%s", rc->socket_path);
    char logfile[128];
    snprintf(logfile, sizeof logfile, "%s/redis.log", rc->dir);

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "cannot fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        setpgid(0, 0);   /* keep terminal signals (Ctrl-C) for qdeck to handle */
        execl(server, "redis-server", "--port", "0", "--unixsocket", rc->socket_path,
              "--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", rc->dir,
              "--logfile", logfile, (char *)NULL);
        _exit(127);
    }
    rc->pid = pid;
    double deadline = clock_mono() + 5;
    while (clock_mono() < deadline) {
        if (answers_ping(rc->socket_path))
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            rc->pid = 0;
            snprintf(err, errlen, "redis-server exited at start (see %s)", logfile);
            return -1;
        }
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    redis_child_stop(rc);
    snprintf(err, errlen, "redis-server did not answer on %s within 5 s", rc->socket_path);
    return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

void redis_child_stop(struct redis_child *rc)
{
    if (rc->pid > 0) {
        kill(rc->pid, SIGTERM);
        double deadline = clock_mono() + 5;
        int status;
        while (waitpid(rc->pid, &status, WNOHANG) == 0) {
            if (clock_mono() > deadline) {
                kill(rc->pid, SIGKILL);
                waitpid(rc->pid, &status, 0);
                break;
            }
            struct timespec ts = {0, 10 * 1000000};
            nanosleep(&ts, NULL);
        }
        rc->pid = 0;
    }
    if (rc->dir[0])
        nftw(rc->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    rc->dir[0] = '\0';
}
