/* Dead messages as an operator reads them: where they came from and why
 * they died, decoded from RabbitMQ's x-death and x-first/last-death
 * headers, qdeck's own x-qdeck-* headers and task envelope, and Celery's
 * protocol-v2 headers; the result-store record when there is one. Also the
 * selection (--id / --grep). What a replay sends is derived in replay.c. */
#include "dlq/dlq.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "control/keys.h"
#include "core/address.h"
#include "core/clock.h"
#include "core/xalloc.h"
#include "dlq/amqp-table.h"
#include "dlq/bytes.h"

/* ---- messages ---- */

#define PROPS_STRINGS(X) X(content_type) X(content_encoding) X(correlation_id) X(reply_to) X(expiration) \
    X(message_id) X(type) X(user_id) X(app_id) X(cluster_id) X(headers) X(exchange) X(routing_key)

static void info_free(struct dlq_info *i)
{
    free(i->last_error);
    free(i->celery_argsrepr);
    free(i->celery_kwargsrepr);
    cJSON_Delete(i->result);
    memset(i, 0, sizeof *i);
}

void dlq_message_free(struct dlq_message *m)
{
    if (!m)
        return;
    dlq_bytes_free(&m->body);
    if (m->props) {
#define FREE_BYTES(f) dlq_bytes_free(&m->props->f);
        PROPS_STRINGS(FREE_BYTES)
#undef FREE_BYTES
        free(m->props);
    }
    free(m->stream_id);
    for (size_t i = 0; i < m->nfields; i++) {
        dlq_bytes_free(&m->fields[i].name);
        dlq_bytes_free(&m->fields[i].value);
    }
    free(m->fields);
    info_free(&m->info);
    free(m);
}

struct dlq_message *dlq_message_clone(const struct dlq_message *m)
{
    struct dlq_message *c = xcalloc(1, sizeof *c);
    c->position = m->position;
    dlq_bytes_copy(&c->body, &m->body);
    if (m->props) {
        c->props = xcalloc(1, sizeof *c->props);
        *c->props = *m->props;
#define COPY_BYTES(f) dlq_bytes_copy(&c->props->f, &m->props->f);
        PROPS_STRINGS(COPY_BYTES)
#undef COPY_BYTES
    }
    c->stream_id = m->stream_id ? xstrdup(m->stream_id) : NULL;
    c->nfields = m->nfields;
    c->fields = m->nfields ? xcalloc(m->nfields, sizeof *c->fields) : NULL;
    for (size_t i = 0; i < m->nfields; i++) {
        dlq_bytes_copy(&c->fields[i].name, &m->fields[i].name);
        dlq_bytes_copy(&c->fields[i].value, &m->fields[i].value);
    }
    c->body_field = m->body_field;
    c->info = m->info;
    c->info.last_error = m->info.last_error ? xstrdup(m->info.last_error) : NULL;
    c->info.celery_argsrepr = m->info.celery_argsrepr ? xstrdup(m->info.celery_argsrepr) : NULL;
    c->info.celery_kwargsrepr = m->info.celery_kwargsrepr ? xstrdup(m->info.celery_kwargsrepr) : NULL;
    c->info.result = m->info.result ? cJSON_Duplicate(m->info.result, 1) : NULL;
    return c;
}

/* ---- decoding ---- */

static void copy_json_string(char *dst, size_t cap, const cJSON *j)
{
    if (cJSON_IsString(j))
        snprintf(dst, cap, "%s", j->valuestring);
    else if (cJSON_IsNumber(j))
        snprintf(dst, cap, "%.0f", j->valuedouble);
}

static char *json_text(const cJSON *j)
{
    if (cJSON_IsString(j))
        return xstrdup(j->valuestring);
    if (!j || cJSON_IsNull(j))
        return NULL;
    char *s = cJSON_PrintUnformatted(j);
    char *copy = xstrdup(s);
    cJSON_free(s);
    return copy;
}

/* A count (deaths, attempts, replays); fallback when missing or beyond
 * 2^53, where a header can only be garbage and arithmetic would overflow. */
static long json_long(const cJSON *j, long fallback)
{
    const double limit = 9007199254740992.0;
    double d = cJSON_IsNumber(j) ? j->valuedouble
               : cJSON_IsString(j) && isdigit((unsigned char)j->valuestring[0]) ? (double)strtol(j->valuestring, NULL, 10)
                                                                               : NAN;
    return d >= -limit && d <= limit ? (long)d : fallback;
}

