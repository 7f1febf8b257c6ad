/* A private redis-server for the demo: a child process on a unix socket in
 * a fresh temp directory, no persistence, killed with its parent
 * (PR_SET_PDEATHSIG) and stopped by its own pid. */
#ifndef QDECK_REDIS_CHILD_H
#define QDECK_REDIS_CHILD_H

#include <sys/types.h>

struct redis_child {
    pid_t pid;
    char dir[64];
    char socket_path[96];
    char url[128];          /* unix:///.../redis.sock */
};

/* 0 when the server answers on its socket; -1 with a reason. */
int redis_child_start(struct redis_child *rc, char *err, size_t errlen);
void redis_child_stop(struct redis_child *rc);

#endif
