/* The one per-message replay decision every backend shares: the message a
 * replay sends (replay counter + 1, attempts restarted, --set edits and an
 * edited body applied), what is skipped or refused and why, and what a dry
 * run only counts; and the pacing of --rate. The backends only move what
 * dlq_replay_decide says to send. */
#include "dlq/dlq.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/xalloc.h"
#include "dlq/amqp-table.h"
#include "dlq/bytes.h"

/* value text → JSON: itself when it parses, else a string */
static cJSON *set_value(const char *text)
{
    cJSON *v = cJSON_Parse(text);
    return v ? v : cJSON_CreateString(text);
}

/* Sets a dotted path (numeric parts index arrays) inside root, creating
 * objects on the way. -1 when the path crosses a scalar. */
static int json_set_path(cJSON *root, const char *path, cJSON *value)
{
    char *copy = xstrdup(path), *save = NULL;
    cJSON *node = root;
    char *part = strtok_r(copy, ".", &save);
    while (part) {
        char *next = strtok_r(NULL, ".", &save);
        cJSON *child = NULL;
        if (cJSON_IsArray(node)) {
            char *end;
            long idx = strtol(part, &end, 10);
            if (*end || idx < 0 || idx >= cJSON_GetArraySize(node))
                break;
            child = cJSON_GetArrayItem(node, (int)idx);
            if (!next) {
                cJSON_ReplaceItemInArray(node, (int)idx, value);
                free(copy);
                return 0;
            }
        } else if (cJSON_IsObject(node)) {
            child = cJSON_GetObjectItemCaseSensitive(node, part);
            if (!next) {
                if (child)
                    cJSON_ReplaceItemInObjectCaseSensitive(node, part, value);
                else
                    cJSON_AddItemToObject(node, part, value);
                free(copy);
                return 0;
            }
            if (!child)
                child = cJSON_AddObjectToObject(node, part);
        } else {
            break;
        }
        node = child;
        part = next;
    }
    free(copy);
    cJSON_Delete(value);
    return -1;
}

static amqp_field_value_t header_value(const char *text)
{
    amqp_field_value_t v = {0};
    char *end;
    long long n = strtoll(text, &end, 10);
    if (*text && !*end) {
        v.kind = AMQP_FIELD_KIND_I64;
        v.value.i64 = n;
    } else if (!strcmp(text, "true") || !strcmp(text, "false")) {
        v.kind = AMQP_FIELD_KIND_BOOLEAN;
        v.value.boolean = text[0] == 't';
    } else {
        v.kind = AMQP_FIELD_KIND_UTF8;
        v.value.bytes = amqp_cstring_bytes(text);
    }
    return v;
}

static void stream_set_field(struct dlq_message *m, const char *name, const char *value, size_t vlen)
{
    size_t nlen = strlen(name);
    for (size_t i = 0; i < m->nfields; i++)
        if (m->fields[i].name.len == nlen && memcmp(m->fields[i].name.data, name, nlen) == 0) {
            dlq_bytes_set(&m->fields[i].value, value, vlen);
            return;
        }
    m->fields = xrealloc(m->fields, (m->nfields + 1) * sizeof *m->fields);
    memset(&m->fields[m->nfields], 0, sizeof m->fields[0]);
    dlq_bytes_set(&m->fields[m->nfields].name, name, nlen);
    dlq_bytes_set(&m->fields[m->nfields].value, value, vlen);
    m->nfields++;
}