static void take_error(struct dlq_info *info, const cJSON *j)
{
    if (info->last_error || !j || cJSON_IsNull(j))
        return;
    info->last_error = json_text(j);
}

/* x-death: an array of tables, the most recent death first; each has
 * queue, reason, count, time, exchange, routing-keys. */
static void decode_x_death(struct dlq_info *info, const cJSON *xdeath)
{
    const cJSON *e;
    long deaths = 0;
    cJSON_ArrayForEach(e, xdeath) {
        long count = json_long(cJSON_GetObjectItemCaseSensitive(e, "count"), 1);
        if (count < 1)
            count = 1;   /* an entry is at least one death */
        deaths = deaths > LONG_MAX - count ? LONG_MAX : deaths + count;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "time");
        if (cJSON_IsNumber(t)) {
            if (isnan(info->first_death) || t->valuedouble < info->first_death)
                info->first_death = t->valuedouble;
            if (isnan(info->last_death) || t->valuedouble > info->last_death)
                info->last_death = t->valuedouble;
        }
    }
    const cJSON *latest = cJSON_GetArrayItem(xdeath, 0);
    if (latest) {
        if (!info->reason[0])
            copy_json_string(info->reason, sizeof info->reason, cJSON_GetObjectItemCaseSensitive(latest, "reason"));
        if (!info->original_queue[0])
            copy_json_string(info->original_queue, sizeof info->original_queue,
                             cJSON_GetObjectItemCaseSensitive(latest, "queue"));
    }
    if (deaths > 0)
        info->deaths = deaths;
}

static void decode_headers(struct dlq_info *info, const cJSON *h)
{
    if (!h)
        return;
    /* qdeck's own, most precise first */
    copy_json_string(info->reason, sizeof info->reason, cJSON_GetObjectItemCaseSensitive(h, "x-qdeck-reason"));
    copy_json_string(info->original_queue, sizeof info->original_queue,
                     cJSON_GetObjectItemCaseSensitive(h, "x-qdeck-original-queue"));
    info->attempts = json_long(cJSON_GetObjectItemCaseSensitive(h, "x-qdeck-attempts"), info->attempts);
    info->replays = json_long(cJSON_GetObjectItemCaseSensitive(h, "x-qdeck-replays"), info->replays);
    take_error(info, cJSON_GetObjectItemCaseSensitive(h, "x-qdeck-error"));

    const cJSON *xdeath = cJSON_GetObjectItemCaseSensitive(h, "x-death");
    if (cJSON_IsArray(xdeath))
        decode_x_death(info, xdeath);
    /* qdeck's worker stamps its dead letters (milliseconds) */
    const cJSON *dead_at = cJSON_GetObjectItemCaseSensitive(h, "x-qdeck-dead-at");
    if (cJSON_IsNumber(dead_at) && isnan(info->last_death))
        info->last_death = info->first_death = dead_at->valuedouble / 1000;
    if (!info->reason[0])
        copy_json_string(info->reason, sizeof info->reason, cJSON_GetObjectItemCaseSensitive(h, "x-last-death-reason"));
    if (!info->reason[0])
        copy_json_string(info->reason, sizeof info->reason, cJSON_GetObjectItemCaseSensitive(h, "x-first-death-reason"));
    if (!info->original_queue[0])
        copy_json_string(info->original_queue, sizeof info->original_queue,
                         cJSON_GetObjectItemCaseSensitive(h, "x-last-death-queue"));
    if (!info->original_queue[0])
        copy_json_string(info->original_queue, sizeof info->original_queue,
                         cJSON_GetObjectItemCaseSensitive(h, "x-first-death-queue"));

    /* Celery protocol v2 */
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(h, "task");
    if (cJSON_IsString(task)) {
        info->celery = true;
        snprintf(info->type, sizeof info->type, "%s", task->valuestring);
        copy_json_string(info->id, sizeof info->id, cJSON_GetObjectItemCaseSensitive(h, "id"));
        info->celery_retries = json_long(cJSON_GetObjectItemCaseSensitive(h, "retries"), -1);
        if (info->attempts < 0 && info->celery_retries >= 0)
            info->attempts = info->celery_retries;
        info->celery_argsrepr = json_text(cJSON_GetObjectItemCaseSensitive(h, "argsrepr"));
        info->celery_kwargsrepr = json_text(cJSON_GetObjectItemCaseSensitive(h, "kwargsrepr"));
    }
}

