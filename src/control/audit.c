/* Audit records: one JSON object per line in a local file, opened with
 * O_APPEND and written with a single write(2) so concurrent qdeck processes
 * never interleave a line; and the same fields as one XADD entry on the
 * qdeck:audit stream, capped at about 100,000 entries. */
#include "control/audit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/identity.h"
#include "core/xalloc.h"

char *audit_log_path(const struct config *cfg)
{
    if (cfg && cfg->audit_log && *cfg->audit_log)
        return xstrdup(cfg->audit_log);
    const char *state = getenv("XDG_STATE_HOME");
    if (state && *state)
        return xasprintf("%s/qdeck/audit.jsonl", state);
    const char *home = getenv("HOME");
    return xasprintf("%s/.local/state/qdeck/audit.jsonl", home && *home ? home : "/tmp");
}

static void make_parent_dirs(const char *path)
{
    char *dir = xstrdup(path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        mkdir(dir, 0700);
        *p = '/';
    }
    free(dir);
}

int audit_record(const struct config *cfg, const char *context, redisContext *redis,
                 const struct audit_entry *e, char *err, size_t errlen)
{
    char when[40], user[128], host[256];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);
    identity_user(user, sizeof user);
    identity_host(host, sizeof host);

    const char *fields[][2] = {
        {"time", when}, {"user", user}, {"host", host}, {"context", context ? context : ""},
        {"action", e->action}, {"target", e->target ? e->target : ""},
        {"old", e->old_value}, {"new", e->new_value}, {"result", e->result ? e->result : ""},
    };
    const size_t nfields = sizeof fields / sizeof fields[0];
    int rc = 0;
    if (err && errlen)
        err[0] = '\0';

    cJSON *obj = cJSON_CreateObject();
    for (size_t i = 0; i < nfields; i++)
        if (fields[i][1])
            cJSON_AddStringToObject(obj, fields[i][0], fields[i][1]);
        else
            cJSON_AddNullToObject(obj, fields[i][0]);
    char *json = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    char *line = xasprintf("%s\n", json);
    cJSON_free(json);

    char *path = audit_log_path(cfg);
    make_parent_dirs(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
        if (err)
            snprintf(err, errlen, "audit log %s: %s", path, strerror(errno));
        rc = -1;
    }
    if (fd >= 0)
        close(fd);
    free(path);
    free(line);

    if (redis) {
        const char *cmd[6 + 2 * 9];
        size_t k = 0;
        cmd[k++] = "XADD";
        cmd[k++] = AUDIT_STREAM;
        cmd[k++] = "MAXLEN";
        cmd[k++] = "~";
        cmd[k++] = "100000";
        cmd[k++] = "*";
        for (size_t i = 0; i < nfields; i++) {
            cmd[k++] = fields[i][0];
            cmd[k++] = fields[i][1] ? fields[i][1] : "";
        }
        redisReply *r = redisCommandArgv(redis, (int)k, cmd, NULL);
        if (!r || r->type == REDIS_REPLY_ERROR) {
            if (err && rc == 0)
                snprintf(err, errlen, "audit stream %s: %s", AUDIT_STREAM,
                         r ? r->str : (redis->errstr[0] ? redis->errstr : "no reply"));
            rc = -1;
        }
        if (r)
            freeReplyObject(r);
    }
    return rc;
}
