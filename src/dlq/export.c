/* JSON Lines export and import of dead messages, binary safe: one object
 * per message, bodies always base64, every other byte string a JSON
 * string when it is valid UTF-8 without NUL and {"base64": ...} when not.
 * AMQP headers are written twice: "headers" as plain JSON for people, and
 * "headers_amqp", the table exactly as AMQP encodes it, which import uses
 * so that field types (long vs int, timestamps) survive a round trip; a
 * line without it (hand-written) is imported from "headers".
 *
 *   {"queue":"amqp:orders.dlq","id":"..","properties":{..},"headers":{..},
 *    "headers_amqp":"..","body_base64":".."}
 *   {"queue":"redis:jobs:dlq","id":"..","body_base64":".."}
 *   {"queue":"stream:ev:dlq","id":"..","stream_id":"1-0","fields":[[name,value],..]}
 */
#include <amqp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "dlq/amqp-table.h"
#include "dlq/bytes.h"
#include "dlq/dlq.h"

static void add_body(cJSON *o, const struct dlq_bytes *body)
{
    char *enc;
    dlq_base64_encode(body->data ? body->data : "", body->len, &enc);
    cJSON_AddStringToObject(o, "body_base64", enc);
    free(enc);
}

#define EXPORTED_PROPS(X) X(content_type) X(content_encoding) X(correlation_id) X(reply_to) X(expiration) \
    X(message_id) X(type) X(user_id) X(app_id) X(cluster_id)

char *dlq_export_line(const struct dlq *d, const struct dlq_message *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "queue", d->display);
    cJSON_AddStringToObject(o, "id", m->info.id);
    if (m->props) {
        const struct dlq_amqp_props *p = m->props;
        cJSON *props = cJSON_AddObjectToObject(o, "properties");
#define ADD(f) if (p->f.set) cJSON_AddItemToObject(props, #f, dlq_bytes_json(p->f.data, p->f.len));
        EXPORTED_PROPS(ADD)
#undef ADD
        if (p->has_delivery_mode) cJSON_AddNumberToObject(props, "delivery_mode", p->delivery_mode);
        if (p->has_priority) cJSON_AddNumberToObject(props, "priority", p->priority);
        if (p->has_timestamp) cJSON_AddNumberToObject(props, "timestamp", (double)p->timestamp);
        if (p->headers.set) {
            cJSON *h = dlq_headers_json(m);
            cJSON_AddItemToObject(o, "headers", h ? h : cJSON_CreateObject());
            char *enc;
            dlq_base64_encode(p->headers.data, p->headers.len, &enc);
            cJSON_AddStringToObject(o, "headers_amqp", enc);
            free(enc);
        }
        add_body(o, &m->body);
    } else if (m->stream_id) {
        cJSON_AddStringToObject(o, "stream_id", m->stream_id);
        cJSON *fields = cJSON_AddArrayToObject(o, "fields");
        for (size_t i = 0; i < m->nfields; i++) {
            cJSON *pair = cJSON_CreateArray();
            cJSON_AddItemToArray(pair, dlq_bytes_json(m->fields[i].name.data, m->fields[i].name.len));
            cJSON_AddItemToArray(pair, dlq_bytes_json(m->fields[i].value.data, m->fields[i].value.len));
            cJSON_AddItemToArray(fields, pair);
        }
    } else {
        add_body(o, &m->body);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    char *line = xstrdup(text);
    cJSON_free(text);
    return line;
}

static int import_fail(char *err, size_t errlen, const char *what, cJSON *o, struct dlq_message *m)
{
    snprintf(err, errlen, "%s", what);
    cJSON_Delete(o);
    dlq_message_free(m);
    return -1;
}

/* AMQP's integer properties: a whole number in [0, limit). */
static bool whole_below(const cJSON *v, double limit)
{
    double d = v->valuedouble;
    return d >= 0 && d < limit && d == floor(d);
}