static void decode_envelope(struct dlq_info *info, const struct dlq_bytes *body)
{
    if (info->format != ENVELOPE_QDECK && info->format != ENVELOPE_JSON)
        return;
    cJSON *j = cJSON_ParseWithLength(body->data, body->len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return;
    }
    if (info->attempts < 0)
        info->attempts = json_long(cJSON_GetObjectItemCaseSensitive(j, "attempt"), -1);
    if (!info->reason[0])
        copy_json_string(info->reason, sizeof info->reason, cJSON_GetObjectItemCaseSensitive(j, "dead_reason"));
    take_error(info, cJSON_GetObjectItemCaseSensitive(j, "last_error"));
    if (!info->replays)
        info->replays = json_long(cJSON_GetObjectItemCaseSensitive(j, "replays"), 0);
    if (!info->original_queue[0])
        copy_json_string(info->original_queue, sizeof info->original_queue,
                         cJSON_GetObjectItemCaseSensitive(j, "original_queue"));
    const cJSON *dead_at = cJSON_GetObjectItemCaseSensitive(j, "dead_at");
    if (dead_at && isnan(info->last_death)) {
        double t = cJSON_IsNumber(dead_at) ? dead_at->valuedouble
                   : cJSON_IsString(dead_at) ? envelope_parse_time(dead_at->valuestring) : NAN;
        info->last_death = info->first_death = t > 1e12 ? t / 1000 : t;
    }
    cJSON_Delete(j);
}

/* The record qdeck's result store keeps (a hash), or Celery's result key. */
static void lookup_result(struct dlq *d, struct dlq_info *info)
{
    if (!info->id[0] || strncmp(info->id, "sha:", 4) == 0)
        return;
    if (!d->store_tried && !d->store && d->ctx && d->ctx->redis) {
        char err[256];
        d->store_tried = true;
        d->store = dlq_redis_connect(d->ctx->redis, d->ctx->timeout, err, sizeof err);
    }
    if (!d->store)
        return;
    redisReply *r = redisCommand(d->store, "HGETALL %s%s", KEY_TASK_PREFIX, info->id);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; i + 1 < r->elements; i += 2)
            if (r->element[i]->type == REDIS_REPLY_STRING && r->element[i + 1]->type == REDIS_REPLY_STRING)
                cJSON_AddItemToObject(o, r->element[i]->str,
                                      dlq_bytes_json(r->element[i + 1]->str, r->element[i + 1]->len));
        info->result = o;
    } else if (info->celery) {
        if (r)
            freeReplyObject(r);
        r = redisCommand(d->store, "GET celery-task-meta-%s", info->id);
        if (r && r->type == REDIS_REPLY_STRING)
            info->result = cJSON_ParseWithLength(r->str, r->len);
    }
    if (r)
        freeReplyObject(r);
    if (!r) {               /* connection broken: stop trying */
        redisFree(d->store);
        d->store = NULL;
    }
    if (info->result) {
        take_error(info, cJSON_GetObjectItemCaseSensitive(info->result, "error"));
        take_error(info, cJSON_GetObjectItemCaseSensitive(info->result, "traceback"));
        if (info->attempts < 0)
            info->attempts = json_long(cJSON_GetObjectItemCaseSensitive(info->result, "attempt"), -1);
    }
}

cJSON *dlq_headers_json(const struct dlq_message *m)
{
    if (m->props) {
        if (!m->props->headers.set)
            return NULL;
        amqp_pool_t pool;
        init_amqp_pool(&pool, 4096);
        amqp_table_t t;
        cJSON *j = dlq_table_decode(&m->props->headers, &pool, &t) == 0 ? dlq_table_json(&t) : NULL;
        empty_amqp_pool(&pool);
        return j;
    }
    if (m->nfields) {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; i < m->nfields; i++) {
            char *name = xstrndup(m->fields[i].name.data, m->fields[i].name.len);
            cJSON_AddItemToObject(o, name, dlq_bytes_json(m->fields[i].value.data, m->fields[i].value.len));
            free(name);
        }
        return o;
    }
    return NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Workers may name the original queue by its address ("redis:jobs",
 * "stream:ev#workers"); a replay needs the bare name on this broker. */
