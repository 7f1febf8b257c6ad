/* kombu pidbox requests and replies over rabbitmq-c and hiredis (see the
 * header). The request body is built with cJSON; tickets and the reply
 * queue's oid are random UUIDs from /dev/urandom. */
#include "celery/pidbox.h"

#include <amqp.h>
#include <hiredis.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "celery/event.h"
#include "core/clock.h"
#include "core/url.h"
#include "core/xalloc.h"
#include "net/amqp-login.h"
#include "net/redis-open.h"

#define REQUEST_EXCHANGE "celery.pidbox"
#define REPLY_EXCHANGE "reply.celery.pidbox"

static void random_uuid(char out[37])
{
    unsigned char b[16] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(b, 1, sizeof b, f) != sizeof b) {
        double t = clock_wall();
        memcpy(b, &t, sizeof t);
    }
    if (f)
        fclose(f);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static char *request_body(const struct celery_pidbox_request *req, const char *ticket, const char *oid)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", req->method);
    cJSON_AddItemToObject(o, "arguments", req->arguments ? cJSON_Duplicate(req->arguments, 1) : cJSON_CreateObject());
    if (req->ndestination) {
        cJSON *d = cJSON_AddArrayToObject(o, "destination");
        for (size_t i = 0; i < req->ndestination; i++)
            cJSON_AddItemToArray(d, cJSON_CreateString(req->destination[i]));
    } else {
        cJSON_AddNullToObject(o, "destination");
    }
    cJSON_AddNullToObject(o, "pattern");
    cJSON_AddNullToObject(o, "matcher");
    cJSON_AddStringToObject(o, "ticket", ticket);
    cJSON *to = cJSON_AddObjectToObject(o, "reply_to");
    cJSON_AddStringToObject(to, "exchange", REPLY_EXCHANGE);
    cJSON_AddStringToObject(to, "routing_key", oid);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* Adds the entries of one reply body ({hostname: reply}) to replies. */
static void take_reply(const char *body, size_t len, cJSON *replies, size_t *count)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    cJSON *item = cJSON_IsObject(o) ? o->child : NULL;
    for (; item; item = item->next) {
        if (!item->string || cJSON_GetObjectItemCaseSensitive(replies, item->string))
            continue;
        cJSON_AddItemToObject(replies, item->string, cJSON_Duplicate(item, 1));
        (*count)++;
    }
    cJSON_Delete(o);
}

static bool header_is(const amqp_basic_properties_t *p, const char *name, const char *value)
{
    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG))
        return false;
    for (int i = 0; i < p->headers.num_entries; i++) {
        const amqp_table_entry_t *e = &p->headers.entries[i];
        if (e->key.len == strlen(name) && memcmp(e->key.bytes, name, e->key.len) == 0)
            return e->value.kind == AMQP_FIELD_KIND_UTF8 && e->value.value.bytes.len == strlen(value) &&
                   memcmp(e->value.value.bytes.bytes, value, strlen(value)) == 0;
    }
    return false;
}

static int amqp_failed(amqp_connection_state_t c, const char *what, char *err, size_t errlen)
{
    amqp_rpc_reply_t rr = amqp_get_rpc_reply(c);
    if (rr.reply_type == AMQP_RESPONSE_NORMAL)
        return 0;
    if (rr.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && rr.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const amqp_channel_close_t *m = rr.reply.decoded;
        snprintf(err, errlen, "celery pidbox: %s: RabbitMQ said %u %.*s", what, m->reply_code, (int)m->reply_text.len,
                 (const char *)m->reply_text.bytes);
    } else {
        snprintf(err, errlen, "celery pidbox: %s failed", what);
    }
    return -1;
}

