/* Parsing Celery's event bodies and kombu's Redis envelope (see the
 * header). cJSON reads the JSON, OpenSSL's EVP_DecodeBlock the base64; this
 * file only maps fields. */
#include "celery/event.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"

static const char *const type_names[] = {
    [CELERY_WORKER_ONLINE] = "worker-online",     [CELERY_WORKER_HEARTBEAT] = "worker-heartbeat",
    [CELERY_WORKER_OFFLINE] = "worker-offline",   [CELERY_TASK_SENT] = "task-sent",
    [CELERY_TASK_RECEIVED] = "task-received",     [CELERY_TASK_STARTED] = "task-started",
    [CELERY_TASK_SUCCEEDED] = "task-succeeded",   [CELERY_TASK_FAILED] = "task-failed",
    [CELERY_TASK_RETRIED] = "task-retried",       [CELERY_TASK_REJECTED] = "task-rejected",
    [CELERY_TASK_REVOKED] = "task-revoked",       [CELERY_EVENT_OTHER] = "other",
};

const char *celery_event_type_name(enum celery_event_type t)
{
    return t <= CELERY_EVENT_OTHER ? type_names[t] : "?";
}

static enum celery_event_type type_of(const char *s)
{
    for (int t = 0; t < CELERY_EVENT_OTHER; t++)
        if (strcmp(s, type_names[t]) == 0)
            return (enum celery_event_type)t;
    return CELERY_EVENT_OTHER;
}

static const char *str(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsString(v) && v->valuestring ? v->valuestring : "";
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) ? v->valuedouble : NAN;
}

static long count(const cJSON *o, const char *name)
{
    double d = num(o, name);
    return d >= 0 && d < 9.0e15 ? (long)d : -1;
}

/* false when o is not an event (no string "type"). */
static bool event_from(const cJSON *o, struct celery_event *ev)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsObject(o) || !cJSON_IsString(type) || !type->valuestring)
        return false;
    memset(ev, 0, sizeof *ev);
    ev->type_name = type->valuestring;
    ev->type = type_of(type->valuestring);
    ev->hostname = str(o, "hostname");
    ev->uuid = str(o, "uuid");
    ev->name = str(o, "name");
    ev->exception = str(o, "exception");
    ev->sw_ver = str(o, "sw_ver");
    ev->sw_ident = str(o, "sw_ident");
    ev->queue = str(o, "queue");
    if (!ev->queue[0])
        ev->queue = str(o, "routing_key");
    ev->timestamp = num(o, "timestamp");
    ev->utcoffset = num(o, "utcoffset");
    if (isnan(ev->utcoffset))
        ev->utcoffset = 0;
    ev->runtime = num(o, "runtime");
    ev->freq = num(o, "freq");
    ev->pid = count(o, "pid");
    ev->active = count(o, "active");
    ev->processed = count(o, "processed");
    const cJSON *load = cJSON_GetObjectItemCaseSensitive(o, "loadavg");
    for (int i = 0; i < 3; i++) {
        const cJSON *v = cJSON_IsArray(load) ? cJSON_GetArrayItem(load, i) : NULL;
        ev->loadavg[i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    const cJSON *term = cJSON_GetObjectItemCaseSensitive(o, "terminated");
    ev->terminated = cJSON_IsTrue(term);
    return true;
}

int celery_events_parse(const char *body, size_t len, celery_event_fn fn, void *arg, size_t *skipped, char *err,
                        size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!root || !(cJSON_IsObject(root) || cJSON_IsArray(root))) {
        snprintf(err, errlen, "celery event: %s", root ? "body is neither an object nor a list" : "body is not JSON");
        cJSON_Delete(root);
        return -1;
    }
    int n = 0;
    struct celery_event ev;
    if (cJSON_IsObject(root)) {
        if (event_from(root, &ev)) {
            fn(&ev, arg);
            n = 1;
        } else if (skipped) {
            (*skipped)++;
        }
    } else {
        const cJSON *item;
        cJSON_ArrayForEach(item, root) {
            if (event_from(item, &ev)) {
                fn(&ev, arg);
                n++;
            } else if (skipped) {
                (*skipped)++;
            }
        }
    }
    cJSON_Delete(root);
    return n;
}

int celery_base64_decode(const char *text, size_t len, char **out, size_t *outlen)
{
    while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
        len--;
    if (len % 4 != 0 || len > (size_t)1 << 30)
        return -1;
    unsigned char *buf = xmalloc(len / 4 * 3 + 1);
    int n = len ? EVP_DecodeBlock(buf, (const unsigned char *)text, (int)len) : 0;
    if (n < 0) {
        free(buf);
        return -1;
    }
    /* EVP_DecodeBlock counts the padding as zero bytes */
    if (len && text[len - 1] == '=')
        n--;
    if (len > 1 && text[len - 2] == '=')
        n--;
    buf[n] = '\0';
    *out = (char *)buf;
    *outlen = (size_t)n;
    return 0;
}

int celery_redis_unwrap(const char *msg, size_t len, char **out, size_t *outlen, char *err, size_t errlen)
{
    cJSON *o = cJSON_ParseWithLength(msg, len);
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body");
    if (!cJSON_IsObject(o) || !cJSON_IsString(body) || !body->valuestring) {
        snprintf(err, errlen, "celery event: not a kombu envelope (no string \"body\")");
        cJSON_Delete(o);
        return -1;
    }
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(o, "properties");
    const cJSON *enc = cJSON_GetObjectItemCaseSensitive(props, "body_encoding");
    int rc = 0;
    if (cJSON_IsString(enc) && strcmp(enc->valuestring, "base64") == 0) {
        if (celery_base64_decode(body->valuestring, strlen(body->valuestring), out, outlen) < 0) {
            snprintf(err, errlen, "celery event: the envelope's body is not valid base64");
            rc = -1;
        }
    } else {
        *out = xstrdup(body->valuestring);
        *outlen = strlen(*out);
    }
    cJSON_Delete(o);
    return rc;
}