static void strip_address_scheme(const struct dlq *d, char *queue, size_t len)
{
    struct queue_address a;
    char err[128];
    if (!d || !strchr(queue, ':') || queue_address_parse(queue, NULL, &a, err, sizeof err) != 0)
        return;
    if (a.kind == d->addr.kind)
        snprintf(queue, len, "%s", a.name);
    queue_address_free(&a);
}

void dlq_decode(struct dlq *d, struct dlq_message *m, bool with_result)
{
    info_free(&m->info);
    struct dlq_info *info = &m->info;
    info->deaths = info->attempts = info->celery_retries = -1;
    info->first_death = info->last_death = NAN;

    struct envelope_info env;
    envelope_inspect(m->body.data ? m->body.data : "", m->body.len, &env);
    info->format = env.format;

    cJSON *h = dlq_headers_json(m);
    decode_headers(info, h);
    if (m->stream_id && h) {
        /* stream workers write the cause as plain fields next to the task */
        if (!info->reason[0])
            copy_json_string(info->reason, sizeof info->reason, cJSON_GetObjectItemCaseSensitive(h, "dead_reason"));
        if (!info->reason[0])
            copy_json_string(info->reason, sizeof info->reason, cJSON_GetObjectItemCaseSensitive(h, "reason"));
        take_error(info, cJSON_GetObjectItemCaseSensitive(h, "last_error"));
        take_error(info, cJSON_GetObjectItemCaseSensitive(h, "error"));
    }
    cJSON_Delete(h);
    decode_envelope(info, &m->body);

    if (!info->id[0] && m->props && m->props->message_id.set && m->props->message_id.len)
        snprintf(info->id, sizeof info->id, "%.*s", (int)m->props->message_id.len, m->props->message_id.data);
    if (!info->id[0] && (env.format != ENVELOPE_BINARY && env.format != ENVELOPE_TEXT && env.format != ENVELOPE_JSON))
        snprintf(info->id, sizeof info->id, "%s", env.identity);
    if (!info->id[0] && m->stream_id)
        snprintf(info->id, sizeof info->id, "%s", m->stream_id);
    if (!info->id[0])
        snprintf(info->id, sizeof info->id, "%s", env.identity);
    if (!info->type[0])
        snprintf(info->type, sizeof info->type, "%s", env.type);
    if (!info->type[0] && m->props && m->props->type.set)
        snprintf(info->type, sizeof info->type, "%.*s", (int)m->props->type.len, m->props->type.data);
    if (env.format == ENVELOPE_CELERY)
        info->celery = true;

    strip_address_scheme(d, info->original_queue, sizeof info->original_queue);
    /* the DLQ's own name says where its messages came from, as a last resort */
    if (!info->original_queue[0] && d) {
        const char *suffix = d->addr.kind == QUEUE_AMQP ? DLQ_SUFFIX_AMQP : DLQ_SUFFIX_REDIS;
        if (has_suffix(d->addr.name, suffix))
            snprintf(info->original_queue, sizeof info->original_queue, "%.*s",
                     (int)(strlen(d->addr.name) - strlen(suffix)), d->addr.name);
    }
    if (with_result && d)
        lookup_result(d, info);
}

/* ---- selection ---- */