static int call_amqp(const char *url, const struct tls_options *tls, double timeout,
                     const struct celery_pidbox_request *req, cJSON *replies, char *err, size_t errlen)
{
    enum amqp_login_failure why;
    amqp_connection_state_t c = amqp_connect_login(url, tls, 0, timeout, &why, err, errlen);
    if (!c)
        return -1;
    char ticket[37], oid[37], queue[96];
    random_uuid(ticket);
    random_uuid(oid);
    snprintf(queue, sizeof queue, "%s." REPLY_EXCHANGE, oid);
    int rc = -1;
    amqp_channel_open(c, 1);
    if (amqp_failed(c, "channel.open", err, errlen) < 0)
        goto out;
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(REQUEST_EXCHANGE), amqp_cstring_bytes("fanout"), 0, 0, 0, 0,
                          amqp_empty_table);
    if (amqp_failed(c, "declaring exchange " REQUEST_EXCHANGE, err, errlen) < 0)
        goto out;
    amqp_exchange_declare(c, 1, amqp_cstring_bytes(REPLY_EXCHANGE), amqp_cstring_bytes("direct"), 0, 0, 0, 0,
                          amqp_empty_table);
    if (amqp_failed(c, "declaring exchange " REPLY_EXCHANGE, err, errlen) < 0)
        goto out;
    amqp_queue_declare(c, 1, amqp_cstring_bytes(queue), 0, 0, 1, 1, amqp_empty_table);
    if (amqp_failed(c, "declaring the reply queue", err, errlen) < 0)
        goto out;
    amqp_queue_bind(c, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes(REPLY_EXCHANGE), amqp_cstring_bytes(oid),
                    amqp_empty_table);
    if (amqp_failed(c, "binding the reply queue", err, errlen) < 0)
        goto out;
    amqp_basic_consume(c, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 1, 1, amqp_empty_table);
    if (amqp_failed(c, "consuming the reply queue", err, errlen) < 0)
        goto out;
    char *body = request_body(req, ticket, oid);
    amqp_table_entry_t headers[2] = {
        {.key = amqp_cstring_bytes("clock"), .value = {.kind = AMQP_FIELD_KIND_I64, .value.i64 = 1}},
        {.key = amqp_cstring_bytes("expires"),
         .value = {.kind = AMQP_FIELD_KIND_F64, .value.f64 = clock_wall() + req->wait}},
    };
    amqp_basic_properties_t props = {
        ._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
                  AMQP_BASIC_HEADERS_FLAG,
        .content_type = amqp_cstring_bytes("application/json"),
        .content_encoding = amqp_cstring_bytes("utf-8"),
        .delivery_mode = 1,
        .headers = {.num_entries = 2, .entries = headers},
    };
    int pub = amqp_basic_publish(c, 1, amqp_cstring_bytes(REQUEST_EXCHANGE), amqp_cstring_bytes(""), 0, 0, &props,
                                 amqp_cstring_bytes(body));
    free(body);
    if (pub != AMQP_STATUS_OK) {
        snprintf(err, errlen, "celery pidbox: publishing the request: %s", amqp_error_string2(pub));
        goto out;
    }
    size_t expect = req->expect ? req->expect : req->ndestination, got = 0;
    double end = clock_mono() + req->wait;
    while (!expect || got < expect) {
        double left = end - clock_mono();
        if (left <= 0)
            break;
        struct timeval tv = {(time_t)left, (suseconds_t)((left - floor(left)) * 1e6)};
        amqp_envelope_t env;
        amqp_maybe_release_buffers(c);
        amqp_rpc_reply_t rr = amqp_consume_message(c, &env, &tv, 0);
        if (rr.reply_type == AMQP_RESPONSE_NORMAL) {
            /* a reply to an older request of the same queue has another ticket */
            if (header_is(&env.message.properties, "ticket", ticket))
                take_reply(env.message.body.bytes, env.message.body.len, replies, &got);
            amqp_destroy_envelope(&env);
            continue;
        }
        if (rr.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && rr.library_error == AMQP_STATUS_TIMEOUT)
            break;
        snprintf(err, errlen, "celery pidbox: the reply queue broke while waiting");
        goto out;
    }
    rc = 0;
out:
    amqp_connection_close(c, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(c);
    return rc;
}