int dlq_import_line(const char *line, struct dlq_message **out, char **queue, char *err, size_t errlen)
{
    *out = NULL;
    *queue = NULL;
    cJSON *o = cJSON_Parse(line);
    if (!cJSON_IsObject(o))
        return import_fail(err, errlen, "not a JSON object", o, NULL);
    struct dlq_message *m = xcalloc(1, sizeof *m);
    m->body_field = -1;
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "queue");
    const cJSON *body = cJSON_GetObjectItemCaseSensitive(o, "body_base64");
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(o, "properties");
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(o, "fields");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(o, "stream_id");
    if (cJSON_IsObject(props) && cJSON_IsArray(fields))   /* an append would keep only one of them */
        return import_fail(err, errlen, "\"properties\" (RabbitMQ) and \"fields\" (stream) in one line", o, m);

    if (cJSON_IsString(body)) {
        char *data;
        size_t len;
        if (dlq_base64_decode(body->valuestring, &data, &len) < 0)
            return import_fail(err, errlen, "body_base64 is not base64", o, m);
        m->body.data = data;
        m->body.len = len;
        m->body.set = true;
    }
    if (cJSON_IsObject(props)) {
        struct dlq_amqp_props *p = m->props = xcalloc(1, sizeof *p);
#define GET(f) { const cJSON *v = cJSON_GetObjectItemCaseSensitive(props, #f); \
        if (v && dlq_bytes_from_json(v, &p->f) < 0) return import_fail(err, errlen, "bad property " #f, o, m); }
        EXPORTED_PROPS(GET)
#undef GET
        const cJSON *v;
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(props, "delivery_mode"))) {
            if (!whole_below(v, 256))
                return import_fail(err, errlen, "bad property delivery_mode (0..255)", o, m);
            p->has_delivery_mode = true;
            p->delivery_mode = (uint8_t)v->valuedouble;
        }
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(props, "priority"))) {
            if (!whole_below(v, 256))
                return import_fail(err, errlen, "bad property priority (0..255)", o, m);
            p->has_priority = true;
            p->priority = (uint8_t)v->valuedouble;
        }
        if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(props, "timestamp"))) {
            if (!whole_below(v, 18446744073709551616.0))
                return import_fail(err, errlen, "bad property timestamp (seconds, 0..2^64-1)", o, m);
            p->has_timestamp = true;
            p->timestamp = (uint64_t)v->valuedouble;
        }
        const cJSON *raw = cJSON_GetObjectItemCaseSensitive(o, "headers_amqp");
        const cJSON *plain = cJSON_GetObjectItemCaseSensitive(o, "headers");
        if (cJSON_IsString(raw)) {
            char *data;
            size_t len;
            if (dlq_base64_decode(raw->valuestring, &data, &len) < 0)
                return import_fail(err, errlen, "headers_amqp is not base64", o, m);
            p->headers.data = data;
            p->headers.len = len;
            p->headers.set = true;
        } else if (cJSON_IsObject(plain)) {
            amqp_pool_t pool;
            init_amqp_pool(&pool, 4096);
            amqp_table_t t;
            int rc = dlq_table_from_json(plain, &pool, &t) == 0 ? dlq_table_encode(&t, &p->headers) : -1;
            empty_amqp_pool(&pool);
            if (rc < 0)
                return import_fail(err, errlen, "headers cannot be encoded as an AMQP table", o, m);
        }
    }
    if (cJSON_IsArray(fields)) {
        m->stream_id = xstrdup(cJSON_IsString(sid) ? sid->valuestring : "*");
        int n = cJSON_GetArraySize(fields);
        m->fields = xcalloc(n ? (size_t)n : 1, sizeof *m->fields);
        const cJSON *pair;
        cJSON_ArrayForEach(pair, fields) {
            if (cJSON_GetArraySize(pair) != 2 ||
                dlq_bytes_from_json(cJSON_GetArrayItem(pair, 0), &m->fields[m->nfields].name) < 0 ||
                dlq_bytes_from_json(cJSON_GetArrayItem(pair, 1), &m->fields[m->nfields].value) < 0) {
                m->nfields++;
                return import_fail(err, errlen, "fields must be [name, value] pairs", o, m);
            }
            m->nfields++;
        }
    } else if (!m->body.set) {
        return import_fail(err, errlen, "no body_base64 and no fields", o, m);
    }
    *queue = cJSON_IsString(q) ? xstrdup(q->valuestring) : NULL;
    cJSON_Delete(o);
    *out = m;
    return 0;
}