static bool contains_nocase(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    if (k == 0)
        return true;
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

static bool bytes_contain(const struct dlq_bytes *b, const char *needle)
{
    return b->set && b->data && contains_nocase(b->data, b->len, needle);
}

bool dlq_select_is_id_only(const struct dlq_select *sel)
{
    return sel->nids > 0 && !sel->grep && !sel->all;
}

bool dlq_select_match(const struct dlq_select *sel, const struct dlq_message *m)
{
    if (sel->nids) {
        bool hit = false;
        for (size_t i = 0; i < sel->nids && !hit; i++) {
            const char *id = sel->ids[i];
            hit = strcmp(m->info.id, id) == 0 || (m->stream_id && strcmp(m->stream_id, id) == 0) ||
                  (m->props && m->props->message_id.set && m->props->message_id.len == strlen(id) &&
                   memcmp(m->props->message_id.data, id, strlen(id)) == 0);
        }
        if (!hit)
            return false;
    }
    if (sel->grep) {
        if (bytes_contain(&m->body, sel->grep) || contains_nocase(m->info.type, strlen(m->info.type), sel->grep) ||
            contains_nocase(m->info.id, strlen(m->info.id), sel->grep) ||
            (m->info.last_error && contains_nocase(m->info.last_error, strlen(m->info.last_error), sel->grep)))
            return true;
        cJSON *h = dlq_headers_json(m);
        char *text = h ? cJSON_PrintUnformatted(h) : NULL;
        bool hit = text && contains_nocase(text, strlen(text), sel->grep);
        cJSON_free(text);
        cJSON_Delete(h);
        return hit;
    }
    return sel->nids > 0 || sel->all;
}

/* ---- JSON for list/show ---- */

/* null when unknown, or when a header's time is no date at all */
static void add_time(cJSON *o, const char *key, double t)
{
    if (isnan(t) || !time_is_printable(t)) {
        cJSON_AddNullToObject(o, key);
        return;
    }
    char buf[40];
    format_time(t, "%Y-%m-%dT%H:%M:%SZ", 1, buf, sizeof buf);
    cJSON_AddStringToObject(o, key, buf);
}

static void add_long(cJSON *o, const char *key, long v)
{
    if (v < 0)
        cJSON_AddNullToObject(o, key);
    else
        cJSON_AddNumberToObject(o, key, (double)v);
}

static void add_opt_string(cJSON *o, const char *key, const char *v)
{
    if (v && *v)
        cJSON_AddStringToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *props_json(const struct dlq_amqp_props *p)
{
    cJSON *o = cJSON_CreateObject();
#define ADD_PROP(f) if (p->f.set) cJSON_AddItemToObject(o, #f, dlq_bytes_json(p->f.data, p->f.len));
    ADD_PROP(content_type) ADD_PROP(content_encoding) ADD_PROP(correlation_id) ADD_PROP(reply_to)
    ADD_PROP(expiration) ADD_PROP(message_id) ADD_PROP(type) ADD_PROP(user_id) ADD_PROP(app_id)
    ADD_PROP(cluster_id)
#undef ADD_PROP
    if (p->has_delivery_mode) cJSON_AddNumberToObject(o, "delivery_mode", p->delivery_mode);
    if (p->has_priority) cJSON_AddNumberToObject(o, "priority", p->priority);
    if (p->has_timestamp) cJSON_AddNumberToObject(o, "timestamp", (double)p->timestamp);
    return o;
}

cJSON *dlq_message_json(const struct dlq_message *m, bool with_body)
{
    const struct dlq_info *i = &m->info;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "position", (double)m->position);
    cJSON_AddStringToObject(o, "id", i->id);
    add_opt_string(o, "type", i->type);
    add_opt_string(o, "original_queue", i->original_queue);
    add_opt_string(o, "reason", i->reason);
    add_long(o, "deaths", i->deaths);
    add_time(o, "first_death", i->first_death);
    add_time(o, "last_death", i->last_death);
    add_long(o, "attempts", i->attempts);
    cJSON_AddNumberToObject(o, "replays", (double)i->replays);
    add_opt_string(o, "last_error", i->last_error);
    cJSON_AddStringToObject(o, "format", envelope_format_name(i->format));
    if (i->celery) {
        cJSON *c = cJSON_AddObjectToObject(o, "celery");
        cJSON_AddStringToObject(c, "task", i->type);
        cJSON_AddStringToObject(c, "id", i->id);
        add_long(c, "retries", i->celery_retries);
        add_opt_string(c, "argsrepr", i->celery_argsrepr);
        add_opt_string(c, "kwargsrepr", i->celery_kwargsrepr);
    }
    if (m->stream_id)
        cJSON_AddStringToObject(o, "stream_id", m->stream_id);
    if (i->result)
        cJSON_AddItemToObject(o, "result", cJSON_Duplicate(i->result, 1));
    else
        cJSON_AddNullToObject(o, "result");
    cJSON_AddNumberToObject(o, "size", (double)m->body.len);
    if (with_body) {
        if (m->props)
            cJSON_AddItemToObject(o, "properties", props_json(m->props));
        cJSON *h = dlq_headers_json(m);
        if (h)
            cJSON_AddItemToObject(o, m->stream_id ? "fields" : "headers", h);
        if (m->body.set) {
            if (dlq_utf8_valid(m->body.data, m->body.len) && !memchr(m->body.data, '\0', m->body.len)) {
                cJSON_AddStringToObject(o, "body", m->body.data);
            } else {
                char *b64;
                dlq_base64_encode(m->body.data, m->body.len, &b64);
                cJSON_AddStringToObject(o, "body_base64", b64);
                free(b64);
            }
        }
    }
    return o;
}
