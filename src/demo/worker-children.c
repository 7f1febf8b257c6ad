/* The demo's child workers (see worker-children.h). */
#include "demo/worker-children.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int worker_children_start(struct worker_children *wc, const char *dir, const char *redis_url,
                          const char *config_text, char *err, size_t errlen)
{
    memset(wc, 0, sizeof *wc);
    snprintf(wc->conf, sizeof wc->conf, "%s/workers.conf", dir);
    int fd = open(wc->conf, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        snprintf(err, errlen, "demo: cannot write %s: %s", wc->conf, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fprintf(f, "[context demo]\nredis = %s\n%s", redis_url, config_text);
    if (fclose(f) != 0) {
        snprintf(err, errlen, "demo: cannot write %s", wc->conf);
        return -1;
    }
    pid_t parent = getpid();
    for (size_t i = 0; i < DEMO_CHILD_WORKERS; i++) {
        char log[200];
        snprintf(log, sizeof log, "%s/worker-%zu.log", dir, i + 1);
        pid_t pid = fork();
        if (pid < 0) {
            snprintf(err, errlen, "demo: cannot start a child worker: %s", strerror(errno));
            return -1;
        }
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            if (getppid() != parent)
                _exit(1);
            int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            int in = open("/dev/null", O_RDONLY);
            if (out >= 0) {
                dup2(out, STDOUT_FILENO);
                dup2(out, STDERR_FILENO);
            }
            if (in >= 0)
                dup2(in, STDIN_FILENO);
            execl("/proc/self/exe", "qdeck", "--config", wc->conf, "worker", (char *)NULL);
            _exit(127);
        }
        wc->pids[wc->n++] = pid;
    }
    return 0;
}

void worker_children_stop(struct worker_children *wc)
{
    for (size_t i = 0; i < wc->n; i++)
        kill(wc->pids[i], SIGTERM);
    struct timespec nap = {0, 50 * 1000 * 1000};
    for (size_t i = 0; i < wc->n; i++) {
        int waited = 0;
        while (waitpid(wc->pids[i], NULL, WNOHANG) == 0) {
            if (waited++ == 100) {          /* 5 s: it did not drain, stop it */
                kill(wc->pids[i], SIGKILL);
                waitpid(wc->pids[i], NULL, 0);
                break;
            }
            nanosleep(&nap, NULL);
        }
    }
    wc->n = 0;
    if (wc->conf[0])
        unlink(wc->conf);
}
