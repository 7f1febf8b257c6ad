/* Tasks: envelope parsing (cJSON), annotated copies for retries and DLQs,
 * and new envelopes for `qdeck publish`. See task.h.
 *
 * Envelope attempt counts the runs already made: a fresh task has attempt 0,
 * its first run is attempt 1 (what the handler sees), and the copy sent to a
 * retry or a DLQ carries the attempts made so far. */
#include "worker/task.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/envelope.h"
#include "core/xalloc.h"

static const char *json_string(const cJSON *obj, const char *key)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double json_number(const cJSON *obj, const char *key, double fallback)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(j) ? j->valuedouble : fallback;
}

/* An integer field, clamped to +-1e9 so that a huge value keeps its sense
 * (too many attempts, no limit, top priority) without overflowing an int. */
static int json_int(const cJSON *obj, const char *key, int fallback)
{
    double d = json_number(obj, key, fallback);
    return d > 1e9 ? 1000000000 : d < -1e9 ? -1000000000 : (int)d;
}

static bool has_nul(const char *s, size_t len) { return memchr(s, '\0', len) != NULL; }

static void parse_envelope(struct task *t, int default_max_attempts)
{
    if (t->len > TASK_MAX_BODY) {
        t->poison = "poison";
        snprintf(t->error, sizeof t->error, "body of %zu bytes is larger than the %u-byte limit", t->len,
                 TASK_MAX_BODY);
        return;
    }
    cJSON *env = has_nul(t->body, t->len) ? NULL : cJSON_ParseWithLength(t->body, t->len);
    if (!cJSON_IsObject(env)) {
        cJSON_Delete(env);
        t->poison = "poison";
        struct envelope_info info;
        envelope_inspect(t->body, t->len < 65536 ? t->len : 65536, &info);
        snprintf(t->error, sizeof t->error, "body is not a JSON task envelope (%s, %zu bytes)",
                 envelope_format_name(info.format), t->len);
        return;
    }
    t->env = env;
    const char *id = json_string(env, "id");
    if (id)
        snprintf(t->id, sizeof t->id, "%s", id);
    const char *type = json_string(env, "type");
    if (!type || !*type) {
        t->poison = "poison";
        snprintf(t->error, sizeof t->error, "envelope has no \"type\"");
        return;
    }
    snprintf(t->type, sizeof t->type, "%s", type);
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(env, "payload");
    t->payload = payload ? cJSON_PrintUnformatted(payload) : xstrdup("null");
    if (!t->payload)
        t->payload = xstrdup("null");
    t->attempt = json_int(env, "attempt", 0) + 1;
    if (t->attempt < 1)
        t->attempt = 1;
    t->max_attempts = json_int(env, "max_attempts", 0);
    if (t->max_attempts <= 0)
        t->max_attempts = default_max_attempts;
    t->priority = json_int(env, "priority", 0);
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(env, "created_at");
    double c = cJSON_IsString(created) ? envelope_parse_time(created->valuestring)
               : cJSON_IsNumber(created) ? (created->valuedouble > 1e12 ? created->valuedouble / 1000
                                                                          : created->valuedouble)
                                         : NAN;
    t->created_at = isnan(c) ? 0 : c;
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(env, "deadline");
    double d = cJSON_IsString(dl) ? envelope_parse_time(dl->valuestring) : cJSON_IsNumber(dl) ? dl->valuedouble : NAN;
    t->deadline = isnan(d) ? 0 : d;
    const char *key = json_string(env, "idempotency_key");
    snprintf(t->idem_key, sizeof t->idem_key, "%s", key && *key ? key : t->id);
}

struct task *task_new(struct consumer *c, const char *body, size_t len, int default_max_attempts)
{
    struct task *t = xcalloc(1, sizeof *t);
    t->consumer = c;
    t->body = xmalloc(len + 1);
    memcpy(t->body, body, len);
    t->body[len] = '\0';
    t->len = len;
    t->max_attempts = default_max_attempts;
    t->attempt = 1;
    t->queue_depth = -1;
    atomic_init(&t->refs, 1);
    atomic_init(&t->state, TASK_QUEUED);
    parse_envelope(t, default_max_attempts);
    if (!t->id[0]) {
        struct envelope_info info;
        envelope_inspect(t->body, t->len < 65536 ? t->len : 65536, &info);
        snprintf(t->id, sizeof t->id, "%s", info.identity);
    }
    if (!t->idem_key[0])
        snprintf(t->idem_key, sizeof t->idem_key, "%s", t->id);
    return t;
}

void task_unref(struct task *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    cJSON_Delete(t->env);
    free(t->body);
    free(t->payload);
    free(t->entry_id);
    free(t->result.result);
    free(t);
}

double task_dead_at_ms(void)
{
    return floor(clock_wall() * 1000);
}

