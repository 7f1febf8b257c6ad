/* exec: runs a program per task. The task's payload (JSON) goes to the
 * child's stdin; its stdout becomes the result.
 *
 *   args cmd=/path/prog [ARG ...]   absolute path; words split on spaces
 *        timeout=SECS               hard limit per run (default 60; the task's
 *                                   deadline, when sooner, wins)
 *
 * Outcome:
 *   exit 0                 QDECK_OK; stdout is the result when it parses as
 *                          JSON, else it is kept as a JSON string (empty: none)
 *   exit 3                 QDECK_FAIL: the program says "permanent, do not
 *                          retry" (straight to the DLQ)
 *   other exit codes       QDECK_RETRY, error "exit N: <tail of stderr>"
 *   killed by a signal     QDECK_RETRY, "killed by signal N"
 *   timeout / cancelled    QDECK_RETRY; the whole process group is killed
 *   stdout over 8 MiB      QDECK_FAIL
 *
 * The child starts in a session (and process group) of its own through
 * posix_spawn's POSIX_SPAWN_SETSID, with default signal dispositions and an
 * empty signal mask (qdeck ignores SIGPIPE; the child must not inherit that).
 * On timeout or *task->cancelled, kill(-pgid, SIGKILL) takes the child and
 * everything it started; the child is always reaped with waitpid, so no
 * zombie stays behind. When the child exits by itself, leftovers in its group
 * (background grandchildren) are killed too: a task owns its processes.
 * A grandchild that calls setsid() itself leaves the group and is out of reach.
 *
 * The wait for the child polls a pidfd with its pipes, so a quick child
 * costs no timer tick; the 10 ms tick remains for noticing cancellation.
 *
 * stdin is one end of a socketpair written with MSG_NOSIGNAL, so a child that
 * never reads its input costs an EPIPE, not a SIGPIPE in the worker. The
 * child also gets QDECK_TASK_ID, QDECK_TASK_TYPE and QDECK_ATTEMPT. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qdeck-plugin.h"

extern char **environ;

#define MAX_ARGS 32
#define MAX_STDOUT (8u << 20)
#define STDERR_TAIL 200
#define TICK_MS 10
#define EXIT_PERMANENT 3

struct exec_instance {
    char *argv_buf;         /* cmd with NULs between words; argv points into it */
    char *argv[MAX_ARGS + 1];
    double timeout;
};

static void *exec_create(const char *args, char *err, size_t errlen)
{
    char cmd[1024], val[32];
    if (qdeck_plugin_arg(args, "cmd", cmd, sizeof cmd) != 0 || !cmd[0]) {
        snprintf(err, errlen, "exec: args need cmd=/path/to/program");
        return NULL;
    }
    double timeout = 60;
    if (qdeck_plugin_arg(args, "timeout", val, sizeof val) == 0) {
        char *end;
        errno = 0;
        timeout = strtod(val, &end);
        if (errno || end == val || *end || !(timeout > 0 && timeout <= 86400)) {
            snprintf(err, errlen, "exec: timeout='%s' is not a number of seconds from 0 to 86400", val);
            return NULL;
        }
    }
    struct exec_instance *inst = calloc(1, sizeof *inst);
    if (!inst || !(inst->argv_buf = strdup(cmd))) {
        free(inst);
        snprintf(err, errlen, "exec: out of memory");
        return NULL;
    }
    inst->timeout = timeout;
    int n = 0;
    for (char *save = NULL, *w = strtok_r(inst->argv_buf, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        if (n == MAX_ARGS) {
            snprintf(err, errlen, "exec: cmd has more than %d words", MAX_ARGS);
            goto fail;
        }
        inst->argv[n++] = w;
    }
    if (inst->argv[0][0] != '/') {
        snprintf(err, errlen, "exec: cmd '%s' must be an absolute path", inst->argv[0]);
        goto fail;
    }
    if (access(inst->argv[0], X_OK) != 0) {
        snprintf(err, errlen, "exec: cmd '%s' is not executable: %s", inst->argv[0], strerror(errno));
        goto fail;
    }
    return inst;
fail:
    free(inst->argv_buf);
    free(inst);
    return NULL;
}

static void exec_destroy(void *instance)
{
    struct exec_instance *inst = instance;
    if (!inst)
        return;
    free(inst->argv_buf);
    free(inst);
}

static double now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* environ plus the task's identity; strings in *extra, freed by the caller. */
static char **child_env(const struct qdeck_task *task, char extra[3][300])
{
    size_t n = 0;
    while (environ && environ[n])
        n++;
    char **env = malloc((n + 4) * sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "QDECK_TASK_ID=", 14) && strncmp(environ[i], "QDECK_TASK_TYPE=", 16) &&
            strncmp(environ[i], "QDECK_ATTEMPT=", 14))
            env[k++] = environ[i];
    snprintf(extra[0], 300, "QDECK_TASK_ID=%s", task->id ? task->id : "");
    snprintf(extra[1], 300, "QDECK_TASK_TYPE=%s", task->type ? task->type : "");
    snprintf(extra[2], 300, "QDECK_ATTEMPT=%d", task->attempt);
    env[k++] = extra[0];
    env[k++] = extra[1];
    env[k++] = extra[2];
    env[k] = NULL;
    return env;
}