static int replay_fail(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int replay_fail(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

int dlq_prepare_replay(const struct dlq *d, const struct dlq_replay *r, const struct dlq_message *m,
                       struct dlq_message **out, char *target, size_t tlen, char *why, size_t whylen)
{
    *out = NULL;
    const char *to = r->to && *r->to ? r->to : m->info.original_queue;
    if (!*to) {
        snprintf(why, whylen, "no original queue known (give --to)");
        return 1;
    }
    if (strcmp(to, d->addr.name) == 0) {
        snprintf(why, whylen, "its original queue is the DLQ itself (give --to)");
        return 1;
    }
    snprintf(target, tlen, "%s", to);

    struct dlq_message *c = dlq_message_clone(m);
    bool body_json = m->info.format == ENVELOPE_QDECK || m->info.format == ENVELOPE_JSON ||
                     m->info.format == ENVELOPE_CELERY;
    if (r->body && r->body->set) {
        /* an edited body: JSON stays JSON */
        cJSON *edited = body_json ? cJSON_ParseWithLength(r->body->data, r->body->len) : NULL;
        if (body_json && !edited) {
            dlq_message_free(c);
            return replay_fail(why, whylen, "the edited body is not valid JSON (the original was): not replayed");
        }
        cJSON_Delete(edited);
        dlq_bytes_set(&c->body, r->body->data, r->body->len);
        if (c->stream_id && c->body_field >= 0)
            dlq_bytes_set(&c->fields[c->body_field].value, r->body->data, r->body->len);
    }
    /* a body the worker could not parse was dead-lettered wrapped, its bytes
     * in raw_base64: the replay sends those bytes, as they first arrived */
    if (!(r->body && r->body->set) && m->info.format == ENVELOPE_JSON) {
        cJSON *wrap = cJSON_ParseWithLength(c->body.data, c->body.len);
        const cJSON *raw = cJSON_GetObjectItemCaseSensitive(wrap, "raw_base64");
        char *bytes = NULL;
        size_t n = 0;
        if (cJSON_IsString(raw) && cJSON_GetObjectItemCaseSensitive(wrap, "dead_reason") &&
            dlq_base64_decode(raw->valuestring, &bytes, &n) == 0) {
            dlq_bytes_set(&c->body, bytes, n);
            if (c->stream_id && c->body_field >= 0)
                dlq_bytes_set(&c->fields[c->body_field].value, bytes, n);
            body_json = false;
        }
        free(bytes);
        cJSON_Delete(wrap);
    }
    cJSON *body = body_json ? cJSON_ParseWithLength(c->body.data, c->body.len) : NULL;
    bool body_changed = false;
    long replays = m->info.replays + 1;

    if (body && m->info.format == ENVELOPE_QDECK) {
        /* attempts restart; the envelope counts replays for Redis, where
         * there are no headers */
        if (cJSON_GetObjectItemCaseSensitive(body, "attempt"))
            cJSON_ReplaceItemInObjectCaseSensitive(body, "attempt", cJSON_CreateNumber(0));
        if (!m->props) {
            if (cJSON_GetObjectItemCaseSensitive(body, "replays"))
                cJSON_ReplaceItemInObjectCaseSensitive(body, "replays", cJSON_CreateNumber((double)replays));
            else
                cJSON_AddNumberToObject(body, "replays", (double)replays);
        }
        body_changed = true;
    }
    for (size_t i = 0; i < r->nsets; i++) {
        const char *eq = strchr(r->sets[i], '=');
        if (!eq || eq == r->sets[i]) {
            cJSON_Delete(body);
            dlq_message_free(c);
            return replay_fail(why, whylen, "--set wants key=value, got '%s'", r->sets[i]);
        }
        char *key = xstrndup(r->sets[i], (size_t)(eq - r->sets[i]));
        const char *value = eq + 1;
        int rc = 0;
        if (strncmp(key, "header:", 7) == 0) {
            if (m->props) {
                if (dlq_table_set(&c->props->headers, key + 7, header_value(value)) < 0)
                    rc = replay_fail(why, whylen, "--set %s: the message's headers are not a valid AMQP table", key);
            } else if (m->stream_id) {
                stream_set_field(c, key + 7, value, strlen(value));
            } else {
                rc = replay_fail(why, whylen, "a Redis list item has no headers: --set %s cannot apply", key);
            }
        } else if (!body) {
            rc = replay_fail(why, whylen, "the body is not JSON: --set can only change header:KEY here");
        } else {
            rc = json_set_path(body, key, set_value(value));
            if (rc < 0)
                replay_fail(why, whylen, "--set %s: the path crosses a value that is not an object", key);
            body_changed = true;
        }
        free(key);
        if (rc < 0) {
            cJSON_Delete(body);
            dlq_message_free(c);
            return -1;
        }
    }
    if (body && body_changed) {
        char *text = cJSON_PrintUnformatted(body);
        dlq_bytes_set(&c->body, text, strlen(text));
        if (c->stream_id && c->body_field >= 0)
            dlq_bytes_set(&c->fields[c->body_field].value, text, strlen(text));
        cJSON_free(text);
    }
    cJSON_Delete(body);

    if (c->props) {
        amqp_field_value_t v = {.kind = AMQP_FIELD_KIND_I64};
        v.value.i64 = replays;
        dlq_table_set(&c->props->headers, "x-qdeck-replays", v);
        amqp_pool_t pool;
        init_amqp_pool(&pool, 1024);
        amqp_table_t t;
        bool has_attempts = dlq_table_decode(&c->props->headers, &pool, &t) == 0 &&
                            dlq_table_get(&t, "x-qdeck-attempts");
        empty_amqp_pool(&pool);
        if (has_attempts) {
            v.value.i64 = 0;
            dlq_table_set(&c->props->headers, "x-qdeck-attempts", v);
        }
    } else if (c->stream_id) {
        char n[32];
        snprintf(n, sizeof n, "%ld", replays);
        stream_set_field(c, "x-qdeck-replays", n, strlen(n));
    }
    *out = c;
    return 0;
}

int dlq_replay_decide(const struct dlq *d, const struct dlq_replay *rq, const struct dlq_message *m,
                      struct dlq_message **sent, char *target, size_t tlen, struct dlq_tally *t)
{
    char why[256];
    int prc = dlq_prepare_replay(d, rq, m, sent, target, tlen, why, sizeof why);
    if (prc != 0) {
        if (prc > 0)
            t->skipped++;
        else
            t->failed++;
        if (prc < 0 && !t->first_error[0])
            snprintf(t->first_error, sizeof t->first_error, "%s", why);
        if (rq->each)
            rq->each(rq->arg, m, NULL, why);
        return 0;
    }
    if (rq->dry_run) {
        t->moved++;
        if (rq->each)
            rq->each(rq->arg, m, target, "would move");
        dlq_message_free(*sent);
        *sent = NULL;
        return 0;
    }
    return 1;
}

/* ---- pacing ---- */

void dlq_pacer_init(struct dlq_pacer *p, double rate)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    p->rate = rate;
    p->started = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    p->sent = 0;
}

void dlq_pace(struct dlq_pacer *p)
{
    if (p->rate <= 0)
        return;
    double due = p->started + (double)p->sent / p->rate;
    p->sent++;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double wait = due - ((double)ts.tv_sec + ts.tv_nsec / 1e9);
    if (wait > 0) {
        struct timespec w = {.tv_sec = (time_t)wait, .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9)};
        nanosleep(&w, NULL);
    }
}