void task_annotated_body(const struct task *t, bool dead, char **out, size_t *outlen)
{
    if (!t->env) {
        *out = xmalloc(t->len + 1);
        memcpy(*out, t->body, t->len + 1);
        *outlen = t->len;
        return;
    }
    cJSON *copy = cJSON_Duplicate(t->env, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "attempt");
    cJSON_AddNumberToObject(copy, "attempt", t->attempt);
    cJSON_DeleteItemFromObjectCaseSensitive(copy, "last_error");
    cJSON_AddStringToObject(copy, "last_error", t->error);
    if (dead) {
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "dead_reason");
        cJSON_AddStringToObject(copy, "dead_reason", t->dead_reason ? t->dead_reason : "failed");
        /* every death its own mark: a replay tells this death from a copy
         * of an earlier one left by a crash (src/dlq/journal.c) */
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "dead_at");
        cJSON_AddNumberToObject(copy, "dead_at", task_dead_at_ms());
    }
    char *text = cJSON_PrintUnformatted(copy);
    cJSON_Delete(copy);
    if (!text)
        text = xstrndup(t->body, t->len);
    *out = text;
    *outlen = strlen(text);
}

static char *base64(const char *data, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;
    const unsigned char *p = (const unsigned char *)data;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        *o++ = tbl[p[i] >> 2];
        *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
        *o++ = tbl[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
        *o++ = tbl[p[i + 2] & 63];
    }
    if (i < len) {
        *o++ = tbl[p[i] >> 2];
        if (i + 1 < len) {
            *o++ = tbl[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
            *o++ = tbl[(p[i + 1] & 15) << 2];
        } else {
            *o++ = tbl[(p[i] & 3) << 4];
            *o++ = '=';
        }
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

void task_dead_item(const struct task *t, const char *queue, char **out, size_t *outlen)
{
    if (t->env) {
        task_annotated_body(t, true, out, outlen);
        return;
    }
    cJSON *w = cJSON_CreateObject();
    cJSON_AddStringToObject(w, "dead_reason", t->dead_reason ? t->dead_reason : "failed");
    cJSON_AddStringToObject(w, "last_error", t->error);
    cJSON_AddNumberToObject(w, "attempt", t->attempt);
    cJSON_AddStringToObject(w, "original_queue", queue);
    cJSON_AddNumberToObject(w, "dead_at", task_dead_at_ms());
    char *b64 = base64(t->body, t->len);
    cJSON_AddStringToObject(w, "raw_base64", b64);
    free(b64);
    char *text = cJSON_PrintUnformatted(w);
    cJSON_Delete(w);
    *out = text ? text : xstrdup("{}");
    *outlen = strlen(*out);
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void task_uuid(char *out)
{
    static _Thread_local uint64_t state;
    static _Thread_local bool seeded;
    if (!seeded) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, &state, sizeof state) != (ssize_t)sizeof state) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            state = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid() << 40;
        }
        if (fd >= 0)
            close(fd);
        seeded = true;
    }
    uint64_t a = splitmix(&state), b = splitmix(&state);
    a = (a & ~0xf000ull) | 0x4000ull;                      /* version 4 */
    b = (b & 0x3fffffffffffffffull) | 0x8000000000000000ull;  /* variant 10 */
    snprintf(out, 37, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(a >> 32), (unsigned)(a >> 16) & 0xffff,
             (unsigned)a & 0xffff, (unsigned)(b >> 48), (unsigned long long)(b & 0xffffffffffffull));
}

static void iso_time(double t, char *out, size_t len)
{
    time_t sec = (time_t)t;
    struct tm tm;
    gmtime_r(&sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", base, (int)((t - (double)sec) * 1000));
}

char *envelope_build(const char *type, const char *payload_json, int priority, int max_attempts,
                     double deadline, const char *idempotency_key, char *id_out)
{
    task_uuid(id_out);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char created[40];
    iso_time((double)ts.tv_sec + ts.tv_nsec / 1e9, created, sizeof created);
    cJSON *env = cJSON_CreateObject();
    cJSON_AddStringToObject(env, "id", id_out);
    cJSON_AddStringToObject(env, "type", type);
    cJSON *payload = payload_json ? cJSON_Parse(payload_json) : NULL;
    cJSON_AddItemToObject(env, "payload", payload ? payload : cJSON_CreateObject());
    cJSON_AddNumberToObject(env, "attempt", 0);
    cJSON_AddNumberToObject(env, "max_attempts", max_attempts);
    cJSON_AddNumberToObject(env, "priority", priority);
    cJSON_AddStringToObject(env, "created_at", created);
    cJSON_AddStringToObject(env, "idempotency_key", idempotency_key && *idempotency_key ? idempotency_key : id_out);
    if (deadline > 0) {
        char dl[40];
        iso_time(deadline, dl, sizeof dl);
        cJSON_AddStringToObject(env, "deadline", dl);
    } else {
        cJSON_AddNullToObject(env, "deadline");
    }
    char *text = cJSON_PrintUnformatted(env);
    cJSON_Delete(env);
    if (!text)
        text = xstrdup("{}");
    return text;
}