static char *kombu_envelope(const char *body, const char *exchange)
{
    unsigned char *b64 = xmalloc(4 * ((strlen(body) + 2) / 3) + 1);
    EVP_EncodeBlock(b64, (const unsigned char *)body, (int)strlen(body));
    char tag[37];
    random_uuid(tag);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "body", (const char *)b64);
    free(b64);
    cJSON_AddStringToObject(o, "content-encoding", "utf-8");
    cJSON_AddStringToObject(o, "content-type", "application/json");
    cJSON *h = cJSON_AddObjectToObject(o, "headers");
    cJSON_AddNumberToObject(h, "clock", 1);
    cJSON *p = cJSON_AddObjectToObject(o, "properties");
    cJSON_AddNumberToObject(p, "delivery_mode", 1);
    cJSON *di = cJSON_AddObjectToObject(p, "delivery_info");
    cJSON_AddStringToObject(di, "exchange", exchange);
    cJSON_AddStringToObject(di, "routing_key", "");
    cJSON_AddNumberToObject(p, "priority", 0);
    cJSON_AddStringToObject(p, "body_encoding", "base64");
    cJSON_AddStringToObject(p, "delivery_tag", tag);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static int call_redis(const char *url, double timeout, const struct celery_pidbox_request *req, cJSON *replies,
                      char *err, size_t errlen)
{
    struct broker_url u;
    if (redis_url_parse(url, &u, err, errlen) < 0)
        return -1;
    int db = u.db;
    broker_url_free(&u);
    redisContext *c = redis_open(url, timeout, timeout + req->wait + 1, err, errlen);
    if (!c)
        return -1;
    char ticket[37], oid[37], queue[96], binding[200], channel[64];
    random_uuid(ticket);
    random_uuid(oid);
    snprintf(queue, sizeof queue, "%s." REPLY_EXCHANGE, oid);
    snprintf(binding, sizeof binding, "%s\x06\x16\x06\x16%s", oid, queue);
    snprintf(channel, sizeof channel, "/%d." REQUEST_EXCHANGE, db);
    char *body = request_body(req, ticket, oid);
    char *msg = kombu_envelope(body, REQUEST_EXCHANGE);
    free(body);
    int rc = 0;
    redisReply *r = redisCommand(c, "SADD _kombu.binding." REPLY_EXCHANGE " %s", binding);
    if (r && r->type != REDIS_REPLY_ERROR) {
        freeReplyObject(r);
        r = redisCommand(c, "PUBLISH %s %s", channel, msg);
    }
    if (!r || r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "celery pidbox: Redis: %s", r ? r->str : c->errstr);
        rc = -1;
    }
    freeReplyObject(r);
    free(msg);
    size_t expect = req->expect ? req->expect : req->ndestination, got = 0;
    double end = clock_mono() + req->wait;
    while (rc == 0 && (!expect || got < expect)) {
        double left = end - clock_mono();
        if (left <= 0)
            break;
        char secs[32];
        snprintf(secs, sizeof secs, "%.3f", left < 0.01 ? 0.01 : left);
        r = redisCommand(c, "BRPOP %s %s", queue, secs);
        if (!r) {
            snprintf(err, errlen, "celery pidbox: Redis: %s", c->errstr);
            rc = -1;
            break;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            char *reply;
            size_t len;
            char uerr[128];
            cJSON *env = cJSON_Parse(r->element[1]->str);
            const cJSON *h = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(env, "headers"), "ticket");
            bool ours = cJSON_IsString(h) && strcmp(h->valuestring, ticket) == 0;
            cJSON_Delete(env);
            if (ours && celery_redis_unwrap(r->element[1]->str, r->element[1]->len, &reply, &len, uerr, sizeof uerr) == 0) {
                take_reply(reply, len, replies, &got);
                free(reply);
            }
        }
        bool timed_out = r->type == REDIS_REPLY_NIL;
        freeReplyObject(r);
        if (timed_out)
            break;
    }
    if (!c->err) {
        redisAppendCommand(c, "SREM _kombu.binding." REPLY_EXCHANGE " %s", binding);
        redisAppendCommand(c, "DEL %s", queue);
        for (int i = 0; i < 2; i++)
            if (redisGetReply(c, (void **)&r) == REDIS_OK)
                freeReplyObject(r);
    }
    redisFree(c);
    return rc;
}

int celery_pidbox_call(const char *url, const struct tls_options *tls, double timeout,
                       const struct celery_pidbox_request *req, cJSON **replies, char *err, size_t errlen)
{
    *replies = cJSON_CreateObject();
    bool amqp = strncmp(url, "amqp://", 7) == 0 || strncmp(url, "amqps://", 8) == 0;
    int rc = amqp ? call_amqp(url, tls, timeout > 0 ? timeout : 5, req, *replies, err, errlen)
                  : call_redis(url, timeout > 0 ? timeout : 5, req, *replies, err, errlen);
    if (rc < 0) {
        cJSON_Delete(*replies);
        *replies = NULL;
    }
    return rc;
}