/* Starts the child in its own session with stdin/stdout/stderr on the given
 * fds; its pid (= its pgid) in *pid. Returns 0 or an errno. */
static int spawn_child(const struct exec_instance *inst, char **env, int in_fd, int out_fd, int err_fd,
                       pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawn(pid, inst->argv[0], &fa, &attr, inst->argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return rc;
}

struct child_io {
    int in_fd, out_fd, err_fd;    /* our ends; -1 once closed */
    int pid_fd;                   /* readable when the child exits; -1: tick instead */
    const char *payload;
    size_t payload_len, written;
    char *out;
    size_t out_len, out_cap;
    bool out_overflow;
    char err_tail[STDERR_TAIL + 1];
    size_t err_len;
};

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static void keep_stderr(struct child_io *io, const char *buf, size_t n)
{
    if (n >= STDERR_TAIL) {
        memcpy(io->err_tail, buf + n - STDERR_TAIL, STDERR_TAIL);
        io->err_len = STDERR_TAIL;
    } else {
        size_t keep = io->err_len + n > STDERR_TAIL ? STDERR_TAIL - n : io->err_len;
        memmove(io->err_tail, io->err_tail + io->err_len - keep, keep);
        memcpy(io->err_tail + keep, buf, n);
        io->err_len = keep + n;
    }
    io->err_tail[io->err_len] = '\0';
}

static void keep_stdout(struct child_io *io, const char *buf, size_t n)
{
    if (io->out_overflow || io->out_len + n > MAX_STDOUT) {
        io->out_overflow = true;
        return;
    }
    if (io->out_len + n + 1 > io->out_cap) {
        size_t cap = io->out_cap ? io->out_cap * 2 : 4096;
        while (cap < io->out_len + n + 1)
            cap *= 2;
        char *p = realloc(io->out, cap);
        if (!p) {
            io->out_overflow = true;
            return;
        }
        io->out = p;
        io->out_cap = cap;
    }
    memcpy(io->out + io->out_len, buf, n);
    io->out_len += n;
    io->out[io->out_len] = '\0';
}

/* One round of I/O: waits up to wait_ms for any fd, moves what is ready. */
static void pump(struct child_io *io, int wait_ms)
{
    struct pollfd pfd[4];
    int n = 0;
    if (io->in_fd >= 0)
        pfd[n++] = (struct pollfd){.fd = io->in_fd, .events = POLLOUT};
    if (io->out_fd >= 0)
        pfd[n++] = (struct pollfd){.fd = io->out_fd, .events = POLLIN};
    if (io->err_fd >= 0)
        pfd[n++] = (struct pollfd){.fd = io->err_fd, .events = POLLIN};
    int nio = n;
    if (io->pid_fd >= 0)
        pfd[n++] = (struct pollfd){.fd = io->pid_fd, .events = POLLIN};
    if (poll(n ? pfd : NULL, (nfds_t)n, wait_ms) <= 0)
        return;
    for (int i = 0; i < nio; i++) {
        if (!pfd[i].revents)
            continue;
        char buf[65536];
        if (pfd[i].fd == io->in_fd) {
            ssize_t w = send(io->in_fd, io->payload + io->written, io->payload_len - io->written,
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (w > 0)
                io->written += (size_t)w;
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || io->written == io->payload_len)
                close_fd(&io->in_fd); /* all sent, or the child stopped reading */
        } else {
            ssize_t r = read(pfd[i].fd, buf, sizeof buf);
            if (r > 0 && pfd[i].fd == io->out_fd)
                keep_stdout(io, buf, (size_t)r);
            else if (r > 0)
                keep_stderr(io, buf, (size_t)r);
            else if (r == 0 || (errno != EAGAIN && errno != EINTR))
                close_fd(pfd[i].fd == io->out_fd ? &io->out_fd : &io->err_fd);
        }
    }
}

/* stdout as the result: itself when it is JSON, else a JSON string. */
static char *stdout_result(struct child_io *io)
{
    if (io->out_len == 0)
        return NULL;
    cJSON *doc = cJSON_ParseWithLength(io->out, io->out_len);
    if (!doc) {
        /* drop one trailing newline, as a shell's $(...) would */
        if (io->out[io->out_len - 1] == '\n')
            io->out[--io->out_len] = '\0';
        doc = cJSON_CreateString(io->out);
    }
    char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
    cJSON_Delete(doc);
    return text;
}

/* Single-line form of the stderr tail for an error message. */
static void flatten(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r' || *s == '\t')
            *s = ' ';
}

static void exec_run(void *instance, const struct qdeck_task *task, struct qdeck_result *res)
{
    const struct exec_instance *inst = instance;
    res->result = NULL;
    struct child_io io = {.in_fd = -1, .out_fd = -1, .err_fd = -1, .pid_fd = -1, .payload = task->payload ? task->payload : "",
                          .payload_len = task->payload ? task->payload_len : 0};
    int in_pair[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    char extra[3][300];
    char **env = NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
        pipe2(err_pipe, O_CLOEXEC) != 0 || !(env = child_env(task, extra))) {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "exec: cannot set up the child's pipes: %s", strerror(errno));
        goto out;
    }
    pid_t pid;
    int rc = spawn_child(inst, env, in_pair[1], out_pipe[1], err_pipe[1], &pid);
    close_fd(&in_pair[1]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);
    if (rc != 0) {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "exec: cannot start %s: %s", inst->argv[0], strerror(rc));
        goto out;
    }
    io.in_fd = in_pair[0];
    io.out_fd = out_pipe[0];
    io.err_fd = err_pipe[0];
    in_pair[0] = out_pipe[0] = err_pipe[0] = -1;
    io.pid_fd = pidfd_open(pid, 0);   /* wakes the loop the moment the child exits */
    if (io.payload_len == 0)
        close_fd(&io.in_fd);

    double start = now_monotonic();
    double limit = inst->timeout;
    if (task->deadline > 0) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        double left = task->deadline - ((double)wall.tv_sec + (double)wall.tv_nsec / 1e9);
        if (left < limit)
            limit = left > 0 ? left : 0;
    }
    int status = 0;
    const char *stopped = NULL;   /* why we killed it, or NULL */
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (task->cancelled && atomic_load(task->cancelled))
            stopped = "cancelled";
        else if (now_monotonic() - start >= limit)
            stopped = "timed out";
        if (stopped) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            break;
        }
        pump(&io, TICK_MS);
    }
    /* the child is reaped; what is left of its group goes too, and then every
     * writer of our pipes is gone and reading them to EOF ends at once (a
     * grandchild that escaped the group could hold them open: 1 s at most) */
    kill(-pid, SIGKILL);
    close_fd(&io.in_fd);
    close_fd(&io.pid_fd);
    double drain_end = now_monotonic() + 1.0;
    while ((io.out_fd >= 0 || io.err_fd >= 0) && now_monotonic() < drain_end)
        pump(&io, 50);
    flatten(io.err_tail);

    if (stopped) {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "exec: %s after %.1f s, process group %d killed", stopped,
                 now_monotonic() - start, (int)pid);
    } else if (WIFSIGNALED(status)) {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "exec: killed by signal %d%s%s", WTERMSIG(status),
                 io.err_len ? ": " : "", io.err_tail);
    } else if (WEXITSTATUS(status) == EXIT_PERMANENT) {
        res->outcome = QDECK_FAIL;
        snprintf(res->error, sizeof res->error, "exec: exit 3 (permanent failure)%s%s", io.err_len ? ": " : "",
                 io.err_tail);
    } else if (WEXITSTATUS(status) != 0) {
        res->outcome = QDECK_RETRY;
        snprintf(res->error, sizeof res->error, "exec: exit %d%s%s", WEXITSTATUS(status), io.err_len ? ": " : "",
                 io.err_tail);
    } else if (io.out_overflow) {
        res->outcome = QDECK_FAIL;
        snprintf(res->error, sizeof res->error, "exec: output larger than %u bytes", MAX_STDOUT);
    } else {
        res->outcome = QDECK_OK;
        res->result = stdout_result(&io);
    }
out:
    for (int i = 0; i < 2; i++) {
        close_fd(&in_pair[i]);
        close_fd(&out_pipe[i]);
        close_fd(&err_pipe[i]);
    }
    close_fd(&io.in_fd);
    close_fd(&io.out_fd);
    close_fd(&io.err_fd);
    close_fd(&io.pid_fd);
    free(io.out);
    free(env);
}

static const struct qdeck_plugin exec_plugin = {
    .abi = QDECK_PLUGIN_ABI,
    .size = sizeof(struct qdeck_plugin),
    .name = "exec",
    .version = "1",
    .create = exec_create,
    .destroy = exec_destroy,
    .run = exec_run,
};

const struct qdeck_plugin *qdeck_plugin_entry(void);
const struct qdeck_plugin *qdeck_plugin_entry(void)
{
    return &exec_plugin;
}
